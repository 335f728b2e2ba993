"""Control plane: tenants (client workspaces) and the cells they are placed in."""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Any

from sqlalchemy import Boolean, ForeignKey, Integer, String, false, text
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from services.db.base import Base, ControlModel, utcnow
from services.db.types import text_enum


class TenantState(enum.StrEnum):
    PROVISIONING = "provisioning"
    ACTIVE = "active"
    SUSPENDED = "suspended"
    OFFBOARDING = "offboarding"
    DELETED = "deleted"
    FAILED = "failed"

    @property
    def is_leaving(self) -> bool:
        """Offboarding or deleted: its data is being or has been removed, and nothing may be
        provisioned into it again."""
        return self in {TenantState.OFFBOARDING, TenantState.DELETED}


class Cell(Base):
    """A placement unit: one database (or Citus cluster) serving many tenants."""

    __tablename__ = "cells"
    __table_args__ = {"schema": "control"}

    name: Mapped[str] = mapped_column(String(63), primary_key=True)
    region: Mapped[str | None] = mapped_column(String(63))
    # Shown to operators with the password hidden; connections come from settings.
    database_url: Mapped[str] = mapped_column(String(500))
    accepts_tenants: Mapped[bool] = mapped_column(Boolean, server_default=text("true"))
    dedicated: Mapped[bool] = mapped_column(Boolean, server_default=false())
    # Tenants not deleted, kept by a trigger on control.tenants (migration 0023): read-only here.
    live_tenants: Mapped[int] = mapped_column(Integer, server_default=text("0"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow, server_default=text("now()"))


class Tenant(ControlModel):
    """A client organisation's workspace."""

    __tablename__ = "tenants"

    slug: Mapped[str] = mapped_column(String(63), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    state: Mapped[TenantState] = mapped_column(text_enum(TenantState), index=True)
    cell: Mapped[str] = mapped_column(ForeignKey("control.cells.name"))
    # Optimistic concurrency for settings changes (ETag / If-Match).
    version: Mapped[int] = mapped_column(Integer, nullable=False)
    __mapper_args__ = {"version_id_col": version}
    settings: Mapped[dict[str, Any]] = mapped_column(JSONB, server_default=text("'{}'::jsonb"))
    state_changed_at: Mapped[datetime] = mapped_column(default=utcnow, server_default=text("now()"))
    updated_at: Mapped[datetime] = mapped_column(
        default=utcnow, onupdate=utcnow, server_default=text("now()")
    )
