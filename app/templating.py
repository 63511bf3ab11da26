"""Values every template sees."""

from __future__ import annotations

from flask import current_app, has_request_context, request
from flask_babel import gettext as _
from werkzeug.exceptions import HTTPException

from .account_session import return_to
from .flows.passwords import PasswordPolicy
from .flows.redirects import safe_next
from .i18n import localized
from .models import CODE_EMAIL_CHANGE, CODE_RESET
from .security import ACCOUNT_BLUEPRINTS
from .urls import external_url, this_page


def here() -> str:
    """The page to come back to after an account step opened from this page."""
    if request.blueprint in ACCOUNT_BLUEPRINTS:
        return safe_next(request.args.get("next") or _posted_next(), default=return_to())
    return this_page()


def _posted_next() -> str | None:
    if request.method != "POST":
        return None
    try:
        return request.form.get("next")
    except HTTPException:  # the body itself was the problem (too large): an error page is showing
        return None


def duration(seconds: float) -> str:
    total = int(round(seconds or 0))
    hours, rest = divmod(total, 3600)
    return f"{hours}:{rest // 60:02d}:{rest % 60:02d}" if hours else f"{rest // 60}:{rest % 60:02d}"


def init_app(app) -> None:
    app.add_template_filter(duration)
    app.add_template_global(external_url)
    # the purposes of emailed codes, by the names the rules use (a step or a mail says which code it is)
    app.jinja_env.globals.update(CODE_RESET=CODE_RESET, CODE_EMAIL_CHANGE=CODE_EMAIL_CHANGE)

    @app.context_processor
    def portal_context():
        config = current_app.config
        organisation = localized(config["ORGANISATION_NAME"])
        values = {
            "portal_name": localized(config["PORTAL_NAME"]),
            "dialog_title": localized(config["ACCOUNT_DIALOG_TITLE"]),
            "organisation": organisation,
            "tagline": _(
                "Access %(organisation)s’s broadcast-quality video content free of charge", organisation=organisation
            ),
            "password_policy_text": PasswordPolicy.from_config(config).text,
        }
        if has_request_context():  # mails rendered by a command have no request
            values.update(here=here(), this_page=this_page, in_account_step=request.blueprint in ACCOUNT_BLUEPRINTS)
        return values
