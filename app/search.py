"""Full-text search over stories with the database's own engine (docs/portal.md, Catalogue and search).

SQLite: an FTS5 table ``story_search`` (porter stemming). PostgreSQL: a table ``story_search`` of
``tsvector`` documents (the whole story, and its title alone) with GIN indexes.
Neither is a model: the migration creates it, ``index_story`` keeps it up to date, and
user input only ever reaches it as quoted word tokens, never as query syntax.

Ranking: stories with every word in the title come first, then the stories with the words
anywhere else; newest first within each. Both tiers are read in the order of an index
(``Story.search_key`` follows the publication date, and is the FTS5 rowid), so a page costs the
same whether a word is in ten stories or in all of them: no score is computed for every match,
as BM25 or ``ts_rank`` would have to before a LIMIT. A page is one statement over the tiers
(``app.flows.catalogue``).

The last word, as one types, is the start of a word from three letters on. FTS5 reads prefixes
itself; on PostgreSQL the words that start so are looked up in ``search_words`` (every word of
the index) and asked for by name, which GIN answers far faster (see ``_postgres_query``).

Translations (``story_translations``) are in the same document, so a word of either language
finds the story. SQLite: each translated field is appended to the same column (the porter
stemmer is applied alike to the document and to the query, so French words match themselves,
accents or not). PostgreSQL: the French text is indexed twice, with the 'french' configuration
(French stemming: "alliés" finds "allié") and with the 'english' one (so every word finds itself
even where the two stemmers disagree, and French stop words such as "avions" stay searchable);
the query asks, word by word, for the 'english' or the 'french' form.
"""

from __future__ import annotations

import calendar
import re
import time
from dataclasses import dataclass
from typing import Any

from flask import current_app, has_app_context
from sqlalchemy import (
    BigInteger,
    ColumnElement,
    Integer,
    Text,
    and_,
    bindparam,
    case,
    cast,
    column,
    func,
    literal,
    not_,
    or_,
    select,
    table,
    text,
)
from sqlalchemy.dialects.postgresql import TSQUERY
from sqlalchemy.orm import load_only
from sqlalchemy.sql import FromClause

from .models import catalogue_changed

MAX_TOKENS = 12
MAX_TOKEN_LENGTH = 40
# The last word is matched as a prefix (results follow typing) from this length on; shorter
# ones ("un", "eu") match as whole words, so two letters do not expand to half the vocabulary.
MIN_PREFIX_LENGTH = 3
# PostgreSQL: a last word that starts at most this many words of the index is searched for as
# those words, by name; one that starts more stays a prefix (see _postgres_query).
PREFIX_WORDS = 64
TOKEN = re.compile(r"\w+", re.UNICODE)
# PostgreSQL: how many of the newest stories a search walks in date order (see _recent_then_older),
# for the title tier (small title documents, quick to test) and for the rest (whole stories).
RECENT_WINDOWS = (10_000, 1_000)
# How long the floors of those windows are kept (see _window_floors), per database.
FLOOR_SECONDS = 60.0
FLOORS = "search_floors"  # app.extensions[FLOORS]: {database: (when, floors)}
# search_key = minutes since 1970 * KEY_SLOTS + a slot, so keys sort like publication dates.
KEY_SLOTS = 64

