"""HTTP for signups, provisioning runs and offboarding requests."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Annotated, Any

import msgspec
import structlog
from litestar import Controller, Request, Response, get, post
from litestar.datastructures import State
from litestar.di import NamedDependency, Provide
from litestar.params import Body, FromPath, JSONBody, QueryParameter
from sqlalchemy.ext.asyncio import AsyncSession

from services import idempotency, parameters
from services.config import Settings
from services.dependencies import control_dependencies, database, provide_control_session
from services.errors import (
    Conflict,
    Forbidden,
    IdempotencyKeyReused,
    NotFound,
    RateLimited,
    Unauthenticated,
    ValidationFailed,
    field_error,
)
from services.idempotency import IdempotencyKey
from services.identity import service as identity
from services.identity.models import ApiToken, Role, StaffRole
from services.identity.service import Principal
from services.jobs import JobQueue
from services.pagination import DEFAULT_LIMIT, Limit, Offset, Page, stated_order
from services.problems import problem_responses
from services.provisioning_runs import export_retention
from services.provisioning_runs import service as runs
from services.provisioning_runs.models import RunKind, RunState
from services.provisioning_runs.schemas import (
    RUNS_PATH,
    OffboardingAccepted,
    OffboardingConfirm,
    RunRead,
    RunSummary,
    SignupAccepted,
    SignupCreate,
)
from services.rate_limit import RATE_LIMIT_REPLAYS, RATE_LIMITED
from services.storage.service import Storage, StorageError
from services.tenancy import service as tenancy
from services.text import NO_NUL

log = structlog.get_logger("pmo.provisioning")


def job_queue(state: State) -> JobQueue:
    queue = state.get("jobs")
    if not isinstance(queue, JobQueue):
        raise RuntimeError("the application has no job queue")
    return queue


def storage_of(state: State) -> Storage:
    """The documents bucket, made on first use (its boto3 client is kept for every request)."""
    storage = state.get("storage")
    if not isinstance(storage, Storage):
        storage = state["storage"] = Storage(settings_of(state))
    return storage


def retention_of(state: State) -> timedelta:
    """How long an offboarding's export is kept (``PMO_EXPORT_RETENTION_DAYS``)."""
    return timedelta(days=settings_of(state).export_retention_days)


def settings_of(state: State) -> Settings:
    settings = state.get("settings")
    if not isinstance(settings, Settings):
        raise RuntimeError("the application has no settings")
    return settings


@parameters.authenticates
async def provide_optional_principal(
    request: Request[Any, Any, Any], control_session: NamedDependency[AsyncSession]
) -> Principal | None:
    """The caller if a bearer token is sent (a bad one is refused), else anonymous. A revoked
    token reads as anonymous: the offboarding the client polls revokes the token it polls with."""
    header = request.headers.get("authorization", "")
    if not header:
        parameters.reject_unknown(request)
        return None
    scheme, _, secret = header.partition(" ")
    bearer = scheme.lower() == "bearer"
    principal = await identity.authenticate(control_session, secret.strip()) if bearer else None
    if principal is None and not (
        bearer and await identity.revoked_token(control_session, secret.strip())
    ):
        raise Unauthenticated("The API token is unknown, expired or revoked.")
    parameters.reject_unknown(request)
    return principal


@dataclass(frozen=True, slots=True)
class OffboardingCaller:
    """Who sends an offboarding request: the principal while their token is good; once the
    offboarding revoked it, its token only (``revoked``), to replay their own first answer."""

    principal: Principal | None
    revoked: ApiToken | None

    @property
    def user_id(self) -> uuid.UUID:
        if self.principal is not None:
            return self.principal.user_id
        assert self.revoked is not None
        return self.revoked.user_id

    def require(self) -> Principal:
        if self.principal is None:
            raise Unauthenticated("The API token is unknown, expired or revoked.")
        return self.principal


@parameters.authenticates
async def provide_offboarding_caller(
    request: Request[Any, Any, Any], control_session: NamedDependency[AsyncSession]
) -> OffboardingCaller:
    """As ``provide_principal``, but a revoked token is let through, to :class:`OffboardingCaller`
    (a retry of the request whose offboarding revoked it)."""
    scheme, _, secret = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not secret.strip():
        raise Unauthenticated("Send an API token as 'Authorization: Bearer <token>'.")
    principal = await identity.authenticate(control_session, secret.strip())
    revoked = None if principal else await identity.revoked_token(control_session, secret.strip())
    if principal is None and revoked is None:
        raise Unauthenticated("The API token is unknown, expired or revoked.")
    parameters.reject_unknown(request)
    return OffboardingCaller(principal, revoked)


