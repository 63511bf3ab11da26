"""Gated downloads (docs/portal.md, Downloads): who may, Range, names, front-server hand-off, the log."""

import csv
import io
import re
from pathlib import Path

import pytest

from app.extensions import db
from app.flows import login_sessions
from app.models import Download, Rendition, User

from .helpers.catalogue_data import load, story_entry
from .helpers.portal import GOOD_PASSWORD, HTMX, last_code, post, register_and_verify, registration

SIZE = 300_000


@pytest.fixture
def story(app, tmp_path):
    load(
        app,
        tmp_path,
        [
            story_entry(
                "antalya",
                "Ministers in Türkiye: “2%” – Antalya",
                sizes=(("HD 1080p25", 1920, 1080, SIZE, False), ("Preview 360p", 640, 360, 4000, True)),
            )
        ],
    )
    with app.app_context():
        return db.session.query(Rendition).filter_by(is_preview=False).one().id


@pytest.fixture
def verified(app, client):
    register_and_verify(client, app)
    return client


def test_anonymous_download_leads_to_login_and_back_to_the_file(client, story):
    response = client.get(f"/download/{story}")
    assert response.status_code == 303
    assert response.headers["Location"] == f"/account/login?next=/stories/antalya?download%3D{story}&intent=download"
    htmx = client.get(f"/download/{story}", headers=HTMX)
    assert htmx.headers["HX-Redirect"].startswith("/account/login")
    login = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "Log in, or create a free account, to download this file." in login


def test_story_page_download_buttons_open_the_dialog_for_anonymous(client, story):
    body = client.get("/stories/antalya").get_data(as_text=True)
    assert 'hx-get="/account/login?next=/stories/antalya?download%3D' in body
    assert 'hx-target="#dialog-body"' in body


def test_register_verify_then_the_file_is_offered_at_once(client, app, story):
    client.get(f"/account/login?next=/stories/antalya?download%3D{story}&intent=download")
    post(client, "/account/register", registration(next=f"/stories/antalya?download={story}"))
    post(client, "/account/verify", {"code": last_code(app, "ann@example.org")})
    welcome = client.get("/account/welcome").get_data(as_text=True)
    assert f'href="/stories/antalya?download={story}"' in welcome
    assert "Your file will start downloading as soon as you continue." in welcome
    page = client.get(f"/stories/antalya?download={story}", follow_redirects=True).get_data(as_text=True)
    assert f'<meta http-equiv="refresh" content="1;url=/download/{story}">' in page
    assert "starts now" in page
    assert client.get(f"/download/{story}").status_code == 200


def test_the_offered_file_starts_once_not_again_on_reload_or_back(client, app, story):
    """The offer moves from the URL into the session and is used up by the page that shows it,
    so reloading the story, or coming Back to it, does not fetch the file a second time."""
    register_and_verify(client, app)
    switched = client.get(f"/stories/antalya?download={story}&lang=fr")  # the language switch goes first
    assert switched.status_code == 301 and switched.headers["Location"] == f"/fr/stories/antalya?download={story}"
    assert "lang=fr" in switched.headers.get("Set-Cookie", "")  # and is still remembered
    response = client.get(switched.headers["Location"])
    assert response.status_code == 303 and response.headers["Location"] == "/fr/stories/antalya"
    offered = client.get("/fr/stories/antalya").get_data(as_text=True)
    assert f'content="1;url=/download/{story}"' in offered  # a file has one URL, in no language
    again = client.get("/fr/stories/antalya").get_data(as_text=True)
    assert 'http-equiv="refresh"' not in again and f'href="/download/{story}"' in again


def test_an_offer_is_only_made_for_a_file_of_that_story_to_who_may_have_it(client, app, story):
    anonymous = client.get(f"/stories/antalya?download={story}")
    assert anonymous.status_code == 200 and 'http-equiv="refresh"' not in anonymous.get_data(as_text=True)
    register_and_verify(client, app)
    for asked in ("999999", "x", ""):  # not this story's file, or no id at all: just the page
        page = client.get(f"/stories/antalya?download={asked}")
        assert page.status_code == 200 and 'http-equiv="refresh"' not in page.get_data(as_text=True)


def test_login_with_a_pending_download_returns_to_it(client, app, story):
    register_and_verify(app.test_client(), app)
    response = post(
        client,
        "/account/login",
        {"email": "ann@example.org", "password": GOOD_PASSWORD, "next": f"/stories/antalya?download={story}"},
        htmx=True,
    )
    assert response.headers["HX-Redirect"] == f"/stories/antalya?download={story}"


