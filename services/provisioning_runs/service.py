"""Signups, offboarding requests and the bookkeeping of provisioning runs.

The HTTP side (signups, staff operations) and the workers in ``provisioning/`` both come here:
the rules about runs and steps — states, leases, progress, retries — live in one place. Work is
handed to the workers through the job queue (:mod:`services.jobs`), after the run is committed.
"""

from __future__ import annotations

import asyncio
import functools
import re
import secrets
import unicodedata
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

import msgspec
from sqlalchemy import ColumnElement, func, or_, select, text, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import selectinload

from services.config import Settings
from services.db.base import utcnow
from services.errors import Conflict, NotFound, ValidationFailed, field_error
from services.identity import service as identity
from services.provisioning_runs.models import (
    ACTIVE_RUN_STATES,
    ProvisioningRun,
    ProvisioningStep,
    RunKind,
    RunState,
    StepState,
)
from services.provisioning_runs.schemas import Progress, SignupCreate
from services.tenancy import service as tenancy
from services.tenancy.models import Tenant, TenantState

EARLIEST_START = date(2000, 1, 1)
LATEST_START = date(2100, 12, 31)
_DERIVED_SLUG_TRIES = 20


class RunBusy(Exception):
    """Another execution holds the run's lease (its worker may still be alive)."""


class LeaseLost(Exception):
    """This execution no longer holds the run: another worker took it over."""


# ------------------------------------------------------------------------------- pure rules


def derive_slug(name: str) -> str:
    """A slug from an organisation name: ``"Zoë & Co. Ltd"`` → ``"zoe-co-ltd"``."""
    ascii_name = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode()
    slug = re.sub(r"[^a-z0-9]+", "-", ascii_name.lower()).strip("-")[:50].strip("-")
    if len(slug) < 3:
        slug = f"{slug}-org".strip("-") if slug else "org"
        slug = slug if len(slug) >= 3 else f"{slug}-org"
    return slug


def slug_candidates(base: str) -> list[str]:
    """``base``, ``base-2`` … ``base-9``, then random suffixes (for a name many share)."""
    numbered = [base, *(f"{base}-{n}" for n in range(2, 10))]
    return numbered + [f"{base}-{secrets.token_hex(3)}" for _ in range(_DERIVED_SLUG_TRIES)]


