"""A passkey signs in on its own (issue #19), in a real Chromium with a virtual authenticator
(Chrome DevTools' WebAuthn domain) that keeps discoverable passkeys and unlocks them: added on
the account's two-step page, then, logged out on a story page, "Sign in with a passkey" in the
dialog brings the person back to that story, logged in; in English and in French. Without
JavaScript the button is not there."""

from __future__ import annotations

import copy
import re

import pytest
from playwright.sync_api import expect

from ..helpers.catalogue_data import STORIES, load
from ..helpers.dialog import FULL_NAME, account_nav
from ..helpers.passkeys import EMAIL, on_localhost
from ..helpers.portal import register_and_verify

STORY = "/stories/foreign-ministers-meet-in-antalya"
# per language: the header's "Log in" link, the button, "Log out" (the French exactly as the catalogue says)
WORDS = {
    "en": ("Log in", "Sign in with a passkey", "Log out"),
    "fr": ("Se connecter", "Se connecter avec une clé d’accès", "Se déconnecter"),
}


def add_passkey(page) -> dict:
    """The virtual authenticator, and a passkey made with it on the two-step page."""
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
    credentials = cdp.send("WebAuthn.getCredentials", {"authenticatorId": authenticator})["credentials"]
    assert len(credentials) == 1 and credentials[0]["isResidentCredential"]  # discoverable: it can sign in alone
    return credentials[0]


@pytest.mark.parametrize("language", ["en", "fr"])
def test_a_passkey_alone_signs_in_from_a_story_page(live_portal, new_page, shot, tmp_path, language):
    app = live_portal.app
    load(app, tmp_path, copy.deepcopy(STORIES[:1]))
    client = app.test_client()
    register_and_verify(client, app, EMAIL)
    base = on_localhost(live_portal)
    page = new_page(base_url=base)
    page.context.add_cookies([{"name": "session", "value": client.get_cookie("session").value, "url": base}])
    add_passkey(page)
    log_in_link, button, log_out = WORDS[language]

    page.goto(STORY)
    account_nav(page).get_by_role("button", name="Log out").click()
    page.goto(STORY)
    if language == "fr":
        page.locator(".lang-switch a[hreflang=fr]").click()
        expect(page.locator("html")).to_have_attribute("lang", "fr")
    page.locator("nav.account-nav").get_by_role("link", name=log_in_link).click()  # its name is French too
    step = page.locator("#account-step")
    expect(page.locator("dialog#account-dialog")).to_be_visible()
    shot(page, f"passkey-sign-in-offered-{language}")
    step.get_by_role("button", name=button).click()

    # back to the story, in the language the dialog was in (French pages are under /fr/)
    expect(page).to_have_url(re.compile(rf"{'/fr' if language == 'fr' else ''}{re.escape(STORY)}$"))
    nav = page.locator("nav.account-nav")
    expect(nav).to_contain_text(FULL_NAME)
    expect(nav.get_by_role("button", name=log_out)).to_be_visible()
    shot(page, f"passkey-signed-in-{language}")
    assert page.log.problems() == [], "console errors / CSP violations / page errors"


def test_without_javascript_the_passkey_button_is_not_there(live_portal, new_page):
    page = new_page(java_script_enabled=False, base_url=on_localhost(live_portal))
    page.goto("/account/login")
    expect(page.get_by_role("button", name="Log in")).to_be_visible()
    expect(page.get_by_role("button", name="Sign in with a passkey")).to_have_count(0)
