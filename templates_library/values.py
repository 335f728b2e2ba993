"""What seeding writes for each item, as plain field values keyed by (kind, key).

Two layers, both pure:

* :func:`pack_fields` — each item's own fields as the pack states them: day offsets, text with
  `{parameter}` references, other items named by key. Version diffs are shown in these terms.
* :func:`seed_values` — the same with the parameters resolved: `{programme_name}` substituted,
  day offsets turned into dates from the `start_date` parameter. These are exactly the values the
  seeder writes, and what an upgrade compares with a workspace's rows (base / theirs / ours).

The normalised form of one item (a `dict[str, Any]`):

* the item's `key` is not a field: it is the identity, recorded as provenance (`source_item`);
* nested items (gate criteria, report sections, register and checklist entries, the scales'
  levels) are items of their own; the child names its parent in a field (`gate`, `status_report`,
  `register`, `checklist`) and, where order matters, carries its `position` in the parent's list;
* references to other items are the referenced item's key (`REFERENCES` says which fields); the
  seeder turns them into foreign keys with `stable_id`, a reader turns them back into keys;
* values are JSON-like (str, int, float, bool, None, lists, dicts) plus `datetime.date` for
  resolved offsets. Nested structures without identity of their own (a board's members and
  quorum, RAG thresholds, register entry values) stay dicts and lists.
"""

from __future__ import annotations

import functools
import re
import uuid
from collections.abc import Mapping
from datetime import date, timedelta
from typing import Any

import msgspec

from templates_library import schema
from templates_library.items import SeedItem, seed_items
from templates_library.schema import (
    PARAMETER_REFERENCE,
    START_DATE_PARAMETER,
    PackPart,
    PackVersion,
    Parameter,
)

ItemId = tuple[str, str]
"""An item's identity across versions and in a workspace: (kind, key)."""
ItemValues = dict[str, Any]
ParameterValue = str | int | float | bool | date

START_DATE = START_DATE_PARAMETER
"""The parameter every day offset counts from (day 0)."""

# Nested lists that are items of their own, so they are not fields of their parent.
CHILD_LISTS: dict[str, frozenset[str]] = {
    "gate": frozenset({"criteria"}),
    "register": frozenset({"entries"}),
    "status_report": frozenset({"sections"}),
    "checklist": frozenset({"entries"}),
    "scale_settings": frozenset(
        {"probability", "impact", "bands", "proximity", "benefit_confidence"}
    ),
}
# A nested item's field naming its parent (the parent's key is the part of its key before `/`).
PARENT_FIELD: dict[str, str] = {
    "gate_criterion": "gate",
    "register_entry": "register",
    "report_section": "status_report",
    "checklist_entry": "checklist",
}
# Kinds whose order in the pack means something; they carry `position` (0-based in their list).
POSITIONED: frozenset[str] = frozenset(
    {
        "gate",
        "gate_criterion",
        "report_section",
        "register_entry",
        "checklist_entry",
        "proximity",
        "benefit_confidence",
    }
)
# Day offsets and the date fields they resolve to.
DAY_FIELDS: dict[str, str] = {
    "start_day": "start_date",
    "end_day": "end_date",
    "day": "date",
    "validate_by_day": "validate_by",
    "target_day": "target_date",
    "need_by_day": "need_by",
}
DATE_FIELDS: dict[str, str] = {resolved: offset for offset, resolved in DAY_FIELDS.items()}
# kind → field → kind of the item it names by key (a single key, or a list of keys).
# Also by key, inside nested values: `board.members[].role` and `board.quorum.required_roles[]`
# name roles. `custom_field.register` names a custom register or a standard one (`risks` …).
REFERENCES: dict[str, dict[str, str]] = {
    "tranche": {"programme": "programme"},
    "project": {"tranche": "tranche", "lead": "role"},
    "raci": {
        "responsible": "role",
        "accountable": "role",
        "consulted": "role",
        "informed": "role",
    },
    "board": {"reports_to": "board"},
    "gate": {"board": "board", "after_tranche": "tranche"},
    "gate_criterion": {"gate": "gate"},
    "milestone": {"tranche": "tranche", "project": "project"},
    "register_entry": {"register": "register"},
    "report_section": {"status_report": "status_report"},
    "risk": {"proximity": "proximity", "owner": "role"},
    "assumption": {"owner": "role", "linked_risk": "risk"},
    "issue": {"owner": "role", "escalate_to": "board"},
    "benefit": {
        "confidence": "benefit_confidence",
        "owner": "role",
        "realisation_lead": "role",
        "enabling_projects": "project",
    },
    "decision": {"board": "board"},
    "dependency": {"from_project": "project", "to_project": "project"},
    "stakeholder": {"owner": "role"},
    "document": {"owner": "role"},
    "checklist": {"gate": "gate", "tranche": "tranche"},
    "checklist_entry": {"checklist": "checklist", "owner": "role"},
    "lesson": {"owner": "role"},
}

