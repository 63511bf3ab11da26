"""The privacy notice and the accessibility statement beside the conditions of use (issue #18):
default texts in English and French, linked from every page's footer and from the register step,
and each replaced by the operator's own file in instance/pages/ without touching the code."""

from pathlib import Path

import pytest

from .helpers.french import assert_french, visible

PAGES = {"/conditions": "Conditions of use", "/privacy": "Privacy notice", "/accessibility": "Accessibility statement"}
FRENCH_TITLES = {
    "/conditions": "Conditions d’utilisation",
    "/privacy": "Politique de confidentialité",
    "/accessibility": "Déclaration d’accessibilité",
}


def pages_folder(app) -> Path:
    folder = Path(app.instance_path) / "pages"
    folder.mkdir(parents=True, exist_ok=True)
    return folder


@pytest.mark.parametrize("url", sorted(PAGES))
def test_default_pages_in_both_languages(client, url):
    english = client.get(url)
    assert english.status_code == 200 and f"<h1>{PAGES[url]}</h1>" in english.get_data(as_text=True)
    assert f"<title>{PAGES[url]} · " in english.get_data(as_text=True)
    french = client.get("/fr" + url).get_data(as_text=True)
    assert f"<h1>{FRENCH_TITLES[url]}</h1>" in french
    assert_french(visible(french), url)


def test_the_privacy_notice_says_what_the_portal_keeps(app, client):
    app.config["OUTBOX_RETENTION_DAYS"] = 9
    page = client.get("/privacy").get_data(as_text=True)
    for kept in (
        "email address",
        "bcrypt hash",
        "Logins",
        "at most 30 days",
        "Downloads",
        "deleted 9 days later",
        "Audit log",
        "<code>session</code>",
        "<code>remember_token</code>",
        "<code>lang</code>",
        "Download my data",
        'href="/account"',
    ):
        assert kept in page, kept


def test_every_page_links_to_the_three_pages_and_the_register_step_to_the_privacy_notice(client):
    footer = client.get("/").get_data(as_text=True)
    for url in PAGES:
        assert f'<a href="{url}">' in footer, url
    register = client.get("/account/register", headers={"HX-Request": "true", "HX-Target": "dialog-body"})
    assert 'href="/privacy"' in register.get_data(as_text=True)


@pytest.mark.parametrize("url", sorted(PAGES))
def test_the_operator_replaces_a_page_in_each_language(app, client, url):
    name = url.strip("/")
    folder = pages_folder(app)
    (folder / f"{name}.en.html").write_text(f"<h1>Our {name}</h1><p>Write to dpo@example.org.</p>", "utf-8")
    page = client.get(url).get_data(as_text=True)
    assert f"<h1>Our {name}</h1><p>Write to dpo@example.org.</p>" in page and f"<h1>{PAGES[url]}</h1>" not in page
    assert f"<title>{PAGES[url]} · " in page  # the portal's own title and layout around it
    # no French file yet: the operator's English, marked as English, rather than our default
    french = client.get("/fr" + url).get_data(as_text=True)
    assert f'<article class="wrap prose" lang="en">\n<h1>Our {name}</h1>' in french
    (folder / f"{name}.fr.html").write_text(f"<h1>Notre page {name}</h1>", "utf-8")
    french = client.get("/fr" + url).get_data(as_text=True)  # read again at once: no restart
    assert f'<article class="wrap prose">\n<h1>Notre page {name}</h1>' in french
    assert f"<h1>Our {name}</h1>" in client.get(url).get_data(as_text=True)


def test_an_operator_file_that_is_not_utf8_or_cannot_be_read_is_no_error(app, client, caplog):
    folder = pages_folder(app)
    (folder / "privacy.en.html").write_bytes(b"<p>Caf\xe9</p>")
    response = client.get("/privacy")
    assert response.status_code == 200 and "<p>Caf\ufffd</p>" in response.get_data(as_text=True)
    (folder / "accessibility.en.html").mkdir()  # a folder where the file should be: the default
    response = client.get("/accessibility")
    assert response.status_code == 200 and "<h1>Accessibility statement</h1>" in response.get_data(as_text=True)


def test_the_operator_is_trusted_but_the_content_security_policy_still_holds(app, client):
    (pages_folder(app) / "privacy.en.html").write_text("<p>Ours</p><script>alert(1)</script>", "utf-8")
    response = client.get("/privacy")
    assert "<script>alert(1)</script>" in response.get_data(as_text=True)  # placed as written
    assert "script-src" not in response.headers["Content-Security-Policy"]  # so default-src 'self': no inline script
    assert "default-src 'self'" in response.headers["Content-Security-Policy"]
