"""Importing stories and their files from a folder with a manifest.json (one transaction)."""

from __future__ import annotations

import filecmp
import json
import os
import re
import shutil
import unicodedata
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from flask import current_app
from sqlalchemy import select

from .. import search
from ..extensions import db
from ..i18n import LANGUAGES
from ..models import (
    Caption,
    Category,
    Rendition,
    Story,
    StoryTranslation,
    Video,
)
from . import captions, media_types, story_fields
from .story_fields import nonempty as _nonempty
from .story_fields import parse_date as _parse_date
from .story_fields import shotlist_text as _shotlist
from .story_fields import slugify as _slugify
from .story_fields import story_problems
from .text import file_inside

MANIFEST = "manifest.json"


class ManifestError(Exception):
    def __init__(self, problems: list[str]):
        super().__init__("\n".join(problems))
        self.problems = problems


@dataclass
class ImportResult:
    imported: list[str]
    skipped: list[str]


def load_manifest(folder: Path) -> Any:  # the JSON as read; validate() says what is wrong with it
    path = folder / MANIFEST
    if not path.is_file():
        raise ManifestError([f"{path}: no manifest.json in this folder"])
    try:
        return json.loads(path.read_text("utf-8"))
    except UnicodeDecodeError as exc:
        raise ManifestError([f"{path}: not UTF-8 text ({exc.reason} at byte {exc.start})"]) from None
    except json.JSONDecodeError as exc:
        raise ManifestError([f"{path}: line {exc.lineno}, column {exc.colno}: {exc.msg}"]) from None


def validate(manifest: Any, folder: Path) -> list[str]:
    """Every problem, each naming where it is (``stories[2].video.renditions[0].file``)."""
    problems: list[str] = []
    stories = manifest.get("stories") if isinstance(manifest, dict) else None
    if not isinstance(stories, list) or not stories:
        return ["stories: a non-empty list of stories is required"]
    seen = set()
    for i, story in enumerate(stories):
        where = f"stories[{i}]"
        if not isinstance(story, dict):
            problems.append(f"{where}: must be an object")
            continue
        # the fields' rules are the editor's too (app/flows/story_fields.py); the files' are here
        problems += [f"{where}.{problem}" for problem in story_problems(story)]
        slug = story.get("slug")
        if _nonempty(slug) and slug in seen:
            problems.append(f"{where}.slug: '{slug}' appears twice")
        if _nonempty(slug):
            seen.add(slug)
        video = story.get("video")
        if video is not None:
            problems += _validate_video(video, f"{where}.video", folder)
        if story.get("captions") is not None:
            problems += _validate_captions(story["captions"], f"{where}.captions", folder)
    return problems


def _validate_captions(entries: object, where: str, folder: Path) -> list[str]:
    """Each captions file by the staff upload's rules (app/flows/captions.py), one per language."""
    if not isinstance(entries, list):
        return [f"{where}: must be a list"]
    problems, languages = [], set()
    for k, entry in enumerate(entries):
        at = f"{where}[{k}]"
        if not isinstance(entry, dict):
            problems.append(f"{at}: must be an object")
            continue
        language = entry.get("language")
        if not isinstance(language, str) or language not in LANGUAGES:
            problems.append(f"{at}.language: one of {', '.join(sorted(LANGUAGES))} is required")
        elif language in languages:
            problems.append(f"{at}.language: '{language}' appears twice")
        else:
            languages.add(language)
        if not _file_ok(folder, entry.get("file")):
            problems.append(f"{at}.file: no such file '{entry.get('file')}'")
            continue
        try:
            _read_captions(folder / entry["file"])
        except captions.CaptionError as exc:
            problems.append(f"{at}.file: {exc}")
    return problems


def _read_captions(path: Path) -> bytes:
    """A checked captions file as the WebVTT the portal stores."""
    max_bytes = current_app.config["CAPTION_MAX_BYTES"]
    with open(path, "rb") as file:
        data = file.read(max_bytes + 1)
    return captions.webvtt(captions.parse(data, max_bytes)).encode("utf-8")


# The most characters each text field of a rendition may hold (its column's size); each is one line.
RENDITION_TEXTS = {"label": 120, "container": 40, "codec": 40}


