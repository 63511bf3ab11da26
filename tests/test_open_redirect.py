"""Open redirects (docs/security.md, Redirects), end to end over real HTTP: a hostile ``next`` goes through every place
that reads it — log in, register → code → welcome, reset → code → new password → "return and log
in", log out, the login-required redirect — with and without HTMX, and every Location, HX-Redirect
and link the portal answers with stays on the site. tests/test_redirects.py tests ``safe_next``
itself; here nothing of the app judges the answers: ``stays_on_site`` reads them as a browser does."""

from __future__ import annotations

import html
import itertools
import re
import urllib.error
import urllib.request
from http.cookiejar import CookieJar
from urllib.parse import parse_qs, quote, urlencode, urlsplit

import pytest

from .helpers.portal import CSRF_RE, GOOD_PASSWORD, HTMX, registration
from .helpers.redirects import HOSTILE, stays_on_site

NEW_PASSWORD = "Quiet-Meadow-31?"


def test_the_judge_tells_hostile_from_local():
    """``stays_on_site`` must itself be able to fail, or the tests below would prove nothing."""
    for url in [
        "//evil.example",
        "/\\evil.example",
        "/\t/evil.example",
        "https://evil.example",
        "javascript:alert(1)",
        "%2F%2Fevil.example",
        "/%2F/evil.example",
        " //evil.example",
    ]:
        assert not stays_on_site(url), url
    for url in [
        "/",
        "/conditions",
        "/stories/antalya?download=3",
        "/account/login?next=%2F%2Fevil.example",
        "/%EF%BC%8Fevil.example",
    ]:
        assert stays_on_site(url), url


class Answer:
    def __init__(self, status: int, headers, body: bytes):
        self.status, self.headers, self.text = status, headers, body.decode("utf-8", "replace")

    def links(self) -> list[str]:
        """Every URL the page would make the browser load or go to. The hreflang alternates are
        absolute, at the portal's own origin (SERVER_NAME, which pytest-flask's live_server sets to
        localhost and its port): judged as the path they hold."""
        return [
            re.sub(r"^http://localhost:\d+(?=/)", "", html.unescape(v))
            for v in re.findall(r'\s(?:href|src|action|hx-get|hx-post)="([^"]*)"', self.text)
        ]

    def link(self, name: str) -> str:
        match = re.search(r'href="([^"]*)"[^>]*>' + re.escape(name) + "<", self.text)
        assert match, f"no link {name!r} in the page"
        return html.unescape(match.group(1))

    def hidden(self, name: str) -> str:
        match = re.search(rf'<input[^>]*name="{name}"[^>]*value="([^"]*)"', self.text) or re.search(
            rf'<input[^>]*value="([^"]*)"[^>]*name="{name}"', self.text
        )
        return html.unescape(match.group(1)) if match else ""


class _KeepRedirects(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None  # the test reads each Location itself


class Visitor:
    """A browser over real HTTP: keeps its cookies, never follows a redirect by itself."""

    def __init__(self, base: str):
        self.base = base
        self.opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(CookieJar()), _KeepRedirects())
        self.token = None

    def request(self, method: str, path: str, data: dict | None = None, headers: dict | None = None) -> Answer:
        body = None
        if data is not None:
            body = urlencode({"csrf_token": self.token or "", **data}).encode()
        request = urllib.request.Request(
            self.base + path, data=body, method=method, headers={"Referer": self.base + "/", **(headers or {})}
        )
        try:
            with self.opener.open(request, timeout=15) as response:
                answer = Answer(response.status, response.headers, response.read())
        except urllib.error.HTTPError as error:
            answer = Answer(error.code, error.headers, error.read())
        token = CSRF_RE.search(answer.text)
        if token:
            self.token = token.group(1)
        assert answer.status < 500, f"{method} {path}: {answer.status}"
        return answer

    def get(self, path, **headers) -> Answer:
        return self.request("GET", path, headers=headers)

    def post(self, path, data=None, **headers) -> Answer:
        if self.token is None:  # a visitor who only read has no session nor token: the dialog starts them (issue #16)
            self.get("/account/login")
        return self.request("POST", path, data or {}, headers)


def with_next(path: str, target: str) -> str:
    return f"{path}?{urlencode({'next': target})}"


