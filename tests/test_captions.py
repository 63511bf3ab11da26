"""Captions of a story (issue #15, WCAG 1.2.2): WebVTT or SRT checked by content, stored as WebVTT
under a name the app chooses, replaced, removed, audited; the player's tracks and the downloads
on the story page; `media import` takes them by the same rules."""

from __future__ import annotations

import io
import re
from pathlib import Path

import pytest

from app.extensions import db
from app.flows import captions
from app.flows.importer import ManifestError, import_folder
from app.models import AuditEvent, Caption, Story

from .helpers.catalogue_data import STORIES, story_entry, write_manifest
from .helpers.portal import register_and_verify
from .helpers.uploads_helpers import UPLOAD_CONFIG

SLUG = STORIES[0]["slug"]
SRT = (
    b"1\r\n00:00:01,000 --> 00:00:03,500\r\nMinisters arrive.\r\n\r\n"
    b"2\r\n00:00:04,000 --> 00:00:06,000\r\nThey shake hands.\r\n"
)
VTT_FR = (
    "\ufeffWEBVTT\nKind: captions\n\nNOTE a comment that is not kept\n\n"
    "00:00:01.000 --> 00:00:03.500 align:start\nLes ministres arrivent.\n\n"
    "00:04.000 --> 00:06.000\nIls se serrent la main.\n"
).encode()


@pytest.fixture
def app_config():
    """The upload tests' settings (storage, ladder, limits) instead of the defaults."""
    return dict(UPLOAD_CONFIG)


def send(client, token, story, language, data: bytes | None, name="captions.srt", prefix=""):
    form = {"csrf_token": token, "language": language}
    if data is not None:
        form["file"] = (io.BytesIO(data), name)
    return client.post(
        f"{prefix}/staff/uploads/story/{story}/captions",
        data=form,
        content_type="multipart/form-data",
        headers={"Referer": "http://localhost/"},
    )


def stored(app):
    with app.app_context():
        found = {c.language: (c.filename, c.bytes) for c in db.session.query(Caption)}
        db.session.remove()
        return found


def audit_actions(app):
    with app.app_context():
        found = [
            (e.action, e.detail)
            for e in db.session.query(AuditEvent).order_by(AuditEvent.id)
            if e.action.startswith("captions")
        ]
        db.session.remove()
        return found


# --- the file's rules -----------------------------------------------------------------------


def test_srt_becomes_webvtt_and_webvtt_keeps_only_its_cues():
    assert captions.webvtt(captions.parse(SRT, 10_000)) == (
        "WEBVTT\n\n00:00:01.000 --> 00:00:03.500\nMinisters arrive.\n\n"
        "00:00:04.000 --> 00:00:06.000\nThey shake hands.\n"
    )
    assert captions.webvtt(captions.parse(VTT_FR, 10_000)) == (
        "WEBVTT\n\n00:00:01.000 --> 00:00:03.500 align:start\nLes ministres arrivent.\n\n"
        "00:00:04.000 --> 00:00:06.000\nIls se serrent la main.\n"
    )


@pytest.mark.parametrize(
    "data, line",
    [
        (b"Hello\n", 1),
        (b"WEBVTT\n\n00:00:05.000 --> 00:00:02.000\nBackwards\n", 3),
        (b"1\n00:00:01,000 --> 00:00:02,000\nA\n\n2\n00:00:0X,000 --> 00:00:04,000\nB\n", 6),
        (b"WEBVTT\n\n00:00:01.000 --> 00:00:02.000\nA\n00:00:03.000 --> 00:00:04.000\nB\n", 5),
        (b"WEBVTT\n\n00:00:01.000 --> 00:00:02.000 <script>\nA\n", 3),
        (b"WEBVTT\n\n00:00:01.000 --> 00:00:02.000\nCaf\xe9\n", 4),
        (b"WEBVTT\n\n00:00:01.000 --> 00:00:02.000\nA\x00\n", 4),
    ],
)
def test_a_broken_file_is_refused_naming_its_line(app, data, line):
    with app.app_context(), pytest.raises(captions.CaptionError, match=rf"^Line {line}: "):
        captions.parse(data, 10_000)


