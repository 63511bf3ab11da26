"""The account dialog as the browser tests drive it: open it, fill its steps (register, log in,
a new password after a reset), read the code from the real mail, and check who is logged in."""

from __future__ import annotations

import re

from playwright.sync_api import expect

from harness.mailbox import code_in

from .browser import settled
from .portal import GOOD_PASSWORD

FIRST, LAST, ORGANISATION = "Ann", "Lee", "Example Broadcasting"
FULL_NAME = f"{FIRST} {LAST}"
CODE_HEADING = "Check your inbox and enter verification code"
WELCOME_HEADING = "You have successfully created your account"
SUBSCRIBED = "You are subscribed to our newsletter"


def path_of(page) -> str:
    return re.sub(r"^https?://[^/]+", "", page.url)


def account_nav(page):
    return page.get_by_role("navigation", name="Account")


def fill_registration(scope, email: str) -> None:
    scope.get_by_label("Email address").fill(email)
    scope.get_by_label("First name").fill(FIRST)
    scope.get_by_label("Last name").fill(LAST)
    scope.get_by_label("Organisation / media outlet").fill(ORGANISATION)
    scope.get_by_label("Password", exact=True).fill(GOOD_PASSWORD)
    scope.get_by_label("Confirm password").fill(GOOD_PASSWORD)
    scope.get_by_label("I accept the conditions of use").check()


def fill_login(scope, email: str) -> None:
    settled(scope)
    scope.get_by_label("Email address").fill(email)
    scope.get_by_label("Password", exact=True).fill(GOOD_PASSWORD)
    scope.get_by_label("Keep me logged in on this device").check()


def mailed_code(live_portal, email: str, count: int = 1) -> str:
    return code_in(live_portal.mailbox.wait_for(email, count=count, timeout=15)[-1])


def expect_dialog_open(page):
    dialog = page.locator("#account-dialog")
    expect(dialog).to_be_visible()
    expect(dialog).to_have_attribute("open", "")
    assert dialog.evaluate("d => d.matches(':modal')"), "the account dialog should be modal (showModal)"
    return dialog


def expect_logged_in_at(page, path: str) -> None:
    expect(page).to_have_url(re.compile(rf"^https?://[^/]+{re.escape(path)}$"))
    nav = account_nav(page)
    expect(nav).to_contain_text(FULL_NAME)
    expect(nav.get_by_role("button", name="Log out")).to_be_visible()
    expect(nav.get_by_role("link", name="Log in")).to_have_count(0)


def expect_logged_out_at(page, path: str) -> None:
    expect(page).to_have_url(re.compile(rf"^https?://[^/]+{re.escape(path)}$"))
    nav = account_nav(page)
    expect(nav.get_by_role("link", name="Log in")).to_be_visible()
    expect(nav.get_by_role("link", name="Register")).to_be_visible()
    expect(nav).not_to_contain_text(FULL_NAME)


def open_dialog_step(page, url, link):
    """The home page, then the header's ``link`` (Log in, Register): the step in the open dialog."""
    page.goto(f"{url}/")
    page.locator(".site-header").get_by_role("link", name=link).click()
    step = page.locator("#account-dialog #account-step")
    expect(step).to_be_visible()
    settled(step)
    return step


# --- the password reset in the dialog, and logging in with the new password -------------------

NEW_PASSWORD = "Green-Valley-77?"
NEW_PASSWORD_HEADING = "Create a new password"
DONE_HEADING = "Your password has been updated"
RETURN_LINK = "Return to the page you were on and log in"


def log_in(scope, email: str, password: str) -> None:
    settled(scope)
    scope.get_by_label("Email address").fill(email)
    scope.get_by_label("Password", exact=True).fill(password)
    expect(scope.get_by_label("Email address")).to_have_value(email)
    expect(scope.get_by_label("Password", exact=True)).to_have_value(password)
    scope.get_by_role("button", name="Log in").click()


def fill_new_password(scope, password: str = NEW_PASSWORD) -> None:
    settled(scope)
    scope.get_by_label("New password", exact=True).fill(password)
    scope.get_by_label("Confirm new password").fill(password)
