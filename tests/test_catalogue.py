"""Catalogue, full-text search (FTS5, tsvector) and story pages (docs/portal.md, Catalogue and search; Story page)."""

import re

import pytest

from app.flows.catalogue import parse_query

from .helpers.catalogue_data import STORIES, load, story_entry
from .helpers.databases import DATABASES

HTMX = {"HX-Request": "true"}


@pytest.fixture
def catalogue(app, tmp_path):
    load(
        app,
        tmp_path,
        [dict(s, video=dict(s["video"], renditions=[dict(r) for r in s["video"]["renditions"]])) for s in STORIES],
    )
    return app


def titles(response):
    import re

    return re.findall(r'<span class="card-title">([^<]+)</span>', response.get_data(as_text=True))


def test_newest_first(client, catalogue):
    assert titles(client.get("/")) == [
        "NATO Foreign Ministers meet in Antalya",
        "Allied ships train in the Baltic Sea",
        "Cyber Coalition exercise in Tallinn",
    ]


@pytest.mark.parametrize(
    "q, expected",
    [
        ("antalya", ["NATO Foreign Ministers meet in Antalya"]),
        ("Antal", ["NATO Foreign Ministers meet in Antalya"]),  # as one types: the last word is a prefix
        ("minister", ["NATO Foreign Ministers meet in Antalya"]),  # stemming: minister ~ ministers
        ("helicopter", ["Allied ships train in the Baltic Sea"]),  # shotlist
        ("nearly enough", ["NATO Foreign Ministers meet in Antalya"]),  # body
        ("exercise", ["Allied ships train in the Baltic Sea", "Cyber Coalition exercise in Tallinn"]),
        ("Türkiye", ["NATO Foreign Ministers meet in Antalya"]),
        ("tallinn frigate", []),  # every word must match
    ],
)
def test_full_text_search(client, catalogue, q, expected):
    assert sorted(titles(client.get("/", query_string={"q": q}))) == sorted(expected)


def test_title_matches_rank_above_body_matches(client, app, tmp_path):
    load(
        app,
        tmp_path,
        [
            story_entry("a", "Weekly round-up", "2025-06-01", body="Mentions the Baltic once."),
            story_entry("b", "Baltic patrol", "2024-01-01", body="Nothing else."),
        ],
    )
    assert titles(client.get("/?q=baltic")) == ["Baltic patrol", "Weekly round-up"]


@pytest.mark.parametrize("windows", [None, (2, 1)])
def test_newest_first_within_each_tier_and_pages_run_across_tiers(client, app, tmp_path, monkeypatch, windows):
    """Title matches (newest first), then the other matches (newest first); "Load more" pages go
    on from the title tier into the rest without losing or repeating a story. With tiny windows,
    PostgreSQL's tiers are split into their newest stories and the older ones: the same order."""
    if windows:
        from app import search

        monkeypatch.setattr(search, "RECENT_WINDOWS", windows)
    load(
        app,
        tmp_path,
        [
            story_entry("t-old", "Baltic patrol 2023", "2023-01-01"),
            story_entry("t-new", "Baltic patrol 2025", "2025-01-01"),
            story_entry("t-mid", "Baltic patrol 2024", "2024-01-01"),
            story_entry("b-old", "Round-up 2022", "2022-01-01", body="The Baltic."),
            story_entry("b-new", "Round-up 2026", "2026-01-01", body="The Baltic."),
            story_entry("none", "Nothing to see", "2026-02-01"),
        ],
    )
    expected = ["Baltic patrol 2025", "Baltic patrol 2024", "Baltic patrol 2023", "Round-up 2026", "Round-up 2022"]
    assert titles(client.get("/?q=baltic")) == expected
    app.config["CATALOGUE_PAGE_SIZE"] = 2
    pages = [titles(client.get("/", query_string={"q": "baltic", "page": n})) for n in (1, 2, 3, 4)]
    assert pages == [expected[0:2], expected[2:4], expected[4:5], []]
    assert 'id="load-more"' in client.get("/?q=baltic&page=2").get_data(as_text=True)
    assert 'id="load-more"' not in client.get("/?q=baltic&page=3").get_data(as_text=True)


