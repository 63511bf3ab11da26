"""No Content-Security-Policy violation anywhere, in a real Chromium with JavaScript on, served
the way README's deployment runs it: HTTPS at nginx, the app behind it with TRUSTED_PROXIES=1.

One visitor goes through every page (catalogue, live search, story with its player, conditions,
an error page, account page, unsubscribe page, "deleted" page) and every step of the account
dialog (register, code, welcome and newsletter, log in, reset request, reset code, new password,
"return and log in"), while the page reports console errors and ``securitypolicyviolation``
events. On the way it checks what only a browser over HTTPS can show: every CSRF-checked post
passes Flask-WTF's HTTPS Referer check with the Referer that Referrer-Policy lets Chromium send,
the cookies are Secure, HttpOnly and SameSite=Lax, and every page carries HSTS and the CSP."""

from __future__ import annotations

import copy
import subprocess

import pytest
from playwright.sync_api import expect

from harness.mailbox import code_in
from harness.servers import Nginx

from ..helpers.catalogue_data import STORIES, load
from ..helpers.dialog import (
    CODE_HEADING,
    DONE_HEADING,
    NEW_PASSWORD,
    NEW_PASSWORD_HEADING,
    RETURN_LINK,
    SUBSCRIBED,
    WELCOME_HEADING,
    account_nav,
    expect_dialog_open,
    expect_logged_in_at,
    expect_logged_out_at,
    fill_login,
    fill_new_password,
    fill_registration,
    log_in,
)
from ..helpers.headers import parse_csp
from ..helpers.portal import GOOD_PASSWORD, age_codes
from ..helpers.routes import MEMBER, unsubscribe_token

STORY = STORIES[0]
STORY_PATH = f"/stories/{STORY['slug']}"
NOT_FOUND = r"Failed to load resource: .*status of 404"  # the error page on purpose; Chromium logs every 4xx
EXPIRED_FORM = r"Failed to load resource: .*status of 400"  # the stale-token form on the account page, on purpose


@pytest.fixture
def app_config():
    return {"TRUSTED_PROXIES": 1, "PREFERRED_URL_SCHEME": "https"}  # README "Behind nginx"


@pytest.fixture(scope="session")
def tls_certificate(tmp_path_factory):
    folder = tmp_path_factory.mktemp("tls")
    cert, key = folder / "cert.pem", folder / "key.pem"
    subprocess.run(
        [
            "openssl",
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:prime256v1",
            "-nodes",
            "-keyout",
            str(key),
            "-out",
            str(cert),
            "-days",
            "2",
            "-subj",
            "/CN=127.0.0.1",
            "-addext",
            "subjectAltName=IP:127.0.0.1",
        ],
        check=True,
        capture_output=True,
        timeout=30,
    )
    return cert, key


class TlsNginx(Nginx):
    """bench's nginx, listening with TLS and proxying to the app as README's example does (the Host
    keeps its port here, which a server on 443 has no need of)."""

    def __init__(self, directory, upstream: str, cert, key):
        super().__init__(
            directory,
            f"""
        ssl_certificate {cert};
        ssl_certificate_key {key};
        location / {{
            proxy_pass {upstream};
            proxy_set_header Host $http_host;
            proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
            proxy_set_header X-Forwarded-Proto $scheme;
        }}""",
        )
        self.url = f"https://127.0.0.1:{self.port}"

    def config(self) -> str:
        plain = f"listen 127.0.0.1:{self.port};"
        config = super().config()
        assert plain in config, "harness.servers.Nginx changed its listen line"
        return config.replace(plain, f"listen 127.0.0.1:{self.port} ssl;")


@pytest.fixture
def https_portal(live_portal, tls_certificate, tmp_path):
    with TlsNginx(tmp_path / "nginx", live_portal.url, *tls_certificate) as nginx:
        yield nginx.url


def expect_secure_cookies(page, names: set[str]) -> None:
    cookies = {c["name"]: c for c in page.context.cookies()}
    assert names <= set(cookies), f"cookies: {sorted(cookies)}"
    for name in names:
        assert (cookies[name]["secure"], cookies[name]["httpOnly"], cookies[name]["sameSite"]) == (True, True, "Lax"), (
            cookies[name]
        )
    assert not names & {part.split("=")[0].strip() for part in page.evaluate("document.cookie").split(";")}


def submit(dialog, button: str, heading: str) -> None:
    """Press the step's button; the next step (``heading``) comes into the dialog."""
    dialog.get_by_role("button", name=button).click()
    expect(dialog.locator("#account-step").get_by_role("heading", name=heading)).to_be_visible()


def next_code(live_portal, email: str, action) -> str:
    """Do ``action`` and return the code in the mail it sends."""
    count = len(live_portal.mailbox.to(email)) + 1
    action()
    return code_in(live_portal.mailbox.wait_for(email, count=count, timeout=15)[-1])


