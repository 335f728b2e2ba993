"""The three-way merge behind template upgrades, as pure functions.

An upgrade compares, per item (kind, key), three sets of seed values (see `values`):

* **base** — the version the workspace is pinned to, as it was seeded;
* **theirs** — what the workspace holds now (absent if the client deleted the item);
* **ours** — the target version.

`plan_upgrade` decides one action per item; `planned_items` is what the workspace holds once the
plan is applied (conflicts and kept items stay exactly as the client has them, a merged update
keeps the client's fields);
`render_plan` prints a plan for people. Nothing here touches a database.

| base | theirs | ours | action |
| --- | --- | --- | --- |
| x | x | x | unchanged |
| x | x | y | update (the client never touched it) |
| x | y | x | kept (the client changed it, the pack did not) |
| x | y | y | unchanged (both made the same change) |
| x | y | z | conflict; an update if they changed different fields (merged) |
| x | – | x | kept (the client deleted it; the pack did not change it) |
| x | – | y | conflict (the client deleted what the pack changed) |
| x | x | – | remove (the client never touched it) |
| x | y | – | kept (the client changed what the pack removes) |
| x | – | – | unchanged (gone from both) |
| – | – | y | add |
| – | y | y | unchanged (already there) |
| – | y | z | conflict (both added it, differently) |
| – | y | – | kept (not in either version; the client's to keep) |
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Mapping
from datetime import date
from typing import Any

import msgspec
from msgspec import UNSET, UnsetType

from templates_library.items import KINDS
from templates_library.values import (
    ItemId,
    ItemValues,
    client_row_id,
    in_field_order,
    references,
)

ItemSet = Mapping[ItemId, Mapping[str, Any]]


class Action(enum.StrEnum):
    UNCHANGED = "unchanged"
    UPDATE = "update"
    ADD = "add"
    REMOVE = "remove"
    CONFLICT = "conflict"
    KEPT = "kept"


class ChangedBy(enum.StrEnum):
    """Who moved a field away from base."""

    CLIENT = "client"
    PACK = "pack"
    BOTH = "both"  # both changed it, to different values
    SAME = "same"  # both changed it, to the same value


class FieldDifference(msgspec.Struct, frozen=True, kw_only=True):
    """One field side by side; a side is UNSET where that side has no such item or field."""

    field: str
    changed_by: ChangedBy
    base: Any | UnsetType = UNSET
    theirs: Any | UnsetType = UNSET
    ours: Any | UnsetType = UNSET


class PlanEntry(msgspec.Struct, frozen=True, kw_only=True):
    """What the upgrade does with one item, and why."""

    kind: str
    key: str
    action: Action
    reason: str
    base: ItemValues | None
    theirs: ItemValues | None
    ours: ItemValues | None
    # Fields where the three sides are not all equal (empty for unchanged items).
    fields: list[FieldDifference]
    # The client and the target changed different fields: an update merges them (`written`).
    # Held back, it is a conflict like any other.
    mergeable: bool = False
    # Held back again by a run to the version an earlier upgrade already held it back at (the
    # version it was first held at): on record, not new work.
    held_before: str | None = None

    @property
    def item_id(self) -> ItemId:
        return (self.kind, self.key)

    @property
    def written(self) -> ItemValues | None:
        """What an update writes: the target's item, or for a merge the target's values with
        the fields the client changed as the client has them (absent where it took one out)."""
        if not self.mergeable or self.ours is None or self.theirs is None:
            return self.ours
        client = {f.field for f in self.fields if f.changed_by is ChangedBy.CLIENT}
        merged = {name: value for name, value in self.ours.items() if name not in client}
        merged |= {name: self.theirs[name] for name in client if name in self.theirs}
        return in_field_order(self.kind, merged)


class UpgradePlan(msgspec.Struct, frozen=True, kw_only=True):
    """One entry per item in base, theirs or ours, ordered by kind then key."""

    entries: list[PlanEntry]

    def counts(self) -> dict[Action, int]:
        """How many entries take each action (every action listed, zeros included)."""
        counts = dict.fromkeys(Action, 0)
        for entry in self.entries:
            counts[entry.action] += 1
        return counts

    def with_action(self, *actions: Action) -> list[PlanEntry]:
        return [entry for entry in self.entries if entry.action in actions]

    @property
    def has_conflicts(self) -> bool:
        return any(entry.action is Action.CONFLICT for entry in self.entries)

    @property
    def writes(self) -> list[PlanEntry]:
        """The entries applying the plan writes: update, add and remove."""
        return self.with_action(Action.UPDATE, Action.ADD, Action.REMOVE)


# --- planning -------------------------------------------------------------------------------------


def plan_upgrade(base: ItemSet, theirs: ItemSet, ours: ItemSet) -> UpgradePlan:
    """The plan for moving a workspace holding `theirs`, seeded from `base`, to `ours`."""
    item_ids = set(base) | set(theirs) | set(ours)
    entries = [
        _entry(item_id, base.get(item_id), theirs.get(item_id), ours.get(item_id))
        for item_id in sorted(item_ids, key=item_order)
    ]
    return UpgradePlan(entries=entries)


def item_order(item_id: ItemId) -> tuple[int, str, str]:
    """Kinds in seeding order (unknown kinds last), then keys alphabetically."""
    kind, key = item_id
    rank = KINDS.index(kind) if kind in KINDS else len(KINDS)
    return (rank, kind, key)


def _entry(
    item_id: ItemId,
    base: Mapping[str, Any] | None,
    theirs: Mapping[str, Any] | None,
    ours: Mapping[str, Any] | None,
) -> PlanEntry:
    kind = item_id[0]
    action, reason = _decide(base, theirs, ours)
    fields = field_differences(base, theirs, ours, kind=kind)
    mergeable = action is Action.CONFLICT and _disjoint(base, theirs, ours, fields)
    if mergeable:
        action, reason = Action.UPDATE, MERGED
    return PlanEntry(
        kind=kind,
        key=item_id[1],
        action=action,
        reason=reason,
        base=None if base is None else in_field_order(kind, base),
        theirs=None if theirs is None else in_field_order(kind, theirs),
        ours=None if ours is None else in_field_order(kind, ours),
        fields=fields,
        mergeable=mergeable,
    )


MERGED = (
    "changed by the client and by the target version, in different fields: the target's "
    "changes are taken, the client's kept"
)


def _decide(
    base: Mapping[str, Any] | None,
    theirs: Mapping[str, Any] | None,
    ours: Mapping[str, Any] | None,
) -> tuple[Action, str]:
    if base is None:
        if ours is None:
            return Action.KEPT, "in neither version; left as the client has it"
        if theirs is None:
            return Action.ADD, "new in the target version"
        if same(theirs, ours):
            return Action.UNCHANGED, "the workspace already has the target's item"
        return Action.CONFLICT, "the client and the target version both added it, differently"
    if theirs is None:
        if ours is None:
            return Action.UNCHANGED, "removed by the client and by the target version"
        if same(base, ours):
            return Action.KEPT, "deleted by the client; the pack did not change it"
        return Action.CONFLICT, "deleted by the client but changed by the target version"
    client_changed = not same(base, theirs)
    if ours is None:
        if client_changed:
            return Action.KEPT, "changed by the client; the target version removes it"
        return Action.REMOVE, "removed in the target version; the client never changed it"
    pack_changed = not same(base, ours)
    if not client_changed and not pack_changed:
        return Action.UNCHANGED, "the same in the workspace and both versions"
    if not client_changed:
        return Action.UPDATE, "changed in the target version; the client never changed it"
    if not pack_changed:
        return Action.KEPT, "changed by the client; the pack did not change it"
    if same(theirs, ours):
        return Action.UNCHANGED, "the client already made the target version's change"
    return Action.CONFLICT, "changed by the client and by the target version"


def same(left: Mapping[str, Any], right: Mapping[str, Any]) -> bool:
    """Equal field values, where a missing field differs from any value (even None)."""
    return left.keys() == right.keys() and all(
        _same_value(left[name], right[name]) for name in left
    )


def _same_value(left: Any, right: Any) -> bool:
    # bool is an int in Python: True == 1 must not pass for an unchanged value.
    if isinstance(left, bool) or isinstance(right, bool):
        return type(left) is type(right) and left == right
    if isinstance(left, list | tuple) and isinstance(right, list | tuple):
        return len(left) == len(right) and all(map(_same_value, left, right))
    if isinstance(left, Mapping) and isinstance(right, Mapping):
        return same(left, right)
    return bool(left == right)


def field_differences(
    base: Mapping[str, Any] | None,
    theirs: Mapping[str, Any] | None,
    ours: Mapping[str, Any] | None,
    *,
    kind: str = "",
) -> list[FieldDifference]:
    """Every field where base, theirs and ours are not all equal, with who changed it.

    Fields come in the kind's usual order (`values.field_order`), others alphabetically, so the
    order of the dicts given does not matter.
    """
    names = in_field_order(kind, {**(base or {}), **(theirs or {}), **(ours or {})})
    differences = []
    for name in names:
        b, t, o = _value(base, name), _value(theirs, name), _value(ours, name)
        client, pack = not _same_side(b, t), not _same_side(b, o)
        if not client and not pack:
            continue
        if client and pack:
            changed_by = ChangedBy.SAME if _same_side(t, o) else ChangedBy.BOTH
        else:
            changed_by = ChangedBy.CLIENT if client else ChangedBy.PACK
        differences.append(
            FieldDifference(field=name, changed_by=changed_by, base=b, theirs=t, ours=o)
        )
    return differences


def _value(side: Mapping[str, Any] | None, name: str) -> Any | UnsetType:
    if side is None or name not in side:
        return UNSET
    return side[name]


def _same_side(left: Any | UnsetType, right: Any | UnsetType) -> bool:
    if left is UNSET or right is UNSET:
        return left is right
    return _same_value(left, right)


def _disjoint(
    base: Mapping[str, Any] | None,
    theirs: Mapping[str, Any] | None,
    ours: Mapping[str, Any] | None,
    fields: list[FieldDifference],
) -> bool:
    if base is None or theirs is None or ours is None:
        return False
    return all(field.changed_by in {ChangedBy.CLIENT, ChangedBy.PACK} for field in fields)


# --- keeping references whole ---------------------------------------------------------------------

# Items of these kinds belong to the workspace as a whole; every other kind sits in a programme.
WORKSPACE_WIDE: frozenset[str] = frozenset(
    {
        "programme",
        "role",
        "probability_level",
        "impact_level",
        "score_band",
        "proximity",
        "benefit_confidence",
        "scale_settings",
        "rag_rules",
        "custom_field",
        "register",
        "register_entry",
        "status_report",
        "report_section",
    }
)


def requirements(kind: str, values: Mapping[str, Any], programme: str | None) -> list[ItemId]:
    """The items an item cannot exist without: those it names, and the programme it sits in
    (`programme`: the key of the programme items that name none belong to). A row of the
    client's own that it names (`row:<uuid>`) is no pack item: the workspace has it."""
    needed = [need for need in references(kind, values) if client_row_id(need[1]) is None]
    if kind not in WORKSPACE_WIDE and programme is not None:
        needed.append(("programme", programme))
    return needed


