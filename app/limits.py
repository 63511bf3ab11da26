"""Rate limits on the account steps' POSTs: one per client IP, one per email address."""
from __future__ import annotations

from flask import current_app

from .extensions import limiter


def limit_posts(address_key):
    """Apply RATELIMIT_PER_IP and RATELIMIT_PER_ADDRESS (keyed by ``address_key``) to POSTs."""

    def decorate(view):
        view = limiter.limit(
            lambda: current_app.config["RATELIMIT_PER_ADDRESS"], key_func=address_key, methods=["POST"]
        )(view)
        return limiter.limit(lambda: current_app.config["RATELIMIT_PER_IP"], methods=["POST"])(view)

    return decorate