@pytest.mark.parametrize("data", [b"", b"WEBVTT\n", b"WEBVTT\n\nNOTE only a note\n", b"x" * 10_001])
def test_empty_or_too_large_files_are_refused(app, data):
    with app.app_context(), pytest.raises(captions.CaptionError):
        captions.parse(data, 10_000)


# --- staff upload ---------------------------------------------------------------------------


def test_staff_add_replace_and_remove_captions(app, staff, story):
    client, token = staff
    media = Path(app.config["MEDIA_ROOT"])
    assert send(client, token, story, "en", SRT, name="../../evil.srt").status_code == 303
    assert send(client, token, story, "fr", VTT_FR, name="sous-titres.vtt").status_code == 303
    first = stored(app)
    assert set(first) == {"en", "fr"}
    for name, size in first.values():
        assert re.fullmatch(rf"captions/{story}-(en|fr)-[0-9a-f]{{12}}\.vtt", name)
        assert (media / name).read_bytes().startswith(b"WEBVTT\n\n") and (media / name).stat().st_size == size
    panel = client.get(f"/staff/uploads/story/{story}").get_data(as_text=True)
    assert "Français" in panel and "English" in panel

    assert send(client, token, story, "en", VTT_FR).status_code == 303  # replaced: a new name, the old file gone
    second = stored(app)
    assert second["en"][0] != first["en"][0] and not (media / first["en"][0]).exists()
    assert (media / second["en"][0]).read_bytes() == (media / second["fr"][0]).read_bytes()

    response = client.post(
        f"/staff/uploads/story/{story}/captions/fr/remove",
        data={"csrf_token": token},
        headers={"Referer": "http://localhost/"},
    )
    assert response.status_code == 303
    assert set(stored(app)) == {"en"} and not (media / second["fr"][0]).exists()
    assert [action for action, _ in audit_actions(app)] == [
        "captions.add",
        "captions.add",
        "captions.replace",
        "captions.remove",
    ]


@pytest.mark.parametrize(
    "language, data, message",
    [
        ("en", b"WEBVTT\n\n00:00:01.000 -> 00:00:02.000\nA\n", "Line 3: "),
        ("de", SRT, "Choose English or French."),
        ("en", None, "Choose a file first."),
        ("en", b"WEBVTT\n\n" + b"00:00:01.000 --> 00:00:02.000\nA\n\n" * 33_000, "too large"),
    ],
)
def test_refused_files_say_why_and_leave_nothing(app, staff, story, language, data, message):
    client, token = staff
    response = send(client, token, story, language, data)
    assert response.status_code == 422
    page = response.get_data(as_text=True)
    assert message in page and 'role="alert"' in page
    assert stored(app) == {} and audit_actions(app) == []
    assert (
        not (Path(app.config["MEDIA_ROOT"]) / captions.FOLDER).exists()
        or list((Path(app.config["MEDIA_ROOT"]) / captions.FOLDER).iterdir()) == []
    )


def test_a_refusal_is_said_in_french(app, staff, story):
    client, token = staff
    response = send(client, token, story, "fr", b"WEBVTT\n\n00:00:05.000 --> 00:00:02.000\nA\n", prefix="/fr")
    assert response.status_code == 422
    assert "Ligne 3" in response.get_data(as_text=True)


def test_captions_need_staff_and_the_csrf_token(app, staff, story):
    member = app.test_client()
    register_and_verify(member, app, "member@example.org")
    from .helpers.portal import csrf_token

    assert send(member, csrf_token(member), story, "en", SRT).status_code == 404
    client, _ = staff
    assert send(client, "", story, "en", SRT).status_code == 400
    assert stored(app) == {}


def test_caption_uploads_are_rate_limited(app, staff, story):
    client, token = staff
    app.config["RATELIMIT_PER_IP"] = "2 per minute"
    assert [send(client, token, story, "en", SRT).status_code for _ in range(3)] == [303, 303, 429]


# --- the story page -------------------------------------------------------------------------


