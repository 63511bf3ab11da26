"""One keyed hash for every value the portal keeps or compares without keeping it readable (a
recovery code, an address in the audit log, a client's network): HMAC-SHA-256 under SECRET_KEY,
with the purpose in the message so that one value hashes differently for each use."""

from __future__ import annotations

import hashlib
import hmac

from flask import current_app


def keyed_hash(purpose: str, value: str) -> str:
    secret = current_app.config["SECRET_KEY"].encode()
    return hmac.new(secret, f"{purpose}\x00{value}".encode(), hashlib.sha256).hexdigest()
