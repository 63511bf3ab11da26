"""Stories in English and French: translations in the manifest, the page in the chosen language
with a notice when it falls back to English, and French words in the full-text search."""

import json
import re
from pathlib import Path

import pytest
from sqlalchemy import text

from app.extensions import db
from app.models import Story, StoryTranslation

from .helpers.catalogue_data import load, story_entry, write_manifest

ROOT = Path(__file__).resolve().parent.parent
# The French page: its URL under /fr/ (issue #16), or the EN | FR switch's ?lang=fr, which leads there
FRENCH = {"prefix": "/fr"}
ASK_FRENCH = [{"query_string": {"lang": "fr"}, "follow_redirects": True}, FRENCH]
FALLBACK_NOTE = re.compile(r'<p class="notice fallback-note">([^<]+)</p>')
# The notice in English (the msgid) or in French, whichever the compiled catalogue gives.
FALLBACK_TEXTS = (
    "This story is not available in French yet; it is shown in English.",
    "Ce reportage n’est pas encore disponible en français\u00a0; il est présenté en anglais.",
)

ANTALYA_FR = {
    "title": "Les ministres des Affaires étrangères de l’OTAN se réunissent à Antalya",
    "summary": "Les ministres préparent le sommet de La Haye.",
    "body": "Les ministres se sont réunis à Antalya (Türkiye) pour parler de dissuasion et de défense.\n\n"
    "Le secrétaire général a déclaré que l’objectif de 2\u00a0% «\u00a0est loin d’être suffisant\u00a0».",
    "shotlist": [
        {"at": "00:00:00", "text": "Plan large, le lieu de la réunion"},
        {"at": "00:00:04", "text": "Les ministres se serrent la main"},
    ],
}
BALTIC_FR = {
    "title": "Des navires alliés s’entraînent en mer Baltique",
    "summary": "Un exercice naval.",
    "body": "Des frégates, des chasseurs de mines et des avions de patrouille se sont entraînés ensemble. "
    "Les Alliés ont été réunis pour l’occasion.",
    "shotlist": [
        {"at": "00:00:00", "text": "Frégate en mer"},
        {"at": "00:00:05", "text": "Hélicoptère se posant sur le pont"},
    ],
}


def stories():
    antalya = story_entry(
        "antalya",
        "NATO Foreign Ministers meet in Antalya",
        "2025-05-15",
        body="NATO Foreign Ministers met in Antalya, Türkiye.\n\nThe Secretary General said the 2% target “is not nearly enough.”",  # noqa: E501 (the message whole, as people read it)
        summary="Ministers prepare the Summit in The Hague.",
        shotlist=(("00:00:00", "Wide shot of the venue"), ("00:00:04", "Ministers shaking hands")),
    )
    baltic = story_entry(
        "baltic",
        "Allied ships train in the Baltic Sea",
        "2025-03-02",
        body="Frigates and minehunters exercised together.",
        summary="A naval exercise.",
        shotlist=(("00:00:00", "Frigate at sea"), ("00:00:05", "Helicopter landing on deck")),
    )
    tallinn = story_entry(
        "tallinn",
        "Cyber Coalition exercise in Tallinn",
        "2024-11-20",
        body="Cyber defenders from Allied nations trained against simulated attacks.",
        summary="Cyber defence.",
    )
    antalya["translations"] = {"fr": json.loads(json.dumps(ANTALYA_FR))}
    baltic["translations"] = {"fr": json.loads(json.dumps(BALTIC_FR))}
    return [antalya, baltic, tallinn]  # Tallinn has no French


@pytest.fixture
def catalogue(app, tmp_path):
    load(app, tmp_path, stories())
    return app


def page(client, url, prefix="", **kwargs):
    response = client.get(prefix + url, **kwargs)
    assert response.status_code == 200
    return response.get_data(as_text=True)


def h1(body):
    return re.search(r"<h1([^>]*)>([^<]*)</h1>", body).groups()


# --- the story page ---------------------------------------------------------------------------


