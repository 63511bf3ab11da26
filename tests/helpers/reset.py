"""The password reset as the route tests walk it: ask for a code, read it from the mail, choose a
new password (docs/accounts.md, Reset)."""

from __future__ import annotations

import re

from .portal import outbox, post

NEW_PASSWORD = "Green-Valley-77?"


def reset_code(app, address="ann@example.org"):
    mails = [m for m in outbox(app, address) if "reset your password" in m.subject]
    assert mails, "no reset code mailed"
    return re.search(r"^\s*(\d{6})\s*$", mails[-1].body_text, re.M).group(1)


def start_reset(client, email="ann@example.org", **kw):
    return post(client, "/account/reset", {"email": email, "next": "/conditions"}, **kw)


def login(client, password, email="ann@example.org"):
    return post(client, "/account/login", {"email": email, "password": password})


def full_reset(client, app, password=NEW_PASSWORD):
    start_reset(client)
    assert post(client, "/account/reset/code", {"code": reset_code(app)}).status_code == 303
    return post(client, "/account/reset/password", {"password": password, "confirm": password})
