"""The account journeys in French, in a real Chromium: register, verify with the code from the
French mail, welcome, newsletter, log out, forgotten password, reset by code, log in with the new
password — in the dialog (JavaScript on) and on full pages (JavaScript off) — and the EN | FR
switch inside the dialog. After every step the page (and the open dialog) and every mail must
hold no English: ``assert_french`` from tests/helpers/french.py fails on any English source string
of the catalogue and on common English words."""

from __future__ import annotations

import re

from playwright.sync_api import expect

from harness.mailbox import code_in, text_of

from ..helpers.dialog import expect_dialog_open, path_of
from ..helpers.french import assert_french, visible
from ..helpers.portal import GOOD_PASSWORD, age_codes

FIRST, LAST, ORGANISATION = "Anne", "Leroy", "France Télévisions"
FULL_NAME = f"{FIRST} {LAST}"
NEW_PASSWORD = "Vert-Vallon-77?"
EXPECTED_422 = r"Failed to load resource: .*status of 422"  # Chromium logs every 4xx as a failed resource

# The French of the catalogue (app/translations/fr/LC_MESSAGES/messages.po), exactly.
ACCOUNT_NAV = "Compte"  # "Account"
LANGUAGE_NAV = "Language"  # the header switch's name, on an English page
REGISTER = "S’inscrire"  # "Register"
LOG_IN = "Se connecter"  # "Log in"
LOG_IN_HEADING = "Connexion"  # pgettext("heading", "Log in")
LOG_OUT = "Se déconnecter"  # "Log out"
CREATE_ACCOUNT = "Créer un compte"  # "Create an account"
EMAIL = "Adresse e-mail"  # "Email address"
FIRST_NAME = "Prénom"  # "First name"
LAST_NAME = "Nom"  # "Last name" (exact: "Prénom" contains it)
ORGANISATION_LABEL = "Organisation / média"  # "Organisation / media outlet"
PASSWORD = "Mot de passe"  # "Password"
CONFIRM = "Confirmer le mot de passe"  # "Confirm password"
ACCEPT = "J’accepte les conditions d’utilisation"  # "I accept the conditions of use"
REMEMBER = "Rester connecté sur cet appareil"  # "Keep me logged in on this device"
CODE_HEADING = "Consultez votre boîte de réception et saisissez le code de vérification"
CODE = "Code de vérification"  # "Verification code"
RESET_CODE_HEADING = "Consultez votre boîte de réception et saisissez le code de réinitialisation"
RESET_CODE = "Code de réinitialisation"  # "Reset code"
VERIFY = "Vérifier"  # "Verify"
WELCOME_HEADING = "Votre compte a bien été créé"  # "You have successfully created your account"
SUBSCRIBE = "S’abonner à la lettre d’information"  # "Subscribe to the newsletter"
SUBSCRIBED = "Votre abonnement à notre lettre d’information est actif"  # "You are subscribed to our newsletter"
CONTINUE = "Continuer vers la page précédente"  # "Continue to the page you were on"
FORGOT = "Mot de passe oublié\u00a0?"  # "Forgot your password?" (no-break space)
RESET = "Réinitialiser le mot de passe"  # "Reset password" (heading and button)
NEW_PASSWORD_HEADING = "Créer un nouveau mot de passe"  # "Create a new password"
NEW_PASSWORD_LABEL = "Nouveau mot de passe"  # "New password"
CONFIRM_NEW = "Confirmer le nouveau mot de passe"  # "Confirm new password"
SAVE_NEW = "Enregistrer le nouveau mot de passe"  # "Save the new password"
DONE_HEADING = "Votre mot de passe a été modifié"  # "Your password has been updated"
RETURN_LINK = "Revenir à la page précédente et se connecter"  # "Return to the page you were on and log in"
LOGIN_FAILED = "Adresse e-mail ou mot de passe incorrect."  # "Email or password is incorrect."


# --- helpers -----------------------------------------------------------------------------------


