"""Staff accounts for the press office (created from the command line)."""
from flask import current_app

from ..extensions import db
from ..models import User, utcnow
from . import audit
from .accounts import find_user
from .emails import InvalidEmail, normalize_email
from .passwords import PasswordPolicy, hash_password


class StaffError(Exception):
    pass


def create_staff_user(email, password, first_name, last_name, organisation):
    try:
        address = normalize_email(email)
    except InvalidEmail as exc:
        raise StaffError(str(exc)) from None
    problems = PasswordPolicy.from_config(current_app.config).problems(password)
    if problems:
        raise StaffError(" ".join(problems))
    user = find_user(address)
    created = user is None
    if created:
        user = User(email=address, first_name=first_name, last_name=last_name, organisation=organisation,
                    conditions_accepted_at=utcnow(), password_hash="")
        db.session.add(user)
    user.password_hash = hash_password(password, current_app.config["BCRYPT_ROUNDS"])
    user.is_staff = True
    user.verified_at = user.verified_at or utcnow()
    db.session.flush()
    audit.record("user.create_staff" if created else "user.promote", subject=user, detail="command line")
    db.session.commit()
    return user, created


def set_staff(email: str, staff: bool) -> User:
    """Make an existing account staff (promote) or an ordinary account again (demote); the change
    holds from its next request on, since every staff URL reads the account afresh."""
    try:
        address = normalize_email(email)
    except InvalidEmail as exc:
        raise StaffError(str(exc)) from None
    user = find_user(address)
    if user is None:
        raise StaffError(f"no account has the address {address}")
    if staff and not user.is_verified:
        raise StaffError(f"{address} has not verified its address yet: it cannot log in")
    if user.is_staff != staff:
        user.is_staff = staff
        audit.record("user.promote" if staff else "user.demote", subject=user, detail="command line")
    db.session.commit()
    return user
