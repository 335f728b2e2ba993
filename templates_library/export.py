"""Save as template: turn seed values back into a pack version that validates, and into YAML.

`version_from_values` is the inverse of `values.seed_values`: given the items a programme holds
(in the normalised form) and the parameters it was seeded with, it rebuilds a `PackVersion` —
dates become day offsets from `start_date`, nested items go back under their parents in
`position` order, and a text field whose whole value is a text or choice parameter's value is
written as `{parameter}` again. Seeding the result with the same parameters gives the same values.
"""

from __future__ import annotations

import re
import typing
from collections.abc import Mapping, Sequence
from datetime import date
from typing import Any

import msgspec
import yaml

from templates_library.schema import PackPart, PackVersion, Parameter
from templates_library.validation import version_findings
from templates_library.values import (
    CHILD_LISTS,
    DATE_FIELDS,
    PARENT_FIELD,
    PART_OF_KIND,
    POSITIONED,
    START_DATE,
    ItemId,
    parameter_text,
    resolve_parameters,
)

# Where each kind of item lives in a version file.
LIST_OF_KIND: dict[str, str] = {
    "programme": "programmes",
    "tranche": "tranches",
    "project": "projects",
    "role": "roles",
    "raci": "raci",
    "board": "boards",
    "gate": "gates",
    "milestone": "milestones",
    "custom_field": "custom_fields",
    "register": "registers",
    "status_report": "status_reports",
    "risk": "risks",
    "assumption": "assumptions",
    "issue": "issues",
    "benefit": "benefits",
    "decision": "decisions",
    "dependency": "dependencies",
    "stakeholder": "stakeholders",
    "document": "documents",
    "checklist": "checklists",
    "lesson": "lessons",
}
SCALE_LIST_OF_KIND: dict[str, str] = {
    "probability_level": "probability",
    "impact_level": "impact",
    "score_band": "bands",
    "proximity": "proximity",
    "benefit_confidence": "benefit_confidence",
}
# A nested kind's parent kind and the parent's list that holds it.
CHILD_OF_KIND: dict[str, tuple[str, str]] = {
    child: (parent, next(iter(CHILD_LISTS[parent]))) for child, parent in PARENT_FIELD.items()
}
PARENT_OF: frozenset[str] = frozenset(PARENT_FIELD.values())
# The order of sections in a version file, as the shipped packs write them.
DOCUMENT_ORDER: tuple[str, ...] = (
    "version",
    "changes",
    "parameters",
    "programmes",
    "tranches",
    "projects",
    "roles",
    "raci",
    "boards",
    "gates",
    "milestones",
    "scales",
    "rag_rules",
    "custom_fields",
    "registers",
    "status_reports",
    "risks",
    "assumptions",
    "issues",
    "benefits",
    "decisions",
    "dependencies",
    "stakeholders",
    "documents",
    "checklists",
    "lessons",
)


