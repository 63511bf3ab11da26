"""The account dialog in a real Chromium: register, verify with the code from the real mail,
welcome, newsletter, back to the page, log out, log in — with JavaScript (HTMX, in the dialog)
and without (full pages)."""

from __future__ import annotations

import re

from playwright.sync_api import expect

from ..helpers.dialog import (
    CODE_HEADING,
    SUBSCRIBED,
    WELCOME_HEADING,
    account_nav,
    expect_dialog_open,
    expect_logged_in_at,
    expect_logged_out_at,
    fill_login,
    fill_registration,
    mailed_code,
    path_of,
)

# --- JavaScript on: everything happens in the dialog ------------------------------------------


def test_dialog_journey_with_javascript(live_portal, new_page, shot):
    email = "dialog.js@example.org"
    page = new_page(java_script_enabled=True, base_url=live_portal.url)
    page.goto("/conditions")
    expect(page.get_by_role("heading", name="Conditions of use", level=1)).to_be_visible()
    page.evaluate("window.__marker = 1")
    loads_before = list(page.log.navigations)
    shot(page, "01-conditions")

    account_nav(page).get_by_role("link", name="Register").click()
    dialog = expect_dialog_open(page)
    step = dialog.locator("#account-step")
    expect(step.get_by_role("heading", name="Create an account")).to_be_visible()
    shot(page, "02-register-dialog")

    fill_registration(dialog, email)
    shot(page, "03-register-filled")
    dialog.get_by_role("button", name="Create an account").click()

    expect(step.get_by_role("heading", name=CODE_HEADING)).to_be_visible()
    expect(step).to_contain_text(email)
    expect(dialog.get_by_label("Verification code", exact=True)).to_be_focused()
    expect_dialog_open(page)
    shot(page, "04-code-step")

    dialog.get_by_label("Verification code", exact=True).fill(mailed_code(live_portal, email))
    dialog.get_by_role("button", name="Verify").click()

    expect(step.get_by_role("heading", name=WELCOME_HEADING)).to_be_visible()
    expect_dialog_open(page)
    # No full page load since /conditions: the marker survives and the main frame never navigated.
    assert page.evaluate("window.__marker") == 1, "a full page load happened between the dialog steps"
    assert page.log.navigations == loads_before, f"main frame navigated: {page.log.navigations}"
    assert path_of(page) == "/conditions"
    shot(page, "05-welcome")

    dialog.get_by_role("button", name="Subscribe to the newsletter").click()
    expect(dialog.get_by_role("heading", name=SUBSCRIBED)).to_be_visible()
    expect(dialog.get_by_role("button", name="Subscribe to the newsletter")).to_have_count(0)
    expect(step.get_by_role("heading", name=WELCOME_HEADING)).to_be_visible()  # swapped in place
    assert page.evaluate("window.__marker") == 1
    assert page.log.navigations == loads_before
    shot(page, "06-subscribed")

    dialog.get_by_role("link", name="Continue to the page you were on").click()
    expect_logged_in_at(page, "/conditions")
    expect(page.locator("#account-dialog")).not_to_be_visible()
    assert page.evaluate("window.__marker") is None  # this one was a real page load
    shot(page, "07-back-logged-in")

    account_nav(page).get_by_role("button", name="Log out").click()
    expect_logged_out_at(page, "/conditions")
    shot(page, "08-logged-out")

    page.evaluate("window.__marker = 2")
    loads_before = list(page.log.navigations)
    account_nav(page).get_by_role("link", name="Log in").click()
    dialog = expect_dialog_open(page)
    expect(dialog.locator("#account-step").get_by_role("heading", name="Log in")).to_be_visible()
    shot(page, "09-login-dialog")

    fill_login(dialog, email)
    assert page.evaluate("window.__marker") == 2 and page.log.navigations == loads_before
    dialog.get_by_role("button", name="Log in").click()

    expect_logged_in_at(page, "/conditions")  # HX-Redirect: the page reloads at `next`
    expect(page.locator("#account-dialog")).not_to_be_visible()
    shot(page, "10-logged-in-again")

    assert page.log.problems() == [], "console errors / CSP violations / page errors"


