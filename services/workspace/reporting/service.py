"""Status reports: drafts, suggested RAG from the data, publication (frozen), corrections."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from datetime import date
from decimal import Decimal
from typing import Any

from sqlalchemy import ColumnElement, Integer, and_, case, func, or_, select, type_coerce
from sqlalchemy.dialects.postgresql import distinct_on
from sqlalchemy.ext.asyncio import AsyncSession

from services.db.base import utcnow
from services.errors import Conflict, ValidationFailed, field_error
from services.workspace import clock, money
from services.workspace.benefits.models import Benefit, BenefitMeasurement, BenefitState
from services.workspace.benefits.rules import (
    BenefitProgress,
    RealisationRollUp,
    realisation_pct,
    roll_up,
)
from services.workspace.benefits.service import MEASUREMENT_ORDER, forecast_pct
from services.workspace.configuration import service as configuration
from services.workspace.governance.models import ChangeRequest, ChangeRequestState
from services.workspace.models import Rag
from services.workspace.raid.models import Risk, RiskKind, RiskStatus
from services.workspace.registers import RegisterService, between
from services.workspace.reporting.models import (
    RagDimension,
    ReportFormat,
    ReportSection,
    ReportState,
    StatusReport,
)
from services.workspace.reporting.rules import (
    ASSESSED,
    DIMENSIONS,
    CostPosition,
    ReportEvidence,
    publication_problems,
    read_today,
    shown_pct,
    suggest,
)
from services.workspace.reporting.schemas import FormatSection, StatusReportRead
from services.workspace.schemas import read_of
from services.workspace.structure.models import (
    Milestone,
    MilestoneState,
    Programme,
    Project,
    ProjectState,
)
from services.workspace.structure.service import not_of_an_ended_project


def rags_of(report: StatusReport) -> dict[RagDimension, Rag | None]:
    return {d: getattr(report, f"{d}_rag") for d in DIMENSIONS}


def schedule_as_of(report: StatusReport, today: date) -> date:
    """The day a report's schedule is judged on: its period's end, or today while the period
    runs (or is still to come) — a report does not count days after its period."""
    return min(report.period_end, today)


async def cost_position(
    session: AsyncSession, programme_id: uuid.UUID, project_id: uuid.UUID | None = None
) -> CostPosition:
    """A programme's money, or one of its projects' (two queries; sums exact, in numeric)."""
    owner: type[Programme] | type[Project] = Programme if project_id is None else Project
    found = (
        await session.execute(
            select(owner.budget, owner.forecast_cost).where(
                owner.id == (project_id or programme_id)
            )
        )
    ).first()
    scope = (
        ChangeRequest.programme_id == programme_id
        if project_id is None
        else ChangeRequest.project_id == project_id
    )
    approved = await session.scalar(
        select(func.sum(ChangeRequest.cost_impact)).where(
            scope, ChangeRequest.state == ChangeRequestState.APPROVED
        )
    )
    return CostPosition(
        budget=None if found is None else found.budget,
        approved_changes=approved if approved is not None else Decimal("0.00"),
        forecast_cost=None if found is None else found.forecast_cost,
    )


def achieved_after(as_of: date) -> ColumnElement[bool]:
    """A milestone achieved after ``as_of``: still to deliver on that day, as the suggestion
    and the snapshot of a report judged as of it read it."""
    return and_(Milestone.state == MilestoneState.ACHIEVED, Milestone.actual_date > as_of)


async def benefits_as_of(
    session: AsyncSession, programme_id: uuid.UUID, as_of: date
) -> tuple[RealisationRollUp, RealisationRollUp, dict[str, int]]:
    """A programme's benefits as a report as of ``as_of`` reads them (two queries): the
    realisation as it stood that day, each benefit from its latest measurement measured on or
    before it, not a later one; the owners' forecasts, as they stand (they keep no history);
    and the benefits by state. Withdrawn ones are out of the roll-ups, not out of the count, as
    in :meth:`BenefitService.programme_roll_up` (whose realisation is today's)."""
    every = (
        await session.scalars(select(Benefit).where(Benefit.programme_id == programme_id))
    ).all()
    by_state: dict[str, int] = {}
    for b in every:
        by_state[b.state] = by_state.get(b.state, 0) + 1
    benefits = [b for b in every if b.state != BenefitState.WITHDRAWN]
    m = BenefitMeasurement
    latest: dict[uuid.UUID, float] = {}
    if benefits:
        rows = await session.execute(
            select(m.benefit_id, m.value)
            .where(m.benefit_id.in_([b.id for b in benefits]), m.measured_on <= as_of)
            .order_by(m.benefit_id, *MEASUREMENT_ORDER)
            .ext(distinct_on(m.benefit_id))
        )
        latest = {row.benefit_id: row.value for row in rows}
    realised = roll_up(
        BenefitProgress(
            realisation_pct(b.baseline_value, b.target_value, latest.get(b.id), exact=True),
            b.value_per_year,
            b.dis_benefit,
        )
        for b in benefits
    )
    forecast = roll_up(
        BenefitProgress(
            forecast_pct(b, latest.get(b.id), exact=True), b.value_per_year, b.dis_benefit
        )
        for b in benefits
    )
    return realised, forecast, by_state


@dataclass(frozen=True, slots=True)
class ReportFilter:
    programme_id: uuid.UUID | None = None
    project_id: uuid.UUID | None = None
    programme_level: bool | None = None
    state: ReportState | None = None
    period_after: date | None = None
    period_before: date | None = None

    def conditions(self) -> list[ColumnElement[bool]]:
        pairs = [
            (StatusReport.programme_id, self.programme_id),
            (StatusReport.project_id, self.project_id),
            (StatusReport.state, self.state),
        ]
        conditions = [c == v for c, v in pairs if v is not None] + between(
            StatusReport.period_end, self.period_after, self.period_before
        )
        if self.programme_level is True:
            conditions.append(StatusReport.project_id.is_(None))
        elif self.programme_level is False:
            conditions.append(StatusReport.project_id.is_not(None))
        return conditions

    def order(self) -> list[Any]:
        return [StatusReport.period_end.desc(), StatusReport.revision.desc()]


class StatusReportService(RegisterService[StatusReport]):
    model = StatusReport
    noun = "status report"

    async def check(self, row: StatusReport, before: dict[str, Any] | None) -> None:
        if row.period_end < row.period_start:
            raise ValidationFailed(
                "A period must end on or after its start.",
                errors=[field_error("period_end", "on or after period_start")],
            )
        if before is None or before.get("format_id", row.format_id) != row.format_id:
            await self._check_format(row, before)
        if before is None:
            await self.require_programme(row.programme_id)
            await self.require_project(row.project_id, row.programme_id)
        elif before.get("period_end", row.period_end) == row.period_end:
            return
        elif row.supersedes_id is not None:
            raise ValidationFailed(
                "A correction keeps the period of the report it corrects.",
                errors=[field_error("period_end", "a correction keeps its report's period")],
            )
        await self._require_free_period(row, exclude=None if before is None else row.id)

    async def _check_format(self, row: StatusReport, before: dict[str, Any] | None) -> None:
        """A correction follows the format of the report it corrects; a format named is one
        of the workspace's."""
        if before is not None and row.supersedes_id is not None:
            raise ValidationFailed(
                "A correction keeps the format of the report it corrects.",
                errors=[field_error("format_id", "a correction keeps its report's format")],
            )
        if row.format_id is not None and await report_format(self.session, row.format_id) is None:
            raise ValidationFailed(
                "No such report format.",
                errors=[field_error("format_id", f"no report format {row.format_id}")],
            )

    async def _require_free_period(self, row: StatusReport, exclude: uuid.UUID | None) -> None:
        """No other live (not superseded) report of the same programme, or the same project,
        covers any day of ``row``'s period (``exclude``: the row itself, when updating)."""
        # One writer of a programme's reports at a time: two overlapping drafts created at
        # once would otherwise both find the period free.
        await self.session.execute(
            select(Programme.id).where(Programme.id == row.programme_id).with_for_update()
        )
        overlapping = (
            await self.session.execute(
                select(StatusReport.id, StatusReport.period_start, StatusReport.period_end)
                .where(
                    StatusReport.programme_id == row.programme_id,
                    StatusReport.project_id.is_(None)
                    if row.project_id is None
                    else StatusReport.project_id == row.project_id,
                    StatusReport.state != ReportState.SUPERSEDED,
                    StatusReport.period_start <= row.period_end,
                    StatusReport.period_end >= row.period_start,
                    *([] if exclude is None else [StatusReport.id != exclude]),
                )
                .order_by(StatusReport.period_start)
                .limit(1)
            )
        ).first()
        if overlapping is not None:
            raise Conflict(
                f"There is already a report for {overlapping.period_start} to "
                f"{overlapping.period_end}, which overlaps this period; edit the draft or "
                "correct the published one.",
                report_id=str(overlapping.id),
            )

    def _draft(self, report: StatusReport) -> None:
        if report.state is not ReportState.DRAFT:
            raise Conflict(
                f"A {report.state} report is frozen; publish a correction instead.",
                state=report.state,
            )

    async def update(self, row: StatusReport, changes: dict[str, Any]) -> StatusReport:
        self._draft(row)
        return await super().update(row, changes)

    async def delete(self, row: StatusReport) -> None:
        self._draft(row)
        await super().delete(row)

    # --- suggestion -------------------------------------------------------------------------

    async def evidence(self, report: StatusReport) -> ReportEvidence:
        """The facts behind the suggested RAG (a fixed number of queries)."""
        settings = await configuration.configuration(self.session)
        # A programme's schedule leaves out its closed and cancelled projects' milestones (a
        # project's own report counts all of its own).
        scope = and_(Milestone.programme_id == report.programme_id, not_of_an_ended_project())
        if report.project_id is not None:
            scope = Milestone.project_id == report.project_id
        # The schedule is judged as of the period's end, or today for a period still running:
        # a report of October does not count November's days. A milestone not achieved by then
        # is late at least until then, whatever its forecast (or, without one, its baseline)
        # says; one achieved after the period's end was not achieved yet at its end.
        today = clock.today(self.session)
        as_of = schedule_as_of(report, today)
        # One achieved after that day slips until it, not until its forecast: what it says now
        # was not known then (forecasts keep no history), and its achievement came later.
        achieved_later = achieved_after(as_of)
        expected = case(
            (achieved_later, as_of),
            else_=func.greatest(
                func.coalesce(Milestone.forecast_date, Milestone.baseline_date), as_of
            ),
        )
        slip_days = await self.session.scalar(
            select(func.max(type_coerce(expected - Milestone.baseline_date, Integer))).where(
                scope,
                Milestone.baseline_date.is_not(None),
                or_(
                    Milestone.state.in_([MilestoneState.PLANNED, MilestoneState.MISSED]),
                    achieved_later,
                ),
            )
        )
        cost = await cost_position(self.session, report.programme_id, report.project_id)
        risk_scope = (
            Risk.programme_id == report.programme_id
            if report.project_id is None
            else Risk.project_id == report.project_id
        )
        # Threats only: a likely, large opportunity is good news, not a red risk.
        scores = await self.session.scalars(
            select(Risk.residual_score).where(
                risk_scope, Risk.status == RiskStatus.OPEN, Risk.kind == RiskKind.THREAT
            )
        )
        risk_rags = tuple(
            band.rag for score in scores.all() if (band := settings.band_for(score)) is not None
        )
        benefits_pct = realised_pct = None
        project_rags: dict[RagDimension, tuple[Rag | None, ...]] = {}
        unreported: tuple[uuid.UUID, ...] = ()
        if report.project_id is None:
            realised, forecast, _ = await benefits_as_of(self.session, report.programme_id, as_of)
            benefits_pct = forecast.exact_pct
            realised_pct = realised.exact_pct
            rolled_up = await self.latest_project_reports(report)
            for project_report in rolled_up:
                for dimension, rag in rags_of(project_report).items():
                    project_rags[dimension] = (*project_rags.get(dimension, ()), rag)
            # A live project with no report of this period is named, not silently left out.
            reported = {r.project_id for r in rolled_up}
            live = await self.session.scalars(
                select(Project.id)
                .where(
                    Project.programme_id == report.programme_id,
                    Project.state.in_([ProjectState.ACTIVE, ProjectState.ON_HOLD]),
                )
                .order_by(Project.name, Project.id)
            )
            unreported = tuple(p for p in live.all() if p not in reported)
        return ReportEvidence(
            schedule_slip_weeks=None if slip_days is None else slip_days / 7,
            schedule_as_of=as_of,
            cost_variance_pct=cost.variance,
            current_budget=cost.current_budget,
            forecast_cost=cost.forecast_cost,
            benefits_forecast_pct=benefits_pct,
            benefits_realisation_pct=realised_pct,
            open_risk_rags=risk_rags,
            project_rags=project_rags,
            projects_unreported=unreported,
            reported_rags={d: r for d, r in rags_of(report).items() if d in ASSESSED},
            read_today=read_today(as_of, today, programme_level=report.project_id is None),
        )

    async def suggestion(
        self, report: StatusReport
    ) -> tuple[dict[RagDimension, Rag | None], ReportEvidence]:
        settings = await configuration.configuration(self.session)
        evidence = await self.evidence(report)
        return suggest(evidence, settings.rag_rules), evidence

    async def latest_project_reports(self, report: StatusReport) -> list[StatusReport]:
        """What a programme report rolls up: each project's latest published (not superseded)
        report of a period that shares days with ``report``'s and ends by its end. A later
        period's report is not part of this one's; an earlier period's says nothing of this one
        (a project closed months ago, or one late with its report, is not reported on by its
        old report: :attr:`ReportEvidence.projects_unreported` names live projects without
        one)."""
        rows = await self.session.scalars(
            select(StatusReport)
            .where(
                StatusReport.programme_id == report.programme_id,
                StatusReport.project_id.is_not(None),
                StatusReport.state == ReportState.PUBLISHED,
                StatusReport.period_end <= report.period_end,
                StatusReport.period_end >= report.period_start,
            )
            .order_by(
                StatusReport.project_id,
                StatusReport.period_end.desc(),
                StatusReport.revision.desc(),
            )
            .ext(distinct_on(StatusReport.project_id))
        )
        return list(rows.all())

    # --- publication ------------------------------------------------------------------------

    async def publish(self, report: StatusReport, snapshot: dict[str, Any]) -> StatusReport:
        """Freeze the report: check the RAG rules, store the suggestion and the data snapshot;
        a correction supersedes the report it corrects."""
        self._draft(report)
        settings = await configuration.configuration(self.session)
        suggested, evidence = await self.suggestion(report)
        problems = publication_problems(
            rags_of(report),
            suggested[RagDimension.OVERALL],
            report.override_reason,
            report.path_to_green,
            settings.rag_rules,
        )
        problems += await self._format_problems(report)
        if report.period_start > (today := clock.today(self.session)):
            # A highlight report is a snapshot of a period under way or past; published ahead,
            # it would stand as the programme's current position before its period began.
            problems.insert(
                0,
                (
                    "period_start",
                    f"the period starts on {report.period_start}, after today ({today}): "
                    "publish it once its period has begun",
                ),
            )
        if problems:
            # Publishing takes no body: the fields named are the report's own, set by an update.
            raise ValidationFailed(
                "The report is not ready to publish: update the fields named, then publish.",
                errors=[field_error(f, m, source="report") for f, m in problems],
            )
        report.suggested = suggestion_json(suggested, evidence)
        report.snapshot = snapshot
        report.state = ReportState.PUBLISHED
        report.published_at = utcnow()
        report.published_by = self.actor_id
        report.updated_by = self.actor_id
        if report.supersedes_id is not None:
            previous = await self.get(report.supersedes_id)
            previous.state = ReportState.SUPERSEDED
            previous.updated_by = self.actor_id
        await self.session.flush()
        await self.session.refresh(report)
        return report

    async def _format_problems(self, report: StatusReport) -> list[tuple[str, str]]:
        """The RAGs the report's format asks for and the report leaves empty (overall, which
        every report needs, is the rules' already)."""
        if report.format_id is None:
            return []
        found = await report_format(self.session, report.format_id)
        if found is None:
            return []
        return [
            (f"{dimension}_rag", f"the report format {found.title!r} reports {dimension}: set it")
            for dimension in DIMENSIONS
            if dimension in found.rag_dimensions
            and dimension is not RagDimension.OVERALL
            and getattr(report, f"{dimension}_rag") is None
        ]

    async def correct(self, report: StatusReport) -> StatusReport:
        """A new draft revision of a published report, to be published in its place."""
        if report.state is not ReportState.PUBLISHED:
            raise Conflict(f"Only the published revision is corrected; this one is {report.state}.")
        pending = await self.session.scalar(
            select(StatusReport.id).where(StatusReport.supersedes_id == report.id)
        )
        if pending is not None:
            raise Conflict(
                "A correction of this report is already in progress.", report_id=str(pending)
            )
        copied = {
            column: getattr(report, column)
            for column in (
                "programme_id",
                "project_id",
                "period_start",
                "period_end",
                "format_id",
                "summary",
                "achievements",
                "next_period",
                "override_reason",
                "path_to_green",
                *(f"{d}_rag" for d in DIMENSIONS),
                *(f"{d}_comment" for d in DIMENSIONS),
            )
        }
        correction = StatusReport(
            **copied,
            revision=report.revision + 1,
            supersedes_id=report.id,
            state=ReportState.DRAFT,
            created_by=self.actor_id,
            updated_by=self.actor_id,
        )
        self.session.add(correction)
        await self.session.flush()
        await self.session.refresh(correction)
        return correction


def suggestion_json(
    suggested: Mapping[RagDimension, Rag | None], evidence: ReportEvidence
) -> dict[str, Any]:
    """A suggestion as the API shows it (:class:`Suggestion`) and a published report keeps it
    (``suggested``): the RAGs, the day they are judged as of, the dimensions judged on today's
    data instead, and the evidence."""
    return {
        "rags": {str(d): r for d, r in suggested.items()},
        "as_of": None if evidence.schedule_as_of is None else evidence.schedule_as_of.isoformat(),
        "read_today": [str(d) for d in evidence.read_today],
        "evidence": evidence_json(evidence),
    }


def evidence_json(evidence: ReportEvidence) -> dict[str, Any]:
    """The evidence as the API shows it (and a published report keeps it): the slip, the
    variance and the benefits forecast rounded to two decimals, which the suggestion itself did
    not compare."""
    values = {
        name: money.number(value) if isinstance(value, Decimal) else value
        for name, value in asdict(evidence).items()
        if name != "read_today"  # beside the evidence: see suggestion_json
    }
    values["schedule_slip_weeks"] = shown_pct(evidence.schedule_slip_weeks)
    values["cost_variance_pct"] = shown_pct(evidence.cost_variance_pct)
    values["benefits_forecast_pct"] = shown_pct(evidence.benefits_forecast_pct)
    values["benefits_realisation_pct"] = shown_pct(evidence.benefits_realisation_pct)
    values["schedule_as_of"] = (
        None if evidence.schedule_as_of is None else evidence.schedule_as_of.isoformat()
    )
    values["open_risk_rags"] = {
        str(rag): evidence.open_risk_rags.count(rag) for rag in set(evidence.open_risk_rags)
    }
    values["project_rags"] = {str(d): list(r) for d, r in evidence.project_rags.items()}
    values["reported_rags"] = {str(d): r for d, r in evidence.reported_rags.items()}
    values["projects_unreported"] = [str(p) for p in evidence.projects_unreported]
    return values


# --- report formats -------------------------------------------------------------------------------


async def report_format(session: AsyncSession, format_id: uuid.UUID) -> ReportFormat | None:
    found: ReportFormat | None = await session.scalar(
        select(ReportFormat).where(ReportFormat.id == format_id)
    )
    return found


async def present_reports(
    session: AsyncSession, rows: list[StatusReport]
) -> list[StatusReportRead]:
    """Reports as the API shows them: each with its format's sections (one query)."""
    format_ids = list({r.format_id for r in rows if r.format_id is not None})
    sections = await ReportFormatService(session, None).sections(format_ids)
    return [
        read_of(
            StatusReportRead,
            row,
            sections=[
                FormatSection(s.position, s.title, s.guidance)
                for s in ([] if row.format_id is None else sections.get(row.format_id, []))
            ],
        )
        for row in rows
    ]


@dataclass(frozen=True, slots=True)
class ReportFormatFilter:
    def conditions(self) -> list[ColumnElement[bool]]:
        return []

    def order(self) -> list[Any]:
        return [func.lower(ReportFormat.title)]


class ReportFormatService(RegisterService[ReportFormat]):
    model = ReportFormat
    noun = "report format"

    async def sections(self, format_ids: list[uuid.UUID]) -> dict[uuid.UUID, list[ReportSection]]:
        found: dict[uuid.UUID, list[ReportSection]] = {}
        if format_ids:
            rows = await self.session.scalars(
                select(ReportSection)
                .where(ReportSection.format_id.in_(format_ids))
                .order_by(ReportSection.position, ReportSection.created_at)
            )
            for section in rows.all():
                found.setdefault(section.format_id, []).append(section)
        return found
