"""Headers and cookies (docs/security.md, Headers; issue #7): every response — pages, files, HTMX partials and
errors — carries the CSP, nosniff and Referrer-Policy; HSTS only when the request is known to be
HTTPS; account pages are never stored; cookies are HttpOnly, SameSite=Lax and Secure on HTTPS.
X-Forwarded-For / -Proto count only when TRUSTED_PROXIES says a proxy sets them.

The routes come from ``app.url_map``: a new page is checked without anyone listing it here."""

from __future__ import annotations

import pytest
from werkzeug.middleware.proxy_fix import ProxyFix

from app import create_app
from app.urls import NEUTRAL_ENDPOINTS

from .helpers.headers import assert_security_headers
from .helpers.portal import (
    BASE_CONFIG,
    GOOD_PASSWORD,
    HTMX,
    age_codes,
    csrf_token,
    last_code,
    post,
    register_and_verify,
    registration,
)
from .helpers.routes import (
    MEMBER,
    REQUEST_KINDS,
    STAFF_STORY_PAGES,
    load_catalogue,
    route_samples,
    routes,
    upload_samples,
)
from .helpers.second_factor_helpers import set_up_authenticator
from .helpers.staff_data import staff_client

SAFE_METHODS = {"GET", "HEAD", "OPTIONS"}
CATALOGUE_PARTIALS = [{"HX-Request": "true", "HX-Target": "results"}, {"HX-Request": "true", "HX-Target": "load-more"}]


def assert_never_stored(response, where: str) -> None:
    """A page made for a logged-in person: no cache keeps it, so Back after log out asks again."""
    directives = {part.strip() for part in response.headers.get("Cache-Control", "").split(",")}
    assert {"no-store"} <= directives and directives <= {"no-store", "private"}, f"{where}: {directives}"


# --- the route walk ----------------------------------------------------------------------


def browser_states(app) -> dict[str, object]:
    """One client per place a person can be: before anything, between registering and the code,
    logged in (and subscribed), in a password reset before and after the code; and the press
    office's staff."""
    anonymous = app.test_client()
    verifying = app.test_client()
    post(verifying, "/account/register", registration("walk.new@example.org", next="/conditions"))
    member = app.test_client()
    register_and_verify(member, app, MEMBER)
    post(member, "/newsletter/subscribe")
    age_codes(app, minutes=2)  # past the resend interval since the registration code
    granted = app.test_client()
    post(granted, "/account/reset", {"email": MEMBER})
    assert post(granted, "/account/reset/code", {"code": last_code(app, MEMBER)}).status_code == 303
    resetting = app.test_client()
    post(resetting, "/account/reset", {"email": MEMBER, "next": "/conditions"})
    staff = staff_client(app, "walk.staff@example.org")
    two_step = app.test_client()  # the password typed, the second factor asked for
    register_and_verify(two_step, app, "walk.two-step@example.org")
    set_up_authenticator(two_step, app, "walk.two-step@example.org")
    assert (
        post(two_step, "/account/login", {"email": "walk.two-step@example.org", "password": GOOD_PASSWORD}).headers[
            "Location"
        ]
        == "/account/two-step/sign-in"
    )
    return {
        "anonymous": anonymous,
        "verifying": verifying,
        "member": member,
        "resetting": resetting,
        "granted": granted,
        "staff": staff,
        "second factor": two_step,
    }


