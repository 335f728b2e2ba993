"""Governance rules: when a decision (a change request's, a stage gate's) may be dated, and how
the dates that record what happened (an action done, a decision taken) go with a row's state."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from services.workspace.clock import kept_not_after_today, not_after_today


def decision_date_problem(
    day: date, today: date, earliest: date | None, after: str, *, kept: bool = False
) -> str | None:
    """Why a decision cannot be dated ``day``, or None.

    A decision is recorded once taken, so never in the future (``kept``: a day the write keeps,
    as :func:`kept_not_after_today` reads it); and it follows what it decides on, so never
    before ``earliest`` (described by ``after``: "the request was raised", "the gate's previous
    decision").
    """
    if (future := (kept_not_after_today if kept else not_after_today)(day, today)) is not None:
        return future
    if earliest is not None and day < earliest:
        return f"not before {after} ({earliest.isoformat()})"
    return None


@dataclass(frozen=True, slots=True)
class RecordedDate:
    """A date that records when a row came to its state: an action's ``completed_on`` (done),
    a decision's ``decided_on`` (approved, rejected).

    A row in one of the ``taken`` states has the date (today when a write moves it there without
    naming one); one in a ``kept`` state may keep the date it had (a superseded decision); a row
    in any other state has none, so a date there contradicts the state. Whether the date has
    come is checked apart (:func:`not_after_today`, :func:`decision_date_problem`).
    """

    noun: str
    taken: tuple[str, ...]
    kept: tuple[str, ...] = ()

    def in_step(self, state: str, day: date | None, today: date) -> date | None:
        """The date a write that moves the row to ``state`` without naming one leaves."""
        if state in self.taken:
            return day or today
        return day if state in self.kept else None

    def problem(self, state: str, day: date | None) -> str | None:
        """Why ``day`` does not go with ``state``; None when it does."""
        if day is None:
            return f"required when the {self.noun} is {state}" if state in self.taken else None
        if state in self.taken or state in self.kept:
            return None
        dated = [*self.taken, *self.kept]
        which = dated[0] if len(dated) == 1 else f"{', '.join(dated[:-1])} or {dated[-1]}"
        return f"only when the {self.noun} is {which} (this one is {state})"