@pytest.mark.parametrize("ask", ASK_FRENCH, ids=["lang=fr", "/fr/"])
def test_french_page_shows_the_french_text(client, catalogue, ask):
    body = page(client, "/stories/antalya", **ask)
    assert '<html lang="fr">' in body
    assert h1(body) == ("", ANTALYA_FR["title"])
    assert f"<title>{ANTALYA_FR['title']} · " in body.replace("&#39;", "'")
    assert '<p class="summary">Les ministres préparent le sommet de La Haye.</p>' in body
    assert "<p>Les ministres se sont réunis à Antalya (Türkiye) pour parler de dissuasion et de défense.</p>" in body
    assert "«\u00a0est loin d’être suffisant\u00a0»" in body
    assert "<li><time>00:00:04</time> <span>Les ministres se serrent la main</span></li>" in body
    for english in (
        "NATO Foreign Ministers met in Antalya",
        "is not nearly enough",
        "Ministers shaking hands",
        "Ministers prepare the Summit",
    ):
        assert english not in body, english
    assert "fallback-note" not in body
    assert (
        ' lang="en"'
        not in body.split("</h1>")[0].split("<h1")[1] + body.split("</h1>")[1].split('class="downloads"')[0]
    )
    # categories are translated through the catalogue (app/vocabulary.py)
    assert '<a href="/fr/?category=summits">Sommets</a>' in body
    # what this translation leaves out (place, credit, rights) and file labels stay English, and say so
    for original in (
        '<span lang="en">Brussels, Belgium</span>',
        '<span lang="en">Courtesy of NATO</span>',
        '<span lang="en">Free for news use.</span>',
        '<span class="rendition-label" lang="en">Preview 360p</span>',
    ):
        assert original in body, original


@pytest.mark.parametrize("ask", ASK_FRENCH, ids=["lang=fr", "/fr/"])
def test_french_page_without_a_translation_shows_english_and_says_so(client, catalogue, ask):
    body = page(client, "/stories/tallinn", **ask)
    assert '<html lang="fr">' in body
    assert h1(body) == (' lang="en"', "Cyber Coalition exercise in Tallinn")
    note = FALLBACK_NOTE.search(body)
    assert note and note.group(1).replace("&#39;", "'") in FALLBACK_TEXTS
    assert '<p class="summary" lang="en">Cyber defence.</p>' in body
    assert '<p lang="en">Cyber defenders from Allied nations trained against simulated attacks.</p>' in body
    assert '<ol class="shotlist" lang="en"><li><time>00:00:00</time> <span>Wide shot</span></li></ol>' in body


def test_english_page_is_unaffected(client, catalogue):
    for slug, title in (
        ("antalya", "NATO Foreign Ministers meet in Antalya"),
        ("tallinn", "Cyber Coalition exercise in Tallinn"),
    ):
        body = page(client, f"/stories/{slug}", headers={"Accept-Language": "en"})
        assert '<html lang="en">' in body and h1(body) == ("", title)
        assert "fallback-note" not in body and ' lang="en"' not in body.split("<main")[1].split("</main>")[0]
    body = page(client, "/stories/antalya")
    for text_ in (
        "NATO Foreign Ministers met in Antalya, Türkiye.",
        "“is not nearly enough.”",
        "Shotlist",
        "<li><time>00:00:04</time> <span>Ministers shaking hands</span></li>",
        "Low-resolution preview · 0:08",
        "All stories",
        "Credit:",
        "Download",
        "Log in or create a free account to download.",
    ):
        assert text_ in body, text_
    assert "ministres" not in body and "Liste des plans" not in body


def test_a_field_the_translation_leaves_empty_is_shown_in_english(client, app, tmp_path):
    entry = story_entry("partial", "Partly translated", shotlist=(("00:00:00", "Wide shot"),))
    entry["translations"] = {"fr": {"title": "En partie traduit", "body": "Le texte en français."}}
    load(app, tmp_path, [entry])
    body = page(client, "/stories/partial", **FRENCH)
    assert h1(body) == ("", "En partie traduit") and "fallback-note" not in body
    assert "<p>Le texte en français.</p>" in body
    assert '<p class="summary" lang="en">Summary.</p>' in body
    assert '<ol class="shotlist" lang="en">' in body


def test_story_text(catalogue):
    with catalogue.app_context():
        antalya = db.session.execute(db.select(Story).filter_by(slug="antalya")).scalar_one()
        tallinn = db.session.execute(db.select(Story).filter_by(slug="tallinn")).scalar_one()
        french = antalya.text("fr")
        assert (french.title, french.language, french.is_fallback) == (ANTALYA_FR["title"], "fr", False)
        assert french.paragraphs[0].startswith("Les ministres se sont réunis")
        assert french.shots == [
            ("00:00:00", "Plan large, le lieu de la réunion"),
            ("00:00:04", "Les ministres se serrent la main"),
        ]
        english = antalya.text("en")
        assert (english.title, english.language, english.is_fallback) == (
            "NATO Foreign Ministers meet in Antalya",
            "en",
            False,
        )
        assert english.paragraphs == antalya.paragraphs and english.shots == antalya.video.shots
        fallback = tallinn.text("fr")
        assert (fallback.title, fallback.language, fallback.is_fallback) == (tallinn.title, "en", True)
        assert fallback.lang("title") == "en" and french.lang("title") == "fr"
        assert antalya.text("de").is_fallback and antalya.text().language == "en"  # no request: English


