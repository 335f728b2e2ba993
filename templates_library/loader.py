"""Read packs from disk into typed structures, remembering the line of every value.

Loading never raises for a bad pack: YAML and schema errors become `Problem`s on the loaded
result, and the typed structure is `None`. Cross-reference checks live in `validation`.
"""

from __future__ import annotations

import re
import typing
from pathlib import Path
from typing import Any, TypeVar

import msgspec
import yaml

from templates_library.schema import PackManifest, PackVersion
from templates_library.source import Problem, SourceMap, join_location

PACKS_DIR = Path(__file__).parent / "packs"
MANIFEST_FILE = "pack.yaml"

_BOOL_TAG = "tag:yaml.org,2002:bool"
_TIMESTAMP_TAG = "tag:yaml.org,2002:timestamp"
_SCHEMA_ERROR = re.compile(r"^(?P<message>.*?)(?: - at `\$(?P<path>[^`]*)`)?$", re.DOTALL)
_UNKNOWN_FIELD = re.compile(r"^Object contains unknown field `(?P<field>[^`]+)`$")
_SEMVER = re.compile(
    r"^(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)"
    r"(?:-((?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*)(?:\.(?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*))*))?"
    r"(?:\+([0-9a-zA-Z-]+(?:\.[0-9a-zA-Z-]+)*))?$"
)

T = TypeVar("T", bound=msgspec.Struct)


class PackYamlLoader(yaml.SafeLoader):
    """Safe YAML where dates stay text and only true/false are booleans (no yes/no/on/off)."""

    yaml_implicit_resolvers = {
        first: [
            (tag, regexp) for tag, regexp in resolvers if tag not in {_BOOL_TAG, _TIMESTAMP_TAG}
        ]
        for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
    }


PackYamlLoader.add_implicit_resolver(
    _BOOL_TAG, re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"), list("tTfF")
)


class LoadedVersion(msgspec.Struct, kw_only=True):
    """One version file: its typed content (None when unreadable) and where values came from."""

    file: Path
    source: SourceMap
    version: PackVersion | None
    problems: list[Problem]


class LoadedPack(msgspec.Struct, kw_only=True):
    """A pack folder: manifest, versions in semver order, and problems met while reading."""

    folder: Path
    manifest_source: SourceMap
    manifest: PackManifest | None
    versions: list[LoadedVersion]
    problems: list[Problem]
    # Files beside the versions that are not versions (a `.yml`): named, but the pack's versions
    # stand without them, so they do not keep the others from being published.
    stray: list[Problem] = []

    @property
    def key(self) -> str:
        return self.manifest.key if self.manifest else self.folder.name


def is_semver(text: str) -> bool:
    return _SEMVER.match(text) is not None


def semver_order(text: str) -> tuple[int, int, int, int, tuple[tuple[int, int | str], ...]]:
    """Sort key for semver strings (pre-releases before the release); invalid ones sort first."""
    match = _SEMVER.match(text)
    if match is None:
        return (-1, -1, -1, 0, ())
    major, minor, patch, pre = match.group(1, 2, 3, 4)
    if pre is None:
        return (int(major), int(minor), int(patch), 1, ())
    parts = tuple((0, int(p)) if p.isdigit() else (1, p) for p in pre.split("."))
    return (int(major), int(minor), int(patch), 0, parts)


def parse_yaml(text: str, file: Path) -> tuple[Any, SourceMap, list[Problem]]:
    """Parse YAML text, returning plain data, the line of each value, and syntax problems."""
    empty = SourceMap(file=file, lines={})
    loader = PackYamlLoader(text)
    try:
        node = loader.get_single_node()
        if node is None:
            return None, empty, [empty.problem("", "file is empty")]
        data = loader.construct_document(node)
    except yaml.MarkedYAMLError as error:
        mark = error.problem_mark or error.context_mark
        line = mark.line + 1 if mark else 1
        message = f"invalid YAML: {error.problem or error.context}"
        return None, empty, [Problem(file=str(file), line=line, location="", message=message)]
    finally:
        loader.dispose()
    lines: dict[str, int] = {"": node.start_mark.line + 1}
    problems: list[Problem] = []
    _record_lines(node, "", lines, problems, file)
    return data, SourceMap(file=file, lines=lines), problems


def _record_lines(
    node: yaml.Node, location: str, lines: dict[str, int], problems: list[Problem], file: Path
) -> None:
    if isinstance(node, yaml.MappingNode):
        seen: set[str] = set()
        for key_node, value_node in node.value:
            name = str(key_node.value)
            child = join_location(location, name)
            if name in seen:
                problems.append(
                    Problem(
                        file=str(file),
                        line=key_node.start_mark.line + 1,
                        location=child,
                        message=f"duplicate key `{name}` (YAML keeps only the last one)",
                    )
                )
            seen.add(name)
            lines[child] = key_node.start_mark.line + 1
            _record_lines(value_node, child, lines, problems, file)
    elif isinstance(node, yaml.SequenceNode):
        for index, item in enumerate(node.value):
            child = join_location(location, index)
            lines[child] = item.start_mark.line + 1
            _record_lines(item, child, lines, problems, file)


