"""Rate limits on the account steps' POSTs: one per client IP, one per email address."""
from __future__ import annotations

from flask import current_app
from flask_limiter.util import get_remote_address
from flask_login import current_user

from .extensions import limiter


def limit_posts(address_key):
    """Apply RATELIMIT_PER_IP and RATELIMIT_PER_ADDRESS (keyed by ``address_key``) to POSTs."""

    def decorate(view):
        view = limiter.limit(
            lambda: current_app.config["RATELIMIT_PER_ADDRESS"], key_func=address_key, methods=["POST"]
        )(view)
        return limiter.limit(lambda: current_app.config["RATELIMIT_PER_IP"], methods=["POST"])(view)

    return decorate


def key_for_account(user_id) -> str:
    """Rate-limit key for "per account" limits (RATELIMIT_PER_ADDRESS on forms that name no address)."""
    return f"account:{user_id}"


def account_key() -> str:
    """The logged-in person's account, for their own account forms. Log out may come from a
    browser whose login has ended already: that counts for its address, not for one key
    shared by everybody."""
    if current_user.is_authenticated:
        return key_for_account(current_user.id)
    return "ip:" + get_remote_address()
