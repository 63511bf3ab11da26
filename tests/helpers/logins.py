"""Logins as the route tests make them: log Ann in (with "remember me" or not), ask whether a
browser is logged in, and a second browser holding copies of the first one's cookies."""

from __future__ import annotations

from .portal import GOOD_PASSWORD, post


def login(client, password=GOOD_PASSWORD, remember=False):
    data = {"email": "ann@example.org", "password": password}
    if remember:
        data["remember"] = "y"
    return post(client, "/account/login", data)


def copy_of(client, *names):
    """Another browser holding copies of ``client``'s cookies ``names`` (a stolen or kept copy)."""
    other = client.application.test_client()
    for name in names:
        cookie = client.get_cookie(name)
        assert cookie is not None, name
        other.set_cookie(name, cookie.value, domain=cookie.domain)
    return other


def logged_in(client) -> bool:
    return "Log out" in client.get("/conditions").get_data(as_text=True)
