"""Passkeys in the browser tests: the account the two-step and passkey tests sign in, and the
live portal as localhost (WebAuthn names a site by its domain, never an IP address)."""

from __future__ import annotations

EMAIL = "ann@example.org"


def on_localhost(live_portal) -> str:
    """WebAuthn takes a domain as the site's name, never an IP address: the portal as localhost."""
    return live_portal.url.replace("127.0.0.1", "localhost")