def test_the_player_has_a_track_per_language_the_page_language_first(app, staff, story):
    client, token = staff
    send(client, token, story, "en", SRT)
    send(client, token, story, "fr", VTT_FR)
    visitor = app.test_client()
    english = visitor.get(f"/stories/{SLUG}", headers={"Accept-Language": "en"}).get_data(as_text=True)
    tracks = re.findall(
        r'<track kind="captions"\s+src="([^"]+)"\s+srclang="(\w+)"\s+label="([^"]+)"( default)?>', english
    )
    assert [(lang, label, default) for _, lang, label, default in tracks] == [
        ("en", "English", " default"),
        ("fr", "Français", ""),
    ]
    french = visitor.get(f"/fr/stories/{SLUG}", headers={"Accept-Language": "en"}).get_data(as_text=True)
    assert [
        (lang, default)
        for _, lang, _, default in re.findall(
            r'<track kind="captions"\s+src="([^"]+)"\s+srclang="(\w+)"\s+label="([^"]+)"( default)?>', french
        )
    ] == [("fr", " default"), ("en", "")]
    assert f'download="{SLUG}-fr.vtt"' in french

    response = visitor.get(tracks[1][0])  # public, shown in the player: no attachment
    assert response.status_code == 200
    assert response.mimetype == "text/vtt" and not response.headers.get("Content-Disposition", "").startswith(
        "attachment"
    )
    assert response.get_data(as_text=True).startswith("WEBVTT\n\n00:00:01.000 --> 00:00:03.500 align:start\n")


def test_captions_of_a_draft_are_for_staff_only(app, staff, story):
    client, token = staff
    send(client, token, story, "en", SRT)
    with app.app_context():
        db.session.get(Story, story).state = "draft"
        caption_id = db.session.query(Caption).one().id
        db.session.commit()
        db.session.remove()
    assert app.test_client().get(f"/media/captions/{caption_id}.vtt").status_code == 404
    assert client.get(f"/media/captions/{caption_id}.vtt").status_code == 200
    assert app.test_client().get("/media/captions/999999.vtt").status_code == 404


# --- media import ---------------------------------------------------------------------------


def importing(app, tmp_path, files: dict[str, bytes], entries):
    folder = tmp_path / "with-captions"
    folder.mkdir()
    for name, data in files.items():
        (folder / name).write_bytes(data)
    entry = story_entry("captioned", "A captioned story")
    entry["captions"] = entries
    write_manifest(folder, [entry])
    with app.app_context():
        try:
            return import_folder(folder, Path(app.config["MEDIA_ROOT"]))
        finally:
            db.session.remove()


def test_import_takes_captions(app, tmp_path):
    importing(
        app,
        tmp_path,
        {"en.srt": SRT, "fr.vtt": VTT_FR},
        [{"language": "en", "file": "en.srt"}, {"language": "fr", "file": "fr.vtt"}],
    )
    found = stored(app)
    assert set(found) == {"en", "fr"}
    assert (Path(app.config["MEDIA_ROOT"]) / found["en"][0]).read_bytes().startswith(b"WEBVTT\n\n00:00:01.000")


def test_import_refuses_bad_captions_naming_each(app, tmp_path):
    with pytest.raises(ManifestError) as refused:
        importing(
            app,
            tmp_path,
            {"bad.vtt": b"WEBVTT\n\n00:00:02.000 --> 00:00:01.000\nA\n", "en.srt": SRT},
            [
                {"language": "en", "file": "bad.vtt"},
                {"language": "en", "file": "en.srt"},
                {"language": "xx", "file": "missing.vtt"},
                "junk",
            ],
        )
    assert refused.value.problems == [
        "stories[0].captions[0].file: Line 3: the caption ends before it starts.",
        "stories[0].captions[1].language: 'en' appears twice",
        "stories[0].captions[2].language: one of en, fr is required",
        "stories[0].captions[2].file: no such file 'missing.vtt'",
        "stories[0].captions[3]: must be an object",
    ]
    assert stored(app) == {}


def test_two_first_uploads_of_one_language_at_once_end_as_a_replacement(app, staff, story, monkeypatch):
    client, token = staff
    assert send(client, token, story, "en", SRT).status_code == 303
    [(first, _)] = stored(app).values()
    # the second request read the story before the first one's row was there
    real, calls = Story.caption, []
    monkeypatch.setattr(
        Story,
        "caption",
        lambda self, language: calls.append(language) or (None if len(calls) == 1 else real(self, language)),
    )
    assert send(client, token, story, "en", VTT_FR).status_code == 303
    [(second, _)] = stored(app).values()
    media = Path(app.config["MEDIA_ROOT"])
    assert second != first and not (media / first).exists() and (media / second).exists()
    assert list((media / captions.FOLDER).iterdir()) == [media / second]
