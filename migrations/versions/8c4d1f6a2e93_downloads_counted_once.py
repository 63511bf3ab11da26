"""downloads counted once: requests of one rendition by one account within 6 hours are one download; their daily roll-up

Revision ID: 8c4d1f6a2e93
Revises: 6a1f3c8e2b05
Create Date: 2026-12-02 13:40:00

Every request used to be its own row (a download manager's eight parallel Range requests were
eight downloads). The rows of one account and one rendition within WINDOW of the first are merged
into that first one, their bytes added up, as app/flows/downloads.py now counts. Rows of deleted
accounts (no account left to tell people apart) stay as they are.

download_days is the daily roll-up the statistics read (app/flows/stats.py), filled here from the
merged log; downloads of a rendition since removed have no story left and stay out of it.
"""

from datetime import timedelta

import sqlalchemy as sa
from alembic import op

revision = "8c4d1f6a2e93"
down_revision = "6a1f3c8e2b05"
branch_labels = None
depends_on = None

WINDOW = timedelta(hours=6)  # DOWNLOAD_COUNT_WINDOW_HOURS' default
BATCH = 5000

downloads = sa.table(
    "downloads",
    sa.column("id", sa.Integer),
    sa.column("user_id", sa.Integer),
    sa.column("rendition_id", sa.Integer),
    sa.column("at", sa.DateTime),
    sa.column("last_at", sa.DateTime),
    sa.column("requests", sa.Integer),
    sa.column("bytes_sent", sa.BigInteger),
)


