"""The views that save a programme manager's day: the programme dashboard, the cross-project
dependency map and the board pack. Each runs a fixed number of queries, whatever the size of
the registers behind it."""

from __future__ import annotations

import uuid
from datetime import date, timedelta
from typing import Any

import msgspec
from sqlalchemy import ColumnElement, and_, case, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from services.workspace import clock, money
from services.workspace.benefits.service import BenefitService
from services.workspace.configuration import service as configuration
from services.workspace.gates.models import GateDecision, GateState, StageGate, StageGateReview
from services.workspace.governance.models import Action, ChangeRequest, Decision
from services.workspace.governance.service import OPEN_ACTIONS
from services.workspace.models import Rag
from services.workspace.raid.models import (
    Dependency,
    DependencyStatus,
    Issue,
    IssueStatus,
    Risk,
    RiskKind,
    RiskStatus,
)
from services.workspace.raid.service import dependencies_rated, dependency_rags, in_parts
from services.workspace.reporting.models import ReportState, StatusReport
from services.workspace.reporting.schemas import (
    BoardPack,
    ChangeLine,
    CostView,
    Dashboard,
    DecisionLine,
    DependencyLine,
    DependencyMap,
    DueItem,
    GateOutcome,
    IssueLine,
    MapEdge,
    MapNode,
    RagPoint,
    RealisationView,
    RiskLine,
)
from services.workspace.reporting.service import (
    achieved_after,
    benefits_as_of,
    cost_position,
    present_reports,
    rags_of,
    schedule_as_of,
)
from services.workspace.structure.models import Milestone, MilestoneState, Project
from services.workspace.structure.service import ProgrammeService, not_of_an_ended_project

DUE_LIST_LIMIT = 50
"""The most milestones and gates the dashboard lists as due (each); it counts them all."""
SNAPSHOT_COUNTS = (5, 5, 20)
"""The top risks, open issues and decisions of the period a published report keeps when it
follows no format (a format's top_risks, top_issues and top_decisions replace them)."""
BOARD_LIST_LIMIT = 50
"""The most change requests, escalated issues, overdue actions and dependencies at risk a board
pack lists (each)."""


def rag_point(report: StatusReport) -> RagPoint:
    return RagPoint(
        report.id,
        report.period_start,
        report.period_end,
        {str(d): r for d, r in rags_of(report).items()},
    )


async def top_risks(
    session: AsyncSession,
    programme_id: uuid.UUID,
    limit: int,
    project_id: uuid.UUID | None = None,
    kind: RiskKind = RiskKind.THREAT,
) -> list[RiskLine]:
    """The open threats (or opportunities) with the highest residual scores: a likely, large
    opportunity is good news, not a top risk."""
    settings = await configuration.configuration(session)
    scope = (
        Risk.programme_id == programme_id if project_id is None else Risk.project_id == project_id
    )
    rows = await session.scalars(
        select(Risk)
        .where(scope, Risk.status == RiskStatus.OPEN, Risk.kind == kind)
        .order_by(Risk.residual_score.desc(), Risk.next_review_date.asc().nulls_last(), Risk.id)
        .limit(limit)
    )
    lines = []
    for risk in rows.all():
        band = settings.band_for(risk.residual_score)
        lines.append(
            RiskLine(
                risk.id,
                risk.reference,
                risk.title,
                risk.residual_probability,
                risk.residual_impact,
                risk.residual_score,
                band.key if band else None,
                band.rag if band else None,
                risk.owner_id,
                risk.trend,
            )
        )
    return lines