SQLITE_DDL = [
    "CREATE VIRTUAL TABLE IF NOT EXISTS story_search USING fts5("
    "title, summary, body, shotlist, tokenize = 'porter unicode61 remove_diacritics 2')",
]
POSTGRES_DDL = [
    "CREATE TABLE IF NOT EXISTS story_search ("
    " story_id INTEGER PRIMARY KEY REFERENCES stories (id) ON DELETE CASCADE,"
    " sort_key BIGINT NOT NULL,"
    " title_document TSVECTOR NOT NULL,"
    " document TSVECTOR NOT NULL)",
    "CREATE INDEX IF NOT EXISTS ix_story_search_sort_key ON story_search (sort_key)",
    "CREATE INDEX IF NOT EXISTS ix_story_search_document ON story_search USING GIN (document)",
    "CREATE INDEX IF NOT EXISTS ix_story_search_title_document ON story_search USING GIN (title_document)",
    # Finer word statistics: with the default, a rare word is guessed to be in ~1 % of stories, and
    # the planner walks the newest stories one by one looking for it instead of using the index.
    "ALTER TABLE story_search ALTER COLUMN document SET STATISTICS 300, ALTER COLUMN title_document SET STATISTICS 300",
    # Searches are small and frequent, imports rare: no parallel workers to start for a page of
    # results, and no GIN pending list for every search to read through.
    "ALTER TABLE story_search SET (parallel_workers = 0)",
    "ALTER INDEX ix_story_search_document SET (fastupdate = off)",
    "ALTER INDEX ix_story_search_title_document SET (fastupdate = off)",
    # Every word (lexeme) of the documents, for looking up the words a typed prefix starts; "C"
    # order, so that the words starting with a prefix are one range of the primary key.
    'CREATE TABLE IF NOT EXISTS search_words (word TEXT COLLATE "C" PRIMARY KEY)',
]
# Adds the words of the documents ``where`` picks to search_words (words are never taken out: a
# word no story has any more only makes a prefix search ask for it in vain). Sorted, so that two
# imports adding the same new words wait for each other instead of deadlocking.
POSTGRES_REMEMBER_WORDS = (
    "INSERT INTO search_words (word) SELECT DISTINCT word FROM story_search, "
    "unnest(tsvector_to_array(document)) AS word WHERE {where} ORDER BY word ON CONFLICT DO NOTHING"
)
POSTGRES_DOCUMENT = (
    "to_tsvector('english', :title) || to_tsvector('english', :summary) || "
    "to_tsvector('english', :body) || to_tsvector('english', :shotlist)"
)
POSTGRES_TITLE_DOCUMENT = "to_tsvector('english', :title)"
# The text search configuration of each translation language (PostgreSQL).
TRANSLATION_CONFIGS = {"fr": "french"}
FIELDS = ("title", "summary", "body", "shotlist")


def _translation_document(language: str, config: str, fields=FIELDS) -> str:
    """The tsvector of one translation: its own language's stemming and the query's."""
    return " || ".join(f"to_tsvector('{c}', :{language}_{name})" for c in (config, "english") for name in fields)


def create_schema(connection) -> None:
    for statement in SQLITE_DDL if connection.dialect.name == "sqlite" else POSTGRES_DDL:
        connection.exec_driver_sql(statement)


def drop_schema(connection) -> None:
    connection.exec_driver_sql("DROP TABLE IF EXISTS story_search")
    if connection.dialect.name != "sqlite":
        connection.exec_driver_sql("DROP TABLE IF EXISTS search_words")


def include_object(obj, name, type_, reflected, compare_to):
    """For Alembic: the search tables (and FTS5's shadow tables) are not models."""
    return not (type_ == "table" and (name.startswith("story_search") or name == "search_words"))


def first_key(published_at) -> int:
    """The smallest search key of a story published at ``published_at`` (naive UTC)."""
    return calendar.timegm(published_at.timetuple()) // 60 * KEY_SLOTS


def assign_key(session, story) -> None:
    """Give ``story`` a free search key in its publication minute (the next free one after it
    if 64 stories share that minute), unless the key it has already fits its date."""
    base = first_key(story.published_at)
    if story.search_key is not None and base <= story.search_key < base + KEY_SLOTS:
        return
    from .models import Story

    key = base + story.id % KEY_SLOTS
    taken = set(
        session.execute(
            select(Story.search_key).where(
                Story.search_key >= key, Story.search_key < key + 4 * KEY_SLOTS, Story.id != story.id
            )
        ).scalars()
    )
    while key in taken:
        key += 1
    story.search_key = key


def index_story(session, story) -> None:
    """(Re)index one story; call inside the transaction that changes it, after a flush."""
    old_key = story.search_key
    assign_key(session, story)
    session.flush()
    video = story.video
    values = {
        "id": story.id,
        "key": story.search_key,
        "old_key": old_key,
        "title": _clean(story.title),
        "summary": _clean(story.summary),
        "body": _clean(story.body),
        "shotlist": _clean(video.shotlist if video else ""),
    }
    translations = {t.language: t for t in getattr(story, "translations", ())}
    if session.get_bind().dialect.name == "sqlite":
        for translation in translations.values():
            for name in FIELDS:
                extra = _clean(getattr(translation, name))
                if extra.strip():
                    values[name] = f"{values[name]}\n\n{extra}" if values[name] else extra
        session.execute(text("DELETE FROM story_search WHERE rowid IN (:key, :old_key)"), values)
        session.execute(
            text(
                "INSERT INTO story_search (rowid, title, summary, body, shotlist) "
                "VALUES (:key, :title, :summary, :body, :shotlist)"
            ),
            values,
        )
    else:
        document, title_document = POSTGRES_DOCUMENT, POSTGRES_TITLE_DOCUMENT
        for language, config in TRANSLATION_CONFIGS.items():
            if language in translations:
                document += " || " + _translation_document(language, config)
                title_document += " || " + _translation_document(language, config, ("title",))
                values.update({f"{language}_{name}": _clean(getattr(translations[language], name)) for name in FIELDS})
        session.execute(
            text(
                f"INSERT INTO story_search (story_id, sort_key, title_document, document) "
                f"VALUES (:id, :key, {title_document}, {document}) ON CONFLICT (story_id) DO UPDATE SET "
                "sort_key = EXCLUDED.sort_key, title_document = EXCLUDED.title_document, document = EXCLUDED.document"
            ),
            values,
        )
        session.execute(text(POSTGRES_REMEMBER_WORDS.format(where="story_id = :id")), values)


