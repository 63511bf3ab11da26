"""What a machine can check on every page: one <h1>, fields that say what they hold
(autocomplete, WCAG 1.3.5), the dialog's language switch as a labelled group."""

import re

import pytest

from .helpers.catalogue_data import STORIES, load
from .helpers.portal import HTMX, post, register_and_verify, registration

AUTOCOMPLETE = {
    "email": "email",
    "first_name": "given-name",
    "last_name": "family-name",
    "organisation": "organization",
    "code": "one-time-code",
    "current": "current-password",
    "delete_password": "current-password",
    "new_email": "email",
    "email_password": "current-password",
}


@pytest.fixture
def catalogue(app, tmp_path):
    load(
        app,
        tmp_path,
        [dict(s, video=dict(s["video"], renditions=[dict(r) for r in s["video"]["renditions"]])) for s in STORIES],
    )


def h1_count(html):
    return len(re.findall(r"<h1[\s>]", html))


def visible_inputs(html):
    return [
        tag for tag in re.findall(r"<input\b[^>]*>", html) if not re.search(r'type="(hidden|checkbox|submit)"', tag)
    ]


def check_fields(html, page):
    for tag in visible_inputs(html):
        name = re.search(r'name="([^"]+)"', tag).group(1)
        if name in ("q", "from", "to"):  # the catalogue's search form: no personal data
            continue
        wanted = "new-password" if name in ("password", "confirm") else AUTOCOMPLETE[name]
        if name == "password" and "login" in page:
            wanted = "current-password"
        assert f'autocomplete="{wanted}"' in tag, (page, tag)


VISITOR_PAGES = [
    "/",
    "/?q=antalya",
    "/stories/foreign-ministers-meet-in-antalya",
    "/conditions",
    "/account/register",
    "/account/login",
    "/account/reset",
    "/account/reset/code",
    "/account/reset/password",
    "/account/verify",
    "/no-such-page",
    "/stories/no-such-story",
    "/newsletter/unsubscribe/not-a-token",
]


@pytest.mark.parametrize("lang", ["en", "fr"])
def test_every_visitor_page_has_one_h1_and_named_fields(client, catalogue, lang):
    client.get(f"/?lang={lang}")
    for page in VISITOR_PAGES:
        html = client.get(page).get_data(as_text=True)
        assert h1_count(html) == 1, page
        check_fields(html, page)


def test_steps_in_error_and_after_have_one_h1(client, app, catalogue):
    html = post(
        client,
        "/account/register",
        registration(email="", first_name="", last_name="", organisation="", password="", confirm=""),
    ).get_data(as_text=True)
    assert h1_count(html) == 1
    check_fields(html, "/account/register")
    html = post(client, "/account/register", registration(), follow=True).get_data(as_text=True)
    assert h1_count(html) == 1 and 'autocomplete="one-time-code"' in html
    html = register_and_verify(client, app).get_data(as_text=True)
    html = client.get("/account/welcome").get_data(as_text=True)
    assert h1_count(html) == 1
    html = client.get("/account").get_data(as_text=True)
    assert h1_count(html) == 1
    check_fields(html, "/account")


def test_a_step_in_the_dialog_has_an_h2_under_the_page_h1(client):
    html = client.get("/account/register", headers=HTMX).get_data(as_text=True)
    assert h1_count(html) == 0 and '<h2 id="step-title"' in html
    check_fields(html, "/account/register")


def test_the_dialog_language_switch_is_a_labelled_group_and_close_says_what_it_shows(client):
    html = client.get("/").get_data(as_text=True)
    switch = re.search(r'<[a-z]+ [^>]*class="lang-switch lang-switch-dialog"[^>]*>', html).group(0)
    assert switch.startswith("<div") and 'role="group"' in switch and "aria-label=" in switch
    close = re.search(r'<button [^>]*class="dialog-close".*?</button>', html, re.S).group(0)
    assert "aria-label" not in close  # its name is the word it shows
    assert re.sub(r"<[^>]+>|×", "", close).strip() == "Close"