async def dashboard(
    session: AsyncSession, programme_id: uuid.UUID, *, trend: int, top: int, horizon_days: int
) -> Dashboard:
    today = clock.today(session)
    horizon = today + timedelta(days=horizon_days)
    programme = await ProgrammeService(session, None).get(programme_id)
    settings = await configuration.configuration(session)
    reports = list(
        (
            await session.scalars(
                select(StatusReport)
                .where(
                    StatusReport.programme_id == programme_id,
                    StatusReport.project_id.is_(None),
                    StatusReport.state == ReportState.PUBLISHED,
                )
                .order_by(StatusReport.period_end.desc())
                .limit(trend)
            )
        ).all()
    )
    realised, forecast, by_state = await BenefitService(session, None).programme_roll_up(
        programme_id
    )
    cost = await cost_position(session, programme_id)
    size_p, size_i = settings.max_probability, settings.max_impact
    heat = [[0] * size_i for _ in range(size_p)]
    cells = await session.execute(
        select(Risk.residual_probability, Risk.residual_impact, func.count())
        .where(
            Risk.programme_id == programme_id,
            Risk.status == RiskStatus.OPEN,
            Risk.kind == RiskKind.THREAT,
        )
        .group_by(Risk.residual_probability, Risk.residual_impact)
    )
    for p, i, n in cells.all():
        if 1 <= p <= size_p and 1 <= i <= size_i:
            heat[p - 1][i - 1] = int(n)
    # What is due by the horizon, overdue first: a milestone still to be achieved (planned, or
    # recorded as missed) whose day has passed is listed (its forecast, or its baseline without
    # one), an undecided gate whose planned day has passed is still to be decided, and so is
    # one put on hold or sent back to recycle (it is reviewed again). A closed or cancelled
    # project's milestones are not due: they will not come, or no longer matter. Each list
    # stops at DUE_LIST_LIMIT; the window counts them all before LIMIT, so a client knows.
    milestone_due = func.coalesce(Milestone.forecast_date, Milestone.baseline_date)
    milestones = (
        await session.execute(
            select(Milestone, milestone_due, func.count().over())
            .where(
                Milestone.programme_id == programme_id,
                Milestone.state.in_([MilestoneState.PLANNED, MilestoneState.MISSED]),
                milestone_due <= horizon,
                not_of_an_ended_project(),
            )
            .order_by(milestone_due, Milestone.id)
            .limit(DUE_LIST_LIMIT)
        )
    ).all()
    gates = (
        await session.execute(
            select(StageGate, func.count().over())
            .where(
                StageGate.programme_id == programme_id,
                or_(
                    StageGate.state != GateState.DECIDED,
                    StageGate.decision.in_([GateDecision.HOLD, GateDecision.RECYCLE]),
                ),
                StageGate.planned_date <= horizon,
            )
            .order_by(StageGate.planned_date, StageGate.id)
            .limit(DUE_LIST_LIMIT)
        )
    ).all()
    overdue = (
        Action.programme_id == programme_id,
        Action.state.in_(OPEN_ACTIONS),
        Action.due_date < today,
    )
    # The window counts every overdue action before LIMIT: the list and its total in one query.
    overdue_rows = (
        await session.execute(
            select(Action, func.count().over()).where(*overdue).order_by(Action.due_date).limit(20)
        )
    ).all()
    overdue_count = overdue_rows[0][1] if overdue_rows else 0
    points = [rag_point(r) for r in reports]
    return Dashboard(
        programme_id=programme.id,
        name=programme.name,
        as_of=today,
        current=points[0] if points else None,
        trend=list(reversed(points)),
        benefits=RealisationView(
            realised.pct,
            realised.value_weighted,
            realised.counted,
            None if (value := realised.value_realised_per_year) is None else money.number(value),
            forecast.pct,
            by_state,
        ),
        cost=CostView(
            budget=None if cost.budget is None else money.number(cost.budget),
            approved_changes=money.number(cost.approved_changes),
            current_budget=None if (now := cost.current_budget) is None else money.number(now),
            forecast_cost=None if cost.forecast_cost is None else money.number(cost.forecast_cost),
            variance_pct=cost.variance_pct,
        ),
        top_risks=await top_risks(session, programme_id, top),
        top_opportunities=await top_risks(session, programme_id, top, kind=RiskKind.OPPORTUNITY),
        heat_map=heat,
        milestones_due=[
            DueItem(m.id, m.title, due, m.state, m.owner_id, overdue=due < today)
            for m, due, _ in milestones
        ],
        milestones_due_count=int(milestones[0][2]) if milestones else 0,
        gates_due=[
            DueItem(
                g.id,
                g.title,
                g.planned_date,
                g.state,
                overdue=g.planned_date is not None and g.planned_date < today,
            )
            for g, _ in gates
        ],
        gates_due_count=int(gates[0][1]) if gates else 0,
        overdue_actions=[
            DueItem(a.id, a.title, a.due_date, a.state, a.owner_id, overdue=True)
            for a, _ in overdue_rows
        ],
        overdue_action_count=int(overdue_count or 0),
        dependencies_at_risk=await dependencies_at_risk(session, programme_id),
    )


def dependencies_of(programme_id: uuid.UUID) -> ColumnElement[bool]:
    """The programme's own dependencies, and any other programme's with an end in it: the side
    that must deliver sees it as well as the side that recorded it."""
    projects = select(Project.id).where(Project.programme_id == programme_id)
    milestones = select(Milestone.id).where(Milestone.programme_id == programme_id)
    return or_(
        Dependency.programme_id == programme_id,
        Dependency.from_project_id.in_(projects),
        Dependency.to_project_id.in_(projects),
        Dependency.from_milestone_id.in_(milestones),
        Dependency.to_milestone_id.in_(milestones),
    )


