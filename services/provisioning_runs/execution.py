"""What workers record while they execute a run: its lease, its steps, its end.

The engine in ``provisioning/workflow.py`` calls these; the rules about runs stay in this domain.
A step's record and the next step's start commit together, fenced by the lease, so a worker that
lost its run (it was silent too long and another took over) can record nothing.
"""

from __future__ import annotations

import functools
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, cast

from sqlalchemy import (
    Table,
    Text,
    bindparam,
    column,
    func,
    insert,
    literal,
    or_,
    select,
    table,
    update,
)
from sqlalchemy.dialects.postgresql import aggregate_order_by
from sqlalchemy.ext.asyncio import AsyncSession

from services.db.base import utcnow
from services.jobs import QUEUE_SCHEMA, RUN_QUEUEING_LOCK_PREFIX
from services.provisioning_runs.models import (
    ACTIVE_RUN_STATES,
    ProvisioningRun,
    ProvisioningStep,
    RunKind,
    RunState,
    StepState,
)
from services.tenancy import service as tenancy
from services.tenancy.models import Tenant, TenantState


class RunBusy(Exception):
    """Another execution holds the run's lease (its worker may still be alive)."""


class LeaseLost(Exception):
    """This execution no longer holds the run: another worker took it over."""


@dataclass(frozen=True, slots=True)
class ClaimedRun:
    """What a worker needs to execute a run it now holds."""

    id: uuid.UUID
    kind: RunKind
    tenant_id: uuid.UUID
    slug: str
    request: dict[str, Any]
    steps: dict[str, StepState]  # planned steps, in order
    results: dict[str, dict[str, Any]]  # what finished steps made
    # When claimed (None: not made yet). It holds while the run executes: a tenant has one
    # active run at a time, so offboarding cannot begin meanwhile.
    tenant_state: TenantState | None = None

    @property
    def unfinished(self) -> list[str]:
        return [name for name, state in self.steps.items() if state is not StepState.SUCCEEDED]


async def claim(
    session: AsyncSession,
    run_id: uuid.UUID,
    *,
    owner: str,
    lease_seconds: float,
    attempt: int,
    plan_for: Mapping[RunKind, Sequence[str]],
) -> ClaimedRun | None:
    """Take the run's lease, plan its steps (once) and start its first unfinished step.

    None: the run is over (or unknown). Raises :class:`RunBusy` while another execution's lease
    has not lapsed.

    Three statements at most, core ones (this runs for every execution of every run): the run
    and its steps (and its tenant's state), locked; the run taken; its steps planned, or its
    first unfinished one started.
    """
    runs, steps = _tables()
    found = (await session.execute(_claiming(), {"run_id": run_id})).one_or_none()
    if found is None or not found.state.is_active:
        return None
    now = utcnow()
    held_until = found.lease_expires_at
    if found.lease_owner not in (None, owner) and held_until is not None and held_until > now:
        raise RunBusy(f"run {run_id} is held by {found.lease_owner} until {held_until}")
    kind = found.kind
    planned = [(name, StepState(state), result) for name, state, result in found.steps or []]
    if not planned and not plan_for.get(kind):
        raise RuntimeError(f"no steps are registered for {kind} runs")
    await session.execute(
        update(runs)
        .where(runs.c.id == run_id)
        .values(
            lease_owner=owner,
            lease_expires_at=now + timedelta(seconds=lease_seconds),
            state=RunState.RUNNING,
            # Every execution of the run, over an operator's retries too (its job's own count,
            # ``attempt``, starts again at 1 with each retry and decides when to give up).
            attempts=runs.c.attempts + 1,
            started_at=func.coalesce(runs.c.started_at, now),
            updated_at=now,
        )
    )
    # Counted before it runs: an attempt whose worker dies still counts.
    first = next((name for name, state, _ in planned if state is not StepState.SUCCEEDED), None)
    if not planned:
        planned = [(name, StepState.PENDING, None) for name in plan_for[kind]]
        first = planned[0][0]
        await session.execute(
            insert(steps),
            [
                {
                    "run_id": run_id,
                    "position": position,
                    "name": name,
                    "state": StepState.RUNNING if name == first else StepState.PENDING,
                    "attempts": 1 if name == first else 0,
                    "started_at": now if name == first else None,
                }
                for position, (name, _, _) in enumerate(planned)
            ],
        )
    elif first is not None:
        await session.execute(
            _update_step(
                run_id,
                first,
                state=StepState.RUNNING,
                attempts=steps.c.attempts + 1,
                started_at=now,
                error=None,
            )
        )
    return ClaimedRun(
        id=run_id,
        kind=kind,
        tenant_id=found.tenant_id,
        slug=found.slug,
        request=dict(found.request),
        steps={name: StepState.RUNNING if name == first else state for name, state, _ in planned},
        results={
            name: dict(result or {})
            for name, state, result in planned
            if state is StepState.SUCCEEDED
        },
        tenant_state=None if found.tenant_state is None else TenantState(found.tenant_state),
    )


