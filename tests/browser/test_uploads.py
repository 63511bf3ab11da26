"""The master upload panel in Chromium (issue #15): tus-js-client, the second independent tus
client, uploads through nginx set up as the README says (proxy_request_buffering off, a body
size above the chunk size), with the progress line, pause and resume, and a page closed in the
middle (a closed laptop) resumed from where it stopped; no CSP violation on the way."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from app.extensions import db
from app.models import TranscodeJob, Upload
from harness.servers import Nginx

from ..helpers.uploads_helpers import UPLOAD_CONFIG, LiveServer, make_video, staff_browser, story_id

CHUNK = 16 * 1024
# README "Uploads behind nginx": what the location of the upload endpoints needs.
UPLOAD_LOCATION = """
        location /staff/uploads/ {{
            client_max_body_size 20m;
            proxy_request_buffering off;
            proxy_http_version 1.1;
            proxy_read_timeout 300s;
            proxy_pass {upstream};
            proxy_set_header Host $http_host;
            proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
            proxy_set_header X-Forwarded-Proto $scheme;
        }}
        location / {{
            proxy_pass {upstream};
            proxy_set_header Host $http_host;
            proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
            proxy_set_header X-Forwarded-Proto $scheme;
        }}"""


@pytest.fixture
def app_config():
    return {**UPLOAD_CONFIG, "UPLOAD_CHUNK_BYTES": CHUNK, "TRUSTED_PROXIES": 1}


@pytest.fixture
def portal(app, tmp_path):
    server = LiveServer(app)
    try:
        with Nginx(tmp_path / "nginx", UPLOAD_LOCATION.format(upstream=server.url)) as nginx:
            yield nginx.url
    finally:
        server.stop()


@pytest.fixture
def staff_page(app, portal, new_page):
    """A staff member's browser (logged in by the test client, its cookie given to Chromium)."""
    client, _ = staff_browser(app)

    def make():
        page = new_page(base_url=portal)
        page.context.add_cookies([{"name": "session", "value": client.get_cookie("session").value, "url": portal}])
        return page

    return make


def uploads(app) -> list[Upload]:
    with app.app_context():
        found = db.session.query(Upload).all()
        db.session.expunge_all()
        db.session.remove()
        return found


class HeldPatches:
    """Holds the upload's PATCH requests after the first ``let_through`` (the request waits, as on
    a stalled connection) until released."""

    def __init__(self, page, let_through: int):
        self.page, self.let_through, self.held, self.offsets = page, let_through, [], []
        page.route("**/staff/uploads/*", self.handle)

    def handle(self, route):
        request = route.request
        if request.method == "PATCH":
            self.offsets.append(int(request.headers["upload-offset"]))
            if len(self.offsets) > self.let_through:
                self.held.append(route)
                return
        route.continue_()

    def wait_for_a_held_one(self):
        for _ in range(100):
            if self.held:
                return
            self.page.wait_for_timeout(100)
        raise AssertionError(f"no PATCH held; offsets sent: {self.offsets}")


def start_upload(page, story: int, video) -> None:
    page.goto(f"/staff/uploads/story/{story}")
    page.get_by_label("Broadcast master (MP4, MOV or MXF)").set_input_files(str(video))
    page.get_by_role("button", name="Upload", exact=True).click()


def test_upload_pause_and_resume_through_nginx(app, staff_page, tmp_path, shot):
    story = story_id(app, tmp_path)
    video = make_video(tmp_path / "master.mp4", seconds=3, size="320x180")
    size = video.stat().st_size
    assert size > 4 * CHUNK
    page = staff_page()
    held = HeldPatches(page, let_through=2)
    start_upload(page, story, video)
    held.wait_for_a_held_one()
    status = page.locator(".upload-status")
    expect(status).to_contain_text("MB/s")
    expect(status).to_contain_text("left")
    page.get_by_role("button", name="Pause").click()
    expect(status).to_contain_text("Paused at")
    shot(page, "paused")
    [paused] = uploads(app)
    assert paused.completed_at is None and paused.received == 2 * CHUNK

    held.let_through = 10**6  # the connection is back
    page.get_by_role("button", name="Resume").click()
    expect(page.locator(".transcode-state")).to_contain_text("Waiting", timeout=20_000)
    [done] = uploads(app)
    assert done.completed_at is not None and done.length == size and done.key == paused.key
    assert held.offsets[:2] == [0, CHUNK] and held.offsets[-1] == size - size % CHUNK - (0 if size % CHUNK else CHUNK)
    assert page.locator("progress").first.get_attribute("value") == "100"
    shot(page, "uploaded")
    assert page.log.problems() == []


def test_a_page_closed_mid_upload_resumes_where_it_stopped(app, staff_page, tmp_path):
    story = story_id(app, tmp_path)
    video = make_video(tmp_path / "master.mp4", seconds=3, size="320x180")
    first = staff_page()
    held = HeldPatches(first, let_through=3)
    start_upload(first, story, video)
    held.wait_for_a_held_one()
    second = first.context.new_page()  # the same browser (its localStorage), after the laptop reopened
    from ..helpers.browser import PageLog

    second.log = PageLog(second)
    first.close()
    sent = []
    second.on("request", lambda r: r.method == "PATCH" and sent.append(int(r.headers["upload-offset"])))
    start_upload(second, story, video)
    expect(second.locator(".transcode-state")).to_contain_text("Waiting", timeout=20_000)
    # on from what the server has (3 chunks, or 4 if the held one got through as the page closed), not from 0
    assert sent[0] in (3 * CHUNK, 4 * CHUNK), sent
    [done] = uploads(app)  # the same upload, not a second one
    assert done.completed_at is not None
    with app.app_context():
        assert db.session.query(TranscodeJob).count() == 4
        db.session.remove()
    assert second.log.problems() == []