async def dependency_map(session: AsyncSession, programme_id: uuid.UUID | None) -> DependencyMap:
    """Projects and milestones joined by dependencies (a programme's, or the whole workspace's),
    each edge coloured by its RAG. Every dependency is drawn, however many: a map leaving some
    out would show a programme with fewer links than it has. Five queries (two of them for the
    RAGs; one more for every 10,000 milestones or projects, :func:`in_parts`), and one more to
    find the programme: an unknown one (or another workspace's) is not found, as for the
    dashboard."""
    query = select(Dependency).order_by(Dependency.need_by_date.asc().nulls_last(), Dependency.id)
    if programme_id is not None:
        await ProgrammeService(session, None).get(programme_id)
        query = query.where(dependencies_of(programme_id))
    dependencies = list((await session.scalars(query)).all())
    # Nodes: the milestones on the edges' ends, and the projects that are an end themselves (a
    # side without a milestone) or own a milestone node; a project named beside its milestone
    # is drawn as the milestone's owner, not as an end of its own.
    milestone_ids = {
        m for d in dependencies for m in (d.from_milestone_id, d.to_milestone_id) if m is not None
    }
    linked: list[Milestone] = []
    for part in in_parts(milestone_ids):
        linked += (await session.scalars(select(Milestone).where(Milestone.id.in_(part)))).all()
    project_ids = {
        project
        for d in dependencies
        for project, milestone in (
            (d.from_project_id, d.from_milestone_id),
            (d.to_project_id, d.to_milestone_id),
        )
        if project is not None and milestone is None
    } | {m.project_id for m in linked if m.project_id is not None}
    nodes: dict[str, MapNode] = {}
    for part in in_parts(project_ids):
        for project in (
            await session.scalars(
                select(Project).where(Project.id.in_(part)).order_by(Project.name)
            )
        ).all():
            nodes[str(project.id)] = MapNode(
                project.id, "project", project.name, project.programme_id
            )
    for milestone in linked:
        nodes[str(milestone.id)] = MapNode(
            milestone.id,
            "milestone",
            milestone.title,
            milestone.programme_id,
            milestone.project_id,
        )

    def end(node: uuid.UUID | None, party: str) -> str:
        """A side's node: its milestone or project, else the external party."""
        if node is not None:
            return str(node)
        key = f"external:{party}"
        if key not in nodes:
            nodes[key] = MapNode(uuid.uuid5(uuid.NAMESPACE_URL, key), "external", party, None)
        return key

    rags = await dependency_rags(session, dependencies)
    edges = []
    for d in dependencies:
        source = d.from_milestone_id or d.from_project_id
        target = d.to_milestone_id or d.to_project_id
        # An external dependency runs either way: the party provides (no from side) or needs
        # something from a project (no to side). A row missing a side with no party to stand in
        # for it (refused since, but older rows may exist) has nothing to point at.
        if source is None and target is None:
            continue
        if (source is None or target is None) and not d.external_party.strip():
            continue
        edges.append(
            MapEdge(
                d.id,
                d.title,
                end(source, d.external_party),
                end(target, d.external_party),
                d.need_by_date,
                d.committed_date,
                d.status,
                rags[d.id],
            )
        )
    return DependencyMap(nodes=list(nodes.values()), edges=edges)


async def dependencies_at_risk(
    session: AsyncSession, programme_id: uuid.UUID, limit: int = BOARD_LIST_LIMIT
) -> list[DependencyLine]:
    """The programme's dependencies (recorded in it, or with an end in it) that are red or
    amber now, red first, then by the date each is needed by (its need-by date, else its
    needing milestone's), the first ``limit`` of them (three queries).

    Every open dependency is rated before any is left out: a RAG is worked out from the
    milestones it links, not stored, and a cap on the rows read would drop those at risk behind
    the ones on track."""
    rows = list(
        (
            await session.scalars(
                select(Dependency)
                .where(
                    dependencies_of(programme_id),
                    Dependency.status.not_in(
                        [DependencyStatus.DELIVERED, DependencyStatus.CANCELLED]
                    ),
                )
                .order_by(Dependency.id)
            )
        ).all()
    )
    at_risk = sorted(
        (
            (d, rag, need)
            for d, rag, need in await dependencies_rated(session, rows)
            if rag in (Rag.RED, Rag.AMBER)
        ),
        key=lambda found: (found[1] is not Rag.RED, found[2] is None, found[2] or date.min),
    )
    return [
        DependencyLine(
            d.id,
            d.reference,
            d.title,
            d.from_project_id,
            d.from_milestone_id,
            d.to_project_id,
            d.to_milestone_id,
            d.external_party,
            d.need_by_date,
            d.committed_date,
            d.status,
            rag,
        )
        for d, rag, _ in at_risk[:limit]
    ]


