"""Every answer that runs bcrypt on what was typed is rate-limited (the account page's own
checks are in test_account_page.py, the log in in test_login.py)."""

import pytest

from .helpers.portal import GOOD_PASSWORD, age_codes, post, register_and_verify
from .helpers.reset import reset_code, start_reset


@pytest.mark.parametrize("app_config", [{"RATELIMIT_PER_ADDRESS": "3 per minute"}])
def test_the_new_password_step_of_a_reset_is_limited_per_account(app, app_config):
    """Each try compares the new password with the old one by bcrypt: a reset grant must not
    buy an unlimited number of them."""
    register_and_verify(app.test_client(), app)
    age_codes(app, minutes=2)
    client = app.test_client()
    start_reset(client)
    assert post(client, "/account/reset/code", {"code": reset_code(app)}).status_code == 303
    same_as_old = {"password": GOOD_PASSWORD, "confirm": GOOD_PASSWORD}
    statuses = [post(client, "/account/reset/password", same_as_old).status_code for _ in range(4)]
    assert statuses == [422, 422, 422, 429]
