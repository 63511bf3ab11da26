"""Bad input gets a clear message next to the field, never a 500, and nothing half-written."""

import re

import pytest

from app.extensions import db
from app.models import User

from .helpers.portal import csrf_token, nothing_written, post, registration


def field_errors(response):
    return re.findall(r'class="error" id="([a-z_]+)-error">([^<]+)', response.get_data(as_text=True))


PASSWORDS = [
    ("Ж" * 37 + "Aa1!", None),  # 78 bytes: past bcrypt's 72, still fine
    ("Aa1!" + "é" * 124, None),  # 128 characters, 252 bytes
    ("Aa1!" + "x" * 125, "at most 128 characters"),
    ("Blue Harbour 42!", "must not contain spaces"),
    ("Blue-Harbour-42!\x00", "control characters"),
    ("\x00" * 20, "control characters"),
]


@pytest.mark.parametrize("password, message", PASSWORDS)
def test_passwords(client, app, password, message):
    response = post(client, "/account/register", registration(password=password, confirm=password))
    if message is None:
        assert response.status_code == 303
        with app.app_context():
            assert db.session.query(User).count() == 1
    else:
        assert response.status_code == 422
        assert ("password",) == tuple({f for f, _ in field_errors(response) if f == "password"})
        assert message in dict(field_errors(response))["password"]
        assert nothing_written(app)


EMAILS = [
    ("ann\x00@example.org", "characters that are not allowed"),
    ("a" * 290 + "@example.org", "too long"),
    ("ann.example.org", "@-sign"),
    ("ann@", "after the @-sign"),
    ("ann@@example.org", "@-sign"),
    ("", "Enter your email address."),
    ("   ", "Enter your email address."),
    ("ann@exa mple.org", None),
]


@pytest.mark.parametrize("email, message", EMAILS)
def test_bad_emails(client, app, email, message):
    response = post(client, "/account/register", registration(email=email))
    assert response.status_code == 422
    errors = dict(field_errors(response))
    assert "email" in errors
    if message:
        assert message in errors["email"]
    assert nothing_written(app)


def test_unicode_domains_and_local_parts_are_accepted(client, app):
    assert post(client, "/account/register", registration(email="anna@bücher.example")).status_code == 303
    with app.app_context():
        assert db.session.query(User).one().email == "anna@bücher.example"


def test_ten_thousand_character_names(client, app):
    response = post(client, "/account/register", registration(first_name="A" * 10000, organisation="O" * 10000))
    assert response.status_code == 422
    errors = dict(field_errors(response))
    assert errors["first_name"] == "Please keep this under 100 characters."
    assert errors["organisation"] == "Please keep this under 200 characters."
    assert nothing_written(app)


def test_control_characters_in_names(client, app):
    response = post(client, "/account/register", registration(last_name="Lee\x00\x07"))
    assert dict(field_errors(response))["last_name"] == "This field contains characters that are not allowed."
    assert nothing_written(app)


def test_non_utf8_multipart_body_is_named_not_crashed(client, app):
    token = csrf_token(client)
    boundary = "XyZ"
    parts = []
    for name, value in registration().items():
        raw = value.encode() if name != "first_name" else b"Ann\xff\xfe\xc3("
        parts.append(b'--XyZ\r\nContent-Disposition: form-data; name="' + name.encode() + b'"\r\n\r\n' + raw + b"\r\n")
    parts.append(b'--XyZ\r\nContent-Disposition: form-data; name="csrf_token"\r\n\r\n' + token.encode() + b"\r\n")
    body = b"".join(parts) + b"--XyZ--\r\n"
    response = client.post("/account/register", data=body, content_type=f"multipart/form-data; boundary={boundary}")
    assert response.status_code == 422
    assert "could not be read" in dict(field_errors(response))["first_name"]
    assert nothing_written(app)


def test_raw_non_utf8_urlencoded_body_is_called_unreadable(client, app):
    # Werkzeug drops a urlencoded body that is not UTF-8 altogether; the CSRF check then fails.
    response = client.post(
        "/account/register",
        data=b"email=\xff\xfe\x00&csrf_token=" + csrf_token(client).encode(),
        content_type="application/x-www-form-urlencoded",
    )
    assert response.status_code == 400
    assert "could not be read" in response.get_data(as_text=True)
    assert "expired" not in response.get_data(as_text=True)
    assert nothing_written(app)


@pytest.mark.parametrize("body", [b"email=%FF%FE%00&password=%00", b"&&&==&=", b"a" * 5000])
def test_garbage_urlencoded_bodies(client, app, body):
    response = client.post(
        "/account/register",
        data=body + b"&csrf_token=" + csrf_token(client).encode(),
        content_type="application/x-www-form-urlencoded",
    )
    assert response.status_code == 422
    assert "Enter your email address." in response.get_data(as_text=True) or field_errors(response)
    assert nothing_written(app)


def test_oversized_body_gets_a_413_page(client):
    response = client.post("/account/register", data={"first_name": "A" * 2_000_000})
    assert response.status_code == 413
    assert "larger than this form accepts" in response.get_data(as_text=True)


@pytest.mark.parametrize(
    "url",
    [
        "/account/register",
        "/account/login",
        "/account/verify",
        "/account/verify/resend",
        "/account/logout",
        "/newsletter/subscribe",
    ],
)
@pytest.mark.parametrize("htmx", [False, True])
def test_every_post_endpoint_survives_empty_and_odd_requests(client, url, htmx):
    headers = {"HX-Request": "true", "HX-Target": "account-step"} if htmx else {}
    for kwargs in (
        {},
        {"data": {"csrf_token": csrf_token(client)}},
        {"data": b"\x00\xff", "content_type": "text/plain"},
        {"json": {"email": ["x"]}},
    ):
        response = client.post(url, headers=headers, **kwargs)
        assert response.status_code < 500, (url, kwargs, response.status_code)
        assert "Traceback" not in response.get_data(as_text=True)


@pytest.mark.parametrize(
    "path", ["/nope", "/account/register/%00", "/account/login?next=%00%ff", "/static/../../etc/passwd"]
)
def test_unknown_and_odd_paths(client, path):
    response = client.get(path)
    assert response.status_code in (200, 404)
    assert "Traceback" not in response.get_data(as_text=True)
