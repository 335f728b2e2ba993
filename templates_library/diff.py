"""What changed between two versions of one pack: parameters, then item by item, field by field.

Items are compared twice. As written (`values.pack_fields`: day offsets and `{parameter}` text as
the files state them), which is what the diff shows. And with each version's parameter defaults
put into the text, so an item whose text is unchanged but reads differently because a default
changed (`{reporting_cadence}`, monthly → fortnightly) shows as changed too, naming the
parameter: an upgrade of a workspace seeded with the default updates that item. A version diff
is the upgrade of a workspace nobody touched: base and theirs the first version, ours the second.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import msgspec

from templates_library.schema import PARAMETER_REFERENCE, PackVersion, Parameter
from templates_library.upgrade import (
    Action,
    ChangedBy,
    FieldDifference,
    PlanEntry,
    UpgradePlan,
    plan_upgrade,
    show_value,
)
from templates_library.values import ItemId, pack_fields, parameter_text, substitute

_LABEL_FIELDS = ("title", "label", "text", "statement", "activity", "group", "name")
_SHORT = 36
_LONG = 400


class ParameterChange(msgspec.Struct, frozen=True, kw_only=True):
    """A parameter added (ADD), removed (REMOVE) or declared differently (UPDATE)."""

    key: str
    action: Action
    before: Parameter | None
    after: Parameter | None
    # Declaration fields that differ (UPDATE only): (name, before, after).
    fields: list[tuple[str, Any, Any]] = []


class VersionDiff(msgspec.Struct, frozen=True, kw_only=True):
    parameters: list[ParameterChange]
    items: UpgradePlan
    # (item, field) → the parameters whose changed default alone changes that field.
    through: dict[tuple[ItemId, str], list[str]]


def diff_versions(before: PackVersion, after: PackVersion) -> VersionDiff:
    """Parameter changes, and every item as unchanged, update, add or remove."""
    written_before, written_after = pack_fields(before), pack_fields(after)
    as_written = plan_upgrade(written_before, written_before, written_after)
    defaults_before, defaults_after = _defaults(before), _defaults(after)
    entries: list[PlanEntry] = []
    through: dict[tuple[ItemId, str], list[str]] = {}
    for entry in as_written.entries:
        if entry.action is not Action.UNCHANGED and entry.action is not Action.UPDATE:
            entries.append(entry)
            continue
        old, new = written_before[entry.item_id], written_after[entry.item_id]
        written = {field.field for field in entry.fields}
        via_defaults = []
        for name in old.keys() & new.keys() - written:
            read_before = _with_defaults(old[name], defaults_before)
            read_after = _with_defaults(new[name], defaults_after)
            if read_before != read_after:
                via_defaults.append(
                    FieldDifference(
                        field=name,
                        changed_by=ChangedBy.PACK,
                        base=read_before,
                        theirs=read_before,
                        ours=read_after,
                    )
                )
                through[(entry.item_id, name)] = sorted(
                    {
                        parameter
                        for parameter in _parameters_in(old[name])
                        if defaults_before.get(parameter) != defaults_after.get(parameter)
                    }
                )
        if via_defaults:
            entry = msgspec.structs.replace(
                entry,
                action=Action.UPDATE,
                reason="a parameter default it uses changed",
                fields=[*entry.fields, *sorted(via_defaults, key=lambda f: f.field)],
                ours=new,
            )
        entries.append(entry)
    return VersionDiff(
        parameters=parameter_changes(before.parameters, after.parameters),
        items=UpgradePlan(entries=entries),
        through=through,
    )


def parameter_changes(
    before: Sequence[Parameter], after: Sequence[Parameter]
) -> list[ParameterChange]:
    """Parameters added, removed or declared differently, in the order the versions list them."""
    old = {parameter.key: parameter for parameter in before}
    new = {parameter.key: parameter for parameter in after}
    changes = [
        ParameterChange(key=key, action=Action.REMOVE, before=parameter, after=None)
        for key, parameter in old.items()
        if key not in new
    ]
    for key, parameter in new.items():
        if key not in old:
            changes.append(
                ParameterChange(key=key, action=Action.ADD, before=None, after=parameter)
            )
            continue
        fields = [
            (field.encode_name, getattr(old[key], field.name), getattr(parameter, field.name))
            for field in msgspec.structs.fields(Parameter)
            if getattr(old[key], field.name) != getattr(parameter, field.name)
        ]
        if fields:
            changes.append(
                ParameterChange(
                    key=key, action=Action.UPDATE, before=old[key], after=parameter, fields=fields
                )
            )
    return changes


def _defaults(version: PackVersion) -> dict[str, Any]:
    return {p.key: p.default for p in version.parameters if p.default is not None}


def _with_defaults(value: Any, defaults: Mapping[str, Any]) -> Any:
    """`value` with `{parameter}` read as that parameter's default (if it has one)."""
    if isinstance(value, str):
        return substitute(value, {name: parameter_text(v) for name, v in defaults.items()})
    if isinstance(value, list):
        return [_with_defaults(element, defaults) for element in value]
    if isinstance(value, dict):
        return {name: _with_defaults(element, defaults) for name, element in value.items()}
    return value


