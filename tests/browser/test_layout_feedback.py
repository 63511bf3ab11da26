"""The phone layout and the dialog's head, measured by the boxes' positions, and feedback on
every HTMX request (a busy region, a bar, a said failure with a way to try again)."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from ..helpers.browser import LAPTOP, PHONE, settled
from ..helpers.catalogue_data import SLUG, load_stories
from ..helpers.dialog import fill_registration, open_dialog_step


def box(page, selector):
    found = page.locator(selector).first.bounding_box()
    assert found, f"{selector} is not shown"
    return found


@pytest.mark.parametrize("lang", ["en", "fr"])
def test_phone_header_is_one_row_and_the_first_story_is_on_the_first_screen(new_page, live_portal, tmp_path, lang):
    load_stories(live_portal, tmp_path)
    page = new_page(viewport=PHONE)
    page.goto(f"{live_portal.url}/?lang={lang}")
    header = box(page, ".site-header")
    for item in (".brand", ".lang-switch", ".account-nav .button-primary"):
        part = box(page, f".site-header {item}")
        assert part["y"] >= header["y"] and part["y"] + part["height"] <= header["y"] + header["height"]
        assert part["x"] + part["width"] <= PHONE["width"], f"{item} runs off the screen"
    assert header["height"] < 64, "the header wraps to a second row"
    expect(page.locator(".search-filters")).not_to_have_attribute("open", "")
    expect(page.locator("#from")).to_be_hidden()
    first = box(page, "#results .card .card-title")
    assert first["y"] + first["height"] <= PHONE["height"], "the first story is below the first screen"
    page.locator(".search-filters > summary").click()
    expect(page.locator("#from")).to_be_visible()


def test_wide_screen_shows_the_filters_beside_the_search_box(new_page, live_portal, tmp_path):
    load_stories(live_portal, tmp_path)
    page = new_page(viewport=LAPTOP)
    page.goto(f"{live_portal.url}/")
    expect(page.locator("#from")).to_be_visible()
    expect(page.locator(".search-filters > summary")).to_be_hidden()
    assert abs(box(page, "#from")["y"] - box(page, "#q")["y"]) < 2


def test_phone_story_page_has_the_download_panel_right_after_the_player(new_page, live_portal, tmp_path):
    load_stories(live_portal, tmp_path)
    page = new_page(viewport=PHONE)
    page.goto(f"{live_portal.url}/stories/{SLUG}")
    player, panel, text = box(page, "video.player"), box(page, "aside.downloads"), box(page, ".story-text")
    assert player["y"] + player["height"] <= panel["y"] < text["y"]
    assert panel["y"] < PHONE["height"] * 1.5


def test_wide_story_page_has_the_download_panel_beside_the_player(new_page, live_portal, tmp_path):
    load_stories(live_portal, tmp_path)
    page = new_page(viewport=LAPTOP)
    page.goto(f"{live_portal.url}/stories/{SLUG}")
    player, panel, text = box(page, "video.player"), box(page, "aside.downloads"), box(page, ".story-text")
    assert panel["x"] > player["x"] + player["width"] and abs(panel["y"] - player["y"]) < 2
    assert text["y"] > player["y"] + player["height"] and text["x"] == player["x"]


@pytest.mark.parametrize("viewport", [PHONE, LAPTOP], ids=["phone", "laptop"])
def test_a_tall_step_scrolls_under_the_dialog_head(new_page, live_portal, viewport):
    page = new_page(viewport=viewport)
    open_dialog_step(page, live_portal.url, "Register")
    dialog = page.locator("#account-dialog")
    dialog.locator("#account-step button[type=submit]").click()
    expect(dialog.locator("#account-step .has-error").first).to_be_visible()
    settled(dialog)
    dialog.locator("#account-step .step-switch").scroll_into_view_if_needed()
    head, close = box(page, ".dialog-head"), box(page, ".dialog-close")
    last = box(page, "#account-step .step-switch")
    assert head["y"] >= 0 and close["y"] >= 0, "the dialog's head scrolled away"
    assert last["y"] >= head["y"] + head["height"] and last["y"] + last["height"] <= viewport["height"]
    expect(dialog.get_by_role("button", name="Close")).to_be_in_viewport()


def test_a_request_marks_its_region_busy_and_shows_the_bar(new_page, live_portal, tmp_path):
    load_stories(live_portal, tmp_path)
    page = new_page()
    page.goto(f"{live_portal.url}/")
    held = []
    page.route("**/?q=*", lambda route: held.append(route))
    page.locator("#q").fill("antalya")
    page.wait_for_function("() => document.querySelector('#results[aria-busy=true]')")
    expect(page.locator("html")).to_have_class("is-loading")
    assert float(page.locator("#results").evaluate("e => getComputedStyle(e).opacity")) < 1
    expect(page.locator(".progress").first).to_be_visible()
    held[0].continue_()
    expect(page.locator("#results .card")).to_have_count(1)
    expect(page.locator("#results")).not_to_have_attribute("aria-busy", "true")
    expect(page.locator("html")).not_to_have_class("is-loading")
    expect(page.locator("#result-count")).to_have_text("1 story")


def test_an_offline_step_says_so_keeps_what_was_typed_and_tries_again(new_page, live_portal):
    page = new_page()
    step = open_dialog_step(page, live_portal.url, "Log in")
    step.get_by_label("Email address").fill("ann@example.org")
    step.get_by_label("Password").fill("not the password")
    page.context.set_offline(True)
    step.get_by_role("button", name="Log in").click()
    alert = step.locator("#step-alert")
    expect(alert).to_contain_text("could not be sent")
    expect(step.get_by_label("Email address")).to_have_value("ann@example.org")
    expect(step.get_by_label("Password")).to_have_value("not the password")
    expect(page.locator("html")).not_to_have_class("is-loading")
    page.context.set_offline(False)
    alert.get_by_role("button", name="Try again").click()
    expect(step.locator("#step-alert")).to_contain_text("incorrect")
    expect(step.locator("[data-request-failed]")).to_have_count(0)


def test_an_offline_search_says_so_above_the_results(new_page, live_portal, tmp_path):
    load_stories(live_portal, tmp_path)
    page = new_page()
    page.goto(f"{live_portal.url}/")
    page.context.set_offline(True)
    page.locator("#q").fill("antalya")
    alert = page.locator("#request-alert")
    expect(alert).to_be_visible()
    expect(alert).to_contain_text("could not be sent")
    assert box(page, "#request-alert")["y"] < box(page, "#results")["y"]
    page.context.set_offline(False)
    alert.get_by_role("button", name="Try again").click()
    expect(page.locator("#results .card")).to_have_count(1)
    expect(alert).to_be_hidden()


@pytest.mark.parametrize("app_config", [{"CODE_RESEND_INTERVAL_SECONDS": 4}])
def test_the_resend_wait_counts_down(new_page, live_portal):
    page = new_page()
    step = open_dialog_step(page, live_portal.url, "Register")
    fill_registration(step, "ann@example.org")
    step.get_by_role("button", name="Create an account").click()
    wait = step.locator(".resend-wait")
    expect(wait).to_contain_text("You can ask for a new code in")
    first = wait.inner_text()
    expect(wait).not_to_have_text(first)  # counting
    expect(wait).to_have_text("You can ask for a new code now.", timeout=8000)
