"""Download statistics: the numbers against a hand-computed log, the chart and its table, CSV, who may see them."""

import csv
import io
import re
from datetime import date, datetime, timedelta

import pytest

from app.extensions import db
from app.flows import downloads, stats
from app.models import DownloadOrganisationMonth, Rendition, Story, User, utcnow

from .helpers.catalogue_data import load, story_entry
from .helpers.portal import register_and_verify
from .helpers.staff_data import staff_client

WINDOW = timedelta(hours=6)


@pytest.fixture
def catalogue(app, tmp_path):
    sizes = (
        ("HD 1080p25", 1920, 1080, 3000, False),
        ("SD 576p25", 1024, 576, 2000, False),
        ("Preview 360p", 640, 360, 400, True),
    )
    load(
        app,
        tmp_path,
        [
            story_entry("summit", "Summit", published="2026-01-10", sizes=sizes),
            story_entry("ships", "Ships", published="2026-01-20", sizes=sizes),
        ],
    )


def person(email, organisation):
    user = User(
        email=email,
        first_name="A",
        last_name="B",
        organisation=organisation,
        password_hash="x",
        conditions_accepted_at=utcnow(),
        verified_at=utcnow(),
    )
    db.session.add(user)
    db.session.commit()
    return user


def rendition(slug, label):
    return (
        db.session.query(Rendition)
        .join(Rendition.video)
        .join(Story)
        .filter(Story.slug == slug, Rendition.label == label)
        .one()
    )


TODAY = utcnow().date()


def at(days_ago, hour=10):
    return datetime.combine(TODAY - timedelta(days=days_ago), datetime.min.time()).replace(hour=hour)


@pytest.fixture
def log(app, catalogue):
    """A small log, counted by hand below:
    ann (Org A): summit HD 2 days ago in two requests (one download, 1000 + 2000 bytes), summit SD 2 days ago (500),
                 ships HD 40 days ago (3000);
    bob (Org B): summit HD 2 days ago (3000), summit HD again 1 day ago (a new download, 100),
                 ships SD today (2000)."""
    with app.app_context():
        ann, bob = person("ann@example.org", "Org A"), person("bob@example.org", "Org B")
        log = [
            (ann, "summit", "HD 1080p25", at(2), 1000),
            (ann, "summit", "HD 1080p25", at(2, 11), 2000),
            (ann, "summit", "SD 576p25", at(2), 500),
            (ann, "ships", "HD 1080p25", at(40), 3000),
            (bob, "summit", "HD 1080p25", at(2), 3000),
            (bob, "summit", "HD 1080p25", at(1), 100),
            (bob, "ships", "SD 576p25", at(0), 2000),
        ]
        for user, slug, label, moment, sent in log:
            downloads.record(
                user, rendition(slug, label), bytes_sent=sent, range_header=None, window=WINDOW, now=moment
            )
        return {slug: db.session.query(Story).filter_by(slug=slug).one().id for slug in ("summit", "ships")}


def test_the_numbers_match_the_hand_counted_log(app, log):
    with app.app_context():
        month, quarter = stats.period({"days": "30"}, TODAY), stats.period({"days": "90"}, TODAY)
        assert stats.totals(month) == (5, 1000 + 2000 + 500 + 3000 + 100 + 2000)
        assert stats.totals(quarter) == (6, 11600)
        days = {day: (n, sent) for day, n, sent in stats.per_day(month)}
        assert len(days) == 30
        assert days[TODAY - timedelta(days=2)] == (3, 6500)
        assert days[TODAY - timedelta(days=1)] == (1, 100) and days[TODAY] == (1, 2000)
        assert sum(n for n, _ in days.values()) == 5
        assert stats.per_story(month) == [(log["summit"], "Summit", 4, 6600), (log["ships"], "Ships", 1, 2000)]
        assert stats.per_story(quarter)[1] == (log["ships"], "Ships", 2, 5000)
        assert stats.per_rendition(month) == [("HD 1080p25", 3, 6100), ("SD 576p25", 2, 2500)]
        assert stats.per_rendition(month, log["summit"]) == [("HD 1080p25", 3, 6100), ("SD 576p25", 1, 500)]
        assert stats.per_organisation(month) == [("Org A", 2, 3500), ("Org B", 3, 5100)][::-1]
        assert stats.per_day(month, log["ships"])[-1] == (TODAY, 1, 2000)
        assert [(title, n) for _, title, _, n in stats.newest_stories(month)] == [("Ships", 1), ("Summit", 4)]
        weeks = stats.weekly_signups(month)
        assert sum(accounts for _, accounts, _ in weeks) == 2 and all(week.weekday() == 0 for week, _, _ in weeks)