def test_wrong_code_shows_error_in_dialog(live_portal, new_page, shot):
    email = "dialog.wrong-code@example.org"
    page = new_page(java_script_enabled=True, base_url=live_portal.url)
    page.goto("/")
    page.evaluate("window.__marker = 1")
    account_nav(page).get_by_role("link", name="Register").click()
    dialog = expect_dialog_open(page)
    fill_registration(dialog, email)
    dialog.get_by_role("button", name="Create an account").click()
    expect(dialog.get_by_role("heading", name=CODE_HEADING)).to_be_visible()

    right = mailed_code(live_portal, email)
    wrong = f"{(int(right) + 1) % 1_000_000:06d}"
    field = dialog.get_by_label("Verification code", exact=True)
    field.fill(wrong)
    dialog.get_by_role("button", name="Verify").click()

    error = dialog.locator("#code-error")
    expect(error).to_be_visible()
    expect(error).to_contain_text("That code is not correct")
    # next to the field: in the same .field wrapper, tied to the input for screen readers
    expect(dialog.locator(".field.has-error").filter(has=page.locator("#code"))).to_contain_text(
        "That code is not correct"
    )
    field = dialog.get_by_label("Verification code", exact=True)
    expect(field).to_have_attribute("aria-invalid", "true")
    expect(field).to_have_attribute("aria-describedby", re.compile(r"\bcode-error\b"))
    expect(field).to_be_focused()  # portal.js moves focus to the field in error
    expect_dialog_open(page)
    expect(dialog.get_by_role("heading", name=CODE_HEADING)).to_be_visible()
    assert page.evaluate("window.__marker") == 1
    shot(page, "01-wrong-code")

    field.fill(right)  # the right code still works afterwards
    dialog.get_by_role("button", name="Verify").click()
    expect(dialog.get_by_role("heading", name=WELCOME_HEADING)).to_be_visible()
    assert page.evaluate("window.__marker") == 1
    shot(page, "02-right-code")

    # The 422 for the wrong code is expected; Chromium reports every 4xx as a failed resource.
    assert page.log.problems(ignore=(r"Failed to load resource: .*status of 422",)) == []


# --- JavaScript off: the same journey on full pages --------------------------------------------


def test_full_page_journey_without_javascript(live_portal, new_page, shot):
    email = "page.nojs@example.org"
    page = new_page(java_script_enabled=False, base_url=live_portal.url)
    page.goto("/conditions")
    expect(page.get_by_role("heading", name="Conditions of use", level=1)).to_be_visible()

    register = account_nav(page).get_by_role("link", name="Register")
    expect(register).to_have_attribute("href", "/account/register?next=/conditions")
    register.click()
    expect(page).to_have_url(re.compile(r"/account/register\?next=(/|%2F)conditions$"))
    step = page.locator("#account-step")
    expect(step.get_by_role("heading", name="Create an account")).to_be_visible()
    expect(page.locator("#account-dialog")).not_to_be_visible()
    shot(page, "01-register-page")

    fill_registration(step, email)
    step.get_by_role("button", name="Create an account").click()
    expect(page).to_have_url(re.compile(r"/account/verify$"))
    expect(step.get_by_role("heading", name=CODE_HEADING)).to_be_visible()
    shot(page, "02-code-page")

    step.get_by_label("Verification code", exact=True).fill(mailed_code(live_portal, email))
    step.get_by_role("button", name="Verify").click()
    expect(page).to_have_url(re.compile(r"/account/welcome$"))
    expect(step.get_by_role("heading", name=WELCOME_HEADING)).to_be_visible()
    shot(page, "03-welcome-page")

    step.get_by_role("button", name="Subscribe to the newsletter").click()
    expect(page.locator("#account-step").get_by_role("heading", name=SUBSCRIBED)).to_be_visible()
    shot(page, "04-subscribed-page")

    page.locator("#account-step").get_by_role("link", name="Continue to the page you were on").click()
    expect_logged_in_at(page, "/conditions")
    shot(page, "05-back-logged-in")

    account_nav(page).get_by_role("button", name="Log out").click()
    expect_logged_out_at(page, "/conditions")

    login = account_nav(page).get_by_role("link", name="Log in")
    expect(login).to_have_attribute("href", "/account/login?next=/conditions")
    login.click()
    expect(page).to_have_url(re.compile(r"/account/login\?next=(/|%2F)conditions$"))
    step = page.locator("#account-step")
    expect(step.get_by_role("heading", name="Log in")).to_be_visible()
    fill_login(step, email)
    shot(page, "06-login-page")
    step.get_by_role("button", name="Log in").click()

    expect_logged_in_at(page, "/conditions")
    shot(page, "07-logged-in-again")