@pytest.mark.parametrize("database_url", [name for name in DATABASES if name == "postgresql"], indirect=True)
def test_postgresql_reads_the_parts_of_a_results_page_in_turn(app):
    """A page of results is one UNION ALL of the tiers, cut to the page: PostgreSQL must read the
    parts in turn (a Parallel Append would mix them), so the app's connections start no workers."""
    from sqlalchemy import text

    from app.extensions import db

    with app.app_context():
        assert db.session.execute(text("SHOW max_parallel_workers_per_gather")).scalar() == "0"
        db.session.rollback()  # the setting outlives a rolled-back transaction, as pooled connections do
        assert db.session.execute(text("SHOW max_parallel_workers_per_gather")).scalar() == "0"


@pytest.mark.parametrize(
    "q, expected",
    [
        ("an", []),  # two letters are a whole word, not the start of "Antalya"
        ("ant", ["NATO Foreign Ministers meet in Antalya"]),  # three are a prefix, as one types
        ("2", ["NATO Foreign Ministers meet in Antalya"]),  # "the 2% target": a short word matches itself
    ],
)
def test_short_last_words_match_whole_words_only(client, catalogue, q, expected):
    assert titles(client.get("/", query_string={"q": q})) == expected


@pytest.mark.parametrize("words_per_prefix", [None, 1])
def test_last_word_as_typed_finds_every_word_it_starts(client, app, tmp_path, monkeypatch, words_per_prefix):
    """The last word is the start of a word, however many words start so (PostgreSQL looks them up
    by name up to PREFIX_WORDS, then as a prefix): the same stories either way, and words of
    stories imported later are found too."""
    if words_per_prefix:
        from app import search

        monkeypatch.setattr(search, "PREFIX_WORDS", words_per_prefix)
    load(
        app,
        tmp_path,
        [
            story_entry("keepers", "Lighthouse keepers", "2025-01-01", body="Keepers of the northern light."),
            story_entry("north", "Lighthouses of the north", "2025-02-01", body="Lights along the coast."),
            story_entry("drill", "Lightning drill", "2025-03-01", body="A storm exercise in the north."),
            story_entry("other", "Harbour pilots", "2025-04-01", body="Nothing about it."),
        ],
    )
    assert titles(client.get("/?q=lig")) == ["Lightning drill", "Lighthouses of the north", "Lighthouse keepers"]
    assert titles(client.get("/?q=north+lighth")) == ["Lighthouses of the north"]  # "northern" is another word
    assert titles(client.get("/?q=lighthouse+nor")) == ["Lighthouses of the north", "Lighthouse keepers"]
    assert titles(client.get("/?q=storm+lightn")) == ["Lightning drill"]
    assert titles(client.get("/?q=storm+lighthouse")) == []
    assert titles(client.get("/?q=harbour+ligh")) == []
    load(app, tmp_path / "later", [story_entry("ship", "Lightship moored", "2025-05-01", body="A harbour light.")])
    assert titles(client.get("/?q=lightsh")) == ["Lightship moored"]
    assert titles(client.get("/?q=harbour+ligh")) == ["Lightship moored"]


def test_last_word_as_typed_is_asked_for_by_name_when_few_words_start_so(app, tmp_path, monkeypatch):
    """How the prefix reaches the index: FTS5 reads prefixes itself; PostgreSQL's GIN would read
    every story of every word with that start, so a start shared by few words becomes those words."""
    from app import search
    from app.extensions import db

    load(app, tmp_path, [story_entry("keepers", "Lighthouse keepers", body="Lightning, lights and a lightship.")])
    with app.app_context():

        def index_query(words):
            where = search.tiers(db.session, words)[0].where
            return str(where.compile(compile_kwargs={"literal_binds": True})).replace("''", "'")

        if db.engine.dialect.name == "sqlite":
            assert '"lighthouse" "ligh"*' in index_query(["lighthouse", "ligh"])
            return
        named = index_query(["lighthouse", "ligh"])
        assert ":*" not in named and all(f"'{word}'" in named for word in ("light", "lighthous", "lightn", "lightship"))
        monkeypatch.setattr(search, "PREFIX_WORDS", 3)
        assert "'ligh':*" in index_query(["lighthouse", "ligh"])
        assert "'zzz':*" in index_query(["lighthouse", "zzz"])  # no word starts so: the prefix finds nothing either


