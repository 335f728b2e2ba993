"""Status report rules: suggested RAG from the data, roll-up of project reports, and what a
report needs before it can be published."""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal

from services.workspace.configuration.rules import RagRules
from services.workspace.models import Rag
from services.workspace.reporting.models import RagDimension

SEVERITY = {Rag.GREEN: 0, Rag.AMBER: 1, Rag.RED: 2}
DIMENSIONS = tuple(RagDimension)
ASSESSED = tuple(d for d in DIMENSIONS if d is not RagDimension.OVERALL)


def worst(rags: Iterable[Rag | None]) -> Rag | None:
    """The worst of some RAGs (None when none is known)."""
    known = [r for r in rags if r is not None]
    return max(known, key=SEVERITY.__getitem__) if known else None


def ceiling_rag(value: float | Decimal | None, green_max: float, amber_max: float) -> Rag | None:
    """Green up to ``green_max``, amber up to ``amber_max``, red above. ``value`` is the exact
    figure, never one rounded for display: 5.004 is above 5 (a ``Decimal`` compares exactly
    with a float)."""
    if value is None:
        return None
    if value <= green_max:
        return Rag.GREEN
    return Rag.AMBER if value <= amber_max else Rag.RED


def floor_rag(value: float | Decimal | None, green_min: float, amber_min: float) -> Rag | None:
    """Green from ``green_min``, amber from ``amber_min``, red below (``value`` exact, as for
    :func:`ceiling_rag`)."""
    if value is None:
        return None
    if value >= green_min:
        return Rag.GREEN
    return Rag.AMBER if value >= amber_min else Rag.RED


@dataclass(frozen=True, slots=True)
class ReportEvidence:
    """The facts a suggestion is made from (None: no data for that dimension), exact: the rules
    compare these, and only what shows them (``evidence_json``) rounds."""

    # The worst slip of a milestone, in weeks, as of ``schedule_as_of``: the report's as-of
    # day (its period's end, or today while the period runs).
    schedule_slip_weeks: float | None = None
    schedule_as_of: date | None = None
    cost_variance_pct: Decimal | float | None = None
    # The money behind the cost variance: the budget with its approved changes, the forecast.
    current_budget: Decimal | None = None
    forecast_cost: Decimal | None = None
    benefits_forecast_pct: float | None = None
    # The realisation of the programme's benefits as of ``schedule_as_of``: each from its
    # latest measurement on or before that day (shown, not compared by a rule).
    benefits_realisation_pct: float | None = None
    # The RAG of each open risk's residual band.
    open_risk_rags: tuple[Rag, ...] = ()
    # Latest published reports of the projects this report rolls up: dimension → RAGs.
    project_rags: Mapping[RagDimension, tuple[Rag | None, ...]] = field(default_factory=dict)
    # Live (active or on hold) projects with no published report of the period to roll up.
    projects_unreported: tuple[uuid.UUID, ...] = ()
    # The report's own RAG per dimension, taken where the data cannot assess a dimension.
    reported_rags: Mapping[RagDimension, Rag | None] = field(default_factory=dict)
    # The dimensions judged on today's data rather than as of ``schedule_as_of``: no history
    # of it is kept (:func:`read_today`).
    read_today: tuple[RagDimension, ...] = ()


def read_today(as_of: date, today: date, programme_level: bool) -> tuple[RagDimension, ...]:
    """The dimensions a report as of ``as_of`` judges on today's data, for no history of it is
    kept: cost (budgets, forecasts at completion and approved changes are as they stand), risk
    (open threats and their residual scores now) and, for a programme, benefits (the owners'
    forecasts now; the realisation shown is as of ``as_of``, from dated measurements). None
    while the period runs: its as-of day is today. Schedule is judged as of ``as_of`` (a
    milestone achieved later was not achieved then), scope and resources from the period's
    project reports."""
    if as_of >= today:
        return ()
    current = (RagDimension.COST, RagDimension.BENEFITS, RagDimension.RISK)
    return tuple(d for d in current if programme_level or d is not RagDimension.BENEFITS)