def reindex_all(session) -> int:
    """Rebuild the whole index (after a schema change); returns the number of stories."""
    from .models import Story

    # Only the columns the index reads: the search key's migration runs this on a schema that
    # does not have Story's later columns yet.
    columns = load_only(
        Story.id, Story.slug, Story.title, Story.published_at, Story.summary, Story.body, Story.search_key
    )
    count = 0
    for story in session.execute(select(Story).options(columns).order_by(Story.id)).scalars():
        index_story(session, story)
        count += 1
    return count


def tokens(query: str) -> list[str]:
    """The words of a search box, lower-cased; operators, quotes and control characters drop out."""
    found = TOKEN.findall(_clean(query or "").lower())
    return [t[:MAX_TOKEN_LENGTH] for t in found if t.strip("_")][:MAX_TOKENS]


@dataclass(frozen=True)
class Tier:
    """One step of the ranking: join ``target`` on ``story_key`` (= a Story column), keep
    ``where``, newest first by ``order``. Results list the tiers one after the other."""

    target: FromClause
    story_key: ColumnElement[Any]
    joins_on: str  # the Story attribute ``story_key`` equals
    where: ColumnElement[Any]
    order: ColumnElement[Any]


def last_word_is_prefix(words: list[str]) -> bool:
    """Whether the last word typed is searched as the start of words (see MIN_PREFIX_LENGTH)."""
    return bool(words) and len(words[-1]) >= MIN_PREFIX_LENGTH


def tiers(session, words: list[str]) -> list[Tier]:
    """The ranking's tiers for ``words``: every word in the title, then anywhere else."""
    if session.get_bind().dialect.name == "sqlite":
        fts = table("story_search", column("rowid"))
        phrases = [f'"{w}"' for w in words]
        if last_word_is_prefix(words):
            phrases[-1] += "*"
        everywhere = " ".join(phrases)
        in_title = f"{{title}} : ({everywhere})"
        return [
            Tier(fts, fts.c.rowid, "search_key", _fts_match(in_title), fts.c.rowid.desc()),
            Tier(fts, fts.c.rowid, "search_key", _fts_match(f"({everywhere}) NOT {in_title}"), fts.c.rowid.desc()),
        ]
    documents = table(
        "story_search",
        column("story_id", Integer),
        column("sort_key", BigInteger),
        column("document"),
        column("title_document"),
    )
    query = cast(literal(_postgres_query(session, words)), TSQUERY)
    title_matches = documents.c.title_document.op("@@")(query)
    document_matches = documents.c.document.op("@@")(query)
    key = documents.c.sort_key
    floors = _window_floors(session, key)
    tiers = []
    for where, floor in zip((title_matches, document_matches & not_(title_matches)), floors, strict=True):
        tiers += _recent_then_older(documents, where, floor)
    return tiers


def _recent_then_older(documents, where, floor: int | None) -> list[Tier]:
    """PostgreSQL cannot read a GIN index in date order. Walking the date index and testing each
    story is quick for common words but reads every story for a rare one, and the planner cannot
    tell the two apart well. So a tier is split: its RECENT_WINDOWS newest stories first (walking
    them costs a bounded amount whatever the word), then the older ones, whose sort is an
    expression so that the planner must find them through the GIN index (words reach that part
    only when they are sparse among the recent stories)."""
    key = documents.c.sort_key
    if floor is None:
        return [Tier(documents, documents.c.story_id, "id", where, key.desc())]
    return [
        Tier(documents, documents.c.story_id, "id", where & (key >= floor), key.desc()),
        Tier(documents, documents.c.story_id, "id", where & (key < floor), (key + 0).desc()),
    ]