def test_translations_go_with_their_story(catalogue):
    with catalogue.app_context():
        assert db.session.query(StoryTranslation).count() == 2
        db.session.execute(text("DELETE FROM stories WHERE slug = 'antalya'"))
        db.session.commit()
        assert [t.language for t in db.session.query(StoryTranslation)] == ["fr"]


# --- the catalogue ---------------------------------------------------------------------------


def cards(body):
    return re.findall(r'<span class="card-title"( lang="en")?>([^<]+)</span>', body)


def test_french_catalogue_shows_french_titles_and_marks_english_ones(client, catalogue):
    body = page(client, "/", **FRENCH)
    assert cards(body) == [
        ("", ANTALYA_FR["title"]),
        ("", BALTIC_FR["title"]),
        (' lang="en"', "Cyber Coalition exercise in Tallinn"),
    ]
    assert body.count("fallback-tag") == 1
    assert '<span class="card-summary">Un exercice naval.</span>' in body
    english = page(client, "/", headers={"Accept-Language": "en"})
    assert cards(english) == [
        ("", "NATO Foreign Ministers meet in Antalya"),
        ("", "Allied ships train in the Baltic Sea"),
        ("", "Cyber Coalition exercise in Tallinn"),
    ]
    assert "fallback-tag" not in english and "Video 0:08" in english


# --- search ----------------------------------------------------------------------------------


def found(client, q, prefix=""):
    return sorted(
        re.findall(
            r'<a class="card-link" href="(?:/fr)?/stories/([^"]+)"', page(client, "/", prefix, query_string={"q": q})
        )
    )


@pytest.mark.parametrize(
    "q, expected",
    [
        ("ministres", ["antalya"]),  # French body and title
        ("Ministres serrent", ["antalya"]),  # French shotlist, two words
        ("suffisant", ["antalya"]),
        ("hélicoptère", ["baltic"]),  # French shotlist
        ("Hélicop", ["baltic"]),  # as one types: the last word is a prefix
        ("frégates", ["baltic"]),
        ("frégate", ["baltic"]),  # singular finds the plural and the other way round
        ("réunis", ["antalya", "baltic"]),  # stems differently in English and French
        ("alliés", ["baltic", "tallinn"]),  # French "Alliés" and English "Allied"
        ("avions", ["baltic"]),  # a French stop word ('avions' = 'we had') that is also a noun
        ("ministres de la défense", ["antalya"]),  # French stop words in a query
        ("antalya ministres", ["antalya"]),  # one word from each language
        ("navires", ["baltic"]),
        ("chasseurs de mines", ["baltic"]),
        ("helicopter", ["baltic"]),  # English still works
        ("ships in the baltic", ["baltic"]),  # English stop words still drop out
        ("nearly enough", ["antalya"]),
        ("cyber attaques", []),  # every word must match
    ],
)
def test_french_words_find_the_story(client, catalogue, q, expected):
    assert found(client, q) == expected
    assert found(client, q, "/fr") == expected  # the page language does not change the results


def test_untranslated_story_is_not_found_by_french_words(client, catalogue):
    assert found(client, "cyberdéfense") == [] and found(client, "tallinn") == ["tallinn"]


def test_title_words_rank_first_in_french_too(client, app, tmp_path):
    first = story_entry("a", "Weekly round-up", "2025-06-01")
    first["translations"] = {"fr": {"title": "Tour d’horizon", "body": "La Baltique, une fois."}}
    second = story_entry("b", "Baltic patrol", "2024-01-01")
    second["translations"] = {"fr": {"title": "Patrouille dans la Baltique", "body": "Rien d’autre."}}
    load(app, tmp_path, [first, second])
    assert re.findall(r'href="/stories/([^"]+)"', page(client, "/?q=baltique")) == ["b", "a"]


# --- the import ------------------------------------------------------------------------------


def run(app, *args):
    return app.test_cli_runner().invoke(args=list(args))


