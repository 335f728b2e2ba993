"""The three-way upgrade merge: one test per case, real pack versions, and properties."""

from __future__ import annotations

import random
from datetime import date
from typing import Any

import msgspec
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from templates_library.loader import PACKS_DIR, load_library, load_pack
from templates_library.schema import PackVersion
from templates_library.upgrade import (
    Action,
    ChangedBy,
    ItemSet,
    UpgradePlan,
    hold_back,
    item_order,
    keep_references_whole,
    plan_upgrade,
    planned_items,
    render_plan,
    same,
)
from templates_library.values import ItemId, ItemValues, seed_values

RISK: ItemId = ("risk", "supplier-late")
BOARD: ItemId = ("board", "programme-board")
BASE: ItemValues = {"title": "Supplier late", "probability": 3, "owner": "manager"}


def only_entry(base: ItemValues | None, theirs: ItemValues | None, ours: ItemValues | None) -> Any:
    plan = plan_upgrade(
        {RISK: base} if base is not None else {},
        {RISK: theirs} if theirs is not None else {},
        {RISK: ours} if ours is not None else {},
    )
    (entry,) = plan.entries
    return entry


def changed(**fields: Any) -> ItemValues:
    return {**BASE, **fields}


# --- one test per case ----------------------------------------------------------------------------


def test_untouched_item_the_pack_did_not_change_is_unchanged() -> None:
    entry = only_entry(BASE, dict(BASE), dict(BASE))

    assert entry.action is Action.UNCHANGED
    assert entry.fields == []


def test_untouched_item_the_pack_changed_is_updated() -> None:
    entry = only_entry(BASE, dict(BASE), changed(probability=4))

    assert entry.action is Action.UPDATE
    assert [(f.field, f.changed_by, f.base, f.ours) for f in entry.fields] == [
        ("probability", ChangedBy.PACK, 3, 4)
    ]


def test_item_new_in_the_target_is_added() -> None:
    entry = only_entry(None, None, dict(BASE))

    assert entry.action is Action.ADD
    assert entry.ours == BASE


def test_untouched_item_gone_from_the_target_is_removed() -> None:
    entry = only_entry(BASE, dict(BASE), None)

    assert entry.action is Action.REMOVE


def test_item_the_client_changed_and_the_pack_did_not_is_kept() -> None:
    entry = only_entry(BASE, changed(owner="sponsor"), dict(BASE))

    assert entry.action is Action.KEPT
    assert [(f.field, f.changed_by) for f in entry.fields] == [("owner", ChangedBy.CLIENT)]


def test_item_both_changed_is_a_conflict_shown_field_by_field() -> None:
    entry = only_entry(
        BASE,
        changed(title="Our supplier late", owner="sponsor"),
        changed(title="Supplier delivers late"),
    )

    assert entry.action is Action.CONFLICT
    assert (entry.base, entry.theirs, entry.ours) == (
        BASE,
        changed(title="Our supplier late", owner="sponsor"),
        changed(title="Supplier delivers late"),
    )
    sides = {f.field: (f.changed_by, f.base, f.theirs, f.ours) for f in entry.fields}
    assert sides == {
        "title": (ChangedBy.BOTH, "Supplier late", "Our supplier late", "Supplier delivers late"),
        "owner": (ChangedBy.CLIENT, "manager", "sponsor", "manager"),
    }
    assert not entry.mergeable  # both changed the title


def test_changes_to_different_fields_are_merged() -> None:
    entry = only_entry(BASE, changed(owner="sponsor"), changed(probability=5))

    assert entry.action is Action.UPDATE and entry.mergeable
    assert entry.reason.startswith("changed by the client and by the target version, in different")
    assert {f.field: f.changed_by for f in entry.fields} == {
        "probability": ChangedBy.PACK,
        "owner": ChangedBy.CLIENT,
    }
    assert entry.ours == changed(probability=5)  # the target, as shown side by side
    assert entry.written == changed(owner="sponsor", probability=5)  # what is written


def test_a_merge_keeps_a_field_the_client_took_out() -> None:
    theirs = {name: value for name, value in BASE.items() if name != "owner"}
    entry = only_entry(BASE, theirs, changed(title="Supplier late again"))

    assert entry.action is Action.UPDATE and entry.mergeable
    assert entry.written == {"title": "Supplier late again", "probability": 3}


def test_the_same_change_on_both_sides_is_unchanged() -> None:
    entry = only_entry(BASE, changed(probability=4), changed(probability=4))

    assert entry.action is Action.UNCHANGED
    assert [(f.field, f.changed_by) for f in entry.fields] == [("probability", ChangedBy.SAME)]