def operates_runs(principal: Principal | None) -> bool:
    """Whether the caller holds the platform admin's powers over every workspace's runs: a
    platform admin's token that is not bound to one workspace (a bound token acts only there)."""
    return (
        principal is not None
        and principal.staff_role is StaffRole.PLATFORM_ADMIN
        and principal.token_tenant_id is None
    )


def require_platform_admin(principal: Principal) -> None:
    if principal.staff_role is not StaffRole.PLATFORM_ADMIN:
        raise Forbidden("Only platform admins operate provisioning runs.")
    if not operates_runs(principal):
        raise Forbidden(
            "This API token is bound to one workspace; provisioning runs are operated with a "
            "platform admin's token that is not bound to a workspace."
        )


def require_writing(principal: Principal) -> None:
    if not principal.can_write():
        raise Forbidden("This API token is read-only.")


def _accepted_headers(run_id: uuid.UUID, replayed: bool) -> dict[str, str]:
    headers = {"Location": f"{RUNS_PATH}/{run_id}"}
    if replayed:
        headers["Idempotent-Replayed"] = "true"
    return headers


class SignupController(Controller):
    path = "/api/v1/signups"
    tags = ["signups"]
    dependencies = {"control_session": Provide(provide_control_session)}

    @post(
        "/",
        status_code=202,
        opt={RATE_LIMITED: "signups", RATE_LIMIT_REPLAYS: runs.SIGNUP_LEDGER},
        responses=problem_responses(Conflict, IdempotencyKeyReused, RateLimited),
        summary="Sign up: a new client workspace, provisioned in seconds",
        description=(
            "Public. Checks everything up front, reserves the slug and answers at once; the "
            "workspace is made by a provisioning run — poll `status_url` for its progress. "
            "`plan` is one of the configured plan keys (billing comes later). Rate-limited per "
            "client address; a retry with the `Idempotency-Key` of a signup already answered is "
            "answered that first answer (`Idempotent-Replayed: true`), even over the limit, and "
            "does not count against it."
        ),
    )
    async def sign_up(
        self,
        request: Request[Any, Any, Any],
        state: State,
        data: JSONBody[SignupCreate],
        control_session: NamedDependency[AsyncSession],
        idempotency_key: IdempotencyKey = None,
    ) -> Response[SignupAccepted]:
        request_fingerprint = idempotency.fingerprint("POST", request.url.path, data)
        if idempotency_key is not None:
            replay = await runs.signup_replay(control_session, idempotency_key, request_fingerprint)
            if replay is not None:
                return _signup_response(replay)
        plan = await runs.check_signup(control_session, settings_of(state), data)
        made: list[tuple[uuid.UUID, uuid.UUID]] = []

        async def create() -> tuple[int, Any]:
            run = await runs.start_signup(control_session, plan)
            made.append((run.id, run.tenant_id))
            accepted = SignupAccepted(
                slug=run.slug, run_id=run.id, state=run.state, status_url=f"{RUNS_PATH}/{run.id}"
            )
            return 202, msgspec.to_builtins(accepted)

        outcome = await idempotency.run_once(
            control_session, idempotency_key, request_fingerprint, create, runs.signup_ledger()
        )
        # The run must be visible before a worker looks for it: commit, then hand it over.
        await control_session.commit()
        for run_id, tenant_id in made:
            await job_queue(state).nudge(run_id, tenant_id)
        return _signup_response(outcome)


def _signup_response(outcome: idempotency.Outcome) -> Response[SignupAccepted]:
    body = msgspec.convert(outcome.body, SignupAccepted)
    return Response(
        body,
        status_code=outcome.status_code,
        headers=_accepted_headers(body.run_id, outcome.replayed),
    )


