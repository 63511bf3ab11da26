"""Importing stories and their files from a folder with a manifest.json (one transaction)."""
from __future__ import annotations

import json
import shutil
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import select

from .. import search
from ..extensions import db
from ..models import (
    Category,
    Rendition,
    Story,
    StoryTranslation,
    Video,
)
from .story_fields import nonempty as _nonempty, parse_date as _parse_date, shotlist_text as _shotlist
from .story_fields import slugify as _slugify, story_problems

MANIFEST = "manifest.json"


class ManifestError(Exception):
    def __init__(self, problems: list[str]):
        super().__init__("\n".join(problems))
        self.problems = problems


@dataclass
class ImportResult:
    imported: list[str]
    skipped: list[str]


def load_manifest(folder: Path) -> dict:
    path = folder / MANIFEST
    if not path.is_file():
        raise ManifestError([f"{path}: no manifest.json in this folder"])
    try:
        return json.loads(path.read_text("utf-8"))
    except UnicodeDecodeError as exc:
        raise ManifestError([f"{path}: not UTF-8 text ({exc.reason} at byte {exc.start})"]) from None
    except json.JSONDecodeError as exc:
        raise ManifestError([f"{path}: line {exc.lineno}, column {exc.colno}: {exc.msg}"]) from None


def validate(manifest, folder: Path) -> list[str]:
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
        seen.add(slug)
        video = story.get("video")
        if video is not None:
            problems += _validate_video(video, f"{where}.video", folder)
    return problems


def _validate_video(video, where: str, folder: Path) -> list[str]:
    if not isinstance(video, dict):
        return [f"{where}: must be an object"]
    problems = []
    if video.get("poster") is not None and not _file_ok(folder, video["poster"]):
        problems.append(f"{where}.poster: no such file '{video['poster']}'")
    renditions = video.get("renditions")
    if not isinstance(renditions, list) or not renditions:
        return problems + [f"{where}.renditions: a non-empty list is required"]
    for j, rendition in enumerate(renditions):
        at = f"{where}.renditions[{j}]"
        if not isinstance(rendition, dict):
            problems.append(f"{at}: must be an object")
            continue
        for key in ("label", "file"):
            if not _nonempty(rendition.get(key)):
                problems.append(f"{at}.{key}: required")
        for key in ("width", "height"):
            if not (isinstance(rendition.get(key), int) and 0 < rendition[key] < 100_000):
                problems.append(f"{at}.{key}: a positive whole number is required")
        if _nonempty(rendition.get("file")) and not _file_ok(folder, rendition["file"]):
            problems.append(f"{at}.file: no such file '{rendition['file']}'")
    if sum(1 for r in renditions if isinstance(r, dict) and r.get("preview")) != 1:
        problems.append(f"{where}.renditions: exactly one rendition must have \"preview\": true")
    return problems


def import_folder(folder: Path, media_root: Path, *, skip_existing: bool = False) -> ImportResult:
    """Validate everything, copy the files, then write every story in one transaction."""
    folder = folder.resolve()
    manifest = load_manifest(folder)
    problems = validate(manifest, folder)
    slugs = [s["slug"] for s in manifest["stories"]] if not problems else []
    existing = set(db.session.execute(select(Story.slug).where(Story.slug.in_(slugs))).scalars()) if slugs else set()
    if existing and not skip_existing:
        problems += [f"stories[{i}].slug: '{s}' is already in the catalogue" for i, s in enumerate(slugs) if s in existing]
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
            search.index_story(db.session, story)
            result.imported.append(story.slug)
        db.session.commit()
    except Exception:
        db.session.rollback()
        raise
    return result


def _build_story(entry: dict, categories: dict) -> Story:
    story = Story(
        slug=entry["slug"], title=entry["title"].strip(), published_at=_parse_date(entry["published"]),
        location=entry.get("location", ""), summary=entry.get("summary", ""), body=entry.get("body", ""),
        credit_line=entry.get("credit", ""), rights_note=entry.get("rights", ""),
    )
    for language, translation in (entry.get("translations") or {}).items():
        story.translations.append(StoryTranslation(
            language=language, title=translation["title"].strip(), location=translation.get("location", ""),
            credit_line=translation.get("credit", ""), rights_note=translation.get("rights", ""),
            summary=translation.get("summary", ""),
            body=translation.get("body", ""), shotlist=_shotlist(translation.get("shotlist", [])),
        ))
    for name in entry.get("categories", []):
        if name not in categories:
            categories[name] = Category(name=name, slug=_slugify(name, "category"))
            db.session.add(categories[name])
        story.categories.append(categories[name])
    return story


def _build_video(entry: dict, slug: str, folder: Path, media_root: Path) -> Video:
    video = Video(
        duration_seconds=float(entry.get("duration") or 0),
        shotlist=_shotlist(entry.get("shotlist", [])),
        poster_filename=_copy(folder, entry["poster"], slug, media_root) if entry.get("poster") else None,
    )
    for item in entry["renditions"]:
        stored = _copy(folder, item["file"], slug, media_root)
        video.renditions.append(Rendition(
            label=item["label"], container=item.get("container", "MP4"), codec=item.get("codec", "H.264"),
            width=item["width"], height=item["height"], bytes=(media_root / stored).stat().st_size,
            filename=stored, mimetype=item.get("mimetype", "video/mp4"), is_preview=bool(item.get("preview")),
        ))
    return video


def _copy(folder: Path, relative: str, slug: str, media_root: Path) -> str:
    source = (folder / relative).resolve()
    stored = f"{slug}/{source.name}"
    target = media_root / stored
    target.parent.mkdir(parents=True, exist_ok=True)
    if not target.exists() or target.stat().st_size != source.stat().st_size:
        shutil.copyfile(source, target)
    return stored


def _file_ok(folder: Path, relative) -> bool:
    if not _nonempty(relative):
        return False
    path = (folder / relative).resolve()
    return folder.resolve() in path.parents and path.is_file()
