"""Fuzzing (issue #7): whatever arrives at any route, the answer is never a 500 nor a stack trace."""
from __future__ import annotations

import pytest

from .conftest import csrf_token, registration
from .test_bad_input import nothing_written


# --- what the fuzzer found, kept as plain examples -------------------------------------------

def multipart_body(parts: list[tuple[bytes, bytes]], boundary: bytes = b"fuzz") -> bytes:
    """``parts``: (Content-Disposition parameters, value)."""
    body = b"".join(b"--" + boundary + b"\r\nContent-Disposition: form-data" + params + b"\r\n\r\n" + value + b"\r\n"
                    for params, value in parts)
    return body + b"--" + boundary + b"--\r\n"


def test_a_multipart_part_without_a_name_is_no_field(client):
    """Werkzeug files a part without a name under the key None; Flask-WTF's CSRF check then failed
    on it with a 500 whenever the token was not among the named fields."""
    token = csrf_token(client).encode()
    nameless = (b"", b"nameless")
    for parts, status in (([nameless], 400),  # no token: the form has expired, said plainly
                          ([nameless, (b'; name="csrf_token"; filename="t.txt"', token)], 400),  # the token as a file
                          ([nameless, (b'; name="csrf_token"', token), (b'; name="email"', b"x")], 422)):
        response = client.post("/account/register", data=multipart_body(parts),
                               content_type="multipart/form-data; boundary=fuzz")
        assert response.status_code == status, parts
        assert "Traceback" not in response.get_data(as_text=True)


def test_file_parts_and_json_bodies_are_not_form_fields(client, app):
    """Flask-WTF hands a form uploaded files and the values of a JSON body too; a text validator
    then met a FileStorage or a number (a 500). The forms read form fields only."""
    token = csrf_token(client)
    fields = registration()
    as_file = [(f'; name="{name}"'.encode() + (b'; filename="f.txt"' if name == "email" else b""), value.encode())
               for name, value in fields.items()] + [(b'; name="csrf_token"', token.encode())]
    response = client.post("/account/register", data=multipart_body(as_file),
                           content_type="multipart/form-data; boundary=fuzz")
    assert response.status_code == 422
    assert "Enter your email address." in response.get_data(as_text=True)
    for url, body in (("/account/register", {**fields, "email": 5}), ("/account/register", {"first_name": ["A"]}),
                      ("/account/login", {"email": {"a": 1}, "password": None}), ("/account/reset", [1, 2]),
                      ("/account/reset", "text"), ("/account/verify", {"code": 123456})):
        response = client.post(url, json=body, headers={"X-CSRFToken": token})
        assert response.status_code in (409, 422), (url, body, response.status_code)
    assert nothing_written(app)


@pytest.mark.parametrize("number", ["2147483647", "2147483648", "9223372036854775807", "999999999999999999",
                                    "99999999999999999999999"])
def test_ids_beyond_the_id_columns_are_no_page(client, number):
    """The id columns are 32-bit on PostgreSQL; a larger id in a URL was an out-of-range error there."""
    for path in ("/media/preview/", "/media/poster/", "/download/"):
        response = client.get(path + number)
        assert response.status_code == 404, (path, response.status_code)
        assert "Page not found" in response.get_data(as_text=True)
