"""A workspace's today: the date on its own calendar (its ``timezone`` setting), not the server's.

"Not in the future", "overdue" and the dates a write fills in are the client's calendar: at nine in
the morning in Sydney it is already the next day there, while the server (UTC) still has the day
before. The workspace's session carries the zone (set when the request's session is opened);
sessions outside a request (seeding, workers, the CLI) use UTC, the settings' default.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, tzinfo
from zoneinfo import ZoneInfo

from sqlalchemy.ext.asyncio import AsyncSession

_ZONE = "workspace_zone"


def use_zone(session: AsyncSession, name: str) -> None:
    """Make ``session``'s today the date in the IANA zone ``name``."""
    session.info[_ZONE] = ZoneInfo(name)


def zone(session: AsyncSession) -> tzinfo:
    found = session.info.get(_ZONE)
    return found if isinstance(found, tzinfo) else UTC


def today(session: AsyncSession) -> date:
    return datetime.now(zone(session)).date()


def not_after_today(day: date, today: date) -> str | None:
    """Why ``day`` cannot date something that has happened (achieved, done, held, decided,
    measured, raised), or None: one message for every register.

    ``today`` is the workspace's (:func:`today`): the message names it, since the caller's own
    calendar may already be on the next day.
    """
    if day > today:
        return f"not after today ({today.isoformat()}, the workspace's calendar)"
    return None


# Time zones span 26 hours (UTC-12 to UTC+14), so the same moment falls on calendar days up to
# two apart: a day set on a workspace's today is at most this far ahead of another zone's.
ZONES_APART = timedelta(days=2)


def kept_not_after_today(day: date, today: date) -> str | None:
    """:func:`not_after_today` for a day a write keeps (another field changes): a day up to two
    after today passes, as a change of the workspace's time zone can put a day the server set
    that far ahead of the new today. A day further on was never right."""
    return not_after_today(day, today) if day > today + ZONES_APART else None
