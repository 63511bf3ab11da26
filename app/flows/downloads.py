"""Finding a rendition's file on storage, naming it for the person, logging the download."""

from __future__ import annotations

import logging
import re
import unicodedata
from datetime import datetime, timedelta
from pathlib import Path
from urllib.parse import quote

from sqlalchemy import select
from werkzeug.http import parse_range_header

from ..extensions import db
from ..models import Download, Rendition, User, utcnow
from . import codes, media_types, stats
from .text import file_inside

log = logging.getLogger(__name__)


def file_path(media_root: str, stored_name: str) -> Path | None:
    """A stored file (a rendition's or a poster's), only if it exists inside the media folder."""
    return file_inside(media_root, stored_name)


def media_file(media_root: str, stored_name: str, types: frozenset[str]) -> tuple[Path, str] | None:
    """A stored file and its type, read from its content, only if it exists inside the media folder
    and is one of ``types``: whatever the database says, nothing else is ever served."""
    path = file_path(media_root, stored_name)
    if path is None:
        return None
    mimetype = media_types.of_file(path)
    if mimetype not in types:
        log.error("%s in %s is not %s by its content: not served", stored_name, media_root, " or ".join(sorted(types)))
        return None
    return path, mimetype


def stored_with_a_gated_rendition(rendition: Rendition) -> bool:
    """Whether a rendition of the same video that needs an account has the same stored file (the
    importer once stored files as <slug>/<file name>, so only a story's own files could collide):
    then the file is never public."""
    return any(other.filename == rendition.filename and not other.is_preview for other in rendition.video.renditions)


def download_name(rendition: Rendition, mimetype: str) -> str:
    """ "<story title> - <label>.mp4": what the person's browser saves, named after the file's type."""
    title = rendition.video.story.title
    extension = media_types.EXTENSIONS.get(mimetype, ".mp4")
    name = f"{title} - {rendition.label}{extension}"
    name = "".join(ch for ch in name if unicodedata.category(ch)[0] != "C")
    name = re.sub(r'[\\/:*?"<>|]+', " ", name)
    return re.sub(r"\s+", " ", name).strip()[:200]


def content_disposition(name: str) -> str:
    """RFC 6266: an ASCII fallback and the exact UTF-8 name."""
    fallback = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode("ascii")
    fallback = re.sub(r"\s+", " ", re.sub(r'["\\]', "", fallback)).strip() or "download"
    return f"attachment; filename=\"{fallback}\"; filename*=UTF-8''{quote(name, safe='')}"


def accel_redirect(prefix: str, stored_name: str) -> str:
    """nginx's X-Accel-Redirect to a stored file. Percent-encoded: a header carries Latin-1 only,
    and nginx decodes the URI, where a bare ? starts arguments, # a fragment and % an escape."""
    return prefix + quote(stored_name, safe="/")


def header_safe(value: str) -> bool:
    """Whether a value can go into a response header as it is (printable ASCII)."""
    return value.isascii() and value.isprintable()


def range_bytes(range_header: str | None, size: int) -> int | None:
    """The bytes a front server sends for a GET with this Range header: all of them when there is
    none or it cannot be read (it is then ignored), None when no byte can be sent (a 416)."""
    wanted = parse_range_header(range_header) if range_header else None
    if wanted is None or wanted.units != "bytes" or len(wanted.ranges) != 1:
        return size
    bounds = wanted.range_for_length(size)
    return None if bounds is None else bounds[1] - bounds[0]


def record(
    user: User,
    rendition: Rendition,
    *,
    bytes_sent: int,
    range_header: str | None,
    window: timedelta,
    now: datetime | None = None,
) -> Download:
    """Log one request that sent (part of) a rendition. Requests by the same account for the same
    rendition within ``window`` of the first are one download, their bytes added up: a download
    manager's parallel Range requests and a resumed download count once. Held under a lock on
    the pair, so that parallel requests cannot each start a download. The statistics' daily roll-up
    (app/flows/stats.py) is kept in the same transaction."""
    now = now or utcnow()
    codes.lock(f"download\x00{user.id}\x00{rendition.id}")
    download = db.session.scalars(
        select(Download)
        .where(Download.user_id == user.id, Download.rendition_id == rendition.id, Download.at > now - window)
        .order_by(Download.at.desc())
        .limit(1)
    ).first()
    if download is None:
        # The header as it came, but for what PostgreSQL refuses in text (NUL) and other control characters.
        asked = "".join(ch for ch in range_header or "" if ch.isprintable())[:100]
        download = Download(
            user_id=user.id,
            rendition_id=rendition.id,
            at=now,
            last_at=now,
            requests=1,
            bytes_sent=bytes_sent,
            range_requested=asked or None,
            organisation=(user.organisation or "")[:200],
        )
        db.session.add(download)
    else:
        download.bytes_sent += bytes_sent
        download.requests += 1
        download.last_at = max(download.last_at, now)
    stats.add_download(
        download.at,
        rendition.video.story_id,
        rendition.label,
        download.organisation,
        downloads=1 if download.requests == 1 else 0,
        bytes_sent=bytes_sent,
    )
    db.session.commit()
    return download