async def board_pack(
    session: AsyncSession, programme_id: uuid.UUID, start: date, end: date, top: int = 10
) -> BoardPack:
    """What a board reads for a period: the reports published for it (the programme's and its
    projects'), decisions and change requests decided in it, the gate outcomes in it, and what
    stands now: the top risks, issues escalated to a board, actions overdue from the period,
    dependencies at risk. A fixed number of queries."""
    await ProgrammeService(session, None).get(programme_id)
    reports = await session.scalars(
        select(StatusReport)
        .where(
            StatusReport.programme_id == programme_id,
            StatusReport.state == ReportState.PUBLISHED,
            StatusReport.period_start <= end,
            StatusReport.period_end >= start,
        )
        .order_by(StatusReport.project_id.asc().nulls_first(), StatusReport.period_end)
    )
    decisions = await session.scalars(
        select(Decision)
        .where(Decision.programme_id == programme_id, Decision.decided_on.between(start, end))
        .order_by(Decision.decided_on, Decision.id)
    )
    outcomes = await session.execute(
        select(StageGateReview, StageGate.title)
        .join(StageGate, StageGate.id == StageGateReview.gate_id)
        .where(
            StageGate.programme_id == programme_id, StageGateReview.decided_on.between(start, end)
        )
        .order_by(StageGateReview.decided_on, StageGateReview.created_at)
    )
    changes = await session.scalars(
        select(ChangeRequest)
        .where(
            ChangeRequest.programme_id == programme_id,
            ChangeRequest.decided_on.between(start, end),
        )
        .order_by(ChangeRequest.decided_on, ChangeRequest.id)
        .limit(BOARD_LIST_LIMIT)
    )
    issues = await session.scalars(
        select(Issue)
        .where(
            Issue.programme_id == programme_id,
            Issue.escalated_to_board_id.is_not(None),
            Issue.status.in_([IssueStatus.OPEN, IssueStatus.IN_PROGRESS]),
        )
        .order_by(Issue.severity, Issue.target_date.asc().nulls_last(), Issue.id)
        .limit(BOARD_LIST_LIMIT)
    )
    today = clock.today(session)
    actions = await session.scalars(
        select(Action)
        .where(
            Action.programme_id == programme_id,
            Action.state.in_(OPEN_ACTIONS),
            Action.due_date <= end,
            Action.due_date < today,
        )
        .order_by(Action.due_date, Action.id)
        .limit(BOARD_LIST_LIMIT)
    )
    return BoardPack(
        programme_id=programme_id,
        period_start=start,
        period_end=end,
        reports=await present_reports(session, list(reports.all())),
        decisions=[
            DecisionLine(d.id, d.title, d.decision, d.status, d.decided_on, d.board_id)
            for d in decisions.all()
        ],
        top_risks=await top_risks(session, programme_id, top),
        gate_outcomes=[
            GateOutcome(r.gate_id, title, r.decision, r.conditions, r.decided_on, r.decided_by_id)
            for r, title in outcomes.all()
        ],
        change_requests=[
            ChangeLine(
                c.id,
                c.reference,
                c.title,
                c.project_id,
                c.state,
                c.decided_on,
                c.decided_by_id,
                c.schedule_impact_days,
                None if c.cost_impact is None else money.number(c.cost_impact),
            )
            for c in changes.all()
        ],
        escalated_issues=[
            IssueLine(
                i.id,
                i.reference,
                i.title,
                i.project_id,
                i.severity,
                i.status,
                i.escalated_to_board_id,
                i.owner_id,
                i.target_date,
            )
            for i in issues.all()
        ],
        overdue_actions=[
            DueItem(a.id, a.title, a.due_date, a.state, a.owner_id, overdue=True)
            for a in actions.all()
        ],
        dependencies_at_risk=await dependencies_at_risk(session, programme_id),
    )


