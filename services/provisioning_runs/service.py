"""Signups, offboarding requests, and runs as callers and operators see them.

A signup or an offboarding request is recorded as a run; the caller hands it to the workers
through the job queue (:mod:`services.jobs`) after the run is committed. What workers record
while executing runs is in :mod:`services.provisioning_runs.execution`.
"""

from __future__ import annotations

import re
import secrets
import unicodedata
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

import msgspec
from sqlalchemy import ColumnElement, func, select, text, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import selectinload

from services import idempotency
from services.catalogue import service as catalogue
from services.config import Settings
from services.db.base import utcnow
from services.errors import (
    Conflict,
    IdempotencyKeyReused,
    NotFound,
    ValidationFailed,
    field_error,
)
from services.identity import service as identity
from services.provisioning_runs import export_retention
from services.provisioning_runs.models import (
    ACTIVE_RUN_STATES,
    CANCELLED,
    ProvisioningRun,
    ProvisioningStep,
    RunKind,
    RunState,
    StepState,
)
from services.provisioning_runs.schemas import RUNS_PATH, ExportRead, Progress, SignupCreate
from services.storage.service import Storage
from services.tenancy import service as tenancy
from services.tenancy.models import Tenant, TenantState
from services.workspace.templates import service as templates

EARLIEST_START = date(2000, 1, 1)
LATEST_START = date(2100, 12, 31)
_DERIVED_SLUG_TRIES = 20


INVITATION_NONCE = "invitation_nonce"
"""The key of a signup's request holding the random part of its admin's invitation token
(``provisioning.steps.invitation_secret``), never shown by the API: with it the token cannot be
worked out from the run id — which the public status URL carries, and a replayed signup hands
back to anyone — even where the platform's key is the published development default."""


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


def resolve_pack(packs: Mapping[str, Sequence[str]], key: str, version: str | None) -> str:
    """The version to seed: the one asked for, or the latest published release."""
    versions = packs.get(key)
    if versions is None:
        raise ValidationFailed(
            f"There is no template pack {key!r}.",
            errors=[field_error("template_pack", f"unknown; one of {', '.join(sorted(packs))}")],
        )
    if version is None:
        return catalogue.latest_name(versions)
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
        email = identity.normalise_email(data.admin_email, "admin_email")
    except ValidationFailed as exc:
        email = ""
        errors.extend(exc.errors or [])
    if data.plan not in settings.plans:
        errors.append(field_error("plan", f"one of {', '.join(settings.plans)}"))
    if not EARLIEST_START <= data.start_date <= LATEST_START:
        errors.append(field_error("start_date", f"between {EARLIEST_START} and {LATEST_START}"))
    version = None
    try:
        packs = await catalogue.published_versions(session)
        version = resolve_pack(packs, data.template_pack, data.template_version)
    except ValidationFailed as exc:
        errors.extend(exc.errors or [])
    if version is not None:
        errors.extend(await _seeding_errors(session, data, version))
    taken_at: int | None = None  # where "slug: taken" goes among the errors, if it is
    if data.slug is not None:
        try:
            tenancy.check_slug(data.slug)
        except ValidationFailed as exc:
            errors.extend(exc.errors or [])
        else:
            taken_at = len(errors) if await _slug_in_use(session, data.slug) else None
    try:
        await tenancy.check_placement(session, cell=data.cell, region=data.region)
    except ValidationFailed as exc:
        errors.extend(exc.errors or [])
    if errors and taken_at is not None:
        # One answer names every problem. A signup whose only problem is its slug goes on to
        # the reservation, which answers 409 (and lets a replayed signup find its first answer).
        errors.insert(taken_at, field_error("slug", "taken"))
    if errors:
        raise ValidationFailed(
            "The signup has invalid fields: " + ", ".join(e["field"] for e in errors) + ".",
            errors=errors,
        )
    request = {
        **msgspec.to_builtins(data),
        "admin_email": email,
        "template_version": version,
        INVITATION_NONCE: secrets.token_urlsafe(24),
    }
    request.pop("slug", None)
    return SignupPlan(slug=data.slug, request=request)


async def _seeding_errors(
    session: AsyncSession, data: SignupCreate, version: str
) -> list[dict[str, str]]:
    """What seeding the pack with the signup's parameters would fail on (the template
    library's check, the one pack validation runs: a parameter refused, a text too long)."""
    problems = await templates.signup_checker()(
        session, data.template_pack, version, data.programme_name, data.start_date
    )
    return [field_error(name, message) for name, message in problems]


async def _slug_in_use(session: AsyncSession, slug: str) -> bool:
    """Whether a workspace, or a signup's run reserving it, has ``slug``."""
    if await tenancy.slug_taken(session, slug):
        return True
    reserved = select(ProvisioningRun.id).where(
        ProvisioningRun.kind == RunKind.PROVISION, ProvisioningRun.slug == slug
    )
    return await session.scalar(reserved.limit(1)) is not None


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


