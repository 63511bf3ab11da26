"""What a media file is, read from its first bytes: never from its name or from a manifest.

The portal takes a closed set of containers, so their signatures are read here from the
containers' own specifications (ISO base media / QuickTime, EBML, SMPTE 377 MXF, JPEG, PNG, RIFF
WebP) rather than with a general library: ``filetype`` knows no MXF, ``puremagic`` answers with
ranked guesses to choose from, and ``python-magic`` needs libmagic on every host.
"""

from __future__ import annotations

from pathlib import Path

HEAD_BYTES = 64

# Broadcast files (renditions); the ones a web page can play may be previews.
VIDEO_TYPES = frozenset({"video/mp4", "video/quicktime", "video/webm", "video/x-matroska", "application/mxf"})
PREVIEW_TYPES = frozenset({"video/mp4", "video/quicktime", "video/webm", "video/x-matroska"})
IMAGE_TYPES = frozenset({"image/jpeg", "image/png", "image/webp"})
EXTENSIONS = {
    "video/mp4": ".mp4",
    "video/quicktime": ".mov",
    "video/webm": ".webm",
    "video/x-matroska": ".mkv",
    "application/mxf": ".mxf",
    "image/jpeg": ".jpg",
    "image/png": ".png",
    "image/webp": ".webp",
}

# Brands of ISO base media files that hold a still picture (HEIF, AVIF) or sound (M4A), not video.
NOT_VIDEO_BRANDS = frozenset(
    {
        b"avif",
        b"avis",
        b"heic",
        b"heix",
        b"heim",
        b"heis",
        b"hevc",
        b"hevx",
        b"mif1",
        b"msf1",
        b"M4A ",
        b"M4B ",
        b"M4P ",
        b"F4A ",
        b"F4B ",
    }
)
# A QuickTime file from before the "ftyp" box begins with one of these boxes.
QUICKTIME_BOXES = frozenset({b"moov", b"mdat", b"wide"})
EBML = b"\x1a\x45\xdf\xa3"
# The key of an MXF header partition pack (SMPTE 377-1), up to the bytes that vary.
MXF_HEADER = bytes.fromhex("060e2b34020501010d0102010102")


def sniff(head: bytes) -> str | None:
    """The type of the file that begins with ``head`` (its first HEAD_BYTES), or None."""
    box = head[4:8]
    if box == b"ftyp":
        brand = head[8:12]
        if brand in NOT_VIDEO_BRANDS:
            return None
        return "video/quicktime" if brand == b"qt  " else "video/mp4"
    if box in QUICKTIME_BOXES:
        return "video/quicktime"
    if head.startswith(EBML):
        return "video/webm" if b"webm" in head else "video/x-matroska" if b"matroska" in head else None
    if head.startswith(MXF_HEADER):
        return "application/mxf"
    if head.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if head.startswith(b"RIFF") and head[8:12] == b"WEBP":
        return "image/webp"
    return None


def of_file(path: Path) -> str | None:
    try:
        with open(path, "rb") as file:
            return sniff(file.read(HEAD_BYTES))
    except OSError:
        return None
