"""Publishing a story with video from end to end (issue #15), in real Chromium browsers: a staff
member logs in, writes the story in English and French, uploads the master with the browser's
tus client (the connection cut once mid-way, the upload resumed), follows the progress while a
real worker process transcodes it (a tiny test video, a short test ladder), adds captions in
both languages and publishes. Another browser finds the story by search, plays the preview with
its captions loaded (``video.textTracks``), registers in the dialog with the code from the real
mail and downloads the HD file. Without JavaScript, captions are refused with the line of the
fault, added and removed on the panel's own page."""

from __future__ import annotations

import copy
import re

import pytest
from playwright.sync_api import expect

from app.extensions import db
from app.models import Story, Upload

from ..helpers.browser import settled
from ..helpers.catalogue_data import STORIES, load
from ..helpers.dialog import CODE_HEADING, WELCOME_HEADING, expect_dialog_open, fill_registration, mailed_code
from ..helpers.portal import GOOD_PASSWORD
from ..helpers.second_factor_helpers import give_second_factor
from ..helpers.staff_data import staff_client
from ..helpers.uploads_helpers import UPLOAD_CONFIG, make_video, worker

CHUNK = 16 * 1024
TITLE, TITLE_FR = "Divers clear mines off Latvia", "Des plongeurs déminent au large de la Lettonie"
SLUG = "divers-clear-mines-off-latvia"
HD = "HD 108p"  # tests/helpers/uploads_helpers.py TEST_LADDER: the master is 108 lines tall
CAPTIONS = {
    "en": "WEBVTT\n\n00:00:00.000 --> 00:00:02.000\nDivers enter the water.\n",
    "fr": "1\n00:00:00,000 --> 00:00:02,000\nLes plongeurs entrent dans l’eau.\n",
}
EXPECTED = (r"status of 422", r"net::ERR_CONNECTION_RESET", r"Failed to load resource: net::ERR_FAILED")


@pytest.fixture
def app_config():
    # No 216p rung for a 108p master: three renditions and the poster, the shortest ladder there is.
    return {**UPLOAD_CONFIG, "UPLOAD_CHUNK_BYTES": CHUNK}


def log_in(page, app, email: str) -> None:
    page.goto("/account/login?next=/staff/")
    page.get_by_label("Email address").fill(email)
    page.get_by_label("Password", exact=True).fill(GOOD_PASSWORD)
    page.locator("#account-step form button[type=submit]").first.click()
    give_second_factor(page, app, email)
    expect(page).to_have_url(re.compile(r"/staff/$"))


class CutOnce:
    """Cuts the connection of one PATCH of the upload (the server never gets its bytes); the
    browser's tus client must ask where it stands and go on."""

    def __init__(self, page, at: int):
        self.at, self.offsets, self.cut = at, [], False
        page.route("**/staff/uploads/*", self.handle)

    def handle(self, route):
        if route.request.method == "PATCH":
            self.offsets.append(int(route.request.headers["upload-offset"]))
            if len(self.offsets) == self.at and not self.cut:
                self.cut = True
                route.abort("connectionreset")
                return
        route.continue_()


