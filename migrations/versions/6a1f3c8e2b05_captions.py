"""captions

Revision ID: 6a1f3c8e2b05
Revises: 5c8e2f4a9d17
Create Date: 2026-12-02 13:45:00

"""

import sqlalchemy as sa
from alembic import op

revision = "6a1f3c8e2b05"
down_revision = "5c8e2f4a9d17"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "captions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("story_id", sa.Integer(), nullable=False),
        sa.Column("language", sa.String(length=5), nullable=False),
        sa.Column("filename", sa.String(length=500), nullable=False),
        sa.Column("bytes", sa.Integer(), nullable=False),
        sa.Column("uploaded_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["story_id"], ["stories.id"], name=op.f("fk_captions_story_id_stories"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_captions")),
        sa.UniqueConstraint("story_id", "language", name=op.f("uq_captions_story_id")),
    )


def downgrade():
    op.drop_table("captions")
