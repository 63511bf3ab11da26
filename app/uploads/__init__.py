"""Uploading a story's broadcast master (tus) and following its transcoding, at /staff/uploads.

Staff only, like every staff URL (404 for anyone else). The panel (templates/uploads/panel.html)
is included on the staff story page and is also a page of its own, /staff/uploads/story/<id>.
"""

from flask import Blueprint

from ..staff_access import require_staff

bp = Blueprint("uploads", __name__, url_prefix="/staff/uploads")
bp.before_request(require_staff)