SIGNUP_LEDGER = "signups"
"""The control ledger of signups' ``Idempotency-Key``s (the signup rate limit reads it too:
a replay is answered over the limit)."""


def signup_ledger() -> idempotency.Ledger:
    return idempotency.control_ledger(SIGNUP_LEDGER)


async def signup_replay(
    session: AsyncSession, key: str, request_fingerprint: str
) -> idempotency.Outcome | None:
    """The first answer to a signup retried with its ``Idempotency-Key``, looked up before the
    signup is checked: a replay makes nothing, so it is answered whatever has changed since
    (the slug now taken by its own run, a plan withdrawn) and whatever the rate limit says.
    None if the key has no answer yet; the key used for another request is refused (422)
    before anything about this one is said."""
    record = await _answered(session, signup_ledger(), key)
    if record is None:
        return None
    if record.fingerprint != request_fingerprint:
        raise IdempotencyKeyReused(
            "This Idempotency-Key was used for a different request; use a new key."
        )
    return idempotency.Outcome(record.status_code, record.response_body, replayed=True)


# ------------------------------------------------------------------------------- offboarding


_OFFBOARDABLE = frozenset({TenantState.ACTIVE, TenantState.SUSPENDED, TenantState.FAILED})


def _busy(slug: str, active: ProvisioningRun) -> Conflict:
    """Why a workspace with ``active`` in progress cannot be offboarded now."""
    if active.kind is RunKind.DEPROVISION:
        return Conflict(f"The workspace {slug!r} is already being offboarded (run {active.id}).")
    return Conflict(
        f"The workspace {slug!r} has a {active.kind} run in progress ({active.id}); it can be "
        "offboarded once that run has finished."
    )


async def request_offboarding(
    session: AsyncSession, tenant: Tenant, requested_by: uuid.UUID
) -> ProvisioningRun:
    """Freeze the workspace (``offboarding``: nothing changes any more) and record the run."""
    active = await active_run_of(session, tenant.id)
    if active is not None:
        raise _busy(tenant.slug, active)
    if tenant.state is TenantState.OFFBOARDING:
        # No run in progress: its offboarding run failed, and is waiting for a retry.
        failed = await latest_run_of(session, tenant.id, RunKind.DEPROVISION)
        retry = (
            f" (run {failed.id} failed; a platform admin can retry it: POST {RUNS_PATH}/"
            f"{failed.id}/retry, or cancel it before anything is removed: POST {RUNS_PATH}/"
            f"{failed.id}/cancel)"
            if failed is not None and failed.state is RunState.FAILED
            else ""
        )
        raise Conflict(f"The workspace {tenant.slug!r} is already being offboarded{retry}.")
    if tenant.state not in _OFFBOARDABLE:
        raise Conflict(
            f"The workspace {tenant.slug!r} is {tenant.state}; only an active, suspended or "
            "failed workspace can be offboarded."
        )
    before = tenant.state
    await tenancy.change_state(session, tenant, TenantState.OFFBOARDING)
    run = ProvisioningRun(
        kind=RunKind.DEPROVISION,
        state=RunState.QUEUED,
        tenant_id=tenant.id,
        slug=tenant.slug,
        # What the workspace was is what a cancelled offboarding gives back.
        request={"requested_by": str(requested_by), "tenant_state": before.value},
        requested_by=requested_by,
        attempts=0,
    )
    session.add(run)
    try:
        async with session.begin_nested():
            await session.flush()
    except IntegrityError:  # another run began meanwhile (the index waited for it): which
        active = await active_run_of(session, tenant.id)
        if active is None:
            raise
        raise _busy(tenant.slug, active) from None
    return run


def offboarding_ledger(tenant_id: uuid.UUID) -> idempotency.Ledger:
    """Where the ``Idempotency-Key`` of a workspace's offboarding requests are kept."""
    return idempotency.control_ledger(f"offboarding:{tenant_id}")


async def offboarding_replay(
    session: AsyncSession,
    tenant_id: uuid.UUID,
    key: str,
    request_fingerprint: str,
    *,
    revoked_at: datetime | None = None,
) -> idempotency.Outcome | None:
    """The first answer to a retried offboarding request, found before the checks that refuse
    the retry once the run has done its work (the workspace deleted, the requester's token
    revoked): None unless ``key`` answered this very request (the fingerprint names the user).
    A token revoked at ``revoked_at`` replays only an answer given while it was still good."""
    record = await _answered(session, offboarding_ledger(tenant_id), key)
    if record is None or record.fingerprint != request_fingerprint:
        return None
    if revoked_at is not None and revoked_at < record.created_at:
        return None
    return idempotency.Outcome(record.status_code, record.response_body, replayed=True)