def upgrade():
    with op.batch_alter_table("downloads", schema=None) as batch_op:
        batch_op.add_column(sa.Column("last_at", sa.DateTime(), nullable=True))
        batch_op.add_column(sa.Column("requests", sa.Integer(), nullable=False, server_default="1"))
        batch_op.add_column(sa.Column("organisation", sa.String(length=200), nullable=False, server_default=""))
        batch_op.alter_column("bytes_sent", existing_type=sa.Integer(), type_=sa.BigInteger(), existing_nullable=False)
    op.execute(downloads.update().values(last_at=downloads.c.at))
    op.execute(
        "UPDATE downloads SET organisation = coalesce("
        "(SELECT substr(u.organisation, 1, 200) FROM users u WHERE u.id = downloads.user_id), '')"
    )
    with op.batch_alter_table("downloads", schema=None) as batch_op:
        batch_op.alter_column("last_at", existing_type=sa.DateTime(), nullable=False)
        batch_op.alter_column("requests", existing_type=sa.Integer(), server_default=None)
        batch_op.alter_column("organisation", existing_type=sa.String(length=200), server_default=None)
        batch_op.create_index("ix_downloads_user_rendition_at", ["user_id", "rendition_id", "at"], unique=False)
        batch_op.drop_index("ix_downloads_rendition_id")
    merge(op.get_bind())
    with op.batch_alter_table("downloads", schema=None) as batch_op:  # organisation is known once merged
        batch_op.create_index(
            "ix_downloads_rendition_at_organisation", ["rendition_id", "at", "organisation", "bytes_sent"], unique=False
        )
    op.create_table(
        "download_days",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("story_id", sa.Integer(), nullable=True),
        sa.Column("label", sa.String(length=120), nullable=False),
        sa.Column("downloads", sa.Integer(), nullable=False),
        sa.Column("bytes_sent", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["story_id"], ["stories.id"], name=op.f("fk_download_days_story_id_stories"), ondelete="SET NULL"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_download_days")),
        sa.UniqueConstraint("day", "story_id", "label", name="uq_download_days_day_story_label"),
    )
    op.create_table(
        "download_organisation_days",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("organisation", sa.String(length=200), nullable=False),
        sa.Column("downloads", sa.Integer(), nullable=False),
        sa.Column("bytes_sent", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_download_organisation_days")),
        sa.UniqueConstraint("day", "organisation", name="uq_download_organisation_days_day_organisation"),
    )
    with op.batch_alter_table("download_days", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_download_days_story_id"), ["story_id"], unique=False)
        batch_op.create_index(
            "ix_download_days_covering", ["day", "story_id", "label", "downloads", "bytes_sent"], unique=False
        )
    with op.batch_alter_table("download_organisation_days", schema=None) as batch_op:
        batch_op.create_index(
            "ix_download_organisation_days_covering", ["organisation", "day", "downloads", "bytes_sent"], unique=False
        )
    op.execute(
        "INSERT INTO download_days (day, story_id, label, downloads, bytes_sent)"
        " SELECT date(d.at), v.story_id, r.label, count(*), sum(d.bytes_sent)"
        " FROM downloads d JOIN renditions r ON r.id = d.rendition_id JOIN videos v ON v.id = r.video_id"
        " GROUP BY date(d.at), v.story_id, r.label"
    )
    op.execute(
        "INSERT INTO download_organisation_days (day, organisation, downloads, bytes_sent)"
        " SELECT date(at), organisation, count(*), sum(bytes_sent) FROM downloads GROUP BY date(at), organisation"
    )


def merge(connection) -> None:
    """One pass over the log in (account, rendition, time) order; the merged rows go in batches."""
    rows = connection.execute(
        sa.select(downloads.c.id, downloads.c.user_id, downloads.c.rendition_id, downloads.c.at, downloads.c.bytes_sent)
        .where(downloads.c.user_id.is_not(None), downloads.c.rendition_id.is_not(None))
        .order_by(downloads.c.user_id, downloads.c.rendition_id, downloads.c.at, downloads.c.id)
        .execution_options(yield_per=BATCH)
    )
    updates, deletes = [], []
    first = None  # [id, user, rendition, at, last_at, requests, bytes]
    for id_, user, rendition, at, sent in rows:
        if first and (first[1], first[2]) == (user, rendition) and at - first[3] < WINDOW:
            first[4], first[5], first[6] = at, first[5] + 1, first[6] + (sent or 0)
            deletes.append({"gone": id_})
            continue
        if first and first[5] > 1:
            updates.append({"kept": first[0], "last": first[4], "count": first[5], "sent": first[6]})
        first = [id_, user, rendition, at, at, 1, sent or 0]
    rows.close()
    if first and first[5] > 1:
        updates.append({"kept": first[0], "last": first[4], "count": first[5], "sent": first[6]})
    update = (
        downloads.update()
        .where(downloads.c.id == sa.bindparam("kept"))
        .values(last_at=sa.bindparam("last"), requests=sa.bindparam("count"), bytes_sent=sa.bindparam("sent"))
    )
    delete = downloads.delete().where(downloads.c.id == sa.bindparam("gone"))
    for start in range(0, len(updates), BATCH):
        connection.execute(update, updates[start : start + BATCH])
    for start in range(0, len(deletes), BATCH):
        connection.execute(delete, deletes[start : start + BATCH])


def downgrade():
    with op.batch_alter_table("download_days", schema=None) as batch_op:
        batch_op.drop_index("ix_download_days_covering")
        batch_op.drop_index(batch_op.f("ix_download_days_story_id"))
    op.drop_table("download_days")
    with op.batch_alter_table("download_organisation_days", schema=None) as batch_op:
        batch_op.drop_index("ix_download_organisation_days_covering")
    op.drop_table("download_organisation_days")
    # The merged requests stay merged: each row is then one request whose bytes are the download's.
    with op.batch_alter_table("downloads", schema=None) as batch_op:
        batch_op.drop_index("ix_downloads_rendition_at_organisation")
        batch_op.drop_index("ix_downloads_user_rendition_at")
        batch_op.create_index("ix_downloads_rendition_id", ["rendition_id"], unique=False)
        batch_op.alter_column("bytes_sent", existing_type=sa.BigInteger(), type_=sa.Integer(), existing_nullable=False)
        batch_op.drop_column("requests")
        batch_op.drop_column("organisation")
        batch_op.drop_column("last_at")
