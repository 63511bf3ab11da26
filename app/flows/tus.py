"""The tus 1.0.0 resumable upload protocol: core, creation, termination, expiration (tus.io).

Rules only: the views (app/uploads/routes.py) turn headers into arguments and a ``TusError``
into its status. An upload's bytes go to MEDIA_ROOT/uploads/<key>.part; the size of that file
is the upload's offset, so an upload survives a restart of every app server and continues on
another one with the same shared storage.
"""

from __future__ import annotations

import base64
import binascii
import fcntl
import os
import secrets
import shutil
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from datetime import datetime, timedelta
from pathlib import Path
from typing import IO, Any, BinaryIO

from flask_babel import gettext as _
from sqlalchemy import select

from ..extensions import db
from ..i18n import filesize
from ..models import Story, Upload

VERSION = "1.0.0"
EXTENSIONS = "creation,termination,expiration"
CHUNK_BYTES = 1024 * 1024  # read and written at a time: memory stays flat whatever the size
UPLOADS_FOLDER = "uploads"


class TusError(Exception):
    """A request the protocol refuses: ``status`` is the HTTP status, ``message`` says why."""

    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status, self.message = status, message


def parse_length(value: str | None) -> int:
    if value is None or not value.isdigit() or len(value) > 20:
        raise TusError(400, "Upload-Length must be a whole number of bytes")
    return int(value)


def parse_offset(value: str | None) -> int:
    if value is None or not value.isdigit() or len(value) > 20:
        raise TusError(400, "Upload-Offset must be a whole number of bytes")
    return int(value)


def parse_metadata(header: str | None) -> dict[str, str]:
    """``Upload-Metadata``: comma-separated pairs of a key and its base64 value (which may be absent)."""
    metadata = {}
    for pair in (header or "").split(","):
        if not pair.strip():
            continue
        key, _, value = pair.strip().partition(" ")
        try:
            metadata[key] = base64.b64decode(value.strip(), validate=True).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError):
            raise TusError(400, f"Upload-Metadata: the value of {key[:40]!r} is not base64 UTF-8 text") from None
    return metadata


def part_path(media_root: str | Path, upload: Upload) -> Path:
    return Path(media_root) / UPLOADS_FOLDER / f"{upload.key}.part"


def checking_path(media_root: str | Path, upload: Upload) -> Path:
    """Where a complete upload's bytes are while they are checked (app/flows/transcoding.accept)."""
    return part_path(media_root, upload).with_suffix(".checking")


def offset(media_root: str | Path, upload: Upload) -> int:
    """How many bytes have arrived: the size of the part file, or all of them once complete."""
    if upload.completed_at is not None:
        return upload.length
    try:
        return part_path(media_root, upload).stat().st_size
    except FileNotFoundError:
        return 0


def create(
    story: Story, user: object, length: int, metadata: dict[str, str], *, config: Mapping[str, Any], now: datetime
) -> Upload:
    """A new, empty upload of ``length`` bytes for ``story``, if it may be and there is room."""
    if length <= 0:
        raise TusError(400, "Upload-Length must be more than 0 bytes")
    if length > config["UPLOAD_MAX_BYTES"]:
        raise TusError(
            413,
            _("This file is larger than the %(size)s a master may have.", size=filesize(config["UPLOAD_MAX_BYTES"])),
        )
    media_root = Path(config["MEDIA_ROOT"])
    (media_root / UPLOADS_FOLDER).mkdir(parents=True, exist_ok=True)
    if length + bytes_promised(media_root) + config["UPLOAD_DISK_RESERVE_BYTES"] > shutil.disk_usage(media_root).free:
        raise TusError(
            507, _("The server does not have enough free disk space for this file. Please tell the administrator.")
        )
    upload = Upload(
        key=secrets.token_hex(16),
        story_id=story.id,
        user_id=getattr(user, "id", None),
        filename=metadata.get("filename", "")[:255],
        length=length,
        poster_percent=poster_percent(metadata.get("poster"), config["POSTER_PERCENT"]),
        created_at=now,
        expires_at=now + timedelta(hours=config["UPLOAD_EXPIRY_HOURS"]),
    )
    db.session.add(upload)
    db.session.flush()
    part_path(media_root, upload).touch()
    return upload


def poster_percent(value: str | None, default: float) -> float:
    """Where the poster is taken, in percent of the duration: a number from 0 to 100, else ``default``."""
    if value is None:
        return float(default)
    try:
        number = float(value)
    except (TypeError, ValueError):
        return float(default)
    return number if 0 <= number <= 100 else float(default)


def bytes_promised(media_root: str | Path) -> int:
    """Bytes that the unfinished uploads still have to write to disk."""
    rows = db.session.execute(select(Upload).where(Upload.completed_at.is_(None))).scalars()
    return sum(max(0, upload.length - offset(media_root, upload)) for upload in rows)


def find(key: str, now: datetime) -> Upload | None:
    """An upload by its key, or None (also once it has expired)."""
    if not key or len(key) > 40:
        return None
    upload = db.session.execute(select(Upload).where(Upload.key == key)).scalar_one_or_none()
    if upload is None or (upload.completed_at is None and upload.expires_at <= now):
        return None
    return upload


def append(upload: Upload, stream: IO[bytes], at: int, *, config: Mapping[str, Any], now: datetime) -> int:
    """Write the bytes of ``stream`` at ``at``, which must be the current offset; the new offset.

    What arrives before a dropped connection is kept (the client asks for the offset with HEAD
    and goes on from there). One request at a time writes to an upload: another gets 423.
    """
    if upload.completed_at is not None:
        raise TusError(403, "This upload is complete")
    media_root = config["MEDIA_ROOT"]
    path = part_path(media_root, upload)
    if not path.exists():
        raise TusError(404, "This upload is gone")
    with _locked(path) as file:
        current = os.fstat(file.fileno()).st_size
        if at != current:
            raise TusError(409, f"Upload-Offset {at} does not match the {current} bytes received")
        try:
            _copy(stream, file, upload.length - current)
        finally:
            file.flush()
            os.fsync(file.fileno())
            upload.received = os.fstat(file.fileno()).st_size
            upload.expires_at = now + timedelta(hours=config["UPLOAD_EXPIRY_HOURS"])
    return upload.received


def _copy(stream: IO[bytes], file: BinaryIO, room: int) -> None:
    while room > 0:
        chunk = stream.read(min(CHUNK_BYTES, room))
        if not chunk:
            return
        file.write(chunk)
        room -= len(chunk)


@contextmanager
def _locked(path: Path) -> Iterator[BinaryIO]:
    with path.open("r+b") as file:
        try:
            fcntl.flock(file.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise TusError(423, "Another request is writing to this upload") from None
        file.seek(0, os.SEEK_END)
        yield file


def remove(media_root: str | Path, upload: Upload) -> None:
    """Forget an upload and its bytes (termination, expiry, a refused file)."""
    part_path(media_root, upload).unlink(missing_ok=True)
    checking_path(media_root, upload).unlink(missing_ok=True)
    db.session.delete(upload)


def sweep_expired(media_root: str | Path, now: datetime) -> int:
    """Remove the unfinished uploads past their expiry time; how many."""
    expired = (
        db.session.execute(select(Upload).where(Upload.completed_at.is_(None), Upload.expires_at <= now))
        .scalars()
        .all()
    )
    for upload in expired:
        remove(media_root, upload)
    db.session.commit()
    return len(expired)
