"""The template catalogue: publishing pack versions once, and reading them back.

Packs arrive as plain data (`PackToPublish`), read and validated by `templates_library`; this
module does not parse pack files. Publishing is all or nothing: if any version already published
differs from what is offered under the same number, nothing is written and
`PublishedVersionChanged` names every such version and its file.
"""

from __future__ import annotations

import enum
import re
import uuid
from collections.abc import Sequence
from typing import Any

import msgspec
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import defer

from services.catalogue.models import TemplatePack, TemplateVersion
from services.errors import Conflict, NotFound, field_error

# Serialises concurrent syncs (one transaction-scoped advisory lock for the whole catalogue).
SYNC_LOCK = 0x7E3A_C0DE
_SEMVER = re.compile(r"^(\d+)\.(\d+)\.(\d+)(?:-([0-9A-Za-z.-]+))?(?:\+[0-9A-Za-z.-]+)?$")


class VersionToPublish(msgspec.Struct, frozen=True, kw_only=True):
    version: str
    file: str
    content: dict[str, Any]
    content_hash: str
    parameters: list[dict[str, Any]]
    item_counts: dict[str, int]
    changes: list[str]


class PackToPublish(msgspec.Struct, frozen=True, kw_only=True):
    key: str
    title: str
    summary: str
    audience: list[str]
    author: str
    licence: str
    methods: list[str]
    versions: list[VersionToPublish]


class Outcome(enum.StrEnum):
    PUBLISHED = "published"
    UNCHANGED = "unchanged"


class PublishResult(msgspec.Struct, frozen=True, kw_only=True):
    key: str
    version: str
    file: str
    content_hash: str
    outcome: Outcome


class PublishedVersionChanged(Conflict):
    code = "template-version-immutable"
    title = "A published template version cannot change"


def version_key(version: str) -> tuple[int, int, int, int, tuple[tuple[int, int | str], ...]]:
    """Semantic version order: pre-releases before their release; anything else sorts first."""
    match = _SEMVER.match(version)
    if match is None:
        return (-1, -1, -1, 0, ())
    major, minor, patch, pre = match.groups()
    if pre is None:
        return (int(major), int(minor), int(patch), 1, ())
    parts = tuple((0, int(p)) if p.isdigit() else (1, p) for p in pre.split("."))
    return (int(major), int(minor), int(patch), 0, parts)


def is_release(version: str) -> bool:
    return version_key(version)[3] == 1


def latest_of(versions: Sequence[TemplateVersion]) -> TemplateVersion:
    """The highest release, or the highest pre-release if there is no release yet."""
    latest = latest_name([v.version for v in versions])
    return next(v for v in versions if v.version == latest)


def latest_name(versions: Sequence[str]) -> str:
    """:func:`latest_of` for version names."""
    releases = [v for v in versions if is_release(v)]
    return max(releases or versions, key=version_key)


async def published_versions(session: AsyncSession) -> dict[str, list[str]]:
    """Every pack's published versions by pack key, in semver order (one query, no content):
    what a signup may choose."""
    rows = await session.execute(
        select(TemplatePack.key, TemplateVersion.version).join(
            TemplateVersion, TemplateVersion.pack_id == TemplatePack.id
        )
    )
    by_pack: dict[str, list[str]] = {}
    for key, version in rows:
        by_pack.setdefault(key, []).append(version)
    for versions in by_pack.values():
        versions.sort(key=version_key)
    return by_pack