def _window_floors(session, key) -> tuple[int | None, ...]:
    """The sort keys of the RECENT_WINDOWS[i]-th newest stories (None: fewer stories than that).
    Finding them walks thousands of index entries, so they are kept for FLOOR_SECONDS: a floor
    that has fallen behind the catalogue only moves where a tier is split, never what the tier
    holds or its order, so results stay exact."""
    cache_key = (session.get_bind().url.render_as_string(), RECENT_WINDOWS)
    _floors = current_app.extensions.setdefault(FLOORS, {}) if has_app_context() else {}
    kept = _floors.get(cache_key)
    if kept is not None and time.monotonic() - kept[0] < FLOOR_SECONDS:
        return kept[1]
    floors = tuple(
        session.execute(
            select(
                *(
                    select(key).order_by(key.desc()).offset(window - 1).limit(1).scalar_subquery()
                    for window in RECENT_WINDOWS
                )
            )
        ).one()
    )
    _floors[cache_key] = (time.monotonic(), floors)
    return floors


def init_app(app) -> None:
    """The app keeps its window floors (_window_floors) and forgets them when this process changes
    the catalogue."""
    app.extensions[FLOORS] = {}
    catalogue_changed.connect(_forget_floors)


def _forget_floors(sender, **extra) -> None:
    floors = current_app.extensions.get(FLOORS) if has_app_context() else None
    if floors is not None:
        floors.clear()  # this process changed the catalogue: look again at the next search


def _postgres_query(session, words: list[str]) -> str:
    """The tsquery for ``words``, worked out once: the tier queries then carry it as a value, which
    PostgreSQL plans quickly and estimates from its statistics (an expression it could not).

    The last word, as one types, is the start of a word. GIN reads a prefix ('nato':*) as every
    story of every word that starts so, even beside a rare word ("lighthouse nato": 90,000
    stories read to find 80), while it intersects whole words by skipping through the common one.
    So the words of the index that start so are looked up in search_words, and asked for by name
    when they are at most PREFIX_WORDS."""
    typing = last_word_is_prefix(words)
    whole = words[:-1] if typing else words
    columns: list[ColumnElement[Any]] = [
        cast(_all_of(map(_either_language, whole)), Text) if whole else literal(None, Text)
    ]
    if typing:
        last = words[-1]
        english, french = (func.to_tsvector(text(f"'{c}'::regconfig"), last) for c in ("english", "french"))
        columns += [
            cast(_either_language(f"{last}:*"), Text),
            func.tsvector_to_array(english.op("||")(french)),
            and_(func.length(english) == 1, func.length(french) <= 1),
        ]
    found = session.execute(select(*columns)).one()
    parts = [found[0]]
    if typing:
        _, as_prefix, stems, one_word = found
        named = _words_starting(session, stems) if one_word else []
        parts.append(" | ".join(map(_quoted, named)) if 0 < len(named) <= PREFIX_WORDS else as_prefix)
    parts = [part for part in parts if part]  # a part of English stop words only asks for nothing
    return " & ".join(f"( {part} )" for part in parts)


def _words_starting(session, stems: list[str]) -> list[str]:
    """The words of the index that start with one of ``stems`` (PREFIX_WORDS + 1 at most)."""
    word = column("word", Text)
    starting = or_(*(and_(word >= stem, word < stem + "\U0010ffff") for stem in stems))
    return list(
        session.execute(
            select(word).select_from(table("search_words", word)).where(starting).order_by(word).limit(PREFIX_WORDS + 1)
        ).scalars()
    )


def _quoted(word: str) -> str:
    """A word as a tsquery operand, whatever characters it holds."""
    return "'" + word.replace("\\", "\\\\").replace("'", "''") + "'"


def _all_of(parts):
    query = None
    for part in parts:
        query = part if query is None else query.op("&&")(part)
    return query


def _fts_match(expression: str):
    # unique: the tiers' expressions differ, and share one statement (app.flows.catalogue)
    return text("story_search MATCH :fts_query").bindparams(bindparam("fts_query", expression, unique=True))


def _either_language(word: str):
    """tsquery for one word: its 'english' or its 'french' form. A word that is an English stop
    word is left out (as a plain 'english' query does), even where French would keep it."""
    english = func.to_tsquery(text("'english'::regconfig"), word)
    either = english.op("||")(func.to_tsquery(text("'french'::regconfig"), word))
    return case((func.numnode(english) == 0, english), else_=either)


def _clean(value: str) -> str:
    # PostgreSQL refuses NUL in text; other control characters mean nothing to a search either.
    return re.sub(r"[\x00-\x08\x0b\x0c\x0e-\x1f]", " ", value or "")
