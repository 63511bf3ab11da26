"""A story's captions: one WebVTT file per language, uploaded by staff or imported.

A file is taken by its content, never its name: UTF-8 text that parses as WebVTT or as SRT
(SubRip), within CAPTION_MAX_BYTES. What is stored is written anew from the parsed cues (the
WebVTT header, then each cue's timing, settings and text), so SRT becomes WebVTT and nothing but
cues reaches a visitor's player. The parser is here rather than webvtt-py's because a press
officer needs the line of the fault, which that library's errors do not give.

Captions are public like the preview they go with (WCAG 1.2.2): the story page lists them as
``<track>`` elements and as downloads for anyone who can see the story.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from flask_babel import gettext as _
from sqlalchemy.exc import IntegrityError

from ..extensions import db
from ..models import Caption, Story, utcnow
from . import audit

FOLDER = "captions"  # under MEDIA_ROOT
MIMETYPE = "text/vtt"
BOM = "\ufeff"
TIMESTAMP = r"(?:(\d{1,4}):)?([0-5]\d):([0-5]\d)[.,](\d{3})"
TIMING = re.compile(rf"^{TIMESTAMP}[ \t]+-->[ \t]+{TIMESTAMP}(?:[ \t]+(.*))?$")
# Cue settings of WebVTT (vertical, line, position, size, align, region): name:value words.
# A first line meant as a timing, even a broken one (else it would pass for a cue identifier).
TIMING_LIKE = re.compile(r"^\d+:\d|-->")
SETTINGS = re.compile(r"^(?:[a-z]+:[^\s:]+(?:[ \t]+|$))*$")


class CaptionError(Exception):
    """What is wrong with a captions file, said to the person who sent it."""


@dataclass(frozen=True)
class Cue:
    start: int  # milliseconds
    end: int
    settings: str
    lines: tuple[str, ...]


def parse(data: bytes, max_bytes: int) -> list[Cue]:
    """The cues of a WebVTT or SRT file; ``CaptionError`` naming the line of the first fault."""
    if len(data) > max_bytes:
        raise CaptionError(_("This captions file is too large: at most %(size)s KB.", size=max_bytes // 1024))
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise CaptionError(
            _(
                "Line %(line)s: this is not UTF-8 text. Please save the file as UTF-8.",
                line=data[: exc.start].count(b"\n") + 1,
            )
        ) from None
    if "\0" in text:
        raise CaptionError(
            _(
                "Line %(line)s: this is not UTF-8 text. Please save the file as UTF-8.",
                line=text[: text.index("\0")].count("\n") + 1,
            )
        )
    lines = text.removeprefix(BOM).replace("\r\n", "\n").replace("\r", "\n").split("\n")
    if re.match(r"^WEBVTT(?:[ \t].*)?$", lines[0]):
        header_end = next((i for i, line in enumerate(lines) if not line.strip()), len(lines))
        cues = _cues(lines, first=header_end, webvtt=True)  # the header's lines ("Kind: …") are not kept
    elif lines[0].strip().isdigit() or TIMING.match(lines[0].strip()):
        cues = _cues(lines, first=0, webvtt=False)
    else:
        raise CaptionError(
            _("Line 1: a WebVTT file begins with “WEBVTT”, an SRT file with the number of its first caption.")
        )
    if not cues:
        raise CaptionError(_("This file holds no captions."))
    return cues


def _cues(lines: list[str], *, first: int, webvtt: bool) -> list[Cue]:
    cues = []
    for start_line, block in _blocks(lines, first):
        if webvtt and re.match(r"^(NOTE|STYLE|REGION)(?:[ \t]|$)", block[0]):
            continue  # comments and styling: not shown, not kept
        at = 0
        if len(block) > 1 and not TIMING_LIKE.search(block[0].strip()):
            at = 1  # a cue identifier (SRT: the cue's number)
        timing = TIMING.match(block[at].strip())
        number = start_line + at
        if timing is None:
            raise CaptionError(
                _("Line %(line)s: expected a timing such as “00:00:01.000 --> 00:00:04.000”.", line=number)
            )
        start, end = _ms(timing.groups()[0:4]), _ms(timing.groups()[4:8])
        settings = (timing[9] or "").strip() if webvtt else ""
        if settings and not SETTINGS.match(settings):
            raise CaptionError(
                _(
                    "Line %(line)s: these cue settings are not WebVTT: “%(settings)s”.",
                    line=number,
                    settings=settings[:40],
                )
            )
        if end <= start:
            raise CaptionError(_("Line %(line)s: the caption ends before it starts.", line=number))
        text = tuple(block[at + 1 :])
        if any("-->" in line for line in text):
            raise CaptionError(
                _(
                    "Line %(line)s: a blank line is missing before this timing.",
                    line=number + 1 + next(i for i, line in enumerate(text) if "-->" in line),
                )
            )
        cues.append(Cue(start, end, settings, text))
    return cues


def _blocks(lines: list[str], first: int) -> list[tuple[int, list[str]]]:
    """The blank-line separated blocks from ``first`` on, each with its first line's number (from 1)."""
    blocks: list[tuple[int, list[str]]] = []
    current: list[str] = []
    start = 0
    for number, line in enumerate(lines[first:], start=first + 1):
        if line.strip():
            if not current:
                start = number
            current.append(line.rstrip())
        elif current:
            blocks.append((start, current))
            current = []
    if current:
        blocks.append((start, current))
    return blocks


