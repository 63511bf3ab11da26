"""Media files (issue #13, points 4 and 13): each rendition is stored under a name of its own, and
a file's type is read from its content, at import and again whenever it is served."""

import json
from pathlib import Path

import pytest

from app.extensions import db
from app.flows.media_types import EXTENSIONS
from app.models import Download, Rendition, Story, Video

from .helpers.catalogue_data import JPEG_HEAD, MP4_HEAD, load, story_entry, write_manifest
from .helpers.portal import register_and_verify

SAME_SIZE = (("HD 1080p25", 1920, 1080, 5000, False), ("Preview 360p", 640, 360, 5000, True))

# First bytes of files of each kind, as real files begin.
HEADS = {
    "video/mp4": MP4_HEAD,
    "video/quicktime": b"\x00\x00\x00\x14ftypqt  \x00\x00\x02\x00qt  ",
    "video/webm": b"\x1aE\xdf\xa3\x9fB\x86\x81\x01B\xf7\x81\x01B\xf2\x81\x04B\xf3\x81\x08B\x82\x84webmB\x87\x81\x04",
    "video/x-matroska": b"\x1aE\xdf\xa3\xa3B\x86\x81\x01B\xf7\x81\x01B\xf2\x81\x04B\xf3\x81\x08B\x82\x88matroska",
    "application/mxf": bytes.fromhex("060e2b34020501010d01020101020400") + b"\x83\x00\x00\x58",
    "image/jpeg": JPEG_HEAD,
    "image/png": b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR",
    "image/webp": b"RIFF\x24\x00\x00\x00WEBPVP8 ",
}
NOT_VIDEO = {
    "html": b"<!doctype html><html><script>alert(document.cookie)</script></html>",
    "javascript": b"alert(document.cookie); // a preview that is a script",
    "svg": b"<svg xmlns='http://www.w3.org/2000/svg' onload='alert(1)'/>",
    "png": HEADS["image/png"],
    "avif (an image in an ISO box)": b"\x00\x00\x00\x1cftypavif\x00\x00\x00\x00avifmif1miaf",
    "m4a (sound)": b"\x00\x00\x00\x1cftypM4A \x00\x00\x00\x00M4A isom",
    "nothing": b"",
}


def run(app, *args):
    return app.test_cli_runner().invoke(args=list(args))


def import_folder_with(app, tmp_path, entry, files: dict[str, bytes] = None):
    """Import one story whose files are replaced by ``files`` (manifest path: bytes) after writing."""
    folder = write_manifest(tmp_path / "in", [entry])
    for relative, content in (files or {}).items():
        (folder / relative).write_bytes(content)
    return run(app, "media", "import", str(folder))


def renditions(app, slug="a"):
    with app.app_context():
        rows = db.session.query(Rendition).join(Video).join(Story).filter(Story.slug == slug).all()
        db.session.expunge_all()
        return {row.label: row for row in rows}


# --- point 4: a stored name per rendition ---------------------------------------------------------


def test_renditions_with_the_same_file_name_in_different_folders_stay_apart(app, tmp_path, client):
    """preview/clip.mp4 and hd/clip.mp4 both became MEDIA_ROOT/a/clip.mp4 (the second copy was even
    skipped, the sizes being equal), so the public preview URL served the HD file."""
    entry = story_entry("a", "Story A", sizes=SAME_SIZE)
    hd, preview = entry["video"]["renditions"]
    hd["file"], preview["file"], entry["video"]["poster"] = "hd/clip.mp4", "preview/clip.mp4", "poster.jpg"
    result = import_folder_with(app, tmp_path, entry)
    assert result.exit_code == 0, result.output
    folder = tmp_path / "in"
    stored = renditions(app)
    assert stored["HD 1080p25"].filename != stored["Preview 360p"].filename
    public = client.get(f"/media/preview/{stored['Preview 360p'].id}")
    assert public.status_code == 200 and public.data == (folder / "preview/clip.mp4").read_bytes()
    assert public.data != (folder / "hd/clip.mp4").read_bytes()
    media = Path(app.config["MEDIA_ROOT"])
    assert (media / stored["HD 1080p25"].filename).read_bytes() == (folder / "hd/clip.mp4").read_bytes()


