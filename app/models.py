"""Database models. Times are naive UTC (``utcnow``) so SQLite and PostgreSQL agree."""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import TYPE_CHECKING, Any

from blinker import Namespace
from flask_login import UserMixin
from sqlalchemy import DDL, BigInteger, ForeignKey, Index, LargeBinary, String, Text, event, text
from sqlalchemy import false as sa_false
from sqlalchemy import true as sa_true
from sqlalchemy.orm import Mapped, mapped_column, relationship

from .extensions import db

if TYPE_CHECKING:  # db.Model is made at run time from extensions.Base, which is what type checkers see
    from .extensions import Base as Model
else:
    Model = db.Model


def utcnow() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


def new_session_token() -> str:
    return secrets.token_urlsafe(24)


class User(UserMixin, Model):
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
    verified_at: Mapped[datetime | None] = mapped_column(index=True)  # new accounts a week (app/flows/stats.py)
    # Part of get_id(): rotating it ends every session and remember-me cookie of the account.
    session_token: Mapped[str] = mapped_column(String(64), default=new_session_token)
    newsletter_opt_in_at: Mapped[datetime | None] = mapped_column(index=True)  # as verified_at
    newsletter_opt_in_source: Mapped[str | None] = mapped_column(String(32))
    is_staff: Mapped[bool] = mapped_column(default=False, server_default=sa_false())
    # "en" or "fr": the site and the mails in this language (set at registration and by the switch)
    language: Mapped[str | None] = mapped_column(String(5))

    # The login session (LoginSession) this object was logged in or loaded with; not a column.
    if TYPE_CHECKING:  # annotated for mypy only: SQLAlchemy would take an annotation for a column
        login_key: str | None
    login_key = None  # str once logged in or loaded

    @property
    def is_verified(self) -> bool:
        return self.verified_at is not None

    def get_id(self) -> str:
        """What the session and the remember-me cookie carry; app.security.load_user checks both parts."""
        return f"{self.id}:{self.session_token}:{self.login_key or ''}"


class LoginSession(Model):
    """One log in of one browser (app/flows/login_sessions.py). Log out deletes its row, which
    ends every copy of that browser's session and remember-me cookies; only a hash of the key
    they carry is kept."""

    __tablename__ = "login_sessions"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    key_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime]


class TotpFactor(Model):
    """An authenticator app's secret (app/flows/second_factor.py): one per account. Until
    ``confirmed_at`` it is a set-up in progress and signs no one in. ``last_step`` is the 30-second
    step of the last code accepted: a code of that step or an earlier one is refused (no replay)."""

    __tablename__ = "totp_factors"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), unique=True)
    secret: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    confirmed_at: Mapped[datetime | None]
    last_step: Mapped[int | None] = mapped_column(BigInteger)


class Passkey(Model):
    """A WebAuthn credential (app/flows/passkeys.py): several per account, each named by its owner."""

    __tablename__ = "passkeys"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(100))
    # base64url of the credential id, as browsers send it back
    credential_id: Mapped[str] = mapped_column(String(1400), unique=True)
    public_key: Mapped[bytes] = mapped_column(LargeBinary)
    sign_count: Mapped[int] = mapped_column(BigInteger, default=0)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_used_at: Mapped[datetime | None]


class PasskeyChallenge(Model):
    """A passkey ceremony's challenge, as a hash, until it is answered (app/flows/passkeys.py):
    the session cookie carries the challenge, but only this row makes it good once, and the
    row's deletion is what an answer spends, so a replayed cookie and answer find nothing."""

    __tablename__ = "passkey_challenges"

    id: Mapped[int] = mapped_column(primary_key=True)
    challenge_hash: Mapped[str] = mapped_column(String(64), unique=True)
    purpose: Mapped[str] = mapped_column(String(16))
    expires_at: Mapped[datetime] = mapped_column(index=True)


