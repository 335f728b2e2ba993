"""API shapes of the programme's organisation: roles, RACI entries, stakeholders (read-only:
template packs fill them)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

import msgspec

from services.workspace.organisation.models import Level
from services.workspace.schemas import SourceVersion


class ProgrammeRoleRead(msgspec.Struct):
    id: uuid.UUID
    key: str
    title: str
    description: str
    responsibilities: list[str]
    source_pack: str | None
    source_version: SourceVersion
    source_item: str | None
    version: int
    created_at: datetime
    updated_at: datetime


class RaciEntryRead(msgspec.Struct):
    """Who is responsible, accountable, consulted and informed for an activity (role ids)."""

    id: uuid.UUID
    programme_id: uuid.UUID | None
    activity: str
    accountable_role_id: uuid.UUID
    responsible_role_ids: list[uuid.UUID]
    consulted_role_ids: list[uuid.UUID]
    informed_role_ids: list[uuid.UUID]
    position: int
    source_pack: str | None
    source_version: SourceVersion
    source_item: str | None
    version: int
    created_at: datetime
    updated_at: datetime


class StakeholderRead(msgspec.Struct):
    id: uuid.UUID
    programme_id: uuid.UUID | None
    name: str
    interest_in_change: str
    power: Level
    interest: Level
    engagement: str
    owner_role_id: uuid.UUID | None
    owner_id: uuid.UUID | None
    custom_fields: dict[str, Any]
    source_pack: str | None
    source_version: SourceVersion
    source_item: str | None
    version: int
    created_at: datetime
    updated_at: datetime
