"""RAID registers: references, scores on the workspace's scale, responses, dependency sides."""

from __future__ import annotations

import enum
import uuid
from collections.abc import Collection, Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlalchemy import ColumnElement, exists, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from services.errors import ValidationFailed, field_error
from services.text import a_or_an
from services.workspace import clock
from services.workspace.clock import not_after_today
from services.workspace.configuration import service as configuration
from services.workspace.configuration.rules import RegisterConfiguration
from services.workspace.governance.service import require_board
from services.workspace.models import Confidence, Rag
from services.workspace.raid.models import (
    Assumption,
    AssumptionStatus,
    Dependency,
    DependencyKind,
    DependencyStatus,
    Issue,
    IssueStatus,
    IssueType,
    Priority,
    Risk,
    RiskKind,
    RiskStatus,
)
from services.workspace.raid.rules import (
    RESIDUAL_BOUNDS,
    DependencyLinks,
    LinkedMilestone,
    RiskLevels,
    dependency_rag,
    need_date,
    residual_problems,
    responses_for,
    risk_score,
    risk_trend,
)
from services.workspace.registers import RegisterService, between, equal, invalid
from services.workspace.structure.models import Milestone, Project, ProjectState

# --- risks --------------------------------------------------------------------------------------


class RiskSort(enum.StrEnum):
    SEVERITY = "-residual_score"
    REVIEW = "next_review_date"
    NEWEST = "-created_at"
    TITLE = "title"


@dataclass(frozen=True, slots=True)
class RiskFilter:
    programme_id: uuid.UUID | None = None
    project_id: uuid.UUID | None = None
    status: RiskStatus | None = None
    owner_id: uuid.UUID | None = None
    kind: RiskKind | None = None
    category: str | None = None
    band: str | None = None
    due_after: date | None = None
    due_before: date | None = None
    sort: RiskSort = RiskSort.SEVERITY

    def conditions(self) -> list[ColumnElement[bool]]:
        return equal(
            [
                (Risk.programme_id, self.programme_id),
                (Risk.project_id, self.project_id),
                (Risk.status, self.status),
                (Risk.owner_id, self.owner_id),
                (Risk.kind, self.kind),
                (Risk.category, self.category),
            ]
        ) + between(Risk.next_review_date, self.due_after, self.due_before)

    def order(self) -> list[Any]:
        orders: dict[Any, list[Any]] = {
            RiskSort.SEVERITY: [
                Risk.residual_score.desc(),
                Risk.next_review_date.asc().nulls_last(),
            ],
            RiskSort.REVIEW: [Risk.next_review_date.asc().nulls_last()],
            RiskSort.NEWEST: [Risk.created_at.desc()],
            RiskSort.TITLE: [func.lower(Risk.title)],
        }
        return orders[self.sort]


class RiskService(RegisterService[Risk]):
    model = Risk
    noun = "risk"
    register = "risks"

    async def conditions(self, where: Any) -> list[ColumnElement[bool]]:
        conditions: list[ColumnElement[bool]] = where.conditions()
        if where.band is not None:
            bands = (await configuration.configuration(self.session)).bands
            band = next((b for b in bands if b.key == where.band), None)
            if band is None:
                # As an enum filter answers, with the workspace's own band keys as the choices.
                known = ", ".join(repr(b.key) for b in bands)
                message = f"{where.band!r} is not one of the choices; expected one of {known}"
                raise ValidationFailed(
                    f"band: {message}", errors=[field_error("band", message, "query")]
                )
            conditions.append(Risk.residual_score.between(band.min_score, band.max_score))
        return conditions

    async def check(self, row: Risk, before: dict[str, Any] | None) -> None:
        await self.require_roles(row, before)
        if before is None:
            await self.require_programme(row.programme_id)
            if row.residual_probability is None:
                row.residual_probability = row.inherent_probability
            if row.residual_impact is None:
                row.residual_impact = row.inherent_impact
        if before is None or "project_id" in before:
            await self.require_project(row.project_id, row.programme_id)
        # The workspace's choices are checked on the values a write sets (a response also when
        # the kind changes under it). A value stored before the choices changed (a template
        # upgrade, a rule put right) is not what a write of other fields is about: refusing it
        # would lock the row against, say, its next review date.
        written = None if before is None else before.keys()
        settings = await configuration.configuration(self.session)
        _check_scale(settings, row, written)
        allowed = responses_for(row.kind, settings.risk_response_model)
        if (
            (written is None or {"response", "kind"} & written)
            and row.response is not None
            and row.response not in allowed
        ):
            raise invalid(
                "response", f"{a_or_an(row.kind)} takes one of: {', '.join(sorted(allowed))}"
            )
        if (
            (written is None or "proximity" in written)
            and row.proximity is not None
            and row.proximity not in {p.key for p in settings.proximity}
        ):
            known = ", ".join(p.key for p in settings.proximity)
            raise invalid("proximity", f"one of the workspace's proximities: {known}")
        _check_residual(row, written)
        previous = row.residual_score
        row.inherent_score = risk_score(row.inherent_probability, row.inherent_impact)
        row.residual_score = risk_score(row.residual_probability, row.residual_impact)
        if before is not None and "trend" not in before and previous != row.residual_score:
            row.trend = risk_trend(previous, row.residual_score, row.kind)