def test_a_short_last_word_that_finds_nothing_says_to_keep_typing(client, catalogue):
    """While one types "an", nothing matches the whole word yet: the page says a third letter
    searches by the start of words, rather than only that nothing matches."""
    empty = client.get("/?q=an", headers=HTMX).get_data(as_text=True)
    assert "Keep typing" in empty and "No stories match" not in empty
    assert "Keep typing" not in client.get("/?q=2").get_data(as_text=True)  # it found something
    assert "Keep typing" not in client.get("/?q=antalyx").get_data(as_text=True)  # three letters and more
    assert "Continuez" in client.get("/fr/?q=an").get_data(as_text=True)


def test_search_keys_follow_publication_dates_and_stay_unique(app):
    """Stories published in the same minute get different keys; a re-dated story moves."""
    from datetime import datetime

    from app import search
    from app.extensions import db
    from app.models import Story

    with app.app_context():
        when = datetime(2025, 5, 15, 9, 30)
        stories = [Story(slug=f"s{i}", title=f"Story {i}", published_at=when) for i in range(70)]
        stories.append(Story(slug="later", title="Later", published_at=datetime(2025, 5, 15, 9, 31)))
        db.session.add_all(stories)
        db.session.flush()
        for story in stories:
            search.index_story(db.session, story)
        keys = [story.search_key for story in stories]
        assert len(set(keys)) == len(keys)
        first = search.first_key(when)
        assert all(first <= key for key in keys)
        # the minute's 64 slots are all used; the six stories beyond them take the next free keys
        assert len([key for key in keys[:70] if key < first + search.KEY_SLOTS]) == search.KEY_SLOTS
        early = stories[0]
        early.published_at = datetime(2020, 1, 1)
        search.index_story(db.session, early)
        assert early.search_key < search.first_key(datetime(2020, 1, 2))
        db.session.commit()


@pytest.mark.parametrize(
    "q",
    [
        '"',
        '""',
        "*",
        "NEAR",
        "a NEAR b",
        "-",
        "-nato",
        ":",
        "title:nato",
        "AND OR NOT",
        "(",
        ")",
        "^",
        "'; DROP TABLE stories; --",
        "x" * 5000,
        "\x00",
        "nato\x00antalya",
        "🙂",
        "\ufffd",
        "a & b | !c",
        "<script>",
        "%",
        "_",
        "\\",
    ],
)
def test_hostile_search_strings_never_fail(client, catalogue, q):
    response = client.get("/", query_string={"q": q})
    assert response.status_code == 200
    assert client.get("/", query_string={"q": q}, headers=HTMX).status_code == 200
    assert "<script>" not in response.get_data(as_text=True).split("</header>")[1].split('value="')[0]


def test_search_results_as_a_partial_and_as_a_bookmarkable_page(client, catalogue):
    partial = client.get("/?q=antalya", headers=HTMX)
    body = partial.get_data(as_text=True)
    body = re.sub(r'^\s*<p id="result-count"[^>]*hx-swap-oob[^>]*>[^<]*</p>', "", body)  # the count, out of band
    assert body.lstrip().startswith('<section id="results"') and "<html" not in body
    assert "HX-Request" in partial.headers["Vary"]
    page = client.get("/?q=antalya")
    assert "<html" in page.get_data(as_text=True) and 'value="antalya"' in page.get_data(as_text=True)
    assert titles(page) == titles(partial)


def test_filters_by_date_range_and_category(client, catalogue):
    assert titles(client.get("/?from=2025-01-01")) == [
        "NATO Foreign Ministers meet in Antalya",
        "Allied ships train in the Baltic Sea",
    ]
    assert titles(client.get("/?from=2025-03-02&to=2025-03-02")) == ["Allied ships train in the Baltic Sea"]
    assert titles(client.get("/?category=exercises")) == [
        "Allied ships train in the Baltic Sea",
        "Cyber Coalition exercise in Tallinn",
    ]
    assert titles(client.get("/?category=exercises&q=tallinn")) == ["Cyber Coalition exercise in Tallinn"]


