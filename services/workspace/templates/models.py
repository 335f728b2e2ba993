"""Which template pack version a workspace follows, kept beside the rows it seeded so that
seeding and upgrades change both in one transaction."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import String, UniqueConstraint
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from services.db.base import WorkspaceModel, utcnow


class TemplatePin(WorkspaceModel):
    """The workspace's pack, the version it was seeded at or last upgraded to (a row whose
    change an upgrade held back keeps an older ``source_version``), and the parameters it was
    seeded with (as supplied, dates in ISO form: an upgrade re-resolves them against the target
    version, so a default changed by the pack shows up as a change).

    ``held_items`` are the pack's changes an applied upgrade held back and that are still due
    (`kind:key` → the version the upgrade that first held it back moved to): new items, which have
    no row to say so (the next upgrade plans them as adds again instead of taking them for deleted
    by the client), and updates and removals a rule held back. `pmo templates upgrade --all` plans a
    workspace with any, even one already on the target version.

    ``last_upgrade`` is the last upgrade that moved the pin (`schemas.LastUpgrade`: who, when,
    from → to, the conflicts it left to the client); None before any. Applying settles those
    conflicts, so no later plan shows them again: this is where they stay on record."""

    __tablename__ = "template_pins"
    __workspace_table_args__ = (UniqueConstraint("tenant_id"),)

    pack: Mapped[str] = mapped_column(String(63))
    pack_version: Mapped[str] = mapped_column(String(32))
    params: Mapped[dict[str, Any]] = mapped_column(JSONB, default=dict, server_default="{}")
    held_items: Mapped[dict[str, str]] = mapped_column(JSONB, default=dict, server_default="{}")
    seeded_at: Mapped[datetime] = mapped_column(default=utcnow)
    upgraded_at: Mapped[datetime | None]
    last_upgrade: Mapped[dict[str, Any] | None] = mapped_column(JSONB)