def _ms(parts: Iterable[str | None]) -> int:
    hours, minutes, seconds, millis = (int(part or 0) for part in parts)
    return ((hours * 60 + minutes) * 60 + seconds) * 1000 + millis


def _stamp(ms: int) -> str:
    seconds, millis = divmod(ms, 1000)
    minutes, seconds = divmod(seconds, 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours:02d}:{minutes:02d}:{seconds:02d}.{millis:03d}"


def webvtt(cues: list[Cue]) -> str:
    out = ["WEBVTT", ""]
    for cue in cues:
        out.append(f"{_stamp(cue.start)} --> {_stamp(cue.end)}" + (f" {cue.settings}" if cue.settings else ""))
        out.extend(cue.lines)
        out.append("")
    return "\n".join(out)


# --- a story's captions ---------------------------------------------------------------------


def save(
    story: Story,
    language: str,
    data: bytes,
    *,
    config: Mapping[str, Any],
    actor: object = None,
    ip: str | None = None,
    now: datetime | None = None,
) -> Caption | None:
    """Check ``data`` and make it the story's captions in ``language`` (committed); the file it
    replaces is removed once the new one is in place. Raises ``CaptionError``. Returns the caption
    as the database has it after the commit (None if it was removed meanwhile)."""
    text = webvtt(parse(data, config["CAPTION_MAX_BYTES"])).encode("utf-8")
    media_root = Path(config["MEDIA_ROOT"])
    stored = store(media_root, story.id, language, text)
    try:
        old = _point_at(story, language, stored, len(text), actor=actor, ip=ip, now=now or utcnow())
    except Exception:
        (media_root / stored).unlink(missing_ok=True)
        raise
    if old:
        (media_root / old).unlink(missing_ok=True)
    return story.caption(language)


def _point_at(
    story: Story, language: str, stored: str, size: int, *, actor: object, ip: str | None, now: datetime
) -> str | None:
    """Make ``stored`` the story's file in ``language`` (committed); returns the file it replaced.
    Of two first uploads of one language at once, the second's unique-index failure is rolled
    back and it replaces the first's."""
    for attempt in range(2):
        caption = story.caption(language)
        old = caption.filename if caption else None
        if caption is None:
            caption = Caption(language=language)
            story.captions.append(caption)
        caption.filename, caption.bytes, caption.uploaded_at = stored, size, now
        audit.record(
            "captions.replace" if old else "captions.add",
            actor=actor,
            story=story,
            ip=ip,
            now=now,
            detail=f"{language} ({size} bytes)",
        )
        try:
            db.session.commit()
            return old
        except IntegrityError:
            db.session.rollback()
            if attempt:
                raise
    return None


def store(media_root: Path, story_id: int, language: str, text: bytes) -> str:
    """Write checked WebVTT under a new name the app chooses; returns it relative to MEDIA_ROOT."""
    stored = f"{FOLDER}/{story_id}-{language}-{secrets.token_hex(6)}.vtt"
    target = media_root / stored
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(target.name + ".partial")
    partial.write_bytes(text)
    partial.replace(target)
    return stored


def remove(
    story: Story, language: str, *, config: Mapping[str, Any], actor: object = None, ip: str | None = None
) -> bool:
    caption = story.caption(language)
    if caption is None:
        return False
    story.captions.remove(caption)
    audit.record("captions.remove", actor=actor, story=story, ip=ip, detail=language)
    db.session.commit()
    (Path(config["MEDIA_ROOT"]) / caption.filename).unlink(missing_ok=True)
    return True


def for_page(story: Story, language: str) -> list[Caption]:
    """The story's captions, the page's language first (the player's default track)."""
    return sorted(story.captions, key=lambda caption: (caption.language != language, caption.language))
