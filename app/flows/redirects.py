""" "The page you were on": only ever a path on this site (docs/security.md, Redirects)."""

from __future__ import annotations

from urllib.parse import unquote, urlsplit

from .text import has_control_characters

MAX_NEXT_LENGTH = 2000


def safe_next(target: object, default: str = "/") -> str:
    """Return ``target`` if it is a local path, else ``default``.

    Refused: other hosts (``//x``, ``/\\x``, ``https://x``), schemes (``javascript:``),
    encoded slashes that a later decode turns into ``//x``, and any control character
    (browsers drop tabs and newlines, so ``/\\t/x`` would become ``//x``).
    """
    if not isinstance(target, str) or not target or len(target) > MAX_NEXT_LENGTH:
        return default
    if has_control_characters(target) or "\\" in target:
        return default
    for candidate in (target, unquote(target)):
        if not candidate.startswith("/") or candidate.startswith("//") or "\\" in candidate:
            return default
        if has_control_characters(candidate):
            return default
        parts = urlsplit(candidate)
        if parts.scheme or parts.netloc:
            return default
    return target