def _rendition_text_problems(rendition: dict[str, Any], where: str) -> list[str]:
    """The story fields' text rule (app/flows/story_fields.py) for a rendition's labels; a missing
    label has been reported as required."""
    problems = []
    for key, limit in RENDITION_TEXTS.items():
        if key in rendition and (key != "label" or _nonempty(rendition[key])):
            problem = story_fields.text_problem(rendition[key], limit, one_line=True)
            if problem:
                problems.append(f"{where}.{key}: {problem}")
    return problems


def _validate_video(video: object, where: str, folder: Path) -> list[str]:
    if not isinstance(video, dict):
        return [f"{where}: must be an object"]
    problems = []
    if video.get("poster") is not None and not _file_ok(folder, video["poster"]):
        problems.append(f"{where}.poster: no such file '{video['poster']}'")
    elif (
        video.get("poster") is not None and media_types.of_file(folder / video["poster"]) not in media_types.IMAGE_TYPES
    ):
        problems.append(
            f"{where}.poster: '{video['poster']}' is not an image (JPEG, PNG or WebP, read from the file's content)"
        )
    duration = video.get("duration") or 0
    if isinstance(duration, bool) or not isinstance(duration, (int, float)) or not 0 <= duration < 10**7:
        problems.append(f"{where}.duration: a number of seconds is required")
    renditions = video.get("renditions")
    if not isinstance(renditions, list) or not renditions:
        return problems + [f"{where}.renditions: a non-empty list is required"]
    files: dict[Path, int] = {}  # each file, by the first rendition that names it
    for j, rendition in enumerate(renditions):
        at = f"{where}.renditions[{j}]"
        if not isinstance(rendition, dict):
            problems.append(f"{at}: must be an object")
            continue
        for key in ("label", "file"):
            if not _nonempty(rendition.get(key)):
                problems.append(f"{at}.{key}: required")
        problems += _rendition_text_problems(rendition, at)
        for key in ("width", "height"):
            if not (isinstance(rendition.get(key), int) and 0 < rendition[key] < 100_000):
                problems.append(f"{at}.{key}: a positive whole number is required")
        if _nonempty(rendition.get("file")) and not _file_ok(folder, rendition["file"]):
            problems.append(f"{at}.file: no such file '{rendition['file']}'")
        elif _nonempty(rendition.get("file")):
            problems += _check_rendition_file(rendition, j, at, folder, files)
    if sum(1 for r in renditions if isinstance(r, dict) and r.get("preview")) != 1:
        problems.append(f'{where}.renditions: exactly one rendition must have "preview": true')
    return problems


def _check_rendition_file(
    rendition: dict[str, Any], j: int, at: str, folder: Path, files: dict[Path, int]
) -> list[str]:
    """A rendition's file is a video of its own; a preview's, one that a web page can play."""
    source = (folder / rendition["file"]).resolve()
    if source in files:
        return [
            f"{at}.file: '{rendition['file']}' is also the file of renditions[{files[source]}]; "
            "each rendition needs a file of its own"
        ]
    files[source] = j
    mimetype = media_types.of_file(source)
    if mimetype not in media_types.VIDEO_TYPES:
        return [
            f"{at}.file: '{rendition['file']}' is not a video (MP4, MOV, WebM, Matroska or MXF, read from the "
            "file's content)"
        ]
    if rendition.get("preview") and mimetype not in media_types.PREVIEW_TYPES:
        return [f"{at}.file: a preview must be MP4, MOV, WebM or Matroska, which a web page can play"]
    return []


