"""The catalogue and the story page in a real Chromium: a gated download that survives registering
(dialog with JavaScript, full pages without), search as one types, and "Load more"."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from app.extensions import db
from app.models import Rendition, Story, Video

from ..helpers.catalogue_data import SLUG, STORIES, load_stories, story_entry
from ..helpers.dialog import WELCOME_HEADING, expect_dialog_open, fill_registration, mailed_code, path_of

STORY = STORIES[0]
TITLE = STORY["title"]
HD = "HD 1080p25"
HD_BYTES = 300_000  # story_entry's default size of the HD rendition
CODE_HEADING = "Check your inbox and enter verification code"
DOWNLOAD_NOTICE = "Log in, or create a free account, to download this file."
WELCOME_NOTICE = "Your file will start downloading as soon as you continue."
ANTALYA, BALTIC, TALLINN = (s["title"] for s in STORIES)
ONLY_422 = (r"Failed to load resource: .*status of 422",)


def rendition_id(app, slug: str, label: str) -> int:
    with app.app_context():
        rendition_id = (
            db.session.query(Rendition.id)
            .join(Video)
            .join(Story)
            .filter(Story.slug == slug, Rendition.label == label)
            .scalar()
        )
        db.session.remove()
    assert rendition_id is not None, f"no rendition {label!r} for {slug!r}"
    return rendition_id


def hd_download(page):
    return page.locator(".renditions li").filter(has_text=HD).get_by_role("link", name="Download")


def card_titles(page):
    return page.locator("#results li.card .card-title")


def expect_download_page(page, rid: int) -> None:
    """The story page again, saying the file is on its way (with a link if it does not start)."""
    # The offer left the URL on the way (a 303 to the plain story URL): reloading must not download again.
    expect(page).to_have_url(re.compile(rf"^https?://[^/]+/stories/{SLUG}$"))
    expect(page.get_by_role("heading", name=TITLE, level=1)).to_be_visible()
    notice = page.locator("p.notice[role=status]")
    expect(notice).to_contain_text(f"Your download of “{HD}” starts now.")
    expect(notice.get_by_role("link", name="download it here")).to_have_attribute("href", f"/download/{rid}")
    expect(page.locator('meta[http-equiv="refresh"]')).to_have_attribute("content", f"1;url=/download/{rid}")


def check_file(download, tmp_path, rid: int) -> None:
    assert download.suggested_filename == f"{TITLE} - {HD}.mp4"
    assert download.url.endswith(f"/download/{rid}")
    saved = tmp_path / "saved" / download.suggested_filename
    download.save_as(saved)
    assert saved.stat().st_size == HD_BYTES
    assert download.failure() is None


# --- the download that survives registering ------------------------------------------------------


def test_download_after_registering_in_the_dialog(live_portal, new_page, shot, tmp_path):
    load_stories(live_portal, tmp_path)
    rid = rendition_id(live_portal.app, SLUG, HD)
    email = "download.js@example.org"
    page = new_page(java_script_enabled=True, base_url=live_portal.url)
    page.goto(f"/stories/{SLUG}")
    expect(page.get_by_role("heading", name=TITLE, level=1)).to_be_visible()
    expect(page.locator("video.player")).to_be_visible()
    expect(page.locator(".shotlist li")).to_have_count(2)
    page.evaluate("window.__marker = 1")
    shot(page, "01-story")

    hd_download(page).click()
    dialog = expect_dialog_open(page)
    step = dialog.locator("#account-step")
    expect(step.get_by_role("heading", name="Log in")).to_be_visible()
    expect(step).to_contain_text(DOWNLOAD_NOTICE)
    shot(page, "02-login-step-with-notice")

    step.get_by_role("link", name="Create an account").click()
    expect(step.get_by_role("heading", name="Create an account")).to_be_visible()
    expect(dialog.locator("input[name=next]")).to_have_value(f"/stories/{SLUG}?download={rid}")
    fill_registration(dialog, email)
    shot(page, "03-register-step")
    dialog.get_by_role("button", name="Create an account").click()

    expect(step.get_by_role("heading", name=CODE_HEADING)).to_be_visible()
    dialog.get_by_label("Verification code", exact=True).fill(mailed_code(live_portal, email))
    dialog.get_by_role("button", name="Verify").click()

    expect(step.get_by_role("heading", name=WELCOME_HEADING)).to_be_visible()
    expect(step).to_contain_text(WELCOME_NOTICE)
    expect_dialog_open(page)
    assert page.evaluate("window.__marker") == 1, "a full page load happened between the dialog steps"
    assert path_of(page) == f"/stories/{SLUG}"
    shot(page, "04-welcome-with-notice")

    proceed = step.get_by_role("link", name="Continue to the page you were on")
    expect(proceed).to_have_attribute("href", f"/stories/{SLUG}?download={rid}")
    with page.expect_download() as caught:  # the meta refresh after 1 s fetches the attachment
        proceed.click()
    check_file(caught.value, tmp_path, rid)

    expect_download_page(page, rid)
    expect(page.locator("#account-dialog")).not_to_be_visible()
    expect(hd_download(page)).to_have_attribute("href", f"/download/{rid}")  # logged in: a plain link now
    shot(page, "05-story-downloading")

    downloads = []
    page.on("download", lambda download: downloads.append(download))
    page.reload()
    expect(page.get_by_role("heading", name=TITLE, level=1)).to_be_visible()
    expect(page.locator('meta[http-equiv="refresh"]')).to_have_count(0)
    expect(page.locator("p.notice[role=status]")).to_have_count(0)
    assert downloads == [], "reloading the story fetched the file again"

    assert page.log.problems(ignore=ONLY_422) == [], "console errors / CSP violations / page errors"


def test_download_after_registering_without_javascript(live_portal, new_page, shot, tmp_path):
    load_stories(live_portal, tmp_path)
    rid = rendition_id(live_portal.app, SLUG, HD)
    email = "download.nojs@example.org"
    page = new_page(java_script_enabled=False, base_url=live_portal.url)
    page.goto(f"/stories/{SLUG}")
    expect(page.get_by_role("heading", name=TITLE, level=1)).to_be_visible()
    shot(page, "01-story")

    link = hd_download(page)
    expect(link).to_have_attribute("href", f"/account/login?next=/stories/{SLUG}?download%3D{rid}&intent=download")
    link.click()
    expect(page).to_have_url(re.compile(r"/account/login\?"))
    step = page.locator("#account-step")
    expect(step.get_by_role("heading", name="Log in")).to_be_visible()
    expect(step).to_contain_text(DOWNLOAD_NOTICE)
    expect(page.locator("#account-dialog")).not_to_be_visible()
    shot(page, "02-login-page-with-notice")

    step.get_by_role("link", name="Create an account").click()
    expect(page).to_have_url(re.compile(r"/account/register\?next="))
    step = page.locator("#account-step")
    expect(step.get_by_role("heading", name="Create an account")).to_be_visible()
    expect(step.locator("input[name=next]")).to_have_value(f"/stories/{SLUG}?download={rid}")
    fill_registration(step, email)
    shot(page, "03-register-page")
    step.get_by_role("button", name="Create an account").click()

    expect(page).to_have_url(re.compile(r"/account/verify$"))
    step.get_by_label("Verification code", exact=True).fill(mailed_code(live_portal, email))
    step.get_by_role("button", name="Verify").click()

    expect(page).to_have_url(re.compile(r"/account/welcome$"))
    expect(step.get_by_role("heading", name=WELCOME_HEADING)).to_be_visible()
    expect(step).to_contain_text(WELCOME_NOTICE)
    shot(page, "04-welcome-page")

    proceed = step.get_by_role("link", name="Continue to the page you were on")
    expect(proceed).to_have_attribute("href", f"/stories/{SLUG}?download={rid}")
    # <meta http-equiv="refresh"> is not script: Chromium follows it with JavaScript disabled too.
    with page.expect_download() as caught:
        proceed.click()
    check_file(caught.value, tmp_path, rid)

    expect_download_page(page, rid)
    shot(page, "05-story-downloading")

    # The fallback link in the notice gives the same file.
    with page.expect_download() as again:
        page.locator("p.notice[role=status]").get_by_role("link", name="download it here").click()
    check_file(again.value, tmp_path / "again", rid)


# --- search as one types ---------------------------------------------------------------------------


def test_search_as_you_type_is_bookmarkable(live_portal, new_page, shot, tmp_path):
    load_stories(live_portal, tmp_path)
    page = new_page(java_script_enabled=True, base_url=live_portal.url)
    page.goto("/")
    expect(card_titles(page)).to_have_text([ANTALYA, BALTIC, TALLINN])
    page.evaluate("window.__marker = 1")
    shot(page, "01-all-stories")

    box = page.get_by_label("Search stories")
    box.press_sequentially("antal", delay=120)
    expect(card_titles(page)).to_have_text([ANTALYA])
    expect(page).to_have_url(re.compile(r"[?&]q=antal(&|$)"))
    expect(page.locator("#results")).to_contain_text("Stories matching “antal”")
    assert page.evaluate("window.__marker") == 1, "typing in the search box reloaded the page"
    assert page.locator("#results").count() == 1 and page.locator("form.search-form").count() == 1
    shot(page, "02-typed-antal")

    page.reload()  # the address bar's URL renders the same results on a fresh load
    expect(card_titles(page)).to_have_text([ANTALYA])
    expect(page.get_by_label("Search stories")).to_have_value("antal")
    assert page.evaluate("window.__marker") is None
    shot(page, "03-reloaded")

    page.evaluate("window.__marker = 2")
    page.get_by_label("Search stories").fill("")
    expect(card_titles(page)).to_have_text([ANTALYA, BALTIC, TALLINN])
    expect(page).not_to_have_url(re.compile(r"q=antal"))

    page.get_by_label("Category").select_option(label="Exercises")
    expect(card_titles(page)).to_have_text([BALTIC, TALLINN])
    expect(page).to_have_url(re.compile(r"[?&]category=exercises(&|$)"))
    assert page.evaluate("window.__marker") == 2
    shot(page, "04-category-exercises")

    page.get_by_label("Search stories").press_sequentially("tallinn", delay=60)
    expect(card_titles(page)).to_have_text([TALLINN])
    page.get_by_label("Search stories").fill("frigate tallinn")
    expect(page.locator("#results")).to_contain_text("No stories match your search.")
    expect(card_titles(page)).to_have_count(0)
    assert page.evaluate("window.__marker") == 2
    shot(page, "05-no-match")

    assert page.log.problems() == [], "console errors / CSP violations / page errors"


# --- Load more -------------------------------------------------------------------------------------

FIVE = [story_entry(f"s{i}", f"Story {i}", f"2025-01-{i + 1:02d}") for i in range(5)]


@pytest.mark.parametrize("app_config", [{"CATALOGUE_PAGE_SIZE": 2}])
def test_load_more(live_portal, new_page, shot, tmp_path):
    load_stories(live_portal, tmp_path, FIVE)
    page = new_page(java_script_enabled=True, base_url=live_portal.url)
    page.goto("/")
    expect(card_titles(page)).to_have_text(["Story 4", "Story 3"])
    page.evaluate("window.__marker = 1")
    loads_before = list(page.log.navigations)
    more = page.get_by_role("link", name="Load more stories")
    expect(more).to_have_attribute("href", "/?page=2")
    shot(page, "01-first-two")

    more.click()
    expect(card_titles(page)).to_have_text(["Story 4", "Story 3", "Story 2", "Story 1"])
    shot(page, "02-four")
    page.get_by_role("link", name="Load more stories").click()
    expect(card_titles(page)).to_have_text(["Story 4", "Story 3", "Story 2", "Story 1", "Story 0"])
    expect(page.get_by_role("link", name="Load more stories")).to_have_count(0)
    expect(page.locator("#results ul.cards")).to_have_count(1)  # appended to the same list
    assert page.evaluate("window.__marker") == 1, "Load more reloaded the page"
    assert page.log.navigations == loads_before, f"main frame navigated: {page.log.navigations}"
    assert path_of(page) == "/"  # "Load more" does not push a URL
    shot(page, "03-all-five")
    assert page.log.problems() == [], "console errors / CSP violations / page errors"

    # Without JavaScript, "Load more" is a link to the next page of results.
    plain = new_page(java_script_enabled=False, base_url=live_portal.url)
    plain.goto("/")
    expect(card_titles(plain)).to_have_text(["Story 4", "Story 3"])
    more = plain.get_by_role("link", name="Load more stories")
    expect(more).to_have_attribute("href", "/?page=2")
    more.click()
    expect(plain).to_have_url(re.compile(r"/\?page=2$"))
    expect(card_titles(plain)).to_have_text(["Story 2", "Story 1"])
    expect(plain.get_by_role("link", name="Load more stories")).to_have_attribute("href", "/?page=3")
    shot(plain, "04-nojs-page-2")
