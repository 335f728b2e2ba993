"""API shapes of custom registers and their entries (read-only: template packs fill them)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

import msgspec

from services.workspace.schemas import SourceVersion


class CustomRegisterRead(msgspec.Struct):
    """A register of the workspace's own; its fields are the custom fields whose ``register``
    is this ``key``."""

    id: uuid.UUID
    key: str
    title: str
    purpose: str
    position: int
    source_pack: str | None
    source_version: SourceVersion
    source_item: str | None
    version: int
    created_at: datetime
    updated_at: datetime


class CustomRegisterEntryRead(msgspec.Struct):
    id: uuid.UUID
    register_id: uuid.UUID
    position: int
    custom_fields: dict[str, Any]
    source_pack: str | None
    source_version: SourceVersion
    source_item: str | None
    version: int
    created_at: datetime
    updated_at: datetime
