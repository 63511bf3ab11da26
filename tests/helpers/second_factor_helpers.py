"""Second factors in tests: set up an authenticator through the pages, and read its codes."""

from __future__ import annotations

import re

from sqlalchemy import select, update

from app.extensions import db
from app.flows import second_factor
from app.models import TotpFactor, User, utcnow

from .portal import GOOD_PASSWORD, post


def totp_secret(app, email: str) -> str:
    with app.app_context():
        secret = db.session.execute(
            select(TotpFactor.secret).join(User, User.id == TotpFactor.user_id).where(User.email == email)
        ).scalar_one()
        db.session.remove()
    return secret


def totp_code(app, email: str) -> str:
    """The authenticator's code now, usable even if a code of this step was taken already (tests
    sign in more often than every 30 seconds): the account's last used step is forgotten."""
    secret = totp_secret(app, email)
    with app.app_context():
        user_id = db.session.execute(select(User.id).where(User.email == email)).scalar_one()
        db.session.execute(update(TotpFactor).where(TotpFactor.user_id == user_id).values(last_step=None))
        db.session.commit()
        db.session.remove()
    return second_factor.code_at(secret, second_factor.step_of(utcnow()))


RECOVERY_RE = re.compile(r"<code>([a-z0-9]{5}-[a-z0-9]{5})</code>")


def set_up_authenticator(client, app, email: str) -> list[str]:
    """From a logged-in browser: the set-up page, then its first code. The recovery codes shown."""
    assert client.get("/account/two-step/authenticator").status_code == 200
    response = post(client, "/account/two-step/authenticator", {"code": totp_code(app, email)})
    assert response.status_code == 200, response.get_data(as_text=True)
    return RECOVERY_RE.findall(response.get_data(as_text=True))


def log_in_with_code(client, app, email: str, password: str = GOOD_PASSWORD, code: str | None = None, **extra):
    """Password, then the second step; the answer of the second step."""
    first = post(client, "/account/login", {"email": email, "password": password, **extra})
    assert first.status_code == 303 and first.headers["Location"].endswith("/account/two-step/sign-in"), (
        first.status_code
    )
    return post(client, "/account/two-step/sign-in", {"code": code or totp_code(app, email)})


def give_second_factor(page, app, email: str) -> None:
    """In a browser that has just typed a staff account's password: the authenticator's code."""
    from playwright.sync_api import expect

    field = page.locator("#account-step input[name=code]")  # by name: the page may be in French
    expect(field).to_be_visible()
    field.fill(totp_code(app, email))
    page.locator("#account-step form button[type=submit]").first.click()
