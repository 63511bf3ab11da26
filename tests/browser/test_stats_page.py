"""The statistics page in a real Chromium, with JavaScript on and off: the chart (SVG, styled by
the stylesheet only) and its table, the period links and form, a CSV link; no CSP violation."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from playwright.sync_api import expect

from app.extensions import db
from app.flows import downloads
from app.models import Rendition, User, utcnow

from ..helpers.catalogue_data import load, story_entry
from ..helpers.portal import GOOD_PASSWORD
from ..helpers.second_factor_helpers import give_second_factor
from ..helpers.staff_data import staff_client


@pytest.mark.parametrize("javascript", [True, False])
def test_the_statistics_page_with_and_without_javascript(live_portal, new_page, shot, tmp_path, javascript):
    app = live_portal.app
    load(app, tmp_path, [story_entry("summit", "Summit in the Hague")])
    email = "stats.officer@example.org"
    staff_client(app, email)
    with app.app_context():
        user = db.session.query(User).filter_by(email=email).one()
        rendition = db.session.query(Rendition).filter_by(is_preview=False).first()
        for days_ago in (3, 0, 0):  # one download three days ago, two requests of one download today
            downloads.record(
                user,
                rendition,
                bytes_sent=1000,
                range_header=None,
                window=timedelta(hours=6),
                now=utcnow() - timedelta(days=days_ago, minutes=1),
            )
        db.session.remove()
    page = new_page(java_script_enabled=javascript, base_url=live_portal.url)
    page.goto("/account/login?next=/staff/stats")
    page.get_by_label("Email address").fill(email)
    page.get_by_label("Password", exact=True).fill(GOOD_PASSWORD)
    page.locator("#account-step form button[type=submit]").first.click()
    give_second_factor(page, app, email)
    expect(page).to_have_url(re.compile(r"/staff/stats$"))
    expect(page.get_by_role("heading", name="Statistics")).to_be_visible()
    chart = page.locator("svg.chart-svg").first
    expect(chart).to_be_visible()
    expect(chart.locator("rect.chart-bar")).to_have_count(2)
    assert chart.locator("rect.chart-bar").first.evaluate("r => getComputedStyle(r).fill") != "rgb(0, 0, 0)"
    expect(page.locator("#figures-days")).to_contain_text((utcnow().date() - timedelta(days=3)).isoformat())
    expect(page.locator("#figures-stories")).to_contain_text("Summit in the Hague")
    expect(page.locator(".stats-summary")).to_contain_text("2 downloads")
    shot(page, f"stats-{'js' if javascript else 'nojs'}")

    page.get_by_role("link", name="90 days").click()
    expect(page).to_have_url(re.compile(r"days=90"))
    expect(page.locator(".stats-presets a[aria-current]")).to_have_text("90 days")
    page.get_by_label("From", exact=True).fill((utcnow().date() - timedelta(days=1)).isoformat())
    page.get_by_label("To", exact=True).fill(utcnow().date().isoformat())
    page.get_by_role("button", name="Show").click()
    expect(page.locator(".stats-summary")).to_contain_text("1 download, ")
    href = page.locator("#figures-organisations a.figures-csv").get_attribute("href")
    assert href.startswith("/staff/stats/organisations.csv?from=")
    assert page.log.problems() == []
