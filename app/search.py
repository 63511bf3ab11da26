"""Full-text search over stories with the database's own engine (SPEC §4.1).

SQLite: an FTS5 table ``story_search`` (porter stemming). PostgreSQL: a table ``story_search`` of
``tsvector`` documents (the whole story, and its title alone) with GIN indexes.
Neither is a model: the migration creates it, ``index_story`` keeps it up to date, and
user input only ever reaches it as quoted word tokens, never as query syntax.

Ranking: stories with every word in the title come first, then the stories with the words
anywhere else; newest first within each. Both tiers are read in the order of an index
(``Story.search_key`` follows the publication date, and is the FTS5 rowid), so a page costs the
same whether a word is in ten stories or in all of them: no score is computed for every match,
as BM25 or ``ts_rank`` would have to before a LIMIT.

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
from dataclasses import dataclass

from sqlalchemy import Text, case, cast, column, func, literal, not_, select, table, text
from sqlalchemy.dialects.postgresql import TSQUERY

MAX_TOKENS = 12
MAX_TOKEN_LENGTH = 40
# The last word is matched as a prefix (results follow typing) from this length on; shorter
# ones ("un", "eu") match as whole words, so two letters do not expand to half the vocabulary.
MIN_PREFIX_LENGTH = 3
TOKEN = re.compile(r"\w+", re.UNICODE)
# PostgreSQL: how many of the newest stories a search walks in date order (see _recent_then_older),
# for the title tier (small title documents, quick to test) and for the rest (whole stories).
RECENT_WINDOWS = (10_000, 1_000)
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
    "ALTER TABLE story_search ALTER COLUMN document SET STATISTICS 300,"
    " ALTER COLUMN title_document SET STATISTICS 300",
    # Searches are small and frequent, imports rare: no parallel workers to start for a page of
    # results, and no GIN pending list for every search to read through.
    "ALTER TABLE story_search SET (parallel_workers = 0)",
    "ALTER INDEX ix_story_search_document SET (fastupdate = off)",
    "ALTER INDEX ix_story_search_title_document SET (fastupdate = off)",
]
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


def include_object(obj, name, type_, reflected, compare_to):
    """For Alembic: the search table (and FTS5's shadow tables) are not models."""
    return not (type_ == "table" and name.startswith("story_search"))


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
    taken = set(session.execute(select(Story.search_key).where(
        Story.search_key >= key, Story.search_key < key + 4 * KEY_SLOTS, Story.id != story.id)).scalars())
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
        session.execute(text("INSERT INTO story_search (rowid, title, summary, body, shotlist) "
                             "VALUES (:key, :title, :summary, :body, :shotlist)"), values)
    else:
        document, title_document = POSTGRES_DOCUMENT, POSTGRES_TITLE_DOCUMENT
        for language, config in TRANSLATION_CONFIGS.items():
            if language in translations:
                document += " || " + _translation_document(language, config)
                title_document += " || " + _translation_document(language, config, ("title",))
                values.update({f"{language}_{name}": _clean(getattr(translations[language], name)) for name in FIELDS})
        session.execute(text(
            f"INSERT INTO story_search (story_id, sort_key, title_document, document) "
            f"VALUES (:id, :key, {title_document}, {document}) ON CONFLICT (story_id) DO UPDATE SET "
            "sort_key = EXCLUDED.sort_key, title_document = EXCLUDED.title_document, document = EXCLUDED.document"),
            values)


def reindex_all(session) -> int:
    """Rebuild the whole index (after a schema change); returns the number of stories."""
    from .models import Story

    count = 0
    for story in session.execute(select(Story).order_by(Story.id)).scalars():
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

    target: object
    story_key: object
    joins_on: str  # the Story attribute ``story_key`` equals
    where: object
    order: object


def tiers(session, words: list[str]) -> list[Tier]:
    """The ranking's tiers for ``words``: every word in the title, then anywhere else."""
    if session.get_bind().dialect.name == "sqlite":
        fts = table("story_search", column("rowid"))
        phrases = [f'"{w}"' for w in words]
        if len(words[-1]) >= MIN_PREFIX_LENGTH:
            phrases[-1] += "*"
        everywhere = " ".join(phrases)
        in_title = f"{{title}} : ({everywhere})"
        return [Tier(fts, fts.c.rowid, "search_key", _fts_match(in_title), fts.c.rowid.desc()),
                Tier(fts, fts.c.rowid, "search_key", _fts_match(f"({everywhere}) NOT {in_title}"), fts.c.rowid.desc())]
    documents = table("story_search", column("story_id"), column("sort_key"), column("document"),
                      column("title_document"))
    query = cast(literal(_postgres_query(session, words)), TSQUERY)
    in_title = documents.c.title_document.op("@@")(query)
    everywhere = documents.c.document.op("@@")(query)
    key = documents.c.sort_key
    floors = session.execute(select(*(select(key).order_by(key.desc()).offset(window - 1).limit(1).scalar_subquery()
                                      for window in RECENT_WINDOWS))).one()
    tiers = []
    for where, floor in zip((in_title, everywhere & not_(in_title)), floors):
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
    return [Tier(documents, documents.c.story_id, "id", where & (key >= floor), key.desc()),
            Tier(documents, documents.c.story_id, "id", where & (key < floor), (key + 0).desc())]


def _postgres_query(session, words: list[str]) -> str:
    """The tsquery for ``words``, worked out once: the tier queries then carry it as a value, which
    PostgreSQL plans quickly and estimates from its statistics (an expression it could not)."""
    query = None
    last = f"{words[-1]}:*" if len(words[-1]) >= MIN_PREFIX_LENGTH else words[-1]
    for word in words[:-1] + [last]:
        part = _either_language(word)
        query = part if query is None else query.op("&&")(part)
    return session.scalar(select(cast(query, Text)))


def _fts_match(expression: str):
    return text("story_search MATCH :fts_query").bindparams(fts_query=expression)


def _either_language(word: str):
    """tsquery for one word: its 'english' or its 'french' form. A word that is an English stop
    word is left out (as a plain 'english' query does), even where French would keep it."""
    english = func.to_tsquery(text("'english'::regconfig"), word)
    either = english.op("||")(func.to_tsquery(text("'french'::regconfig"), word))
    return case((func.numnode(english) == 0, english), else_=either)


def _clean(value: str) -> str:
    # PostgreSQL refuses NUL in text; other control characters mean nothing to a search either.
    return re.sub(r"[\x00-\x08\x0b\x0c\x0e-\x1f]", " ", value or "")
