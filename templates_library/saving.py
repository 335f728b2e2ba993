"""Save as template: a workspace programme exported as a new pack version.

The programme's rows — the client's own included — are read back as seed values
(`reading.read_programme_items`) and turned into a version file (`export.version_from_values`)
that passes every validation check. Seeding that version into an empty workspace with the same
parameters reproduces the programme.

Parameters: a workspace seeded from a pack keeps that version's parameters and the values it was
seeded with, except that day 0 is the programme's start date as it stands; a workspace built by
hand gets `programme_name` and `start_date`.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from datetime import date
from pathlib import Path
from typing import Any

import msgspec
import yaml
from sqlalchemy.ext.asyncio import AsyncSession

from services.errors import NotFound
from services.workspace.templates import service as pins
from templates_library.export import ExportError, version_from_values, version_yaml
from templates_library.loader import (
    MANIFEST_FILE,
    LoadedPack,
    LoadedVersion,
    convert_document,
    is_semver,
    load_manifest,
    load_pack,
    parse_yaml,
    semver_order,
)
from templates_library.reading import read_programme_items
from templates_library.schema import Key, PackManifest, PackVersion, Parameter
from templates_library.seeding import PUBLISHED
from templates_library.validation import TEMPLATE_DECISION_STATES, validate_pack
from templates_library.values import START_DATE, ItemId


class SavedProgramme(msgspec.Struct, frozen=True, kw_only=True):
    """A programme as a pack version, with the parameters to seed it as it was."""

    version: PackVersion
    params: dict[str, object]
    title: str
    summary: str


async def save_programme(
    session: AsyncSession,
    programme_id: uuid.UUID,
    *,
    version: str,
    changes: Sequence[str] = (),
    catalogue: AsyncSession | None = None,
) -> SavedProgramme:
    """Programme `programme_id` of the session's workspace as pack version `version`.

    Raises `NotFound` if there is no such programme and `ExportError` (every problem listed)
    if it cannot be written as a valid version — a reference to a row outside the programme,
    a board seat without a role, a date before the programme starts.
    """
    items = await read_programme_items(session, programme_id)
    programmes = [row for (kind, _), row in items.rows.items() if kind == "programme"]
    if not programmes:
        raise NotFound(f"No programme {programme_id}.")
    programme = programmes[0]
    parameters, params = await _parameters(session, catalogue, programme.name)
    if programme.start_date is None:
        raise ExportError([f"programme {programme.name!r} has no start date (day 0)"])
    params[START_DATE] = programme.start_date
    exported = version_from_values(
        _decisions_to_take(items.values),
        version=version,
        changes=list(changes) or [f"Saved from the programme {programme.name!r}."],
        parameters=parameters,
        params=params,
    )
    return SavedProgramme(
        version=exported,
        params=params,
        title=programme.name,
        summary=programme.description or programme.name,
    )


def _decisions_to_take(
    values: Mapping[ItemId, Mapping[str, Any]],
) -> dict[ItemId, Mapping[str, Any]]:
    """The items with the programme's decisions as a template holds them: still to be taken
    (a decision approved, rejected or superseded here is proposed again in a new workspace,
    where nobody has taken it)."""
    return {
        item_id: {**row, "status": "proposed"}
        if item_id[0] == "decision" and row.get("status") not in TEMPLATE_DECISION_STATES
        else row
        for item_id, row in values.items()
    }


async def _parameters(
    session: AsyncSession, catalogue: AsyncSession | None, name: str
) -> tuple[list[Parameter], dict[str, object]]:
    pin = await pins.current(session)
    if pin is not None:
        pinned = await PUBLISHED.get(catalogue or session, pin.pack, pin.pack_version)
        return list(pinned.parameters), dict(pin.params)
    return [
        Parameter(
            key="programme_name",
            type="text",
            default=name,
            description="Name used on boards, reports and documents.",
        ),
        Parameter(
            key=START_DATE,
            type="date",
            description="Day 0 of the programme; every day offset counts from here.",
        ),
    ], {"programme_name": name}


def reference_problems(pack_key: str, version: str) -> list[str]:
    """Why `pack_key@version` cannot name a saved version: the key and semver rules pack
    validation applies. A valid key is one folder name, so the files stay under `--out`."""
    problems = []
    try:
        msgspec.convert(pack_key, Key)
    except msgspec.ValidationError:
        problems.append(
            f"pack key `{pack_key}` is not a key: lower-case letters, digits, `-` and `_`, "
            "starting with a letter or digit, at most 64 characters"
        )
    if not is_semver(version):
        problems.append(f"version `{version}` is not a semantic version (e.g. 1.0.0)")
    return problems


def write_version(saved: SavedProgramme, root: Path, pack_key: str, author: str) -> LoadedVersion:
    """Write the version file under `root/pack_key/` (and a `pack.yaml` if the folder has none).

    The pack as it would then be (its `pack.yaml`, the versions already there and this one) is
    validated first; if it has any problem nothing is written and `ExportError` lists them.
    Refuses to overwrite a version file: a version, once written, is changed by a new one.
    """
    refused = reference_problems(pack_key, saved.version.version)
    if refused:
        raise ExportError(refused)
    folder = root / pack_key
    target = folder / f"{saved.version.version}.yaml"
    if target.exists():
        raise FileExistsError(f"{target} exists; save as a new version")
    files = {target: version_yaml(saved.version)}
    manifest = folder / MANIFEST_FILE
    if not manifest.exists():
        document = msgspec.to_builtins(
            PackManifest(
                key=pack_key,
                title=saved.title,
                summary=saved.summary,
                audience=["Programme offices"],
                author=author,
                licence="proprietary",
            )
        )
        files[manifest] = yaml.safe_dump(document, sort_keys=False, allow_unicode=True, width=100)
    pack = _pack_as_written(folder, files)
    problems = validate_pack(pack)
    if problems:
        raise ExportError([str(problem) for problem in problems])
    folder.mkdir(parents=True, exist_ok=True)
    for path, text in files.items():
        path.write_text(text, encoding="utf-8")
    return next(loaded for loaded in pack.versions if loaded.file == target)


def _pack_as_written(folder: Path, files: Mapping[Path, str]) -> LoadedPack:
    """The pack folder read as it will be once `files` (path → text) are written into it."""
    manifest_path = folder / MANIFEST_FILE
    if manifest_path in files:
        raw, manifest_source, problems = parse_yaml(files[manifest_path], manifest_path)
        manifest, more = convert_document(raw, PackManifest, manifest_source)
        problems += more
    else:
        manifest, manifest_source, problems = load_manifest(manifest_path)
    versions = load_pack(folder).versions if folder.is_dir() else []
    for path, text in files.items():
        if path != manifest_path:
            raw, source, read_problems = parse_yaml(text, path)
            version, more = convert_document(raw, PackVersion, source)
            versions.append(
                LoadedVersion(
                    file=path, source=source, version=version, problems=read_problems + more
                )
            )
    return LoadedPack(
        folder=folder,
        manifest_source=manifest_source,
        manifest=manifest,
        versions=sorted(versions, key=lambda loaded: semver_order(loaded.file.stem)),
        problems=problems,
    )


def parameter_values(saved: SavedProgramme) -> Mapping[str, object]:
    """The parameters to seed the saved version with to get the programme back (dates ISO)."""
    return {
        name: value.isoformat() if isinstance(value, date) else value
        for name, value in sorted(saved.params.items())
    }
