from flask import current_app

from ...outbox import queue_mail

SUBJECTS = {
    "verify": "Your verification code",
    "reset": "Your code to reset your password",
}


def queue_code_mail(user, code: str, purpose: str) -> None:
    minutes = current_app.config["CODE_LIFETIME_SECONDS"] // 60
    queue_mail(
        user.email,
        f"{SUBJECTS[purpose]}: {code}",
        "verification/mail/code",
        language=user.language,
        user=user, code=code, purpose=purpose, minutes=minutes,
    )
