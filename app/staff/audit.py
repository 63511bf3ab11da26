"""The audit log page (/staff/audit): every staff action and security event, searchable by person and story."""

from __future__ import annotations

from flask import g, render_template, request
from flask_babel import lazy_gettext as _l

from ..flows import audit
from . import bp

PER_PAGE = 50

ACTIONS = {
    "story.create": _l("Story created"),
    "story.update": _l("Story saved"),
    "story.publish": _l("Story published"),
    "story.schedule": _l("Story scheduled"),
    "story.unpublish": _l("Story unpublished"),
    "upload": _l("Video uploaded"),
    "upload.terminate": _l("Upload cancelled"),
    "transcode": _l("Transcoding started"),
    "transcode.cancel": _l("Transcoding cancelled"),
    "transcode.retry": _l("Transcoding retried"),
    "transcode.poster": _l("Poster chosen"),
    "user.create_staff": _l("Staff account created"),
    "user.promote": _l("Made staff"),
    "user.demote": _l("No longer staff"),
    "account.verified": _l("Address verified"),
    "account.password_reset": _l("Password reset"),
    "account.password_change": _l("Password changed"),
    "account.delete": _l("Account deleted"),
    "login.failed": _l("Failed log-in"),
    "account.factor_added": _l("Second factor added"),
    "account.factor_removed": _l("Second factor removed"),
    "account.recovery_codes": _l("New recovery codes"),
    "account.recovery_code_used": _l("Recovery code used"),
    "account.factors_reset": _l("Second factors reset by staff"),
}


@bp.before_app_request
def remember_ip() -> None:
    """Where each request comes from, for the audit rows its rules write (app/flows/audit.py)."""
    g.audit_ip = request.remote_addr


@bp.route("/audit")
def audit_log():
    search = audit.Search.from_args(request.args)
    rows, more = audit.find(search, PER_PAGE)
    return render_template(
        "staff/audit.html", rows=rows, more=more, search=search, actions=ACTIONS, address_prefix=audit.ADDRESS_PREFIX
    )