def suggest(evidence: ReportEvidence, rules: RagRules) -> dict[RagDimension, Rag | None]:
    """Suggested RAG per dimension; overall is the worst dimension.

    Schedule: the worst milestone slip against the rules' weeks (a milestone not achieved by
    the report's as-of day slips at least until that day; one achieved after it, until that
    day). Cost: variance at completion.
    Each is compared exact; the evidence shown rounds.
    Benefits: the value-weighted forecast of target. Risk: red if an open risk sits in a red
    band, amber if in an amber band. Scope and resources come only from rolled-up projects.
    Each dimension is then no better than the worst project report it rolls up. A dimension
    the data cannot assess (scope without projects, schedule without milestones …) is the
    report's own RAG, so overall is never better than a dimension the report itself flags.
    """
    own: dict[RagDimension, Rag | None] = {
        RagDimension.SCHEDULE: ceiling_rag(
            evidence.schedule_slip_weeks,
            rules.schedule_slip_green_max_weeks,
            rules.schedule_slip_amber_max_weeks,
        ),
        RagDimension.COST: ceiling_rag(
            evidence.cost_variance_pct,
            rules.cost_variance_green_max_pct,
            rules.cost_variance_amber_max_pct,
        ),
        RagDimension.BENEFITS: floor_rag(
            evidence.benefits_forecast_pct,
            rules.benefits_forecast_green_min_pct,
            rules.benefits_forecast_amber_min_pct,
        ),
        RagDimension.RISK: (worst(evidence.open_risk_rags) or Rag.GREEN)
        if evidence.open_risk_rags
        else None,
        RagDimension.SCOPE: None,
        RagDimension.RESOURCES: None,
    }
    suggested: dict[RagDimension, Rag | None] = {
        d: worst([own[d], *evidence.project_rags.get(d, ())]) or evidence.reported_rags.get(d)
        for d in ASSESSED
    }
    overall = worst([*suggested.values(), *evidence.project_rags.get(RagDimension.OVERALL, ())])
    return {RagDimension.OVERALL: overall} | suggested


def cost_variance(budget: Decimal | None, forecast: Decimal | None) -> Decimal | None:
    """Forecast at completion over budget, in % of budget (negative: under budget), exact (to
    28 significant digits): what the cost RAG compares."""
    if budget is None or forecast is None or budget <= 0:
        return None
    return (forecast - budget) / budget * 100


def cost_variance_pct(budget: Decimal | None, forecast: Decimal | None) -> float | None:
    """:func:`cost_variance` as shown: a number with two decimals."""
    return shown_pct(cost_variance(budget, forecast))


def shown_pct(value: Decimal | float | None) -> float | None:
    """A % or a number of weeks as the API shows it: two decimals. For display only — rules
    compare the exact value."""
    return None if value is None else round(float(value), 2)


@dataclass(frozen=True, slots=True)
class CostPosition:
    """The money of a programme or a project, exact to the cent: the budget it was given, the
    cost impact of its approved change requests, and the forecast at completion."""

    budget: Decimal | None
    approved_changes: Decimal
    forecast_cost: Decimal | None

    @property
    def current_budget(self) -> Decimal | None:
        """The budget with its approved changes (None without a budget)."""
        return None if self.budget is None else self.budget + self.approved_changes

    @property
    def variance(self) -> Decimal | None:
        """The exact variance at completion, in % of the current budget."""
        return cost_variance(self.current_budget, self.forecast_cost)

    @property
    def variance_pct(self) -> float | None:
        """:attr:`variance` as shown (two decimals)."""
        return shown_pct(self.variance)


def publication_problems(
    rags: Mapping[RagDimension, Rag | None],
    suggested_overall: Rag | None,
    override_reason: str,
    path_to_green: str,
    rules: RagRules,
) -> list[tuple[str, str]]:
    """Why a report cannot be published yet, as ``(field, message)`` pairs.

    Overall must be set; an overall that differs from the suggestion, or is better than a
    dimension the report itself gives, needs a reason (overall is the worst dimension unless
    overridden with one); any dimension the rules flag (amber and red by default) needs a path
    to green.
    """
    problems: list[tuple[str, str]] = []
    overall = rags.get(RagDimension.OVERALL)
    worse = [
        d
        for d in ASSESSED
        if overall is not None
        and (rag := rags.get(d)) is not None
        and SEVERITY[rag] > SEVERITY[overall]
    ]
    if overall is None:
        problems.append(("overall_rag", "set the overall RAG before publishing"))
    elif rules.override_requires_reason and not override_reason.strip():
        if suggested_overall is not None and overall is not suggested_overall:
            said = f"the data suggests {suggested_overall}"
        elif worse:
            said = " and ".join(f"{d} is {rags[d]}" for d in worse)
        else:
            said = ""
        if said:
            problems.append(("override_reason", f"overall is {overall} but {said}: say why"))
    flagged = [d for d in DIMENSIONS if rules.needs_path_to_green(rags.get(d))]
    if flagged and not path_to_green.strip():
        names = ", ".join(str(d) for d in flagged)
        problems.append(("path_to_green", f"{names} not green: give the path to green"))
    return problems