@pytest.mark.parametrize(
    "translations, message",
    [
        ({"fr": {"summary": "Sans titre."}}, "stories[0].translations.fr.title: required"),
        ({"fr": {"title": "  "}}, "stories[0].translations.fr.title: required"),
        ({"de": {"title": "Titel"}}, "stories[0].translations.de: unknown language (use 'fr')"),
        ({"en": {"title": "Title"}}, "stories[0].translations.en: the story's own fields are the English original"),
        ({"fr": "Titre"}, "stories[0].translations.fr: must be an object"),
        (["fr"], 'stories[0].translations: must be an object like {"fr": {"title": ...}}'),
        ({"fr": {"title": "Titre", "body": ["un", "deux"]}}, "stories[0].translations.fr.body: must be text"),
        ({"fr": {"title": "Titre", "summary": 3}}, "stories[0].translations.fr.summary: must be text"),
        (
            {"fr": {"title": "Titre", "shotlist": "00:00:00 Plan large"}},
            "stories[0].translations.fr.shotlist: must be a list",
        ),
        (
            {"fr": {"title": "Titre", "shotlist": [{"at": "00:00:00", "text": "Plan"}, {"text": "sans heure"}]}},
            'stories[0].translations.fr.shotlist[1]: needs "at" (HH:MM:SS) and "text"',
        ),
        (
            {"fr": {"title": "Titre", "slug": "titre"}},
            "stories[0].translations.fr.slug: unknown field (use title, location, summary, body, credit, rights, shotlist)",  # noqa: E501 (the message whole, as people read it)
        ),
        ({"fr": {"title": "Titre", "location": 42}}, "stories[0].translations.fr.location: must be text"),
    ],
)
def test_a_bad_translation_names_the_field_and_imports_nothing(app, tmp_path, translations, message):
    entry = story_entry("a", "Story A")
    entry["translations"] = translations
    folder = write_manifest(tmp_path / "in", [entry, story_entry("b", "Story B")])
    result = run(app, "media", "import", str(folder))
    assert result.exit_code == 1
    assert f"error: {message}" in result.output
    assert "nothing was imported" in result.output
    with app.app_context():
        assert db.session.query(Story).count() == 0 and db.session.query(StoryTranslation).count() == 0


def test_import_stores_the_translation(app, tmp_path):
    load(app, tmp_path, stories())
    with app.app_context():
        story = db.session.execute(db.select(Story).filter_by(slug="antalya")).scalar_one()
        [translation] = story.translations
        assert translation.language == "fr" and translation.title == ANTALYA_FR["title"]
        assert (
            translation.shotlist
            == "00:00:00 Plan large, le lieu de la réunion\n00:00:04 Les ministres se serrent la main"
        )
        assert translation.body == ANTALYA_FR["body"]


def test_demo_catalogue_has_every_story_in_french(app):
    result = run(app, "media", "demo")
    assert result.exit_code == 0, result.output
    with app.app_context():
        stories_ = db.session.query(Story).all()
        assert len(stories_) == 7
        assert db.session.query(StoryTranslation).filter_by(language="fr").count() == 7
        for story in stories_:
            french = story.text("fr")
            assert not french.is_fallback and not french.in_original, story.slug
            assert len(french.paragraphs) == len(story.paragraphs), story.slug
            assert [at for at, _ in french.shots] == [at for at, _ in story.video.shots], story.slug
    client = app.test_client()
    body = page(client, "/stories/foreign-ministers-meet-in-antalya", **FRENCH)
    assert "«\u00a0est loin d’être suffisant\u00a0»" in body and "fallback-note" not in body
    english = page(client, "/stories/foreign-ministers-meet-in-antalya", headers={"Accept-Language": "en"})
    assert "NATO Foreign Ministers met in Antalya, Türkiye" in english and "“is not nearly enough.”" in english
    assert found(client, "hélicoptère") == ["allied-ships-train-in-the-baltic-sea"]
    assert found(client, "cyberdéfense") == ["cyber-coalition-exercise-in-tallinn"]
    assert "baltic-air-policing-scramble" in found(client, "avions de chasse")


def test_demo_manifest_french_is_typeset():
    manifest = json.loads((ROOT / "app/data/demo/manifest.json").read_text("utf-8"))
    for story in manifest["stories"]:
        french = story["translations"]["fr"]
        for value in [french["title"], french["summary"], french["body"]] + [s["text"] for s in french["shotlist"]]:
            assert "'" not in value and '"' not in value and "“" not in value, value  # ’ and « »
            assert not re.search(r"[^\u00a0][;:!?»%]|«[^\u00a0]", value), value


# --- the interface strings -------------------------------------------------------------------