def keep_references_whole(plan: UpgradePlan, theirs: ItemSet, programme: str | None) -> UpgradePlan:
    """The plan, changed so that applying it leaves no reference dangling.

    * An update or add that needs an item the workspace will not have (the client deleted it,
      or adding it was itself held back) becomes a conflict: the client decides.
    * A removal of an item that something kept still names is held back (kept).

    Repeated until nothing changes, as holding one item back may hold back others.
    """
    entries = {entry.item_id: entry for entry in plan.entries}
    while True:
        # Removals first: what a merged update keeps of the client's may name what the target
        # removes, and then the removal gives way, as for an item the client changed.
        final = planned_items(theirs, UpgradePlan(entries=list(entries.values())))
        changed = False
        named_by = {
            need: item_id
            for item_id, values in final.items()
            for need in requirements(item_id[0], values, programme)
        }
        for item_id, entry in list(entries.items()):
            if entry.action is Action.REMOVE and item_id in named_by:
                kind, key = named_by[item_id]
                entries[item_id] = _held_back(
                    entry, Action.KEPT, f"removed in the target version, but {kind} {key} needs it"
                )
                changed = True
        final = planned_items(theirs, UpgradePlan(entries=list(entries.values())))
        for item_id, entry in list(entries.items()):
            if entry.action in {Action.UPDATE, Action.ADD}:
                assert entry.written is not None
                missing = [
                    need
                    for need in requirements(entry.kind, entry.written, programme)
                    if need not in final
                ]
                if missing:
                    kind, key = missing[0]
                    entries[item_id] = _held_back(
                        entry, Action.CONFLICT, f"needs {kind} {key}, which the workspace lacks"
                    )
                    changed = True
        if not changed:
            return UpgradePlan(entries=list(entries.values()))


