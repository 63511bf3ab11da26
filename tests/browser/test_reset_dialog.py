"""Password reset in a real Chromium: "Forgot your password?" from the log-in step, the code from
the real mail, a new password, back to the page you were on and log in with it — with JavaScript
(HTMX, all in the dialog) and without (full pages); and a code typed in another browser."""

from __future__ import annotations

import copy
import re

import pytest
from playwright.sync_api import expect

from ..helpers.catalogue_data import STORIES, load
from ..helpers.dialog import (
    CODE_HEADING,
    DONE_HEADING,
    NEW_PASSWORD,
    NEW_PASSWORD_HEADING,
    RETURN_LINK,
    account_nav,
    expect_dialog_open,
    expect_logged_in_at,
    expect_logged_out_at,
    fill_new_password,
    fill_registration,
    log_in,
    mailed_code,
    path_of,
)
from ..helpers.portal import GOOD_PASSWORD, age_codes

RESET_INTRO = "Enter the email address you registered with and we will send you a code to reset your password."
DONE_TEXT = "Click the button to return to the page you were on and log in with your new password."
LOGIN_FAILED = "Email or password is incorrect."
NO_RESET_HERE = (
    "No password reset in this browser is waiting for a code. If you asked for the code in another "
    "browser, enter it there, or start again here."
)
RESET_SUBJECT = "reset your password"
CHANGED_SUBJECT = "password was changed"
EXPECTED_422 = r"Failed to load resource: .*status of 422"  # a refused log in; Chromium logs every 4xx

RESET_CODE_HEADING = "Check your inbox and enter the reset code"


STORY = "/stories/foreign-ministers-meet-in-antalya"
STORY_TITLE = "NATO Foreign Ministers meet in Antalya"


@pytest.fixture
def story(live_portal, tmp_path):
    """The reset journeys start where a journalist would: on a story page."""
    load(live_portal.app, tmp_path, copy.deepcopy(STORIES[:1]))
    return STORY


def create_account(live_portal, new_page, email: str):
    """A verified account, registered on full pages in a browser of its own, which stays logged in
    (the reset must end that session). Returns that browser's page, logged in at /conditions.

    The verification code is then moved two minutes into the past: codes of any purpose share the
    per-address send throttle (one a minute), and this person forgets the password at once."""
    owner = new_page(java_script_enabled=False, base_url=live_portal.url)
    owner.goto("/account/register?next=/conditions")
    step = owner.locator("#account-step")
    fill_registration(step, email)
    step.get_by_role("button", name="Create an account").click()
    expect(step.get_by_role("heading", name=CODE_HEADING)).to_be_visible()
    step.get_by_label("Verification code", exact=True).fill(mailed_code(live_portal, email, count=1))
    step.get_by_role("button", name="Verify").click()
    owner.locator("#account-step").get_by_role("link", name="Continue to the page you were on").click()
    expect_logged_in_at(owner, "/conditions")
    age_codes(live_portal.app, minutes=2)
    return owner


def mail_about(live_portal, email: str, count: int, subject: str):
    """Mail number ``count`` to ``email``, which must be about ``subject``."""
    message = live_portal.mailbox.wait_for(email, count=count, timeout=15)[count - 1]
    assert subject in str(message["Subject"]), f"mail #{count} to {email}: {message['Subject']!r}"
    return message


def reset_code(live_portal, email: str, count: int) -> str:
    mail_about(live_portal, email, count, RESET_SUBJECT)
    return mailed_code(live_portal, email, count=count)


# --- JavaScript on: everything happens in the dialog ------------------------------------------


