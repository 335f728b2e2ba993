"""Governance rules: when a decision (a change request's, a stage gate's) may be dated, how the
dates that record what happened (an action done, a decision taken) go with a row's state, and
the decision log's lifecycle, and who decides a change request."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date

from services.text import a_or_an
from services.workspace.clock import kept_not_after_today, not_after_today
from services.workspace.governance.models import DecisionStatus, MeetingState, MemberCapacity


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


# --- boards and their reach ------------------------------------------------------------------


def board_reach_problem(
    board_programme_id: uuid.UUID | None, programme_id: uuid.UUID | None, what: str = "board"
) -> str | None:
    """Why a row of ``programme_id`` (None: one across the workspace) cannot name a ``what``
    (a board, a board's meeting) of the board whose programme is ``board_programme_id``, or
    None. A programme's rows name its own boards or the boards across the workspace (a
    portfolio board, no programme); a row across the workspace names only those."""
    if board_programme_id is None or board_programme_id == programme_id:
        return None
    if programme_id is None:
        return f"{a_or_an(what)} of one programme; this one is across the workspace"
    return f"{a_or_an(what)} of another programme"


# --- the decision log -------------------------------------------------------------------------

# Where a decision may go from each status. Proposed → pending (on a board's agenda) → approved
# or rejected, or straight to a verdict; approved → superseded by a later decision. A rejected
# or superseded decision is final: a new question is a new decision.
DECISION_MOVES: dict[DecisionStatus, frozenset[DecisionStatus]] = {
    DecisionStatus.PROPOSED: frozenset(
        {DecisionStatus.PENDING, DecisionStatus.APPROVED, DecisionStatus.REJECTED}
    ),
    DecisionStatus.PENDING: frozenset({DecisionStatus.APPROVED, DecisionStatus.REJECTED}),
    DecisionStatus.APPROVED: frozenset({DecisionStatus.SUPERSEDED}),
    DecisionStatus.REJECTED: frozenset(),
    DecisionStatus.SUPERSEDED: frozenset(),
}
# The seats on a board that take its decisions (a decision's, a stage gate's). An adviser
# advises, an observer watches and the secretariat minutes: none of them takes the board's
# decision (the secretariat may record it).
VOTING_SEATS = frozenset({MemberCapacity.CHAIR, MemberCapacity.MEMBER})
# Statuses that need the person who took the decision.
TAKEN = (DecisionStatus.APPROVED, DecisionStatus.REJECTED)
# What was decided, among what, why, by whom and when: the record, once the decision is taken.
DECISION_RECORD = ("decision", "options", "rationale", "decided_by_id", "decided_on")


def decision_move_problem(current: DecisionStatus | None, status: DecisionStatus) -> str | None:
    """Why a decision in ``current`` (None: a new one) cannot be put in ``status``, or None."""
    if current is None:
        if status is DecisionStatus.SUPERSEDED:
            return (
                "a new decision is not superseded: record it, then mark it superseded by the "
                "decision that replaces it"
            )
        return None
    if status is current:
        return None
    allowed = DECISION_MOVES[current]
    if status in allowed:
        return None
    if not allowed:
        return f"{a_or_an(current)} decision is final; record a new decision instead"
    return f"{a_or_an(current)} decision moves on to {' or '.join(sorted(allowed))}, not {status}"


def fixed_decision_fields(current: DecisionStatus) -> tuple[str, ...]:
    """The fields a decision in ``current`` keeps as they are: none until it is taken; its
    record once approved or rejected; and, once superseded, what replaced it too."""
    if current is DecisionStatus.SUPERSEDED:
        return (*DECISION_RECORD, "superseded_by_id")
    if current in TAKEN:
        return DECISION_RECORD
    return ()


def cited_decision_fields(current: DecisionStatus) -> tuple[str, ...]:
    """Where a decision in ``current`` was taken, which it keeps once named (409 on changing
    or clearing it): its board and meeting, once taken; one left empty may be filled in."""
    if current in TAKEN or current is DecisionStatus.SUPERSEDED:
        return ("board_id", "meeting_id")
    return ()


def kept_decision_problem(status: DecisionStatus) -> str | None:
    """Why a decision in ``status`` is not deleted, or None: once taken (approved, rejected,
    superseded) it is the programme's record of what was decided, so it is kept and moved on
    instead."""
    if status is DecisionStatus.APPROVED:
        return (
            "a decision taken is kept on record, not deleted: supersede it with the decision "
            "that replaces it"
        )
    if status is DecisionStatus.REJECTED:
        return (
            "a decision taken is kept on record, not deleted: if the question comes back, "
            "record a new decision"
        )
    if status is DecisionStatus.SUPERSEDED:
        return "it is kept on record, with the decision that replaced it"
    return None


def decision_problems(
    status: DecisionStatus, decided_by_id: object | None, superseded_by_id: object | None
) -> list[tuple[str, str]]:
    """What a decision in ``status`` lacks or should not have, as ``(field, message)`` pairs."""
    problems: list[tuple[str, str]] = []
    if status in TAKEN and decided_by_id is None:
        problems.append(("decided_by_id", f"required when the decision is {status}: who took it"))
    if status is DecisionStatus.SUPERSEDED and superseded_by_id is None:
        problems.append(
            ("superseded_by_id", "required when the decision is superseded: the one replacing it")
        )
    if status is not DecisionStatus.SUPERSEDED and superseded_by_id is not None:
        problems.append(
            ("superseded_by_id", f"only when the decision is superseded (this one is {status})")
        )
    return problems


def replacement_problem(
    same_programme: bool, status: DecisionStatus, itself: bool = False
) -> str | None:
    """Why a decision (of ``status``; ``same_programme`` as the one it would replace) cannot be
    named as the one superseding another, or None: it is another decision of the programme,
    and approved (what now stands)."""
    if itself:
        return "a decision does not supersede itself"
    if not same_programme:
        return "the decision replacing it belongs to another programme"
    if status is not DecisionStatus.APPROVED:
        return f"an approved decision replaces it (that one is {status})"
    return None


def cited_meeting_problem(
    state: MeetingState, held_on: date, decided_on: date | None
) -> str | None:
    """Why a decision dated ``decided_on`` cannot cite a meeting (``state``, ``held_on``), or
    None. A decision still to be taken may name the meeting that is to take it; a decision
    taken cites a meeting that took place: not cancelled, and not after the decision."""
    if decided_on is None:
        return None
    if state is MeetingState.CANCELLED:
        return "the meeting was cancelled; a decision cites a meeting that took place"
    if held_on > decided_on:
        return (
            f"the meeting is on {held_on.isoformat()}, after the decision "
            f"({decided_on.isoformat()}); a decision cites a meeting that took place"
        )
    return None


# --- change requests --------------------------------------------------------------------------


def kept_change_problem(state: str) -> str | None:
    """Why a change request in ``state`` is not deleted, or None (a draft: nobody was asked
    anything yet). Once submitted it is on record as raised: withdrawn, not deleted; once
    decided or withdrawn, it is the record of what was asked and how it ended."""
    if state == "draft":
        return None
    if state == "submitted":
        return (
            "a submitted change request is kept on record: withdraw it instead (its requester "
            "or an admin or owner, state withdrawn)"
        )
    return "it is kept on record; only a draft is deleted"


def change_decider_problem(
    requested_by_id: uuid.UUID | None, decider_id: uuid.UUID | None
) -> str | None:
    """Why ``decider_id`` may not decide a change requested by ``requested_by_id``, or None:
    nobody approves (or rejects) their own request, a workspace admin neither. Who else may
    decide (the named approver, an admin standing in) is the service's to say."""
    if requested_by_id is not None and decider_id == requested_by_id:
        return (
            "The person who requested the change does not decide it; its approver or another "
            "member does."
        )
    return None