def test_unverified_account_is_led_to_the_code_step(client, app, story):
    post(client, "/account/register", registration())
    with client.session_transaction() as session:  # logged in but not verified (e.g. an old session)
        with app.app_context():
            user = db.session.query(User).one()
            login_sessions.start(user)
            session["_user_id"] = user.get_id()
            session["_fresh"] = True
    from .helpers.portal import age_codes

    age_codes(app, minutes=2)
    response = client.get(f"/download/{story}")
    assert response.status_code == 303 and "/account/verify" in response.headers["Location"]
    with app.app_context():
        assert db.session.query(Download).count() == 0


def test_verified_download_headers_and_log(verified, app, story):
    response = verified.get(f"/download/{story}")
    assert response.status_code == 200 and len(response.data) == SIZE
    assert response.headers["Content-Type"] == "video/mp4"
    assert response.headers["Accept-Ranges"] == "bytes"
    assert response.headers["ETag"] and response.headers["Last-Modified"]
    disposition = response.headers["Content-Disposition"]
    assert disposition == (
        'attachment; filename="Ministers in Turkiye 2% Antalya - HD 1080p25.mp4"; '
        "filename*=UTF-8''Ministers%20in%20T%C3%BCrkiye%20%E2%80%9C2%25%E2%80%9D%20%E2%80%93%20Antalya%20-%20HD%201080p25.mp4"
    )
    ascii_part = re.search(r'filename="([^"]*)"', disposition).group(1)
    assert ascii_part.isascii() and "/" not in ascii_part and '"' not in ascii_part
    with app.app_context():
        [row] = db.session.query(Download).all()
        assert row.rendition_id == story and row.bytes_sent == SIZE and row.user_id is not None


def test_ranges_resume_and_bad_ranges(verified, app, story):
    whole = verified.get(f"/download/{story}").data
    part = verified.get(f"/download/{story}", headers={"Range": "bytes=1000-1999"})
    assert part.status_code == 206 and part.data == whole[1000:2000]
    assert part.headers["Content-Range"] == f"bytes 1000-1999/{SIZE}"
    tail = verified.get(f"/download/{story}", headers={"Range": "bytes=-500"})
    assert tail.status_code == 206 and tail.data == whole[-500:]
    resume = verified.get(f"/download/{story}", headers={"Range": f"bytes={SIZE - 10}-"})
    assert resume.status_code == 206 and resume.data == whole[-10:]
    with app.app_context():  # one person fetching one file: one download, the bytes of each answer
        [row] = db.session.query(Download).all()
        assert (row.requests, row.bytes_sent, row.range_requested) == (4, SIZE + 1000 + 500 + 10, None)
    beyond = verified.get(f"/download/{story}", headers={"Range": "bytes=999999999999-"})
    assert beyond.status_code == 416 and beyond.headers["Content-Range"] == f"bytes */{SIZE}"
    for odd in ("bytes=0-1,5-9", "bytes=abc", "items=0-1", "bytes=5-1", "bytes=" + "9" * 100 + "-", "\x00"):
        response = verified.get(f"/download/{story}", headers={"Range": odd})
        assert response.status_code in (200, 206, 416), odd
        if response.status_code == 200:
            assert len(response.data) == SIZE


def test_conditional_get_answers_304(verified, story):
    first = verified.get(f"/download/{story}")
    again = verified.get(f"/download/{story}", headers={"If-None-Match": first.headers["ETag"]})
    assert again.status_code == 304


@pytest.mark.parametrize("app_config", [{"DOWNLOAD_ACCEL": "nginx"}])
def test_nginx_hand_off(verified, app, story, app_config):
    response = verified.get(f"/download/{story}")
    assert response.status_code == 200 and response.data == b""
    assert response.headers["X-Accel-Redirect"] == "/protected-media/antalya/1-hd.mp4"
    # gunicorn refuses a "Content-Length: None" header (a 500 in production); the test client does not
    assert response.headers.get("Content-Length", "0").isdigit()
    assert response.headers["Content-Disposition"].startswith("attachment;")
    assert response.headers["Content-Type"] == "video/mp4"


def rename_stored_file(app, rendition_id, new_name):
    """A rendition whose stored name is ``new_name`` (as imported by an earlier version)."""
    with app.app_context():
        rendition = db.session.get(Rendition, rendition_id)
        media = Path(app.config["MEDIA_ROOT"])
        (media / new_name).parent.mkdir(parents=True, exist_ok=True)
        (media / rendition.filename).rename(media / new_name)
        rendition.filename = new_name
        db.session.commit()


