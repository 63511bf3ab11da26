"""Staff accounts for the press office: created from the command line, promoted and demoted there
or on /staff/people. Each change is audited and mailed to the person."""

from flask import current_app
from sqlalchemy import func, select

from .. import mails
from ..extensions import db
from ..models import User, utcnow
from . import audit, codes
from .accounts import find_user
from .emails import InvalidEmail, normalize_email
from .passwords import PasswordPolicy, hash_password

NO_ACCOUNT, NOT_VERIFIED, INVALID_ADDRESS, LAST_STAFF = "no_account", "not_verified", "invalid_address", "last_staff"


class StaffError(Exception):
    """A refused change; ``reason`` names it, for pages that say it in the reader's language."""

    def __init__(self, message: str, reason: str = ""):
        super().__init__(message)
        self.reason = reason


def create_staff_user(
    email: str, password: str, first_name: str, last_name: str, organisation: str
) -> tuple[User, bool]:
    try:
        address = normalize_email(email)
    except InvalidEmail as exc:
        raise StaffError(str(exc)) from None
    problems = PasswordPolicy.from_config(current_app.config).problems(password)
    if problems:
        raise StaffError(" ".join(problems))
    user = find_user(address)
    created = user is None
    if user is None:
        user = User(
            email=address,
            first_name=first_name,
            last_name=last_name,
            organisation=organisation,
            conditions_accepted_at=utcnow(),
            password_hash="",
        )
        db.session.add(user)
    user.password_hash = hash_password(password, current_app.config["BCRYPT_ROUNDS"])
    user.is_staff = True
    user.verified_at = user.verified_at or utcnow()
    db.session.flush()
    audit.record("user.create_staff" if created else "user.promote", subject=user, detail="command line")
    db.session.commit()
    return user, created


def set_staff(email: str, staff: bool, *, actor: User | None = None, keep_one: bool = False) -> User:
    """Make an existing account staff (promote) or an ordinary account again (demote); the change
    holds from its next request on, since every staff URL reads the account afresh. With
    ``keep_one`` (the staff pages), the last staff account is never demoted: changes are taken one
    at a time, so two people demoting each other cannot both succeed."""
    try:
        address = normalize_email(email)
    except InvalidEmail as exc:
        raise StaffError(str(exc), INVALID_ADDRESS) from None
    codes.lock("staff")
    try:
        user = _changed(address, staff, actor, keep_one)
    except StaffError:
        db.session.rollback()  # and so the lock goes
        raise
    db.session.commit()
    return user


def _changed(address: str, staff: bool, actor: User | None, keep_one: bool) -> User:
    user = find_user(address)
    if user is None:
        raise StaffError(f"no account has the address {address}", NO_ACCOUNT)
    if staff and not user.is_verified:
        raise StaffError(f"{address} has not verified its address yet: it cannot log in", NOT_VERIFIED)
    if keep_one and not staff and user.is_staff and len(staff_members()) <= 1:
        raise StaffError("the last staff account cannot be demoted", LAST_STAFF)
    if user.is_staff != staff:
        user.is_staff = staff
        audit.record(
            "user.promote" if staff else "user.demote",
            actor=actor,
            subject=user,
            detail="" if actor else "command line",
        )
        mails.queue_staff_notice(user, staff)
    return user


def staff_members() -> list[User]:
    return list(db.session.scalars(select(User).where(User.is_staff.is_(True)).order_by(func.lower(User.email))))
