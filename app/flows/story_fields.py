"""The rules a story's fields follow, wherever they come from: a manifest of ``flask media import``
(app/flows/importer.py) or the staff editor (app/staff/). One rule set, so a story the editor
accepts imports, and the other way round.

A story is checked in the manifest's shape (``{"title": ..., "published": ..., "translations":
{"fr": {...}}, "video": {"shotlist": [{"at": ..., "text": ...}]}}``); each problem names its field
in that shape ("title", "translations.fr.title", "video.shotlist[2]"). The importer puts them after
the story's place in the manifest; the editor shows each beside its field, in the page's language.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, TypeGuard

from flask_babel import lazy_gettext as _l
from flask_babel.speaklater import LazyString

from ..models import ORIGINAL_LANGUAGE

# Languages a story may be translated into; its own fields are the English original.
TRANSLATION_LANGUAGES = ("fr",)
# The text fields of a story and of a translation, with the most characters each may hold (the
# columns' sizes; the long texts get a generous bound so a pasted file is said, not stored).
TEXT_LIMITS = {"title": 300, "location": 200, "credit": 300, "summary": 5_000, "body": 100_000, "rights": 5_000}
CATEGORY_LIMIT = 120
SHOT_TIME = re.compile(r"^\d{1,2}:[0-5]\d:[0-5]\d$")
SHOT_TEXT_LIMIT = 1_000
# Line breaks and tabs belong in long texts; no other control character belongs anywhere (and
# PostgreSQL refuses NUL outright).
CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")

REQUIRED = _l("required")
MUST_BE_TEXT = _l("must be text")
NOT_A_DATE = _l("not a date (YYYY-MM-DD)")
BAD_SLUG = _l("use lower-case letters, digits and hyphens")
CATEGORY_NAMES = _l("must be a list of names")
BAD_CHARACTERS = _l("contains characters that are not allowed")
SHOT_NEEDS = _l('needs "at" (HH:MM:SS) and "text"')


def too_long(limit: int) -> LazyString:
    return _l("at most %(count)s characters", count=limit)


@dataclass(frozen=True)
class Problem:
    field: str  # where, in the manifest's shape: "title", "translations.fr.body", "video.shotlist[0]"
    message: str  # a lazy string: English for the importer, the page's language in the editor

    def __str__(self) -> str:
        return f"{self.field}: {self.message}"


def story_problems(story: dict[str, Any], *, slug_required: bool = True) -> list[Problem]:
    """Every problem of one story's fields (not of its files: the importer checks those)."""
    problems = []
    for key in ("slug", "title", "published") if slug_required else ("title", "published"):
        if not nonempty(story.get(key)):
            problems.append(Problem(key, REQUIRED))
    slug = story.get("slug")
    if nonempty(slug) and not SLUG.match(slug):
        problems.append(Problem("slug", BAD_SLUG))
    if nonempty(story.get("published")) and parse_date(story["published"]) is None:
        problems.append(Problem("published", NOT_A_DATE))
    problems += _text_problems(story, "")
    categories = story.get("categories", [])
    if not isinstance(categories, list) or not all(nonempty(c) for c in categories):
        problems.append(Problem("categories", CATEGORY_NAMES))
    else:
        if any(len(c.strip()) > CATEGORY_LIMIT for c in categories):
            problems.append(Problem("categories", too_long(CATEGORY_LIMIT)))
        if any(CONTROL.search(c) for c in categories):
            problems.append(Problem("categories", BAD_CHARACTERS))
    video = story.get("video")
    if isinstance(video, dict):
        problems += shotlist_problems(video.get("shotlist", []), "video.shotlist")
    if story.get("translations") is not None:
        problems += translation_problems(story["translations"], "translations")
    return problems


ONE_LINE = ("title", "location", "credit")