def _parameters_in(value: Any) -> set[str]:
    if isinstance(value, str):
        return set(PARAMETER_REFERENCE.findall(value))
    if isinstance(value, list):
        return {name for element in value for name in _parameters_in(element)}
    if isinstance(value, dict):
        return {name for element in value.values() for name in _parameters_in(element)}
    return set()


# --- text -----------------------------------------------------------------------------------------


def render_diff(diff: VersionDiff, *, title: str, changes: list[str] | None = None) -> str:
    """A diff as text: a one-line summary, the changelog, parameters, then items added, removed
    and changed."""
    counts = diff.items.counts()
    parameters = f"{len(diff.parameters)} parameter(s) changed; " if diff.parameters else ""
    lines = [
        f"{title}: {parameters}{counts[Action.ADD]} added, {counts[Action.REMOVE]} removed, "
        f"{counts[Action.UPDATE]} changed, {counts[Action.UNCHANGED]} unchanged"
    ]
    if changes:
        lines += ["", "changes listed by the new version:", *(f"  * {c}" for c in changes)]
    if diff.parameters:
        lines += ["", f"parameters ({len(diff.parameters)}):"]
        lines += [line for change in diff.parameters for line in _parameter_lines(change)]
    for action, heading, sign in (
        (Action.ADD, "added", "+"),
        (Action.REMOVE, "removed", "-"),
        (Action.UPDATE, "changed", "~"),
    ):
        entries = diff.items.with_action(action)
        if not entries:
            continue
        lines += ["", f"{heading} ({len(entries)}):"]
        for entry in entries:
            lines.append(f"  {sign} {entry.kind} {entry.key}{_label(entry)}")
            if action is Action.UPDATE:
                lines += _field_lines(entry, diff.through)
    return "\n".join(lines)


def _parameter_lines(change: ParameterChange) -> list[str]:
    if change.action is Action.UPDATE:
        lines = [f"  ~ {change.key}"]
        for name, old, new in change.fields:
            lines += _change_lines(name, old, new)
        return lines
    parameter = change.after or change.before
    assert parameter is not None
    sign = "+" if change.action is Action.ADD else "-"
    default = (
        "required (no default)"
        if parameter.default is None
        else f"default {show_value(parameter.default)}"
    )
    return [f"  {sign} {change.key}: {parameter.type}, {default}"]


def _label(entry: PlanEntry) -> str:
    values: Mapping[str, Any] = entry.ours or entry.base or {}
    for name in _LABEL_FIELDS:
        if isinstance(values.get(name), str) and entry.action is not Action.UPDATE:
            return ": " + show_value(values[name], 70)
    return ""


def _field_lines(entry: PlanEntry, through: Mapping[tuple[ItemId, str], list[str]]) -> list[str]:
    lines = []
    for field in entry.fields:
        parameters = through.get((entry.item_id, field.field))
        note = (
            " (through parameter " + ", ".join(f"`{p}`" for p in parameters) + ")"
            if parameters
            else ""
        )
        lines += _change_lines(field.field, field.base, field.ours, note)
    return lines


def _change_lines(name: str, before: Any, after: Any, note: str = "") -> list[str]:
    old, new = show_value(before, _LONG), show_value(after, _LONG)
    if len(old) <= _SHORT and len(new) <= _SHORT:
        return [f"      {name}: {old} → {new}{note}"]
    return [f"      {name}:{note}", f"        - {old}", f"        + {new}"]
