"""Seeding: one published pack version written into one workspace, in one transaction.

Every row gets the id `items.stable_id(tenant, pack, kind, key)` and the provenance
`(pack, version, kind:key)`; the workspace is pinned to the pack version with the parameters
it was seeded with (`services.workspace.templates`), in the same transaction. Every table's rows
go in through one statement (an `INSERT … ON CONFLICT DO NOTHING` per table, as data-modifying
CTEs), the workspace services' seeder path (`registers.insert_seeded_tables`).

Seeding is idempotent: seeding the version a workspace is already pinned to, with the same
parameters, writes nothing. A workspace pinned to another pack or version is refused (it moves
by upgrade), and so is the same version with other parameters.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from typing import Any

import msgspec
from sqlalchemy.ext.asyncio import AsyncSession

from services.catalogue import service as catalogue
from services.db.engine import Database
from services.db.tenant_scope import TenantScope, TenantScopeError, scope_of
from services.errors import Conflict, NotFound, ValidationFailed, field_error
from services.tenancy import service as tenancy
from services.workspace import clock
from services.workspace.configuration.service import forget_configuration
from services.workspace.registers import insert_seeded_tables
from services.workspace.templates import service as pins
from templates_library.catalogue import published_version
from templates_library.rows import Writing, rows_for
from templates_library.schema import PackVersion
from templates_library.values import (
    InvalidParametersError,
    ItemId,
    ItemValues,
    pack_fields,
    resolve_parameters,
    seed_values,
)


class SeedResult(msgspec.Struct, frozen=True, kw_only=True):
    """What a seed did. `seeded` is False when the workspace already had this version."""

    tenant_id: uuid.UUID
    pack: str
    version: str
    seeded: bool
    items: int
    rows: int


@dataclass
class PackVersions:
    """Published versions read once and their pack fields worked out once, for callers that
    seed or upgrade many workspaces (`values.pack_fields` is most of `seed_values`' work)."""

    loaded: dict[tuple[str, str], PackVersion] = field(default_factory=dict)
    _fields: dict[tuple[str, str], dict[ItemId, ItemValues]] = field(default_factory=dict)
    listed: dict[str, list[str]] = field(default_factory=dict)

    async def get(self, session: AsyncSession, pack: str, version: str | None) -> PackVersion:
        """A published version (None: the latest, looked up each time). A published version
        never changes, so once read it is kept."""
        if version is None:
            _, listed = await catalogue.get_pack(session, pack)
            if not listed:
                raise NotFound(f"Template pack {pack!r} has no published version.")
            version = catalogue.latest_of(listed).version
        if (pack, version) not in self.loaded:
            _, _, found = await published_version(session, pack, version)
            self.loaded[(pack, version)] = found
        return self.loaded[(pack, version)]

    async def names(self, session: AsyncSession, pack: str, including: str) -> list[str]:
        """The versions `pack` has published, read again unless a listing already read holds
        `including` (`upgrade_all` reads it once on the control plane for every cell)."""
        known = self.listed.get(pack)
        if known is None or including not in known:
            _, listed = await catalogue.get_pack(session, pack)
            known = self.listed[pack] = [row.version for row in listed]
        return known

    def fields(self, pack: str, version: PackVersion) -> dict[ItemId, ItemValues]:
        key = (pack, version.version)
        if key not in self._fields:
            self._fields[key] = pack_fields(version)
        return self._fields[key]

    def values(
        self, pack: str, version: PackVersion, params: Mapping[str, object]
    ) -> dict[ItemId, ItemValues]:
        """`seed_values(version, params)`, raising `ValidationFailed` for bad parameters."""
        try:
            return seed_values(version, params, fields=self.fields(pack, version))
        except InvalidParametersError as error:
            raise invalid_parameters(error) from None

    async def warm(self, session: AsyncSession) -> list[tuple[str, PackVersion]]:
        """Read the latest version of every published pack and work out its fields now, so
        the first workspace seeded from it does not pay for parsing (a worker calls this when
        it starts). Returns the versions now ready, with their packs' keys."""
        published = await catalogue.published_versions(session)
        ready = []
        for pack, versions in published.items():
            version = await self.get(session, pack, catalogue.latest_name(versions))
            self.fields(pack, version)
            ready.append((pack, version))
        return ready


# Published versions, parsed, for every `seed` of this process (a version never changes once
# published; `PackVersions.get` still asks the catalogue which version is the latest).
PUBLISHED = PackVersions()


def invalid_parameters(error: InvalidParametersError) -> ValidationFailed:
    return ValidationFailed(
        "The template parameters do not fit the pack version.",
        errors=[field_error(f"params.{name}", problem) for name, problem in error.problems.items()],
    )


def stored_params(version: PackVersion, params: Mapping[str, object]) -> dict[str, Any]:
    """The parameters as the pin keeps them: as supplied (defaults stay defaults, so an upgrade
    sees a changed default), dates in ISO form. Raises `ValidationFailed` if they do not fit."""
    try:
        resolve_parameters(version.parameters, params)
    except InvalidParametersError as error:
        raise invalid_parameters(error) from None
    return {
        name: value.isoformat() if isinstance(value, date) else value
        for name, value in sorted(params.items())
    }


async def seed(
    target: Database | AsyncSession,
    tenant_id: uuid.UUID,
    pack_key: str,
    version: str | None,
    params: Mapping[str, object],
    *,
    actor_id: uuid.UUID | None = None,
) -> SeedResult:
    """Seed published `pack_key` `version` (None: the latest) into workspace `tenant_id`.

    `params` are the version's parameters (`programme_name`, `start_date` as a date or ISO
    text, …; missing ones take their defaults). With a `Database`, this reads the catalogue and
    the tenant's cell from the control plane and commits one transaction on that cell. With a
    session, it runs in the caller's transaction: the session must be scoped to `tenant_id` and
    able to read the catalogue (the default cell). Raises `NotFound` (pack, version, tenant),
    `ValidationFailed` (parameters) or `Conflict` (the workspace follows another version).
    """
    if isinstance(target, AsyncSession):
        found = await PUBLISHED.get(target, pack_key, version)
        return await seed_version(
            target, tenant_id, pack_key, found, params, actor_id=actor_id, versions=PUBLISHED
        )
    async with target.session() as control:
        tenant = await tenancy.require(control, tenant_id)
        pack_version = await PUBLISHED.get(control, pack_key, version)
    async with target.transaction(tenant.cell, TenantScope.single(tenant_id)) as session:
        return await seed_version(
            session,
            tenant_id,
            pack_key,
            pack_version,
            params,
            actor_id=actor_id,
            versions=PUBLISHED,
        )


async def seed_version(
    session: AsyncSession,
    tenant_id: uuid.UUID,
    pack_key: str,
    version: PackVersion,
    params: Mapping[str, object],
    *,
    actor_id: uuid.UUID | None = None,
    versions: PackVersions | None = None,
) -> SeedResult:
    """Seed `version` of `pack_key` (already loaded) in the caller's transaction."""
    scope = scope_of(session.sync_session)
    if scope is None or scope.tenant_ids != (tenant_id,):
        raise TenantScopeError("seeding needs a session scoped to exactly that workspace")
    versions = versions or PUBLISHED
    values = versions.values(pack_key, version, params)
    supplied = stored_params(version, params)
    claimed = await pins.claim(session, pack_key, version.version, supplied, actor_id)
    if not claimed:
        pin = await pins.require(session, for_update=True)
        if (pin.pack, pin.pack_version, pin.params) != (pack_key, version.version, supplied):
            raise Conflict(
                f"The workspace follows {pin.pack} {pin.pack_version} with its own parameters; "
                f"it moves to another version by upgrade, not by seeding again."
            )
        return SeedResult(
            tenant_id=tenant_id,
            pack=pack_key,
            version=version.version,
            seeded=False,
            items=len(values),
            rows=0,
        )
    today = clock.today(session)
    rows = rows_for(values, Writing(tenant_id, pack_key, version.version, values, today))
    written = sum((await insert_seeded_tables(session, rows.in_order(), actor_id)).values())
    forget_configuration(session)
    return SeedResult(
        tenant_id=tenant_id,
        pack=pack_key,
        version=version.version,
        seeded=True,
        items=len(values),
        rows=written,
    )