def hold_back(
    plan: UpgradePlan,
    held: Mapping[ItemId, str],
    actions: frozenset[Action] = frozenset({Action.REMOVE}),
    *,
    as_action: Action = Action.KEPT,
) -> UpgradePlan:
    """The plan with the entries in `held` whose action is one of `actions` (removals unless
    said) kept instead — or made `as_action` (a conflict: the client decides) — for the reason
    given."""
    return UpgradePlan(
        entries=[
            _held_back(entry, as_action, held[entry.item_id])
            if entry.action in actions and entry.item_id in held
            else entry
            for entry in plan.entries
        ]
    )


def _held_back(entry: PlanEntry, action: Action, reason: str) -> PlanEntry:
    return msgspec.structs.replace(entry, action=action, reason=reason, mergeable=False)


# --- the result of applying a plan ---------------------------------------------------------------


def planned_items(theirs: ItemSet, plan: UpgradePlan) -> dict[ItemId, ItemValues]:
    """What the workspace holds after the plan is applied, in plan order.

    Updates and adds take the target's values, removes drop the item, and everything else
    (unchanged, kept, conflict) stays exactly as the client has it.
    """
    result: dict[ItemId, ItemValues] = {}
    for entry in plan.entries:
        if entry.action in {Action.UPDATE, Action.ADD}:
            assert entry.written is not None
            result[entry.item_id] = dict(entry.written)
        elif entry.action is not Action.REMOVE and entry.item_id in theirs:
            result[entry.item_id] = dict(theirs[entry.item_id])
    return result


