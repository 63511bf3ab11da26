"""The account's own data (issue #18): the list of the person's downloads on the account page,
and "Download my data" (GDPR articles 15 and 20)."""

import json
from datetime import datetime, timedelta

import pytest

from app.extensions import db
from app.models import Download, Rendition, User

from .helpers.catalogue_data import load, story_entry
from .helpers.french import assert_french, visible
from .helpers.portal import post, register_and_verify

SECTION = {"HX-Request": "true", "HX-Target": "account-downloads"}


@pytest.fixture
def renditions(app, tmp_path):
    load(
        app,
        tmp_path,
        [
            story_entry("antalya", "Ministers meet in Antalya"),
            story_entry("baltic", "Ships train in the Baltic", published="2025-03-02"),
        ],
    )
    with app.app_context():
        rows = db.session.query(Rendition).filter_by(is_preview=False).order_by(Rendition.id).all()
        return {row.video.story.slug: row.id for row in rows}


@pytest.fixture
def ann(app, client):
    register_and_verify(client, app)
    return client


def user_id(app, email="ann@example.org"):
    with app.app_context():
        return db.session.query(User.id).filter_by(email=email).scalar()


def log_downloads(app, email, rendition_id, count, start=datetime(2026, 1, 1, 9, 0)):
    with app.app_context():
        who = user_id(app, email)
        for n in range(count):
            db.session.add(
                Download(user_id=who, rendition_id=rendition_id, at=start + timedelta(hours=n), bytes_sent=n)
            )
        db.session.commit()


def section(page: str) -> str:
    start = page.index('<section id="account-downloads"')
    return page[start : page.index("</section>", start)]


def test_the_account_page_lists_my_downloads_newest_first(app, ann, renditions):
    assert "You have not downloaded any files yet." in ann.get("/account").get_data(as_text=True)
    assert ann.get(f"/download/{renditions['baltic']}").status_code == 200
    log_downloads(app, "ann@example.org", renditions["antalya"], 1)
    register_and_verify(app.test_client(), app, "bob@example.org")
    log_downloads(app, "bob@example.org", renditions["antalya"], 3, start=datetime(2026, 2, 1))
    listed = section(ann.get("/account").get_data(as_text=True))
    assert listed.count("<tr>") == 3  # the head and my two, none of Bob's
    assert listed.index("Ships train in the Baltic") < listed.index("Ministers meet in Antalya")
    assert "HD 1080p25" in listed and "1 January 2026 at 09:00 UTC" in listed


def test_the_list_is_paged(app, ann, renditions):
    app.config["ACCOUNT_DOWNLOADS_PAGE_SIZE"] = 10
    log_downloads(app, "ann@example.org", renditions["antalya"], 25)
    first = section(ann.get("/account").get_data(as_text=True))
    assert first.count("<tr>") == 11 and "Page 1 of 3" in first and "Newer downloads" not in first
    assert "2 January 2026 at 09:00 UTC" in first  # the newest: 1 January 09:00 + 24 hours
    assert 'href="/account?page=2#account-downloads"' in first
    response = ann.get("/account?page=3", headers=SECTION)
    body = response.get_data(as_text=True)
    assert response.status_code == 200 and body.lstrip().startswith('<section id="account-downloads"')
    assert body.count("<tr>") == 6 and "1 January 2026 at 09:00 UTC" in body and "Older downloads" not in body
    for junk in ("999999", "0", "-1", "x", "9" * 40, "2.5", ""):
        page = ann.get(f"/account?page={junk}", headers=SECTION)
        assert page.status_code == 200 and "Page " in page.get_data(as_text=True), junk
    assert "Page 3 of 3" in ann.get("/account?page=999999", headers=SECTION).get_data(as_text=True)


def test_a_removed_file_is_still_listed(app, ann, renditions):
    log_downloads(app, "ann@example.org", renditions["antalya"], 1)
    with app.app_context():
        db.session.delete(db.session.get(Rendition, renditions["antalya"]))
        db.session.commit()
    listed = section(ann.get("/account").get_data(as_text=True))
    assert "Story removed" in listed and "File removed" in listed


def download_my_data(client):
    return post(client, "/account/data")


def test_download_my_data(app, ann, renditions):
    post(ann, "/newsletter/subscribe")
    ann.get(f"/download/{renditions['antalya']}")
    register_and_verify(app.test_client(), app, "bob@example.org")
    log_downloads(app, "bob@example.org", renditions["baltic"], 2)
    response = download_my_data(ann)
    assert response.status_code == 200 and response.mimetype == "application/json"
    assert response.headers["Cache-Control"] == "no-store"
    assert response.headers["Content-Disposition"].startswith('attachment; filename="account-data-20')
    data = json.loads(response.get_data(as_text=True))
    account = data["account"]
    assert (account["email"], account["first_name"], account["last_name"], account["organisation"]) == (
        "ann@example.org",
        "Ann",
        "Lee",
        "Example Broadcasting",
    )
    assert account["created_at"].endswith("Z") and account["email_verified_at"]
    consents = data["consents"]
    assert consents["conditions_of_use"]["accepted_at"] == account["created_at"]
    assert consents["newsletter"]["subscribed"] is True and consents["newsletter"]["subscribed_at"]
    [download] = data["downloads"]  # mine only
    assert (download["story"], download["story_address"], download["file"]) == (
        "Ministers meet in Antalya",
        "antalya",
        "HD 1080p25",
    )
    assert download["bytes_sent"] > 0 and download["at"].endswith("Z")
    assert len(data["logins"]) == 1 and [code["purpose"] for code in data["codes_sent"]] == ["verify"]
    text = response.get_data(as_text=True)
    with app.app_context():
        user = db.session.query(User).filter_by(email="ann@example.org").one()
        secrets = (user.password_hash, user.session_token)
    assert not any(secret in text for secret in secrets) and "bob@example.org" not in text


def test_download_my_data_only_for_the_logged_in_person(app, client):
    response = download_my_data(client)
    assert response.status_code == 303 and response.headers["Location"].startswith("/account/login")
    assert client.post("/account/data").status_code == 400  # no CSRF token


@pytest.mark.parametrize("app_config", [{"RATELIMIT_PER_ADDRESS": "2 per minute"}])
def test_download_my_data_is_rate_limited(app, app_config, ann):
    assert [download_my_data(ann).status_code for _ in range(3)] == [200, 200, 429]


def test_the_sections_in_french(app, ann, renditions):
    app.config["ACCOUNT_DOWNLOADS_PAGE_SIZE"] = 1
    log_downloads(app, "ann@example.org", renditions["antalya"], 2)
    page = ann.get("/fr/account").get_data(as_text=True)
    assert "Vos téléchargements" in page and "Télécharger mes données" in page and "1 janvier 2026" in page
    # the story's own title is in English (no translation) and marked so
    assert_french(visible(page), "account page")
    assert_french(visible(ann.get("/fr/account?page=2", headers=SECTION).get_data(as_text=True)), "page 2")