@pytest.mark.parametrize(
    "args, message",
    [
        ({"from": "yesterday"}, "Use a date like 2025-05-14."),
        ({"from": "2025-02-30"}, "Use a date like 2025-05-14."),
        ({"from": "2025-06-01", "to": "2025-01-01"}, "The end date is before the start date."),
        ({"category": "../../etc"}, "Unknown category."),
    ],
)
def test_bad_filters_get_a_message_not_an_error(client, catalogue, args, message):
    response = client.get("/", query_string=args)
    assert response.status_code == 200 and message in response.get_data(as_text=True)


@pytest.mark.parametrize(
    "args, expected",
    [
        ({"to": "9999-12-31"}, [s["title"] for s in STORIES]),  # the day after it is past date.max
        ({"from": "0001-01-01", "to": "9999-12-31"}, [s["title"] for s in STORIES]),
        ({"q": "tallinn", "to": "9999-12-31"}, ["Cyber Coalition exercise in Tallinn"]),
        ({"from": "9999-12-31"}, []),
        ({"to": "0001-01-01"}, []),
        ({"from": "0001-01-01", "to": "0001-01-01", "category": "exercises"}, []),
    ],
)
def test_dates_at_the_edges_of_the_calendar(client, catalogue, args, expected):
    for headers in ({}, HTMX):
        response = client.get("/", query_string=args, headers=headers)
        assert response.status_code == 200 and titles(response) == expected, (args, headers)


@pytest.mark.parametrize("page", ["-1", "0", "abc", "99999999999999999999", "1e9", "", "\x00"])
def test_odd_page_numbers(client, catalogue, page):
    assert client.get("/", query_string={"page": page}).status_code == 200


def test_paging_with_load_more(client, app, tmp_path):
    app.config["CATALOGUE_PAGE_SIZE"] = 2
    load(app, tmp_path, [story_entry(f"s{i}", f"Story {i}", f"2025-01-{i + 1:02d}") for i in range(5)])
    first = client.get("/")
    assert titles(first) == ["Story 4", "Story 3"]
    body = first.get_data(as_text=True)
    assert 'id="load-more"' in body and 'href="/?page=2"' in body
    more = client.get("/?page=2", headers={"HX-Request": "true", "HX-Target": "load-more"})
    assert titles(more) == ["Story 2", "Story 1"]
    assert more.get_data(as_text=True).lstrip().startswith('<li class="card">')
    last = client.get("/?page=3", headers={"HX-Request": "true", "HX-Target": "load-more"})
    assert titles(last) == ["Story 0"] and "load-more" not in last.get_data(as_text=True)
    assert "There are no more stories." in client.get("/?page=50").get_data(as_text=True)


def test_story_page(client, catalogue):
    response = client.get("/stories/foreign-ministers-meet-in-antalya")
    body = response.get_data(as_text=True)
    assert response.status_code == 200
    for text in (
        "NATO Foreign Ministers meet in Antalya",
        "15 May 2025",
        "Brussels, Belgium",
        "is not nearly enough.",
        "Shotlist",
        "00:00:04",
        "Ministers shaking hands",
        "Courtesy of NATO",
        "HD 1080p25",
        "MP4 · H.264 · 1920×1080 · 300\u00a0KB",
        "Preview 360p",
        "40\u00a0KB",
        "<video",
        "/media/preview/",
    ):
        assert text in body, text


def test_unknown_story_is_a_404_page(client, catalogue):
    for slug in ("nope", "../../etc/passwd", "A" * 500, "%00"):
        response = client.get(f"/stories/{slug}")
        assert response.status_code == 404 and "Page not found" in response.get_data(as_text=True)