def test_stored_names_are_the_slug_a_number_and_a_plain_name(app, tmp_path):
    entry = story_entry("a", "Story A")
    entry["video"]["renditions"][0]["file"] = "a/Kyïv 東京 100% ?a=1 #2.mp4"
    entry["video"]["poster"] = "a/Affiche été.jpg"
    result = import_folder_with(app, tmp_path, entry, {"a/Affiche été.jpg": HEADS["image/png"]})
    assert result.exit_code == 0, result.output
    stored = renditions(app)
    assert stored["HD 1080p25"].filename == "a/1-Kyiv-100-a-1-2.mp4"
    assert stored["Preview 360p"].filename == "a/2-preview.mp4"
    with app.app_context():
        assert db.session.query(Video).one().poster_filename == "a/poster.png"  # named after its content


def test_one_file_for_two_renditions_is_refused(app, tmp_path):
    entry = story_entry("a", "Story A")
    entry["video"]["renditions"][1]["file"] = "./" + entry["video"]["renditions"][0]["file"]
    result = import_folder_with(app, tmp_path, entry)
    assert result.exit_code == 1
    assert (
        "error: stories[0].video.renditions[1].file: './a/hd.mp4' is also the file of renditions[0]; "
        "each rendition needs a file of its own"
    ) in result.output


def test_a_stale_file_of_the_same_size_is_replaced(app, tmp_path, client):
    """A file left in MEDIA_ROOT (a story removed, then imported again) was kept when its size matched."""
    load(app, tmp_path / "first", [story_entry("a", "Story A")])
    preview = renditions(app)["Preview 360p"]
    target = Path(app.config["MEDIA_ROOT"]) / preview.filename
    target.write_bytes(MP4_HEAD + b"\x00" * (target.stat().st_size - len(MP4_HEAD)))  # stale, same size
    with app.app_context():
        db.session.delete(db.session.query(Story).one())
        db.session.commit()
    load(app, tmp_path / "again", [story_entry("a", "Story A")])
    preview = renditions(app)["Preview 360p"]
    served = client.get(f"/media/preview/{preview.id}").data
    assert served == (tmp_path / "again" / "import" / "a" / "preview.mp4").read_bytes()


def test_a_preview_sharing_its_file_with_a_gated_rendition_is_not_served(app, tmp_path, client):
    """Catalogues imported before stored names were unique may hold a preview and an HD rendition
    with one stored name: the file is never served under the preview's rights."""
    load(app, tmp_path, [story_entry("a", "Story A")])
    stored = renditions(app)
    with app.app_context():
        db.session.get(Rendition, stored["Preview 360p"].id).filename = stored["HD 1080p25"].filename
        db.session.commit()
    assert client.get(f"/media/preview/{stored['Preview 360p'].id}").status_code == 404


def test_the_demo_catalogue_imported_before_keeps_working(app, client):
    """Rows stored under the old names (slug/hd-1080p25.mp4) are served as before; the demo loads once."""
    assert run(app, "media", "demo").exit_code == 0
    assert "already there" in run(app, "media", "demo").output
    register_and_verify(client, app)
    with app.app_context():
        rows = db.session.query(Rendition).all()
        video = db.session.query(Video).first()
        db.session.expunge_all()
    for row in rows:
        response = client.get(f"/media/preview/{row.id}" if row.is_preview else f"/download/{row.id}")
        assert response.status_code == 200 and response.headers["Content-Type"] == "video/mp4", row.filename
    assert client.get(f"/media/poster/{video.id}").headers["Content-Type"] == "image/jpeg"


# --- point 13: types from content ---------------------------------------------------------------


@pytest.mark.parametrize("kind", sorted(NOT_VIDEO))
@pytest.mark.parametrize("which", [0, 1])  # the HD file, the preview
def test_a_rendition_that_is_not_a_video_is_refused(app, tmp_path, kind, which):
    entry = story_entry("a", "Story A")
    rendition = entry["video"]["renditions"][which]
    rendition["mimetype"] = "video/mp4"  # what the manifest says counts for nothing
    result = import_folder_with(app, tmp_path, entry, {rendition["file"]: NOT_VIDEO[kind]})
    assert result.exit_code == 1
    assert (
        f"error: stories[0].video.renditions[{which}].file: '{rendition['file']}' is not a video "
        "(MP4, MOV, WebM, Matroska or MXF, read from the file's content)"
    ) in result.output
    assert "nothing was imported" in result.output


@pytest.mark.parametrize("kind", ["html", "svg", "javascript", "nothing"])
def test_a_poster_that_is_not_an_image_is_refused(app, tmp_path, kind):
    entry = story_entry("a", "Story A")
    result = import_folder_with(app, tmp_path, entry, {entry["video"]["poster"]: NOT_VIDEO[kind]})
    assert result.exit_code == 1
    assert (
        "error: stories[0].video.poster: 'a/poster.jpg' is not an image (JPEG, PNG or WebP, read from the "
        "file's content)"
    ) in result.output


