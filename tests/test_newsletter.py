"""Newsletter (docs/portal.md, Newsletter): consent, one-click unsubscribe (RFC 8058), the digest."""

import json
import re
from datetime import timedelta

import pytest
from sqlalchemy import delete

from app.extensions import db
from app.flows import newsletter
from app.models import NewsletterDelivery, OutboxMessage, Story, User, utcnow
from app.outbox import deliver
from harness.mailbox import code_in, raw_header, text_of

from .helpers.catalogue_data import load, story_entry
from .helpers.portal import build_app, dispose, last_code, outbox, post, registration

pytestmark = pytest.mark.smtp


@pytest.fixture
def app_config():
    return {"SERVER_NAME": "media.example.org", "PREFERRED_URL_SCHEME": "https"}


def subscriber(app, email, mailbox=None):
    """Registered, verified and subscribed; ``mailbox``: the code comes by SMTP (a sent mail keeps no code)."""
    client = app.test_client()
    post(client, "/account/register", registration(email))
    code = code_in(mailbox.wait_for(email)[-1]) if mailbox else last_code(app, email)
    post(client, "/account/verify", {"code": code})
    post(client, "/newsletter/subscribe")
    return client


def recent(slug, days_ago, title=None):
    published = (utcnow() - timedelta(days=days_ago)).date().isoformat()
    return story_entry(slug, title or slug.replace("-", " ").title(), published, summary=f"Summary of {slug}.")


def digests(app, address=None):
    return [m for m in outbox(app, address) if m.kind == "newsletter"]


def send(app, *args):
    return app.test_cli_runner().invoke(args=["newsletter", "send", *args])


def test_consent_records_when_and_how(app):
    subscriber(app, "ann@example.org")
    with app.app_context():
        user = db.session.query(User).one()
        assert user.newsletter_opt_in_at is not None and user.newsletter_opt_in_source == "welcome"


