"""The authenticator's QR code, drawn here as SVG placed in the page: no image from elsewhere,
no inline style or script (the Content-Security-Policy allows neither)."""

from __future__ import annotations

import segno
from flask_babel import gettext as _
from markupsafe import Markup


def qr_svg(uri: str) -> Markup:
    svg = segno.make(uri, error="m").svg_inline(
        scale=5, dark="#000", light="#fff", omitsize=False, title=_("QR code for your authenticator app")
    )
    # an image with its name (the <title>) for screen readers
    return Markup(
        svg.replace("<svg ", '<svg role="img" aria-labelledby="qr-title" ', 1).replace(
            "<title>", '<title id="qr-title">', 1
        )
    )
