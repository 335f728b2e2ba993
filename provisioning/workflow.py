"""The workflow engine: runs of recorded, idempotent steps that survive their workers.

A workflow is an ordered list of steps, registered with ``@PROVISION.step`` (adding
``create_billing`` later is one decorated function, optionally ``before="seed_workspace"``).
Executing a run:

1. *claim* it: take its lease (a silent worker's lease lapses), plan its steps once and count
   an attempt of the first unfinished step;
2. for each step not yet succeeded: run it in a control transaction and commit its record —
   what it made — in that same transaction, fenced by the lease, together with the start (the
   attempt count) of the next step; after the last step the run finishes in it too.
   Control-plane effects commit with their record or not at all; outside effects (S3, a cell's
   database) use stable keys derived from (run, step), so a retry finds what an interrupted
   attempt made instead of making it twice;
3. on failure: permanent errors fail the run (and a provisioning tenant) at once; transient ones
   are retried by the queue with exponential backoff until the last attempt.

A renewal task keeps the lease while the run executes; a worker that dies stops renewing, the
queue re-queues its job (procrastinate's worker heartbeats, see ``provisioning.worker``), and the
next execution resumes at the first unfinished step.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
import uuid
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy.exc
import structlog
from sqlalchemy.ext.asyncio import AsyncSession

from provisioning.faults import Fault, PermanentStepError, TransientStepError
from services.config import Settings
from services.db.engine import Database
from services.errors import ProblemError
from services.provisioning_runs import execution
from services.provisioning_runs.execution import ClaimedRun, LeaseLost, RunBusy
from services.provisioning_runs.models import RunKind, RunState
from services.storage.service import Storage, StorageError
from services.tenancy import service as tenancy
from services.tenancy.models import Tenant

log = structlog.get_logger("pmo.provisioning")

StepAction = Callable[["StepContext"], Awaitable[dict[str, Any]]]
_MAX_ERROR_LENGTH = 500


class RetryableRunError(Exception):
    """The run stopped on a transient failure; the queue should run it again later."""

    def __init__(self, message: str, retry_in: float | None = None) -> None:
        super().__init__(message)
        self.retry_in = retry_in


class FailedRunError(Exception):
    """The run failed for good (until an operator retries it)."""


@dataclass(frozen=True, slots=True)
class Step:
    name: str
    action: StepAction


class Workflow:
    """The ordered steps of one kind of run."""

    def __init__(self, kind: RunKind) -> None:
        self.kind = kind
        self._steps: list[Step] = []

    def step(self, action: StepAction | None = None, *, before: str | None = None) -> Any:
        """Register ``action`` (named after the function) as the next step, or ``before`` one."""

        def register(fn: StepAction) -> StepAction:
            name = fn.__name__
            if any(s.name == name for s in self._steps):
                raise ValueError(f"{self.kind} already has a step {name!r}")
            position = len(self._steps)
            if before is not None:
                position = next(i for i, s in enumerate(self._steps) if s.name == before)
            self._steps.insert(position, Step(name, fn))
            return fn

        return register(action) if action is not None else register

    @property
    def names(self) -> list[str]:
        return [s.name for s in self._steps]

    def get(self, name: str) -> Step | None:
        return next((s for s in self._steps if s.name == name), None)


PROVISION = Workflow(RunKind.PROVISION)
DEPROVISION = Workflow(RunKind.DEPROVISION)
WORKFLOWS = {w.kind: w for w in (PROVISION, DEPROVISION)}


@dataclass
class Platform:
    """What steps work with: settings, every cell's database, storage, an injected fault."""

    settings: Settings
    database: Database
    storage: Storage
    fault: Fault | None = None

    @classmethod
    def build(cls, settings: Settings, database: Database | None = None) -> Platform:
        return cls(
            settings=settings,
            database=database or Database(settings),
            storage=Storage(settings),
            fault=Fault.parse(settings.provisioning_fault),
        )


@dataclass
class StepContext:
    """One attempt of one step. ``control`` is the transaction its record will commit in."""

    platform: Platform
    run: ClaimedRun
    step: str
    control: AsyncSession
    results: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)

    @property
    def idempotency_key(self) -> str:
        """The key of every outside call this step makes: the same on every attempt."""
        return f"{self.run.id}:{self.step}"

    def stable_id(self, what: str) -> uuid.UUID:
        """An id for something this step makes, the same on every attempt."""
        return uuid.uuid5(self.run.id, f"{self.step}:{what}")

    async def tenant(self) -> Tenant:
        tenant = await tenancy.get_by_id(self.control, self.run.tenant_id)
        if tenant is None:
            raise PermanentStepError(f"the tenant {self.run.tenant_id} does not exist")
        return tenant


def is_transient(exc: BaseException) -> bool:
    """Whether trying again later may succeed. Unknown errors are bugs: fail now, readably."""
    if isinstance(exc, PermanentStepError | ProblemError):
        return False
    if isinstance(exc, StorageError):
        return exc.transient
    return isinstance(
        exc,
        TransientStepError
        | RunBusy
        | sqlalchemy.exc.DBAPIError
        | sqlalchemy.exc.TimeoutError
        | OSError
        | TimeoutError,
    )