def _check_residual(row: Risk, written: Collection[str] | None) -> None:
    """A threat's residual levels are at most its inherent ones, when a write touches them (or
    the kind): a row stored before the rule is not refused a write of other fields."""
    levels = {name for bound in RESIDUAL_BOUNDS for name in bound[:2]}
    if written is not None and not ({"kind"} | levels) & set(written):
        return
    problems = residual_problems(
        row.kind,
        RiskLevels(
            row.inherent_probability,
            row.inherent_impact,
            row.residual_probability,
            row.residual_impact,
        ),
        None if written is None else set(written),
    )
    if problems:
        raise ValidationFailed(
            "A threat's residual probability and impact are at most its inherent ones.",
            errors=[field_error(name, message) for name, message in problems],
        )


def _check_scale(
    settings: RegisterConfiguration, row: Risk, written: Collection[str] | None
) -> None:
    """The levels ``written`` (all of them when None: a new risk) are on the workspace's scale."""
    for name, top in (
        ("inherent_probability", settings.max_probability),
        ("residual_probability", settings.max_probability),
        ("inherent_impact", settings.max_impact),
        ("residual_impact", settings.max_impact),
    ):
        if (written is None or name in written) and getattr(row, name) > top:
            raise invalid(name, f"at most {top} on this workspace's scale")


# --- issues -------------------------------------------------------------------------------------


class IssueSort(enum.StrEnum):
    PRIORITY = "severity"
    TARGET = "target_date"
    NEWEST = "-created_at"


@dataclass(frozen=True, slots=True)
class IssueFilter:
    programme_id: uuid.UUID | None = None
    project_id: uuid.UUID | None = None
    status: IssueStatus | None = None
    priority: Priority | None = None
    type: IssueType | None = None
    owner_id: uuid.UUID | None = None
    due_after: date | None = None
    due_before: date | None = None
    sort: IssueSort = IssueSort.PRIORITY
    escalated_to_board_id: uuid.UUID | None = None

    def conditions(self) -> list[ColumnElement[bool]]:
        return equal(
            [
                (Issue.programme_id, self.programme_id),
                (Issue.project_id, self.project_id),
                (Issue.status, self.status),
                (Issue.priority, self.priority),
                (Issue.type, self.type),
                (Issue.owner_id, self.owner_id),
                (Issue.escalated_to_board_id, self.escalated_to_board_id),
            ]
        ) + between(Issue.target_date, self.due_after, self.due_before)

    def order(self) -> list[Any]:
        orders: dict[Any, list[Any]] = {
            IssueSort.PRIORITY: [Issue.severity.asc(), Issue.target_date.asc().nulls_last()],
            IssueSort.TARGET: [Issue.target_date.asc().nulls_last()],
            IssueSort.NEWEST: [Issue.created_at.desc()],
        }
        return orders[self.sort]


