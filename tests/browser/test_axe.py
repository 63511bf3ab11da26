"""axe-core (pinned in package.json, copied beside these tests by the Makefile) on every page and
every dialog step: JavaScript on and off, a phone and a laptop, English and French. Any
violation, of any impact, fails."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from ..helpers.axe import violations
from ..helpers.browser import LAPTOP, PHONE, settled
from ..helpers.catalogue_data import SLUG, load_stories
from ..helpers.dialog import mailed_code, open_dialog_step
from ..helpers.portal import GOOD_PASSWORD
from ..helpers.second_factor_helpers import give_second_factor

VIEWPORTS = {"phone": PHONE, "laptop": LAPTOP}
PAGES = [
    "/",
    "/?q=antalya",
    f"/stories/{SLUG}",
    "/conditions",
    "/no-such-page",
    "/account/register",
    "/account/login",
    "/account/reset",
]
HEADER_LINKS = {"en": ("Log in", "Register"), "fr": ("Se connecter", "S’inscrire")}


def fill_registration(step, email: str) -> None:
    """By the fields' names: the labels are in the page's language."""
    for name, value in (
        ("email", email),
        ("first_name", "Ann"),
        ("last_name", "Lee"),
        ("organisation", "Example Broadcasting"),
        ("password", GOOD_PASSWORD),
        ("confirm", GOOD_PASSWORD),
    ):
        step.locator(f"input[name={name}]").fill(value)
    step.locator("input[name=accept_conditions]").check()


def journey(page, url: str, lang: str, javascript: bool, live_portal) -> list[str]:
    """Every page, then the account steps (in the dialog with JavaScript, as pages without)."""
    found = []
    page.goto(f"{url}/?lang={lang}")
    for path in PAGES:
        page.goto(url + path)
        found += violations(page, path)
    email = f"axe-{lang}-{'js' if javascript else 'nojs'}-{page.viewport_size['width']}@example.org"
    if javascript:
        log_in, register = HEADER_LINKS[lang]
        for link in (log_in, register):
            open_dialog_step(page, url, link)
            found += violations(page, f"dialog {link}")
            page.keyboard.press("Escape")
        step = open_dialog_step(page, url, register)
        step.locator("button[type=submit]").click()
        expect(step.locator(".has-error").first).to_be_visible()
        settled(step)
        found += violations(page, "dialog register with errors")
        fill_registration(step, email)
        step.locator("button[type=submit]").click()
        expect(step.locator("input[name=code]")).to_be_visible()
        settled(step)
        found += violations(page, "dialog code step")
    else:
        page.goto(url + "/account/register")
        step = page.locator("#account-step")
        step.locator("button[type=submit]").click()
        found += violations(page, "register with errors")
        fill_registration(page.locator("#account-step"), email)
        page.locator("#account-step button[type=submit]").click()
        expect(page.locator("input[name=code]")).to_be_visible()
        found += violations(page, "code step")
    step = page.locator("#account-step")
    step.locator("input[name=code]").fill(mailed_code(live_portal, email))
    step.locator("button[type=submit]").first.click()
    expect(step.locator(".success")).to_be_visible()
    found += violations(page, "welcome step")
    page.goto(url + "/account")
    found += violations(page, "account page")
    for path in ("/account/two-step", "/account/two-step/authenticator"):  # two-step sign-in (issue #19)
        page.goto(url + path)
        found += violations(page, path)
    return found


@pytest.mark.parametrize("lang", ["en", "fr"])
@pytest.mark.parametrize("javascript", [True, False], ids=["js", "nojs"])
@pytest.mark.parametrize("viewport", list(VIEWPORTS))
def test_no_axe_violations(new_page, live_portal, tmp_path, lang, javascript, viewport):
    load_stories(live_portal, tmp_path)
    # axe is put into the page as a script of its own: the portal's CSP (script-src 'self') would refuse it
    page = new_page(
        java_script_enabled=True,
        viewport=VIEWPORTS[viewport],
        bypass_csp=True,
        locale="fr-FR" if lang == "fr" else "en-GB",
    )
    if not javascript:
        # the portal's own scripts (htmx, portal.js) stay out; axe still runs in the page
        page.route("**/static/vendor/htmx.min.js", lambda route: route.abort())
        page.route("**/static/js/portal.js", lambda route: route.abort())
    assert journey(page, live_portal.url, lang, javascript, live_portal) == []


STAFF_EMAIL = "axe.staff@example.org"


def staff_pages(live_portal, tmp_path) -> list[str]:
    """The staff area's pages, with something in each: a story imported with its files (the editor
    and the upload panel), a download (the figures), audit rows and a staff member (the promotion)."""
    from datetime import timedelta

    from app.extensions import db
    from app.flows import downloads
    from app.models import Rendition, Story, User, utcnow

    from ..helpers.staff_data import staff_client

    app = live_portal.app
    load_stories(live_portal, tmp_path)
    staff_client(app, STAFF_EMAIL)
    with app.app_context():
        user = db.session.query(User).filter_by(email=STAFF_EMAIL).one()
        downloads.record(
            user,
            db.session.query(Rendition).filter_by(is_preview=False).first(),
            bytes_sent=1000,
            range_header=None,
            window=timedelta(hours=6),
            now=utcnow() - timedelta(days=1),
        )
        story = db.session.query(Story).filter_by(slug=SLUG).one().id
        db.session.remove()
    return [
        "/staff/",
        "/staff/?q=antalya",
        "/staff/stories/new",
        f"/staff/stories/{story}",
        f"/staff/stories/{story}/preview",
        "/staff/stats",
        "/staff/stats?days=365",
        "/staff/audit",
        "/staff/people",
        f"/staff/uploads/story/{story}",
    ]


# every viewport with JavaScript on and off in English; French on each viewport once
STAFF_RUNS = [
    ("phone", True, "en"),
    ("phone", False, "en"),
    ("laptop", True, "en"),
    ("laptop", False, "en"),
    ("phone", True, "fr"),
    ("laptop", False, "fr"),
]


@pytest.mark.parametrize(
    "viewport, javascript, lang", STAFF_RUNS, ids=[f"{v}-{'js' if j else 'nojs'}-{lang}" for v, j, lang in STAFF_RUNS]
)
def test_no_axe_violations_in_the_staff_area(new_page, live_portal, tmp_path, javascript, viewport, lang, shot):
    pages = staff_pages(live_portal, tmp_path)
    page = new_page(
        java_script_enabled=True,
        viewport=VIEWPORTS[viewport],
        bypass_csp=True,
        base_url=live_portal.url,
        locale="fr-FR" if lang == "fr" else "en-GB",
    )
    if not javascript:
        page.route("**/static/vendor/*.js", lambda route: route.abort())
        page.route("**/static/js/*.js", lambda route: route.abort())
    page.goto("/account/login?next=/staff/")
    page.locator("input[name=email]").fill(STAFF_EMAIL)
    page.locator("input[name=password]").fill(GOOD_PASSWORD)
    page.locator("#account-step form button[type=submit]").first.click()
    give_second_factor(page, live_portal.app, STAFF_EMAIL)  # staff sign in with a second factor
    expect(page.locator(".staff-head h1")).to_be_visible()
    if lang == "fr":
        page.goto("/staff/?lang=fr")
    if viewport == "phone":
        staff_bar_is_compact(page, rows=1 if lang == "en" else 2)
    found = []
    for path in pages:
        page.goto(path)
        found += violations(page, path)
        shot(page, f"{path.strip('/').replace('/', '-') or 'list'}")
    page.goto("/staff/stories/new")  # the editor with an error under a field
    page.locator(".editor button[value=save]").first.click()
    expect(page.locator(".editor .has-error").first).to_be_visible()
    found += violations(page, "editor with errors")
    assert found == []


def staff_bar_is_compact(page, rows: int) -> None:
    """On a phone the staff bar is ``rows`` rows of links inside the screen, with room above the page's title."""
    links = [page.locator(".staff-nav a").nth(n).bounding_box() for n in range(page.locator(".staff-nav a").count())]
    assert len(links) == 5 and len({round(box["y"]) for box in links}) == rows, links
    assert all(box["x"] >= 0 and box["x"] + box["width"] <= page.viewport_size["width"] for box in links), links
    bar, title = page.locator(".staff-bar").bounding_box(), page.locator(".staff-head h1").bounding_box()
    assert bar["height"] <= 48 * rows and title["y"] >= bar["y"] + bar["height"] + 8, (bar, title)
