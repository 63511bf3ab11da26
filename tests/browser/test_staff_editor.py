"""A staff member writes a story in English and French and publishes it, in a real Chromium, with
JavaScript on and off, at a desk's and a phone's size; the public page then shows it in both
languages. No CSP violation and no script error on the way."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from ..helpers.portal import GOOD_PASSWORD
from ..helpers.second_factor_helpers import give_second_factor
from ..helpers.staff_data import staff_client

EXPECTED_404 = r"Failed to load resource: .*status of 404"  # the visitor's look at the draft's address


@pytest.mark.parametrize(
    "javascript, viewport", [(True, {"width": 1280, "height": 800}), (False, {"width": 390, "height": 844})]
)
def test_a_staff_member_writes_and_publishes_a_story_in_english_and_french(
    live_portal, new_page, shot, javascript, viewport
):
    email = "desk.officer@example.org"
    staff_client(live_portal.app, email)
    page = new_page(java_script_enabled=javascript, base_url=live_portal.url, viewport=viewport)
    page.goto("/account/login?next=/staff/")
    page.get_by_label("Email address").fill(email)
    page.get_by_label("Password", exact=True).fill(GOOD_PASSWORD)
    page.locator("#account-step form button[type=submit]").first.click()
    give_second_factor(page, live_portal.app, email)
    expect(page).to_have_url(re.compile(r"/staff/$"))
    expect(page.get_by_role("heading", name="Stories")).to_be_visible()

    page.get_by_role("link", name="New story").first.click()
    page.get_by_label("Title", exact=True).fill("Allied divers clear mines off Latvia")
    page.get_by_label("Title (French)").fill("Des plongeurs alliés déminent au large de la Lettonie")
    page.get_by_label("Place", exact=True).fill("Liepāja, Latvia")
    page.get_by_label("Summary", exact=True).fill("Divers from nine Allies clear old sea mines.")
    page.get_by_label("Summary (French)").fill("Des plongeurs de neuf Alliés neutralisent de vieilles mines.")
    page.get_by_label("Time of shot 1").fill("0:00")  # a mistake, said beside the row
    page.get_by_label("Shot 1", exact=True).fill("Divers enter the water")
    page.get_by_label("Shot 1 in French").fill("Les plongeurs entrent dans l’eau")
    page.get_by_role("button", name="Save draft").first.click()
    expect(page.get_by_text("Row 1: needs")).to_be_visible()
    expect(page.get_by_label("Title (French)")).to_have_value("Des plongeurs alliés déminent au large de la Lettonie")
    page.get_by_label("Time of shot 1").fill("00:00:03")
    page.get_by_role("button", name="Save draft").first.click()
    expect(page.get_by_text("The draft is saved.")).to_be_visible()
    expect(page).to_have_url(re.compile(r"/staff/stories/\d+$"))
    shot(page, f"draft-{viewport['width']}")

    visitor = new_page(java_script_enabled=javascript, base_url=live_portal.url)
    slug = "allied-divers-clear-mines-off-latvia"
    assert visitor.goto(f"/stories/{slug}").status == 404

    page.get_by_role("link", name="Preview as a visitor").click()
    expect(page.get_by_role("heading", name="Allied divers clear mines off Latvia")).to_be_visible()
    page.get_by_role("link", name="Back to the editor").click()
    page.get_by_role("button", name="Publish now").click()
    expect(page.get_by_text("The story is published.")).to_be_visible()

    visitor.goto(f"/stories/{slug}")
    expect(visitor.get_by_role("heading", name="Allied divers clear mines off Latvia")).to_be_visible()
    expect(visitor.get_by_text("Divers enter the water")).to_be_visible()
    visitor.goto(f"/stories/{slug}?lang=fr")
    expect(visitor.get_by_role("heading", name="Des plongeurs alliés déminent au large de la Lettonie")).to_be_visible()
    expect(visitor.get_by_text("Les plongeurs entrent dans l’eau")).to_be_visible()
    visitor.goto("/?q=plongeurs")
    expect(visitor.locator(f"a[href='/stories/{slug}']")).to_be_visible()

    page.goto("/staff/?lang=fr")  # the staff area in French
    expect(page.get_by_role("heading", name="Reportages")).to_be_visible()
    expect(page.locator(".badge-published").first).to_have_text("Publié")
    shot(page, f"list-fr-{viewport['width']}")
    assert page.log.problems(ignore=(r"status of 422", EXPECTED_404)) == []
    assert visitor.log.problems(ignore=(EXPECTED_404,)) == []
