"""The workspace's template pin: claimed once when a pack is seeded, moved by upgrades.

Runs in a tenant-scoped session. Seeding and upgrading themselves are in `templates_library`
(they need the packs); this module only keeps the pin, so the workspace plane knows its pack.
"""

from __future__ import annotations

import functools
import hashlib
import uuid
from collections.abc import Mapping, Sequence
from datetime import date
from importlib.metadata import entry_points
from typing import Any, Protocol

import msgspec
from sqlalchemy import literal, select
from sqlalchemy.dialects.postgresql import JSONB, insert
from sqlalchemy.ext.asyncio import AsyncSession

from services.db.base import utcnow
from services.db.tenant_scope import TenantScopeError, scope_of
from services.errors import NotSeeded
from services.workspace.templates.models import TemplatePin
from services.workspace.templates.schemas import AppliedVia, LastUpgrade, UpgradeConflict


async def current(session: AsyncSession, *, for_update: bool = False) -> TemplatePin | None:
    """The workspace's pin (None before any pack is seeded); ``for_update`` locks it."""
    query = select(TemplatePin)
    if for_update:
        query = query.with_for_update()
    return await session.scalar(query)


async def require(session: AsyncSession, *, for_update: bool = False) -> TemplatePin:
    pin = await current(session, for_update=for_update)
    if pin is None:
        raise NotSeeded(
            "This workspace was not seeded from a template pack, so it has no template pin and "
            "nothing to upgrade."
        )
    return pin


async def claim(
    session: AsyncSession,
    pack: str,
    version: str,
    params: Mapping[str, Any],
    actor_id: uuid.UUID | None = None,
) -> bool:
    """Pin the workspace to ``pack`` ``version`` unless it has a pin already (then False).

    A concurrent claim waits for the first to commit, then finds its pin.
    """
    scope = scope_of(session.sync_session)
    if scope is None:
        raise TenantScopeError("pinning a workspace without a tenant scope")
    claimed = await session.scalar(
        insert(TemplatePin)
        .values(
            tenant_id=scope.tenant_id,
            id=uuid.uuid4(),
            version=1,
            pack=pack,
            pack_version=version,
            params=dict(params),
            seeded_at=utcnow(),
            created_by=actor_id,
            updated_by=actor_id,
        )
        .on_conflict_do_nothing(index_elements=["tenant_id"])
        .returning(TemplatePin.id)
    )
    return claimed is not None


async def move(
    session: AsyncSession,
    pin: TemplatePin,
    version: str,
    actor_id: uuid.UUID | None = None,
    *,
    held: Mapping[str, str] | None = None,
    conflicts: Sequence[UpgradeConflict] = (),
    via: AppliedVia | None = None,
) -> TemplatePin:
    """Record that the workspace now follows ``version`` of its pack, with the new items the
    upgrade held back (``held``, see `TemplatePin.held_items`; None: as they were), and the
    upgrade itself as the pin's ``last_upgrade``: who, when, how (``via``: the API or the
    command line), from → to, and the ``conflicts`` it left to the client. Nothing to record
    when neither version nor held items change: an "upgrade" to the pinned version that adds
    nothing leaves the last record as it was."""
    held_items = dict(pin.held_items if held is None else held)
    if pin.pack_version == version and held_items == pin.held_items:
        return pin
    now = utcnow()
    pin.last_upgrade = msgspec.to_builtins(
        LastUpgrade(
            applied_by=actor_id,
            applied_at=now,
            from_version=pin.pack_version,
            to_version=version,
            conflicts=list(conflicts),
            via=via,
        )
    )
    pin.pack_version = version
    pin.held_items = held_items
    pin.upgraded_at = now
    pin.updated_by = actor_id
    await session.flush()
    return pin


def last_upgrade(pin: TemplatePin) -> LastUpgrade | None:
    """The pin's record of its last upgrade, typed (None before any)."""
    if pin.last_upgrade is None:
        return None
    return msgspec.convert(pin.last_upgrade, LastUpgrade)


async def tenants_on(session: AsyncSession, pack: str) -> Sequence[tuple[uuid.UUID, str, bool]]:
    """(tenant, version, whether an upgrade held anything back) of every workspace in the
    session's scope pinned to ``pack``."""
    rows = await session.execute(
        select(
            TemplatePin.tenant_id,
            TemplatePin.pack_version,
            TemplatePin.held_items != literal({}, JSONB),
        ).where(TemplatePin.pack == pack)
    )
    return [(tenant_id, version, held) for tenant_id, version, held in rows.all()]


# --- the upgrader -------------------------------------------------------------------------------

# Upgrades need the packs and the merge, which live in `templates_library`; `services` does not
# import it (the arrow runs the other way), so the upgrader is found through this entry point.
UPGRADER_GROUP = "pmo.workspace"
UPGRADER_NAME = "template_upgrades"


class TemplateUpgrader(Protocol):
    """Plan (or apply) the upgrade of the session's workspace to `version` (None: the latest),
    taking the target's values for the conflicts named in `take` (`kind:key`); returns the
    plan as JSON-able data (see `schemas.TemplateUpgradeRead`)."""

    async def __call__(
        self,
        control: AsyncSession,
        session: AsyncSession,
        tenant_id: uuid.UUID,
        version: str | None,
        apply: bool,
        actor_id: uuid.UUID | None,
        take: Sequence[str] = (),
    ) -> dict[str, Any]: ...


@functools.cache
def _library(name: str) -> Any:
    """What the template library registers as ``name`` in the ``pmo.workspace`` group."""
    found = entry_points(group=UPGRADER_GROUP, name=name)
    if not found:
        raise RuntimeError(f"no {UPGRADER_GROUP}:{name} entry point is installed")
    return next(iter(found)).load()


def upgrader() -> TemplateUpgrader:
    loaded: TemplateUpgrader = _library(UPGRADER_NAME)
    return loaded


class SignupChecker(Protocol):
    """What seeding ``pack`` ``version`` with a signup's programme name and start date would
    fail on, as (signup field, message) pairs; empty when it would seed."""

    async def __call__(
        self,
        session: AsyncSession,
        pack: str,
        version: str,
        programme_name: str,
        start_date: date,
    ) -> list[tuple[str, str]]: ...


SIGNUP_CHECK_NAME = "signup_check"


def signup_checker() -> SignupChecker:
    loaded: SignupChecker = _library(SIGNUP_CHECK_NAME)
    return loaded


def plan_tag(plan: Mapping[str, Any]) -> str:
    """An upgrade plan's entity tag: the same for the same plan (versions and every entry, as a
    dry run shows them), so an admin applying with ``If-Match`` applies the plan reviewed."""
    shown = {name: value for name, value in plan.items() if name != "applied"}
    digest = hashlib.sha256(msgspec.json.encode(shown, order="sorted")).hexdigest()
    return f'"plan-{digest[:20]}"'