def test_every_get_route_in_every_state_has_the_security_headers(app, tmp_path):
    catalogue = load_catalogue(app, tmp_path)
    states = browser_states(app)
    urls = routes(app, route_samples(app, catalogue), {"GET"})
    answered = {(rule.endpoint, url.startswith("/fr/")): set() for rule, url in urls}
    for state, client in states.items():
        # every kind of request over HTTP; pages over HTTPS too for the two states that differ most
        requests = [(kind, headers, "http") for kind, headers in REQUEST_KINDS.items()]
        if state in ("anonymous", "member"):
            requests += [(kind, headers, "https") for kind, headers in REQUEST_KINDS.items() if kind != "htmx dialog"]
        for rule, url in urls:
            for kind, headers, scheme in requests:
                response = client.get(url, headers=headers, base_url=f"{scheme}://localhost")
                assert response.status_code < 500, f"{state} {kind} {url}: {response.status_code}"
                assert_security_headers(response, url, https=scheme == "https")
                if state == "member" and response.mimetype == "text/html":
                    assert_never_stored(response, f"{state} {kind} {url}")
                answered[rule.endpoint, url.startswith("/fr/")].add(response.status_code)
                response.close()
    for headers in CATALOGUE_PARTIALS:
        for url in ("/?q=antalya", "/?page=2"):
            response = states["anonymous"].get(url, headers=headers)
            assert response.status_code == 200 and "<html" not in response.get_data(as_text=True)
            assert_security_headers(response, url, https=False)
    # every route was seen as a real page (or file) in some state, not only as a redirect, at its
    # English URL and its French one; a neutral endpoint (a file, a feed) has no French URL
    assert {
        key for key, codes in answered.items() if not codes & {200, 206} and key[0] not in NEUTRAL_ENDPOINTS
    } == set(), answered
    assert {
        key for key, codes in answered.items() if key[0] in NEUTRAL_ENDPOINTS and key[1] and codes != {404}
    } == set()
    assert {
        "media.index",
        "account.register",
        "account.verify",
        "account.welcome",
        "account.reset_code",
        "account.reset_password",
        "account.index",
        "newsletter.unsubscribe",
        "staff.index",
        "staff.new",
        "staff.edit",
        "staff.preview",
        "media.conditions",
        "media.privacy",
        "media.accessibility",
        "account.two_step",
        "account.two_step_authenticator",
        "account.two_step_sign_in",
    } <= {endpoint for endpoint, _ in answered}


def test_head_and_options_answers_have_the_security_headers(client, app):
    for _, url in routes(app, route_samples_without_catalogue(), SAFE_METHODS):
        for method in ("HEAD", "OPTIONS"):
            response = client.open(url, method=method)
            assert response.status_code < 500
            assert_security_headers(response, url, https=False)


def route_samples_without_catalogue() -> dict[str, dict]:
    """Ids and names of things that do not exist: the 404s must carry the headers too."""
    return {
        "static": {"filename": "nope.css"},
        "media.story": {"slug": "no-such-story"},
        "media.feed": {"language": "en"},
        "media.category_feed": {"language": "fr", "category_slug": "no-such-category"},
        "media.preview": {"rendition_id": 999},
        "media.poster": {"video_id": 999},
        "media.download": {"rendition_id": 999},
        "media.captions_file": {"caption_id": 999},
        "newsletter.unsubscribe": {"token": "not-a-token"},
        **{f"staff.{name}": {"story_id": 999} for name in STAFF_STORY_PAGES},
        "staff.statistics_csv": {"key": "nothing"},
        "staff.demote": {"user_id": 999},
        **upload_samples(999),
        "account.two_step_rename_passkey": {"passkey_id": 999},
        "account.two_step_remove_passkey": {"passkey_id": 999},
    }


def test_pages_shown_to_a_logged_in_person_are_never_stored(app, tmp_path):
    """Back after log out must not show the name: the browser keeps no copy of a page that
    carried it. Visitors' pages are the same for everyone and are not made no-store by this."""
    catalogue = load_catalogue(app, tmp_path)
    member, visitor = app.test_client(), app.test_client()
    register_and_verify(member, app, MEMBER)
    for url in (
        "/",
        "/?q=antalya",
        f"/stories/{catalogue.slug}",
        "/conditions",
        "/privacy",
        "/accessibility",
        "/no-such-page",
    ):
        response = member.get(url)
        assert "Log out" in response.get_data(as_text=True), url
        assert_never_stored(response, url)
        assert "no-store" not in visitor.get(url).headers.get("Cache-Control", ""), url


# --- errors -----------------------------------------------------------------------------


def raise_an_unexpected_error():
    raise RuntimeError("a bug in a view (registered only in this test's app)")


