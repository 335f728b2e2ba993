"""Rows stored before a rule that now refuses them: found, named, and left for people to put right.

Rules tightened over time (a threat's residual levels, a milestone's baseline bounds, money that is
never negative) refuse new writes, but a row written before a rule still stands: the API lets
other fields of it be written, and reports read it as it is. ``pmo db check`` lists such rows
workspace by workspace, so they can be corrected through the API, where every rule applies. It
changes nothing, except with ``validate``: the database's ``NOT VALID`` constraints (added so a
migration could not fail on old rows) are validated once no row breaks them.

Each check is one query over a batch of workspaces, read under their tenant scope as the API
reads them (row-level security applies), so a check costs one statement per batch whatever the
number of rows.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

from sqlalchemy import Select, and_, func, or_, select, text
from sqlalchemy.engine import Connection
from sqlalchemy.orm import aliased

from services.db.engine import Database
from services.db.tenant_scope import TenantScope
from services.tenancy.models import Tenant, TenantState
from services.workspace.benefits.models import Benefit
from services.workspace.raid.models import Risk, RiskKind
from services.workspace.structure.models import Milestone, Programme, Project, Tranche

FindingRows = Select[uuid.UUID, uuid.UUID, str, str]
"""A check's query: ``(tenant_id, id, label, message)`` of each row breaking its rule."""

# Workspaces read in one statement: the scope is one setting, and RLS compares against it.
BATCH = 500


@dataclass(frozen=True, slots=True)
class Finding:
    """One row that breaks a rule: where it is, which rule, and why, in the API's words."""

    tenant: str
    table: str
    row_id: uuid.UUID
    label: str
    rule: str
    message: str


@dataclass(frozen=True, slots=True)
class Check:
    rule: str
    table: str
    query: Callable[[], FindingRows]


def _threat_residuals() -> FindingRows:
    message = func.concat(
        "residual probability ",
        Risk.residual_probability,
        " / impact ",
        Risk.residual_impact,
        " above the inherent ",
        Risk.inherent_probability,
        " / ",
        Risk.inherent_impact,
        ": a threat's response does not raise them",
    )
    return select(
        Risk.tenant_id, Risk.id, func.coalesce(Risk.reference, Risk.title), message
    ).where(
        Risk.kind == RiskKind.THREAT,
        or_(
            Risk.residual_probability > Risk.inherent_probability,
            Risk.residual_impact > Risk.inherent_impact,
        ),
    )


def _baselines_after_tranche_end() -> FindingRows:
    # A milestone's tranche is its own, else its project's.
    tranche = aliased(Tranche)
    project = aliased(Project)
    message = func.concat(
        "baseline ",
        Milestone.baseline_date,
        " after its tranche ",
        func.quote_ident(tranche.name),
        " ends (",
        tranche.end_date,
        ")",
    )
    return (
        select(Milestone.tenant_id, Milestone.id, Milestone.title, message)
        .outerjoin(
            project,
            and_(project.tenant_id == Milestone.tenant_id, project.id == Milestone.project_id),
        )
        .join(
            tranche,
            and_(
                tranche.tenant_id == Milestone.tenant_id,
                tranche.id == func.coalesce(Milestone.tranche_id, project.tranche_id),
            ),
        )
        .where(Milestone.baseline_date > tranche.end_date)
    )


def _baselines_after_programme_end() -> FindingRows:
    message = func.concat(
        "baseline ",
        Milestone.baseline_date,
        " after the programme's planned end (",
        Programme.end_date,
        ")",
    )
    return (
        select(Milestone.tenant_id, Milestone.id, Milestone.title, message)
        .join(
            Programme,
            and_(
                Programme.tenant_id == Milestone.tenant_id,
                Programme.id == Milestone.programme_id,
            ),
        )
        .where(Milestone.baseline_date > Programme.end_date)
    )


def _negative(model: type[Programme] | type[Project], table: str) -> Check:
    def query() -> FindingRows:
        message = func.concat(
            "budget ",
            model.budget,
            ", forecast cost ",
            model.forecast_cost,
            ": money is not negative",
        )
        return select(model.tenant_id, model.id, model.name, message).where(
            or_(model.budget < 0, model.forecast_cost < 0)
        )

    return Check("money-not-negative", table, query)


def _negative_realisation_cost() -> FindingRows:
    message = func.concat("realisation cost ", Benefit.realisation_cost, ": money is not negative")
    return select(Benefit.tenant_id, Benefit.id, Benefit.title, message).where(
        Benefit.realisation_cost < 0
    )


CHECKS: tuple[Check, ...] = (
    Check("threat-residual-above-inherent", "risks", _threat_residuals),
    Check("baseline-after-tranche-end", "milestones", _baselines_after_tranche_end),
    Check("baseline-after-programme-end", "milestones", _baselines_after_programme_end),
    _negative(Programme, "programmes"),
    _negative(Project, "projects"),
    Check("money-not-negative", "benefits", _negative_realisation_cost),
)


async def _tenants(database: Database, slugs: Sequence[str]) -> list[Tenant]:
    async with database.session() as control:
        query = select(Tenant).where(Tenant.state != TenantState.DELETED).order_by(Tenant.slug)
        if slugs:
            query = query.where(Tenant.slug.in_(slugs))
        tenants = list(await control.scalars(query))
    missing = sorted(set(slugs) - {t.slug for t in tenants})
    if missing:
        raise LookupError(f"no workspace {', '.join(missing)}")
    return tenants


def _batches(tenants: Iterable[Tenant]) -> Iterable[tuple[str, list[Tenant]]]:
    by_cell: dict[str, list[Tenant]] = {}
    for tenant in tenants:
        by_cell.setdefault(tenant.cell, []).append(tenant)
    for cell, members in by_cell.items():
        for start in range(0, len(members), BATCH):
            yield cell, members[start : start + BATCH]


async def find(database: Database, slugs: Sequence[str] = ()) -> list[Finding]:
    """Every stored row, in the named workspaces (all but deleted ones without), that breaks
    one of the :data:`CHECKS`; in workspace, rule and label order."""
    findings: list[Finding] = []
    for cell, batch in _batches(await _tenants(database, slugs)):
        slug_of = {t.id: t.slug for t in batch}
        scope = TenantScope.many(list(slug_of))
        async with database.transaction(cell, scope) as session:
            for check in CHECKS:
                for tenant_id, row_id, label, message in await session.execute(check.query()):
                    findings.append(
                        Finding(slug_of[tenant_id], check.table, row_id, label, check.rule, message)
                    )
    findings.sort(key=lambda f: (f.tenant, f.rule, f.label, str(f.row_id)))
    return findings


UNVALIDATED = text(
    "SELECT c.conrelid::regclass::text, c.conname FROM pg_constraint c"
    " JOIN pg_namespace n ON n.oid = c.connamespace"
    " WHERE n.nspname = 'workspace' AND NOT c.convalidated ORDER BY 1, 2"
)


def validate_constraints(connection: Connection) -> list[tuple[str, str]]:
    """Validate each ``NOT VALID`` constraint of the workspace schema, on a connection of the
    database's owner; the ``(table, constraint)`` pairs validated. A row still breaking one
    fails its statement (``IntegrityError``), and the ones before it stay validated."""
    done: list[tuple[str, str]] = []
    for table, name in connection.execute(UNVALIDATED).all():
        connection.execute(text(f'ALTER TABLE {table} VALIDATE CONSTRAINT "{name}"'))
        connection.commit()
        done.append((table, name))
    return done
