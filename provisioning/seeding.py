"""Seeding a new workspace from the template pack its signup chose.

PENDING (issue 4, the template catalogue): the template library's deterministic pack seeding is
not available yet. Until it is, seeding makes what the signup itself names — the programme, with
its name and start date — and records the pack key and version the workspace asked for, so the
full seed can be applied to it later. When the library's seeding lands, replace
:data:`seed_workspace_from_pack` with it: the provisioning step calls nothing else.
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from services.errors import NotFound
from services.workspace.structure.service import ProgrammeService


@dataclass(frozen=True, slots=True)
class SeedRequest:
    """What to seed. Ids are stable per run, so seeding twice makes nothing twice."""

    tenant_id: uuid.UUID
    pack_key: str
    pack_version: str
    programme_id: uuid.UUID
    programme_name: str
    start_date: date
    actor_id: uuid.UUID | None


Seeder = Callable[[AsyncSession, SeedRequest], Awaitable[dict[str, Any]]]


async def seed_signup_programme(session: AsyncSession, request: SeedRequest) -> dict[str, Any]:
    """The signup's programme (only), in a session scoped to the new tenant."""
    service = ProgrammeService(session, request.actor_id)
    try:
        programme = await service.get(request.programme_id)
        made = False
    except NotFound:
        programme = await service.create(
            id=request.programme_id,
            name=request.programme_name,
            start_date=request.start_date,
            description=f"Set up from template pack {request.pack_key} {request.pack_version}.",
        )
        made = True
    return {
        "pack": {"key": request.pack_key, "version": request.pack_version},
        "programme_id": str(programme.id),
        "made": made,
        "seeded": "programme only; the pack's items follow when the template library seeds",
    }


# The one line to change when the template library seeds whole packs (issue 4).
seed_workspace_from_pack: Seeder = seed_signup_programme