def readable(step: str, exc: BaseException) -> str:
    """One line for operators: the step, and what went wrong in our words."""
    if isinstance(exc, ProblemError):
        detail = exc.detail
    elif isinstance(exc, sqlalchemy.exc.DBAPIError):
        detail = f"database error: {str(exc.orig).splitlines()[0] if exc.orig else exc}"
    elif isinstance(exc, PermanentStepError | TransientStepError | StorageError):
        detail = str(exc)
    else:
        detail = f"{type(exc).__name__}: {exc}"
    return f"{step}: {detail}"[:_MAX_ERROR_LENGTH]


class _StepFailure(Exception):
    def __init__(self, step: str, cause: BaseException) -> None:
        super().__init__(readable(step, cause))
        self.step = step
        self.transient = is_transient(cause)


def load_steps() -> None:
    """Register the shipped steps (their modules register themselves on import)."""
    import provisioning.offboarding
    import provisioning.steps  # noqa: F401


def _execution_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


async def execute(
    platform: Platform, run_id: uuid.UUID, *, attempt: int, max_attempts: int
) -> None:
    """Execute (or resume) one run. Raises :class:`RetryableRunError` to be run again later and
    :class:`FailedRunError` when the run has failed for good."""
    load_steps()
    settings, database = platform.settings, platform.database
    owner = _execution_id()
    lease = settings.run_lease_seconds
    bound = structlog.get_logger("pmo.provisioning").bind(run_id=str(run_id), attempt=attempt)
    try:
        async with database.transaction() as session:
            claimed = await execution.claim(
                session,
                run_id,
                owner=owner,
                lease_seconds=lease,
                attempt=attempt,
                plan_for={kind: w.names for kind, w in WORKFLOWS.items()},
            )
    except RunBusy as busy:
        bound.info("provisioning.run.busy", detail=str(busy))
        raise RetryableRunError(str(busy), retry_in=lease) from None
    except Exception as exc:
        if not is_transient(exc):
            raise
        raise RetryableRunError(readable("claim", exc)) from exc
    if claimed is None:
        bound.info("provisioning.run.nothing_to_do")
        return
    bound = bound.bind(kind=claimed.kind.value, slug=claimed.slug)
    todo = claimed.unfinished
    if not todo:  # every step is recorded; only the run's own end is missing
        async with database.transaction() as session:
            await execution.finish_run(session, run_id, owner, RunState.SUCCEEDED)
        return
    keeper = asyncio.create_task(_keep_lease(database, run_id, owner, lease))
    results: dict[str, dict[str, Any]] = dict(claimed.results)
    try:
        for index, name in enumerate(todo):
            following = todo[index + 1] if index + 1 < len(todo) else None
            results[name] = await _run_step(platform, claimed, name, owner, results, following)
            bound.info("provisioning.step.succeeded", step=name)
        bound.info("provisioning.run.succeeded")
    except LeaseLost:
        # Another execution holds the run now; it carries on from the records.
        bound.warning("provisioning.run.lease_lost")
    except _StepFailure as failure:
        final = not failure.transient or attempt >= max_attempts
        try:
            async with database.transaction() as session:
                await execution.fail_step(
                    session, run_id, failure.step, error=str(failure), owner=owner, final=final
                )
        except LeaseLost:
            bound.warning("provisioning.run.lease_lost", step=failure.step)
            return
        if final:
            bound.error("provisioning.run.failed", step=failure.step, error=str(failure))
            raise FailedRunError(str(failure)) from None
        bound.warning("provisioning.run.retrying", step=failure.step, error=str(failure))
        raise RetryableRunError(str(failure)) from None
    finally:
        keeper.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await keeper


async def _run_step(
    platform: Platform,
    run: ClaimedRun,
    name: str,
    owner: str,
    results: Mapping[str, Mapping[str, Any]],
    following: str | None,
) -> dict[str, Any]:
    """One attempt (already counted) of step ``name``; its record also starts ``following``."""
    database, lease = platform.database, platform.settings.run_lease_seconds
    step = WORKFLOWS[run.kind].get(name)
    try:
        if step is None:
            raise PermanentStepError(f"no step {name!r} in this version of the workers")
        if run.kind is RunKind.PROVISION and run.tenant_state and run.tenant_state.is_leaving:
            # Whatever queued the run, a provisioning step would put back what offboarding
            # removed (members, the seeded workspace): the run fails before it writes anything.
            raise PermanentStepError(
                f"the workspace is {run.tenant_state.value}; provisioning does not write to it"
            )
        if platform.fault is not None:
            platform.fault.hit(name, "before")
        async with database.transaction() as control:
            context = StepContext(platform, run, name, control, results)
            result = await step.action(context)
            if platform.fault is not None:
                platform.fault.hit(name, "after")
            # The record commits with the step's control-plane work, while we hold the run.
            await execution.record_step(
                control,
                run.id,
                owner=owner,
                lease_seconds=lease,
                name=name,
                result=result,
                next_step=following,
            )
    except LeaseLost:
        raise
    except Exception as exc:
        raise _StepFailure(name, exc) from exc
    return result


async def _keep_lease(database: Database, run_id: uuid.UUID, owner: str, lease: float) -> None:
    while True:
        await asyncio.sleep(lease / 3)
        try:
            async with database.transaction() as session:
                await execution.renew_lease(session, run_id, owner, lease)
        except LeaseLost:
            return
        except Exception as exc:  # the next step's fencing will notice for real
            log.warning("provisioning.lease.renewal_failed", run_id=str(run_id), error=str(exc))
