"""Who does what in a programme: its roles, the RACI matrix, and the stakeholders it affects.

Template packs name roles (``programme-manager``), not people, so rows that a pack fills carry a
role (``owner_role_id``) beside the person a client later names (``owner_id``).
"""

from __future__ import annotations

import enum
import uuid

from sqlalchemy import Index, SmallInteger, String, Text, UniqueConstraint, Uuid
from sqlalchemy.dialects.postgresql import ARRAY, JSONB
from sqlalchemy.orm import Mapped, mapped_column

from services.db.base import WorkspaceModel, workspace_foreign_key
from services.db.types import text_enum
from services.workspace.models import CarriesCustomFields, SeededFromPack, seeded_item_index


def role_ids() -> Mapped[list[uuid.UUID]]:
    """A list of programme roles (no foreign key on an array: roles are never deleted)."""
    return mapped_column(ARRAY(Uuid()), default=list, server_default="{}")


class ProgrammeRole(WorkspaceModel, SeededFromPack):
    """A role in the programme's organisation (SRO, business change manager …)."""

    __tablename__ = "programme_roles"
    __workspace_table_args__ = (UniqueConstraint("tenant_id", "key"), seeded_item_index())

    key: Mapped[str] = mapped_column(String(64))
    title: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(Text, default="", server_default="")
    responsibilities: Mapped[list[str]] = mapped_column(JSONB, default=list, server_default="[]")


class RaciEntry(WorkspaceModel, SeededFromPack):
    """Who is responsible, accountable, consulted and informed for one activity."""

    __tablename__ = "raci_entries"
    __workspace_table_args__ = (
        workspace_foreign_key(["programme_id"], "programmes", ondelete="CASCADE"),
        workspace_foreign_key(["accountable_role_id"], "programme_roles"),
        Index(None, "tenant_id", "programme_id", "position"),
        seeded_item_index(),
    )

    programme_id: Mapped[uuid.UUID | None]
    activity: Mapped[str] = mapped_column(Text)
    accountable_role_id: Mapped[uuid.UUID]
    responsible_role_ids: Mapped[list[uuid.UUID]] = role_ids()
    consulted_role_ids: Mapped[list[uuid.UUID]] = role_ids()
    informed_role_ids: Mapped[list[uuid.UUID]] = role_ids()
    position: Mapped[int] = mapped_column(SmallInteger, default=0, server_default="0")


class Level(enum.StrEnum):
    HIGH = "high"
    LOW = "low"


class Stakeholder(WorkspaceModel, SeededFromPack, CarriesCustomFields):
    """A stakeholder group on the power / interest grid, and how it is engaged."""

    __tablename__ = "stakeholders"
    __workspace_table_args__ = (
        workspace_foreign_key(["programme_id"], "programmes", ondelete="CASCADE"),
        workspace_foreign_key(["owner_role_id"], "programme_roles"),
        Index(None, "tenant_id", "programme_id"),
        seeded_item_index(),
    )

    programme_id: Mapped[uuid.UUID | None]
    name: Mapped[str] = mapped_column(String(200))
    interest_in_change: Mapped[str] = mapped_column(Text, default="", server_default="")
    power: Mapped[Level] = mapped_column(text_enum(Level, name="power"))
    interest: Mapped[Level] = mapped_column(text_enum(Level, name="interest"))
    engagement: Mapped[str] = mapped_column(Text, default="", server_default="")
    owner_role_id: Mapped[uuid.UUID | None]
    owner_id: Mapped[uuid.UUID | None]
