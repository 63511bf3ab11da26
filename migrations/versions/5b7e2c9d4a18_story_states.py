"""story states: draft or published, publication time, version, slug lock

Revision ID: 5b7e2c9d4a18
Revises: 5b8e2f4c9d17
Create Date: 2026-12-02 13:00:00

"""

import sqlalchemy as sa
from alembic import op

revision = "5b7e2c9d4a18"
down_revision = "5b8e2f4c9d17"
branch_labels = None
depends_on = None


def upgrade():
    # Every story there is was imported, so published at once with its slug fixed: the defaults.
    with op.batch_alter_table("stories", schema=None) as batch_op:
        batch_op.add_column(sa.Column("state", sa.String(length=12), server_default="published", nullable=False))
        batch_op.add_column(sa.Column("publish_at", sa.DateTime(), nullable=True))
        batch_op.add_column(sa.Column("version", sa.Integer(), server_default="1", nullable=False))
        batch_op.add_column(sa.Column("slug_locked", sa.Boolean(), server_default=sa.true(), nullable=False))
        batch_op.create_index(batch_op.f("ix_stories_publish_at"), ["publish_at"], unique=False)


def downgrade():
    with op.batch_alter_table("stories", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_stories_publish_at"))
        batch_op.drop_column("slug_locked")
        batch_op.drop_column("version")
        batch_op.drop_column("publish_at")
        batch_op.drop_column("state")