def test_reset_in_the_dialog_with_javascript(live_portal, new_page, shot, story):
    email = "reset.js@example.org"
    owner = create_account(live_portal, new_page, email)

    page = new_page(java_script_enabled=True, base_url=live_portal.url)
    page.goto(STORY)
    expect(page.get_by_role("heading", name=STORY_TITLE, level=1)).to_be_visible()
    page.evaluate("window.__marker = 1")
    loads_before = list(page.log.navigations)
    shot(page, "01-story")

    account_nav(page).get_by_role("link", name="Log in").click()
    dialog = expect_dialog_open(page)
    step = dialog.locator("#account-step")
    expect(step.get_by_role("heading", name="Log in")).to_be_visible()
    shot(page, "02-login-step")

    step.get_by_role("link", name="Forgot your password?").click()
    expect(step.get_by_role("heading", name="Reset password")).to_be_visible()
    expect(step).to_contain_text(RESET_INTRO)
    expect(dialog.get_by_label("Email address")).to_be_focused()
    shot(page, "03-reset-step")

    dialog.get_by_label("Email address").fill(email)
    dialog.get_by_role("button", name="Reset password").click()
    expect(step.get_by_role("heading", name=RESET_CODE_HEADING)).to_be_visible()
    expect(step).to_contain_text(email)
    expect(dialog.get_by_label("Reset code", exact=True)).to_be_focused()
    expect_dialog_open(page)
    shot(page, "04-code-step")

    dialog.get_by_label("Reset code", exact=True).fill(reset_code(live_portal, email, count=2))
    dialog.get_by_role("button", name="Verify").click()
    expect(step.get_by_role("heading", name=NEW_PASSWORD_HEADING)).to_be_visible()
    expect(dialog.get_by_label("New password", exact=True)).to_be_focused()
    shot(page, "05-new-password-step")

    fill_new_password(dialog)
    dialog.get_by_role("button", name="Save the new password").click()
    expect(step.get_by_role("heading", name=DONE_HEADING)).to_be_visible()
    expect(step).to_contain_text(DONE_TEXT)
    expect_dialog_open(page)
    # The reset does not log anyone in: the page behind still offers "Log in".
    expect(account_nav(page).get_by_role("link", name="Log in")).to_be_visible()
    shot(page, "06-done-step")

    dialog.get_by_role("link", name=RETURN_LINK).click()
    expect(step.get_by_role("heading", name="Log in")).to_be_visible()
    expect_dialog_open(page)
    # No full page load since the dialog opened on the story page: the page behind is still there.
    assert page.evaluate("window.__marker") == 1, "a full page load happened between the dialog steps"
    assert page.log.navigations == loads_before, f"main frame navigated: {page.log.navigations}"
    assert path_of(page) == STORY
    expect(page.get_by_role("heading", name=STORY_TITLE, level=1)).to_be_attached()
    shot(page, "07-login-step-again")

    log_in(dialog, email, GOOD_PASSWORD)  # the old password no longer works
    expect(dialog.locator("#step-alert")).to_contain_text(LOGIN_FAILED)
    expect(step.get_by_role("heading", name="Log in")).to_be_visible()
    assert page.evaluate("window.__marker") == 1
    shot(page, "08-old-password-refused")

    log_in(dialog, email, NEW_PASSWORD)
    expect_logged_in_at(page, STORY)  # HX-Redirect: the page reloads at `next`
    expect(page.locator("#account-dialog")).not_to_be_visible()
    shot(page, "09-logged-in-with-new-password")

    changed = mail_about(live_portal, email, 3, CHANGED_SUBJECT)
    assert NEW_PASSWORD not in changed.as_string()

    owner.reload()  # the session that was logged in before the reset has ended
    expect_logged_out_at(owner, "/conditions")

    assert page.log.problems(ignore=(EXPECTED_422,)) == [], "console errors / CSP violations / page errors"


# --- JavaScript off: the same journey on full pages --------------------------------------------


def test_reset_on_full_pages_without_javascript(live_portal, new_page, shot, story):
    email = "reset.nojs@example.org"
    create_account(live_portal, new_page, email)

    page = new_page(java_script_enabled=False, base_url=live_portal.url)
    page.goto(STORY)
    login = account_nav(page).get_by_role("link", name="Log in")
    expect(login).to_have_attribute("href", "/account/login?next=" + STORY)
    login.click()
    step = page.locator("#account-step")
    expect(step.get_by_role("heading", name="Log in")).to_be_visible()
    expect(page.locator("#account-dialog")).not_to_be_visible()
    shot(page, "01-login-page")

    step.get_by_role("link", name="Forgot your password?").click()
    expect(page).to_have_url(
        re.compile(r"/account/reset\?next=(/|%2F)stories(/|%2F)foreign-ministers-meet-in-antalya$")
    )
    expect(step.get_by_role("heading", name="Reset password")).to_be_visible()
    expect(step).to_contain_text(RESET_INTRO)
    shot(page, "02-reset-page")

    step.get_by_label("Email address").fill(email)
    step.get_by_role("button", name="Reset password").click()
    expect(page).to_have_url(re.compile(r"/account/reset/code$"))
    expect(step.get_by_role("heading", name=RESET_CODE_HEADING)).to_be_visible()
    expect(step).to_contain_text(email)
    shot(page, "03-code-page")

    step.get_by_label("Reset code", exact=True).fill(reset_code(live_portal, email, count=2))
    step.get_by_role("button", name="Verify").click()
    expect(page).to_have_url(re.compile(r"/account/reset/password$"))
    expect(step.get_by_role("heading", name=NEW_PASSWORD_HEADING)).to_be_visible()
    shot(page, "04-new-password-page")

    fill_new_password(step)
    step.get_by_role("button", name="Save the new password").click()
    expect(page).to_have_url(re.compile(r"/account/reset/done$"))
    expect(step.get_by_role("heading", name=DONE_HEADING)).to_be_visible()
    expect(step).to_contain_text(DONE_TEXT)
    expect(account_nav(page).get_by_role("link", name="Log in")).to_be_visible()  # not logged in
    shot(page, "05-done-page")

    back = step.get_by_role("link", name=RETURN_LINK)
    expect(back).to_have_attribute(
        "href", re.compile(r"^/account/login\?next=(/|%2F)stories(/|%2F)foreign-ministers-meet-in-antalya$")
    )
    back.click()
    expect(page).to_have_url(
        re.compile(r"/account/login\?next=(/|%2F)stories(/|%2F)foreign-ministers-meet-in-antalya$")
    )
    expect(step.get_by_role("heading", name="Log in")).to_be_visible()

    log_in(step, email, GOOD_PASSWORD)
    expect(step.locator("#step-alert")).to_contain_text(LOGIN_FAILED)
    shot(page, "06-old-password-refused")

    log_in(step, email, NEW_PASSWORD)
    expect_logged_in_at(page, STORY)
    shot(page, "07-logged-in-with-new-password")

    mail_about(live_portal, email, 3, CHANGED_SUBJECT)