def test_item_the_client_changed_and_the_target_removes_is_kept() -> None:
    entry = only_entry(BASE, changed(probability=1), None)

    assert entry.action is Action.KEPT
    assert "target version removes it" in entry.reason


def test_item_the_client_deleted_and_the_pack_did_not_change_stays_deleted() -> None:
    entry = only_entry(BASE, None, dict(BASE))

    assert entry.action is Action.KEPT
    assert "deleted by the client" in entry.reason


def test_item_the_client_deleted_and_the_pack_changed_is_reported_as_a_conflict() -> None:
    entry = only_entry(BASE, None, changed(probability=4))

    assert entry.action is Action.CONFLICT
    assert entry.theirs is None
    assert "deleted by the client but changed" in entry.reason
    assert {f.field: f.theirs for f in entry.fields}["probability"] is msgspec.UNSET


def test_item_gone_from_workspace_and_target_is_unchanged() -> None:
    assert only_entry(BASE, None, None).action is Action.UNCHANGED


def test_item_the_workspace_already_has_as_the_target_adds_it_is_unchanged() -> None:
    assert only_entry(None, dict(BASE), dict(BASE)).action is Action.UNCHANGED


def test_item_added_differently_on_both_sides_is_a_conflict() -> None:
    assert only_entry(None, changed(owner="sponsor"), dict(BASE)).action is Action.CONFLICT


def test_workspace_item_in_neither_version_is_kept() -> None:
    assert only_entry(None, dict(BASE), None).action is Action.KEPT


def test_a_field_the_workspace_lacks_counts_as_changed_not_as_equal() -> None:
    without_owner = {name: value for name, value in BASE.items() if name != "owner"}

    entry = only_entry(BASE, without_owner, dict(BASE))

    assert entry.action is Action.KEPT
    assert [(f.field, f.theirs) for f in entry.fields] == [("owner", msgspec.UNSET)]


def test_values_compare_as_the_database_returns_them() -> None:
    assert same({"a": [1, 2], "d": date(2026, 1, 1)}, {"a": (1, 2), "d": date(2026, 1, 1)})
    assert same({"target": 10.0}, {"target": 10})
    assert not same({"mandatory": True}, {"mandatory": 1})
    assert not same({"lead": None}, {})
    assert same({"quorum": {"minimum_members": 2}}, {"quorum": {"minimum_members": 2}})


# --- applying and rendering -----------------------------------------------------------------------


def test_applying_a_plan_follows_the_target_only_where_the_client_did_not_change_anything() -> None:
    base = {("risk", "a"): {"v": 1}, ("risk", "b"): {"v": 1}, ("risk", "c"): {"v": 1}}
    theirs = {("risk", "a"): {"v": 1}, ("risk", "b"): {"v": 2}, ("issue", "mine"): {"v": 9}}
    ours = {("risk", "a"): {"v": 3}, ("risk", "b"): {"v": 3}, ("risk", "d"): {"v": 1}}

    plan = plan_upgrade(base, theirs, ours)

    assert {e.item_id: e.action for e in plan.entries} == {
        ("risk", "a"): Action.UPDATE,
        ("risk", "b"): Action.CONFLICT,
        ("risk", "c"): Action.UNCHANGED,  # deleted by the client, removed by the target
        ("risk", "d"): Action.ADD,
        ("issue", "mine"): Action.KEPT,
    }
    assert planned_items(theirs, plan) == {
        ("risk", "a"): {"v": 3},
        ("risk", "b"): {"v": 2},
        ("risk", "d"): {"v": 1},
        ("issue", "mine"): {"v": 9},
    }


def test_rendered_plan_has_a_summary_and_conflicts_side_by_side() -> None:
    plan = plan_upgrade(
        {RISK: BASE, ("risk", "gone"): BASE},
        {RISK: changed(title="Ours"), ("risk", "gone"): BASE},
        {RISK: changed(title="Theirs")},
    )

    text = render_plan(plan, title="tiny 1.0.0 → 1.1.0")

    lines = text.splitlines()
    assert lines[0] == "tiny 1.0.0 → 1.1.0"
    assert "conflict   1" in lines
    assert "remove     1" in lines
    assert "  ! risk supplier-late: changed by the client and by the target version" in lines
    row = next(line for line in lines if line.strip().startswith("title"))
    assert row.split() == ["title", "both", '"Supplier', 'late"', '"Ours"', '"Theirs"']
    assert "  - risk gone: removed in the target version; the client never changed it" in lines


# --- real pack versions ---------------------------------------------------------------------------