def test_organisations_from_whole_months_and_the_days_around_them(app, catalogue):
    """Periods of whole months and odd days at their ends (or none whole) give what the log gives."""
    with app.app_context():
        people = [person(f"p{n}@example.org", f"Org {n % 3}") for n in range(6)]
        hd = rendition("summit", "HD 1080p25")
        moments = [at(days_ago) for days_ago in range(199, -1, -3)]  # in the order they happen
        for index, moment in enumerate(moments):
            downloads.record(
                people[index % 6], hd, bytes_sent=100 + index, range_header=None, window=WINDOW, now=moment
            )
        months = {
            (row.month, row.organisation): (row.downloads, row.bytes_sent)
            for row in db.session.query(DownloadOrganisationMonth)
        }
        assert sum(n for n, _ in months.values()) == len(moments) and all(month.day == 1 for month, _ in months)
        for start_ago, end_ago in ((199, 0), (150, 40), (20, 5), (75, 75), (100, 35)):
            period = stats.Period(TODAY - timedelta(days=start_ago), TODAY - timedelta(days=end_ago))
            expected = {}
            for index, moment in enumerate(moments):
                if period.start <= moment.date() <= period.end:
                    n, sent = expected.get(f"Org {index % 3}", (0, 0))
                    expected[f"Org {index % 3}"] = (n + 1, sent + 100 + index)
            found = stats.per_organisation(period)
            assert sorted(found) == sorted((name, n, sent) for name, (n, sent) in expected.items()), period


def test_the_whole_months_of_a_period():
    assert stats.whole_months(stats.Period(date(2026, 1, 15), date(2026, 4, 30))) == (
        date(2026, 2, 1),
        date(2026, 5, 1),
    )
    assert stats.whole_months(stats.Period(date(2026, 1, 1), date(2026, 1, 31))) == (date(2026, 1, 1), date(2026, 2, 1))
    assert stats.whole_months(stats.Period(date(2025, 12, 1), date(2026, 2, 27))) == (
        date(2025, 12, 1),
        date(2026, 2, 1),
    )
    first, after = stats.whole_months(stats.Period(date(2026, 1, 15), date(2026, 2, 10)))  # none whole
    assert first >= after


def test_periods_from_the_query():
    today = date(2026, 3, 1)
    assert stats.period({}, today) == stats.Period(date(2026, 1, 31), today, 30)
    assert stats.period({"days": "365"}, today).start == date(2025, 3, 2)
    assert stats.period({"from": "2026-01-01", "to": "2026-01-31"}, today) == stats.Period(
        date(2026, 1, 1), date(2026, 1, 31)
    )
    for odd in (
        {"days": "7"},
        {"days": "-30"},
        {"from": "2026-02-01", "to": "2026-01-01"},
        {"from": "x", "to": "y"},
        {"from": "0001-01-01", "to": "9999-12-31"},
        {"days": "9" * 50},
        {"days": "²"},
        {"from": "2026-01-01\x00"},
    ):
        assert stats.period(odd, today) == stats.Period(date(2026, 1, 31), today, 30), odd
    long = stats.period({"from": "2000-01-01", "to": "2026-01-01"}, today)
    assert (long.end - long.start).days + 1 == stats.LONGEST_DAYS