# --- for people -----------------------------------------------------------------------------------

_ACTION_ORDER = (
    Action.CONFLICT,
    Action.UPDATE,
    Action.ADD,
    Action.REMOVE,
    Action.KEPT,
    Action.UNCHANGED,
)
_SIGNS = {
    Action.CONFLICT: "!",
    Action.UPDATE: "~",
    Action.ADD: "+",
    Action.REMOVE: "-",
    Action.KEPT: "=",
    Action.UNCHANGED: " ",
}


def render_plan(plan: UpgradePlan, *, title: str = "", width: int = 40) -> str:
    """A plan as text: a summary table, then each item that is not unchanged.

    Conflicts show base, theirs (the workspace) and ours (the target) field by field.
    """
    counts = plan.counts()
    lines = [title] if title else []
    lines += _table(
        ["action", "items"], [[action.value, str(counts[action])] for action in _ACTION_ORDER]
    )
    for action in _ACTION_ORDER[:-1]:
        entries = plan.with_action(action)
        if not entries:
            continue
        lines += ["", f"{action.value} ({len(entries)}):"]
        for entry in entries:
            again = f" (held back before, at {entry.held_before})" if entry.held_before else ""
            lines.append(f"  {_SIGNS[action]} {entry.kind} {entry.key}: {entry.reason}{again}")
            if action is Action.CONFLICT:
                rows = [
                    [field.field, field.changed_by.value, *show_sides(field, width)]
                    for field in entry.fields
                ]
                header = ["field", "changed by", "base", "theirs (workspace)", "ours (target)"]
                lines += ["      " + line for line in _table(header, rows)]
            elif action is Action.UPDATE:
                lines += [
                    f"      {field.field}: {show_value(field.theirs, width)} (the client's, kept)"
                    if field.changed_by is ChangedBy.CLIENT
                    else f"      {field.field}: {show_value(field.base, width)} → "
                    f"{show_value(field.ours, width)}"
                    for field in entry.fields
                ]
    return "\n".join(lines)


def show_sides(field: FieldDifference, width: int = 40) -> list[str]:
    """Base, theirs and ours of one field in short lines. Lists show where they differ: the
    elements the sides share at the start and end are counted, not shown (`…2 same`), so
    lists that differ in their third member do not all print as the same first 40
    characters."""
    sides = [field.base, field.theirs, field.ours]
    lists = [side for side in sides if isinstance(side, list)]
    if len(lists) < 2 or any(side is not UNSET and not isinstance(side, list) for side in sides):
        return [show_value(side, width) for side in sides]
    shortest = min(len(side) for side in lists)
    start = 0
    while start < shortest and all(_same_value(side[start], lists[0][start]) for side in lists):
        start += 1
    end = 0
    while end < shortest - start and all(
        _same_value(side[-1 - end], lists[0][-1 - end]) for side in lists
    ):
        end += 1
    return [
        show_value(side, width)
        if not isinstance(side, list)
        else _show_middle(side[start : len(side) - end], start, end, width)
        for side in sides
    ]


def _show_middle(middle: list[Any], before: int, after: int, width: int) -> str:
    parts = [f"…{before} same"] if before else []
    parts += [show_value(element, width) for element in middle] or ["(none)"]
    parts += [f"{after} same…"] if after else []
    return "[" + ", ".join(parts) + "]"


def show_value(value: Any | UnsetType, width: int = 40) -> str:
    """A field value in one short line: text quoted, dates ISO, `(absent)` for no value."""
    if value is UNSET:
        text = "(absent)"
    elif value is None:
        text = "–"
    elif isinstance(value, str):
        text = f'"{value}"'
    elif isinstance(value, bool):
        text = "true" if value else "false"
    elif isinstance(value, date):
        text = value.isoformat()
    else:
        # Lists and dicts as compact JSON (dates inside them in ISO form, anything else as text).
        text = msgspec.json.encode(value, enc_hook=str).decode()
    text = " ".join(text.split())
    return text if len(text) <= width else text[: width - 1] + "…"


def _table(header: list[str], rows: Iterable[list[str]]) -> list[str]:
    rows = list(rows)
    widths = [max(len(row[i]) for row in [header, *rows]) for i in range(len(header))]

    def fmt(row: list[str]) -> str:
        cells = (cell.ljust(width) for cell, width in zip(row, widths, strict=True))
        return "  ".join(cells).rstrip()

    return [fmt(header), fmt(["-" * width for width in widths]), *map(fmt, rows)]
