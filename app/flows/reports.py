"""Reports for the press office."""
from sqlalchemy import select

from ..extensions import db
from ..models import Download, Rendition, Story, User, Video


def download_rows(batch: int = 1000):
    """Every download, oldest first, streamed in batches (no whole log in memory)."""
    statement = (
        select(Download.at, User.email, User.first_name, User.last_name, User.organisation, Story.title,
               Rendition.label, Download.bytes_sent, Download.range_requested)
        .outerjoin(User, User.id == Download.user_id)
        .outerjoin(Rendition, Rendition.id == Download.rendition_id)
        .outerjoin(Video, Video.id == Rendition.video_id)
        .outerjoin(Story, Story.id == Video.story_id)
        .order_by(Download.at, Download.id)
        .execution_options(yield_per=batch)
    )
    for at, email, first, last, organisation, title, label, sent, range_ in db.session.execute(statement):
        name = f"{first} {last}" if email else ""
        yield [at.isoformat(timespec="seconds"), email or "(deleted account)", name, organisation or "",
               title or "(removed)", label or "(removed)", sent, range_ or ""]