def convert_document(raw: Any, model: type[T], source: SourceMap) -> tuple[T | None, list[Problem]]:
    """Convert parsed YAML into `model`, reporting every field and list item that is wrong."""
    if not isinstance(raw, dict):
        return None, [source.problem("", f"expected a mapping, got {type(raw).__name__}")]
    fields = {field.encode_name: field for field in msgspec.structs.fields(model)}
    problems = [
        source.problem(str(name), f"unknown field `{name}`") for name in raw if name not in fields
    ]
    for name, field in fields.items():
        if name not in raw:
            if field.required:
                problems.append(source.problem("", f"missing required field `{name}`"))
            continue
        value = raw[name]
        element_type = _list_element_type(field.type)
        if element_type is not None and isinstance(value, list):
            for index, element in enumerate(value):
                location = join_location(name, index)
                problems.extend(_convert_part(element, element_type, location, source))
        else:
            problems.extend(_convert_part(value, field.type, name, source))
    if problems:
        return None, problems
    return msgspec.convert(raw, model), []


def _list_element_type(annotation: Any) -> Any | None:
    if typing.get_origin(annotation) is list:
        return typing.get_args(annotation)[0]
    return None


def _convert_part(value: Any, annotation: Any, location: str, source: SourceMap) -> list[Problem]:
    try:
        msgspec.convert(value, annotation)
    except msgspec.ValidationError as error:
        match = _SCHEMA_ERROR.match(str(error))
        assert match is not None  # the pattern accepts any text
        message, path = match.group("message"), match.group("path") or ""
        where = location + path
        unknown = _UNKNOWN_FIELD.match(message)
        if unknown:
            where = join_location(where, unknown.group("field"))
            message = f"unknown field `{unknown.group('field')}`"
        elif message == "Expected `str`, got `object`":
            message = (
                "expected text, got a mapping: "
                'a `: ` in unquoted text starts one, so quote the text ("…")'
            )
        return [source.problem(where, message)]
    return []


def load_version_file(path: Path) -> LoadedVersion:
    """Read one version file (`<pack>/1.0.0.yaml`)."""
    text = path.read_text(encoding="utf-8")
    raw, source, problems = parse_yaml(text, path)
    version = None
    if isinstance(raw, dict) and _is_number(raw.get("version")):
        # `version: 1.2` reads as a number; taken as written, the file-name check says what
        # is wrong with it (a number is never a semantic version), not a type error.
        raw["version"] = _written_version(text, source.line_of("version"), raw["version"])
    if raw is not None:
        version, schema_problems = convert_document(raw, PackVersion, source)
        problems = problems + schema_problems
    return LoadedVersion(file=path, source=source, version=version, problems=problems)


def _is_number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _written_version(text: str, line: int, value: object) -> str:
    """The version as the file writes it on `line` (`1.10`, not the number 1.1)."""
    match = re.match(r"\s*version\s*:\s*([^\s#,}]+)", text.splitlines()[line - 1])
    return match.group(1) if match else str(value)


def load_manifest(path: Path) -> tuple[PackManifest | None, SourceMap, list[Problem]]:
    """Read a `pack.yaml`."""
    if not path.is_file():
        source = SourceMap(file=path, lines={})
        return None, source, [source.problem("", f"{MANIFEST_FILE} is missing")]
    raw, source, problems = parse_yaml(path.read_text(encoding="utf-8"), path)
    if raw is None:
        return None, source, problems
    manifest, schema_problems = convert_document(raw, PackManifest, source)
    return manifest, source, problems + schema_problems


def load_pack(folder: Path) -> LoadedPack:
    """Read a pack folder: `pack.yaml` plus every other `*.yaml` file as a version (a `*.yml`
    file is a problem, not a version)."""
    manifest, manifest_source, problems = load_manifest(folder / MANIFEST_FILE)
    version_files = sorted(
        (path for path in folder.glob("*.yaml") if path.name != MANIFEST_FILE),
        key=lambda path: semver_order(path.stem),
    )
    # One spelling, so a file is never silently left out: `.yml` files are named, not read.
    stray = [
        SourceMap(file=path, lines={}).problem(
            "", f"version files end in .yaml: rename it to {path.stem}.yaml"
        )
        for path in sorted(folder.glob("*.yml"))
    ]
    if not version_files:
        problems = [
            *problems,
            manifest_source.problem("", "pack has no version files (they end in .yaml)"),
        ]
    return LoadedPack(
        folder=folder,
        manifest_source=manifest_source,
        manifest=manifest,
        versions=[load_version_file(path) for path in version_files],
        problems=problems,
        stray=stray,
    )


def load_library(root: Path = PACKS_DIR) -> list[LoadedPack]:
    """Read every pack folder under `root` (the shipped packs by default), sorted by folder."""
    return [load_pack(folder) for folder in sorted(root.iterdir()) if folder.is_dir()]
