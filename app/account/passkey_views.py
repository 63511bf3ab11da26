"""Passkeys: add (named), rename, remove (with the password) on the settings page; sign in with
one at the second step (here) or on its own from the log-in step (login.py).
The options are JSON fetched by app/static/js/passkeys.js; what the browser answers comes back in
an ordinary form post (CSRF token and all)."""

from __future__ import annotations

import base64

from flask import abort, current_app, flash, jsonify, request, session, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required

from ..account_session import Flow, keep_this_browser_logged_in, log_in, return_to
from ..flows import passkeys
from ..i18n import localized
from ..limits import account_key, flow_source, limit_posts
from ..rendering import redirect_page
from . import bp, pending
from .forms import PasskeyForm, PasskeyNameForm, PasskeySignInForm, PasswordConfirmForm
from .messages import passkey_error

CHALLENGE_KEY = "passkey_challenge"
REGISTER, SECOND_FACTOR, SIGN_IN = "register", "second-factor", "sign-in"  # the ceremonies


def relying_party() -> tuple[str, str]:
    """The site's own name (the passkey is bound to it) and origin."""
    host = current_app.config.get("SERVER_NAME") or request.host
    return host.rsplit(":", 1)[0] if not host.endswith("]") else host, request.host_url.rstrip("/")


def keep_challenge(challenge: bytes, purpose: str) -> None:
    """The challenge goes with this browser's session, for one ceremony (``purpose``); the
    server records it too, so that it is good once and for a few minutes (flows/passkeys.py)."""
    passkeys.keep_challenge(challenge, purpose)
    session[CHALLENGE_KEY] = {"purpose": purpose, "challenge": base64.urlsafe_b64encode(challenge).decode()}


def take_challenge(purpose: str) -> bytes | None:
    """The challenge of this browser's ``purpose`` ceremony, spent: a replayed answer (even with
    a copy of the old cookie), a late one or one to another ceremony finds none."""
    value = session.pop(CHALLENGE_KEY, None)
    if not isinstance(value, dict) or value.get("purpose") != purpose or not isinstance(value.get("challenge"), str):
        return None
    try:
        challenge = base64.urlsafe_b64decode(value["challenge"])
    except ValueError:
        return None
    return challenge if passkeys.spend_challenge(challenge, purpose) else None


@bp.route("/two-step/passkeys/options", methods=["POST"])
@login_required
@limit_posts(account_key)
def two_step_passkey_options():
    options, challenge = passkeys.registration_options(
        current_user, rp_id=relying_party()[0], rp_name=localized(current_app.config["PORTAL_NAME"])
    )
    keep_challenge(challenge, REGISTER)
    return current_app.response_class(options, mimetype="application/json")


@bp.route("/two-step/passkeys", methods=["POST"])
@login_required
@limit_posts(account_key)
def two_step_add_passkey():
    from .two_step import render_recovery_codes, render_settings

    form, challenge = PasskeyForm(), take_challenge(REGISTER)
    if form.validate_on_submit() and form.credential.data and challenge:
        rp_id, origin = relying_party()
        added = passkeys.register(
            current_user._get_current_object(),
            form.name.data,
            form.credential.data,
            challenge=challenge,
            rp_id=rp_id,
            origin=origin,
        )
        if added is not None:
            keep_this_browser_logged_in()
            return render_recovery_codes(added[1], added=True)
    if not form.errors:
        form.name.errors.append(_("The passkey could not be added. Try again, or use another passkey."))
    return render_settings(status=422, passkey_form=form)


@bp.route("/two-step/passkeys/<id:passkey_id>/rename", methods=["POST"])
@login_required
@limit_posts(account_key)
def two_step_rename_passkey(passkey_id):
    form = PasskeyNameForm()
    if form.validate_on_submit() and not passkeys.rename(current_user, passkey_id, form.name.data):
        abort(404)
    return redirect_page(url_for("account.two_step"))


@bp.route("/two-step/passkeys/<id:passkey_id>/remove", methods=["POST"])
@login_required
@limit_posts(account_key)
def two_step_remove_passkey(passkey_id):
    from .two_step import password_confirmed, render_settings

    form = PasswordConfirmForm()
    if not password_confirmed(form):  # rate-limited per account like every bcrypt check
        return render_settings(status=422, removing=passkey_id, remove_form=form)
    if not passkeys.remove(current_user._get_current_object(), passkey_id):
        abort(404)
    keep_this_browser_logged_in()
    flash(_("The passkey no longer signs in to your account. Every other session has been logged out."))
    return redirect_page(url_for("account.two_step"))


@bp.route("/two-step/sign-in/passkey/options", methods=["POST"])
@limit_posts(pending.attempt_account_key)
def two_step_sign_in_options():
    attempt = pending.current()
    if attempt is None:
        return jsonify(error="no sign-in waiting"), 409
    options, challenge = passkeys.authentication_options(attempt.user, rp_id=relying_party()[0])
    keep_challenge(challenge, SECOND_FACTOR)
    return current_app.response_class(options, mimetype="application/json")


@bp.route("/two-step/sign-in/passkey", methods=["POST"])
@limit_posts(pending.attempt_account_key)
def two_step_sign_in_passkey():
    from .two_step import render_sign_in

    attempt, form, challenge = pending.current(), PasskeySignInForm(), take_challenge(SECOND_FACTOR)
    if attempt is None:
        return redirect_page(url_for("account.login"))
    if not form.validate_on_submit():
        return render_sign_in(
            attempt, passkey_error=_("The passkey was not accepted. Try again, or enter a code."), status=422
        )
    rp_id, origin = relying_party()
    source = flow_source(Flow(attempt.attempt, attempt.user.email, "second-factor"))
    check = passkeys.authenticate(
        attempt.user, form.credential.data, challenge=challenge, rp_id=rp_id, origin=origin, source=source
    )
    if check.ok:
        pending.end()
        log_in(attempt.user, remember=attempt.remember)
        return redirect_page(return_to(url_for("media.index")))
    return render_sign_in(attempt, passkey_error=passkey_error(check), status=422)
