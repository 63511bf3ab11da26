"""Staff accounts for the press office (created from the command line)."""
from flask import current_app

from ..extensions import db
from ..models import User, utcnow
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
    db.session.commit()
    return user, created