@pytest.mark.parametrize("app_config", [{"RATELIMIT_PER_ADDRESS": "1 per minute", "MAX_CONTENT_LENGTH": 10_000}])
def test_error_responses_have_the_security_headers(app, app_config):
    app.add_url_rule("/test-only/error", "test_only_error", raise_an_unexpected_error)
    client = app.test_client()
    wrong_login = {"email": "nobody@example.org", "password": "Wrong-password-1"}

    def too_many(headers):  # the second reset request for one address within the minute
        data = {"email": f"limit-{len(headers)}@example.org", "csrf_token": csrf_token(client)}
        client.post("/account/reset", data=data, headers=headers)
        return client.post("/account/reset", data=data, headers=headers)

    errors = {
        "/no-such-page": (404, lambda h: client.get("/no-such-page", headers=h)),
        "/stories/no-such-story": (404, lambda h: client.get("/stories/no-such-story", headers=h)),
        "/account/no-such-step": (404, lambda h: client.get("/account/no-such-step", headers=h)),
        "/account/logout": (405, lambda h: client.get("/account/logout", headers=h)),
        "/account/login": (
            413,
            lambda h: client.post(
                "/account/login", headers=h, data={"csrf_token": csrf_token(client), "x": "y" * 20_000}
            ),
        ),
        "/account/register": (
            400,
            lambda h: client.post("/account/register", data=wrong_login, headers=h),
        ),  # no CSRF token
        "/account/reset": (429, too_many),
        "/test-only/error": (500, lambda h: client.get("/test-only/error", headers=h)),
    }
    for path, (status, request) in errors.items():
        for kind, headers in (("page", {}), ("htmx step", HTMX)):
            response = request(headers)
            assert response.status_code == status, f"{path} {kind}: {response.status_code}"
            assert_security_headers(response, path, https=False)
            assert "Traceback" not in response.get_data(as_text=True)


def test_database_down_answer_has_the_security_headers(tmp_path):
    app = create_app(
        {
            **BASE_CONFIG,
            "INSTANCE_PATH": str(tmp_path),
            "SQLALCHEMY_DATABASE_URI": "postgresql://nobody@127.0.0.1:1/none",
        }
    )
    client = app.test_client()
    login = {"email": "ann@example.org", "password": GOOD_PASSWORD}
    for path, response in (("/", client.get("/")), ("/account/login", post(client, "/account/login", login))):
        assert response.status_code == 503
        assert_security_headers(response, path, https=False)


# --- cookies ----------------------------------------------------------------------------


def set_cookies(response) -> dict[str, set[str]]:
    """Set-Cookie headers by cookie name: their attributes, lower-cased (``secure``, ``samesite=lax``)."""
    cookies = {}
    for header in response.headers.getlist("Set-Cookie"):
        name = header.split("=", 1)[0]
        cookies[name] = {part.strip().lower() for part in header.split(";")[1:]}
    return cookies


def log_in_remembered(app, client, **request_options):
    register_and_verify(app.test_client(), app, MEMBER)
    client.get("/account/login", **request_options)
    data = {"email": MEMBER, "password": GOOD_PASSWORD, "remember": "y", "csrf_token": csrf_token(client)}
    return client.post("/account/login", data=data, **request_options)


def test_cookies_over_plain_http_are_httponly_and_lax(app):
    response = log_in_remembered(app, app.test_client(), headers={"Referer": "http://localhost/"})
    assert response.status_code == 303
    cookies = set_cookies(response)
    for name in ("session", "remember_token"):
        assert {"httponly", "samesite=lax"} <= cookies[name], (name, cookies)
        assert "secure" not in cookies[name], "a Secure cookie would never come back over plain HTTP"


@pytest.mark.parametrize("app_config", [{"TRUSTED_PROXIES": 1, "PREFERRED_URL_SCHEME": "https"}])
def test_behind_an_https_proxy_the_login_cookies_are_secure(app, app_config):
    client = app.test_client()
    # what nginx sends: the connection comes from the proxy, the client and scheme in headers
    proxy = {"environ_base": {"REMOTE_ADDR": "127.0.0.1"}}
    forwarded = {"X-Forwarded-For": "203.0.113.7", "X-Forwarded-Proto": "https"}
    response = log_in_remembered(
        app, client, headers={**forwarded, "Referer": "https://localhost/account/login"}, **proxy
    )
    assert response.status_code == 303, response.get_data(as_text=True)
    cookies = set_cookies(response)
    for name in ("session", "remember_token"):
        assert {"httponly", "samesite=lax", "secure"} <= cookies[name], (name, cookies)
    assert_security_headers(response, "/account/login", https=True)
    # The request counts as HTTPS, so Flask-WTF checks the Referer: the same-origin one that
    # Referrer-Policy lets browsers send passes (above); none, or another site's, does not.
    data = {"email": MEMBER, "password": GOOD_PASSWORD, "csrf_token": csrf_token(client)}
    for referer in ({}, {"Referer": "https://evil.example/"}, {"Referer": "http://localhost/"}):
        refused = client.post("/account/login", data=data, headers={**forwarded, **referer}, **proxy)
        assert refused.status_code == 400, referer


