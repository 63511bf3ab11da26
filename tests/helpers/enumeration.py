"""Comparing answers for enumeration (docs/security.md, Enumeration): an answer as its status,
headers and body, without what differs from one request to the next anyway (the CSRF token, the
address as typed, the limiter's own headers)."""

from __future__ import annotations

import re

CSRF_VALUE = re.compile(r'(name="csrf_token" value=|"X-CSRFToken": )"[^"]+"')


def normalised(response, address) -> tuple | None:
    if response is None:
        return None
    body = CSRF_VALUE.sub("TOKEN", response.get_data(as_text=True)).replace(address, "ADDRESS")
    # the limiter's own headers count requests per address and say when its window ends: not the account
    headers = {
        k: v
        for k, v in response.headers.items()
        if not k.startswith("X-RateLimit-") and k not in ("Retry-After", "Set-Cookie", "Date")
    }
    return response.status_code, headers, body