def test_no_csp_violation_on_any_page_or_dialog_step_behind_https_nginx(
    live_portal, https_portal, new_page, shot, tmp_path
):
    load(live_portal.app, tmp_path, copy.deepcopy(STORIES))
    email = MEMBER
    page = new_page(java_script_enabled=True, base_url=https_portal, ignore_https_errors=True)
    documents = []
    page.on("response", lambda r: r.request.resource_type == "document" and documents.append(r))

    # --- public pages, the live search ----------------------------------------------------
    page.goto("/")
    expect(page.locator("#results li.card")).to_have_count(len(STORIES))
    page.get_by_role("searchbox").fill("baltic")
    expect(page.locator("#results li.card")).to_have_count(1)  # HTMX swapped the results
    expect(page).to_have_url(f"{https_portal}/?q=baltic")
    shot(page, "01-search")
    page.goto(STORY_PATH)
    expect(page.get_by_role("heading", name=STORY["title"], level=1)).to_be_visible()
    expect(page.locator("video.player")).to_be_visible()
    page.goto("/conditions")
    expect(page.get_by_role("heading", name="Conditions of use", level=1)).to_be_visible()
    page.goto("/no-such-page")
    expect(page.get_by_role("heading", name="Page not found")).to_be_visible()
    shot(page, "02-not-found")

    # --- register → code → welcome → newsletter, in the dialog over the story ---------------
    page.goto(STORY_PATH)
    account_nav(page).get_by_role("link", name="Register").click()
    dialog = expect_dialog_open(page)
    fill_registration(dialog, email)
    code = next_code(live_portal, email, lambda: submit(dialog, "Create an account", CODE_HEADING))
    shot(page, "03-code-step")
    dialog.get_by_label("Verification code", exact=True).fill(code)
    submit(dialog, "Verify", WELCOME_HEADING)
    dialog.get_by_role("button", name="Subscribe to the newsletter").click()
    expect(dialog.get_by_role("heading", name=SUBSCRIBED)).to_be_visible()
    shot(page, "04-welcome-subscribed")
    dialog.get_by_role("link", name="Continue to the page you were on").click()
    expect_logged_in_at(page, STORY_PATH)
    expect_secure_cookies(page, {"session"})

    # --- the account page and its HTMX sections ---------------------------------------------
    account_nav(page).get_by_role("link", name="Ann Lee").click()
    expect(page.get_by_role("heading", name="Your account", level=1)).to_be_visible()
    profile = page.locator("#account-profile")
    profile.get_by_label("Organisation / media outlet").fill("Example Radio")
    profile.get_by_role("button", name="Save").click()
    expect(page.locator("#account-profile [role=status]")).to_be_visible()
    shot(page, "05-account-page")
    # An expired form (a stale token here) is said in the section's alert area; what was typed stays.
    profile.locator("input[name=csrf_token]").evaluate("input => { input.value = 'stale'; }")
    profile.get_by_label("Organisation / media outlet").fill("Example Television")
    profile.get_by_role("button", name="Save").click()
    expect(page.locator("#account-profile-alert")).to_contain_text("This form has expired.")
    expect(profile.get_by_label("Organisation / media outlet")).to_have_value("Example Television")
    expect(profile.locator("p.notice[role=status]")).to_have_count(0)  # the earlier "Saved." no longer holds
    shot(page, "05b-account-page-expired-form")

    # --- log out, log in (remembered) in the dialog ---------------------------------------
    page.goto("/conditions")
    account_nav(page).get_by_role("button", name="Log out").click()
    expect_logged_out_at(page, "/conditions")
    account_nav(page).get_by_role("link", name="Log in").click()
    dialog = expect_dialog_open(page)
    fill_login(dialog, email)
    dialog.get_by_role("button", name="Log in").click()
    expect_logged_in_at(page, "/conditions")
    expect_secure_cookies(page, {"session", "remember_token"})
    account_nav(page).get_by_role("button", name="Log out").click()
    expect_logged_out_at(page, "/conditions")

    # --- reset: request → code → new password → done → log in, all in the dialog -----------
    age_codes(live_portal.app, minutes=2)  # past the one-a-minute send throttle
    account_nav(page).get_by_role("link", name="Log in").click()
    dialog = expect_dialog_open(page)
    step = dialog.locator("#account-step")
    step.get_by_role("link", name="Forgot your password?").click()
    expect(step.get_by_role("heading", name="Reset password")).to_be_visible()
    dialog.get_by_label("Email address").fill(email)
    code = next_code(
        live_portal, email, lambda: submit(dialog, "Reset password", "Check your inbox and enter the reset code")
    )
    dialog.get_by_label("Reset code", exact=True).fill(code)
    submit(dialog, "Verify", NEW_PASSWORD_HEADING)
    fill_new_password(dialog)
    submit(dialog, "Save the new password", DONE_HEADING)
    shot(page, "06-reset-done")
    dialog.get_by_role("link", name=RETURN_LINK).click()
    expect(step.get_by_role("heading", name="Log in")).to_be_visible()
    log_in(dialog, email, NEW_PASSWORD)
    try:
        expect_logged_in_at(page, "/conditions")
    except AssertionError as failure:  # once seen in CI (a 422), not reproduced since: say what the step showed
        raise AssertionError(f"{failure}\nThe log-in step showed: {step.inner_text()!r}") from None

    # --- the unsubscribe page of a newsletter mail, then deleting the account ---------------
    page.goto(f"/newsletter/unsubscribe/{unsubscribe_token(live_portal.app, email)}")
    page.get_by_role("button", name="Unsubscribe").click()
    expect(page.get_by_role("heading", name="You have been unsubscribed")).to_be_visible()
    page.goto("/account")
    page.locator("#account-delete").get_by_label("Your password").fill(NEW_PASSWORD)
    page.locator("#account-delete").get_by_role("button", name="Delete my account").click()
    expect(page.get_by_role("heading", name="Your account has been deleted")).to_be_visible()
    shot(page, "07-deleted")

    # --- what the browser saw ---------------------------------------------------------------
    assert GOOD_PASSWORD != NEW_PASSWORD and len(documents) >= 15
    for response in documents:
        headers = response.headers
        assert headers.get("strict-transport-security", "").startswith("max-age="), response.url
        csp = parse_csp(headers["content-security-policy"])
        assert csp["frame-ancestors"] == ["'none'"] and "'unsafe-inline'" not in str(csp), response.url
    assert page.log.problems(ignore=(NOT_FOUND, EXPIRED_FORM)) == [], "console errors / CSP violations / page errors"