@pytest.mark.parametrize("app_config", [{"DOWNLOAD_ACCEL": "nginx"}])
def test_nginx_hand_off_percent_encodes_the_path(verified, app, story, app_config):
    """A header is Latin-1 (gunicorn answered a name outside it with a 500, after logging the
    download), and nginx reads ? as the start of arguments, # as a fragment and % as an escape."""
    rename_stored_file(app, story, "antalya/Kyïv 東京 100% ?a=1 #2.mp4")
    response = verified.get(f"/download/{story}")
    assert response.status_code == 200
    assert response.headers["X-Accel-Redirect"] == (
        "/protected-media/antalya/Ky%C3%AFv%20%E6%9D%B1%E4%BA%AC%20100%25%20%3Fa%3D1%20%232.mp4"
    )
    assert all(value.isascii() and value.isprintable() for _, value in response.headers)


@pytest.mark.parametrize("app_config", [{"DOWNLOAD_ACCEL": "nginx"}, {"DOWNLOAD_ACCEL": "sendfile"}, {}])
def test_head_and_refused_ranges_are_not_logged(verified, app, story, app_config):
    """Only an answer that sends the file (200, 206 to a GET) is a download; with a front server the
    app answers a Range it cannot satisfy itself (416), and logs the bytes the range asks for."""
    head = verified.head(f"/download/{story}")
    assert head.status_code == 200
    beyond = verified.get(f"/download/{story}", headers={"Range": f"bytes={SIZE}-"})
    assert beyond.status_code == 416 and beyond.headers["Content-Range"] == f"bytes */{SIZE}"
    assert "X-Accel-Redirect" not in beyond.headers and "X-Sendfile" not in beyond.headers
    with app.app_context():
        assert db.session.query(Download).count() == 0
    part = verified.get(f"/download/{story}", headers={"Range": "bytes=1000-1999"})
    assert part.status_code == (206 if not app_config else 200)  # the front server answers 206 itself
    with app.app_context():
        assert [row.bytes_sent for row in db.session.query(Download)] == [1000]


@pytest.mark.parametrize("app_config", [{"DOWNLOAD_ACCEL": "nginx"}])
def test_odd_ranges_with_a_front_server(verified, app, story, app_config):
    """What nginx ignores (a Range it cannot read) is a whole download; what it cannot satisfy, a 416."""
    expected = {
        "bytes=0-1,5-9": SIZE,
        "bytes=abc": SIZE,
        "items=0-1": SIZE,
        "\x00": SIZE,
        "bytes=" + "9" * 100 + "-": None,
        f"bytes={SIZE - 10}-": 10,
        "bytes=-500": 500,
        "bytes=0-": SIZE,
    }
    for header, sent in expected.items():
        response = verified.get(f"/download/{story}", headers={"Range": header})
        assert response.status_code == (416 if sent is None else 200), header
    with app.app_context():
        [row] = db.session.query(Download).all()
    sent = [sent for sent in expected.values() if sent is not None]
    assert (row.requests, row.bytes_sent) == (len(sent), sum(sent))


@pytest.mark.parametrize("app_config", [{"DOWNLOAD_ACCEL": "nginx"}, {"DOWNLOAD_ACCEL": "sendfile"}, {}])
def test_any_range_header_in_any_mode(verified, app, story, app_config):
    """Fuzzing the Range header of a download, with and without a front server: never a 500, and
    a download is logged for each answer that sends bytes, and for nothing else."""
    from hypothesis import HealthCheck, given, settings
    from hypothesis import strategies as st

    answers = []
    ranges = (
        st.text(max_size=30)
        | st.sampled_from(["\x00", "bytes=0-1\x00", "\x7fbytes=0-1", "bytes=\t0-1"])
        | st.sampled_from(["bytes=0-1", "bytes=-5", "bytes=5-", "bytes=0-0,2-3"]).flatmap(
            lambda good: st.text(max_size=3).map(lambda junk: good + junk)
        )
    )

    @settings(
        max_examples=40,
        derandomize=True,
        deadline=None,
        database=None,
        suppress_health_check=[HealthCheck.function_scoped_fixture],
    )
    @given(header=ranges, method=st.sampled_from(["GET", "HEAD"]))
    def run_one(header, method):
        response = verified.open(f"/download/{story}", method=method, headers={"Range": header})
        assert response.status_code in (200, 206, 416), (header, response.status_code)
        answers.append(method == "GET" and response.status_code != 416)

    run_one()
    with app.app_context():
        assert sum(row.requests for row in db.session.query(Download)) == sum(answers)


