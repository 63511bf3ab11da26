from flask import render_template, request, url_for
from flask_login import current_user, login_required

from ..extensions import csrf
from ..flows import newsletter
from ..limits import account_key, limit_posts
from ..rendering import render_in_place
from . import bp, cli  # noqa: F401  (cli registers "flask newsletter send")
from .forms import SubscribeForm

OFFER = "shared/newsletter_offer.html"  # the welcome step's offer, answered again in place


@bp.route("/subscribe", methods=["POST"])
@login_required
@limit_posts(account_key)
def subscribe():
    if SubscribeForm().validate_on_submit():
        newsletter.subscribe(current_user, source="welcome")
    # HTMX swaps just the offer; without JavaScript the welcome step comes back, saying so.
    return render_in_place(OFFER, page_url=url_for("account.welcome"))


@bp.route("/unsubscribe/<string(maxlength=600):token>", methods=["GET", "POST"])
@csrf.exempt  # RFC 8058: mail clients POST "List-Unsubscribe=One-Click" with no session; the signed token is the proof
def unsubscribe(token):
    try:
        user = newsletter.user_for_token(token)
    except newsletter.BadToken:
        return render_template("newsletter/unsubscribe.html", state="invalid"), 400
    if user is None or user.newsletter_opt_in_at is None:
        return render_template("newsletter/unsubscribe.html", state="not_subscribed")
    if request.method == "POST":
        newsletter.unsubscribe(user)
        return render_template("newsletter/unsubscribe.html", state="done", email=user.email)
    return render_template("newsletter/unsubscribe.html", state="confirm", email=user.email, token=token)