def test_a_story_goes_from_the_newsroom_to_a_journalist(live_portal, database_url, new_page, shot, tmp_path):
    app = live_portal.app
    staff_email = "desk@example.org"
    staff_client(app, staff_email)
    master = make_video(tmp_path / "master.mp4", seconds=2, size="192x108")
    assert master.stat().st_size > 2 * CHUNK

    desk = new_page(base_url=live_portal.url)
    log_in(desk, app, staff_email)

    desk.get_by_role("link", name="New story").first.click()
    desk.get_by_label("Title", exact=True).fill(TITLE)
    desk.get_by_label("Title (French)").fill(TITLE_FR)
    desk.get_by_label("Summary", exact=True).fill("Divers from nine Allies clear old sea mines.")
    desk.get_by_label("Summary (French)").fill("Des plongeurs de neuf Alliés neutralisent de vieilles mines.")
    desk.get_by_role("button", name="Save draft").first.click()
    expect(desk.get_by_text("The draft is saved.")).to_be_visible()
    editor_url = desk.url

    cut = CutOnce(desk, at=2)
    desk.get_by_label("Broadcast master (MP4, MOV or MXF)").set_input_files(str(master))
    desk.evaluate("""() => { window.__said = [];  // every line the upload's status said
        new MutationObserver(() => window.__said.push(document.querySelector('.upload-status').textContent))
            .observe(document.querySelector('.upload-status'),
                     {childList: true, characterData: true, subtree: true}); }""")
    desk.get_by_role("button", name="Upload", exact=True).click()
    with worker(app, database_url, tmp_path / "worker.log"):
        expect(desk.locator(".transcode-state")).to_contain_text(re.compile("Waiting|Transcoding|Ready"))
        shot(desk, "01-uploaded")
        expect(desk.locator(".transcode-job.transcode-ready")).to_have_count(4, timeout=90_000)
        # the status line and the page head follow without a reload
        expect(desk.locator(".upload-status")).to_have_text(
            "Upload complete. The video is ready: its files are on the story’s page.", timeout=20_000
        )
        expect(desk.locator(".staff-head-state .video-state")).to_have_text("Ready, 3 files")
    said = desk.evaluate("window.__said")
    assert any(re.match(r"\d+ % · [\d.]+ MB/s · .+ left", line) for line in said), said
    assert "Upload complete. The files are being made from it: see each one below." in said, said
    assert cut.cut and cut.offsets[:3] == [0, CHUNK, CHUNK], cut.offsets  # the cut chunk was sent again
    with app.app_context():
        [upload] = db.session.query(Upload).all()  # resumed: one upload, not a second
        assert upload.completed_at is not None and upload.length == master.stat().st_size
        db.session.remove()
    expect(desk.locator(".upload-progress progress")).to_have_attribute("value", "100")
    shot(desk, "02-ready")

    for language, text in CAPTIONS.items():
        path = tmp_path / f"captions-{language}.{'vtt' if language == 'en' else 'srt'}"
        path.write_text(text, "utf-8")
        desk.get_by_label("Language of the captions").select_option(language)
        desk.get_by_label("Captions file (WebVTT or SRT, UTF-8)").set_input_files(str(path))
        desk.get_by_role("button", name="Upload captions").click()
        expect(
            desk.locator(".caption-files li").filter(has_text="Français" if language == "fr" else "English")
        ).to_be_visible()
    desk.goto(editor_url)
    desk.get_by_role("button", name="Publish now").click()
    expect(desk.get_by_text("The story is published.")).to_be_visible()
    shot(desk, "03-published")
    assert desk.log.problems(ignore=EXPECTED) == []

    reader = new_page(base_url=live_portal.url)
    reader.goto("/")
    reader.get_by_role("searchbox").fill("plongeurs")
    reader.locator(f"#results a[href='/stories/{SLUG}']").first.click()
    expect(reader.get_by_role("heading", name=TITLE, level=1)).to_be_visible()
    video = reader.locator("video.player")
    video.evaluate("v => { v.muted = true; return v.play(); }")
    reader.wait_for_function("() => document.querySelector('video.player').currentTime > 0")
    # The default track loads with the page; the other when chosen (here: shown hidden).
    reader.wait_for_function("() => document.querySelector('video.player track').readyState === 2")
    assert video.evaluate("v => [...v.textTracks].map(t => [t.language, t.label, t.mode])") == [
        ["en", "English", "showing"],
        ["fr", "Français", "disabled"],
    ]
    video.evaluate("v => { v.textTracks[1].mode = 'hidden'; }")
    reader.wait_for_function(
        "() => [...document.querySelectorAll('video.player track')].every(t => t.readyState === 2)"
    )
    assert video.evaluate("v => [...v.textTracks].map(t => [...t.cues].map(c => c.text))") == [
        ["Divers enter the water."],
        ["Les plongeurs entrent dans l’eau."],
    ]
    shot(reader, "04-playing-with-captions")

    reader.locator(".renditions li").filter(has_text=HD).get_by_role("link", name="Download").click()
    dialog = expect_dialog_open(reader)
    step = dialog.locator("#account-step")
    step.get_by_role("link", name="Create an account").click()
    expect(step.get_by_role("heading", name="Create an account")).to_be_visible()
    settled(dialog)  # else the step's focus move can take the typing (tests/helpers/browser.py)
    fill_registration(dialog, "reporter@example.org")
    dialog.get_by_role("button", name="Create an account").click()
    expect(step.get_by_role("heading", name=CODE_HEADING)).to_be_visible()
    dialog.get_by_label("Verification code", exact=True).fill(mailed_code(live_portal, "reporter@example.org"))
    dialog.get_by_role("button", name="Verify").click()
    expect(step.get_by_role("heading", name=WELCOME_HEADING)).to_be_visible()
    with reader.expect_download() as caught:
        step.get_by_role("link", name="Continue to the page you were on").click()
    download = caught.value
    assert download.suggested_filename == f"{TITLE} - {HD}.mp4"
    saved = tmp_path / "saved.mp4"
    download.save_as(saved)
    assert download.failure() is None and saved.stat().st_size > 0
    shot(reader, "05-downloaded")
    assert reader.log.problems(ignore=EXPECTED) == []