@pytest.mark.parametrize("app_config", [{"DOWNLOAD_ACCEL": "sendfile"}])
def test_x_sendfile_hand_off_only_with_a_name_a_header_can_carry(verified, app, story, app_config):
    rename_stored_file(app, story, "antalya/Kyïv 東京.mp4")
    response = verified.get(f"/download/{story}")
    assert "X-Sendfile" not in response.headers and len(response.data) == SIZE  # the app sends it itself
    assert all(value.isascii() and value.isprintable() for _, value in response.headers)


@pytest.mark.parametrize("app_config", [{"DOWNLOAD_ACCEL": "sendfile"}])
def test_x_sendfile_hand_off(verified, app, story, app_config):
    response = verified.get(f"/download/{story}")
    assert response.headers["X-Sendfile"] == str(Path(app.config["MEDIA_ROOT"]).resolve() / "antalya" / "1-hd.mp4")


def test_missing_file_is_a_clear_404_and_a_log_line(verified, app, story, caplog):
    (Path(app.config["MEDIA_ROOT"]) / "antalya" / "1-hd.mp4").unlink()
    response = verified.get(f"/download/{story}")
    assert response.status_code == 404
    assert "This file is missing on the server" in response.get_data(as_text=True)
    assert any("missing" in r.getMessage() for r in caplog.records)


def test_unknown_rendition_and_path_tricks(verified, story):
    for url in (
        "/download/999999",
        "/download/-1",
        "/download/abc",
        "/download/1/../../etc/passwd",
        "/download/%2e%2e%2f",
        "/download/" + "9" * 40,
    ):
        assert verified.get(url).status_code == 404, url


def test_download_log_survives_account_deletion_and_exports_as_csv(verified, app, story):
    verified.get(f"/download/{story}")
    runner = app.test_cli_runner()
    rows = list(csv.reader(io.StringIO(runner.invoke(args=["downloads", "export"]).output)))
    assert rows[0][:4] == ["downloaded_at_utc", "email", "name", "organisation"]
    assert rows[1][1:7] == [
        "ann@example.org",
        "Ann Lee",
        "Example Broadcasting",
        "Ministers in Türkiye: “2%” – Antalya",
        "HD 1080p25",
        str(SIZE),
    ]
    post(verified, "/account/delete", {"delete_password": GOOD_PASSWORD})
    rows = list(csv.reader(io.StringIO(runner.invoke(args=["downloads", "export"]).output)))
    assert rows[1][1:3] == ["(deleted account)", ""] and rows[1][6] == str(SIZE)
    with app.app_context():
        assert db.session.query(Download).one().user_id is None


FORMULAS = ['=HYPERLINK("http://evil.example","x")', "+1+2", "-2+3", "@SUM(A1:A9)", "\t=1", "\r=1"]


def test_the_csv_export_neutralises_spreadsheet_formulas(verified, app, story):
    """A cell that begins with = + - @ (or a tab or CR) is run as a formula by spreadsheets:
    each gets a leading ' (OWASP, CSV injection), in every column that holds text."""
    verified.get(f"/download/{story}")
    with app.app_context():
        user, rendition = db.session.query(User).one(), db.session.get(Rendition, story)
        user.first_name, user.last_name, user.organisation = FORMULAS[0], FORMULAS[1], FORMULAS[3]
        rendition.label, rendition.video.story.title = FORMULAS[4], FORMULAS[5]
        db.session.query(Download).one().range_requested = FORMULAS[2]
        db.session.commit()
    rows = list(csv.reader(io.StringIO(app.test_cli_runner().invoke(args=["downloads", "export"]).output)))
    name, organisation, title, label, sent, range_ = rows[1][2:8]
    assert name == "'" + FORMULAS[0] + " " + FORMULAS[1]
    assert (organisation, title, label, range_) == (
        "'" + FORMULAS[3],
        "'" + FORMULAS[5],
        "'" + FORMULAS[4],
        "'" + FORMULAS[2],
    )
    assert sent == str(SIZE)  # numbers stay numbers


@pytest.mark.parametrize("value", FORMULAS)
def test_every_formula_start_is_neutralised(value):
    from app.flows.reports import write_csv

    output = io.StringIO()
    write_csv(output, ["a", "b", "c"], [[value, "plain " + value, -5]])
    assert list(csv.reader(io.StringIO(output.getvalue())))[1] == ["'" + value, "plain " + value, "-5"]