class RecoveryCode(Model):
    """A single-use recovery code, kept only as a keyed hash; a new set replaces the old one."""

    __tablename__ = "recovery_codes"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    code_hash: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    used_at: Mapped[datetime | None]


class TrustedBrowser(Model):
    """ "Remember this browser": a browser that may skip the second factor until ``expires_at``.
    Its cookie carries the key (signed); only the key's hash is kept, so deleting the row revokes it."""

    __tablename__ = "trusted_browsers"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    key_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime]


# What an emailed code is for (verification_codes.purpose). Defined here, at the bottom, because
# the rules (app/flows/codes.py) and the mails (app/mails.py) both name them.
CODE_VERIFY = "verify"
CODE_RESET = "reset"
# a code to the address an account asks to move to (app/flows/email_change.py): the code's address
# is that new address, its user the account that asked
CODE_EMAIL_CHANGE = "email-change"


class VerificationCode(Model):
    """One emailed code, for one address and one purpose ("verify" or "reset").

    ``user_id`` is empty for a stand-in code: when the address has no account (or already has
    one, on registration) we still record a code that nothing can match, so every rule (send
    throttle, wrong-entry counts, expiry) behaves the same and nothing tells the two apart.
    """

    __tablename__ = "verification_codes"
    __table_args__ = (
        Index("ix_verification_codes_address_created", "address", "created_at"),
        Index("ix_verification_codes_mailbox_created", "mailbox", "created_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    address: Mapped[str] = mapped_column(String(254))
    # the address without its +tag (codes.mailbox_of): sends are throttled per mailbox too
    mailbox: Mapped[str] = mapped_column(String(254))
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    purpose: Mapped[str] = mapped_column(String(16))
    code_hash: Mapped[str] = mapped_column(String(64))
    flow_id: Mapped[str] = mapped_column(String(64))
    # a keyed hash of the network that asked (limits.client_network), for its share of the caps
    network: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime]
    wrong_entries: Mapped[int] = mapped_column(default=0)
    used_at: Mapped[datetime | None]
    voided_at: Mapped[datetime | None]


class WrongCodeEntry(Model):
    """A wrong code typed for an address; counted for the per-account hourly cap, and for the
    share of it that one browser flow and one network may use."""

    __tablename__ = "wrong_code_entries"
    __table_args__ = (Index("ix_wrong_code_entries_address_at", "address", "at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    address: Mapped[str] = mapped_column(String(254))
    at: Mapped[datetime] = mapped_column(default=utcnow)
    flow_id: Mapped[str | None] = mapped_column(String(64))
    network: Mapped[str | None] = mapped_column(String(64))


class OutboxMessage(Model):
    """A mail written in the same transaction as the change that causes it (docs/mail.md, Outbox)."""

    __tablename__ = "outbox"
    __table_args__ = (Index("ix_outbox_pending", "sent_at", "next_attempt_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    recipient: Mapped[str] = mapped_column(String(254))
    subject: Mapped[str] = mapped_column(String(300))
    body_text: Mapped[str] = mapped_column(Text)
    body_html: Mapped[str] = mapped_column(Text)
    headers_json: Mapped[str] = mapped_column(Text, default="{}")
    # "account" mails go out at once; "newsletter" mails are bulk, sent by the worker, and
    # dropped if the person unsubscribes before they go.
    kind: Mapped[str] = mapped_column(String(20), default="account", server_default="account")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    next_attempt_at: Mapped[datetime] = mapped_column(default=utcnow)
    claimed_until: Mapped[datetime | None]
    attempts: Mapped[int] = mapped_column(default=0)
    sent_at: Mapped[datetime | None]
    failed_at: Mapped[datetime | None]
    last_error: Mapped[str | None] = mapped_column(Text)


story_categories = db.Table(
    "story_categories",
    db.Column("story_id", db.ForeignKey("stories.id", ondelete="CASCADE"), primary_key=True),
    db.Column("category_id", db.ForeignKey("categories.id", ondelete="CASCADE"), primary_key=True),
)


class Category(Model):
    __tablename__ = "categories"

    id: Mapped[int] = mapped_column(primary_key=True)
    slug: Mapped[str] = mapped_column(String(80), unique=True)
    name: Mapped[str] = mapped_column(String(120))


DRAFT, PUBLISHED = "draft", "published"


class Story(Model):
    __tablename__ = "stories"
    __table_args__ = (Index("ix_stories_published", "published_at", "id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    slug: Mapped[str] = mapped_column(String(160), unique=True)
    title: Mapped[str] = mapped_column(String(300))
    published_at: Mapped[datetime]
    location: Mapped[str] = mapped_column(String(200), default="")
    summary: Mapped[str] = mapped_column(Text, default="")
    body: Mapped[str] = mapped_column(Text, default="")
    credit_line: Mapped[str] = mapped_column(String(300), default="")
    rights_note: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    # Sorts like published_at and is unique: the search reads matches in its order (app.search).
    search_key: Mapped[int | None] = mapped_column(BigInteger, unique=True)
    # Who may see it (app/flows/publishing.py): a "draft" only staff; a "published" one everyone
    # from ``publish_at`` on (NULL, as for imported stories: at once). Before then it is scheduled.
    state: Mapped[str] = mapped_column(String(12), default=PUBLISHED, server_default=PUBLISHED)
    publish_at: Mapped[datetime | None] = mapped_column(index=True)
    # Goes up with every save from the staff editor: a save based on an older version is refused.
    version: Mapped[int] = mapped_column(default=1, server_default="1")
    # The slug follows the title until the story is first published, then never changes (links).
    slug_locked: Mapped[bool] = mapped_column(default=True, server_default=sa_true())

    categories: Mapped[list[Category]] = relationship(
        Category, secondary=story_categories, order_by=Category.name, lazy="selectin"
    )
    videos: Mapped[list[Video]] = relationship(
        "Video", back_populates="story", order_by="Video.id", cascade="all, delete-orphan", lazy="selectin"
    )
    translations: Mapped[list[StoryTranslation]] = relationship(
        "StoryTranslation",
        back_populates="story",
        order_by="StoryTranslation.language",
        cascade="all, delete-orphan",
        lazy="selectin",
    )
    captions: Mapped[list[Caption]] = relationship(
        "Caption", back_populates="story", order_by="Caption.language", cascade="all, delete-orphan", lazy="selectin"
    )

    @property
    def video(self):
        return self.videos[0] if self.videos else None

    @property
    def paragraphs(self) -> list[str]:
        return split_paragraphs(self.body)

    def rendition(self, rendition_id) -> Rendition | None:
        """One of this story's renditions, or None (also for another story's)."""
        return next((r for v in self.videos for r in v.renditions if r.id == rendition_id), None)

    def caption(self, language: str | None) -> Caption | None:
        return next((c for c in self.captions if c.language == language), None)

    def translation(self, language: str | None) -> StoryTranslation | None:
        return next((t for t in self.translations if t.language == language), None)

    def text(self, language: str | None = None) -> StoryText:
        """The story's words in ``language`` (default: the request's): its translation, or the
        English original with ``is_fallback`` when that language has none. A field the translation
        leaves empty is shown in English (``StoryText.lang`` says which)."""
        if language is None:
            from .i18n import current_language

            language = current_language()
        shotlist = self.video.shotlist if self.video else ""
        original = StoryText(
            title=self.title,
            location=self.location,
            credit_line=self.credit_line,
            rights_note=self.rights_note,
            summary=self.summary,
            paragraphs=split_paragraphs(self.body),
            shots=split_shots(shotlist),
            language=ORIGINAL_LANGUAGE,
            is_fallback=language != ORIGINAL_LANGUAGE,
            requested=language,
        )
        translation = self.translation(language) if language != ORIGINAL_LANGUAGE else None
        if translation is None:
            return original
        values: dict[str, Any] = {}
        in_original = set()
        for name, translated in (
            ("title", translation.title),
            ("location", translation.location),
            ("credit_line", translation.credit_line),
            ("rights_note", translation.rights_note),
            ("summary", translation.summary),
            ("paragraphs", split_paragraphs(translation.body)),
            ("shots", split_shots(translation.shotlist)),
        ):
            if translated or not getattr(original, name):
                values[name] = translated
            else:
                values[name] = getattr(original, name)
                in_original.add(name)
        return StoryText(
            **values, language=language, is_fallback=False, requested=language, in_original=frozenset(in_original)
        )


class Video(Model):
    __tablename__ = "videos"

    id: Mapped[int] = mapped_column(primary_key=True)
    story_id: Mapped[int] = mapped_column(ForeignKey("stories.id", ondelete="CASCADE"), index=True)
    duration_seconds: Mapped[float] = mapped_column(default=0)
    # One line a shot: "HH:MM:SS description".
    shotlist: Mapped[str] = mapped_column(Text, default="")
    poster_filename: Mapped[str | None] = mapped_column(String(500))

    story: Mapped[Story] = relationship(Story, back_populates="videos")
    renditions: Mapped[list[Rendition]] = relationship(
        "Rendition",
        back_populates="video",
        order_by="Rendition.bytes.desc()",
        cascade="all, delete-orphan",
        lazy="selectin",
    )

    @property
    def preview(self):
        return next((r for r in self.renditions if r.is_preview), None)

    @property
    def shots(self) -> list[tuple[str, str]]:
        return split_shots(self.shotlist)


ORIGINAL_LANGUAGE = "en"


class StoryTranslation(Model):
    """A story's words in another language; the story's own columns are the English original."""

    __tablename__ = "story_translations"
    __table_args__ = (db.UniqueConstraint("story_id", "language"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    story_id: Mapped[int] = mapped_column(ForeignKey("stories.id", ondelete="CASCADE"))
    language: Mapped[str] = mapped_column(String(5))
    title: Mapped[str] = mapped_column(String(300))
    location: Mapped[str] = mapped_column(String(200), default="")
    summary: Mapped[str] = mapped_column(Text, default="")
    body: Mapped[str] = mapped_column(Text, default="")
    credit_line: Mapped[str] = mapped_column(String(300), default="")
    rights_note: Mapped[str] = mapped_column(Text, default="")
    # One line a shot, as Video.shotlist: "HH:MM:SS description".
    shotlist: Mapped[str] = mapped_column(Text, default="")

    story: Mapped[Story] = relationship(Story, back_populates="translations")


class Caption(Model):
    """A story's captions in one language (app/flows/captions.py): a WebVTT file, public like
    the preview it goes with."""

    __tablename__ = "captions"
    __table_args__ = (db.UniqueConstraint("story_id", "language"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    story_id: Mapped[int] = mapped_column(ForeignKey("stories.id", ondelete="CASCADE"))
    language: Mapped[str] = mapped_column(String(5))
    # Relative to MEDIA_ROOT, chosen by the app; a new file gets a new name (caches, old links).
    filename: Mapped[str] = mapped_column(String(500))
    bytes: Mapped[int] = mapped_column(default=0)
    uploaded_at: Mapped[datetime] = mapped_column(default=utcnow)

    story: Mapped[Story] = relationship(Story, back_populates="captions")


@dataclass(frozen=True)
class StoryText:
    """What a story page shows in one language (``Story.text``)."""

    title: str
    location: str
    credit_line: str
    rights_note: str
    summary: str
    paragraphs: list[str]
    shots: list[tuple[str, str]]
    language: str  # the language of the text: the one asked for, or "en" when falling back
    is_fallback: bool  # another language was asked for and the story does not have it
    requested: str = ORIGINAL_LANGUAGE
    in_original: frozenset[str] = field(default_factory=frozenset)  # fields a translation left empty

    def lang(self, name: str) -> str:
        """The language one field ("title", "summary", "paragraphs", "shots") is shown in."""
        return ORIGINAL_LANGUAGE if name in self.in_original else self.language


def split_paragraphs(body: str | None) -> list[str]:
    return [p.strip() for p in (body or "").split("\n\n") if p.strip()]


def split_shots(shotlist: str | None) -> list[tuple[str, str]]:
    lines = [line.strip() for line in (shotlist or "").splitlines() if line.strip()]
    return [(head, tail) for head, _, tail in (line.partition(" ") for line in lines)]


class CatalogueVersion(Model):
    """One row whose number goes up with every change to stories, their videos, renditions,
    translations or categories: rendered catalogue pages are cached under it."""

    __tablename__ = "catalogue_version"

    id: Mapped[int] = mapped_column(primary_key=True)
    version: Mapped[int] = mapped_column(BigInteger, default=0)


event.listen(
    CatalogueVersion.__table__, "after_create", DDL("INSERT INTO catalogue_version (id, version) VALUES (1, 0)")
)


# Sent after a commit that changed the catalogue (caches in this process look again at once).
catalogue_changed = Namespace().signal("catalogue-changed")


def track_catalogue_changes(session) -> None:
    """Count catalogue changes in the sessions of ``session`` (the app's ``db.session``), and only
    there: a listener on SQLAlchemy's Session class would fire for any session in the process.
    Bound once, however many apps are built (tests build one per test)."""
    for name, listener in (
        ("before_flush", _count_catalogue_changes),
        ("after_commit", _announce_catalogue_changes),
        ("after_rollback", _forget_catalogue_changes),
    ):
        if not event.contains(session, name, listener):
            event.listen(session, name, listener)


def _count_catalogue_changes(session, flush_context, instances):
    changed = (*session.new, *session.dirty, *session.deleted)
    if any(isinstance(obj, CATALOGUE_MODELS) for obj in changed):
        session.connection().execute(text("UPDATE catalogue_version SET version = version + 1 WHERE id = 1"))
        session.info["catalogue_changed"] = True


def _announce_catalogue_changes(session):
    if session.info.pop("catalogue_changed", False):
        catalogue_changed.send(session)


def _forget_catalogue_changes(session):
    session.info.pop("catalogue_changed", None)


class Rendition(Model):
    __tablename__ = "renditions"

    id: Mapped[int] = mapped_column(primary_key=True)
    video_id: Mapped[int] = mapped_column(ForeignKey("videos.id", ondelete="CASCADE"), index=True)
    label: Mapped[str] = mapped_column(String(120))
    container: Mapped[str] = mapped_column(String(40))
    codec: Mapped[str] = mapped_column(String(40))
    width: Mapped[int]
    height: Mapped[int]
    bytes: Mapped[int]
    # Relative to MEDIA_ROOT; never taken from a request.
    filename: Mapped[str] = mapped_column(String(500))
    mimetype: Mapped[str] = mapped_column(String(80), default="video/mp4")
    is_preview: Mapped[bool] = mapped_column(default=False)

    video: Mapped[Video] = relationship(Video, back_populates="renditions")


class Download(Model):
    """One person fetching one rendition: every request for it by the same account within
    DOWNLOAD_COUNT_WINDOW_HOURS of the first (parallel Range requests, a resumed download) adds
    its bytes here (app/flows/downloads.py). The row stays, without the person, when an account goes."""

    __tablename__ = "downloads"
    __table_args__ = (
        # the counting rule's look-up: this account's download of this rendition since a moment
        Index("ix_downloads_user_rendition_at", "user_id", "rendition_id", "at"),
        # a story's downloads by organisation in a period (app/flows/stats.py), read from the index alone
        Index("ix_downloads_rendition_at_organisation", "rendition_id", "at", "organisation", "bytes_sent"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"), index=True)
    rendition_id: Mapped[int | None] = mapped_column(ForeignKey("renditions.id", ondelete="SET NULL"))
    at: Mapped[datetime] = mapped_column(default=utcnow, index=True)  # its first request
    last_at: Mapped[datetime] = mapped_column(default=utcnow)  # its latest request
    requests: Mapped[int] = mapped_column(default=1)
    # Bytes sent by the app, added up; with a front server (X-Accel-Redirect, X-Sendfile) the
    # bytes its Range asked for, since the app never learns what the front server sent.
    bytes_sent: Mapped[int] = mapped_column(BigInteger, default=0)
    range_requested: Mapped[str | None] = mapped_column(String(100))  # of its first request
    organisation: Mapped[str] = mapped_column(String(200), default="")  # the account's, when it downloaded


class DownloadDay(Model):
    """The daily roll-up of the download log that the statistics read (app/flows/stats.py): one row
    per day, story and rendition label, kept by app/flows/downloads.py with each download. By story
    and label, not rendition, so that a story's figures outlive renditions replaced by a new upload."""

    __tablename__ = "download_days"
    __table_args__ = (
        db.UniqueConstraint("day", "story_id", "label", name="uq_download_days_day_story_label"),
        # the statistics' sums over a period read these indexes alone, not the table: by day from
        # the first; by story and by label from the others in their order, skipping from one story
        # (label) to the next over the days outside the period, so no sort of the period's rows
        Index("ix_download_days_covering", "day", "story_id", "label", "downloads", "bytes_sent"),
        Index("ix_download_days_story", "story_id", "day", "downloads", "bytes_sent"),
        Index("ix_download_days_label", "label", "day", "downloads", "bytes_sent"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    day: Mapped[date]
    story_id: Mapped[int | None] = mapped_column(ForeignKey("stories.id", ondelete="SET NULL"))
    label: Mapped[str] = mapped_column(String(120))
    downloads: Mapped[int] = mapped_column(default=0)
    bytes_sent: Mapped[int] = mapped_column(BigInteger, default=0)


class OrganisationSums:
    """The columns of the roll-ups by organisation (by day, by month), beside their day or month."""

    id: Mapped[int] = mapped_column(primary_key=True)
    organisation: Mapped[str] = mapped_column(String(200))
    downloads: Mapped[int] = mapped_column(default=0)
    bytes_sent: Mapped[int] = mapped_column(BigInteger, default=0)


class DownloadOrganisationDay(OrganisationSums, Model):
    """The daily roll-up by organisation (as the account named it when it downloaded), kept with DownloadDay."""

    __tablename__ = "download_organisation_days"
    __table_args__ = (
        db.UniqueConstraint("day", "organisation", name="uq_download_organisation_days_day_organisation"),
        # the days at the ends of a period (its whole months are read by month) from the index alone
        Index("ix_download_organisation_days_by_day", "day", "organisation", "downloads", "bytes_sent"),
    )

    day: Mapped[date]


class DownloadOrganisationMonth(OrganisationSums, Model):
    """DownloadOrganisationDay summed by calendar month (``month``: its first day), kept with it: a
    year by organisation reads twelve months and the odd days at its ends, not 365 days of rows."""

    __tablename__ = "download_organisation_months"
    __table_args__ = (
        db.UniqueConstraint("month", "organisation", name="uq_download_organisation_months_month_organisation"),
        Index("ix_download_organisation_months_covering", "month", "organisation", "downloads", "bytes_sent"),
    )

    month: Mapped[date]


class NewsletterIssue(Model):
    """One digest: the stories published in (covers_from, covers_until]."""

    __tablename__ = "newsletter_issues"

    id: Mapped[int] = mapped_column(primary_key=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    covers_from: Mapped[datetime]
    covers_until: Mapped[datetime]
    story_count: Mapped[int] = mapped_column(default=0)
    finished_at: Mapped[datetime | None]


class NewsletterDelivery(Model):
    """One digest queued for one subscriber: the unique pair makes a re-run send nothing twice."""

    __tablename__ = "newsletter_deliveries"
    __table_args__ = (db.UniqueConstraint("issue_id", "user_id", name="uq_newsletter_deliveries_issue_user"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    issue_id: Mapped[int] = mapped_column(ForeignKey("newsletter_issues.id", ondelete="CASCADE"))
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    queued_at: Mapped[datetime] = mapped_column(default=utcnow)


class AuditEvent(Model):
    """One staff action or security event (app/flows/audit.py): people by id only, never by name."""

    __tablename__ = "audit_events"

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    action: Mapped[str] = mapped_column(String(40))
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"), index=True)
    story_id: Mapped[int | None] = mapped_column(ForeignKey("stories.id", ondelete="SET NULL"), index=True)
    subject_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"), index=True)
    detail: Mapped[str] = mapped_column(Text, default="")
    ip: Mapped[str | None] = mapped_column(String(45))


class Upload(Model):
    """A master being uploaded with tus (app/flows/tus.py), then transcoded (app/flows/transcoding.py).

    Its bytes are in MEDIA_ROOT/uploads/<key>.part while they arrive: the file's size is the tus
    offset, so no request needs to write here for each chunk.
    """

    __tablename__ = "uploads"

    id: Mapped[int] = mapped_column(primary_key=True)
    key: Mapped[str] = mapped_column(String(40), unique=True)  # in the upload's URL
    story_id: Mapped[int] = mapped_column(ForeignKey("stories.id", ondelete="CASCADE"), index=True)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"), index=True)
    filename: Mapped[str] = mapped_column(String(255), default="")  # as the browser named it; shown only
    length: Mapped[int] = mapped_column(BigInteger)
    received: Mapped[int] = mapped_column(BigInteger, default=0)  # as of the last request; the file says more
    poster_percent: Mapped[float] = mapped_column(default=10)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(index=True)
    completed_at: Mapped[datetime | None]
    # Relative to MEDIA_ROOT once the whole master has arrived and is known to be a video.
    master_filename: Mapped[str | None] = mapped_column(String(500))
    duration_seconds: Mapped[float] = mapped_column(default=0)
    width: Mapped[int] = mapped_column(default=0)
    height: Mapped[int] = mapped_column(default=0)
    published_at: Mapped[datetime | None]  # its renditions replaced the story's
    superseded_at: Mapped[datetime | None]  # a newer master for the same story came

    story: Mapped[Story] = relationship(Story)
    jobs: Mapped[list[TranscodeJob]] = relationship(
        "TranscodeJob",
        back_populates="upload",
        order_by="TranscodeJob.id",
        cascade="all, delete-orphan",
        lazy="selectin",
    )


class TranscodeJob(Model):
    """One output of a master: a rendition of the ladder, or the poster. ``state`` is waiting,
    running, ready, failed or cancelled; the queue carries only the id, this row is the truth."""

    __tablename__ = "transcode_jobs"

    id: Mapped[int] = mapped_column(primary_key=True)
    upload_id: Mapped[int] = mapped_column(ForeignKey("uploads.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(20))  # a ladder key ("hd", "sd", "preview") or "poster"
    label: Mapped[str] = mapped_column(String(120))
    width: Mapped[int] = mapped_column(default=0)
    height: Mapped[int] = mapped_column(default=0)
    is_preview: Mapped[bool] = mapped_column(default=False)
    state: Mapped[str] = mapped_column(String(16), default="waiting", index=True)
    progress: Mapped[int] = mapped_column(default=0)  # percent
    error: Mapped[str | None] = mapped_column(Text)  # ffmpeg's last lines
    output_filename: Mapped[str | None] = mapped_column(String(500))
    bytes: Mapped[int] = mapped_column(BigInteger, default=0)
    attempts: Mapped[int] = mapped_column(default=0)
    worker: Mapped[str | None] = mapped_column(String(120))  # "host:pid" of the worker running it
    heartbeat_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    finished_at: Mapped[datetime | None]

    upload: Mapped[Upload] = relationship(Upload, back_populates="jobs")


CATALOGUE_MODELS = (Story, StoryTranslation, Video, Rendition, Category, Caption)
