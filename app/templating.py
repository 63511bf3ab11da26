"""Values every template sees."""
from __future__ import annotations

from flask import current_app, has_request_context, request
from werkzeug.exceptions import HTTPException

from .account_session import return_to
from .flows.passwords import PasswordPolicy
from .flows.redirects import safe_next
from .security import ACCOUNT_BLUEPRINTS


def here() -> str:
    """The page to come back to after an account step opened from this page."""
    if request.blueprint in ACCOUNT_BLUEPRINTS:
        return safe_next(request.args.get("next") or _posted_next(), default=return_to())
    return request.full_path.rstrip("?") if request.query_string else request.path


def _posted_next() -> str | None:
    if request.method != "POST":
        return None
    try:
        return request.form.get("next")
    except HTTPException:  # the body itself was the problem (too large): an error page is showing
        return None


def filesize(size: int) -> str:
    """Decimal units, as broadcasters quote them: 1.2 GB, 350 KB."""
    value = float(size or 0)
    for unit in ("bytes", "KB", "MB", "GB", "TB"):
        if value < 1000 or unit == "TB":
            text = f"{int(value)} {unit}" if unit == "bytes" else f"{value:.1f} {unit}".replace(".0 ", " ")
            return text.replace(" ", "\u00a0")  # "40 KB" never breaks across lines
        value /= 1000
    return f"{value} TB"


def duration(seconds: float) -> str:
    total = int(round(seconds or 0))
    hours, rest = divmod(total, 3600)
    return f"{hours}:{rest // 60:02d}:{rest % 60:02d}" if hours else f"{rest // 60}:{rest % 60:02d}"


def long_date(moment) -> str:
    return f"{moment.day} {moment.strftime('%B %Y')}" if moment else ""


def init_app(app) -> None:
    app.add_template_filter(filesize)
    app.add_template_filter(duration)
    app.add_template_filter(long_date)

    @app.context_processor
    def portal_context():
        config = current_app.config
        values = {
            "tagline": f"Access {config['ORGANISATION_NAME']}’s broadcast-quality video content free of charge",
            "password_policy_text": PasswordPolicy.from_config(config).text,
        }
        if has_request_context():  # mails rendered by a command have no request
            values.update(here=here(), in_account_step=request.blueprint in ACCOUNT_BLUEPRINTS)
        return values
