"""Control plane: the published template catalogue (packs and their immutable versions).

A version row is written once, when `pmo templates sync` first publishes it, and never changed:
the application role may insert and read `template_versions` but not update or delete them
(see the migration). Workspaces pinned to a version are seeded and upgraded from `content`, so a
version stays usable after its file leaves the repository.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import CheckConstraint, ForeignKey, String, Text, UniqueConstraint, text
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from services.db.base import CONTROL_SCHEMA, ControlModel, utcnow


class TemplatePack(ControlModel):
    """A pack as its `pack.yaml` describes it; the description may change between syncs."""

    __tablename__ = "template_packs"

    key: Mapped[str] = mapped_column(String(64), unique=True)
    title: Mapped[str] = mapped_column(String(200))
    summary: Mapped[str] = mapped_column(Text)
    audience: Mapped[list[str]] = mapped_column(JSONB)
    author: Mapped[str] = mapped_column(String(200))
    licence: Mapped[str] = mapped_column(String(64))
    methods: Mapped[list[str]] = mapped_column(JSONB, server_default=text("'[]'::jsonb"))
    updated_at: Mapped[datetime] = mapped_column(
        default=utcnow, onupdate=utcnow, server_default=text("now()")
    )


class TemplateVersion(ControlModel):
    """One published version of a pack: its parsed content and the hash that pins it."""

    __tablename__ = "template_versions"
    __table_args__ = (
        UniqueConstraint("pack_id", "version"),
        CheckConstraint("content_hash ~ '^[0-9a-f]{64}$'", "content_hash_is_sha256"),
        {"schema": CONTROL_SCHEMA},
    )

    pack_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("control.template_packs.id"))
    version: Mapped[str] = mapped_column(String(64))
    # Where it was published from, relative to the packs folder (`msp-governance/1.1.0.yaml`).
    file: Mapped[str] = mapped_column(String(300))
    # sha256 of the canonical parsed content: reformatting the file does not change it.
    content_hash: Mapped[str] = mapped_column(String(64))
    content: Mapped[dict[str, Any]] = mapped_column(JSONB)
    parameters: Mapped[list[dict[str, Any]]] = mapped_column(JSONB)
    item_counts: Mapped[dict[str, int]] = mapped_column(JSONB)
    changes: Mapped[list[str]] = mapped_column(JSONB)
    published_at: Mapped[datetime] = mapped_column(default=utcnow, server_default=text("now()"))