class ExportError(ValueError):
    """The items cannot be written as a valid pack version; `problems` says why."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("; ".join(problems))
        self.problems = problems


def version_from_values(
    values: Mapping[ItemId, Mapping[str, Any]],
    *,
    version: str,
    changes: Sequence[str],
    parameters: Sequence[Parameter],
    params: Mapping[str, object],
) -> PackVersion:
    """A pack version that seeds `values` again when seeded with `params`.

    Raises `ExportError` if the items do not make a valid version (every validation check runs),
    and `InvalidParametersError` if `params` do not fit `parameters`.
    """
    resolved = resolve_parameters(list(parameters), params)
    start = resolved.get(START_DATE)
    if not isinstance(start, date):
        raise ExportError([f"the version needs a date parameter `{START_DATE}`"])
    # Whole text values that are a parameter's value are written as `{parameter}` again.
    by_text: dict[str, str] = {}
    for parameter in parameters:
        if parameter.type in {"text", "choice"}:
            by_text.setdefault(parameter_text(resolved[parameter.key]), parameter.key)

    problems: list[str] = []
    parts: dict[ItemId, dict[str, Any]] = {}
    positions: dict[ItemId, int] = {}
    for item_id in values:
        kind, key = item_id
        if kind not in PART_OF_KIND:
            problems.append(f"{kind} {key}: not a kind of item a pack can hold")
            continue
        fields = dict(values[item_id])
        if kind in POSITIONED:
            positions[item_id] = int(fields.pop("position", 0))
        found = len(problems)
        parts[item_id] = _pack_part(kind, key, fields, start, by_text, problems)
        if len(problems) == found:
            problems += _part_problems(kind, key, parts[item_id])

    document = _assemble(parts, positions, problems)
    if problems:
        raise ExportError(problems)
    document.update(
        version=version,
        changes=list(changes),
        parameters=[msgspec.to_builtins(parameter) for parameter in parameters],
    )
    try:
        exported = msgspec.convert(document, PackVersion)
    except msgspec.ValidationError as error:
        raise ExportError([str(error)]) from None
    findings = version_findings(exported)
    if findings:
        raise ExportError([f"{finding.location}: {finding.message}" for finding in findings])
    return exported


def _pack_part(
    kind: str,
    key: str,
    fields: dict[str, Any],
    start: date,
    by_text: Mapping[str, str],
    problems: list[str],
) -> dict[str, Any]:
    part: dict[str, Any] = {}
    if kind in PARENT_FIELD:
        fields.pop(PARENT_FIELD[kind], None)
        part["key"] = key.split("/", 1)[1]
    elif kind == "custom_field":
        part["key"] = fields.pop("name", key.split("/", 1)[-1])
    elif kind not in {"rag_rules", "scale_settings", "probability_level", "impact_level"}:
        part["key"] = key
    free_text = _free_text_fields(PART_OF_KIND[kind])
    for name, value in fields.items():
        if kind == "programme" and name == "start_date":
            if value != start:
                problems.append(f"programme {key}: starts on {value}, not on {start} (day 0)")
        elif kind == "programme" and name == "end_date":
            part["duration_days"] = (value - start).days
        elif name in DATE_FIELDS:
            offset = None if value is None else (value - start).days
            if offset is not None and offset < 0:
                problems.append(f"{kind} {key}: {name} {value} is before the start date {start}")
            part[DATE_FIELDS[name]] = offset
        elif name in free_text and isinstance(value, str) and value in by_text:
            part[name] = "{" + by_text[value] + "}"
        else:
            part[name] = value
    return part


def _part_problems(kind: str, key: str, part: Mapping[str, Any]) -> list[str]:
    """Why one item cannot be a pack part, in plain words and every field at once: a value the
    schema requires is missing (a client's risk with no owner role), or a value is not what the
    pack field holds (text where a score goes, a proximity that is not a key …). A field the
    schema lets be empty (`None`) is no problem."""
    part_type = PART_OF_KIND[kind]
    item, noun = f"{kind} {key}", kind.replace("_", " ")
    problems: list[str] = []
    for field in msgspec.structs.fields(part_type):
        name = field.encode_name
        if name in CHILD_LISTS.get(kind, ()):
            continue
        value = part.get(name)
        if value is None:
            if (field.required or name in part) and not _holds_none(field.type):
                problems.append(f"{item} has no {name}; a pack {noun} needs one")
            continue
        try:
            msgspec.convert(value, field.type)
        except msgspec.ValidationError as error:
            problems.append(f"{item}: {_plain_error(str(error), name, value, field.type, noun)}")
    if problems:
        return problems
    candidate = {**{name: [] for name in CHILD_LISTS.get(kind, ())}, **part}
    try:
        msgspec.convert(candidate, part_type)
    except msgspec.ValidationError as error:  # a field the pack has no place for
        return [f"{item}: {_plain_error(str(error), '', None, None, noun)}"]
    return []


_VALUE_ERROR = re.compile(r"^(?P<message>.*?)(?: - at `\$(?P<path>[^`]*)`)?$", re.DOTALL)
_WRONG_TYPE = re.compile(r"^Expected `(?P<expected>[^`]+)`, got `(?P<got>[^`]+)`$")
_BOUND = re.compile(r"^Expected `\w+` (?:of length )?(?P<bound>[<>]=? \S+)$")
_KIND_OF_VALUE = {
    "str": "text",
    "int": "a whole number",
    "float": "a number",
    "bool": "true or false",
    "array": "a list",
    "object": "a mapping",
    "null": "empty",
}


def _plain_error(message: str, name: str, value: Any, annotation: Any, noun: str) -> str:
    """A msgspec validation message about field `name` as a sentence about the pack field."""
    match = _VALUE_ERROR.match(message)
    assert match is not None  # the pattern accepts any text
    message, where = match.group("message"), name + (match.group("path") or "")
    shown = f"{where} `{value}`" if isinstance(value, str | int | float) else where
    wrong_type = _WRONG_TYPE.match(message)
    if wrong_type:
        got, expected = wrong_type.group("got"), wrong_type.group("expected")
        is_what = _KIND_OF_VALUE.get(got, got)
        needs = _KIND_OF_VALUE.get(expected.split(" ")[0], f"`{expected}`")
        return f"{shown} is {is_what}; a pack {noun} needs {needs}"
    if "matching regex" in message:
        return (
            f"{shown} is not a key (lower-case letters, digits, `-` and `_`, at most 64 characters)"
        )
    if message.startswith("Invalid enum value") and annotation is not None:
        return f"{shown} is not one of {', '.join(map(str, _literal_values(annotation)))}"
    bound = _BOUND.match(message)
    if bound:
        limit = bound.group("bound")
        if "of length <=" in message:
            return f"{shown} is longer than {limit.split()[-1]} characters"
        return f"{shown} must be {'of length ' if 'length' in message else ''}{limit}"
    if message.startswith("Object contains unknown field"):
        return f"{message.split('`')[1]} has no place in a pack {noun}"
    return f"{shown}: {message}"


def _holds_none(annotation: Any) -> bool:
    return annotation is None or type(None) in typing.get_args(annotation)


def _literal_values(annotation: Any) -> list[object]:
    """The values a `Literal` (or an optional or list of one) allows."""
    if typing.get_origin(annotation) is typing.Literal:
        return list(typing.get_args(annotation))
    return [value for arg in typing.get_args(annotation) for value in _literal_values(arg)]


def _free_text_fields(part_type: type[PackPart]) -> frozenset[str]:
    return frozenset(
        field.encode_name for field in msgspec.structs.fields(part_type) if field.type is str
    )


def _assemble(
    parts: dict[ItemId, dict[str, Any]], positions: Mapping[ItemId, int], problems: list[str]
) -> dict[str, Any]:
    """Lists keep the order of the items given, except that positioned items follow `position`,
    tranches their start day, scale levels their value and bands their scores (validation wants
    those in order)."""
    document: dict[str, Any] = {name: [] for name in LIST_OF_KIND.values()}
    scales: dict[str, Any] = {name: [] for name in SCALE_LIST_OF_KIND.values()}
    children: dict[tuple[ItemId, str], list[dict[str, Any]]] = {}
    for item_id in sorted(parts, key=lambda item_id: positions.get(item_id, 0)):  # stable
        kind, key = item_id
        part = parts[item_id]
        if kind in LIST_OF_KIND:
            document[LIST_OF_KIND[kind]].append(part)
        elif kind in SCALE_LIST_OF_KIND:
            scales[SCALE_LIST_OF_KIND[kind]].append(part)
        elif kind == "scale_settings":
            scales.update(part)
        elif kind == "rag_rules":
            document["rag_rules"] = part
        else:
            parent_kind, field = CHILD_OF_KIND[kind]
            parent = (parent_kind, key.split("/", 1)[0])
            children.setdefault((parent, field), []).append(part)
    for (kind, _), part in parts.items():
        if kind in PARENT_OF:
            part.update({field: [] for field in CHILD_LISTS[kind]})
    for (parent, field), nested in children.items():
        if parent not in parts:
            problems.append(f"{parent[0]} {parent[1]} is missing but has nested items")
        else:
            parts[parent][field] = nested
    document["tranches"].sort(key=lambda tranche: tranche.get("start_day", 0))
    for levels in (scales["probability"], scales["impact"]):
        levels.sort(key=lambda level: level.get("value", 0))
    scales["bands"].sort(key=lambda band: band.get("min_score", 0))
    document["scales"] = scales
    return document


# --- YAML ---------------------------------------------------------------------------------------


def as_document(value: Any) -> Any:
    """Plain data as a pack file states it: structs as mappings without fields left at default."""
    if isinstance(value, msgspec.Struct):
        document: dict[str, Any] = {}
        for field in msgspec.structs.fields(value):
            current = getattr(value, field.name)
            if not field.required:
                default = (
                    field.default
                    if field.default is not msgspec.NODEFAULT
                    else field.default_factory()
                )
                if current == default and type(current) is type(default):
                    continue
            document[field.encode_name] = as_document(current)
        return document
    if isinstance(value, list | tuple):
        return [as_document(element) for element in value]
    if isinstance(value, dict):
        return {name: as_document(element) for name, element in value.items()}
    return value


def version_yaml(version: PackVersion) -> str:
    """The version as a YAML file, sections in the usual order, defaults left out."""
    document = as_document(version)
    ordered = {name: document[name] for name in DOCUMENT_ORDER if name in document}
    return yaml.safe_dump(ordered, sort_keys=False, allow_unicode=True, width=100)