class Findings:
    """Everything that left the site, gathered over the whole table and reported at once."""

    def __init__(self):
        self.problems: list[str] = []

    def destination(self, where: str, hostile: str, answer: Answer) -> str:
        """The Location of a redirect, or the HX-Redirect of an HTMX answer."""
        target = answer.headers.get("HX-Redirect") or answer.headers.get("Location")
        if target is None:
            self.problems.append(f"{where} {hostile!r}: no redirect ({answer.status})")
            return "/"
        self.check(where, hostile, target, carried=False)
        return target

    def check(self, where: str, hostile: str, url: str, *, carried: bool = True) -> None:
        """``url`` stays on the site; with ``carried``, so does the ``next`` it carries into a step."""
        if not stays_on_site(url):
            self.problems.append(f"{where} {hostile!r}: leaves the site: {url!r}")
        for value in parse_qs(urlsplit(url).query).get("next", []) if carried else ():
            if not stays_on_site(value):
                self.problems.append(f"{where} {hostile!r}: carries next={value!r} in {url!r}")

    def page(self, where: str, hostile: str, answer: Answer) -> None:
        """Every link of a page stays on the site (where one leads to a step, that step is
        checked in turn when the test follows it)."""
        for url in answer.links():
            if not url.startswith("#"):  # "Skip to content" and the like: this very page
                self.check(f"{where} (link)", hostile, url, carried=False)

    def assert_none(self):
        assert not self.problems, f"{len(self.problems)} problems:\n" + "\n".join(self.problems[:40])


@pytest.fixture
def app_config():
    # one address per hostile value, a dozen requests each: no send throttle or rate limit in the way
    return {
        "CODE_RESEND_INTERVAL_SECONDS": 0,
        "CODE_SENDS_PER_HOUR": 10_000,
        "CODE_SENDS_PER_SOURCE_PER_HOUR": 10_000,
        "RATELIMIT_PER_IP": "100000 per minute",
        "RATELIMIT_PER_ADDRESS": "100000 per minute",
    }


ADDRESSES = itertools.count()


def register(live_portal, visitor: Visitor, hostile: str, findings: Findings, headers: dict) -> str:
    """Register → code → welcome (→ subscribe) with ``next`` = ``hostile``, checking every answer."""
    email = f"redirect{next(ADDRESSES)}@example.org"
    findings.page("register page", hostile, visitor.get(with_next("/account/register", hostile), **headers))
    findings.destination(
        "register", hostile, visitor.post("/account/register", registration(email, next=hostile), **headers)
    )
    code = live_portal.mailbox.code_after(email, seen=0)
    findings.destination("verify", hostile, visitor.post("/account/verify", {"code": code}, **headers))
    welcome = visitor.get("/account/welcome", **headers)
    findings.page("welcome", hostile, welcome)
    findings.check("welcome: continue", hostile, welcome.link("Continue to the page you were on"))
    # subscribing: with HTMX the offer comes back in place; without, a 303 back to the welcome page
    subscribed = visitor.post("/newsletter/subscribe", **headers)
    if headers:
        findings.page("offer after subscribing", hostile, subscribed)
    else:
        welcome_again = visitor.get(findings.destination("subscribe", hostile, subscribed))
        findings.page("welcome after subscribing", hostile, welcome_again)
    return email


def in_turn(number: int, first: dict, second: dict) -> dict:
    return first if number % 2 else second


def test_register_verify_and_welcome_stay_on_the_site(live_portal):
    findings = Findings()
    for number, hostile in enumerate(HOSTILE):  # every other value in the dialog (HTMX)
        register(live_portal, Visitor(live_portal.url), hostile, findings, in_turn(number, HTMX, {}))
    findings.assert_none()