PARAMS = {"start_date": "2026-01-05", "programme_name": "Atlas"}


@pytest.mark.parametrize(
    "version",
    [
        pytest.param(loaded.version, id=f"{pack.key}@{loaded.version.version}")
        for pack in load_library()
        for loaded in pack.versions
        if loaded.version is not None
    ],
)
def test_upgrading_a_shipped_version_to_itself_changes_nothing(version: PackVersion) -> None:
    values = seed_values(version, PARAMS)

    plan = plan_upgrade(values, dict(values), values)

    assert plan.counts()[Action.UNCHANGED] == len(values) == len(plan.entries)


@pytest.mark.parametrize("key", ["msp-governance", "project-pmo-light"])
def test_untouched_workspace_upgrades_exactly_to_the_target(key: str) -> None:
    # The first two versions: a later one may add nothing, update nothing or remove nothing.
    first, second = (loaded.version for loaded in load_pack(PACKS_DIR / key).versions[:2])
    assert first is not None and second is not None
    base, ours = seed_values(first, PARAMS), seed_values(second, PARAMS)

    plan = plan_upgrade(base, dict(base), ours)

    counts = plan.counts()
    assert counts[Action.CONFLICT] == counts[Action.KEPT] == 0
    assert counts[Action.UPDATE] and counts[Action.ADD] and counts[Action.REMOVE]
    assert planned_items(base, plan) == ours


def test_project_pmo_light_upgrade_with_client_changes() -> None:
    first, second = (
        loaded.version for loaded in load_pack(PACKS_DIR / "project-pmo-light").versions[:2]
    )
    assert first is not None and second is not None
    base, ours = seed_values(first, PARAMS), seed_values(second, PARAMS)
    theirs = dict(base)
    board = ("board", "project-board")
    theirs[board] = {**base[board], "cadence": "weekly"}  # 1.1.0 makes it fortnightly
    theirs[("risk", "key-person")] = {**base[("risk", "key-person")], "probability": 4}
    del theirs[("issue", "environment-delay")]  # 1.1.0 drops it too

    plan = plan_upgrade(base, theirs, ours)

    actions = {e.item_id: e.action for e in plan.entries}
    assert actions[board] is Action.CONFLICT
    assert actions[("risk", "key-person")] is Action.KEPT
    assert actions[("issue", "environment-delay")] is Action.UNCHANGED
    assert actions[("risk", "personal-data")] is Action.ADD
    assert actions[("gate_criterion", "end-of-initiation/plan-baselined")] is Action.UPDATE
    assert planned_items(theirs, plan)[board]["cadence"] == "weekly"


# --- properties -----------------------------------------------------------------------------------

_kinds = st.sampled_from(["risk", "gate", "gate_criterion", "benefit", "zz_unknown"])
_keys = st.sampled_from(["a", "b", "c", "d", "e/f"])
_values = st.one_of(
    st.integers(-2, 2),
    st.sampled_from(["x", "y", ""]),
    st.none(),
    st.booleans(),
    st.lists(st.integers(0, 2), max_size=2),
)
_fields = st.dictionaries(st.sampled_from(["title", "owner", "n", "tags"]), _values, max_size=4)
_item_sets = st.dictionaries(st.tuples(_kinds, _keys), _fields, max_size=8)


@st.composite
def _edited(draw: st.DrawFn, base: ItemSet) -> dict[ItemId, ItemValues]:
    """`base` with some items kept, changed or deleted, and some new ones."""
    edited: dict[ItemId, ItemValues] = {}
    for item_id, fields in base.items():
        fate = draw(st.sampled_from(["keep", "keep", "change", "delete"]))
        if fate == "keep":
            edited[item_id] = dict(fields)
        elif fate == "change":
            edited[item_id] = draw(_fields)
    edited.update(draw(_item_sets))
    return edited


@st.composite
def _three_sides(draw: st.DrawFn) -> tuple[ItemSet, ItemSet, ItemSet]:
    base = draw(_item_sets)
    return base, draw(_edited(base)), draw(_edited(base))


def _shuffled(items: ItemSet, seed: int) -> dict[ItemId, ItemValues]:
    rng = random.Random(seed)
    ids = list(items)
    rng.shuffle(ids)
    shuffled = {}
    for item_id in ids:
        names = list(items[item_id])
        rng.shuffle(names)
        shuffled[item_id] = {name: items[item_id][name] for name in names}
    return shuffled


def _encoded(plan: UpgradePlan) -> bytes:
    return msgspec.json.encode(plan)


# The same examples every run (CI must not flake) and nothing written to .hypothesis/.
PROPERTY = settings(derandomize=True, database=None, max_examples=200, deadline=None)


