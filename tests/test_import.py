"""`flask media import FOLDER`, `flask media demo`, `flask users create-staff` (docs/portal.md, Import and commands)."""

import json
from pathlib import Path

import pytest

from app.extensions import db
from app.models import Category, Rendition, Story, User

from .helpers.catalogue_data import story_entry, write_manifest


def run(app, *args):
    return app.test_cli_runner().invoke(args=list(args))


def count(app, model):
    with app.app_context():
        return db.session.query(model).count()


def test_import_a_good_folder(app, tmp_path):
    folder = write_manifest(
        tmp_path / "in", [story_entry("a", "Story A"), story_entry("b", "Story B", categories=("Summits", "Exercises"))]
    )
    result = run(app, "media", "import", str(folder))
    assert result.exit_code == 0 and "imported 2 stories" in result.output
    assert count(app, Story) == 2 and count(app, Rendition) == 4 and count(app, Category) == 2
    with app.app_context():
        rendition = db.session.query(Rendition).filter_by(label="HD 1080p25").first()
        assert rendition.bytes == 300_000 and rendition.filename == "a/1-hd.mp4"
    assert "Story A" in app.test_client().get("/?q=story").get_data(as_text=True)
    again = run(app, "media", "import", str(folder))
    assert again.exit_code == 1 and "'a' is already in the catalogue" in again.output and count(app, Story) == 2


@pytest.mark.parametrize(
    "mutate, message",
    [
        (lambda m: m["stories"][0].pop("title"), "stories[0].title: required"),
        (lambda m: m["stories"][1].update(published="15/05/2025"), "stories[1].published: not a date (YYYY-MM-DD)"),
        (
            lambda m: m["stories"][0].update(slug="Bad Slug"),
            "stories[0].slug: use lower-case letters, digits and hyphens",
        ),
        (lambda m: m["stories"][1].update(slug="a"), "stories[1].slug: 'a' appears twice"),
        (
            lambda m: m["stories"][0]["video"]["renditions"][0].update(file="missing.mp4"),
            "stories[0].video.renditions[0].file: no such file 'missing.mp4'",
        ),
        (
            lambda m: m["stories"][0]["video"]["renditions"][0].update(file="../../../etc/passwd"),
            "stories[0].video.renditions[0].file: no such file '../../../etc/passwd'",
        ),
        (
            lambda m: m["stories"][1]["video"]["renditions"][1].update(preview=False),
            'stories[1].video.renditions: exactly one rendition must have "preview": true',
        ),
        (
            lambda m: m["stories"][0]["video"]["renditions"][0].update(width="wide"),
            "stories[0].video.renditions[0].width: a positive whole number is required",
        ),
        (
            lambda m: m["stories"][1]["video"]["shotlist"].append({"text": "no time"}),
            'stories[1].video.shotlist[1]: needs "at" (HH:MM:SS) and "text"',
        ),
        (lambda m: m.update(stories={}), "stories: a non-empty list of stories is required"),
    ],
)
def test_a_bad_manifest_names_the_field_and_imports_nothing(app, tmp_path, mutate, message):
    folder = write_manifest(tmp_path / "in", [story_entry("a", "Story A"), story_entry("b", "Story B")])
    manifest = json.loads((folder / "manifest.json").read_text())
    mutate(manifest)
    (folder / "manifest.json").write_text(json.dumps(manifest))
    result = run(app, "media", "import", str(folder))
    assert result.exit_code == 1
    assert f"error: {message}" in result.output
    assert "nothing was imported" in result.output
    assert count(app, Story) == 0


def test_broken_json_gives_line_and_column(app, tmp_path):
    folder = tmp_path / "in"
    folder.mkdir()
    (folder / "manifest.json").write_text('{\n  "stories": [\n    {"slug": "a",}\n  ]\n}')
    result = run(app, "media", "import", str(folder))
    assert result.exit_code == 1 and "line 3, column" in result.output