def test_the_page_draws_the_chart_and_its_table(app, log):
    client = staff_client(app)
    page = client.get("/staff/stats?days=30")
    assert page.status_code == 200
    body = page.get_data(as_text=True)
    svg = re.search(r"<svg class=\"chart-svg\".*?</svg>", body, re.S).group(0)
    assert 'aria-describedby="figures-days"' in svg and "style" not in svg
    bars = re.findall(
        r'<rect class="chart-bar"\s+x="[\d.]+"\s+y="([\d.]+)"\s+width="[\d.]+"\s+height="([\d.]+)"><title>([\d-]+): (\d+)</title>',  # noqa: E501 (the message whole, as people read it)
        svg,
    )
    assert [(day, int(n)) for _, _, day, n in bars] == [
        ((TODAY - timedelta(days=2)).isoformat(), 3),
        ((TODAY - timedelta(days=1)).isoformat(), 1),
        (TODAY.isoformat(), 1),
    ]
    tallest = max(float(height) for _, height, _, _ in bars)
    assert [round(float(height) / tallest, 2) for _, height, _, _ in bars] == [1.0, 0.33, 0.33]
    table = re.search(r'<table class="staff-table figures" id="figures-days">.*?</table>', body, re.S).group(0)
    assert table.count("<tr>") == 31  # the heading and one row a day
    assert "Summit" in body and "Org B" in body and "HD 1080p25" in body
    assert "<style" not in body and " style=" not in body


def test_each_table_as_csv(app, log):
    client = staff_client(app)
    rows = list(csv.reader(io.StringIO(client.get("/staff/stats/stories.csv?days=30").get_data(as_text=True))))
    assert rows == [["Story", "Downloads", "Bytes sent"], ["Summit", "4", "6600"], ["Ships", "1", "2000"]]
    organisations = client.get("/staff/stats/organisations.csv?from=2000-01-01&to=2999-01-01")
    assert organisations.headers["Content-Type"].startswith("text/csv")
    assert "attachment" in organisations.headers["Content-Disposition"]
    for key in ("days", "newest", "renditions", "signups"):
        assert client.get(f"/staff/stats/{key}.csv").status_code == 200, key
    story_rows = list(
        csv.reader(
            io.StringIO(client.get(f"/staff/stats/renditions.csv?days=30&story={log['summit']}").get_data(as_text=True))
        )
    )
    assert story_rows[1:] == [["HD 1080p25", "3", "6100"], ["SD 576p25", "1", "500"]]
    for odd in ("/staff/stats/nothing.csv", f"/staff/stats/stories.csv?story={log['summit']}"):
        assert client.get(odd).status_code == 404, odd
    assert client.get("/staff/stats/days.csv?story=" + "9" * 40).status_code == 200
    assert client.get("/staff/stats/days.csv?story=²&days=²&from=\x00").status_code == 200


def test_the_csv_cells_are_never_formulas(app, catalogue):
    with app.app_context():
        user = person("eve@example.org", '=HYPERLINK("http://evil.example")')
        downloads.record(user, rendition("summit", "HD 1080p25"), bytes_sent=1, range_header=None, window=WINDOW)
    rows = list(csv.reader(io.StringIO(staff_client(app).get("/staff/stats/organisations.csv").get_data(as_text=True))))
    assert rows[1][0].startswith("'=")


def test_the_story_page_shows_its_downloads(app, log):
    client = staff_client(app)
    body = client.get(f"/staff/stories/{log['summit']}").get_data(as_text=True)
    assert "Last 30 days: 4 downloads" in body
    assert 'id="figures-renditions"' in body and f"story={log['summit']}" in body


def test_only_staff_see_the_statistics(app, client, log):
    assert client.get("/staff/stats").status_code == 404
    assert client.get("/staff/stats/days.csv").status_code == 404
    register_and_verify(client, app, "someone@example.org")
    assert client.get("/staff/stats").status_code == 404
    assert client.get("/staff/stats/stories.csv").status_code == 404


def test_the_statistics_are_in_french(app, log):
    from .helpers.french import assert_french, visible

    staff = staff_client(app)
    for url in ("/staff/stats?days=90", f"/staff/stories/{log['summit']}"):
        body = staff.get("/fr" + url).get_data(as_text=True)
        assert "Statistiques" in body
        body = body[body.index('<section class="panel story-stats"') :] if "stories" in url else body
        # the figures' own names (stories, renditions, organisations) are data, not text to translate
        for data in ("Summit", "Ships", "HD 1080p25", "SD 576p25", "Org A", "Org B"):
            body = body.replace(data, "")
        assert_french(visible(body), url)