def test_preview_is_public_and_seekable(client, catalogue):
    body = client.get("/stories/foreign-ministers-meet-in-antalya").get_data(as_text=True)
    import re

    url = re.search(r'<source src="([^"]+)"', body).group(1)
    whole = client.get(url)
    assert whole.status_code == 200 and len(whole.data) == 40_000
    part = client.get(url, headers={"Range": "bytes=100-199"})
    assert part.status_code == 206 and part.data == whole.data[100:200]
    assert part.headers["Content-Range"] == "bytes 100-199/40000"


def test_only_previews_are_public(client, catalogue):
    # rendition 1 is the HD file of the first story: not a preview
    assert client.get("/media/preview/1").status_code == 404
    assert client.get("/media/preview/999999").status_code == 404


def test_parse_query_is_lenient():
    query = parse_query({"q": "  Antalya  ", "page": "3", "category": "exercises", "from": "2025-01-01"})
    assert query.words == ["antalya"] and query.page == 3 and query.category == "exercises"
    assert parse_query({"q": ["not", "a string"]}).text == ""


def test_live_search_partial_carries_the_page_title(client, catalogue):
    partial = client.get("/?q=antalya", headers=HTMX).get_data(as_text=True)
    assert "<title>antalya · NATO Multimedia</title>" in partial
    page = client.get("/?q=antalya").get_data(as_text=True)
    assert page.count("<title>") == 1


def test_pages_without_javascript_link_back(client, app, tmp_path):
    app.config["CATALOGUE_PAGE_SIZE"] = 1
    load(app, tmp_path, [story_entry(f"s{i}", f"Story {i}", f"2025-01-{i + 1:02d}") for i in range(3)])
    body = client.get("/?page=2").get_data(as_text=True)
    assert "Page 2 · " in body and 'href="/">Newer stories' in body.replace('href="/?page=1"', 'href="/"')


def test_cached_result_blocks_follow_every_catalogue_change(client, app, tmp_path):
    """Result blocks are cached per catalogue version: an import, an edit or a deletion shows at once."""
    from app.extensions import db
    from app.models import Story

    load(app, tmp_path, [story_entry("first", "First story", "2025-01-01")])
    assert titles(client.get("/")) == ["First story"]
    assert titles(client.get("/?q=story", headers=HTMX)) == ["First story"]
    load(app, tmp_path, [story_entry("second", "Second story", "2025-02-01")])
    assert titles(client.get("/")) == ["Second story", "First story"]
    assert titles(client.get("/?q=story", headers=HTMX)) == ["Second story", "First story"]
    with app.app_context():
        db.session.execute(db.select(Story).filter_by(slug="first")).scalar_one().title = "First story, corrected"
        db.session.commit()
    assert titles(client.get("/")) == ["Second story", "First story, corrected"]
    with app.app_context():
        db.session.delete(db.session.execute(db.select(Story).filter_by(slug="second")).scalar_one())
        db.session.commit()
    assert titles(client.get("/")) == ["First story, corrected"]


def test_cached_result_blocks_carry_nothing_of_the_visitor(client, app, catalogue):
    """The same cached cards for everyone; the account bar and CSRF token stay each visitor's own."""
    from .helpers.portal import register_and_verify

    anonymous = client.get("/").get_data(as_text=True)
    member = app.test_client()
    register_and_verify(member, app, "cached@example.org")
    page = member.get("/").get_data(as_text=True)
    assert "Ann Lee" in page and "Ann Lee" not in anonymous
    assert page.split('<section id="results"')[1] == anonymous.split('<section id="results"')[1]
    assert '"X-CSRFToken": "' in page and "X-CSRFToken" not in anonymous  # a visitor has no session, so no token
    french = client.get("/fr/").get_data(as_text=True)
    assert "15 mai 2025" in french and "15 May 2025" in anonymous


@pytest.mark.parametrize("app_config", [{"CATALOGUE_CACHE_ENTRIES": 0}, {"CATALOGUE_CACHE_ENTRIES": 1}])
def test_catalogue_without_or_with_a_tiny_cache(client, catalogue):
    for _ in range(2):
        assert len(titles(client.get("/"))) == 3
        assert titles(client.get("/?q=antalya")) == ["NATO Foreign Ministers meet in Antalya"]
        assert titles(client.get("/?q=baltic", headers=HTMX)) == ["Allied ships train in the Baltic Sea"]