@pytest.mark.parametrize("app_config", [{"PREFERRED_URL_SCHEME": "https", "SESSION_COOKIE_SECURE": False}])
def test_an_explicit_cookie_setting_wins_over_the_scheme(app, app_config):
    assert app.config["SESSION_COOKIE_SECURE"] is False and app.config["REMEMBER_COOKIE_SECURE"] is True


# --- proxies ----------------------------------------------------------------------------

LIMITS = {"RATELIMIT_PER_IP": "2 per minute", "RATELIMIT_PER_ADDRESS": "100 per minute"}


def failed_login(client, forwarded_for: str, **headers) -> int:
    data = {"email": "someone@example.org", "password": "Wrong-password-1", "csrf_token": csrf_token(client)}
    return client.post(
        "/account/login",
        data=data,
        environ_base={"REMOTE_ADDR": "127.0.0.1"},
        headers={"X-Forwarded-For": forwarded_for, "Referer": "http://localhost/", **headers},
    ).status_code


@pytest.mark.parametrize("app_config", [LIMITS])
def test_without_trusted_proxies_forwarded_headers_change_nothing(app, app_config):
    assert app.wsgi_app.__class__ is not ProxyFix
    client = app.test_client()
    # a client cannot buy new attempts by inventing addresses: all of these are 127.0.0.1
    assert [failed_login(client, f"198.51.100.{n}") for n in range(3)] == [422, 422, 429]
    response = client.get("/", headers={"X-Forwarded-Proto": "https"})
    assert_security_headers(response, "/", https=False)


@pytest.mark.parametrize("app_config", [{**LIMITS, "TRUSTED_PROXIES": 1}])
def test_with_one_trusted_proxy_its_client_address_and_scheme_count(app, app_config):
    client = app.test_client()
    assert [failed_login(client, "203.0.113.1") for _ in range(3)] == [422, 422, 429]
    assert failed_login(client, "203.0.113.2") == 422  # another client behind the proxy has its own budget
    # nginx appends the address it saw; whatever the client wrote before it is not believed
    assert failed_login(client, "203.0.113.2, 203.0.113.1") == 429
    assert_security_headers(client.get("/", headers={"X-Forwarded-Proto": "https"}), "/", https=True)
    assert_security_headers(client.get("/", headers={"X-Forwarded-Proto": "http"}), "/", https=False)
    assert_security_headers(client.get("/"), "/", https=False)


def test_trusted_proxies_setting(tmp_path, monkeypatch):
    monkeypatch.setenv("FLASK_TRUSTED_PROXIES", "2")
    app = create_app({**BASE_CONFIG, "INSTANCE_PATH": str(tmp_path)})
    assert isinstance(app.wsgi_app, ProxyFix) and app.wsgi_app.x_for == 2 and app.wsgi_app.x_proto == 2
    assert app.wsgi_app.x_host == 0  # Host comes from nginx's own "proxy_set_header Host"
    for wrong in ("-1", "true", '"1"', "1.5"):
        monkeypatch.setenv("FLASK_TRUSTED_PROXIES", wrong)
        with pytest.raises(RuntimeError, match="TRUSTED_PROXIES"):
            create_app({**BASE_CONFIG, "INSTANCE_PATH": str(tmp_path)})


def test_log_out_deletes_the_remember_cookie(app):
    client = app.test_client()
    assert log_in_remembered(app, client, headers={"Referer": "http://localhost/"}).status_code == 303
    assert client.get_cookie("remember_token") is not None
    response = post(client, "/account/logout", {"next": "/conditions"})
    assert response.status_code == 303
    assert client.get_cookie("remember_token") is None, "the remember-me cookie outlives the log out"
    assert "Log out" not in client.get("/conditions").get_data(as_text=True)  # not logged in again by it
