"""Control plane: provisioning runs and their steps (state, attempts, result, error)."""

from __future__ import annotations

import enum
import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import (
    ForeignKey,
    Index,
    Integer,
    SmallInteger,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column, relationship

from services.db.base import ControlModel, utcnow
from services.db.types import text_enum


class RunKind(enum.StrEnum):
    PROVISION = "provision"  # a signup: tenant → seeded, active workspace
    DEPROVISION = "deprovision"  # offboarding: export, revoke, purge, deleted


class RunState(enum.StrEnum):
    QUEUED = "queued"  # waiting for a worker
    RUNNING = "running"
    RETRYING = "retrying"  # a step failed transiently; the next attempt is scheduled
    SUCCEEDED = "succeeded"
    FAILED = "failed"  # permanent error or attempts exhausted; an operator may retry (or
    # cancel an offboarding that removed nothing)
    CANCELLED = "cancelled"  # a failed offboarding an operator abandoned; never retried

    @property
    def is_active(self) -> bool:
        return self in _ACTIVE


_ACTIVE = frozenset({RunState.QUEUED, RunState.RUNNING, RunState.RETRYING})
ACTIVE_RUN_STATES = tuple(s.value for s in _ACTIVE)


# The key of ``request`` recording who abandoned an offboarding, and when: {"at": ISO time,
# "by": user id} (a ``cancelled`` run; before migration 0032, a ``failed`` one).
CANCELLED = "cancelled"


class StepState(enum.StrEnum):
    PENDING = "pending"
    RUNNING = "running"  # started; if its worker died, the step runs again (it is idempotent)
    SUCCEEDED = "succeeded"
    FAILED = "failed"


class ProvisioningRun(ControlModel):
    """One execution of a workflow for one tenant. Its steps are planned by the first worker."""

    __tablename__ = "provisioning_runs"
    __table_args__ = (
        # The signup's slug is reserved by its run until the tenant row exists: one run per slug.
        Index(
            "uq_provisioning_runs_slug_provision",
            "slug",
            unique=True,
            postgresql_where=text("kind = 'provision'"),
        ),
        # One run per tenant at a time, whatever its kind.
        Index(
            "uq_provisioning_runs_tenant_id_active",
            "tenant_id",
            unique=True,
            postgresql_where=text("state IN ('queued', 'running', 'retrying')"),
        ),
        Index(None, "state", "created_at"),
        {"schema": "control"},
    )

    kind: Mapped[RunKind] = mapped_column(text_enum(RunKind))
    state: Mapped[RunState] = mapped_column(text_enum(RunState))
    # Chosen at signup; the tenant row itself is made by the reserve_tenant step.
    tenant_id: Mapped[uuid.UUID]
    slug: Mapped[str] = mapped_column(String(63))
    # What was asked for (signup fields, or who asked for offboarding). No secrets.
    request: Mapped[dict[str, Any]] = mapped_column(JSONB)
    requested_by: Mapped[uuid.UUID | None]
    error: Mapped[str | None] = mapped_column(Text)
    # Executions so far, over every retry an operator asked for (a worker's crash counts).
    attempts: Mapped[int] = mapped_column(SmallInteger, server_default=text("0"))
    # The lease: which execution holds the run, until when (renewed while it works).
    lease_owner: Mapped[str | None] = mapped_column(String(100))
    lease_expires_at: Mapped[datetime | None]
    started_at: Mapped[datetime | None]
    finished_at: Mapped[datetime | None]
    # An offboarding's export (what of it was written, for a cancelled one) is deleted from S3:
    # when (after ``PMO_EXPORT_RETENTION_DAYS``, with all the deleted workspace had left there;
    # or once the offboarding was cancelled).
    export_deleted_at: Mapped[datetime | None]
    updated_at: Mapped[datetime] = mapped_column(
        default=utcnow, onupdate=utcnow, server_default=text("now()")
    )

    steps: Mapped[list[ProvisioningStep]] = relationship(
        order_by="ProvisioningStep.position", lazy="raise", cascade="all, delete-orphan"
    )

    @property
    def cancelled_at(self) -> datetime | None:
        """When an operator abandoned this offboarding run (``request["cancelled"]``)."""
        cancelled = (self.request or {}).get(CANCELLED)
        return datetime.fromisoformat(cancelled["at"]) if cancelled else None


class ProvisioningStep(ControlModel):
    """One step of a run: what it made (``result``) is recorded before the step counts as done."""

    __tablename__ = "provisioning_steps"
    __table_args__ = (
        UniqueConstraint("run_id", "name"),
        UniqueConstraint("run_id", "position"),
        {"schema": "control"},
    )

    run_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("control.provisioning_runs.id", ondelete="CASCADE")
    )
    position: Mapped[int] = mapped_column(Integer)
    name: Mapped[str] = mapped_column(String(63))
    state: Mapped[StepState] = mapped_column(text_enum(StepState))
    attempts: Mapped[int] = mapped_column(SmallInteger, server_default=text("0"))
    started_at: Mapped[datetime | None]
    finished_at: Mapped[datetime | None]
    result: Mapped[dict[str, Any] | None] = mapped_column(JSONB)
    error: Mapped[str | None] = mapped_column(Text)