def test_not_utf8_manifest(app, tmp_path):
    folder = tmp_path / "in"
    folder.mkdir()
    (folder / "manifest.json").write_bytes(b'{"stories": ["\xff\xfe"]}')
    result = run(app, "media", "import", str(folder))
    assert result.exit_code == 1 and "not UTF-8" in result.output


def test_a_failure_while_writing_rolls_everything_back(app, tmp_path, monkeypatch):
    from app import search

    folder = write_manifest(tmp_path / "in", [story_entry("a", "Story A"), story_entry("b", "Story B")])
    calls = []

    def failing_index(session, story):
        calls.append(story.slug)
        if len(calls) == 2:
            raise RuntimeError("disk full")

    monkeypatch.setattr(search, "index_story", failing_index)
    result = run(app, "media", "import", str(folder))
    assert result.exit_code != 0
    assert count(app, Story) == 0 and count(app, Category) == 0


def test_demo_catalogue_loads_once_and_plays(app):
    result = run(app, "media", "demo")
    assert result.exit_code == 0, result.output
    stories = count(app, Story)
    assert stories >= 6
    assert "already there" in run(app, "media", "demo").output and count(app, Story) == stories
    client = app.test_client()
    page = client.get("/stories/foreign-ministers-meet-in-antalya").get_data(as_text=True)
    assert "NATO Foreign Ministers met in Antalya, Türkiye" in page and "“is not nearly enough.”" in page
    assert "Antalya" in client.get("/?q=antalya").get_data(as_text=True)
    with app.app_context():
        for rendition in db.session.query(Rendition).filter_by(is_preview=True):
            response = client.get(f"/media/preview/{rendition.id}", headers={"Range": "bytes=0-11"})
            assert response.status_code == 206 and response.data[4:8] == b"ftyp"  # a real MP4


def test_create_staff(app):
    result = run(app, "users", "create-staff", "Press@Example.org", "--password", "Press-Office-2025!")
    assert result.exit_code == 0 and "created staff account press@example.org" in result.output
    with app.app_context():
        user = db.session.query(User).one()
        assert user.is_staff and user.verified_at is not None
    weak = run(app, "users", "create-staff", "other@example.org", "--password", "weak")
    assert weak.exit_code == 1 and "at least 12 characters" in weak.output
    bad = run(app, "users", "create-staff", "not-an-address", "--password", "Press-Office-2025!")
    assert bad.exit_code == 1 and "@-sign" in bad.output


LONG = "x" * 400


@pytest.mark.parametrize(
    "mutate, message",
    [
        (lambda s: s.update(title=LONG), "stories[0].title: at most 300 characters"),
        (lambda s: s.update(location=LONG), "stories[0].location: at most 200 characters"),
        (lambda s: s.update(credit=LONG), "stories[0].credit: at most 300 characters"),
        (lambda s: s.update(categories=[LONG]), "stories[0].categories: at most 120 characters"),
        (lambda s: s.update(title="Nul\u0000title"), "stories[0].title: contains characters that are not allowed"),
        (lambda s: s.update(body="Nul\u0000body"), "stories[0].body: contains characters that are not allowed"),
        (
            lambda s: s["video"]["renditions"][0].update(label=LONG),
            "stories[0].video.renditions[0].label: at most 120 characters",
        ),
        (
            lambda s: s["video"]["renditions"][0].update(container=5),
            "stories[0].video.renditions[0].container: must be text",
        ),
        (
            lambda s: s["video"]["renditions"][0].update(codec=LONG),
            "stories[0].video.renditions[0].codec: at most 40 characters",
        ),
        (lambda s: s["video"].update(duration="long"), "stories[0].video.duration: a number of seconds is required"),
        (lambda s: s["video"].update(duration=-1), "stories[0].video.duration: a number of seconds is required"),
        (
            lambda s: s["video"]["shotlist"][0].update(text="a\u0000b"),
            "stories[0].video.shotlist[0]: contains characters that are not allowed",
        ),
        (
            lambda s: s.update(translations={"fr": {"title": LONG}}),
            "stories[0].translations.fr.title: at most 300 characters",
        ),
        (
            lambda s: s.update(translations={"fr": {"title": "T", "summary": "\u0000"}}),
            "stories[0].translations.fr.summary: contains characters that are not allowed",
        ),
    ],
)
def test_what_the_columns_cannot_hold_is_named_not_crashed(app, tmp_path, mutate, message):
    """PostgreSQL refuses a value longer than its column or holding a NUL: the import died with a
    database error. Each is a problem of the manifest, named like the others."""
    entry = story_entry("a", "Story A")
    mutate(entry)
    folder = write_manifest(tmp_path / "in", [entry])
    result = run(app, "media", "import", str(folder))
    assert result.exit_code == 1, result.output
    assert f"error: {message}" in result.output
    assert count(app, Story) == 0


