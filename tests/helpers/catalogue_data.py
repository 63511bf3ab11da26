"""Building small catalogues for tests: a manifest folder with real files, imported by the app."""

from __future__ import annotations

import copy
import json
from pathlib import Path

from app.extensions import db
from app.flows.importer import import_folder


def story_entry(
    slug,
    title,
    published="2025-05-15",
    body="Body text.",
    summary="Summary.",
    categories=("Summits",),
    shotlist=(("00:00:00", "Wide shot"),),
    sizes=(("HD 1080p25", 1920, 1080, 300_000, False), ("Preview 360p", 640, 360, 40_000, True)),
):
    renditions = [
        {
            "label": label,
            "container": "MP4",
            "codec": "H.264",
            "width": w,
            "height": h,
            "file": f"{slug}/{label.split()[0].lower()}.mp4",
            "preview": preview,
            "_bytes": size,
        }
        for label, w, h, size, preview in sizes
    ]
    return {
        "slug": slug,
        "title": title,
        "published": published,
        "location": "Brussels, Belgium",
        "summary": summary,
        "body": body,
        "categories": list(categories),
        "credit": "Courtesy of NATO",
        "rights": "Free for news use.",
        "video": {
            "duration": 8.0,
            "poster": f"{slug}/poster.jpg",
            "shotlist": [{"at": at, "text": text} for at, text in shotlist],
            "renditions": renditions,
        },
    }


# The first bytes of real files of each kind: the importer types files by their content.
MP4_HEAD = b"\x00\x00\x00\x18ftypmp42\x00\x00\x00\x00mp42isom"
JPEG_HEAD = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00"


def write_manifest(folder: Path, stories: list[dict]) -> Path:
    """The stories' files and manifest in ``folder``. ``stories`` is left as it was (STORIES is
    shared by every test: a test that popped its sizes gave later tests 1,000-byte files)."""
    folder.mkdir(parents=True, exist_ok=True)
    stories = copy.deepcopy(stories)
    for story in stories:
        video = story.get("video") or {}
        for rendition in video.get("renditions", []):
            path = folder / rendition["file"]
            path.parent.mkdir(parents=True, exist_ok=True)
            size = rendition.pop("_bytes", 1000)
            # distinct, checkable bytes: the offset pattern lets Range tests verify content
            pattern = bytes((i * 7 + len(rendition["label"])) % 251 for i in range(size))
            path.write_bytes(MP4_HEAD + pattern[len(MP4_HEAD) :])
        if video.get("poster"):
            (folder / video["poster"]).write_bytes(JPEG_HEAD + b"poster" * 10)
    (folder / "manifest.json").write_text(json.dumps({"stories": stories}, ensure_ascii=False, indent=2), "utf-8")
    return folder


def load(app, tmp_path, stories):
    folder = write_manifest(tmp_path / "import", stories)
    with app.app_context():
        result = import_folder(folder, Path(app.config["MEDIA_ROOT"]))
        db.session.remove()
    return result


STORIES = [
    story_entry(
        "foreign-ministers-meet-in-antalya",
        "NATO Foreign Ministers meet in Antalya",
        "2025-05-15",
        body="NATO Foreign Ministers met in Antalya, Türkiye to discuss deterrence and defence.\n\n"
        "The Secretary General said the 2% target “is not nearly enough.”",
        summary="Ministers prepare the Summit in The Hague.",
        categories=("Ministerial meetings",),
        shotlist=(("00:00:00", "Wide shot of the venue"), ("00:00:04", "Ministers shaking hands")),
    ),
    story_entry(
        "ships-train-in-the-baltic",
        "Allied ships train in the Baltic Sea",
        "2025-03-02",
        body="Frigates and minehunters exercised together.",
        summary="A naval exercise.",
        categories=("Exercises",),
        shotlist=(("00:00:00", "Frigate at sea"), ("00:00:05", "Helicopter landing on deck")),
    ),
    story_entry(
        "cyber-coalition",
        "Cyber Coalition exercise in Tallinn",
        "2024-11-20",
        body="Cyber defenders from Allied nations trained against simulated attacks.",
        summary="Cyber defence.",
        categories=("Exercises",),
    ),
]

SLUG = STORIES[0]["slug"]  # the story the browser tests open


def load_stories(live_portal, tmp_path, stories=STORIES):
    """``write_manifest`` pops each rendition's ``_bytes``: give it copies, not the shared dicts."""
    return load(live_portal.app, tmp_path, copy.deepcopy(stories))