def at(path: str) -> re.Pattern:
    return re.compile(rf"^https?://[^/]+{re.escape(path)}$")


def account_nav(page):
    return page.get_by_role("navigation", name=ACCOUNT_NAV)


def assert_page_french(page, step: str) -> None:
    """The page in French (``<html lang="fr">``), with no English in it, nor in the open dialog."""
    assert page.evaluate("document.documentElement.lang") == "fr", f"{step}: <html lang> is not fr"
    dialog = page.locator("#account-dialog[open]")
    if dialog.count():
        assert_french(visible(dialog.inner_html()), f"{step} (dialog)")
    assert_french(visible(page.content()), step)


def french_mail(live_portal, email: str, count: int, what: str):
    """Mail number ``count`` to ``email``: subject, plain text and HTML all in French."""
    message = live_portal.mailbox.wait_for(email, count=count, timeout=15)[count - 1]
    assert_french(str(message["Subject"]) + " " + text_of(message), f"{what} mail (subject and text)")
    html = message.get_body(preferencelist=("html",))
    if html is not None:
        assert_french(visible(html.get_content()), f"{what} mail (html)")
    return message


def fill_registration(scope, email: str) -> None:
    scope.get_by_label(EMAIL).fill(email)
    scope.get_by_label(FIRST_NAME, exact=True).fill(FIRST)
    scope.get_by_label(LAST_NAME, exact=True).fill(LAST)
    scope.get_by_label(ORGANISATION_LABEL).fill(ORGANISATION)
    scope.get_by_label(PASSWORD, exact=True).fill(GOOD_PASSWORD)
    scope.get_by_label(CONFIRM, exact=True).fill(GOOD_PASSWORD)
    scope.get_by_label(ACCEPT).check()


def log_in(scope, email: str, password: str) -> None:
    scope.get_by_label(EMAIL).fill(email)
    scope.get_by_label(PASSWORD, exact=True).fill(password)
    scope.get_by_label(REMEMBER).check()
    scope.get_by_role("button", name=LOG_IN, exact=True).click()


def expect_logged_in(page, path: str) -> None:
    expect(page).to_have_url(at(path))
    nav = account_nav(page)
    expect(nav).to_contain_text(FULL_NAME)
    expect(nav.get_by_role("button", name=LOG_OUT)).to_be_visible()
    expect(nav.get_by_role("link", name=LOG_IN)).to_have_count(0)


def expect_logged_out(page, path: str) -> None:
    expect(page).to_have_url(at(path))
    nav = account_nav(page)
    expect(nav.get_by_role("link", name=LOG_IN)).to_be_visible()
    expect(nav.get_by_role("link", name=REGISTER)).to_be_visible()
    expect(nav).not_to_contain_text(FULL_NAME)


# --- JavaScript on: the whole journey in the dialog, in French ---------------------------------


