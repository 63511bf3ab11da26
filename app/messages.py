"""Phrases more than one feature says: how long someone must wait (the code steps, the second
factor's caps)."""

from __future__ import annotations

import math
from datetime import datetime

from flask_babel import ngettext

from .models import utcnow

COUNTDOWN_LIMIT = 90  # a wait shorter than this is said in seconds (and counted down live)


def wait_seconds(until: datetime, now: datetime | None = None) -> int:
    return max(1, math.ceil((until - (now or utcnow())).total_seconds()))


def wait_phrase(until: datetime, now: datetime | None = None) -> str:
    seconds = wait_seconds(until, now)
    if seconds < COUNTDOWN_LIMIT:
        return ngettext("%(num)s second", "%(num)s seconds", seconds)
    minutes = math.ceil(seconds / 60)
    return ngettext("%(num)s minute", "%(num)s minutes", minutes)
