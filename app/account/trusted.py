"""The "do not ask again on this browser" cookie: the account's id and a key, signed; the key's
row (app/flows/second_factor.py) is what makes it count, so deleting the rows revokes every copy."""

from __future__ import annotations

from datetime import timedelta

from flask import current_app, request
from itsdangerous import BadSignature, URLSafeSerializer

from ..flows import second_factor
from ..urls import PREFIX

COOKIE = "trusted_browser"
# Read only by the log-in step, at its English URL and its French one (app/i18n.py): one copy each
PATHS = ("/account", PREFIX + "/account")


def _serializer() -> URLSafeSerializer:
    return URLSafeSerializer(current_app.config["SECRET_KEY"], salt="trusted-browser")


def recognised(user) -> bool:
    try:
        user_id, key = _serializer().loads(request.cookies.get(COOKIE, ""))
    except (BadSignature, TypeError, ValueError):
        return False
    return user_id == user.id and second_factor.browser_trusted(user, key)


def remember(response, user):
    value = _serializer().dumps([user.id, second_factor.trust_browser(user)])
    secure = current_app.config.get("SESSION_COOKIE_SECURE") or request.is_secure
    for path in PATHS:
        response.set_cookie(
            COOKIE,
            value,
            max_age=int(timedelta(days=second_factor.TRUST_DAYS).total_seconds()),
            httponly=True,
            samesite="Lax",
            secure=bool(secure),
            path=path,
        )
    return response