async def publish(session: AsyncSession, packs: Sequence[PackToPublish]) -> list[PublishResult]:
    """Record every pack and publish its new versions; already published ones must be identical.

    Raises `PublishedVersionChanged` (and writes nothing) if any published version would change.
    """
    await session.execute(select(func.pg_advisory_xact_lock(SYNC_LOCK)))
    keys = [pack.key for pack in packs]
    existing_packs = {
        row.key: row
        for row in await session.scalars(select(TemplatePack).where(TemplatePack.key.in_(keys)))
    }
    published: dict[tuple[str, str], TemplateVersion] = {
        (key, row.version): row
        for key, row in await session.execute(
            select(TemplatePack.key, TemplateVersion)
            .join(TemplatePack, TemplatePack.id == TemplateVersion.pack_id)
            .where(TemplatePack.key.in_(keys))
            .options(defer(TemplateVersion.content))
        )
    }
    refusals = [
        (pack.key, offered, published[(pack.key, offered.version)])
        for pack in packs
        for offered in pack.versions
        if (pack.key, offered.version) in published
        and published[(pack.key, offered.version)].content_hash != offered.content_hash
    ]
    if refusals:
        raise PublishedVersionChanged(
            "Published template versions cannot change; nothing was synced. "
            + " ".join(_refusal(key, offered, row) for key, offered, row in refusals),
            errors=[
                field_error(offered.file, _refusal(key, offered, row), source="file")
                for key, offered, row in refusals
            ],
        )

    results: list[PublishResult] = []
    for pack in packs:
        row = existing_packs.get(pack.key)
        manifest = {
            "title": pack.title,
            "summary": pack.summary,
            "audience": pack.audience,
            "author": pack.author,
            "licence": pack.licence,
            "methods": pack.methods,
        }
        if row is None:
            row = TemplatePack(key=pack.key, **manifest)
            session.add(row)
            await session.flush()
        else:
            for name, value in manifest.items():
                if getattr(row, name) != value:
                    setattr(row, name, value)
        for offered in pack.versions:
            outcome = Outcome.UNCHANGED
            if (pack.key, offered.version) not in published:
                session.add(TemplateVersion(pack_id=row.id, **msgspec.structs.asdict(offered)))
                outcome = Outcome.PUBLISHED
            results.append(
                PublishResult(
                    key=pack.key,
                    version=offered.version,
                    file=offered.file,
                    content_hash=offered.content_hash,
                    outcome=outcome,
                )
            )
    await session.flush()
    return results


def _refusal(key: str, offered: VersionToPublish, row: TemplateVersion) -> str:
    return (
        f"{key} {offered.version} was published from {row.file} "
        f"(sha256 {row.content_hash[:12]}…) but {offered.file} now differs "
        f"(sha256 {offered.content_hash[:12]}…); publish the change as a new version."
    )


# --- reading -------------------------------------------------------------------------------------


# The catalogue's order (its OpenAPI description is written from it).
PACK_ORDER = (TemplatePack.key,)


async def list_packs(
    session: AsyncSession, limit: int, offset: int
) -> tuple[list[tuple[TemplatePack, list[TemplateVersion]]], int]:
    """A page of packs by key, each with its versions in semver order (content not loaded)."""
    total = await session.scalar(select(func.count()).select_from(TemplatePack))
    packs = list(
        await session.scalars(
            select(TemplatePack).order_by(*PACK_ORDER).limit(limit).offset(offset)
        )
    )
    versions = await _versions_of(session, [pack.id for pack in packs])
    return [(pack, versions.get(pack.id, [])) for pack in packs], int(total or 0)


async def get_pack(session: AsyncSession, key: str) -> tuple[TemplatePack, list[TemplateVersion]]:
    """A pack and its versions in semver order (content not loaded); NotFound if unknown."""
    pack = await session.scalar(select(TemplatePack).where(TemplatePack.key == key))
    if pack is None:
        raise NotFound(f"No template pack {key!r}.")
    versions = await _versions_of(session, [pack.id])
    return pack, versions.get(pack.id, [])


async def get_version(
    session: AsyncSession, key: str, version: str | None = None
) -> tuple[TemplatePack, TemplateVersion, list[TemplateVersion]]:
    """One version with its content (the latest when `version` is None), the pack, and all the
    pack's versions in semver order; NotFound if the pack or version is unknown."""
    pack, versions = await get_pack(session, key)
    if not versions:
        raise NotFound(f"Template pack {key!r} has no published version.")
    wanted = latest_of(versions) if version is None else None
    for candidate in versions:
        if candidate.version == version:
            wanted = candidate
    if wanted is None:
        listed = ", ".join(v.version for v in versions)
        raise NotFound(f"Template pack {key!r} has no version {version!r} (it has {listed}).")
    await session.refresh(wanted, ["content"])
    return pack, wanted, versions


async def _versions_of(
    session: AsyncSession, pack_ids: list[uuid.UUID]
) -> dict[uuid.UUID, list[TemplateVersion]]:
    rows = await session.scalars(
        select(TemplateVersion)
        .where(TemplateVersion.pack_id.in_(pack_ids))
        .options(defer(TemplateVersion.content))
    )
    by_pack: dict[uuid.UUID, list[TemplateVersion]] = {}
    for row in rows:
        by_pack.setdefault(row.pack_id, []).append(row)
    for versions in by_pack.values():
        versions.sort(key=lambda v: version_key(v.version))
    return by_pack
