from flask_login import current_user, login_required

from ...account_session import return_to
from ...flows import accounts
from ...rendering import render_step
from . import bp
from .forms import SubscribeForm


@bp.route("/subscribe", methods=["POST"])
@login_required
def subscribe():
    if SubscribeForm().validate_on_submit():
        accounts.record_newsletter_wish(current_user, source="welcome")
    # HTMX swaps just the offer; without JavaScript the whole welcome page comes back.
    return render_step("verification/welcome.html", block="newsletter", next_url=return_to())
