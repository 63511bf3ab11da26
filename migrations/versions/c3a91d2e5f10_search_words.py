"""search words: the index's vocabulary, for the last word typed (PostgreSQL)

Revision ID: c3a91d2e5f10
Revises: b09af7522596
Create Date: 2026-11-28 04:50:00.000000

PostgreSQL's search looks up the words a typed prefix starts in ``search_words`` and asks the GIN
index for them by name (app/search.py, _postgres_query). The table is filled from the documents
already indexed. SQLite's FTS5 reads prefixes itself: nothing to do there.
"""

from alembic import op

# revision identifiers, used by Alembic.
revision = "c3a91d2e5f10"
down_revision = "b09af7522596"
branch_labels = None
depends_on = None

# Written here, not read from app/search.py: this revision does the same whatever the app becomes.
CREATE_WORDS = 'CREATE TABLE IF NOT EXISTS search_words (word TEXT COLLATE "C" PRIMARY KEY)'
REMEMBER_WORDS = (
    "INSERT INTO search_words (word) SELECT DISTINCT word FROM story_search, "
    "unnest(tsvector_to_array(document)) AS word ORDER BY word ON CONFLICT DO NOTHING"
)


def upgrade():
    if op.get_bind().dialect.name == "sqlite":
        return
    op.execute(CREATE_WORDS)
    op.execute(REMEMBER_WORDS)


def downgrade():
    if op.get_bind().dialect.name != "sqlite":
        op.execute("DROP TABLE IF EXISTS search_words")