@pytest.mark.parametrize("published", ["0001-01-01", "9999-12-31", "9999-12-31T23:59:59+14:00"])
def test_dates_at_the_edges_of_the_calendar_import(app, tmp_path, published):
    folder = write_manifest(
        tmp_path / "in", [story_entry("a", "Story A", published=published), story_entry("b", "Story B")]
    )
    result = run(app, "media", "import", str(folder))
    assert result.exit_code == 0, result.output
    assert app.test_client().get("/stories/a").status_code == 200
    assert app.test_client().get("/?q=story").status_code == 200


def manifest_paths(value, path=()):
    """Every place in a manifest entry: (keys and indexes) to each object, list and value."""
    yield path
    if isinstance(value, dict):
        for key, inner in value.items():
            yield from manifest_paths(inner, path + (key,))
    elif isinstance(value, list):
        for index, inner in enumerate(value):
            yield from manifest_paths(inner, path + (index,))


def test_any_value_anywhere_in_a_manifest_is_imported_or_named(app, tmp_path):
    """Fuzzing the manifest: each place of a good entry (and a few new keys) given values of every
    JSON kind in turn; the import either works or names its problems, never raises anything else."""
    from hypothesis import HealthCheck, given, settings
    from hypothesis import strategies as st

    from app.flows.importer import ManifestError, import_folder

    translated = dict(
        story_entry("a", "Story A"),
        translations={
            "fr": {"title": "Histoire A", "summary": "Résumé.", "shotlist": [{"at": "00:00:00", "text": "Plan large"}]}
        },
    )
    folder = write_manifest(tmp_path / "in", [translated, story_entry("b", "Story B")])
    good = json.loads((folder / "manifest.json").read_text())
    places = [p for p in manifest_paths(good) if p] + [
        ("stories", 0, "video", "new"),
        ("stories", 1, "extra"),
        ("stories", 1, "translations"),
        ("more",),
    ]
    text = st.text(max_size=20) | st.sampled_from(
        [
            "",
            "\x00",
            "a/hd.mp4",
            "../manifest.json",
            "manifest.json",
            "9999-12-31",
            "0001-01-01",
            "x" * 1000,
            "a",
            "fr",
            "en",
        ]
    )
    json_values = st.recursive(
        st.none()
        | st.booleans()
        | st.integers(-(2**70), 2**70)
        | text
        | st.floats(allow_nan=True, allow_infinity=True),
        lambda inner: st.lists(inner, max_size=3) | st.dictionaries(text, inner, max_size=3),
        max_leaves=5,
    )
    media_root = Path(app.config["MEDIA_ROOT"])

    @settings(
        max_examples=150,
        derandomize=True,
        deadline=None,
        database=None,
        suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    )
    @given(place=st.sampled_from(places), value=json_values)
    def run_one(place, value):
        manifest = json.loads(json.dumps(good))
        target = manifest
        for key in place[:-1]:
            target = target[key]
        target[place[-1]] = value
        (folder / "manifest.json").write_text(json.dumps(manifest))
        with app.app_context():
            try:
                import_folder(folder, media_root)
            except ManifestError as exc:
                assert exc.problems and all(isinstance(p, str) for p in exc.problems)
            else:  # imported: take it away again for the next example
                for story in db.session.query(Story):
                    db.session.delete(story)
                db.session.commit()
            finally:
                db.session.remove()

    run_one()
