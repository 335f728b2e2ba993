"""Governance rules: when a decision (a change request's, a stage gate's) may be dated."""

from __future__ import annotations

from datetime import date


def decision_date_problem(day: date, today: date, earliest: date | None, after: str) -> str | None:
    """Why a decision cannot be dated ``day``, or None.

    A decision is recorded once taken, so never in the future; and it follows what it decides
    on, so never before ``earliest`` (described by ``after``: "the request was raised", "the
    gate's previous decision").
    """
    if day > today:
        return "a decision cannot be dated in the future"
    if earliest is not None and day < earliest:
        return f"not before {after} ({earliest.isoformat()})"
    return None
