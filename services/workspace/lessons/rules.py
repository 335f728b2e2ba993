"""Lessons' pure rules: when a lesson may say it was raised."""

from __future__ import annotations

from datetime import date


def raised_on_problem(day: date, today: date) -> str | None:
    """Why a lesson cannot say it was raised on ``day``, or None.

    A lesson records something that has happened, so it is raised today or before. ``today`` is
    the workspace's (``clock.today``): the message names it, since the caller's own calendar may
    already be on the next day.
    """
    if day > today:
        return f"not after today ({today.isoformat()}, the workspace's calendar)"
    return None