def test_visitors_share_the_cached_page_and_one_who_opened_the_dialog_gets_a_working_token(app, catalogue):
    from .helpers.portal import CSRF_RE

    visitors = [app.test_client() for _ in range(2)]
    pages = [v.get("/").get_data(as_text=True) for v in visitors]
    assert pages[0] == pages[1] and "X-CSRFToken" not in pages[0]
    visitors[0].get("/account/login")  # the dialog starts a session
    own = CSRF_RE.search(visitors[0].get("/").get_data(as_text=True)).group(1)
    login = {"email": "nobody@example.org", "password": "wrong", "next": "/"}
    answer = visitors[0].post(
        "/account/login", data={**login, "csrf_token": own}, headers={"Referer": "http://localhost/"}
    )
    assert answer.status_code == 422
    assert visitors[1].get("/").get_data(as_text=True) == pages[1]  # still the shared page


def test_a_visitor_with_a_message_waiting_sees_it_on_a_cached_page(app, catalogue):
    first, second = app.test_client(), app.test_client()
    first.get("/")  # the page is in the cache now
    with second.session_transaction() as session:
        session["_flashes"] = [("message", "A message for this visitor only.")]
    assert "A message for this visitor only." in second.get("/").get_data(as_text=True)
    assert "A message for this visitor only." not in first.get("/").get_data(as_text=True)


@pytest.mark.parametrize("app_config", [{"CATALOGUE_VERSION_RECHECK_SECONDS": 0.3}])
def test_a_change_made_by_another_process_shows_within_the_recheck_time(client, app, catalogue):
    """Another process (an import) moves the version in the database; this one looks again soon."""
    import time

    from sqlalchemy import text

    from app.extensions import db

    assert "Renamed elsewhere" not in titles(client.get("/"))
    with app.app_context(), db.engine.begin() as connection:  # no ORM session here: as another process would
        connection.execute(text("UPDATE stories SET title = 'Renamed elsewhere' WHERE slug = 'cyber-coalition'"))
        connection.execute(text("UPDATE catalogue_version SET version = version + 1"))
    time.sleep(0.35)
    assert "Renamed elsewhere" in titles(client.get("/"))


# The catalogue's version is read again once a second; a slow machine could put that read into one
# counted page and not another. An import in this process makes it be read at once all the same.
@pytest.mark.parametrize("app_config", [{"CATALOGUE_CACHE_ENTRIES": 0, "CATALOGUE_VERSION_RECHECK_SECONDS": 3600}])
def test_a_page_of_cards_costs_the_same_statements_for_3_stories_or_15(client, app, tmp_path):
    """What a card shows is loaded with the page, never story by story (no query per card)."""
    from sqlalchemy import event

    from app.extensions import db

    def statements(url):
        client.get(url)  # once before: what is kept between searches (PostgreSQL's window floors) is in place
        seen = []
        with app.app_context():
            engine = db.engine

        def count(*args):
            if not args[2].lstrip().upper().startswith("SELECT COUNT("):  # "15 stories": one count, whatever the number
                seen.append(args[2])

        event.listen(engine, "before_cursor_execute", count)
        try:
            assert client.get(url).status_code == 200
        finally:
            event.remove(engine, "before_cursor_execute", count)
        return len(seen)

    urls = ["/", "/?q=patrol", "/?q=baltic+pat", "/?q=patrol&category=summits"]
    load(app, tmp_path, [story_entry(f"p{i}", f"Baltic patrol {i}", f"2025-01-{i + 1:02}") for i in range(3)])
    few = [statements(url) for url in urls]
    load(
        app,
        tmp_path / "more",
        [story_entry(f"q{i}", f"Round-up {i}", f"2025-02-{i + 1:02}", body="A Baltic patrol.") for i in range(12)],
    )
    assert len(titles(client.get("/?q=patrol"))) == app.config["CATALOGUE_PAGE_SIZE"] < 15
    assert [statements(url) for url in urls] == few