# The typed part behind each kind of item.
PART_OF_KIND: dict[str, type[PackPart]] = {
    "programme": schema.Programme,
    "tranche": schema.Tranche,
    "project": schema.Project,
    "role": schema.Role,
    "raci": schema.RaciEntry,
    "board": schema.Board,
    "gate": schema.StageGate,
    "gate_criterion": schema.GateCriterion,
    "milestone": schema.Milestone,
    "probability_level": schema.ScaleLevel,
    "impact_level": schema.ScaleLevel,
    "score_band": schema.ScoreBand,
    "proximity": schema.NamedLevel,
    "benefit_confidence": schema.NamedLevel,
    "scale_settings": schema.Scales,
    "rag_rules": schema.RagRules,
    "custom_field": schema.CustomField,
    "register": schema.CustomRegister,
    "register_entry": schema.RegisterEntry,
    "status_report": schema.StatusReportFormat,
    "report_section": schema.ReportSection,
    "risk": schema.Risk,
    "assumption": schema.Assumption,
    "issue": schema.Issue,
    "benefit": schema.Benefit,
    "decision": schema.Decision,
    "dependency": schema.Dependency,
    "stakeholder": schema.Stakeholder,
    "document": schema.DocumentTemplate,
    "checklist": schema.Checklist,
    "checklist_entry": schema.ChecklistEntry,
    "lesson": schema.Lesson,
}

_LAST_INDEX = re.compile(r"\[(\d+)\]$")


class InvalidParametersError(ValueError):
    """The supplied parameters do not fit the version's declarations; `problems` by parameter."""

    def __init__(self, problems: dict[str, str]) -> None:
        super().__init__("; ".join(f"{name}: {problem}" for name, problem in problems.items()))
        self.problems = problems


# --- pack fields ---------------------------------------------------------------------------------


def item_fields(item: SeedItem) -> ItemValues:
    """One item's own fields as the pack states them (see the module docstring)."""
    skip = CHILD_LISTS.get(item.kind, frozenset()) | {"key"}
    fields: ItemValues = {}
    parent = PARENT_FIELD.get(item.kind)
    if parent is not None:
        fields[parent] = item.key.split("/", 1)[0]
    if item.kind == "custom_field":
        fields["name"] = item.key.split("/", 1)[1]
    for field in msgspec.structs.fields(item.part):
        if field.name not in skip:
            fields[field.encode_name] = msgspec.to_builtins(getattr(item.part, field.name))
    if item.kind in POSITIONED:
        match = _LAST_INDEX.search(item.location)
        assert match is not None  # positioned kinds always come from a list
        fields["position"] = int(match.group(1))
    return fields


def pack_fields(version: PackVersion) -> dict[ItemId, ItemValues]:
    """Every item's fields as the pack states them, in file order."""
    return {(item.kind, item.key): item_fields(item) for item in seed_items(version)}


# --- parameters ----------------------------------------------------------------------------------


def resolve_parameters(
    parameters: list[Parameter], supplied: Mapping[str, object]
) -> dict[str, ParameterValue]:
    """The value of every declared parameter: supplied, else its default; dates as `date`.

    Raises `InvalidParametersError` naming each unknown, missing or ill-typed parameter.
    """
    declared = {parameter.key: parameter for parameter in parameters}
    problems = {
        name: "not a parameter of this version" for name in supplied if name not in declared
    }
    values: dict[str, ParameterValue] = {}
    for name, parameter in declared.items():
        raw = supplied.get(name, parameter.default)
        if raw is None:
            problems[name] = "required (it has no default)"
            continue
        value, problem = _parameter_value(parameter, raw)
        if problem is not None:
            problems[name] = problem
        else:
            values[name] = value
    if problems:
        raise InvalidParametersError(problems)
    return values


def _parameter_value(parameter: Parameter, raw: object) -> tuple[ParameterValue, str | None]:
    if parameter.type == "date":
        if isinstance(raw, date):
            return raw, None
        try:
            return date.fromisoformat(str(raw)), None
        except ValueError:
            return "", f"`{raw}` is not an ISO date (YYYY-MM-DD)"
    if parameter.type == "number":
        if isinstance(raw, int | float) and not isinstance(raw, bool):
            return raw, None
        return "", f"`{raw}` is not a number"
    if not isinstance(raw, str):
        return "", f"`{raw}` is not text"
    if parameter.type == "choice" and raw not in (parameter.choices or []):
        return "", f"`{raw}` is not one of {parameter.choices}"
    if parameter.max_length is not None and len(raw) > parameter.max_length:
        return "", f"at most {parameter.max_length} characters"
    return raw, None


def parameter_text(value: ParameterValue) -> str:
    """How a parameter reads inside text: dates in ISO form, booleans as true/false."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, date):
        return value.isoformat()
    return str(value)


def substitute(text: str, parameters: Mapping[str, ParameterValue]) -> str:
    """`{name}` → the parameter's text, for declared parameters; other braces stay as written."""

    def replace(match: re.Match[str]) -> str:
        name = match.group(1)
        return parameter_text(parameters[name]) if name in parameters else match.group(0)

    return PARAMETER_REFERENCE.sub(replace, text)