async def restate_answer(
    session: AsyncSession, ledger: idempotency.Ledger, key: str, body: Any
) -> None:
    """Store ``body`` as the answer a retry with ``key`` replays: the first answer, completed
    once the work that follows the commit (deleting a cancelled run's export) is done."""
    record = idempotency.ControlIdempotencyRecord
    await session.execute(
        update(record)
        .where(record.scope == ledger.owner["scope"], record.key == key, record.status_code != 0)
        .values(response_body=body)
        .execution_options(synchronize_session=False)
    )


async def _answered(
    session: AsyncSession, ledger: idempotency.Ledger, key: str
) -> idempotency.ControlIdempotencyRecord | None:
    """The stored answer to ``key`` in a control ``ledger``; None if there is none (yet)."""
    record = await session.scalar(
        select(idempotency.ControlIdempotencyRecord).where(
            idempotency.ControlIdempotencyRecord.scope == ledger.owner["scope"],
            idempotency.ControlIdempotencyRecord.key == key,
        )
    )
    return None if record is None or record.status_code == 0 else record


# ------------------------------------------------------------------------------- reading runs


async def get_run(
    session: AsyncSession, run_id: uuid.UUID, *, for_update: bool = False
) -> ProvisioningRun:
    """The run with its steps; ``for_update`` locks it (an operator's change waits for another)."""
    query = (
        select(ProvisioningRun)
        .where(ProvisioningRun.id == run_id)
        .options(selectinload(ProvisioningRun.steps))
        .execution_options(populate_existing=True)
    )
    run = await session.scalar(query.with_for_update() if for_update else query)
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


async def latest_run_of(
    session: AsyncSession, tenant_id: uuid.UUID, kind: RunKind
) -> ProvisioningRun | None:
    return await session.scalar(
        select(ProvisioningRun)
        .where(ProvisioningRun.tenant_id == tenant_id, ProvisioningRun.kind == kind)
        .order_by(ProvisioningRun.created_at.desc())
        .limit(1)
    )


EXPORT_STEP = "export_workspace"
EXPORT_LINK_SECONDS = 3600


def export_links(storage: Storage, run: ProvisioningRun, retention: timedelta) -> ExportRead | None:
    """Links to the files of a succeeded offboarding's export, valid for an hour from now (or
    until the export is deleted, ``retention`` after the run finished, if sooner); None for any
    other run, and once the export is due for deletion or deleted. The run's id is what grants
    them, as it grants reading the run: the requester's tokens are revoked by the run itself,
    so this is how the export reaches them."""
    until = export_retention.retained_until(run, retention)
    export = next((s.result for s in run.steps if s.name == EXPORT_STEP), None)
    now = utcnow()
    if until is None or not export or run.export_deleted_at is not None or until <= now:
        return None
    expires_at = min(now + timedelta(seconds=EXPORT_LINK_SECONDS), until)
    seconds = max(1, int((expires_at - now).total_seconds()))
    location = str(export["location"])
    files = {
        str(name): storage.download_link(location + str(name), seconds) for name in export["files"]
    }
    return ExportRead(expires_at=expires_at, retained_until=until, files=files)


async def requesters(
    session: AsyncSession, rows: Sequence[ProvisioningRun]
) -> dict[uuid.UUID, str | None]:
    """Who asked for each offboarding run among ``rows``: user id → email (None: no such user)."""
    ids = {r.requested_by for r in rows if r.requested_by is not None}
    emails = await identity.emails_of(session, ids)
    return {user_id: emails.get(user_id) for user_id in ids}


# The runs list's order (its OpenAPI description is written from it).
RUN_ORDER = (ProvisioningRun.created_at.desc(), ProvisioningRun.id.desc())


async def list_runs(
    session: AsyncSession,
    *,
    state: RunState | None,
    kind: RunKind | None,
    limit: int,
    offset: int,
    slug: str | None = None,
) -> tuple[list[ProvisioningRun], int]:
    """Runs, newest first; ``slug`` gives one workspace's history (its signup, retries and
    offboarding)."""
    conditions: list[ColumnElement[bool]] = []
    if slug is not None:
        conditions.append(ProvisioningRun.slug == slug)
    if state is not None:
        conditions.append(ProvisioningRun.state == state)
    if kind is not None:
        conditions.append(ProvisioningRun.kind == kind)
    total = await session.scalar(
        select(func.count()).select_from(ProvisioningRun).where(*conditions)
    )
    rows = await session.scalars(
        select(ProvisioningRun).where(*conditions).order_by(*RUN_ORDER).limit(limit).offset(offset)
    )
    return list(rows), int(total or 0)