def change_approver_problem(
    requested_by_id: uuid.UUID | None, approver_id: uuid.UUID | None
) -> str | None:
    """Why ``approver_id`` cannot be named to decide a change requested by ``requested_by_id``,
    or None (as :func:`change_decider_problem`)."""
    if requested_by_id is not None and approver_id == requested_by_id:
        return "someone other than the person requesting the change"
    return None


@dataclass(frozen=True, slots=True)
class ChangePeople:
    """Who requested a change and who is to approve it."""

    requested_by_id: uuid.UUID | None
    approver_id: uuid.UUID | None


def change_people_problems(
    before: ChangePeople,
    after: ChangePeople,
    actor_id: uuid.UUID | None,
    *,
    submitted: bool,
    stands_in: bool,
) -> list[tuple[str, str]]:
    """Why the caller (``actor_id``) may not move who requested a change and who approves it
    from ``before`` to ``after``, as ``(field, message)`` pairs; empty when they may. A new
    change is ``before`` as its creator's, naming no approver.

    A member's requests are their own; a member does not name themselves approver; and once
    the change is ``submitted`` its requester and approver are what it is decided on. A
    workspace admin or owner (``stands_in``) may do all three: the PMO records requests on
    others' behalf, and may stand in for the approver anyway.
    """
    if stands_in:
        return []
    changed = [
        name
        for name in ("requested_by_id", "approver_id")
        if getattr(before, name) != getattr(after, name)
    ]
    if submitted:
        return [
            (name, "fixed once the change request is submitted; an admin or owner changes it")
            for name in changed
        ]
    problems: list[tuple[str, str]] = []
    if "requested_by_id" in changed:
        problems.append(
            (
                "requested_by_id",
                "a member's change requests are their own; an admin or owner records one "
                "requested by someone else",
            )
        )
    if "approver_id" in changed and after.approver_id is not None and after.approver_id == actor_id:
        problems.append(("approver_id", "not yourself: a member does not name themselves approver"))
    return problems


