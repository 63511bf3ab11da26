"""Database models. Times are naive UTC (``utcnow``) so SQLite and PostgreSQL agree."""
from __future__ import annotations

import secrets
from datetime import datetime, timezone

from flask_login import UserMixin
from sqlalchemy import ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from .extensions import db


def utcnow() -> datetime:
    return datetime.now(timezone.utc).replace(tzinfo=None)


def new_session_token() -> str:
    return secrets.token_urlsafe(24)


class User(UserMixin, db.Model):
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(primary_key=True)
    # Stored normalised and lower-cased, so the unique constraint is case-insensitive.
    email: Mapped[str] = mapped_column(String(254), unique=True)
    password_hash: Mapped[str] = mapped_column(String(100))
    first_name: Mapped[str] = mapped_column(String(100))
    last_name: Mapped[str] = mapped_column(String(100))
    organisation: Mapped[str] = mapped_column(String(200))
    conditions_accepted_at: Mapped[datetime]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    verified_at: Mapped[datetime | None]
    # Part of get_id(): rotating it ends every session and remember-me cookie of the account.
    session_token: Mapped[str] = mapped_column(String(64), default=new_session_token)
    newsletter_opt_in_at: Mapped[datetime | None]
    newsletter_opt_in_source: Mapped[str | None] = mapped_column(String(32))

    @property
    def is_verified(self) -> bool:
        return self.verified_at is not None

    def get_id(self) -> str:
        return f"{self.id}:{self.session_token}"

    @property
    def display_name(self) -> str:
        return f"{self.first_name} {self.last_name}".strip()


class VerificationCode(db.Model):
    """One emailed code, for one address and one purpose ("verify" or "reset").

    ``user_id`` is empty for a stand-in code: when the address has no account (or already has
    one, on registration) we still record a code that nothing can match, so every rule (send
    throttle, wrong-entry counts, expiry) behaves the same and nothing tells the two apart.
    """

    __tablename__ = "verification_codes"
    __table_args__ = (Index("ix_verification_codes_address_created", "address", "created_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    address: Mapped[str] = mapped_column(String(254))
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    purpose: Mapped[str] = mapped_column(String(16))
    code_hash: Mapped[str] = mapped_column(String(64))
    flow_id: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime]
    wrong_entries: Mapped[int] = mapped_column(default=0)
    used_at: Mapped[datetime | None]
    voided_at: Mapped[datetime | None]


class WrongCodeEntry(db.Model):
    """A wrong code typed for an address; counted for the per-account hourly cap."""

    __tablename__ = "wrong_code_entries"
    __table_args__ = (Index("ix_wrong_code_entries_address_at", "address", "at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    address: Mapped[str] = mapped_column(String(254))
    at: Mapped[datetime] = mapped_column(default=utcnow)


class OutboxMessage(db.Model):
    """A mail written in the same transaction as the change that causes it (SPEC §5)."""

    __tablename__ = "outbox"
    __table_args__ = (Index("ix_outbox_pending", "sent_at", "next_attempt_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    recipient: Mapped[str] = mapped_column(String(254))
    subject: Mapped[str] = mapped_column(String(300))
    body_text: Mapped[str] = mapped_column(Text)
    body_html: Mapped[str] = mapped_column(Text)
    headers_json: Mapped[str] = mapped_column(Text, default="{}")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    next_attempt_at: Mapped[datetime] = mapped_column(default=utcnow)
    claimed_until: Mapped[datetime | None]
    attempts: Mapped[int] = mapped_column(default=0)
    sent_at: Mapped[datetime | None]
    failed_at: Mapped[datetime | None]
    last_error: Mapped[str | None] = mapped_column(Text)
