"""Scale-out (issue #7): two gunicorn app servers behind nginx, sharing the database and Redis.

The cluster and the proofs are harness/scaleout.py's (``python -m bench.scaleout`` runs the same
code with longer load); here they run once per module on PostgreSQL from TEST_DATABASE_URL
(a fresh schema in that database) or, without it, on one SQLite file both servers share.
"""

from __future__ import annotations

import os

import pytest

from harness import scaleout

from .helpers.services import nginx_installed, required

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    # Redis and nginx are part of the set-up
    required(f"Redis at {scaleout.REDIS_URL}", lambda: scaleout.redis_client(scaleout.REDIS_URL))
    required("nginx", nginx_installed)
    database = os.environ.get("TEST_DATABASE_URL") or "sqlite"
    with scaleout.started(
        tmp_path_factory.mktemp("scaleout"), database, bcrypt_rounds=4, file_mib=64, report=lambda message: None
    ) as running:
        yield running


def test_a_flow_started_on_one_server_is_finished_on_the_other(cluster):
    result = scaleout.flow_across(cluster)
    done = [(s["step"], s["server"], s["status"], s["goes_to"]) for s in result["steps"]]
    assert done == [
        ("POST with a wrong CSRF token is refused", "B", 400, ""),
        ("register", "A", 303, "/account/verify"),
        ("the code step, from the session", "B", 200, ""),
        ("verify the mailed code", "B", 303, "/account/welcome"),
        ("account page: logged in", "A", 200, ""),
        ("log out", "B", 200, "/"),
        ("account page: logged out", "A", 303, "/account/login?next=/account"),
        ("log in", "A", 200, "/account"),
        ("account page: logged in again", "B", 200, ""),
        ("ask for a reset code", "B", 303, "/account/reset/code"),
        ("enter the reset code", "A", 303, "/account/reset/password"),
        ("set the new password", "A", 303, "/account/reset/done"),
        ("old password refused", "A", 422, ""),
        ("new password works", "B", 200, "/account"),
    ]
    # all three through SMTP, from the one mail worker (flask outbox send --loop) both servers share
    first, second, third = result["mail_subjects"]
    assert first.startswith("Your verification code:") and second.startswith("Your code to reset your password:")
    assert third.endswith("password was changed")
    assert result["pass"]


def test_rate_limits_are_counted_across_both_servers(cluster):
    result = scaleout.limits_across(cluster)
    limit = scaleout.ADDRESS_LIMIT
    assert [(r["server"], r["status"]) for r in result["redis"]] == (
        list(zip("ABABA", [303] * limit, strict=True)) + [("A", 429), ("B", 429)]
    )
    # The same POSTs on two servers that count in their own memory: none refused, as neither
    # server saw more than the limit, until one server alone gets its sixth.
    assert [(r["server"], r["status"]) for r in result["memory"]] == (
        list(zip("ABABAABA", [303] * 8, strict=True)) + [("A", 429)]
    )
    assert result["pass"]


def test_downloads_are_handed_to_nginx(cluster):
    result = scaleout.download_handoff(cluster)
    app, front = result["app"], result["nginx"]
    assert app["status"] == 200 and app["body_bytes"] == 0
    assert app["x_accel_redirect"] == f"/protected-media/{cluster.stored_name}"
    assert app["content_disposition"].startswith("attachment; filename=")
    assert front["status"] == 200 and front["x_accel_redirect"] is None
    assert front["body_bytes"] == front["content_length"] == cluster.size == 64 * 1024 * 1024
    assert front["content_disposition"] == app["content_disposition"]
    assert result["internal_location_from_outside"] == 404
    assert result["anonymous"]["status"] == 303 and result["anonymous"]["body_bytes"] < 1024
    assert result["pass"]


def test_slow_downloads_hold_nginx_connections_while_the_catalogue_answers(cluster, capsys):
    result = scaleout.slow_downloads_and_catalogue(
        cluster, downloads=100, rate=64 * 1024, seconds=15, clients=2, report=lambda message: None
    )
    catalogue = result["catalogue"]
    with capsys.disabled():
        print(
            f"\nscale-out: 100 downloads at 64 KB/s, {result['still_running_at_end']} still running;"
            f" catalogue {catalogue['requests']} requests, p50 {catalogue['p50_ms']} ms,"
            f" p99 {catalogue['p99_ms']} ms, {catalogue['failures']} failures;"
            f" app requests per server {result['requests_by_server']}"
        )
    assert result["answered"] == 100 and result["statuses"] == {"200": 100}
    assert result["errors"] == 0 and result["finished_early"] == 0
    # every download still reading at the end, each one an open nginx connection, with 4 app workers
    assert result["still_running_at_end"] == 100
    assert result["nginx_active_connections"] > 100 > result["app_workers"]
    assert catalogue["failures"] == 0 and catalogue["requests"] >= 100
    assert catalogue["p99_ms"] < 500
    assert min(result["requests_by_server"].values()) > 0  # nginx balanced over A and B
