"""What changed between two pack versions, item by item and field by field.

A version diff is the upgrade of a workspace nobody touched: base and theirs are the first
version, ours the second, compared in pack terms (`values.pack_fields`: day offsets and
`{parameter}` text as written), so no parameters are needed.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from templates_library.schema import PackVersion
from templates_library.upgrade import Action, PlanEntry, UpgradePlan, plan_upgrade, show_value
from templates_library.values import pack_fields

_LABEL_FIELDS = ("title", "label", "text", "statement", "activity", "group", "name")
_SHORT = 36
_LONG = 400


def diff_versions(before: PackVersion, after: PackVersion) -> UpgradePlan:
    """Every item as unchanged, update (changed), add (added) or remove (removed)."""
    fields = pack_fields(before)
    return plan_upgrade(fields, fields, pack_fields(after))


def render_diff(diff: UpgradePlan, *, title: str, changes: list[str] | None = None) -> str:
    """A diff as text: a one-line summary, the changelog, then added, removed and changed."""
    counts = diff.counts()
    lines = [
        f"{title}: {counts[Action.ADD]} added, {counts[Action.REMOVE]} removed, "
        f"{counts[Action.UPDATE]} changed, {counts[Action.UNCHANGED]} unchanged"
    ]
    if changes:
        lines += ["", "changes listed by the new version:", *(f"  * {c}" for c in changes)]
    for action, heading, sign in (
        (Action.ADD, "added", "+"),
        (Action.REMOVE, "removed", "-"),
        (Action.UPDATE, "changed", "~"),
    ):
        entries = diff.with_action(action)
        if not entries:
            continue
        lines += ["", f"{heading} ({len(entries)}):"]
        for entry in entries:
            lines.append(f"  {sign} {entry.kind} {entry.key}{_label(entry)}")
            if action is Action.UPDATE:
                lines += _field_lines(entry)
    return "\n".join(lines)


def _label(entry: PlanEntry) -> str:
    values: Mapping[str, Any] = entry.ours or entry.base or {}
    for name in _LABEL_FIELDS:
        if isinstance(values.get(name), str) and entry.action is not Action.UPDATE:
            return ": " + show_value(values[name], 70)
    return ""


def _field_lines(entry: PlanEntry) -> list[str]:
    lines = []
    for field in entry.fields:
        before, after = show_value(field.base, _LONG), show_value(field.ours, _LONG)
        if len(before) <= _SHORT and len(after) <= _SHORT:
            lines.append(f"      {field.field}: {before} → {after}")
        else:
            lines += [f"      {field.field}:", f"        - {before}", f"        + {after}"]
    return lines