async def retry_run(session: AsyncSession, run_id: uuid.UUID) -> ProvisioningRun:
    """An operator's retry of a failed run (over HTTP and ``pmo provisioning retry``): it
    resumes at its first unfinished step. A provisioning run of a workspace that is offboarded,
    or being offboarded, is not retried: it would put back what offboarding removed."""
    run = await get_run(session, run_id, for_update=True)
    if run.cancelled_at is not None:
        raise Conflict(
            f"This offboarding run was cancelled at {run.cancelled_at:%Y-%m-%d %H:%M:%S} UTC and "
            f"the workspace {run.slug!r} reopened; to offboard it, ask again: POST "
            f"/api/v1/w/{run.slug}/offboarding."
        )
    if run.state is not RunState.FAILED:
        now = "has succeeded" if run.state is RunState.SUCCEEDED else f"is still {run.state}"
        raise Conflict(f"Only a failed run can be retried; this one {now}.")
    if await active_run_of(session, run.tenant_id) is not None:
        raise Conflict("Another run of this workspace is in progress.")
    tenant = await tenancy.get_by_id(session, run.tenant_id)
    if run.kind is RunKind.PROVISION and tenant is not None and tenant.state.is_leaving:
        offboarding = await latest_run_of(session, tenant.id, RunKind.DEPROVISION)
        how = "is deleted" if tenant.state is TenantState.DELETED else "is being offboarded"
        by = f" (offboarding run {offboarding.id})" if offboarding is not None else ""
        raise Conflict(
            f"The workspace {run.slug!r} {how}{by}: its provisioning run cannot be retried, "
            "it would put the workspace's data back."
        )
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
    # ``attempts`` goes on counting: a retried run has been tried that many times, as its steps.
    await session.flush()
    return run


# The offboarding steps that remove nothing: an export only adds files to the workspace's own
# storage. Once any other step has begun (tokens and memberships revoked, rows purged, the
# workspace deleted), the offboarding can only go forward.
_UNDONE_BY_CANCELLING = frozenset({EXPORT_STEP})


def irreversible_step_begun(steps: Sequence[ProvisioningStep]) -> str | None:
    """The first step of an offboarding run that has begun and cannot be undone, or None."""
    return next(
        (
            s.name
            for s in steps
            if s.name not in _UNDONE_BY_CANCELLING
            and (s.attempts > 0 or s.state is not StepState.PENDING)
        ),
        None,
    )


async def cancel_offboarding(
    session: AsyncSession, run_id: uuid.UUID, cancelled_by: uuid.UUID | None
) -> ProvisioningRun:
    """An operator abandons a failed offboarding run before anything irreversible began (over
    HTTP and ``pmo provisioning cancel``): the workspace is what it was before (``active``,
    or ``suspended``/``failed``) and open again; the run is ``cancelled`` (``cancelled_at``:
    when), and cannot be retried."""
    run = await get_run(session, run_id, for_update=True)
    if run.kind is not RunKind.DEPROVISION:
        raise Conflict(
            "Only an offboarding run can be cancelled; a signup's failed run is retried, or its "
            "workspace offboarded."
        )
    if run.cancelled_at is not None:
        raise Conflict(
            f"This offboarding run was cancelled already, at {run.cancelled_at:%Y-%m-%d %H:%M:%S}"
            " UTC."
        )
    if run.state is not RunState.FAILED:
        now = "has succeeded" if run.state is RunState.SUCCEEDED else f"is still {run.state}"
        raise Conflict(f"Only a failed offboarding run can be cancelled; this one {now}.")
    begun = irreversible_step_begun(run.steps)
    if begun is not None:
        raise Conflict(
            f"This offboarding cannot be cancelled: its step {begun} has begun, and what it does "
            "(revoking access, deleting the workspace's data) cannot be undone. Retry it to "
            f"finish the offboarding: POST {RUNS_PATH}/{run.id}/retry."
        )
    recorded = run.request.get("tenant_state")
    if recorded is None:
        # Asked for before runs kept it: reopening as `active` could reopen a suspended one.
        raise Conflict(
            "This offboarding was asked for before runs recorded the workspace's state, so "
            "cancelling cannot tell what to reopen it as. Retry it to finish the offboarding "
            f"(POST {RUNS_PATH}/{run.id}/retry), or set the workspace's state by hand."
        )
    tenant = await tenancy.require(session, run.tenant_id)
    before = TenantState(str(recorded))
    await tenancy.reopen_after_offboarding(session, tenant, before)
    by = None if cancelled_by is None else str(cancelled_by)
    run.request = {**run.request, CANCELLED: {"at": utcnow().isoformat(), "by": by}}
    run.state = RunState.CANCELLED
    run.error = f"cancelled; the workspace is {before} again (it had failed: {run.error})"
    await session.flush()
    return run