@pytest.mark.parametrize("htmx", [False, True], ids=["pages", "htmx"])
def test_log_in_and_log_out_stay_on_the_site(live_portal, htmx):
    findings = Findings()
    email = register(live_portal, Visitor(live_portal.url), "/", findings, {})
    headers = HTMX if htmx else {}
    login = {"email": email, "password": GOOD_PASSWORD}
    for hostile in HOSTILE:
        visitor = Visitor(live_portal.url)
        page = visitor.get(with_next("/account/login", hostile), **headers)
        findings.page("login page", hostile, page)
        findings.destination(
            "log in", hostile, visitor.post("/account/login", {**login, "next": page.hidden("next")}, **headers)
        )
        visitor.get("/")  # the page behind, with the logged-in session's token
        findings.destination("log out", hostile, visitor.post("/account/logout", {"next": hostile}, **headers))
        if page.hidden("next") != hostile:  # a forged form posts the raw value
            visitor = Visitor(live_portal.url)
            findings.destination(
                "log in", hostile, visitor.post("/account/login", {**login, "next": hostile}, **headers)
            )
    findings.assert_none()


def test_password_reset_and_its_return_link_stay_on_the_site(live_portal):
    findings = Findings()
    email = register(live_portal, Visitor(live_portal.url), "/", findings, {})
    passwords = itertools.cycle([NEW_PASSWORD, GOOD_PASSWORD])
    for number, hostile in enumerate(HOSTILE):
        headers, password = in_turn(number, {}, HTMX), next(passwords)
        visitor = Visitor(live_portal.url)
        findings.page("reset page", hostile, visitor.get(with_next("/account/reset", hostile), **headers))
        seen = len(live_portal.mailbox.to(email))
        findings.destination(
            "reset", hostile, visitor.post("/account/reset", {"email": email, "next": hostile}, **headers)
        )
        code = live_portal.mailbox.code_after(email, seen)
        findings.destination("reset code", hostile, visitor.post("/account/reset/code", {"code": code}, **headers))
        findings.destination(
            "new password",
            hostile,
            visitor.post("/account/reset/password", {"password": password, "confirm": password}, **headers),
        )
        done = visitor.get("/account/reset/done", **headers)
        findings.page("reset done", hostile, done)
        back = done.link("Return to the page you were on and log in")
        findings.check("reset done: return", hostile, back)
        login = visitor.get(back if stays_on_site(back) else "/account/login", **headers)
        answer = visitor.post(
            "/account/login", {"email": email, "password": password, "next": login.hidden("next")}, **headers
        )
        findings.destination("log in after reset", hostile, answer)
    findings.assert_none()


def test_the_login_required_redirect_stays_on_the_site(live_portal):
    findings = Findings()
    email = register(live_portal, Visitor(live_portal.url), "/", findings, {})
    # the page asked for is "the page you were on": hostile values in its query, hostile-looking paths
    paths = [
        with_next(path, hostile) for path, hostile in zip(itertools.cycle(["/account", "/account/welcome"]), HOSTILE)
    ]
    paths += [
        "//evil.example/account",
        "/account//evil.example",
        "/%2F%2Fevil.example/account",
        "/account/?next=//evil.example",
    ]
    for number, path in enumerate(paths):
        headers = in_turn(number, HTMX, {})
        visitor = Visitor(live_portal.url)
        answer = visitor.get(path, **headers)
        if answer.status == 404:
            continue  # no such page: nothing to log in for
        login_url = findings.destination("login required", path, answer)
        findings.check("login required", path, login_url)  # and the page it carries along
        page = visitor.get(login_url if stays_on_site(login_url) else "/account/login", **headers)
        answer = visitor.post(
            "/account/login", {"email": email, "password": GOOD_PASSWORD, "next": page.hidden("next")}, **headers
        )
        findings.destination("log in after login required", path, answer)
    findings.assert_none()


@pytest.mark.parametrize("htmx", [False, True], ids=["pages", "htmx"])
def test_a_local_page_with_non_ascii_characters_is_kept(live_portal, htmx):
    """Headers are ASCII: HX-Redirect carries "/conditions?q=café" percent-encoded, as Location does
    (it used to go out raw, and the server dropped the connection on a character beyond Latin-1)."""
    findings = Findings()
    email = register(live_portal, Visitor(live_portal.url), "/", findings, {})
    for local in ("/conditions?q=café", "/conditions?q=日本"):
        visitor = Visitor(live_portal.url)
        visitor.get(with_next("/account/login", local))
        answer = visitor.post(
            "/account/login", {"email": email, "password": GOOD_PASSWORD, "next": local}, **(HTMX if htmx else {})
        )
        assert findings.destination("log in", local, answer) == "/conditions?q=" + quote(local.partition("=")[2])
    findings.assert_none()