def text_problem(value: object, limit: int, *, one_line: bool) -> LazyString | None:
    """What is wrong with one text field (a lazy message), or None: not text, longer than its
    column, or a control character (PostgreSQL refuses NUL; a line break would split a one-line
    field). The importer's rendition fields follow it too."""
    if not isinstance(value, str):
        return MUST_BE_TEXT
    if len(value) > limit:
        return too_long(limit)
    if CONTROL.search(value) or (one_line and ("\n" in value.strip() or "\r" in value.strip())):
        return BAD_CHARACTERS
    return None


def _text_problems(fields: dict[str, Any], at: str) -> list[Problem]:
    problems = []
    for key, limit in TEXT_LIMITS.items():
        if fields.get(key) is not None:
            problem = text_problem(fields[key], limit, one_line=key in ONE_LINE)
            if problem:
                problems.append(Problem(at + key, problem))
    return problems


def translation_problems(translations: object, where: str) -> list[Problem]:
    if not isinstance(translations, dict):
        return [Problem(where, _l('must be an object like {"fr": {"title": ...}}'))]
    problems = []
    for language, translation in translations.items():
        at = f"{where}.{language}"
        if language == ORIGINAL_LANGUAGE:
            problems.append(Problem(at, _l("the story's own fields are the English original")))
            continue
        if language not in TRANSLATION_LANGUAGES:
            problems.append(
                Problem(
                    at,
                    _l(
                        "unknown language (use %(languages)s)",
                        languages=", ".join(repr(c) for c in TRANSLATION_LANGUAGES),
                    ),
                )
            )
            continue
        if not isinstance(translation, dict):
            problems.append(Problem(at, _l("must be an object")))
            continue
        if not nonempty(translation.get("title")):
            problems.append(Problem(f"{at}.title", REQUIRED))
        problems += _text_problems(translation, f"{at}.")
        problems += shotlist_problems(translation.get("shotlist", []), f"{at}.shotlist")
        for key in sorted(set(translation) - {*TEXT_LIMITS, "shotlist"}):
            problems.append(
                Problem(
                    f"{at}.{key}", _l("unknown field (use title, location, summary, body, credit, rights, shotlist)")
                )
            )
    return problems


def shotlist_problems(shots: object, where: str) -> list[Problem]:
    if not isinstance(shots, list):
        return [Problem(where, _l("must be a list"))]
    problems = []
    for j, shot in enumerate(shots):
        if not (
            isinstance(shot, dict)
            and nonempty(shot.get("at"))
            and isinstance(shot.get("text"), str)
            and SHOT_TIME.match(shot["at"].strip())
        ):
            problems.append(Problem(f"{where}[{j}]", SHOT_NEEDS))
        elif len(shot["text"]) > SHOT_TEXT_LIMIT:
            problems.append(Problem(f"{where}[{j}]", too_long(SHOT_TEXT_LIMIT)))
        elif CONTROL.search(shot["text"]) or "\n" in shot["text"]:
            problems.append(Problem(f"{where}[{j}]", BAD_CHARACTERS))
    return problems


def shotlist_text(shots: list[dict[str, Any]]) -> str:
    """A checked shotlist as stored (Video.shotlist, StoryTranslation.shotlist): "HH:MM:SS text" lines."""
    return "\n".join(f"{s['at'].strip()} {s['text'].strip()}" for s in shots)


def nonempty(value: object) -> TypeGuard[str]:
    return isinstance(value, str) and bool(value.strip())


def parse_date(value: object) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        try:
            parsed = datetime.combine(date.fromisoformat(value), datetime.min.time())
        except ValueError:
            return None
    return parsed.replace(tzinfo=None)


SLUG = re.compile(r"^[a-z0-9][a-z0-9-]{0,79}$")
SLUG_LENGTH = 80


def slugify(name: str, fallback: str = "story") -> str:
    """Lower-case ASCII letters, digits and hyphens (accents dropped: "Défense" gives "defense")."""
    ascii_name = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode()
    return re.sub(r"[^a-z0-9]+", "-", ascii_name.lower()).strip("-")[:SLUG_LENGTH].strip("-") or fallback
