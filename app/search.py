"""Full-text search over stories with the database's own engine (SPEC §4.1).

SQLite: an FTS5 table ``story_search`` (rowid = story id, porter stemming, BM25 ranking).
PostgreSQL: a table ``story_search`` of weighted ``tsvector`` documents with a GIN index.
Neither is a model: the migration creates it, ``index_story`` keeps it up to date, and
user input only ever reaches it as quoted word tokens, never as query syntax.

Translations (``story_translations``) are in the same document, so a word of either language
finds the story. SQLite: each translated field is appended to the same column (the porter
stemmer is applied alike to the document and to the query, so French words match themselves,
accents or not). PostgreSQL: the French text is indexed twice, with the 'french' configuration
(French stemming: "alliés" finds "allié") and with the 'english' one (so every word finds itself
even where the two stemmers disagree, and French stop words such as "avions" stay searchable);
the query asks, word by word, for the 'english' or the 'french' form.
"""
from __future__ import annotations

import re

from sqlalchemy import case, column, func, table, text

MAX_TOKENS = 12
MAX_TOKEN_LENGTH = 40
TOKEN = re.compile(r"\w+", re.UNICODE)

SQLITE_DDL = [
    "CREATE VIRTUAL TABLE IF NOT EXISTS story_search USING fts5("
    "title, summary, body, shotlist, tokenize = 'porter unicode61 remove_diacritics 2')",
]
POSTGRES_DDL = [
    "CREATE TABLE IF NOT EXISTS story_search ("
    " story_id INTEGER PRIMARY KEY REFERENCES stories (id) ON DELETE CASCADE,"
    " document TSVECTOR NOT NULL)",
    "CREATE INDEX IF NOT EXISTS ix_story_search_document ON story_search USING GIN (document)",
]
POSTGRES_DOCUMENT = (
    "setweight(to_tsvector('english', :title), 'A') || "
    "setweight(to_tsvector('english', :summary), 'B') || "
    "setweight(to_tsvector('english', :body), 'C') || "
    "setweight(to_tsvector('english', :shotlist), 'C')"
)
# The text search configuration of each translation language (PostgreSQL).
TRANSLATION_CONFIGS = {"fr": "french"}
FIELDS = ("title", "summary", "body", "shotlist")
WEIGHTS = {"title": "A", "summary": "B", "body": "C", "shotlist": "C"}


def _translation_document(language: str, config: str) -> str:
    """The weighted tsvector of one translation: its own language's stemming and the query's."""
    return " || ".join(f"setweight(to_tsvector('{c}', :{language}_{name}), '{WEIGHTS[name]}')"
                       for c in (config, "english") for name in FIELDS)


def create_schema(connection) -> None:
    for statement in SQLITE_DDL if connection.dialect.name == "sqlite" else POSTGRES_DDL:
        connection.exec_driver_sql(statement)


def drop_schema(connection) -> None:
    connection.exec_driver_sql("DROP TABLE IF EXISTS story_search")


def include_object(obj, name, type_, reflected, compare_to):
    """For Alembic: the search table (and FTS5's shadow tables) are not models."""
    return not (type_ == "table" and name.startswith("story_search"))


def index_story(session, story) -> None:
    """(Re)index one story; call inside the transaction that changes it."""
    video = story.video
    values = {
        "id": story.id,
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
        session.execute(text("DELETE FROM story_search WHERE rowid = :id"), values)
        session.execute(text("INSERT INTO story_search (rowid, title, summary, body, shotlist) "
                             "VALUES (:id, :title, :summary, :body, :shotlist)"), values)
    else:
        document = POSTGRES_DOCUMENT
        for language, config in TRANSLATION_CONFIGS.items():
            if language in translations:
                document += " || " + _translation_document(language, config)
                values.update({f"{language}_{name}": _clean(getattr(translations[language], name)) for name in FIELDS})
        session.execute(text(f"INSERT INTO story_search (story_id, document) VALUES (:id, {document}) "
                             "ON CONFLICT (story_id) DO UPDATE SET document = EXCLUDED.document"), values)


def tokens(query: str) -> list[str]:
    """The words of a search box, lower-cased; operators, quotes and control characters drop out."""
    found = TOKEN.findall(_clean(query or "").lower())
    return [t[:MAX_TOKEN_LENGTH] for t in found if t.strip("_")][:MAX_TOKENS]


def match(dialect: str, words: list[str]):
    """(join target, where clause, rank expression) for the words; the last one matches as a prefix,
    so results follow typing."""
    if dialect == "sqlite":
        fts = table("story_search", column("rowid"))
        expression = " ".join(f'"{w}"' for w in words[:-1]) + f' "{words[-1]}"*'
        where = text("story_search MATCH :fts_query").bindparams(fts_query=expression.strip())
        rank = text("bm25(story_search, 10.0, 5.0, 1.0, 2.0)")
        return fts, fts.c.rowid, where, rank
    documents = table("story_search", column("story_id"), column("document"))
    query = None
    for word in words[:-1] + [f"{words[-1]}:*"]:
        part = _either_language(word)
        query = part if query is None else query.op("&&")(part)
    where = documents.c.document.op("@@")(query)
    rank = func.ts_rank(documents.c.document, query).desc()
    return documents, documents.c.story_id, where, rank


def _either_language(word: str):
    """tsquery for one word: its 'english' or its 'french' form. A word that is an English stop
    word is left out (as a plain 'english' query does), even where French would keep it."""
    english = func.to_tsquery(text("'english'::regconfig"), word)
    either = english.op("||")(func.to_tsquery(text("'french'::regconfig"), word))
    return case((func.numnode(english) == 0, english), else_=either)


def _clean(value: str) -> str:
    # PostgreSQL refuses NUL in text; other control characters mean nothing to a search either.
    return re.sub(r"[\x00-\x08\x0b\x0c\x0e-\x1f]", " ", value or "")
