"""Behind nginx: the client's address and scheme come from X-Forwarded-* (TRUSTED_PROXIES = 1)."""
import pytest

from .conftest import csrf_token


def reset_from(client, forwarded_for: str):
    """POST /account/reset as nginx forwards it for a client (X-Forwarded-For)."""
    data = {"email": "nobody@example.org", "next": "/", "csrf_token": csrf_token(client)}
    return client.post("/account/reset", data=data, headers={"X-Forwarded-For": forwarded_for})


@pytest.mark.parametrize("app_config", [{"TRUSTED_PROXIES": 1, "RATELIMIT_PER_IP": "2 per minute"}])
def test_behind_a_proxy_each_client_has_its_own_per_ip_limit(app, app_config):
    c = app.test_client()
    assert [reset_from(c, "203.0.113.7").status_code for _ in range(3)] == [303, 303, 429]
    assert reset_from(c, "198.51.100.4").status_code == 303  # another client behind the same nginx goes on
    # a client cannot dodge its limit with an X-Forwarded-For of its own: nginx appends the address it saw
    assert reset_from(c, "10.0.0.1, 203.0.113.7").status_code == 429


@pytest.mark.parametrize("app_config", [{"RATELIMIT_PER_IP": "2 per minute"}])
def test_without_trusted_proxies_forwarded_headers_are_ignored(app, app_config):
    c = app.test_client()
    # the address the connection came from counts, not what the header claims
    assert [reset_from(c, f"203.0.113.{n}").status_code for n in range(3)] == [303, 303, 429]
    assert "Strict-Transport-Security" not in c.get("/", headers={"X-Forwarded-Proto": "https"}).headers


@pytest.mark.parametrize("app_config", [{"TRUSTED_PROXIES": 1}])
def test_behind_a_tls_proxy_the_scheme_is_https(client, app_config):
    response = client.get("/", headers={"X-Forwarded-Proto": "https", "X-Forwarded-For": "203.0.113.7"})
    assert response.headers["Strict-Transport-Security"].startswith("max-age=")