def test_captions_are_added_refused_and_removed_without_javascript(live_portal, new_page, tmp_path, shot):
    app = live_portal.app
    load(app, tmp_path, copy.deepcopy(STORIES[:1]))
    with app.app_context():
        story = db.session.query(Story).one()
        story_id, slug = story.id, story.slug
        db.session.remove()
    staff_client(app, "desk@example.org")
    desk = new_page(java_script_enabled=False, base_url=live_portal.url)
    log_in(desk, app, "desk@example.org")
    desk.goto(f"/staff/uploads/story/{story_id}")
    broken, good = tmp_path / "broken.srt", tmp_path / "good.srt"
    broken.write_text("1\n00:00:02,000 --> 00:00:01,000\nBackwards\n", "utf-8")
    good.write_text(CAPTIONS["fr"], "utf-8")

    desk.get_by_label("Language of the captions").select_option("fr")
    desk.get_by_label("Captions file (WebVTT or SRT, UTF-8)").set_input_files(str(broken))
    desk.get_by_role("button", name="Upload captions").click()
    expect(desk.get_by_role("alert")).to_have_text("Line 2: the caption ends before it starts.")
    expect(desk.get_by_label("Captions file (WebVTT or SRT, UTF-8)")).to_have_attribute("aria-invalid", "true")
    expect(desk.get_by_label("Language of the captions")).to_have_value("fr")
    shot(desk, "refused")

    desk.get_by_label("Captions file (WebVTT or SRT, UTF-8)").set_input_files(str(good))
    desk.get_by_role("button", name="Upload captions").click()
    expect(desk.locator(".caption-files li")).to_have_count(1)
    expect(desk.locator(".caption-files li")).to_contain_text("Français")
    reader = new_page(java_script_enabled=False, base_url=live_portal.url)
    reader.goto(f"/stories/{slug}?lang=fr")
    expect(reader.locator("video.player track")).to_have_attribute("srclang", "fr")

    desk.locator(".caption-files li").get_by_role("button", name="Remove").click()
    expect(desk.locator(".caption-files li")).to_have_count(0)
    expect(desk.get_by_text("No captions yet.")).to_be_visible()
    reader.reload()
    expect(reader.locator("video.player track")).to_have_count(0)
    assert desk.log.problems(ignore=EXPECTED) == []