def test_french_journey_in_the_dialog(live_portal, new_page, shot):
    email = "anne.dialog@example.org"
    # A French browser: Accept-Language fr-FR chooses French with no switch, cookie or account.
    page = new_page(java_script_enabled=True, base_url=live_portal.url, locale="fr-FR")
    page.goto("/")
    expect(page).to_have_url(at("/fr/"))  # / sends a French preference to the French pages
    expect(page.locator("html")).to_have_attribute("lang", "fr")
    assert_page_french(page, "home")
    page.evaluate("window.__marker = 1")
    shot(page, "01-home")

    account_nav(page).get_by_role("link", name=REGISTER).click()
    dialog = expect_dialog_open(page)
    step = dialog.locator("#account-step")
    expect(step.get_by_role("heading", name=CREATE_ACCOUNT)).to_be_visible()
    assert_page_french(page, "registration step")
    shot(page, "02-register-step")

    fill_registration(dialog, email)
    shot(page, "03-register-filled")
    dialog.get_by_role("button", name=CREATE_ACCOUNT).click()
    expect(step.get_by_role("heading", name=CODE_HEADING)).to_be_visible()
    expect(step).to_contain_text(email)
    expect(dialog.get_by_label(CODE, exact=True)).to_be_focused()
    assert_page_french(page, "verification code step")
    shot(page, "04-code-step")

    code = code_in(french_mail(live_portal, email, 1, "verification code"))
    dialog.get_by_label(CODE, exact=True).fill(code)
    dialog.get_by_role("button", name=VERIFY).click()
    expect(step.get_by_role("heading", name=WELCOME_HEADING)).to_be_visible()
    expect_dialog_open(page)
    assert page.evaluate("window.__marker") == 1, "a full page load happened between the dialog steps"
    assert_page_french(page, "welcome step")
    shot(page, "05-welcome")

    dialog.get_by_role("button", name=SUBSCRIBE).click()
    expect(dialog.get_by_role("heading", name=SUBSCRIBED)).to_be_visible()
    expect(dialog.get_by_role("button", name=SUBSCRIBE)).to_have_count(0)
    expect(step.get_by_role("heading", name=WELCOME_HEADING)).to_be_visible()
    assert_page_french(page, "newsletter subscribed")
    shot(page, "06-subscribed")

    dialog.get_by_role("link", name=CONTINUE).click()
    expect_logged_in(page, "/fr/")
    expect(page.locator("#account-dialog")).not_to_be_visible()
    assert_page_french(page, "home, logged in")
    shot(page, "07-home-logged-in")

    account_nav(page).get_by_role("button", name=LOG_OUT).click()
    expect_logged_out(page, "/fr/")
    assert_page_french(page, "home, logged out")
    shot(page, "08-logged-out")

    # Codes of any purpose share the per-address send throttle (one a minute).
    age_codes(live_portal.app, minutes=2)

    page.evaluate("window.__marker = 2")
    account_nav(page).get_by_role("link", name=LOG_IN).click()
    dialog = expect_dialog_open(page)
    step = dialog.locator("#account-step")
    expect(step.get_by_role("heading", name=LOG_IN_HEADING)).to_be_visible()
    assert_page_french(page, "log-in step")
    shot(page, "09-login-step")

    step.get_by_role("link", name=FORGOT).click()
    expect(step.get_by_role("heading", name=RESET)).to_be_visible()
    expect(dialog.get_by_label(EMAIL)).to_be_focused()
    assert_page_french(page, "reset step")
    shot(page, "10-reset-step")

    dialog.get_by_label(EMAIL).fill(email)
    dialog.get_by_role("button", name=RESET).click()
    expect(step.get_by_role("heading", name=RESET_CODE_HEADING)).to_be_visible()
    expect(step).to_contain_text(email)
    expect(dialog.get_by_label(RESET_CODE, exact=True)).to_be_focused()
    assert_page_french(page, "reset code step")
    shot(page, "11-reset-code-step")

    code = code_in(french_mail(live_portal, email, 2, "reset code"))
    dialog.get_by_label(RESET_CODE, exact=True).fill(code)
    dialog.get_by_role("button", name=VERIFY).click()
    expect(step.get_by_role("heading", name=NEW_PASSWORD_HEADING)).to_be_visible()
    expect(dialog.get_by_label(NEW_PASSWORD_LABEL, exact=True)).to_be_focused()
    assert_page_french(page, "new password step")
    shot(page, "12-new-password-step")

    dialog.get_by_label(NEW_PASSWORD_LABEL, exact=True).fill(NEW_PASSWORD)
    dialog.get_by_label(CONFIRM_NEW, exact=True).fill(NEW_PASSWORD)
    dialog.get_by_role("button", name=SAVE_NEW).click()
    expect(step.get_by_role("heading", name=DONE_HEADING)).to_be_visible()
    expect(account_nav(page).get_by_role("link", name=LOG_IN)).to_be_visible()  # the reset logs no one in
    assert_page_french(page, "reset done step")
    shot(page, "13-done-step")
    changed = french_mail(live_portal, email, 3, "password changed")
    assert NEW_PASSWORD not in changed.as_string()

    dialog.get_by_role("link", name=RETURN_LINK).click()
    expect(step.get_by_role("heading", name=LOG_IN_HEADING)).to_be_visible()
    expect_dialog_open(page)
    assert page.evaluate("window.__marker") == 2, "a full page load happened between the dialog steps"
    assert path_of(page) == "/fr/"
    assert_page_french(page, "log-in step after the reset")
    shot(page, "14-login-step-again")

    log_in(dialog, email, GOOD_PASSWORD)  # the old password no longer works
    expect(dialog.locator("#step-alert")).to_contain_text(LOGIN_FAILED)
    expect(step.get_by_role("heading", name=LOG_IN_HEADING)).to_be_visible()
    assert_page_french(page, "old password refused")
    shot(page, "15-old-password-refused")

    log_in(dialog, email, NEW_PASSWORD)
    expect_logged_in(page, "/fr/")  # HX-Redirect: the page reloads at `next`
    expect(page.locator("#account-dialog")).not_to_be_visible()
    assert_page_french(page, "home, logged in with the new password")
    shot(page, "16-logged-in-with-new-password")

    assert len(live_portal.mailbox.to(email)) == 3, [str(m["Subject"]) for m in live_portal.mailbox.to(email)]
    assert page.log.problems(ignore=(EXPECTED_422,)) == [], "console errors / CSP violations / page errors"