def progress(steps: Sequence[ProvisioningStep]) -> Progress:
    """Steps done / total, for the signup page's progress bar (0/0 until a worker plans it)."""
    total = len(steps)
    done = sum(1 for s in steps if s.state is StepState.SUCCEEDED)
    return Progress(done=done, total=total, percent=(100 * done // total) if total else 0)


def retry_delay(attempt: int, base_seconds: float) -> float:
    """Exponential backoff: ``base``, ``2·base``, ``4·base`` … after attempts 1, 2, 3 …"""
    return float(base_seconds * (2 ** max(0, attempt - 1)))


# ------------------------------------------------------------------------------- template packs


@functools.cache
def _shipped_packs() -> dict[str, tuple[str, ...]]:
    # Imported here: reading the library is only needed to validate signups.
    from templates_library.loader import load_library

    packs: dict[str, tuple[str, ...]] = {}
    for pack in load_library():
        if pack.manifest is None or pack.problems:
            continue
        versions = tuple(v.file.stem for v in pack.versions if v.version and not v.problems)
        if versions:
            packs[pack.key] = versions  # semver order: the last is the latest
    return packs


async def pack_versions() -> dict[str, tuple[str, ...]]:
    """Template packs a signup may choose, with their versions (read once per process)."""
    return await asyncio.to_thread(_shipped_packs)


def resolve_pack(packs: dict[str, tuple[str, ...]], key: str, version: str | None) -> str:
    """The version to seed: the one asked for, or the latest."""
    versions = packs.get(key)
    if versions is None:
        raise ValidationFailed(
            f"There is no template pack {key!r}.",
            errors=[field_error("template_pack", f"unknown; one of {', '.join(sorted(packs))}")],
        )
    if version is None:
        return versions[-1]
    if version not in versions:
        raise ValidationFailed(
            f"Template pack {key!r} has no version {version}.",
            errors=[field_error("template_version", f"one of {', '.join(versions)}")],
        )
    return version


# ------------------------------------------------------------------------------- signups


@dataclass(frozen=True, slots=True)
class SignupPlan:
    """A checked signup, as the run records it (``request``)."""

    slug: str | None
    request: dict[str, Any]


async def check_signup(session: AsyncSession, settings: Settings, data: SignupCreate) -> SignupPlan:
    """Every rule a signup must pass before anything is made (all field errors at once)."""
    errors: list[dict[str, str]] = []
    try:
        email = identity.normalise_email(data.admin_email)
    except ValidationFailed:
        email = ""
        errors.append(field_error("admin_email", "not an email address"))
    if data.plan not in settings.plans:
        errors.append(field_error("plan", f"one of {', '.join(settings.plans)}"))
    if not EARLIEST_START <= data.start_date <= LATEST_START:
        errors.append(field_error("start_date", f"between {EARLIEST_START} and {LATEST_START}"))
    version = None
    try:
        version = resolve_pack(await pack_versions(), data.template_pack, data.template_version)
    except ValidationFailed as exc:
        errors.extend(exc.errors or [])
    if data.slug is not None:
        try:
            tenancy.check_slug(data.slug)
        except ValidationFailed as exc:
            errors.extend(exc.errors or [])
    try:
        await tenancy.check_placement(session, cell=data.cell, region=data.region)
    except ValidationFailed as exc:
        errors.extend(exc.errors or [])
    if errors:
        raise ValidationFailed(
            "The signup has invalid fields: " + ", ".join(e["field"] for e in errors) + ".",
            errors=errors,
        )
    request = {
        **msgspec.to_builtins(data),
        "admin_email": email,
        "template_version": version,
    }
    request.pop("slug", None)
    return SignupPlan(slug=data.slug, request=request)


async def _reserve(session: AsyncSession, slug: str, plan: SignupPlan) -> ProvisioningRun | None:
    """Insert the run, reserving ``slug``; None if a tenant or another signup has it."""
    if await tenancy.slug_taken(session, slug):
        return None
    run_id = await session.scalar(
        insert(ProvisioningRun)
        .values(
            id=uuid.uuid4(),
            kind=RunKind.PROVISION,
            state=RunState.QUEUED,
            tenant_id=uuid.uuid4(),
            slug=slug,
            request=plan.request,
        )
        # A literal predicate: PostgreSQL matches the partial unique index by its text.
        .on_conflict_do_nothing(index_elements=["slug"], index_where=text("kind = 'provision'"))
        .returning(ProvisioningRun.id)
    )
    return None if run_id is None else await session.get(ProvisioningRun, run_id)


async def start_signup(session: AsyncSession, plan: SignupPlan) -> ProvisioningRun:
    """Record the run of a checked signup. Two signups racing for one slug: the second waits for
    the first's transaction, then gets a 409. A derived slug takes the next free variant."""
    if plan.slug is not None:
        run = await _reserve(session, plan.slug, plan)
        if run is None:
            raise Conflict(
                f"The workspace slug {plan.slug!r} is taken; choose another.",
                errors=[field_error("slug", "taken")],
            )
        return run
    for candidate in slug_candidates(derive_slug(str(plan.request["organisation_name"]))):
        run = await _reserve(session, candidate, plan)
        if run is not None:
            return run
    raise Conflict(
        "Could not find a free workspace slug for this name; send one in `slug`.",
        errors=[field_error("slug", "send one")],
    )


# ------------------------------------------------------------------------------- offboarding


async def request_offboarding(
    session: AsyncSession, tenant: Tenant, requested_by: uuid.UUID
) -> ProvisioningRun:
    """Freeze the workspace (``offboarding``: nothing changes any more) and record the run."""
    if await active_run_of(session, tenant.id) is not None:
        raise Conflict(f"The workspace {tenant.slug!r} has a run in progress; try again later.")
    if tenant.state not in {TenantState.ACTIVE, TenantState.SUSPENDED, TenantState.FAILED}:
        raise Conflict(f"A {tenant.state} workspace cannot be offboarded.")
    await tenancy.change_state(session, tenant, TenantState.OFFBOARDING)
    run = ProvisioningRun(
        kind=RunKind.DEPROVISION,
        state=RunState.QUEUED,
        tenant_id=tenant.id,
        slug=tenant.slug,
        request={"requested_by": str(requested_by)},
        requested_by=requested_by,
        attempts=0,
    )
    session.add(run)
    try:
        async with session.begin_nested():
            await session.flush()
    except IntegrityError:
        raise Conflict(f"The workspace {tenant.slug!r} has a run in progress.") from None
    return run


# ------------------------------------------------------------------------------- reading runs


async def get_run(session: AsyncSession, run_id: uuid.UUID) -> ProvisioningRun:
    run = await session.scalar(
        select(ProvisioningRun)
        .where(ProvisioningRun.id == run_id)
        .options(selectinload(ProvisioningRun.steps))
        .execution_options(populate_existing=True)
    )
    if run is None:
        raise NotFound(f"No provisioning run {run_id}.")
    return run


async def active_run_of(session: AsyncSession, tenant_id: uuid.UUID) -> ProvisioningRun | None:
    return await session.scalar(
        select(ProvisioningRun).where(
            ProvisioningRun.tenant_id == tenant_id,
            ProvisioningRun.state.in_(ACTIVE_RUN_STATES),
        )
    )


async def list_runs(
    session: AsyncSession,
    *,
    state: RunState | None,
    kind: RunKind | None,
    limit: int,
    offset: int,
) -> tuple[list[ProvisioningRun], int]:
    conditions: list[ColumnElement[bool]] = []
    if state is not None:
        conditions.append(ProvisioningRun.state == state)
    if kind is not None:
        conditions.append(ProvisioningRun.kind == kind)
    total = await session.scalar(
        select(func.count()).select_from(ProvisioningRun).where(*conditions)
    )
    rows = await session.scalars(
        select(ProvisioningRun)
        .where(*conditions)
        .order_by(ProvisioningRun.created_at.desc(), ProvisioningRun.id.desc())
        .limit(limit)
        .offset(offset)
    )
    return list(rows), int(total or 0)


async def retry_run(session: AsyncSession, run_id: uuid.UUID) -> ProvisioningRun:
    """An operator's retry of a failed run: it resumes at its first unfinished step."""
    run = await get_run(session, run_id)
    if run.state is not RunState.FAILED:
        raise Conflict(f"Only failed runs can be retried; this one is {run.state}.")
    if await active_run_of(session, run.tenant_id) is not None:
        raise Conflict("Another run of this workspace is in progress.")
    tenant = await tenancy.get_by_id(session, run.tenant_id)
    if tenant is not None and tenant.state is TenantState.FAILED:
        await tenancy.change_state(session, tenant, TenantState.PROVISIONING)
    for step in run.steps:
        if step.state is not StepState.SUCCEEDED:
            step.state = StepState.PENDING
    run.state = RunState.QUEUED
    run.error = None
    run.finished_at = None
    run.lease_owner = None
    run.lease_expires_at = None
    run.attempts = 0
    await session.flush()
    return run


# ------------------------------------------------------------------------------- for workers


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
    """
    run = await session.scalar(
        select(ProvisioningRun)
        .where(ProvisioningRun.id == run_id)
        .options(selectinload(ProvisioningRun.steps))
        .with_for_update(of=ProvisioningRun)
    )
    if run is None or not run.state.is_active:
        return None
    now = utcnow()
    if run.lease_owner not in (None, owner) and run.lease_expires_at and run.lease_expires_at > now:
        raise RunBusy(f"run {run_id} is held by {run.lease_owner} until {run.lease_expires_at}")
    if not run.steps:
        if not plan_for.get(run.kind):
            raise RuntimeError(f"no steps are registered for {run.kind} runs")
        for position, name in enumerate(plan_for[run.kind]):
            run.steps.append(
                ProvisioningStep(name=name, position=position, state=StepState.PENDING, attempts=0)
            )
    run.lease_owner = owner
    run.lease_expires_at = now + timedelta(seconds=lease_seconds)
    run.state = RunState.RUNNING
    run.attempts = attempt
    run.started_at = run.started_at or now
    first = next((s for s in run.steps if s.state is not StepState.SUCCEEDED), None)
    if first is not None:
        # Counted before it runs: an attempt whose worker dies still counts.
        first.state, first.attempts, first.started_at, first.error = (
            StepState.RUNNING,
            first.attempts + 1,
            now,
            None,
        )
    await session.flush()
    return ClaimedRun(
        id=run.id,
        kind=run.kind,
        tenant_id=run.tenant_id,
        slug=run.slug,
        request=dict(run.request),
        steps={s.name: s.state for s in run.steps},
        results={s.name: dict(s.result or {}) for s in run.steps if s.state is StepState.SUCCEEDED},
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
    of the step commits — if another execution has taken the run meanwhile."""
    now = utcnow()
    if next_step is None:
        await finish_run(session, run_id, owner, RunState.SUCCEEDED)
    else:
        await renew_lease(session, run_id, owner, lease_seconds)
    await session.execute(
        _update_step(
            run_id, name, state=StepState.SUCCEEDED, result=result, finished_at=now, error=None
        )
    )
    if next_step is not None:
        await session.execute(
            _update_step(
                run_id,
                next_step,
                state=StepState.RUNNING,
                attempts=ProvisioningStep.attempts + 1,
                started_at=now,
                error=None,
            )
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
    otherwise it waits for its next attempt. The lease is released either way."""
    await finish_run(session, run_id, owner, RunState.FAILED if final else RunState.RETRYING, error)
    await session.execute(
        _update_step(
            run_id,
            name,
            state=StepState.FAILED if final else StepState.PENDING,
            error=error,
            finished_at=utcnow() if final else None,
        )
    )


async def finish_run(
    session: AsyncSession,
    run_id: uuid.UUID,
    owner: str,
    state: RunState,
    error: str | None = None,
) -> None:
    """Release the run in ``state``; raises :class:`LeaseLost` if this execution lost it."""
    final = state in {RunState.SUCCEEDED, RunState.FAILED}
    finished = await session.execute(
        update(ProvisioningRun)
        .where(ProvisioningRun.id == run_id, ProvisioningRun.lease_owner == owner)
        .values(
            state=state,
            error=error,
            lease_owner=None,
            lease_expires_at=None,
            finished_at=utcnow() if final else None,
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


async def stranded_runs(session: AsyncSession, quiet_for: timedelta) -> list[ProvisioningRun]:
    """Active runs nobody holds that have not moved for ``quiet_for`` (their job may be lost)."""
    now = utcnow()
    rows = await session.scalars(
        select(ProvisioningRun)
        .where(
            ProvisioningRun.state.in_(ACTIVE_RUN_STATES),
            ProvisioningRun.updated_at < now - quiet_for,
            or_(ProvisioningRun.lease_expires_at.is_(None), ProvisioningRun.lease_expires_at < now),
        )
        .order_by(ProvisioningRun.updated_at)
        .limit(100)
    )
    return list(rows)
