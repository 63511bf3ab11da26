"""statistics: indexes of download_days by story and by label and of users by verification and
newsletter time; the monthly roll-up by organisation

Revision ID: 3b7e9d2c4a10
Revises: 9d3e7a1c5b20
Create Date: 2026-12-02 17:40:00

The statistics page (app/flows/stats.py) sums the roll-up of a period by story and by rendition
label, and counts new accounts and subscribers a week. With only the by-day index each of these
sorted all the period's rows (a year: tens of thousands); with an index in each order they are
read from the index alone. The story index replaces the plain one on story_id (its prefix).

download_organisation_months sums download_organisation_days by calendar month (month = its first
day), so that a year by organisation reads twelve rows per organisation, not 365; filled here from
the daily rows, which are now read by day (the days around the whole months).
"""

import sqlalchemy as sa
from alembic import op

revision = "3b7e9d2c4a10"
down_revision = "9d3e7a1c5b20"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "download_organisation_months",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("month", sa.Date(), nullable=False),
        sa.Column("organisation", sa.String(length=200), nullable=False),
        sa.Column("downloads", sa.Integer(), nullable=False),
        sa.Column("bytes_sent", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_download_organisation_months")),
        sa.UniqueConstraint("month", "organisation", name="uq_download_organisation_months_month_organisation"),
    )
    month = (
        "CAST(date_trunc('month', day) AS DATE)"
        if op.get_bind().dialect.name == "postgresql"
        else "date(day, 'start of month')"
    )
    op.execute(
        f"INSERT INTO download_organisation_months (month, organisation, downloads, bytes_sent) "
        f"SELECT {month}, organisation, SUM(downloads), SUM(bytes_sent) FROM download_organisation_days "
        f"GROUP BY {month}, organisation"
    )
    op.create_index(
        "ix_download_organisation_months_covering",
        "download_organisation_months",
        ["month", "organisation", "downloads", "bytes_sent"],
    )
    # the daily rows are now read by day (the days around the whole months), no longer by organisation
    op.drop_index("ix_download_organisation_days_covering", table_name="download_organisation_days")
    op.create_index(
        "ix_download_organisation_days_by_day",
        "download_organisation_days",
        ["day", "organisation", "downloads", "bytes_sent"],
    )
    op.drop_index("ix_download_days_story_id", table_name="download_days")
    op.create_index("ix_download_days_story", "download_days", ["story_id", "day", "downloads", "bytes_sent"])
    op.create_index("ix_download_days_label", "download_days", ["label", "day", "downloads", "bytes_sent"])
    op.create_index("ix_users_verified_at", "users", ["verified_at"])
    op.create_index("ix_users_newsletter_opt_in_at", "users", ["newsletter_opt_in_at"])


def downgrade():
    op.drop_index("ix_users_newsletter_opt_in_at", table_name="users")
    op.drop_index("ix_users_verified_at", table_name="users")
    op.drop_index("ix_download_days_label", table_name="download_days")
    op.drop_index("ix_download_days_story", table_name="download_days")
    op.create_index("ix_download_days_story_id", "download_days", ["story_id"])
    op.drop_index("ix_download_organisation_days_by_day", table_name="download_organisation_days")
    op.create_index(
        "ix_download_organisation_days_covering",
        "download_organisation_days",
        ["organisation", "day", "downloads", "bytes_sent"],
    )
    op.drop_table("download_organisation_months")
