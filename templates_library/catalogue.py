"""Packs on disk ↔ the published catalogue (`services.catalogue`): hash, publish, read back.

This is the one module of the library that talks to the database, through the catalogue's
service; the rest of `templates_library` is pure.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from pathlib import Path

import msgspec
from sqlalchemy.ext.asyncio import AsyncSession

from services.catalogue import service as catalogue
from services.catalogue.models import TemplatePack, TemplateVersion
from services.catalogue.service import (
    PackToPublish,
    PublishResult,
    VersionToPublish,
    version_key,
)
from services.errors import NotFound
from templates_library.export import as_document
from templates_library.items import count_by_kind
from templates_library.loader import LoadedPack
from templates_library.schema import PackVersion
from templates_library.source import Problem
from templates_library.validation import (
    check_manifest_key,
    check_parameters_across_versions,
    validate_version,
)


def canonical_content(version: PackVersion) -> bytes:
    """The version as compact JSON with sorted keys and defaults left out.

    Formatting, comments, key order and spelling out a default do not change it, and neither
    does a later schema change that adds an optional field.
    """
    return msgspec.json.encode(as_document(version), order="sorted")


def content_hash(version: PackVersion) -> str:
    """sha256 (hex) of the canonical content: what makes a published version immutable."""
    return hashlib.sha256(canonical_content(version)).hexdigest()


class SyncReport(msgspec.Struct, kw_only=True):
    """What a sync did: versions published or already there, and problems that kept some out."""

    results: list[PublishResult]
    problems: list[Problem]

    @property
    def published(self) -> list[PublishResult]:
        return [r for r in self.results if r.outcome is catalogue.Outcome.PUBLISHED]

    @property
    def unchanged(self) -> list[PublishResult]:
        return [r for r in self.results if r.outcome is catalogue.Outcome.UNCHANGED]


def publishable(
    pack: LoadedPack, root: Path, published: Sequence[PackVersion] = ()
) -> tuple[PackToPublish | None, list[Problem]]:
    """The pack's valid versions, ready to publish, and the problems of the rest.

    A pack whose `pack.yaml` has problems is left out whole; otherwise each version file with a
    problem is left out and the others go ahead. A version must suit workspaces on every
    earlier one, in the folder or already `published` (its file may be gone from the folder).
    """
    problems = list(pack.problems)
    manifest = pack.manifest
    if manifest is not None:
        problems += [
            pack.manifest_source.problem(*finding)
            for finding in check_manifest_key(pack.folder.name, manifest)
        ]
    if manifest is None or problems:
        return None, [*problems, *pack.stray]
    # A stray file (a `.yml`) is named, but the versions beside it are published.
    problems += pack.stray
    versions = []
    known = {version.version: version for version in published}
    for loaded in pack.versions:
        version_problems = validate_version(loaded)
        if loaded.version is not None:
            # A workspace on an earlier version must be able to move to this one.
            this = version_key(loaded.version.version)
            earlier = sorted(
                (v for number, v in known.items() if version_key(number) < this),
                key=lambda v: version_key(v.version),
            )
            version_problems += [
                loaded.source.problem(*finding)
                for finding in check_parameters_across_versions(earlier, loaded.version)
            ]
            known.setdefault(loaded.version.version, loaded.version)
        if version_problems or loaded.version is None:
            problems += version_problems
            continue
        version = loaded.version
        versions.append(
            VersionToPublish(
                version=version.version,
                file=_relative(loaded.file, root),
                content=msgspec.to_builtins(version),
                content_hash=content_hash(version),
                parameters=[msgspec.to_builtins(p) for p in version.parameters],
                item_counts=count_by_kind(version),
                changes=list(version.changes),
            )
        )
    to_publish = PackToPublish(
        key=manifest.key,
        title=manifest.title,
        summary=manifest.summary,
        audience=list(manifest.audience),
        author=manifest.author,
        licence=manifest.licence,
        methods=list(manifest.methods),
        versions=versions,
    )
    return (to_publish if versions else None), problems


async def sync(session: AsyncSession, packs: Sequence[LoadedPack], root: Path) -> SyncReport:
    """Publish every valid version of `packs` in the session's transaction.

    Raises `PublishedVersionChanged` if a published version's file changed; the caller's
    transaction then rolls back, so nothing from this sync is written.
    """
    offered: list[PackToPublish] = []
    problems: list[Problem] = []
    for pack in packs:
        published = await _published_versions(session, pack.key)
        to_publish, pack_problems = publishable(pack, root, published)
        problems += pack_problems
        if to_publish is not None:
            offered.append(to_publish)
    try:
        results = await catalogue.publish(session, offered)
    except catalogue.PublishedVersionChanged as refused:
        # The detail already names each pack, version and file; its `errors` say the same
        # again per file, and a command line prints both, so the refusal goes on without them.
        raise catalogue.PublishedVersionChanged(refused.detail) from refused
    return SyncReport(results=results, problems=problems)


async def _published_versions(session: AsyncSession, key: str) -> list[PackVersion]:
    """The versions of pack `key` the catalogue has (none for a new pack)."""
    try:
        _, listed = await catalogue.get_pack(session, key)
    except NotFound:
        return []
    return [(await published_version(session, key, row.version))[2] for row in listed]


def version_from_content(content: dict[str, object]) -> PackVersion:
    """A published version's typed content (as stored in the catalogue)."""
    return msgspec.convert(content, PackVersion)


async def published_version(
    session: AsyncSession, key: str, version: str | None = None
) -> tuple[TemplatePack, TemplateVersion, PackVersion]:
    """A published version (the latest when `version` is None), typed; NotFound if unknown."""
    pack, row, _ = await catalogue.get_version(session, key, version)
    return pack, row, version_from_content(row.content)


def _relative(file: Path, root: Path) -> str:
    try:
        return str(file.resolve().relative_to(root.resolve()))
    except ValueError:
        return str(file)