class IssueService(RegisterService[Issue]):
    model = Issue
    noun = "issue"
    register = "issues"

    async def check(self, row: Issue, before: dict[str, Any] | None) -> None:
        await self.require_roles(row, before)
        if before is None or "escalated_to_board_id" in before:
            await require_board(
                self.session, row.escalated_to_board_id, row.programme_id, "escalated_to_board_id"
            )
        if before is None:
            await self.require_programme(row.programme_id)
        if before is None or "project_id" in before:
            await self.require_project(row.project_id, row.programme_id)
        # Raised today unless told; a date sent is one that has come. A date kept by a write of
        # other fields may be two days ahead (a time zone change moved it); an issue recorded
        # before the rule with a later date is refused on its next write, not re-dated.
        today = clock.today(self.session)
        if before is None and row.raised_on is None:
            row.raised_on = today
        written = before is None or "raised_on" in before
        if row.raised_on is None:
            if written:
                raise invalid("raised_on", "required: the day the issue was raised")
        else:
            check = not_after_today if written else clock.kept_not_after_today
            if (problem := check(row.raised_on, today)) is not None:
                raise invalid("raised_on", problem, f"raised_on: {problem}")
        # An issue is resolved by a day on or after the one it was raised: checked when either
        # is written, so a row stored before the rule is not locked by it.
        if (
            row.raised_on is not None
            and row.target_date is not None
            and row.target_date < row.raised_on
            and (before is None or "target_date" in before or "raised_on" in before)
        ):
            if before is None or "target_date" in before:
                raise invalid("target_date", f"on or after raised_on ({row.raised_on})")
            raise invalid("raised_on", f"on or before target_date ({row.target_date})")


# --- assumptions --------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class AssumptionFilter:
    programme_id: uuid.UUID | None = None
    project_id: uuid.UUID | None = None
    status: AssumptionStatus | None = None
    confidence: Confidence | None = None
    owner_id: uuid.UUID | None = None
    due_after: date | None = None
    due_before: date | None = None

    def conditions(self) -> list[ColumnElement[bool]]:
        return equal(
            [
                (Assumption.programme_id, self.programme_id),
                (Assumption.project_id, self.project_id),
                (Assumption.status, self.status),
                (Assumption.confidence, self.confidence),
                (Assumption.owner_id, self.owner_id),
            ]
        ) + between(Assumption.validate_by, self.due_after, self.due_before)

    def order(self) -> list[Any]:
        return [Assumption.validate_by.asc().nulls_last(), Assumption.created_at]


class AssumptionService(RegisterService[Assumption]):
    model = Assumption
    noun = "assumption"
    register = "assumptions"

    async def check(self, row: Assumption, before: dict[str, Any] | None) -> None:
        await self.require_roles(row, before)
        if before is None:
            await self.require_programme(row.programme_id)
        if before is None or "project_id" in before:
            await self.require_project(row.project_id, row.programme_id)
        if before is None or "risk_id" in before:
            await self.require_row(Risk, row.risk_id, "risk_id", row.programme_id)


# --- dependencies -------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class DependencyFilter:
    programme_id: uuid.UUID | None = None
    # Either side, named or through its milestone.
    project_id: uuid.UUID | None = None
    status: DependencyStatus | None = None
    kind: DependencyKind | None = None
    due_after: date | None = None
    due_before: date | None = None

    def conditions(self) -> list[ColumnElement[bool]]:
        conditions = equal(
            [
                (Dependency.programme_id, self.programme_id),
                (Dependency.status, self.status),
                (Dependency.kind, self.kind),
            ]
        ) + between(Dependency.need_by_date, self.due_after, self.due_before)
        if self.project_id is not None:
            # A side is the project's when it names the project or one of its milestones (a
            # side may name only its milestone).
            milestones = select(Milestone.id).where(Milestone.project_id == self.project_id)
            conditions.append(
                or_(
                    Dependency.from_project_id == self.project_id,
                    Dependency.to_project_id == self.project_id,
                    Dependency.from_milestone_id.in_(milestones),
                    Dependency.to_milestone_id.in_(milestones),
                )
            )
        return conditions

    def order(self) -> list[Any]:
        return [Dependency.need_by_date.asc().nulls_last(), Dependency.created_at]