def import_folder(folder: Path, media_root: Path, *, skip_existing: bool = False) -> ImportResult:
    """Validate everything, copy the files, then write every story in one transaction."""
    folder = folder.resolve()
    manifest = load_manifest(folder)
    problems = validate(manifest, folder)
    slugs = [s["slug"] for s in manifest["stories"]] if not problems else []
    existing = set(db.session.execute(select(Story.slug).where(Story.slug.in_(slugs))).scalars()) if slugs else set()
    if existing and not skip_existing:
        problems += [
            f"stories[{i}].slug: '{s}' is already in the catalogue" for i, s in enumerate(slugs) if s in existing
        ]
    if problems:
        raise ManifestError(problems)
    result = ImportResult(imported=[], skipped=sorted(existing))
    categories = {c.name: c for c in db.session.execute(select(Category)).scalars()}
    try:
        for entry in manifest["stories"]:
            if entry["slug"] in existing:
                continue
            story = _build_story(entry, categories)
            db.session.add(story)
            if entry.get("video"):
                story.videos.append(_build_video(entry["video"], entry["slug"], folder, media_root))
            db.session.flush()
            for item in entry.get("captions") or []:
                text = _read_captions(folder / item["file"])
                story.captions.append(
                    Caption(
                        language=item["language"],
                        bytes=len(text),
                        filename=captions.store(media_root, story.id, item["language"], text),
                    )
                )
            search.index_story(db.session, story)
            result.imported.append(story.slug)
        db.session.commit()
    except Exception:
        db.session.rollback()
        raise
    return result


def _build_story(entry: dict[str, Any], categories: dict[str, Category]) -> Story:
    story = Story(
        slug=entry["slug"],
        title=entry["title"].strip(),
        published_at=_parse_date(entry["published"]),
        location=entry.get("location", ""),
        summary=entry.get("summary", ""),
        body=entry.get("body", ""),
        credit_line=entry.get("credit", ""),
        rights_note=entry.get("rights", ""),
    )
    for language, translation in (entry.get("translations") or {}).items():
        story.translations.append(
            StoryTranslation(
                language=language,
                title=translation["title"].strip(),
                location=translation.get("location", ""),
                credit_line=translation.get("credit", ""),
                rights_note=translation.get("rights", ""),
                summary=translation.get("summary", ""),
                body=translation.get("body", ""),
                shotlist=_shotlist(translation.get("shotlist", [])),
            )
        )
    for name in entry.get("categories", []):
        if name not in categories:
            categories[name] = Category(name=name, slug=_slugify(name, "category"))
            db.session.add(categories[name])
        story.categories.append(categories[name])
    return story


def _build_video(entry: dict[str, Any], slug: str, folder: Path, media_root: Path) -> Video:
    video = Video(
        duration_seconds=float(entry.get("duration") or 0),
        shotlist=_shotlist(entry.get("shotlist", [])),
        poster_filename=_copy(folder / entry["poster"], f"{slug}/poster", media_root)[0]
        if entry.get("poster")
        else None,
    )
    for number, item in enumerate(entry["renditions"], start=1):
        # The number keeps each rendition's file apart, whatever the manifest calls the files.
        stored, mimetype = _copy(
            folder / item["file"], f"{slug}/{number}-{_plain_name(Path(item['file']).stem)}", media_root
        )
        video.renditions.append(
            Rendition(
                label=item["label"],
                container=item.get("container", "MP4"),
                codec=item.get("codec", "H.264"),
                width=item["width"],
                height=item["height"],
                bytes=(media_root / stored).stat().st_size,
                filename=stored,
                mimetype=mimetype,
                is_preview=bool(item.get("preview")),
            )
        )
    return video


def _copy(source: Path, stem: str, media_root: Path) -> tuple[str, str]:
    """Copy a checked file to MEDIA_ROOT as ``stem`` and the extension of its type; returns the
    stored name and the type. A file already there is replaced unless it is the same."""
    mimetype = media_types.of_file(source)
    assert mimetype is not None  # validate() checked every file's type
    stored = stem + media_types.EXTENSIONS[mimetype]
    target = media_root / stored
    target.parent.mkdir(parents=True, exist_ok=True)
    if not (target.is_file() and filecmp.cmp(source, target, shallow=False)):
        partial = target.with_name(target.name + ".partial")
        shutil.copyfile(source, partial)
        os.replace(partial, target)
    return stored, mimetype


def _plain_name(name: str) -> str:
    """ASCII letters, digits, dots, hyphens and underscores: a name any header, URL or shell takes as it is."""
    ascii_name = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode("ascii")
    return re.sub(r"[^A-Za-z0-9._]+", "-", ascii_name).strip("-.")[:100] or "file"


def _file_ok(folder: Path, relative: object) -> bool:
    if not _nonempty(relative):
        return False
    return file_inside(folder, relative) is not None