def test_an_mxf_preview_is_refused(app, tmp_path):
    entry = story_entry("a", "Story A")
    preview = entry["video"]["renditions"][1]["file"]
    result = import_folder_with(app, tmp_path, entry, {preview: HEADS["application/mxf"] + b"\x00" * 100})
    assert result.exit_code == 1
    assert (
        "error: stories[0].video.renditions[1].file: a preview must be MP4, MOV, WebM or Matroska, "
        "which a web page can play"
    ) in result.output


@pytest.mark.parametrize("mimetype", [t for t in HEADS if not t.startswith("image/")])
def test_each_video_type_is_stored_and_served_as_what_it_is(app, tmp_path, client, mimetype):
    entry = story_entry("a", "Story A")
    hd = entry["video"]["renditions"][0]
    hd["mimetype"] = "text/html"  # ignored: the type is read from the file
    result = import_folder_with(app, tmp_path, entry, {hd["file"]: HEADS[mimetype] + b"\x00" * 1000})
    assert result.exit_code == 0, result.output
    row = renditions(app)["HD 1080p25"]
    assert row.mimetype == mimetype
    register_and_verify(client, app)
    response = client.get(f"/download/{row.id}")
    assert response.status_code == 200 and response.headers["Content-Type"] == mimetype
    assert response.headers["Content-Disposition"].startswith("attachment;")
    assert response.headers["Content-Disposition"].endswith(EXTENSIONS[mimetype])  # "Story A - HD 1080p25.mov"
    assert response.headers["X-Content-Type-Options"] == "nosniff"


@pytest.mark.parametrize("mimetype", [t for t in HEADS if t.startswith("image/")])
def test_each_poster_type_is_served_as_what_it_is(app, tmp_path, client, mimetype):
    entry = story_entry("a", "Story A")
    result = import_folder_with(app, tmp_path, entry, {entry["video"]["poster"]: HEADS[mimetype] + b"\x00" * 100})
    assert result.exit_code == 0, result.output
    with app.app_context():
        video_id = db.session.query(Video.id).scalar()
    response = client.get(f"/media/poster/{video_id}")
    assert response.status_code == 200 and response.headers["Content-Type"] == mimetype
    assert response.headers["X-Content-Type-Options"] == "nosniff"


def test_files_of_another_type_on_storage_are_never_served(app, tmp_path, client):
    """Defence in depth: a catalogue imported before types were checked (or a file changed on
    storage since) may hold a script under a rendition or a poster. Nothing answers with it."""
    load(app, tmp_path, [story_entry("a", "Story A")])
    stored = renditions(app)
    media = Path(app.config["MEDIA_ROOT"])
    with app.app_context():
        video = db.session.query(Video).one()
        video_id, poster = video.id, video.poster_filename
        for row in db.session.query(Rendition):
            row.mimetype = "text/html"  # as an old import took it from the manifest
        db.session.commit()
    for name in (stored["Preview 360p"].filename, stored["HD 1080p25"].filename, poster):
        (media / name).write_bytes(NOT_VIDEO["html"])
    assert client.get(f"/media/preview/{stored['Preview 360p'].id}").status_code == 404
    assert client.get(f"/media/poster/{video_id}").status_code == 404
    register_and_verify(client, app)
    refused = client.get(f"/download/{stored['HD 1080p25'].id}")
    assert refused.status_code == 404 and b"<script>" not in refused.data
    with app.app_context():
        assert db.session.query(Download).count() == 0


def test_an_old_row_typed_text_html_holding_a_video_is_served_as_video(app, tmp_path, client):
    load(app, tmp_path, [story_entry("a", "Story A")])
    preview = renditions(app)["Preview 360p"]
    with app.app_context():
        db.session.get(Rendition, preview.id).mimetype = "text/html"
        db.session.commit()
    response = client.get(f"/media/preview/{preview.id}")
    assert response.status_code == 200 and response.headers["Content-Type"] == "video/mp4"
    assert response.headers["X-Content-Type-Options"] == "nosniff"


def test_the_manifest_mimetype_is_not_read(app, tmp_path):
    entry = story_entry("a", "Story A")
    entry["video"]["renditions"][1]["mimetype"] = "application/javascript"
    folder = write_manifest(tmp_path / "in", [entry])
    manifest = json.loads((folder / "manifest.json").read_text())
    assert manifest["stories"][0]["video"]["renditions"][1]["mimetype"] == "application/javascript"
    assert run(app, "media", "import", str(folder)).exit_code == 0
    assert renditions(app)["Preview 360p"].mimetype == "video/mp4"
