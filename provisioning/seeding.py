"""Seeding a new workspace from the template pack its signup chose.

The template library does the work (:func:`templates_library.seeding.seed_version`): every
item of the published pack version, with stable ids and provenance, in one transaction on the
tenant's cell, and the workspace pinned to that version. Seeding again changes nothing, so a
retried or resumed step is safe. The step's own control transaction reads the published
version (kept once read), so seeding opens no other connection to the control plane.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

import structlog
from sqlalchemy.ext.asyncio import AsyncSession

from services.db.engine import Database
from services.db.tenant_scope import TenantScope
from templates_library.schema import PackVersion
from templates_library.seeding import PUBLISHED, seed_version

log = structlog.get_logger("pmo.provisioning")


@dataclass(frozen=True, slots=True)
class SeedRequest:
    """What to seed: the pack the signup chose, with the signup's programme name and start."""

    pack_key: str
    pack_version: str
    programme_name: str
    start_date: date
    actor_id: uuid.UUID | None


async def seed_workspace_from_pack(
    database: Database,
    control: AsyncSession,
    tenant_id: uuid.UUID,
    cell: str,
    request: SeedRequest,
) -> dict[str, Any]:
    """Seed the pack into the workspace ``tenant_id`` on ``cell``; what was written, for the
    step's record. ``control`` is the step's control-plane transaction (the catalogue is read
    there)."""
    version = await PUBLISHED.get(control, request.pack_key, request.pack_version)
    async with database.transaction(cell, TenantScope.single(tenant_id)) as session:
        result = await seed_version(
            session,
            tenant_id,
            request.pack_key,
            version,
            {"programme_name": request.programme_name, "start_date": request.start_date},
            actor_id=request.actor_id,
            versions=PUBLISHED,
        )
    return {
        "pack": {"key": result.pack, "version": result.version},
        "seeded": result.seeded,
        "items": result.items,
        "rows": result.rows,
    }


async def rehearse(
    database: Database, cell: str, versions: Sequence[tuple[str, PackVersion]]
) -> int:
    """Seed each of ``versions`` into a throwaway workspace on ``cell`` and roll it back, so the
    first signup a worker serves finds the seed's statement compiled (SQLAlchemy keeps compiled
    statements per engine; a pack's one statement inserts into every table it seeds) instead of
    compiling it — about half of a first seed's time. Nothing is written. Returns how many
    were rehearsed; one that fails is logged and skipped (a real seed reports its error)."""
    rehearsed = 0
    for pack, version in versions:
        tenant_id = uuid.uuid4()
        params = {"programme_name": "Rehearsal", "start_date": date.today()}
        async with database.session(cell, TenantScope.single(tenant_id)) as session:
            await session.begin()
            try:
                await seed_version(session, tenant_id, pack, version, params, versions=PUBLISHED)
                rehearsed += 1
            except Exception as exc:
                log.warning(
                    "worker.seed_rehearsal_failed",
                    cell=cell,
                    pack=pack,
                    version=version.version,
                    error=str(exc),
                )
            finally:
                await session.rollback()
    return rehearsed
