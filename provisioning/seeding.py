"""Seeding a new workspace from the template pack its signup chose.

The template library does the work (:func:`templates_library.seeding.seed`): every item of the
published pack version, with stable ids and provenance, in one transaction on the tenant's cell,
and the workspace pinned to that version. Seeding again changes nothing, so a retried or resumed
step is safe.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date
from typing import Any

from services.db.engine import Database
from templates_library.seeding import seed


@dataclass(frozen=True, slots=True)
class SeedRequest:
    """What to seed: the pack the signup chose, with the signup's programme name and start."""

    tenant_id: uuid.UUID
    pack_key: str
    pack_version: str
    programme_name: str
    start_date: date
    actor_id: uuid.UUID | None


async def seed_workspace_from_pack(database: Database, request: SeedRequest) -> dict[str, Any]:
    """Seed the pack into the tenant's workspace; what was written, for the step's record."""
    result = await seed(
        database,
        request.tenant_id,
        request.pack_key,
        request.pack_version,
        {"programme_name": request.programme_name, "start_date": request.start_date},
        actor_id=request.actor_id,
    )
    return {
        "pack": {"key": result.pack, "version": result.version},
        "seeded": result.seeded,
        "items": result.items,
        "rows": result.rows,
    }
