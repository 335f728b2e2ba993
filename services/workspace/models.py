"""Workspace plane pieces shared by every concept: idempotency records, pack provenance, custom
fields and the small vocabularies (RAG, confidence) the registers have in common.

Each concept lives in its own package with the same rooms (``models``, ``schemas``, ``service``,
``controllers``, and ``rules`` for its pure rules): ``configuration`` (scales, RAG rules, custom
field definitions), ``structure`` (programmes, tranches, projects, milestones), ``benefits``,
``raid`` (risks, issues, assumptions, dependencies), ``governance`` (boards, meetings, actions,
decisions, change requests), ``gates`` and ``reporting`` (status reports and the views).
"""

from __future__ import annotations

import enum
from typing import Any

from sqlalchemy import Index, SmallInteger, String, UniqueConstraint, text
from sqlalchemy.dialects.postgresql import JSON, JSONB
from sqlalchemy.orm import Mapped, mapped_column

from services.db.base import WorkspaceModel


class Rag(enum.StrEnum):
    GREEN = "green"
    AMBER = "amber"
    RED = "red"


class Confidence(enum.StrEnum):
    HIGH = "high"
    MEDIUM = "medium"
    LOW = "low"


class SeededFromPack:
    """Where a row came from when a template pack seeded it; all null for rows made by hand.

    ``source_item`` is the pack item key (``gate-1/criterion-3``); together with the pack it is
    unique per workspace (see :func:`seeded_item_index`), so a repeated seed finds its row.
    """

    source_pack: Mapped[str | None] = mapped_column(String(63))
    source_version: Mapped[str | None] = mapped_column(String(32))
    source_item: Mapped[str | None] = mapped_column(String(200))


def seeded_item_index() -> Index:
    """``UNIQUE (tenant_id, source_pack, source_item) WHERE source_item IS NOT NULL``."""
    return Index(
        None,
        "tenant_id",
        "source_pack",
        "source_item",
        unique=True,
        postgresql_where=text("source_item IS NOT NULL"),
    )


class CarriesCustomFields:
    """A register row with the workspace's extra typed fields (validated against definitions)."""

    custom_fields: Mapped[dict[str, Any]] = mapped_column(
        JSONB, default=dict, server_default=text("'{}'::jsonb")
    )


class IdempotencyRecord(WorkspaceModel):
    """A create request's key and stored answer, written in the same transaction as the create.
    The platform's bookkeeping, not the client's data: offboarding does not export it."""

    __tablename__ = "idempotency_records"
    __client_data__ = False
    __workspace_table_args__ = (UniqueConstraint("tenant_id", "key"),)

    key: Mapped[str] = mapped_column(String(255))
    fingerprint: Mapped[str] = mapped_column(String(64))
    status_code: Mapped[int] = mapped_column(SmallInteger)
    # As written (json, not jsonb): a replay keeps the first answer's key order.
    response_body: Mapped[Any] = mapped_column(JSON)