class ProvisioningRunController(Controller):
    path = RUNS_PATH
    tags = ["provisioning runs"]
    dependencies = control_dependencies

    @get(
        "/{run_id:uuid}",
        dependencies={"caller": Provide(provide_optional_principal)},
        responses=problem_responses(Unauthenticated, NotFound),
        summary="A run: state, steps and progress",
        description=(
            "Public for whoever holds the run id (the signup page polls it); platform admins "
            "also see what each step made. A succeeded offboarding run carries `export`: links "
            "to the files of the workspace's export, valid until `expires_at` (read the run "
            "again for fresh ones) — the requester's tokens are revoked by the run, so the run "
            "id they were given is what hands them the export. The export is deleted at "
            "`retained_until` (`PMO_EXPORT_RETENTION_DAYS` after the run finished); then the "
            "run carries `export_deleted_at` instead, as a cancelled offboarding does once what "
            "its export wrote is deleted."
        ),
    )
    async def get_run(
        self,
        state: State,
        run_id: FromPath[uuid.UUID],
        control_session: NamedDependency[AsyncSession],
        caller: NamedDependency[Principal | None],
    ) -> RunRead:
        run = await runs.get_run(control_session, run_id)
        staff = operates_runs(caller)
        emails = await runs.requesters(control_session, [run]) if staff else {}
        export = runs.export_links(storage_of(state), run, retention_of(state))
        return RunRead.of(run, runs.progress(run.steps), staff=staff, emails=emails, export=export)

    @get(
        "/",
        responses=problem_responses(Unauthenticated, Forbidden),
        summary="List runs (platform admins); filter failed ones with state=failed",
        description=stated_order(runs.RUN_ORDER)
        + " `slug` gives one workspace's runs: its signup's and its "
        "offboarding's. Offboardings an operator abandoned are `cancelled`, not `failed`.",
        security=[{"bearer": []}],
    )
    async def list_runs(
        self,
        control_session: NamedDependency[AsyncSession],
        principal: NamedDependency[Principal],
        run_state: Annotated[RunState | None, QueryParameter(name="state")] = None,
        kind: Annotated[RunKind | None, QueryParameter()] = None,
        slug: Annotated[
            str | None,
            QueryParameter(max_length=63, pattern=NO_NUL, description="One workspace's runs"),
        ] = None,
        limit: Limit = DEFAULT_LIMIT,
        offset: Offset = 0,
    ) -> Page[RunSummary]:
        require_platform_admin(principal)
        rows, total = await runs.list_runs(
            control_session, state=run_state, kind=kind, limit=limit, offset=offset, slug=slug
        )
        emails = await runs.requesters(control_session, rows)
        return Page.of([RunSummary.of(r, emails) for r in rows], total, limit, offset)

    @post(
        "/{run_id:uuid}/retry",
        status_code=202,
        responses=problem_responses(
            Unauthenticated, Forbidden, NotFound, Conflict, IdempotencyKeyReused
        ),
        summary="Retry a failed run from its first unfinished step (platform admins)",
        description=(
            "Answers 202 with the run, and its status URL in `Location`. A provisioning run of a "
            "workspace that is offboarded, or being offboarded, is not retried (409). The same "
            "`Idempotency-Key` answers the first answer again (each operator's keys are their "
            "own)."
        ),
        security=[{"bearer": []}],
    )
    async def retry_run(
        self,
        request: Request[Any, Any, Any],
        state: State,
        run_id: FromPath[uuid.UUID],
        control_session: NamedDependency[AsyncSession],
        principal: NamedDependency[Principal],
        idempotency_key: IdempotencyKey = None,
    ) -> Response[RunRead]:
        require_platform_admin(principal)
        require_writing(principal)
        queued: list[tuple[uuid.UUID, uuid.UUID]] = []

        async def retry() -> tuple[int, Any]:
            run = await runs.retry_run(control_session, run_id)
            queued.append((run.id, run.tenant_id))
            emails = await runs.requesters(control_session, [run])
            read = RunRead.of(run, runs.progress(run.steps), staff=True, emails=emails)
            return 202, msgspec.to_builtins(read)

        outcome = await _operated_once(request, control_session, principal, idempotency_key, retry)
        await control_session.commit()
        for queued_id, tenant_id in queued:
            await job_queue(state).nudge(queued_id, tenant_id)
        return Response(
            msgspec.convert(outcome.body, RunRead),
            status_code=outcome.status_code,
            headers=_accepted_headers(run_id, outcome.replayed),
        )

    @post(
        "/{run_id:uuid}/cancel",
        status_code=200,
        responses=problem_responses(
            Unauthenticated, Forbidden, NotFound, Conflict, IdempotencyKeyReused
        ),
        summary="Cancel a failed offboarding run before it removed anything (platform admins)",
        description=(
            "For an offboarding run that failed before any step that cannot be undone began "
            "(only the export ran): the workspace is what it was before again (`active`, say) "
            "and the run is `cancelled` (`cancelled_at`: when); it cannot be retried. What "
            "its export had written is deleted (the run's `export_deleted_at` says when; the "
            "answer is the run as its status reads, so it says so unless S3 failed and the "
            "hourly purge deletes it later). "
            "Refused (409) for a run that is not a failed offboarding, or once revoking access "
            "or purging has begun. The same `Idempotency-Key` answers the first answer again."
        ),
        security=[{"bearer": []}],
    )
    async def cancel_run(
        self,
        request: Request[Any, Any, Any],
        state: State,
        run_id: FromPath[uuid.UUID],
        control_session: NamedDependency[AsyncSession],
        principal: NamedDependency[Principal],
        idempotency_key: IdempotencyKey = None,
    ) -> Response[RunRead]:
        require_platform_admin(principal)
        require_writing(principal)

        async def cancel() -> tuple[int, Any]:
            run = await runs.cancel_offboarding(control_session, run_id, principal.user_id)
            emails = await runs.requesters(control_session, [run])
            read = RunRead.of(run, runs.progress(run.steps), staff=True, emails=emails)
            return 200, msgspec.to_builtins(read)

        outcome = await _operated_once(request, control_session, principal, idempotency_key, cancel)
        # The cancellation stands once committed; its export is deleted after it (should S3
        # fail now, the workers' hourly purge deletes it).
        await control_session.commit()
        body = outcome.body
        if not outcome.replayed and await _delete_cancelled_export(state, run_id):
            # The answer is the run as it reads now (GET): the deletion's `export_deleted_at`
            # too, and so is the answer a retry with the same key replays.
            run = await runs.get_run(control_session, run_id)
            emails = await runs.requesters(control_session, [run])
            read = RunRead.of(run, runs.progress(run.steps), staff=True, emails=emails)
            body = msgspec.to_builtins(read)
            if idempotency_key is not None:
                await runs.restate_answer(
                    control_session, _operator_ledger(principal), idempotency_key, body
                )
            await control_session.commit()
        headers = {"Idempotent-Replayed": "true"} if outcome.replayed else {}
        return Response(
            msgspec.convert(body, RunRead),
            status_code=outcome.status_code,
            headers=headers,
        )


