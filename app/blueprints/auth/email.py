from flask import current_app, url_for

from ...outbox import queue_mail


def queue_registration_attempt_notice(user) -> None:
    """The owner of an address learns that someone tried to register it (no code is sent)."""
    queue_mail(
        user.email,
        f"Someone tried to create a {current_app.config['PORTAL_NAME']} account with your address",
        "auth/mail/registration_attempt",
        user=user,
        login_url=url_for("auth.login", _external=True),
        reset_url=url_for("reset.request_code", _external=True),
    )