class DependencyService(RegisterService[Dependency]):
    model = Dependency
    noun = "dependency"
    register = "dependencies"

    async def check(self, row: Dependency, before: dict[str, Any] | None) -> None:
        if before is None:
            await self.require_programme(row.programme_id)
        for side in ("from", "to"):
            project = getattr(row, f"{side}_project_id")
            milestone = getattr(row, f"{side}_milestone_id")
            await self.require_project(project, None, f"{side}_project_id")
            if milestone is not None:
                # Held (FOR SHARE) until the write commits: a move of the milestone to another
                # project written meanwhile is waited for and then read, so the side does not
                # name it with a project it has left.
                found = (
                    await self.session.execute(
                        select(Milestone.project_id)
                        .where(Milestone.id == milestone)
                        .with_for_update(read=True)
                    )
                ).first()
                if found is None:
                    raise invalid(f"{side}_milestone_id", "no such milestone in this workspace")
                if project is not None and found.project_id != project:
                    raise invalid(f"{side}_milestone_id", f"not a milestone of {side}_project_id")
        if row.from_milestone_id is not None and row.from_milestone_id == row.to_milestone_id:
            raise invalid("to_milestone_id", "a milestone does not depend on itself")
        if (
            row.from_milestone_id is not None
            and row.to_milestone_id is not None
            and row.status is not DependencyStatus.CANCELLED
            and (
                before is None or {"from_milestone_id", "to_milestone_id", "status"} & before.keys()
            )
        ):
            await self.refuse_milestone_loop(row)
        # A side is named by its project, its milestone (whose project it is) or both.
        has_target = row.to_project_id is not None or row.to_milestone_id is not None
        has_source = row.from_project_id is not None or row.from_milestone_id is not None
        if row.kind is DependencyKind.EXTERNAL:
            if not row.external_party.strip():
                raise invalid("external_party", "an external dependency names the party")
            # The party stands in for one side; the other is ours, or the map has nothing to
            # draw: to (our project needs it from the party) or from (the party needs it).
            if not has_target and not has_source:
                raise invalid(
                    "to_project_id", "name the project that needs it (or from_project_id)"
                )
        else:
            if not has_source:
                raise invalid(
                    "from_project_id", "an internal dependency names the project it needs"
                )
            if not has_target:
                raise invalid(
                    "to_project_id", "an internal dependency names the project that needs it"
                )
        # Milestones of one project may depend on each other; the project as a whole may not.
        project_to_project = row.from_milestone_id is None and row.to_milestone_id is None
        if (
            project_to_project
            and row.to_project_id is not None
            and row.to_project_id == row.from_project_id
        ):
            raise invalid("to_project_id", "a project does not depend on itself")

    async def refuse_milestone_loop(self, row: Dependency) -> None:
        """Refuse ``row`` (``to_milestone_id`` needs ``from_milestone_id``) when the from side
        already needs the to side through other milestone-to-milestone dependencies: nothing
        could be done first. One recursive query walks what the to side leads to.

        Only milestones: projects (or a project and a milestone) depending both ways can be
        legitimate (each needs a different part of the other). Cancelled dependencies bind
        nothing. Writes of milestone dependencies take a lock of the workspace's, so two that
        together close a loop cannot both pass on what they read before either wrote.
        """
        await self.lock_workspace("milestone-dependencies")
        binding = [
            Dependency.from_milestone_id.is_not(None),
            Dependency.to_milestone_id.is_not(None),
            Dependency.status != DependencyStatus.CANCELLED,
        ]
        if row.id is not None:
            binding.append(Dependency.id != row.id)
        reached = (
            select(Dependency.to_milestone_id.label("milestone_id"))
            .where(Dependency.from_milestone_id == row.to_milestone_id, *binding)
            .cte("reached", recursive=True)
        )
        # UNION (not ALL) ends the walk at milestones already reached, loops recorded before
        # this rule included.
        reached = reached.union(
            select(Dependency.to_milestone_id)
            .join(reached, Dependency.from_milestone_id == reached.c.milestone_id)
            .where(*binding)
        )
        loops = await self.session.scalar(
            select(exists().where(reached.c.milestone_id == row.from_milestone_id))
        )
        if loops:
            raise invalid(
                "to_milestone_id",
                "closes a loop: from_milestone_id already needs this milestone through other "
                "dependencies",
            )