def _tables() -> tuple[Table, Table]:
    return cast(Table, ProvisioningRun.__table__), cast(Table, ProvisioningStep.__table__)


@functools.cache
def _claiming() -> Any:
    """The run, locked, with its steps as ``[[name, state, result], …]`` in order (or null)
    and its tenant's state (null before the tenant is made)."""
    runs, steps = _tables()
    run, step = runs.c, steps.c
    tenant_state = select(Tenant.state).where(Tenant.id == run.tenant_id).scalar_subquery()
    planned = (
        select(
            func.json_agg(
                aggregate_order_by(
                    func.json_build_array(step.name, step.state, step.result), step.position
                )
            )
        )
        .where(step.run_id == run.id)
        .scalar_subquery()
    )
    return (
        select(
            run.kind,
            run.state,
            run.tenant_id,
            run.slug,
            run.request,
            run.lease_owner,
            run.lease_expires_at,
            planned.label("steps"),
            tenant_state.label("tenant_state"),
        )
        .where(run.id == bindparam("run_id"))
        .with_for_update(of=runs)
    )


async def renew_lease(
    session: AsyncSession, run_id: uuid.UUID, owner: str, lease_seconds: float
) -> None:
    """Extend the lease; raises :class:`LeaseLost` if another execution has taken the run."""
    renewed = await session.execute(
        update(ProvisioningRun)
        .where(ProvisioningRun.id == run_id, ProvisioningRun.lease_owner == owner)
        .values(lease_expires_at=utcnow() + timedelta(seconds=lease_seconds))
        .execution_options(synchronize_session=False)
    )
    if not getattr(renewed, "rowcount", 0):
        raise LeaseLost(f"run {run_id} is no longer held by {owner}")


def _update_step(run_id: uuid.UUID, name: str, **values: Any) -> Any:
    return (
        update(ProvisioningStep)
        .where(ProvisioningStep.run_id == run_id, ProvisioningStep.name == name)
        .values(**values)
        .execution_options(synchronize_session=False)
    )


async def record_step(
    session: AsyncSession,
    run_id: uuid.UUID,
    *,
    owner: str,
    lease_seconds: float,
    name: str,
    result: dict[str, Any],
    next_step: str | None,
) -> None:
    """In the step's own transaction: record what it made, start ``next_step`` (or, after the
    last one, finish the run). Fenced by the lease: raises :class:`LeaseLost` — and so nothing
    of the step commits — if another execution has taken the run meanwhile.

    One statement (see :func:`_recording`), built once: this runs after every step.
    """
    now = utcnow()
    recorded = await session.scalar(
        _recording(finishing=next_step is None),
        {
            "fence_run": run_id,
            "fence_owner": owner,
            "recorded_at": now,
            "lease_until": now + timedelta(seconds=lease_seconds),
            "done_step": name,
            "done_result": result,
            "started_step": next_step,
        },
    )
    if not recorded:
        raise LeaseLost(f"run {run_id} is no longer held by {owner}")


@functools.cache
def _recording(*, finishing: bool) -> Any:
    """``WITH fence AS (UPDATE runs … WHERE lease_owner = :owner RETURNING id), UPDATE steps …
    FROM fence … SELECT count(*) FROM fence``: the run's row is renewed (or, ``finishing``,
    released as succeeded) only while this execution holds it, and the steps are written only
    through that row, so a lapsed execution writes nothing and learns it from the count.

    Core tables and parameter names that are no column's: in an ``UPDATE``, SQLAlchemy takes
    an execution parameter named like a column of the table as a value to ``SET``."""
    runs, steps = _tables()
    run, step = runs.c, steps.c
    now = bindparam("recorded_at", type_=run.updated_at.type)
    # ``updated_at`` is given: an ``onupdate`` default is not applied inside a CTE.
    held: dict[str, Any] = {"updated_at": now}
    if finishing:
        held |= {
            "state": RunState.SUCCEEDED,
            "error": None,
            "lease_owner": None,
            "lease_expires_at": None,
            "finished_at": now,
        }
    else:
        held["lease_expires_at"] = bindparam("lease_until", type_=run.lease_expires_at.type)
    fence = (
        update(runs)
        .where(run.id == bindparam("fence_run"), run.lease_owner == bindparam("fence_owner"))
        .values(**held)
        .returning(run.id)
        .cte("fence")
    )

    def write(parameter: str) -> Any:
        """The step named by ``parameter``, reached only through the fenced run."""
        return update(steps).where(step.run_id == fence.c.id, step.name == bindparam(parameter))

    writes = [
        write("done_step").values(
            state=StepState.SUCCEEDED,
            result=bindparam("done_result", type_=step.result.type),
            finished_at=now,
            error=None,
        )
    ]
    if not finishing:
        writes.append(
            write("started_step").values(
                state=StepState.RUNNING, attempts=step.attempts + 1, started_at=now, error=None
            )
        )
    return (
        select(func.count())
        .select_from(fence)
        .add_cte(*(write.cte(f"step_{i}") for i, write in enumerate(writes)))
    )