async def report_snapshot(session: AsyncSession, report: StatusReport) -> dict[str, Any]:
    """The data a published report keeps: key milestones (the first ten still to deliver on
    the report's as-of day, as the suggestion reads them), top risks, open issues, the period's
    decisions and, for a programme, benefits (realisation as of the report's as-of day, as the
    suggestion reads it) and the project reports it rolls up."""
    from services.workspace.reporting.service import (
        ReportFormatService,
        StatusReportService,
        report_format,
    )

    # The report's format sizes the lists it keeps; without one, the defaults.
    found = None if report.format_id is None else await report_format(session, report.format_id)
    risk_count, issue_count, decision_count = (
        SNAPSHOT_COUNTS
        if found is None
        else (found.top_risks, found.top_issues, found.top_decisions)
    )
    milestone_scope = (
        and_(Milestone.programme_id == report.programme_id, not_of_an_ended_project())
        if report.project_id is None
        else Milestone.project_id == report.project_id
    )
    # The milestones still to deliver on the report's as-of day (its period's end, or today
    # while it runs), as the suggestion reads them: planned or missed, and those achieved after
    # that day, which were not achieved yet then. Such a one is listed as it stood: planned,
    # expected no sooner than that day (the slip the suggestion counts), not as achieved nor
    # on the forecast it has now. One achieved by then is delivered: not listed.
    as_of = schedule_as_of(report, clock.today(session))
    achieved_later = achieved_after(as_of)
    expected = case((achieved_later, as_of), else_=Milestone.forecast_date)
    milestones = await session.scalars(
        select(Milestone)
        .where(
            milestone_scope,
            or_(
                Milestone.state.in_([MilestoneState.PLANNED, MilestoneState.MISSED]),
                achieved_later,
            ),
        )
        .order_by(expected.asc().nulls_last(), Milestone.id)
        .limit(10)
    )
    issue_scope = (
        Issue.programme_id == report.programme_id
        if report.project_id is None
        else Issue.project_id == report.project_id
    )
    issues = await session.scalars(
        select(Issue)
        .where(issue_scope, Issue.status.in_([IssueStatus.OPEN, IssueStatus.IN_PROGRESS]))
        .order_by(Issue.severity, Issue.target_date.asc().nulls_last())
        .limit(issue_count)
    )
    decision_scope = [
        Decision.programme_id == report.programme_id,
        Decision.decided_on.between(report.period_start, report.period_end),
    ]
    if report.project_id is not None:
        decision_scope.append(Decision.project_id == report.project_id)
    decisions = await session.scalars(
        select(Decision).where(*decision_scope).order_by(Decision.decided_on).limit(decision_count)
    )
    snapshot: dict[str, Any] = {
        "milestones": [
            {
                "id": str(m.id),
                "title": m.title,
                "baseline_date": m.baseline_date,
                "forecast_date": as_of if later else m.forecast_date,
                "state": MilestoneState.PLANNED if later else m.state,
            }
            for m in milestones.all()
            # Listed achieved only if achieved after the as-of day (the query's condition).
            for later in [m.state is MilestoneState.ACHIEVED]
        ],
        "top_risks": msgspec.to_builtins(
            await top_risks(session, report.programme_id, risk_count, report.project_id)
        ),
        "issues": [
            {"id": str(i.id), "title": i.title, "severity": i.severity, "status": i.status}
            for i in issues.all()
        ],
        "decisions": [
            {"id": str(d.id), "title": d.title, "decision": d.decision, "decided_on": d.decided_on}
            for d in decisions.all()
        ],
    }
    if found is not None:
        # The format as it stood at publication: what the report was written against.
        sections = (await ReportFormatService(session, None).sections([found.id])).get(found.id, [])
        snapshot["format"] = {
            "id": str(found.id),
            "title": found.title,
            "rag_dimensions": found.rag_dimensions,
            "top_risks": found.top_risks,
            "top_issues": found.top_issues,
            "top_decisions": found.top_decisions,
            "sections": [
                {"position": s.position, "title": s.title, "guidance": s.guidance} for s in sections
            ],
        }
    if report.project_id is None:
        # Realisation as the suggestion reads it: from what was measured by the period's end.
        realised, forecast, by_state = await benefits_as_of(session, report.programme_id, as_of)
        snapshot["benefits"] = {
            "realisation_pct": realised.pct,
            "forecast_pct": forecast.pct,
            "by_state": by_state,
        }
        projects = await StatusReportService(session, None).latest_project_reports(report)
        snapshot["project_reports"] = [
            {
                "report_id": str(p.id),
                "project_id": str(p.project_id),
                "period_end": p.period_end,
                "revision": p.revision,
                "rags": {str(d): r for d, r in rags_of(p).items()},
            }
            for p in projects
        ]
    return msgspec.to_builtins(snapshot)  # type: ignore[no-any-return]
