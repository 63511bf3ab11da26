from flask import current_app
from flask_babel import lazy_gettext as _l

from ...extensions import db
from ...i18n import current_language
from ...models import User
from ...outbox import CODE_MAIL, queue_mail


def code_subject(purpose: str, code: str):
    """A lazy subject: queue_mail translates it into the recipient's language."""
    if purpose == "reset":
        return _l("Your code to reset your password: %(code)s", code=code)
    return _l("Your verification code: %(code)s", code=code)


def queue_code_mail(user, code: str, purpose: str):
    minutes = current_app.config["CODE_LIFETIME_SECONDS"] // 60
    return queue_mail(
        user.email,
        code_subject(purpose, code),
        "verification/mail/code",
        language=user.language,
        kind=CODE_MAIL,  # the outbox keeps no code once it is sent
        user=user, code=code, purpose=purpose, minutes=minutes,
    )


def write_and_drop_code_mail(address: str, purpose: str, code: str) -> None:
    """A stand-in's share of the work: the code mail written as for an account (in the page's
    language), then taken out of the transaction before anything is stored; nobody gets it."""
    reader = User(email=address, first_name="", language=current_language())
    db.session.expunge(queue_code_mail(reader, code, purpose))
