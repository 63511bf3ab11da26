"""1. Bytes of each dialog step: the HTMX partial vs the full page at the same URL (Flask test client)."""

from __future__ import annotations

import gzip
from pathlib import Path

from harness.client import CSRF_RE, HTMX, registration
from harness.servers import SECRET_KEY, latest_code

PARTIAL_LIMIT = 3 * 1024


def measure(db_path: Path) -> list[dict]:
    from app import create_app

    app = create_app(
        {
            "SECRET_KEY": SECRET_KEY,
            "SQLALCHEMY_DATABASE_URI": f"sqlite:///{db_path}",
            "BCRYPT_ROUNDS": 4,  # sizes do not depend on the cost; keep this part fast
            "MAIL_DISPATCH": "worker",
            "RATELIMIT_ENABLED": False,
            "LOG_LEVEL": "WARNING",
            "SERVER_NAME": "localhost",  # the test client's host; production config requires one
        }
    )
    client = app.test_client()
    rows = []

    def token() -> str:
        return CSRF_RE.search(client.get("/").get_data(as_text=True)).group(1)

    def compare(step: str, url: str, expect: int = 200) -> None:
        full, partial = client.get(url), client.get(url, headers=HTMX)
        for response in (full, partial):
            if response.status_code != expect:
                raise RuntimeError(f"{step}: GET {url} gave {response.status_code}, expected {expect}")
        rows.append(row(step, f"GET {url}", full.get_data(), partial.get_data()))

    compare("register", "/account/register")
    compare("login", "/account/login")

    # The register step as swapped back with every field's error message (a 422 re-render).
    empty = {"csrf_token": token()}
    full = client.post("/account/register", data=empty)
    partial = client.post("/account/register", data=empty, headers=HTMX)
    if full.status_code != 422 or partial.status_code != 422:
        raise RuntimeError(f"register with errors: {full.status_code}/{partial.status_code}, expected 422")
    rows.append(
        row(
            "register, all errors",
            "POST /account/register (empty)",
            full.get_data(),
            partial.get_data(),
            goal_step=False,
        )
    )

    address = "sizes@example.org"
    response = client.post("/account/register", data={**registration(address), "csrf_token": token()}, headers=HTMX)
    if response.status_code != 303:
        raise RuntimeError(f"register: {response.status_code}, expected 303")
    compare("verify code", "/account/verify")

    response = client.post(
        "/account/verify", data={"code": latest_code(db_path, address), "csrf_token": token()}, headers=HTMX
    )
    if response.status_code != 303:
        raise RuntimeError(f"verify: {response.status_code}, expected 303")
    compare("welcome", "/account/welcome")
    return rows


def row(step: str, request: str, full: bytes, partial: bytes, goal_step: bool = True) -> dict:
    """``goal_step`` False: an extra row (an error re-render) shown for information, not in the section verdict."""
    return {
        "step": step,
        "goal_step": goal_step,
        "request": request,
        "full_bytes": len(full),
        "partial_bytes": len(partial),
        "partial_gzip_bytes": len(gzip.compress(partial, 6)),
        "partial_share": round(len(partial) / len(full), 3),
        "limit_bytes": PARTIAL_LIMIT,
        "pass": len(partial) <= PARTIAL_LIMIT,
    }