async def fail_step(
    session: AsyncSession,
    run_id: uuid.UUID,
    name: str,
    *,
    error: str,
    owner: str,
    final: bool,
) -> None:
    """Record a step's failure. ``final``: the run is failed (and a provisioning tenant too);
    otherwise it waits for its next attempt. The lease is released either way. A failed run
    finishes at the moment its step does."""
    now = utcnow()
    state = RunState.FAILED if final else RunState.RETRYING
    await finish_run(session, run_id, owner, state, error, at=now)
    await session.execute(
        _update_step(
            run_id,
            name,
            state=StepState.FAILED if final else StepState.PENDING,
            error=error,
            finished_at=now if final else None,
        )
    )


async def finish_run(
    session: AsyncSession,
    run_id: uuid.UUID,
    owner: str,
    state: RunState,
    error: str | None = None,
    *,
    at: datetime | None = None,
) -> None:
    """Release the run in ``state`` (finished ``at``, default now, if that is final); raises
    :class:`LeaseLost` if this execution lost it."""
    final = state in {RunState.SUCCEEDED, RunState.FAILED}
    finished = await session.execute(
        update(ProvisioningRun)
        .where(ProvisioningRun.id == run_id, ProvisioningRun.lease_owner == owner)
        .values(
            state=state,
            error=error,
            lease_owner=None,
            lease_expires_at=None,
            finished_at=(at or utcnow()) if final else None,
        )
        .returning(ProvisioningRun.kind, ProvisioningRun.tenant_id)
        .execution_options(synchronize_session=False)
    )
    row = finished.first()
    if row is None:
        raise LeaseLost(f"run {run_id} is no longer held by {owner}")
    kind, tenant_id = row
    if state is RunState.FAILED and kind is RunKind.PROVISION:
        tenant = await tenancy.get_by_id(session, tenant_id)
        if tenant is not None and tenant.state is TenantState.PROVISIONING:
            await tenancy.change_state(session, tenant, TenantState.FAILED)


# procrastinate's jobs, read to tell a run whose job is lost from one whose job is waiting.
_JOBS = table("procrastinate_jobs", column("queueing_lock"), column("status"), schema=QUEUE_SCHEMA)


async def stranded_runs(session: AsyncSession, quiet_for: timedelta) -> list[ProvisioningRun]:
    """Active runs nobody holds that have not moved for ``quiet_for`` and have no job waiting
    or running: their job is lost.

    A run whose job waits (workers busy, or one still warming up) or has just been taken, not
    yet claimed, is not stranded: a second job for it would be deferred beside the first, and
    when the first then asked to be retried, procrastinate's one-waiting-job-per-run lock would
    refuse it and leave that job running forever, holding the tenant's lock against the
    second. (A job whose worker died is put back to wait by the sweep first.)"""
    now = utcnow()
    queueing_lock = literal(RUN_QUEUEING_LOCK_PREFIX) + ProvisioningRun.id.cast(Text)
    has_job = (
        select(literal(1))
        .select_from(_JOBS)
        .where(
            _JOBS.c.queueing_lock == queueing_lock, _JOBS.c.status.cast(Text).in_(["todo", "doing"])
        )
        .exists()
    )
    rows = await session.scalars(
        select(ProvisioningRun)
        .where(
            ProvisioningRun.state.in_(ACTIVE_RUN_STATES),
            ProvisioningRun.updated_at < now - quiet_for,
            or_(ProvisioningRun.lease_expires_at.is_(None), ProvisioningRun.lease_expires_at < now),
            ~has_job,
        )
        .order_by(ProvisioningRun.updated_at)
        .limit(100)
    )
    return list(rows)