@dataclass(frozen=True, slots=True)
class Rebaselining:
    """One of a change request's re-baselines, with what bounds it: the milestone's title and
    baseline now, the tranche it is in (its name, end date, whether it is closed) and the
    programme's planned end."""

    title: str
    baseline: date | None
    new_baseline: date
    tranche: str | None = None
    tranche_end: date | None = None
    tranche_closed: bool = False
    programme_end: date | None = None

    @property
    def slip_days(self) -> int | None:
        """Days the new baseline is after the one it replaces (negative: earlier); None for a
        milestone with no baseline yet."""
        return None if self.baseline is None else (self.new_baseline - self.baseline).days


def rebaseline_problem(line: Rebaselining) -> str | None:
    """Why a change request may not re-baseline ``line``'s milestone, or None: a closed
    tranche's plan is history, and a new baseline stays within the milestone's tranche and the
    programme (a change request moves no tranche's or programme's end)."""
    new = line.new_baseline.isoformat()
    if line.tranche_closed:
        return f"'{line.title}' is in the tranche '{line.tranche}', which is closed"
    if line.tranche_end is not None and line.new_baseline > line.tranche_end:
        return (
            f"'{line.title}' on {new} would be after its tranche '{line.tranche}' ends "
            f"({line.tranche_end.isoformat()})"
        )
    if line.programme_end is not None and line.new_baseline > line.programme_end:
        return (
            f"'{line.title}' on {new} would be after the programme's planned end "
            f"({line.programme_end.isoformat()})"
        )
    return None


def largest_slip(lines: list[Rebaselining]) -> Rebaselining | None:
    """The re-baseline that moves its milestone latest against the baseline it replaces (None
    when no line has a baseline to compare with)."""
    compared = [line for line in lines if line.slip_days is not None]
    return max(compared, key=lambda line: line.slip_days or 0, default=None)


# The most days a change request's schedule impact records, either way (ten years).
SCHEDULE_IMPACT_DAYS = 3650


def derived_impact_problem(largest: Rebaselining) -> str | None:
    """Why the largest slip of a change's re-baselines cannot be recorded as its schedule
    impact (one stating none is given it), or None: it is more days, either way, than a
    schedule impact records (:data:`SCHEDULE_IMPACT_DAYS`)."""
    days = largest.slip_days
    if days is None or abs(days) <= SCHEDULE_IMPACT_DAYS:
        return None
    return (
        f"re-baselining '{largest.title}' moves it {days} days, more than the "
        f"{SCHEDULE_IMPACT_DAYS} days either way a schedule impact records"
    )


def schedule_impact_problem(stated: int | None, lines: list[Rebaselining]) -> str | None:
    """Why the re-baselines do not fit the schedule impact a change request states, or None:
    none of them slips its milestone more days than stated (the board approves the impact it
    was told). Nothing stated, nothing to compare."""
    largest = largest_slip(lines)
    if stated is None or largest is None or (largest.slip_days or 0) <= stated:
        return None
    return (
        f"re-baselining '{largest.title}' slips it {largest.slip_days} days, more than the "
        f"{stated} days of schedule impact the change request states"
    )