# PostgreSQL takes at most 32767 parameters in a statement: a list of ids is read in parts of
# this many, so a programme with more dependency ends than that is read whole.
IDS_PER_QUERY = 10_000


def in_parts(ids: Iterable[uuid.UUID]) -> Iterator[list[uuid.UUID]]:
    """``ids`` in sorted lists of at most :data:`IDS_PER_QUERY`, one for each ``IN`` query."""
    ordered = sorted(ids)
    for start in range(0, len(ordered), IDS_PER_QUERY):
        yield ordered[start : start + IDS_PER_QUERY]


async def dependency_links(
    session: AsyncSession, dependencies: Sequence[Dependency]
) -> dict[uuid.UUID, DependencyLinks]:
    """What the RAG of each of ``dependencies`` reads beyond its row (two queries, whatever
    their number, but for one more for every :data:`IDS_PER_QUERY` ids): the milestones they
    name, and the projects on their sides."""
    milestone_ids = {
        m for d in dependencies for m in (d.from_milestone_id, d.to_milestone_id) if m is not None
    }
    milestones: dict[uuid.UUID, tuple[uuid.UUID | None, LinkedMilestone]] = {}
    for part in in_parts(milestone_ids):
        found = await session.execute(
            select(
                Milestone.id,
                Milestone.project_id,
                Milestone.state,
                Milestone.baseline_date,
                Milestone.forecast_date,
                Milestone.actual_date,
            ).where(Milestone.id.in_(part))
        )
        milestones |= {
            m.id: (
                m.project_id,
                LinkedMilestone(m.state, m.baseline_date, m.forecast_date, m.actual_date),
            )
            for m in found.all()
        }

    def sides(d: Dependency) -> set[uuid.UUID]:
        named = {d.from_project_id, d.to_project_id}
        named |= {
            milestones[m][0] for m in (d.from_milestone_id, d.to_milestone_id) if m in milestones
        }
        return {p for p in named if p is not None}

    def linked(milestone_id: uuid.UUID | None) -> LinkedMilestone | None:
        found = milestones.get(milestone_id) if milestone_id is not None else None
        return None if found is None else found[1]

    project_ids = {p for d in dependencies for p in sides(d)}
    cancelled: set[uuid.UUID] = set()
    for part in in_parts(project_ids):
        cancelled |= set(
            (
                await session.scalars(
                    select(Project.id).where(
                        Project.id.in_(part), Project.state == ProjectState.CANCELLED
                    )
                )
            ).all()
        )
    return {
        d.id: DependencyLinks(
            delivering=linked(d.from_milestone_id),
            needing=linked(d.to_milestone_id),
            side_cancelled=bool(sides(d) & cancelled),
        )
        for d in dependencies
    }


async def dependency_rags(
    session: AsyncSession, dependencies: Sequence[Dependency]
) -> dict[uuid.UUID, Rag | None]:
    """Each dependency's RAG (:func:`~services.workspace.raid.rules.dependency_rag`) as of the
    workspace's today, in a fixed number of queries."""
    today = clock.today(session)
    links = await dependency_links(session, dependencies)
    return {
        d.id: dependency_rag(d.status, d.need_by_date, d.committed_date, today, links[d.id])
        for d in dependencies
    }


async def dependencies_rated(
    session: AsyncSession, dependencies: Sequence[Dependency]
) -> list[tuple[Dependency, Rag | None, date | None]]:
    """Each dependency with its RAG (as :func:`dependency_rags`) and the date it is needed by
    (:func:`~services.workspace.raid.rules.need_date`), in a fixed number of queries."""
    today = clock.today(session)
    links = await dependency_links(session, dependencies)
    return [
        (
            d,
            dependency_rag(d.status, d.need_by_date, d.committed_date, today, links[d.id]),
            need_date(d.need_by_date, links[d.id]),
        )
        for d in dependencies
    ]
