"""Staff management (/staff/people): the press office team, promote a verified account, demote."""

from __future__ import annotations

from flask import abort, flash, redirect, render_template, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from wtforms import EmailField
from wtforms.validators import InputRequired, Length

from ..extensions import db
from ..flows import staff as staff_rules
from ..forms import PortalForm
from ..models import User
from ..rendering import form_status
from . import bp

REFUSALS = {
    staff_rules.NO_ACCOUNT: _l("No account has this address. The person must first register and verify it."),
    staff_rules.NOT_VERIFIED: _l("This account has not verified its address yet."),
    staff_rules.INVALID_ADDRESS: _l("Enter a valid email address."),
    staff_rules.LAST_STAFF: _l("You are the last staff member: promote someone else first."),
}


class PromoteForm(PortalForm):
    email = EmailField(_l("Email address of a verified account"), validators=[InputRequired(), Length(max=254)])


@bp.route("/people", methods=["GET", "POST"])
def people():
    form = PromoteForm()
    if form.validate_on_submit():
        changed, refusal = _change(form.email.data, True)
        if changed:
            flash(_("%(email)s is now staff, and has been told by email.", email=changed.email))
            return redirect(url_for(".people"), 303)
        form.email.errors = [refusal]
    return render_template("staff/people.html", form=form, members=staff_rules.staff_members()), form_status(form)


@bp.route("/people/<id:user_id>/demote", methods=["POST"])
def demote(user_id):
    user = db.session.get(User, user_id)
    if user is None or not user.is_staff or not PortalForm().validate_on_submit():
        abort(404)
    changed, refusal = _change(user.email, False)
    flash(
        _("%(email)s is no longer staff, and has been told by email.", email=changed.email) if changed else str(refusal)
    )
    return redirect(url_for(".people"), 303)


def _change(email: str, staff: bool) -> tuple[User | None, str]:
    """The account changed, or None and why not (in the reader's language)."""
    try:
        return staff_rules.set_staff(email, staff, actor=current_user._get_current_object(), keep_one=True), ""
    except staff_rules.StaffError as exc:
        return None, str(REFUSALS.get(exc.reason, REFUSALS[staff_rules.NO_ACCOUNT]))
