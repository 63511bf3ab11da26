"""The pages an operator may write for their own organisation: conditions of use, privacy notice,
accessibility statement. Each has a default text in the templates; a file
``instance/pages/<name>.<language>.html`` replaces it, read at each request (no restart).

The operator is trusted: the file is an HTML fragment placed in the page as written, not
sanitised (whoever can write to ``instance/`` can change the portal anyway). The
Content-Security-Policy still applies to it: no inline script or style runs, nothing loads from
another site.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

log = logging.getLogger(__name__)

NAMES = ("conditions", "privacy", "accessibility")
MAX_BYTES = 1024 * 1024


@dataclass(frozen=True)
class OperatorPage:
    html: str
    language: str  # the language of the file: the one asked for, or another when that one has none


def operator_page(folder: str | Path, name: str, language: str, languages: Iterable[str]) -> OperatorPage | None:
    """The operator's text of page ``name``: in ``language`` if there is one, else in the first of
    ``languages`` that has one (their own text in another language rather than our default)."""
    assert name in NAMES
    for candidate in (language, *(other for other in languages if other != language)):
        path = Path(folder) / f"{name}.{candidate}.html"
        try:
            if not path.is_file():
                continue
            data = path.read_bytes()[:MAX_BYTES]
        except OSError as exc:
            log.error("%s cannot be read (%s): the default text is shown", path, exc.strerror)
            continue
        text = data.decode("utf-8", errors="replace")
        if "\ufffd" in text:
            log.warning("%s is not UTF-8 throughout: the characters that are not were replaced", path)
        return OperatorPage(text, candidate)
    return None