# --- JavaScript off: register, verify, welcome on full pages, in French ------------------------


def test_french_registration_on_full_pages(live_portal, new_page, shot):
    email = "anne.pages@example.org"
    # An English browser that picks French with the header's EN | FR switch (then a cookie).
    page = new_page(java_script_enabled=False, base_url=live_portal.url)
    page.goto("/")
    expect(page.locator("html")).to_have_attribute("lang", "en")
    page.get_by_role("navigation", name=LANGUAGE_NAV).get_by_role("link", name="FR", exact=True).click()
    expect(page).to_have_url(at("/fr/"))  # ?lang=fr redirects to the French URL
    assert_page_french(page, "home after the switch")
    page.goto("/")  # the cookie remembers the choice: / sends it to /fr/
    expect(page).to_have_url(at("/fr/"))
    assert_page_french(page, "home (cookie)")
    shot(page, "01-home")

    register = account_nav(page).get_by_role("link", name=REGISTER)
    expect(register).to_have_attribute("href", "/fr/account/register?next=/fr/")
    register.click()
    expect(page).to_have_url(re.compile(r"/fr/account/register\?next=(/fr/|%2Ffr%2F)$"))
    step = page.locator("#account-step")
    expect(step.get_by_role("heading", name=CREATE_ACCOUNT)).to_be_visible()
    expect(page.locator("#account-dialog")).not_to_be_visible()
    assert_page_french(page, "registration page")
    shot(page, "02-register-page")

    fill_registration(step, email)
    step.get_by_role("button", name=CREATE_ACCOUNT).click()
    expect(page).to_have_url(re.compile(r"/fr/account/verify$"))
    expect(step.get_by_role("heading", name=CODE_HEADING)).to_be_visible()
    expect(step).to_contain_text(email)
    assert_page_french(page, "verification code page")
    shot(page, "03-code-page")

    code = code_in(french_mail(live_portal, email, 1, "verification code"))
    step.get_by_label(CODE, exact=True).fill(code)
    step.get_by_role("button", name=VERIFY).click()
    expect(page).to_have_url(re.compile(r"/fr/account/welcome$"))
    expect(step.get_by_role("heading", name=WELCOME_HEADING)).to_be_visible()
    assert_page_french(page, "welcome page")
    shot(page, "04-welcome-page")

    step.get_by_role("button", name=SUBSCRIBE).click()
    step = page.locator("#account-step")
    expect(step.get_by_role("heading", name=SUBSCRIBED)).to_be_visible()
    assert_page_french(page, "newsletter subscribed page")
    shot(page, "05-subscribed-page")

    step.get_by_role("link", name=CONTINUE).click()
    expect_logged_in(page, "/fr/")
    assert_page_french(page, "home, logged in")
    shot(page, "06-home-logged-in")
    assert len(live_portal.mailbox.to(email)) == 1


