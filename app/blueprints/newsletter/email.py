from flask import current_app
from flask_babel import LazyString, ngettext

from ...i18n import localized
from ...outbox import queue_mail
from ...urls import external_url


def digest_subject(portal: str, count: int) -> LazyString:
    """A lazy subject (with a plural): queue_mail translates it into the recipient's language."""
    return LazyString(lambda: ngettext("%(portal)s: %(num)s new story", "%(portal)s: %(num)s new stories", count,
                                       portal=portal))


def queue_digest(user, stories, token: str) -> None:
    """One digest mail, with RFC 8058 one-click unsubscribe headers."""
    unsubscribe_url = external_url("newsletter.unsubscribe", token=token)
    queue_mail(
        user.email,
        digest_subject(localized(current_app.config["PORTAL_NAME"], user.language), len(stories)),
        "newsletter/mail/digest",
        language=user.language,
        kind="newsletter",
        headers={"List-Unsubscribe": f"<{unsubscribe_url}>", "List-Unsubscribe-Post": "List-Unsubscribe=One-Click"},
        user=user,
        stories=[(story, external_url("media.story", slug=story.slug)) for story in stories],
        unsubscribe_url=unsubscribe_url,
        home_url=external_url("media.index"),
    )