@PROPERTY
@given(_item_sets)
def test_upgrading_to_the_same_version_changes_nothing(items: ItemSet) -> None:
    plan = plan_upgrade(items, items, items)

    assert all(entry.action is Action.UNCHANGED for entry in plan.entries)
    assert planned_items(items, plan) == items


@PROPERTY
@given(_three_sides())
def test_workspace_equal_to_base_gets_no_conflicts_or_kept_items_and_becomes_the_target(
    sides: tuple[ItemSet, ItemSet, ItemSet],
) -> None:
    base, _, ours = sides

    plan = plan_upgrade(base, dict(base), ours)

    assert not plan.with_action(Action.CONFLICT, Action.KEPT)
    assert planned_items(base, plan) == ours


@PROPERTY
@given(_three_sides())
def test_target_equal_to_base_keeps_the_workspace_as_it_is(
    sides: tuple[ItemSet, ItemSet, ItemSet],
) -> None:
    base, theirs, _ = sides

    plan = plan_upgrade(base, theirs, dict(base))

    assert not plan.writes and not plan.has_conflicts
    assert planned_items(theirs, plan) == theirs


@settings(PROPERTY, max_examples=500)
@given(_three_sides())
def test_client_changes_survive_and_untouched_items_follow_the_target(
    sides: tuple[ItemSet, ItemSet, ItemSet],
) -> None:
    base, theirs, ours = sides

    plan = plan_upgrade(base, theirs, ours)
    after = planned_items(theirs, plan)

    for item_id in set(base) | set(theirs) | set(ours):
        before, now, target = base.get(item_id), theirs.get(item_id), ours.get(item_id)
        client_touched = _differs(before, now)
        pack_touched = _differs(before, target)
        entry = next(e for e in plan.entries if e.item_id == item_id)
        both = client_touched and pack_touched and target is not None and _differs(now, target)
        # Changed by both, in different fields: merged field by field.
        merged = (
            both
            and before is not None
            and now is not None
            and target is not None
            and not _fields_both_changed(before, now, target)
        )
        if merged:
            assert before is not None and now is not None and target is not None
            expected = {
                name: (now if _field_differs(before, now, name) else target)[name]
                for name in set(before) | set(now) | set(target)
                if name in (now if _field_differs(before, now, name) else target)
            }
            assert not _differs(after.get(item_id), expected)
            assert entry.action is Action.UPDATE and entry.mergeable
        else:
            assert not _differs(after.get(item_id), now if client_touched else target)
        # A client's change to an item the target removes is kept, not a conflict.
        assert (entry.action is Action.CONFLICT) == (both and not merged)


_ABSENT = object()


def _field_differs(left: ItemValues, right: ItemValues, name: str) -> bool:
    one, other = left.get(name, _ABSENT), right.get(name, _ABSENT)
    if one is _ABSENT or other is _ABSENT:
        return one is not other
    return not same({name: one}, {name: other})


def _fields_both_changed(base: ItemValues, theirs: ItemValues, ours: ItemValues) -> bool:
    return any(
        _field_differs(base, theirs, name) and _field_differs(base, ours, name)
        for name in set(base) | set(theirs) | set(ours)
    )


def _differs(left: ItemValues | None, right: ItemValues | None) -> bool:
    if left is None or right is None:
        return left is not right
    return not same(left, right)


@PROPERTY
@given(_three_sides(), st.integers(0, 1000))
def test_plan_is_deterministic_whatever_the_order_of_the_inputs(
    sides: tuple[ItemSet, ItemSet, ItemSet], seed: int
) -> None:
    base, theirs, ours = sides

    plan = plan_upgrade(base, theirs, ours)
    again = plan_upgrade(
        _shuffled(base, seed), _shuffled(theirs, seed + 1), _shuffled(ours, seed + 2)
    )

    assert _encoded(plan) == _encoded(again)
    assert [e.item_id for e in plan.entries] == sorted(
        set(base) | set(theirs) | set(ours), key=item_order
    )


# --- references kept whole ---------------------------------------------------------------------

PROGRAMME: ItemId = ("programme", "programme")
GATE: ItemId = ("gate", "gate")
CRITERION: ItemId = ("gate_criterion", "gate/ready")
GATE_VALUES: ItemValues = {"title": "Gate", "board": "board", "after_tranche": None}


