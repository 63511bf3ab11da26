from flask import current_app
from flask_babel import lazy_gettext as _l

from ...outbox import CODE_MAIL, queue_mail


def code_subject(purpose: str, code: str):
    """A lazy subject: queue_mail translates it into the recipient's language."""
    if purpose == "reset":
        return _l("Your code to reset your password: %(code)s", code=code)
    if purpose == "email-change":
        return _l("Your code to confirm your new email address: %(code)s", code=code)
    return _l("Your verification code: %(code)s", code=code)


def queue_code_mail(user, code: str, purpose: str, *, to: str | None = None):
    """The code mail for ``user``, to their address or (an address change) to ``to``."""
    minutes = current_app.config["CODE_LIFETIME_SECONDS"] // 60
    return queue_mail(
        to or user.email,
        code_subject(purpose, code),
        "verification/mail/code",
        language=user.language,
        kind=CODE_MAIL,  # the outbox keeps no code once it is sent
        user=user, code=code, purpose=purpose, minutes=minutes,
    )

