"""The security headers every response carries (docs/security.md, Headers), as a test checks
them: the CSP read into its directives, nosniff, Referrer-Policy, HSTS on HTTPS only, and
no-store on account pages."""

from __future__ import annotations

import re

# Referrer-Policy values that still send a same-origin Referer carrying scheme, host and port,
# which Flask-WTF compares with the host on HTTPS posts ("no-referrer" would break every form).
REFERRER_POLICIES_THAT_KEEP_CSRF_WORKING = {
    "same-origin",
    "strict-origin",
    "strict-origin-when-cross-origin",
    "origin",
    "origin-when-cross-origin",
}


def parse_csp(value: str) -> dict[str, list[str]]:
    directives = {}
    for part in value.split(";"):
        words = part.split()
        if words:
            assert words[0].lower() not in directives, f"directive {words[0]} twice in {value!r}"
            directives[words[0].lower()] = words[1:]
    return directives


def is_account_page(path: str) -> bool:
    """The account dialog's steps, the account page and the newsletter pages (docs/accounts.md; docs/portal.md)."""
    return bool(re.match(r"/(account|newsletter)(/|$)", path))


def assert_security_headers(response, path: str, *, https: bool) -> None:
    where = f"{response.request.method} {path} -> {response.status_code}"
    headers = response.headers
    assert "Content-Security-Policy" in headers, where
    csp = parse_csp(headers["Content-Security-Policy"])
    for directive, sources in {
        "default-src": ["'self'"],
        "object-src": ["'none'"],
        "base-uri": ["'none'"],
        "frame-ancestors": ["'none'"],
    }.items():
        assert csp.get(directive) == sources, f"{where}: {directive} is {csp.get(directive)}"
    for directive, sources in csp.items():
        allowed = {"'self'", "'none'", "data:"} if directive == "img-src" else {"'self'", "'none'"}
        assert set(sources) <= allowed, f"{where}: {directive} allows {sorted(set(sources) - allowed)}"
    assert headers.get("X-Content-Type-Options") == "nosniff", where
    assert headers.get("Referrer-Policy") in REFERRER_POLICIES_THAT_KEEP_CSRF_WORKING, where
    if https:
        assert re.fullmatch(r"max-age=(\d+)(; includeSubDomains)?", headers.get("Strict-Transport-Security", "")), where
        assert int(re.search(r"\d+", headers["Strict-Transport-Security"]).group()) >= 15_552_000, where  # ≥ 180 days
    else:
        assert "Strict-Transport-Security" not in headers, f"{where}: HSTS over plain HTTP"
    if is_account_page(path):
        assert "no-store" in headers.get("Cache-Control", ""), f"{where}: account page without no-store"