# --- a code is only good in the browser that asked for it --------------------------------------


def test_code_typed_in_another_browser_does_not_work_there(live_portal, new_page, shot):
    email = "reset.other-browser@example.org"
    create_account(live_portal, new_page, email)

    asker = new_page(java_script_enabled=False, base_url=live_portal.url)
    asker.goto("/account/reset?next=/conditions")
    asker_step = asker.locator("#account-step")
    asker_step.get_by_label("Email address").fill(email)
    asker_step.get_by_role("button", name="Reset password").click()
    expect(asker_step.get_by_role("heading", name=RESET_CODE_HEADING)).to_be_visible()
    code = reset_code(live_portal, email, count=2)
    shot(asker, "01-asker-code-page")

    other = new_page(java_script_enabled=False, base_url=live_portal.url)  # own context: no cookies
    other.goto("/account/reset/code")
    # Nothing is waiting for a code here, so the address of the code step shows "Reset password".
    expect(other).to_have_url(re.compile(r"/account/reset$"))
    other_step = other.locator("#account-step")
    expect(other_step.get_by_role("heading", name="Reset password")).to_be_visible()
    expect(other_step.get_by_label("Reset code", exact=True)).to_have_count(0)
    shot(other, "02-other-code-address")

    # Submit the code from this browser anyway, as a code step left open here (a stale tab) would:
    # the same form the code step has, with this browser's own CSRF token.
    other.evaluate(
        """code => {
            const form = document.createElement("form");
            form.method = "post";
            form.action = "/account/reset/code";
            for (const [name, value] of [["csrf_token", document.querySelector("input[name=csrf_token]").value],
                                         ["code", code]]) {
                const input = document.createElement("input");
                input.type = "hidden"; input.name = name; input.value = value;
                form.append(input);
            }
            document.body.append(form);
            form.submit();
        }""",
        code,
    )
    other_step = other.locator("#account-step")
    expect(other_step.get_by_role("heading", name=RESET_CODE_HEADING)).to_be_visible()
    expect(other_step.locator("#step-alert")).to_have_text(NO_RESET_HERE)
    expect(other_step.get_by_role("link", name="Reset password")).to_be_visible()
    expect(other_step.get_by_role("button", name="Verify")).to_have_count(0)
    shot(other, "03-other-refused")

    # Nothing changed: no new password can be set here, and the old password still logs in.
    other.goto("/account/reset/password")
    expect(other.locator("#account-step").get_by_role("button", name="Save the new password")).to_have_count(0)
    expect(other.locator("#step-alert")).to_contain_text("This step needs a code checked in this browser")
    other.goto("/account/login?next=/conditions")
    log_in(other.locator("#account-step"), email, GOOD_PASSWORD)
    expect_logged_in_at(other, "/conditions")
    assert len(live_portal.mailbox.to(email)) == 2, "no password-changed mail: the password did not change"

    # The browser that asked can still use the same code.
    asker_step.get_by_label("Reset code", exact=True).fill(code)
    asker_step.get_by_role("button", name="Verify").click()
    expect(asker_step.get_by_role("heading", name=NEW_PASSWORD_HEADING)).to_be_visible()
    fill_new_password(asker_step)
    asker_step.get_by_role("button", name="Save the new password").click()
    expect(asker_step.get_by_role("heading", name=DONE_HEADING)).to_be_visible()
    shot(asker, "04-asker-done")

    asker_step.get_by_role("link", name=RETURN_LINK).click()
    log_in(asker.locator("#account-step"), email, NEW_PASSWORD)
    expect_logged_in_at(asker, "/conditions")
    shot(asker, "05-asker-logged-in")
    mail_about(live_portal, email, 3, CHANGED_SUBJECT)