def test_an_add_needing_an_item_the_client_deleted_becomes_a_conflict_and_so_do_its_children() -> (
    None
):
    base = {PROGRAMME: {"title": "P"}, ("board", "board"): {"title": "B"}, GATE: GATE_VALUES}
    theirs = {PROGRAMME: {"title": "P"}, GATE: GATE_VALUES}  # the client deleted the board
    ours = {
        **base,
        GATE: {**GATE_VALUES, "title": "Gate, renamed"},
        CRITERION: {"gate": "gate", "text": "Ready"},
        ("gate", "new"): {**GATE_VALUES, "title": "New gate"},
        ("gate_criterion", "new/ready"): {"gate": "new", "text": "Ready"},
    }

    plan = keep_references_whole(plan_upgrade(base, theirs, ours), theirs, "programme")

    found = {entry.item_id: entry for entry in plan.entries}
    assert found[GATE].action is Action.CONFLICT  # an update needing the deleted board
    assert found[GATE].reason == "needs board board, which the workspace lacks"
    assert found[("gate", "new")].action is Action.CONFLICT
    # The criterion of the held-back new gate is held back in turn; the existing gate's is fine.
    assert found[("gate_criterion", "new/ready")].action is Action.CONFLICT
    assert found[CRITERION].action is Action.ADD


def test_a_removal_that_a_kept_item_still_names_is_kept() -> None:
    role: ItemId = ("role", "sponsor")
    risk_values: ItemValues = {"title": "R", "owner": "sponsor"}
    base = {PROGRAMME: {"title": "P"}, role: {"title": "Sponsor"}, RISK: risk_values}
    theirs = {**base, RISK: {**risk_values, "title": "Ours now"}}
    ours = {PROGRAMME: {"title": "P"}, RISK: {"title": "Theirs", "owner": None}}

    plan = keep_references_whole(plan_upgrade(base, theirs, ours), theirs, "programme")

    found = {entry.item_id: entry for entry in plan.entries}
    assert found[RISK].action is Action.CONFLICT
    assert found[role].action is Action.KEPT
    assert found[role].reason == "removed in the target version, but risk supplier-late needs it"


def test_a_removal_that_a_merged_update_still_names_is_kept() -> None:
    """The merge writes the client's owner, so the role the target removes is still needed."""
    role: ItemId = ("role", "sponsor")
    risk_values: ItemValues = {"title": "R", "owner": "manager"}
    base = {
        PROGRAMME: {"title": "P"},
        role: {"title": "Sponsor"},
        ("role", "manager"): {"title": "Manager"},
        RISK: risk_values,
    }
    theirs = {**base, RISK: {**risk_values, "owner": "sponsor"}}
    ours = {**base, RISK: {**risk_values, "title": "R, reworded"}}
    del ours[role]

    plan = keep_references_whole(plan_upgrade(base, theirs, ours), theirs, "programme")

    found = {entry.item_id: entry for entry in plan.entries}
    assert found[RISK].action is Action.UPDATE and found[RISK].mergeable
    assert found[RISK].written == {"title": "R, reworded", "owner": "sponsor"}
    assert found[role].action is Action.KEPT
    assert found[role].reason == "removed in the target version, but risk supplier-late needs it"


def test_removing_the_programme_is_held_back_while_anything_remains_in_it() -> None:
    base = {PROGRAMME: {"title": "P"}, RISK: dict(BASE)}
    theirs = {PROGRAMME: {"title": "P"}, RISK: changed(title="Kept by the client")}

    plan = keep_references_whole(plan_upgrade(base, theirs, {}), theirs, "programme")

    assert {e.item_id: e.action for e in plan.entries} == {
        PROGRAMME: Action.KEPT,
        RISK: Action.KEPT,
    }


def test_held_back_removals_are_kept_for_the_reason_given() -> None:
    plan = plan_upgrade({RISK: BASE}, {RISK: dict(BASE)}, {})

    held = hold_back(plan, {RISK: "still used"})

    (entry,) = held.entries
    assert (entry.action, entry.reason) == (Action.KEPT, "still used")


def test_a_conflict_on_a_list_shows_the_members_that_differ() -> None:
    chair = {"role": "sponsor", "capacity": "chair"}
    manager = {"role": "manager", "capacity": "member"}
    base = {"members": [chair, manager, {"role": "assurer", "capacity": "observer"}]}
    theirs = {"members": [chair, manager, {"role": "assurer", "capacity": "adviser"}]}
    ours = {"members": [chair, manager, {"role": "assurer", "capacity": "member"}, manager]}
    plan = plan_upgrade({BOARD: base}, {BOARD: theirs}, {BOARD: ours})

    row = next(line for line in render_plan(plan).splitlines() if "members" in line)

    for capacity in ("observer", "adviser", '"member"},'):
        assert capacity in row, row
    assert row.count("…2 same") == 3
