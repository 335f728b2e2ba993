"""API shapes of signups, provisioning runs and offboarding requests."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from datetime import date, datetime
from typing import Annotated, Any

import msgspec
from msgspec import Meta

from services.provisioning_runs.models import (
    ProvisioningRun,
    ProvisioningStep,
    RunKind,
    RunState,
    StepState,
)
from services.tenancy.schemas import OrganisationName
from services.text import KEY_PATTERN, NO_NUL, PACK_KEY_PATTERN, RELEASE_PATTERN
from services.workspace.schemas import Name

RUNS_PATH = "/api/v1/provisioning-runs"

Email = Annotated[
    str, Meta(min_length=3, max_length=320, pattern=NO_NUL, examples=["ada@example.org"])
]
PlanKey = Annotated[str, Meta(min_length=1, max_length=50, pattern=KEY_PATTERN)]
PackKey = Annotated[
    str,
    Meta(min_length=1, max_length=63, pattern=PACK_KEY_PATTERN, examples=["msp-governance"]),
]
PackVersion = Annotated[
    str, Meta(min_length=5, max_length=50, pattern=RELEASE_PATTERN, examples=["1.1.0"])
]
SlugText = Annotated[
    str,
    Meta(
        min_length=1,
        max_length=63,
        pattern=NO_NUL,
        description=(
            "3-63 lowercase letters, digits and single hyphens; derived from the name if absent."
        ),
    ),
]
PlacementName = Annotated[str, Meta(min_length=1, max_length=63, pattern=NO_NUL)]


class SignupCreate(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """A new client organisation: who runs it, what it pays for, which template pack seeds it."""

    organisation_name: OrganisationName
    admin_email: Email
    plan: PlanKey
    template_pack: PackKey
    programme_name: Name
    start_date: date
    template_version: PackVersion | None = None
    slug: SlugText | None = None
    region: PlacementName | None = None
    cell: PlacementName | None = None


class SignupAccepted(msgspec.Struct, kw_only=True):
    """The workspace is being made: poll ``status_url`` until ``state`` is ``succeeded``."""

    slug: str
    run_id: uuid.UUID
    state: RunState
    status_url: str


class Progress(msgspec.Struct, kw_only=True):
    done: int
    total: int
    percent: int


# What anyone holding a run's id reads of a failure. The errors themselves name internals
# (endpoints, buckets, tenant ids, database messages): platform staff only.
RETRYING_MESSAGE = "a temporary problem; retrying"
FAILED_MESSAGE = "failed; our staff have been told"
CANCELLED_MESSAGE = (
    "cancelled by our staff: the workspace and its data are as they were; the partial export "
    "was deleted"
)


def public_error(error: str | None, *, failed: bool) -> str | None:
    """``error`` as a caller who is not staff reads it: whether it is being retried."""
    if error is None:
        return None
    return FAILED_MESSAGE if failed else RETRYING_MESSAGE


class StepRead(msgspec.Struct, kw_only=True, omit_defaults=True):
    name: str
    state: StepState
    attempts: int
    started_at: datetime | None
    finished_at: datetime | None
    error: str | None
    # What the step made (ids, locations): shown to platform staff only.
    result: dict[str, Any] | None = None

    @classmethod
    def of(cls, step: ProvisioningStep, *, staff: bool) -> StepRead:
        failed = step.state is StepState.FAILED
        return cls(
            name=step.name,
            state=step.state,
            attempts=step.attempts,
            started_at=step.started_at,
            finished_at=step.finished_at,
            error=step.error if staff else public_error(step.error, failed=failed),
            result=step.result if staff else None,
        )


class Requester(msgspec.Struct, kw_only=True):
    """Who asked for an offboarding (staff see it): their user id, and email while they exist."""

    user_id: uuid.UUID
    email: str | None

    @classmethod
    def of(cls, run: ProvisioningRun, emails: Mapping[uuid.UUID, str | None]) -> Requester | None:
        if run.requested_by is None:
            return None
        return cls(user_id=run.requested_by, email=emails.get(run.requested_by))


class ExportRead(msgspec.Struct, kw_only=True):
    """A finished offboarding's export: file name → a link that downloads it until
    ``expires_at`` (each read of the run's status gives fresh links). The export itself is
    deleted at ``retained_until``."""

    expires_at: datetime
    retained_until: datetime
    files: dict[str, str]


class RunRead(msgspec.Struct, kw_only=True, omit_defaults=True):
    id: uuid.UUID
    kind: RunKind
    state: RunState
    slug: str
    progress: Progress
    steps: list[StepRead]
    error: str | None
    attempts: int
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    status_url: str
    # Staff only: who asked for an offboarding run.
    requested_by: Requester | None = None
    # An offboarding run an operator abandoned (it is cancelled; the workspace reopened).
    cancelled_at: datetime | None = None
    # A succeeded offboarding run: where the client downloads its workspace's export.
    export: ExportRead | None = None
    # An offboarding run whose export was deleted (its retention ended, or it was cancelled).
    export_deleted_at: datetime | None = None

    @classmethod
    def of(
        cls,
        run: ProvisioningRun,
        progress: Progress,
        *,
        staff: bool,
        emails: Mapping[uuid.UUID, str | None] | None = None,
        export: ExportRead | None = None,
    ) -> RunRead:
        """The run; ``staff`` also see what each step made, the errors as they are, and who
        asked for it (``emails``: see ``service.requesters``); ``export``: see
        ``service.export_links``."""
        return cls(
            id=run.id,
            kind=run.kind,
            state=run.state,
            slug=run.slug,
            progress=progress,
            steps=[StepRead.of(s, staff=staff) for s in run.steps],
            error=run.error if staff else _public_run_error(run),
            attempts=run.attempts,
            created_at=run.created_at,
            started_at=run.started_at,
            finished_at=run.finished_at,
            status_url=f"{RUNS_PATH}/{run.id}",
            requested_by=Requester.of(run, emails or {}) if staff else None,
            cancelled_at=run.cancelled_at,
            export=export,
            export_deleted_at=run.export_deleted_at,
        )


def _public_run_error(run: ProvisioningRun) -> str | None:
    """The run's error in plain words, after the name of the step it stopped at."""
    if run.cancelled_at is not None:
        return CANCELLED_MESSAGE
    message = public_error(run.error, failed=run.state is RunState.FAILED)
    if message is None:
        return None
    step = next((s.name for s in run.steps if s.error is not None), None)
    return message if step is None else f"{step}: {message}"


class RunSummary(msgspec.Struct, kw_only=True):
    """A run in a staff list (no steps)."""

    id: uuid.UUID
    kind: RunKind
    state: RunState
    slug: str
    tenant_id: uuid.UUID
    error: str | None
    attempts: int
    created_at: datetime
    finished_at: datetime | None
    requested_by: Requester | None
    cancelled_at: datetime | None
    export_deleted_at: datetime | None

    @classmethod
    def of(cls, run: ProvisioningRun, emails: Mapping[uuid.UUID, str | None]) -> RunSummary:
        fields = {f: getattr(run, f) for f in cls.__struct_fields__ if f != "requested_by"}
        return cls(**fields, requested_by=Requester.of(run, emails))


class OffboardingConfirm(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """The caller names the workspace they mean to offboard: a whole client workspace is
    deleted, so a request sent to the wrong slug (or by mistake) is refused, not acted on."""

    confirm: Annotated[
        str,
        Meta(
            min_length=1,
            max_length=63,
            pattern=NO_NUL,
            examples=["northwind"],
            description=(
                "The slug of the workspace to offboard, exactly as in the URL; anything else "
                "is refused (422) and nothing is done."
            ),
        ),
    ]


class OffboardingAccepted(msgspec.Struct, kw_only=True):
    """The workspace is read-only from now on; poll ``status_url`` for the export and deletion."""

    slug: str
    run_id: uuid.UUID
    state: RunState
    status_url: str
