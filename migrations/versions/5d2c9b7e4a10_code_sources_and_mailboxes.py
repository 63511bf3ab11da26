"""codes: the mailbox each was sent to, and the flow and network each send and wrong entry came from

Revision ID: 5d2c9b7e4a10
Revises: 5b7e2c9d4a18
Create Date: 2026-12-02 13:00:00

"""

import sqlalchemy as sa
from alembic import op

revision = "5d2c9b7e4a10"
down_revision = "5b7e2c9d4a18"
branch_labels = None
depends_on = None


def _mailbox(address):
    """The address without its +tag (as app.flows.codes.mailbox_of, copied: migrations stand alone)."""
    local, at, domain = address.rpartition("@")
    if not at or local.startswith('"'):
        return address
    base = local.split("+", 1)[0]
    return f"{base or local}@{domain}"


def upgrade():
    with op.batch_alter_table("verification_codes", schema=None) as batch_op:
        batch_op.add_column(sa.Column("mailbox", sa.String(length=254), nullable=True))
        batch_op.add_column(sa.Column("network", sa.String(length=64), nullable=True))
    codes = sa.table(
        "verification_codes",
        sa.column("id", sa.Integer()),
        sa.column("address", sa.String()),
        sa.column("mailbox", sa.String()),
    )
    connection = op.get_bind()
    for row in connection.execute(sa.select(codes.c.id, codes.c.address)).all():
        connection.execute(codes.update().where(codes.c.id == row.id).values(mailbox=_mailbox(row.address)))
    with op.batch_alter_table("verification_codes", schema=None) as batch_op:
        batch_op.alter_column("mailbox", existing_type=sa.String(length=254), nullable=False)
        batch_op.create_index("ix_verification_codes_mailbox_created", ["mailbox", "created_at"], unique=False)
    with op.batch_alter_table("wrong_code_entries", schema=None) as batch_op:
        batch_op.add_column(sa.Column("flow_id", sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column("network", sa.String(length=64), nullable=True))


def downgrade():
    with op.batch_alter_table("wrong_code_entries", schema=None) as batch_op:
        batch_op.drop_column("network")
        batch_op.drop_column("flow_id")
    with op.batch_alter_table("verification_codes", schema=None) as batch_op:
        batch_op.drop_index("ix_verification_codes_mailbox_created")
        batch_op.drop_column("network")
        batch_op.drop_column("mailbox")
