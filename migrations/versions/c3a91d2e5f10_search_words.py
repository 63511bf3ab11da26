"""search words: the index's vocabulary, for the last word typed (PostgreSQL)

Revision ID: c3a91d2e5f10
Revises: b09af7522596
Create Date: 2026-11-28 04:50:00.000000

PostgreSQL's search looks up the words a typed prefix starts in ``search_words`` and asks the GIN
index for them by name (app/search.py, _postgres_query). The table is filled from the documents
already indexed. SQLite's FTS5 reads prefixes itself: nothing to do there.
"""
from alembic import op

from app import search

# revision identifiers, used by Alembic.
revision = 'c3a91d2e5f10'
down_revision = 'b09af7522596'
branch_labels = None
depends_on = None

CREATE_WORDS = next(statement for statement in search.POSTGRES_DDL if "search_words" in statement)


def upgrade():
    if op.get_bind().dialect.name == "sqlite":
        return
    op.execute(CREATE_WORDS)
    op.execute(search.POSTGRES_REMEMBER_WORDS.format(where="true"))


def downgrade():
    if op.get_bind().dialect.name != "sqlite":
        op.execute("DROP TABLE IF EXISTS search_words")
