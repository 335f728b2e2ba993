"""Workspace plane: what a client owns. Every table is a :class:`WorkspaceModel`."""

from __future__ import annotations

import enum
import uuid
from datetime import date
from typing import Any

from sqlalchemy import CheckConstraint, Index, SmallInteger, String, Text, UniqueConstraint
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from services.db.base import WorkspaceModel
from services.db.types import text_enum


class ProgrammeState(enum.StrEnum):
    """MSP's lifecycle of a programme, plus a pause."""

    IDENTIFYING = "identifying"
    DEFINING = "defining"
    DELIVERING = "delivering"
    ON_HOLD = "on_hold"
    CLOSING = "closing"
    CLOSED = "closed"


class Programme(WorkspaceModel):
    __tablename__ = "programmes"
    __workspace_table_args__ = (
        CheckConstraint(
            "end_date IS NULL OR start_date IS NULL OR end_date >= start_date", "dates"
        ),
        Index(None, "tenant_id", "created_at", "id"),
    )

    name: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(Text, default="", server_default="")
    state: Mapped[ProgrammeState] = mapped_column(
        text_enum(ProgrammeState), default=ProgrammeState.IDENTIFYING
    )
    start_date: Mapped[date | None]
    end_date: Mapped[date | None]
    # A control-plane user; planes are not joined by foreign keys (cells may differ).
    owner_id: Mapped[uuid.UUID | None]


class IdempotencyRecord(WorkspaceModel):
    """A create request's key and stored answer, written in the same transaction as the create."""

    __tablename__ = "idempotency_records"
    __workspace_table_args__ = (UniqueConstraint("tenant_id", "key"),)

    key: Mapped[str] = mapped_column(String(255))
    fingerprint: Mapped[str] = mapped_column(String(64))
    status_code: Mapped[int] = mapped_column(SmallInteger)
    response_body: Mapped[Any] = mapped_column(JSONB)
