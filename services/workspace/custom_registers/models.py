"""Registers a workspace defines for itself (obligations, handover log, portfolio kanban …).

A custom register's fields are the custom field definitions whose ``register`` is the
register's ``key``; each entry holds its values in ``custom_fields``, checked against them.
"""

from __future__ import annotations

import uuid

from sqlalchemy import Index, SmallInteger, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from services.db.base import WorkspaceModel, workspace_foreign_key
from services.workspace.models import CarriesCustomFields, SeededFromPack, seeded_item_index


class CustomRegister(WorkspaceModel, SeededFromPack):
    __tablename__ = "custom_registers"
    __workspace_table_args__ = (UniqueConstraint("tenant_id", "key"), seeded_item_index())

    key: Mapped[str] = mapped_column(String(64))
    title: Mapped[str] = mapped_column(String(200))
    purpose: Mapped[str] = mapped_column(Text, default="", server_default="")
    position: Mapped[int] = mapped_column(SmallInteger, default=0, server_default="0")


class CustomRegisterEntry(WorkspaceModel, SeededFromPack, CarriesCustomFields):
    """One row of a custom register; its values are in ``custom_fields``."""

    __tablename__ = "custom_register_entries"
    __workspace_table_args__ = (
        workspace_foreign_key(["register_id"], "custom_registers", ondelete="CASCADE"),
        Index(None, "tenant_id", "register_id", "position"),
        seeded_item_index(),
    )

    register_id: Mapped[uuid.UUID]
    position: Mapped[int] = mapped_column(SmallInteger, default=0, server_default="0")