# --- seed values ---------------------------------------------------------------------------------


def seed_values(
    version: PackVersion,
    params: Mapping[str, object],
    *,
    fields: Mapping[ItemId, ItemValues] | None = None,
) -> dict[ItemId, ItemValues]:
    """Exactly what seeding `version` with `params` writes, per (kind, key), in file order.

    `fields` is `pack_fields(version)` when the caller already has it: most of the work, and the
    same for every workspace seeded or upgraded with that version.
    """
    parameters = resolve_parameters(version.parameters, params)
    start = parameters.get(START_DATE)
    if not isinstance(start, date):
        raise InvalidParametersError(
            {START_DATE: "the version needs a date parameter `start_date`"}
        )
    return {
        item_id: resolve_fields(item_id[0], own, parameters, start)
        for item_id, own in (pack_fields(version) if fields is None else fields).items()
    }


def resolve_fields(
    kind: str, fields: Mapping[str, Any], parameters: Mapping[str, ParameterValue], start: date
) -> ItemValues:
    """One item's pack fields with parameters substituted and day offsets made dates."""
    resolved: ItemValues = {}
    for name, value in fields.items():
        if kind == "programme" and name == "duration_days":
            resolved["start_date"] = start
            resolved["end_date"] = start + timedelta(days=int(value))
        elif name in DAY_FIELDS:
            resolved[DAY_FIELDS[name]] = None if value is None else start + timedelta(days=value)
        else:
            resolved[name] = _substitute_all(value, parameters)
    return resolved


def _substitute_all(value: Any, parameters: Mapping[str, ParameterValue]) -> Any:
    if isinstance(value, str):
        return substitute(value, parameters)
    if isinstance(value, list):
        return [_substitute_all(element, parameters) for element in value]
    if isinstance(value, dict):
        return {name: _substitute_all(element, parameters) for name, element in value.items()}
    return value


@functools.cache
def field_order(kind: str) -> dict[str, int]:
    """The rank of each field of `kind` as `item_fields` and `seed_values` list them (pack and
    resolved names both), so that plans can order fields whatever order a caller gave them in."""
    names: list[str] = []
    if kind in PARENT_FIELD:
        names.append(PARENT_FIELD[kind])
    if kind == "custom_field":
        names.append("name")
    part = PART_OF_KIND.get(kind)
    skip = CHILD_LISTS.get(kind, frozenset()) | {"key"}
    for field in msgspec.structs.fields(part) if part is not None else ():
        if field.encode_name in skip:
            continue
        names.append(field.encode_name)
        if field.encode_name in DAY_FIELDS:
            names.append(DAY_FIELDS[field.encode_name])
        if kind == "programme" and field.encode_name == "duration_days":
            names += ["start_date", "end_date"]
    if kind in POSITIONED:
        names.append("position")
    return {name: rank for rank, name in enumerate(names)}


def in_field_order(kind: str, values: Mapping[str, Any]) -> ItemValues:
    """`values` with known fields in their usual order, then any others alphabetically."""
    order = field_order(kind)
    return {
        name: values[name]
        for name in sorted(values, key=lambda name: (order.get(name, len(order)), name))
    }


def references(kind: str, values: Mapping[str, Any]) -> list[ItemId]:
    """The items `values` of an item of `kind` name by key (`REFERENCES`, and the roles inside a
    board's members and quorum), in field order; values that are not keys are left out."""
    found: list[ItemId] = []
    for name, target in REFERENCES.get(kind, {}).items():
        value = values.get(name)
        keys = value if isinstance(value, list) else [value]
        found += [(target, key) for key in keys if isinstance(key, str)]
    if kind == "board":
        members = values.get("members")
        quorum = values.get("quorum")
        roles = [m.get("role") for m in members if isinstance(m, dict)] if members else []
        if isinstance(quorum, dict) and isinstance(quorum.get("required_roles"), list):
            roles += quorum["required_roles"]
        found += [("role", role) for role in roles if isinstance(role, str)]
    return found


# How a workspace's rows read back name a row that did not come from the pack (the client's
# own): `row:<uuid>`, which differs from every item key (keys have no colon).
CLIENT_ROW = "row:"


def client_row(row_id: uuid.UUID) -> str:
    return f"{CLIENT_ROW}{row_id}"


def client_row_id(key: str) -> uuid.UUID | None:
    """The row a `row:<uuid>` reference names; None for an item key."""
    if not key.startswith(CLIENT_ROW):
        return None
    try:
        return uuid.UUID(key.removeprefix(CLIENT_ROW))
    except ValueError:
        return None


def item_ref(kind: str, key: str) -> str:
    """The provenance text of an item (`source_item`): `kind:key`, unique within a pack."""
    return f"{kind}:{key}"


def parse_item_ref(ref: str) -> ItemId:
    """`risk:supplier-late` → ("risk", "supplier-late")."""
    kind, separator, key = ref.partition(":")
    if not separator or not kind or not key:
        raise ValueError(f"`{ref}` is not an item reference (kind:key)")
    return kind, key
