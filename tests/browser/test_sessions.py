"""Ending a login in a real Chromium, with JavaScript on and off: Back after log out does not show
the name, and "log out everywhere" (here in French) ends the account's other browsers too."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Error as PlaywrightError
from playwright.sync_api import expect

from ..helpers.browser import CHROMIUM, CHROMIUM_ARGS, TIMEOUT_MS, settled
from ..helpers.dialog import FULL_NAME, account_nav, expect_logged_in_at, expect_logged_out_at, fill_login
from ..helpers.french import assert_french, visible
from ..helpers.portal import GOOD_PASSWORD, register_and_verify


def log_in_on_the_page(page, email: str, next_path: str = "/") -> None:
    """The log-in step as a whole page (the same with JavaScript on and off)."""
    page.goto(f"/account/login?next={next_path}")
    step = page.locator("#account-step")
    fill_login(step, email)
    step.get_by_role("button", name="Log in").click()
    expect_logged_in_at(page, next_path)


@pytest.fixture(scope="module")
def browser_with_back_cache(playwright_driver):
    """Chromium as people run it: Playwright switches the back/forward cache off by default, and
    that cache is what showed the name on Back (a page kept whole in memory, unless no-store)."""
    browser = playwright_driver.chromium.launch(
        executable_path=CHROMIUM,
        args=CHROMIUM_ARGS,
        headless=True,
        ignore_default_args=["--disable-back-forward-cache"],
    )
    yield browser
    browser.close()


def go_back(page) -> None:
    """Back, as the browser's button. On a loaded machine Chromium may swap the page into another
    process while Playwright asks for its history ("Not attached to an active page"); the step
    back has happened or not, and the checks that follow say which."""
    try:
        page.go_back(wait_until="commit")
    except PlaywrightError as exc:
        if "Not attached to an active page" not in str(exc):
            raise
        page.wait_for_timeout(500)


def go_back_to(page, path: str, most: int = 4) -> None:
    """Back until the page at ``path`` shows, as a person presses Back until the page they want.
    The history holds two entries at "/" (before and after logging out), so the number of steps
    is not something a URL can confirm one by one, and a step lost to a process swap (above) is
    simply taken again; it never goes past ``path``, since it stops as soon as it is there."""
    pattern = re.compile(rf"^https?://[^/]+{re.escape(path)}$")
    for _ in range(most):
        go_back(page)
        try:
            expect(page).to_have_url(pattern, timeout=2_000)
            return
        except AssertionError:
            continue


@pytest.mark.parametrize("javascript", [True, False], ids=["js", "nojs"])
def test_back_after_log_out_does_not_show_the_name(live_portal, browser_with_back_cache, shot, javascript):
    email = f"back.{'js' if javascript else 'nojs'}@example.org"
    register_and_verify(live_portal.app.test_client(), live_portal.app, email)
    context = browser_with_back_cache.new_context(java_script_enabled=javascript, base_url=live_portal.url)
    context.set_default_timeout(TIMEOUT_MS)
    try:
        page = context.new_page()
        log_in_on_the_page(page, email, "/conditions")
        page.goto("/")
        expect_logged_in_at(page, "/")
        account_nav(page).get_by_role("button", name="Log out").click()
        expect_logged_out_at(page, "/")
        go_back_to(page, "/conditions")  # a page restored from that cache fires no "load"
        shot(page, "back-after-log-out")
        expect_logged_out_at(page, "/conditions")
        expect(page.get_by_text(FULL_NAME)).to_have_count(0)
    finally:
        context.close()


@pytest.mark.parametrize("javascript", [True, False], ids=["js", "nojs"])
def test_log_out_everywhere_in_french(live_portal, new_page, shot, javascript):
    email = f"everywhere.{'js' if javascript else 'nojs'}@example.org"
    register_and_verify(live_portal.app.test_client(), live_portal.app, email)
    phone = new_page(java_script_enabled=javascript, base_url=live_portal.url)
    log_in_on_the_page(phone, email)
    phone.context.clear_cookies(name="session")  # the phone's browser restarted: only its remember-me cookie
    phone.reload()
    expect_logged_in_at(phone, "/")
    page = new_page(java_script_enabled=javascript, base_url=live_portal.url)
    page.goto("/account?lang=fr")  # the account page asks to log in first
    step = page.locator("#account-step")
    settled(step)
    step.get_by_label("Adresse e-mail").fill(email)
    step.get_by_label("Mot de passe", exact=True).fill(GOOD_PASSWORD)
    step.get_by_role("button", name="Se connecter", exact=True).click()
    expect(page.get_by_role("heading", name="Votre compte", level=1)).to_be_visible()
    section = page.locator("#account-sessions")
    expect(section.get_by_role("heading", name="Se déconnecter partout")).to_be_visible()
    assert_french(visible(page.content()), "account page")
    shot(page, "account-page-fr")

    section.get_by_role("button", name="Se déconnecter partout").click()
    expect(
        page.get_by_role("status").filter(has_text="Votre compte est déconnecté sur tous les appareils.")
    ).to_be_visible()
    nav = page.get_by_role("navigation", name="Compte")
    expect(nav.get_by_role("link", name="Se connecter")).to_be_visible()
    shot(page, "logged-out-everywhere-fr")
    phone.reload()
    expect_logged_out_at(phone, "/")
