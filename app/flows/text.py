"""Checks of what people type or send, shared by the rules and the forms: one definition of a
control character and of a file that must stay inside its folder."""

from __future__ import annotations

import unicodedata
from pathlib import Path


def has_control_characters(value: str) -> bool:
    """Tabs, newlines, NUL and the other C0/C1 controls (Unicode category Cc): never part of a name,
    an address or a link, and a browser drops some of them, changing what a link means."""
    return any(unicodedata.category(ch) == "Cc" for ch in value)


def file_inside(folder: Path | str, relative: str | Path) -> Path | None:
    """``folder / relative``, resolved, only if it is a file inside ``folder``: a name with ``..``
    or a link out of the folder gives nothing."""
    root = Path(folder).resolve()
    path = (root / relative).resolve()
    return path if root in path.parents and path.is_file() else None