async def _delete_cancelled_export(state: State, run_id: uuid.UUID) -> bool:
    """Delete a cancelled run's partial export now; whether it was (and recorded on the run)."""
    try:
        purged = await export_retention.purge_exports(
            database(state), storage_of(state), retention_of(state), run_ids=[run_id]
        )
    except StorageError as exc:
        log.warning("provisioning.export.delete_postponed", run_id=str(run_id), error=str(exc))
        return False
    return bool(purged)


def _operator_ledger(principal: Principal) -> idempotency.Ledger:
    """Each operator's ``Idempotency-Key``s of run actions are their own."""
    return idempotency.control_ledger(f"provisioning-runs:{principal.user_id}")


async def _operated_once(
    request: Request[Any, Any, Any],
    control_session: AsyncSession,
    principal: Principal,
    key: str | None,
    operate: Callable[[], Awaitable[tuple[int, Any]]],
) -> idempotency.Outcome:
    """An operator's action on a run, once per ``Idempotency-Key``: each operator's keys are
    their own (another's key is not their answer, nor refused as reused)."""
    return await idempotency.run_once(
        control_session,
        key,
        idempotency.fingerprint("POST", request.url.path, principal.user_id),
        operate,
        _operator_ledger(principal),
    )


class OffboardingController(Controller):
    path = "/api/v1/w/{slug:str}/offboarding"
    tags = ["offboarding"]
    dependencies = control_dependencies
    security = [{"bearer": []}]

    @post(
        "/",
        status_code=202,
        dependencies={"caller": Provide(provide_offboarding_caller)},
        responses=problem_responses(
            Unauthenticated, Forbidden, NotFound, Conflict, IdempotencyKeyReused, ValidationFailed
        ),
        summary="Offboard the workspace: export it, revoke access, delete its data (owners)",
        description=(
            "The workspace is unavailable at once (409 tenant-unavailable, reads too); a run "
            "exports every table (JSON, and CSV per table) to the workspace's storage, revokes "
            "tokens and memberships, purges the workspace's rows and marks it deleted. The run's "
            "status hands out the export until its `export.retained_until` (30 days after the "
            "run finished, unless the platform says otherwise); then it is deleted. Owners, or "
            'platform admins. The body names the workspace: `{"confirm": "<slug>"}`; '
            "without it, or naming another, the request is refused (422, a `confirm` field "
            "error) and nothing is done. A request retried with its `Idempotency-Key` gets the "
            "first answer even after the run has deleted the workspace and revoked the token it "
            "was sent with (that token does nothing else)."
        ),
    )
    async def offboard(
        self,
        request: Request[Any, Any, Any],
        state: State,
        slug: FromPath[str],
        control_session: NamedDependency[AsyncSession],
        caller: NamedDependency[OffboardingCaller],
        data: Annotated[
            OffboardingConfirm | None,
            Body(
                description=(
                    'Needed: `{"confirm": "<slug>"}`. A request without it (offboarding took no '
                    "body before) is refused with a `confirm` field error, as one naming another "
                    "workspace is."
                )
            ),
        ] = None,
        idempotency_key: IdempotencyKey = None,
    ) -> Response[OffboardingAccepted]:
        if data is None or data.confirm != slug:
            # A body-less request (as offboarding took before) is told what to send.
            said = "required" if data is None else "must be the workspace's slug, as in the URL"
            raise ValidationFailed(
                f'To offboard the workspace, send its slug: {{"confirm": "{slug}"}}.',
                errors=[field_error("confirm", said)],
            )
        request_fingerprint = idempotency.fingerprint("POST", request.url.path, caller.user_id)
        found = await tenancy.get_by_slug(control_session, slug)
        if found is not None and idempotency_key is not None:
            # A retry of a request whose run has since deleted the workspace and revoked the
            # requester's token gets the first answer, not the 404 or 401 those would give.
            replay = await runs.offboarding_replay(
                control_session,
                found.id,
                idempotency_key,
                request_fingerprint,
                revoked_at=caller.revoked.revoked_at if caller.revoked else None,
            )
            if replay is not None:
                return _offboarding_response(replay)
        principal = caller.require()
        tenant = await tenancy.require_by_slug(control_session, slug)
        role = await identity.role_in(control_session, principal.user_id, tenant.id)
        staff = principal.staff_role is StaffRole.PLATFORM_ADMIN
        # A token bound to a workspace acts there only, a platform admin's too: elsewhere the
        # workspace does not exist for it, as for every other workspace route.
        if principal.token_tenant_id not in (None, tenant.id) or (not staff and role is None):
            raise NotFound(f"No workspace {slug!r}.")
        if not staff and role is not Role.OWNER:
            raise Forbidden("Only the workspace's owners, or platform admins, can offboard it.")
        require_writing(principal)
        made: list[tuple[uuid.UUID, uuid.UUID]] = []

        async def create() -> tuple[int, Any]:
            run = await runs.request_offboarding(control_session, tenant, principal.user_id)
            made.append((run.id, run.tenant_id))
            accepted = OffboardingAccepted(
                slug=run.slug, run_id=run.id, state=run.state, status_url=f"{RUNS_PATH}/{run.id}"
            )
            return 202, msgspec.to_builtins(accepted)

        outcome = await idempotency.run_once(
            control_session,
            idempotency_key,
            request_fingerprint,
            create,
            runs.offboarding_ledger(tenant.id),
        )
        await control_session.commit()
        for run_id, tenant_id in made:
            await job_queue(state).nudge(run_id, tenant_id)
        return _offboarding_response(outcome)


def _offboarding_response(outcome: idempotency.Outcome) -> Response[OffboardingAccepted]:
    body = msgspec.convert(outcome.body, OffboardingAccepted)
    return Response(
        body,
        status_code=outcome.status_code,
        headers=_accepted_headers(body.run_id, outcome.replayed),
    )
