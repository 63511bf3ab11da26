"""Search results say how many stories match, in one short polite live region; the list itself
and the dialog are not read out whole."""

import re

import pytest

from .helpers.catalogue_data import load, story_entry
from .helpers.portal import HTMX

SEARCH = {"HX-Request": "true", "HX-Target": "results"}


@pytest.fixture
def many(app, tmp_path):
    # 5 stories with "exercise" in the title, 2 with it in the body only, 1 without
    stories = [story_entry(f"exercise-{n}", f"Exercise number {n}", f"2025-01-{n + 1:02d}") for n in range(5)]
    stories += [
        story_entry(f"drill-{n}", f"Drill {n}", f"2025-02-{n + 1:02d}", body="A naval exercise.") for n in range(2)
    ]
    stories.append(story_entry("summit", "Summit in The Hague", "2025-06-01"))
    load(app, tmp_path, stories)
    app.config["CATALOGUE_PAGE_SIZE"] = 3
    return app


def count(html):
    return re.search(r'<p id="result-count"[^>]*>([^<]*)</p>', html).group(1)


@pytest.mark.parametrize(
    "args, expected",
    [
        ({}, "8 stories"),
        ({"q": "exercise"}, "7 stories"),
        ({"q": "exercise", "page": "3"}, "7 stories"),
        ({"q": "hague"}, "1 story"),
        ({"q": "frigate"}, "0 stories"),
        ({"from": "2025-02-01"}, "3 stories"),
    ],
)
def test_the_count_of_matches_over_every_page(client, many, args, expected):
    assert count(client.get("/", query_string=args).get_data(as_text=True)) == expected


def test_french_count(client, many):
    assert count(client.get("/fr/", query_string={"q": "exercise"}).get_data(as_text=True)) == "7 reportages"


def test_a_search_as_you_type_puts_the_count_into_the_live_region(client, many):
    html = client.get("/", query_string={"q": "exercise"}, headers=SEARCH).get_data(as_text=True)
    region = re.search(r'<p id="result-count"[^>]*>', html).group(0)
    assert 'hx-swap-oob="innerHTML"' in region and 'role="status"' in region
    assert count(html) == "7 stories"


def test_the_lists_are_not_live_regions(client, many):
    html = client.get("/").get_data(as_text=True)
    results = re.search(r'<section id="results"[^>]*>', html).group(0)
    dialog_body = re.search(r'<div id="dialog-body"[^>]*>', html).group(0)
    assert "aria-live" not in results and "aria-live" not in dialog_body
    assert re.search(r'<p id="result-count"[^>]*role="status"', html)


def test_load_more_leaves_the_count_alone(client, many):
    html = client.get("/", query_string={"page": "2"}, headers={**HTMX, "HX-Target": "load-more"}).get_data(
        as_text=True
    )
    assert "result-count" not in html
