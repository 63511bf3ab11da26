"""Two-step sign-in in a real Chromium (issue #19): the authenticator's code as a step of the
account dialog, JavaScript on and off; passkeys added and used with a virtual authenticator
(Chrome DevTools' WebAuthn domain), JavaScript on."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from ..helpers.axe import violations
from ..helpers.browser import settled
from ..helpers.dialog import account_nav, expect_logged_in_at, fill_login
from ..helpers.passkeys import EMAIL, on_localhost
from ..helpers.portal import GOOD_PASSWORD, register_and_verify
from ..helpers.second_factor_helpers import set_up_authenticator, totp_code

CODE_LABEL = "Code from your authenticator app, or a recovery code"


@pytest.mark.parametrize("javascript", [True, False], ids=["js", "no-js"])
def test_the_code_is_asked_in_the_dialog_after_the_password(live_portal, new_page, shot, javascript):
    app = live_portal.app
    client = app.test_client()
    register_and_verify(client, app, EMAIL)
    set_up_authenticator(client, app, EMAIL)
    # axe is put into the page as a script of its own, which the CSP would refuse (as in test_axe.py)
    page = new_page(java_script_enabled=javascript, base_url=live_portal.url, bypass_csp=True)
    page.goto("/conditions")
    account_nav(page).get_by_role("link", name="Log in").click()
    step = page.locator("#account-step")
    fill_login(step, EMAIL)
    step.locator("form button[type=submit]").first.click()
    expect(step.get_by_role("heading", name="Two-step sign-in")).to_be_visible()
    if javascript:  # still in the dialog, over the page the person was on
        expect(page.locator("dialog#account-dialog")).to_be_visible()
        expect(page).to_have_url(re.compile(r"/conditions$"))
    settled(step)
    step.get_by_label(CODE_LABEL).fill("12345")
    step.get_by_role("button", name="Verify").click()
    expect(step.get_by_text("That code is not correct.")).to_be_visible()
    shot(page, "two-step-wrong-code")
    if javascript:  # axe runs scripts: only where the page may
        assert violations(page, "second step with an error") == []
    settled(step)
    step.get_by_label(CODE_LABEL).fill(totp_code(app, EMAIL))
    step.get_by_role("button", name="Verify").click()
    expect_logged_in_at(page, "/conditions")


def test_a_passkey_is_added_named_and_signs_in(live_portal, new_page, shot):
    app = live_portal.app
    client = app.test_client()
    register_and_verify(client, app, EMAIL)
    base = on_localhost(live_portal)
    page = new_page(base_url=base)
    page.context.add_cookies([{"name": "session", "value": client.get_cookie("session").value, "url": base}])
    cdp = page.context.new_cdp_session(page)
    cdp.send("WebAuthn.enable")
    authenticator = cdp.send(
        "WebAuthn.addVirtualAuthenticator",
        {
            "options": {
                "protocol": "ctap2",
                "transport": "internal",
                "hasResidentKey": True,
                "hasUserVerification": True,
                "isUserVerified": True,
                "automaticPresenceSimulation": True,
            }
        },
    )["authenticatorId"]

    page.goto("/account/two-step")
    page.get_by_label("Name of the passkey").fill("Work laptop")
    page.get_by_role("button", name="Add a passkey").click()
    expect(page.get_by_role("heading", name="Your recovery codes")).to_be_visible()
    expect(page.locator("ul.recovery-codes li")).to_have_count(10)
    shot(page, "passkey-added")
    assert len(cdp.send("WebAuthn.getCredentials", {"authenticatorId": authenticator})["credentials"]) == 1
    page.goto("/account/two-step")
    expect(page.locator(".passkey-list")).to_contain_text("Work laptop")

    account_nav(page).get_by_role("button", name="Log out").click()
    page.goto("/account/login?next=/conditions")
    step = page.locator("#account-step")
    step.get_by_label("Email address").fill(EMAIL)
    step.get_by_label("Password", exact=True).fill(GOOD_PASSWORD)
    step.locator("form button[type=submit]").first.click()
    expect(step.get_by_role("heading", name="Two-step sign-in")).to_be_visible()
    step.get_by_role("button", name="Use a passkey").click()
    expect_logged_in_at(page, "/conditions")
    assert page.log.problems() == [], "console errors / CSP violations / page errors"

    # removed: sign-in asks for nothing more (no factor left), and the owner was mailed both times
    page.goto("/account/two-step")
    entry = page.locator(".passkey-list li").filter(has_text="Work laptop")
    entry.get_by_role("button", name="Remove the passkey Work laptop").click()  # without the password: refused
    expect(entry.get_by_text("Enter your password.")).to_be_visible()
    shot(page, "passkey-removal-needs-the-password")
    entry = page.locator(".passkey-list li").filter(has_text="Work laptop")
    entry.get_by_label("Your password").fill(GOOD_PASSWORD)
    entry.get_by_role("button", name="Remove the passkey Work laptop").click()
    expect(page.locator(".passkey-list")).to_have_count(0)
    subjects = [mail["Subject"] for mail in live_portal.mailbox.wait_for(EMAIL, count=3, timeout=15)]
    assert any("added" in s for s in subjects) and any("removed" in s for s in subjects)