def test_digest_has_only_new_stories_and_goes_once(app, tmp_path):
    subscriber(app, "ann@example.org")
    subscriber(app, "bob@example.org")
    load(app, tmp_path / "a", [recent("old-story", 30), recent("fresh-story", 2), recent("newer-story", 1)])
    dry = send(app, "--dry-run")
    assert "Fresh Story" in dry.output and "Old Story" not in dry.output and "would queue a digest for 2" in dry.output
    assert digests(app) == []
    result = send(app)
    assert "Queued 2 digests" in result.output
    [mail] = digests(app, "ann@example.org")
    assert mail.body_text.index("Newer Story") < mail.body_text.index("Fresh Story")
    assert "Old Story" not in mail.body_text
    assert "https://media.example.org/stories/fresh-story" in mail.body_text
    assert "Summary of fresh-story." in mail.body_text and "Summary of fresh-story." in mail.body_html
    headers = json.loads(mail.headers_json)
    assert re.fullmatch(r"<https://media\.example\.org/newsletter/unsubscribe/[\w.-]+>", headers["List-Unsubscribe"])
    assert headers["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert "No new stories" in send(app).output  # twice: nothing twice
    assert len(digests(app)) == 2
    load(app, tmp_path / "b", [recent("tomorrows-news", 0)])
    with app.app_context():  # published "now": after the last issue's cut-off
        db.session.query(Story).filter_by(slug="tomorrows-news").update({"published_at": utcnow()})
        db.session.commit()
    assert "Queued 2 digests" in send(app).output
    assert "Tomorrows News" in digests(app, "ann@example.org")[-1].body_text
    assert "Fresh Story" not in digests(app, "ann@example.org")[-1].body_text


def test_unverified_and_unsubscribed_people_get_nothing(app, tmp_path):
    subscriber(app, "ann@example.org")
    post(app.test_client(), "/account/register", registration("unverified@example.org"))
    load(app, tmp_path, [recent("fresh", 1)])
    send(app)
    assert digests(app, "unverified@example.org") == [] and len(digests(app, "ann@example.org")) == 1


def test_an_interrupted_run_resumes_without_duplicates(app, tmp_path, monkeypatch):
    for n in range(5):
        subscriber(app, f"user{n}@example.org")
    load(app, tmp_path, [recent("fresh", 1)])
    from app import mails

    real, calls = mails.queue_digest, []

    def crash_on_fourth(user, stories, token):
        calls.append(user.email)
        if len(calls) == 4:
            raise RuntimeError("killed")
        real(user, stories, token)

    monkeypatch.setattr(mails, "queue_digest", crash_on_fourth)
    assert send(app, "--batch-size", "2").exit_code != 0
    monkeypatch.setattr(mails, "queue_digest", real)
    assert len(digests(app)) == 2  # the first batch was committed, the second rolled back
    assert "Queued 3 digests" in send(app, "--batch-size", "2").output
    assert sorted(m.recipient for m in digests(app)) == [f"user{n}@example.org" for n in range(5)]
    with app.app_context():
        assert db.session.query(NewsletterDelivery).count() == 5


def token_for(app, email):
    with app.app_context():
        return newsletter.unsubscribe_token(db.session.query(User).filter_by(email=email).one())


def is_subscribed(app, email):
    with app.app_context():
        return db.session.query(User).filter_by(email=email).one().newsletter_opt_in_at is not None


def test_unsubscribe_link_shows_a_page_with_one_button(app):
    subscriber(app, "ann@example.org")
    url = f"/newsletter/unsubscribe/{token_for(app, 'ann@example.org')}"
    stranger = app.test_client()
    page = stranger.get(url)
    assert page.status_code == 200 and "Stop sending the" in page.get_data(as_text=True)
    assert is_subscribed(app, "ann@example.org")  # a GET (link preview, virus scanner) changes nothing
    done = stranger.post(url)
    assert done.status_code == 200 and "You have been unsubscribed" in done.get_data(as_text=True)
    assert not is_subscribed(app, "ann@example.org")
    assert "You are not subscribed" in stranger.get(url).get_data(as_text=True)


def test_rfc_8058_one_click_post_needs_no_session_and_no_csrf(app):
    subscriber(app, "ann@example.org")
    response = app.test_client().post(
        f"/newsletter/unsubscribe/{token_for(app, 'ann@example.org')}",
        data="List-Unsubscribe=One-Click",
        content_type="application/x-www-form-urlencoded",
    )
    assert response.status_code == 200 and not is_subscribed(app, "ann@example.org")


@pytest.mark.parametrize("token", ["nonsense", "eyJ1IjoxLCJlIjoiYW5uQGV4YW1wbGUub3JnIn0.tampered", "x" * 600, "%00"])
def test_tampered_links_get_a_clear_page(app, token):
    subscriber(app, "ann@example.org")
    for method in ("get", "post"):
        response = getattr(app.test_client(), method)(f"/newsletter/unsubscribe/{token}")
        assert response.status_code in (400, 404)
        if response.status_code == 400:
            assert "This unsubscribe link does not work" in response.get_data(as_text=True)
    assert is_subscribed(app, "ann@example.org")


def test_a_token_signed_for_another_purpose_does_not_work(app):
    from itsdangerous import URLSafeSerializer

    subscriber(app, "ann@example.org")
    with app.app_context():
        user_id = db.session.query(User).one().id
    forged = URLSafeSerializer(app.config["SECRET_KEY"], salt="another-salt").dumps(
        {"u": user_id, "e": "ann@example.org"}
    )
    assert app.test_client().post(f"/newsletter/unsubscribe/{forged}").status_code == 400
    assert is_subscribed(app, "ann@example.org")


def test_unsubscribing_drops_digests_not_yet_sent(app, tmp_path):
    subscriber(app, "ann@example.org")
    load(app, tmp_path, [recent("fresh", 1)])
    send(app)
    assert len(digests(app, "ann@example.org")) == 1
    app.test_client().post(f"/newsletter/unsubscribe/{token_for(app, 'ann@example.org')}")
    assert digests(app, "ann@example.org") == []


def test_the_outbox_skips_a_digest_for_someone_no_longer_subscribed(app, tmp_path):
    subscriber(app, "ann@example.org")
    load(app, tmp_path, [recent("fresh", 1)])
    send(app)
    with app.app_context():  # unsubscribed by some other path that left the queued mail in place
        db.session.query(User).update({"newsletter_opt_in_at": None})
        db.session.commit()
    app.test_cli_runner().invoke(args=["outbox", "send"])
    with app.app_context():
        digest = db.session.query(OutboxMessage).filter_by(kind="newsletter").one()
        assert digest.sent_at is None and digest.last_error == "cancelled: unsubscribed"


def test_a_digest_deleted_just_after_its_claim_is_not_sent(app, tmp_path, monkeypatch):
    """Unsubscribing deletes queued digests, even one a sender has just claimed: the sender then
    finds no row, and has nothing to send (no error)."""
    subscriber(app, "ann@example.org")
    load(app, tmp_path, [recent("fresh", 1)])
    send(app)
    with app.app_context():
        digest_id = db.session.query(OutboxMessage.id).filter_by(kind="newsletter").scalar()
        commit = db.session.commit

        def commit_then_unsubscribe():  # the claim is committed; another request deletes the row
            commit()
            monkeypatch.setattr(db.session, "commit", commit)
            with db.engine.begin() as connection:
                connection.execute(delete(OutboxMessage).where(OutboxMessage.id == digest_id))

        monkeypatch.setattr(db.session, "commit", commit_then_unsubscribe)
        assert deliver(digest_id) is None
        assert db.session.get(OutboxMessage, digest_id) is None


def test_deleting_the_account_stops_the_newsletter(app, tmp_path):
    client = subscriber(app, "ann@example.org")
    load(app, tmp_path, [recent("fresh", 1)])
    send(app)
    from .helpers.portal import GOOD_PASSWORD

    post(client, "/account/delete", {"delete_password": GOOD_PASSWORD})
    assert digests(app) == []


def test_a_digest_arrives_by_smtp_with_one_click_headers(database_url, tmp_path, smtp):
    app = build_app(
        database_url,
        tmp_path / "instance",
        MAIL_SERVER="127.0.0.1",
        MAIL_PORT=smtp.port,
        MAIL_DISPATCH="thread",
        SERVER_NAME="media.example.org",
        PREFERRED_URL_SCHEME="https",
    )
    try:
        subscriber(app, "ann@example.org", smtp.mailbox)
        load(app, tmp_path, [recent("fresh-story", 1)])
        send(app)
        assert "1 sent" in app.test_cli_runner().invoke(args=["outbox", "send"]).output
        digest = [m for m in smtp.mailbox.wait_for("ann@example.org", count=2) if "new stor" in m["Subject"]][0]
        # the bytes the SMTP server got, as RFC 8058 shows them: one line each, not folded, not
        # RFC 2047-encoded (a parsed value would hide an encoded or folded header)
        assert raw_header(digest, "List-Unsubscribe-Post") == b"List-Unsubscribe-Post: List-Unsubscribe=One-Click\r\n"
        line = raw_header(digest, "List-Unsubscribe").decode("ascii")
        match = re.fullmatch(
            r"List-Unsubscribe: <(https://media\.example\.org/newsletter/unsubscribe/[\w.-]+)>\r\n", line
        )
        assert match, line
        link = match.group(1)
        assert link in text_of(digest)
        assert "https://media.example.org/stories/fresh-story" in text_of(digest)
        path = link.replace("https://media.example.org", "")
        assert (
            app.test_client()
            .post(path, data="List-Unsubscribe=One-Click", content_type="application/x-www-form-urlencoded")
            .status_code
            == 200
        )
        assert not is_subscribed(app, "ann@example.org")
    finally:
        dispose(app)


@pytest.mark.parametrize(
    "app_config",
    [{"SERVER_NAME": "media.example.org", "PREFERRED_URL_SCHEME": "https", "RATELIMIT_PER_ADDRESS": "2 per minute"}],
)
def test_the_welcome_steps_subscribe_button_is_rate_limited_per_account(app, app_config):
    client = subscriber(app, "ann@example.org")  # its first subscribe
    assert [post(client, "/newsletter/subscribe").status_code for _ in range(2)] == [303, 429]