# --- the EN | FR switch inside the dialog ------------------------------------------------------


def open_login_and_switch_to_french(page, shot):
    """An English page, its log-in dialog, then the dialog's own FR button."""
    page.goto("/")
    expect(page.locator("html")).to_have_attribute("lang", "en")
    page.get_by_role("navigation", name="Account").get_by_role("link", name="Log in").click()
    dialog = expect_dialog_open(page)
    step = dialog.locator("#account-step")
    expect(step.get_by_role("heading", name="Log in")).to_be_visible()
    page.evaluate("window.__marker = 1")
    shot(page, "01-login-step-english")

    dialog.locator('[data-dialog-lang="fr"]').click()
    expect(step.get_by_role("heading", name=LOG_IN_HEADING)).to_be_visible()  # the same step, in French
    expect_dialog_open(page)
    assert page.evaluate("window.__marker") == 1, "the switch in the dialog reloaded the page"
    shot(page, "02-login-step-french")
    return dialog, step


def test_dialog_language_switch(live_portal, new_page, shot):
    page = new_page(java_script_enabled=True, base_url=live_portal.url)  # an English browser
    dialog, step = open_login_and_switch_to_french(page, shot)
    expect(step.get_by_label(EMAIL)).to_be_visible()
    expect(step.get_by_label(PASSWORD, exact=True)).to_be_visible()
    expect(step.get_by_role("button", name=LOG_IN, exact=True)).to_be_visible()
    expect(step.get_by_role("link", name=FORGOT)).to_be_visible()
    assert_french(visible(step.evaluate("e => e.outerHTML")), "log-in step after the dialog's FR")

    dialog.locator(".dialog-close").click()
    expect(page.locator("html")).to_have_attribute("lang", "fr")  # the page behind follows on close
    expect(page.locator("#account-dialog")).not_to_be_visible()
    assert page.evaluate("window.__marker") is None, "closing the dialog should reload the page"
    expect(page).to_have_url(at("/fr/"))  # the French URL of the page behind
    assert_page_french(page, "home after closing the dialog")
    expect(account_nav(page).get_by_role("link", name=LOG_IN)).to_be_visible()
    shot(page, "03-home-french")

    page.goto("/conditions")  # an English URL stays English...
    expect(page.locator("html")).to_have_attribute("lang", "en")
    page.goto("/")  # ...but the choice is remembered: / sends it to the French pages
    expect(page).to_have_url(at("/fr/"))
    assert_page_french(page, "home after the dialog's FR")

    assert page.log.problems() == [], "console errors / CSP violations / page errors"


def test_dialog_head_follows_the_dialog_switch(live_portal, new_page, shot):
    """Not only the step: the whole open dialog is French after its FR — its title, tagline and
    the names read aloud — the switch shows FR as the current language, and the French text is
    marked lang="fr" (the page behind, and so <html lang>, is still English until the dialog closes)."""
    page = new_page(java_script_enabled=True, base_url=live_portal.url)
    dialog, step = open_login_and_switch_to_french(page, shot)
    found = []
    try:
        assert_french(visible(dialog.inner_html()), "the whole dialog after its FR")
    except AssertionError as error:
        found.append(str(error).splitlines()[0])
    current = dialog.locator("[data-dialog-lang][aria-current=true]").evaluate_all(
        "buttons => buttons.map(b => b.dataset.dialogLang)"
    )
    if current != ["fr"]:
        found.append(f"the dialog's switch marks {current} as the current language, not ['fr']")
    language = step.get_by_role("heading", name=LOG_IN_HEADING).evaluate("h => h.closest('[lang]').lang")
    if language != "fr":
        found.append(f"the French step is marked lang={language!r} (from the nearest [lang]), not 'fr'")
    assert found == [], "\n".join(found)
    assert page.log.problems() == [], "console errors / CSP violations / page errors"
