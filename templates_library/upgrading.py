"""Live upgrades of seeded workspaces: plan by three-way merge, apply in one transaction.

For a workspace pinned to `pack` `v1` with parameters `p`:

* **base** — `seed_values(v1, p)`: what seeding wrote;
* **theirs** — the workspace's pack rows read back (`reading.read_pack_items`);
* **ours** — `seed_values(v2, p)` (parameters the target no longer declares are dropped; new
  ones take their defaults).

`upgrade.plan_upgrade` decides per item, then the plan is made safe to apply: nothing it writes
may need an item the workspace lacks, and nothing still named — by a kept item or by any of the
client's own rows — is removed (`upgrade.keep_references_whole`, `_named_by_client_rows`).
`apply_upgrade` writes adds, updates and removals, and moves the pin, in the caller's
transaction: if anything fails, nothing changes. Conflicts and kept items stay as the client
has them. Each update passes its register's rules (those of the API's update), and each add
those of the API's create, or is not written and becomes a conflict with the rule's message;
`plan_upgrade` rehearses the writes in a savepoint it rolls back, so a dry run reports the same
conflicts.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from typing import Any

import msgspec
from sqlalchemy import (
    ColumnElement,
    ForeignKeyConstraint,
    Select,
    Table,
    UniqueConstraint,
    delete,
    func,
    select,
    tuple_,
)
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncSession

from services.catalogue import service as catalogue
from services.catalogue.service import version_key
from services.db.base import WORKSPACE_SCHEMA, WorkspaceModel, metadata
from services.db.engine import Database, UnknownCellError
from services.db.tenant_scope import TenantScope, TenantScopeError, scope_of
from services.errors import (
    Conflict,
    Forbidden,
    NotFound,
    ProblemError,
    ValidationFailed,
    field_error,
)
from services.tenancy.models import Tenant, TenantState
from services.workspace import clock
from services.workspace.benefits.models import Benefit, BenefitEnabler
from services.workspace.configuration.custom_fields import register_rows, values_in_use
from services.workspace.configuration.service import (
    forget_configuration,
    validate_custom_fields,
)
from services.workspace.gates.models import (
    CriterionStatus,
    GateBoundary,
    GateCriterion,
    GateState,
    StageGate,
)
from services.workspace.gates.rules import criteria_settled, may_decide
from services.workspace.gates.service import GateService
from services.workspace.governance.models import Board, BoardMember
from services.workspace.models import CarriesCustomFields
from services.workspace.organisation.models import ProgrammeRole, RaciEntry
from services.workspace.raid.models import Risk
from services.workspace.registers import (
    delete_seeded,
    insert_seeded,
    insert_seeded_tables,
    move_versions_on,
    update_seeded,
)
from services.workspace.structure.service import closed_tranches, lock_programme
from services.workspace.templates import service as pins
from services.workspace.templates.models import TemplatePin
from services.workspace.templates.schemas import AppliedVia, UpgradeConflict
from templates_library import upgrade as merge
from templates_library.reading import WorkspaceItems, read_pack_items
from templates_library.rows import (
    SCALES,
    SETTINGS_ROW,
    STORED,
    TABLE_ORDER,
    Row,
    Writing,
    benefit_enablers,
    board_seats,
    plain,
    rows_for,
)
from templates_library.schema import PackVersion
from templates_library.seeding import PUBLISHED, PackVersions
from templates_library.upgrade import Action, UpgradePlan
from templates_library.values import ItemId, ItemValues, item_ref, parse_item_ref

# Tenants whose pins are read in one statement when looking for every workspace on a pack.
PIN_BATCH = 500


class WorkspaceUpgrade(msgspec.Struct, frozen=True, kw_only=True):
    """An upgrade of one workspace: planned (a dry run) or applied."""

    tenant_id: uuid.UUID
    pack: str
    from_version: str
    to_version: str
    plan: UpgradePlan
    applied: bool = False


@dataclass
class _Prepared:
    pack: str
    pin_version: str
    target: PackVersion
    ours: dict[ItemId, ItemValues]
    theirs: WorkspaceItems
    plan: UpgradePlan
    # Items an earlier upgrade held back → how long (for the reasons, once the plan is final).
    behind: dict[ItemId, str]
    # Items the merge itself leaves as the client has them (conflicts, kept).
    decided: set[ItemId]
    # Items of decided gates, whose record stands: held back for good, not due.
    standing: set[ItemId]
    # The pin's record of what earlier upgrades held back (`TemplatePin.held_items`).
    held_items: dict[str, str]


async def plan_upgrade(
    session: AsyncSession,
    tenant_id: uuid.UUID,
    pack: str | None,
    to_version: str | None,
    *,
    catalogue: AsyncSession | None = None,
    versions: PackVersions | None = None,
    take: Collection[str] = (),
) -> WorkspaceUpgrade:
    """What upgrading the workspace to `to_version` (None: the latest) would do; writes nothing.

    `session` is scoped to the workspace; `catalogue` reads published versions (default: the
    same session, which works on the control plane's cell). `pack`, if given, must be the pack
    the workspace follows. `take` names conflicts (`kind:key`) settled by taking the target
    version's values (`_taking_the_target`). Raises `NotFound` (no pin, no such version),
    `Conflict`, or `ValidationFailed` (`take` names what is not such a conflict).
    """
    prepared = await _prepare(
        session, tenant_id, pack, to_version, catalogue, versions, False, take
    )
    # The rules a row must pass read the workspace as the upgrade leaves it so far (a gate
    # moving to a board the upgrade adds …): rehearse the writes, then take them back.
    savepoint = await session.begin_nested()
    try:
        await _apply(session, tenant_id, prepared, None, move_pin=False)
    finally:
        await savepoint.rollback()
        forget_configuration(session)
    return _result(tenant_id, prepared, applied=False)


async def apply_upgrade(
    session: AsyncSession,
    tenant_id: uuid.UUID,
    pack: str | None,
    to_version: str | None,
    *,
    catalogue: AsyncSession | None = None,
    versions: PackVersions | None = None,
    actor_id: uuid.UUID | None = None,
    take: Collection[str] = (),
    via: AppliedVia | None = None,
) -> WorkspaceUpgrade:
    """Plan and apply the upgrade in the caller's transaction, and pin the target version,
    recording who applied it (`actor_id`) and how (`via`) on the pin.

    The pin is locked first, so two upgrades of one workspace run one after the other. Roll
    the transaction back on any error and the workspace is as it was.
    """
    prepared = await _prepare(session, tenant_id, pack, to_version, catalogue, versions, True, take)
    await _apply(session, tenant_id, prepared, actor_id, move_pin=True, via=via)
    return _result(tenant_id, prepared, applied=True)


def _result(tenant_id: uuid.UUID, prepared: _Prepared, *, applied: bool) -> WorkspaceUpgrade:
    return WorkspaceUpgrade(
        tenant_id=tenant_id,
        pack=prepared.pack,
        from_version=prepared.pin_version,
        to_version=prepared.target.version,
        plan=_held_before(_saying_why(prepared.plan, prepared.behind), prepared),
        applied=applied,
    )


def _held_before(plan: UpgradePlan, prepared: _Prepared) -> UpgradePlan:
    """The plan, marking what it holds back again that the pin records as held back when the
    workspace moved to this same target: a later run (`upgrade --all`, a dry run) shows it as
    held before, not as new work. So is what a decided gate's record (or the settled criteria
    of a gate under review) holds back: a gate's review never goes back to planning, so the
    move to this version held it back already, and the pin need not record it (it never
    becomes due). To a later version, the pack's change is new again."""
    if prepared.pin_version != prepared.target.version:
        return plan
    return UpgradePlan(
        entries=[
            msgspec.structs.replace(entry, held_before=since)
            if entry.action not in _WRITTEN and (since := _held_at(entry, prepared)) is not None
            else entry
            for entry in plan.entries
        ]
    )


def _held_at(entry: merge.PlanEntry, prepared: _Prepared) -> str | None:
    recorded = prepared.held_items.get(item_ref(*entry.item_id))
    if recorded is None and entry.item_id in prepared.standing:
        return prepared.pin_version
    return recorded


async def _prepare(
    session: AsyncSession,
    tenant_id: uuid.UUID,
    pack: str | None,
    to_version: str | None,
    catalogue: AsyncSession | None,
    versions: PackVersions | None,
    lock: bool,
    take: Collection[str] = (),
) -> _Prepared:
    scope = scope_of(session.sync_session)
    if scope is None or scope.tenant_ids != (tenant_id,):
        raise TenantScopeError("an upgrade needs a session scoped to exactly that workspace")
    pin = await pins.require(session, for_update=lock)
    if versions is None:
        # Which versions the pack has is read again for each workspace's upgrade: one
        # published since this process listed them (a patch to an older line, 1.2.1 after
        # 1.3.0) is one its rows may come from (`_earlier_values`). `upgrade_all` reads the
        # listing itself, once, on the control plane (a cell may not reach the catalogue).
        versions = PUBLISHED
        versions.listed.pop(pin.pack, None)
    if pack is not None and pack != pin.pack:
        raise Conflict(f"The workspace follows the pack {pin.pack!r}, not {pack!r}.")
    source = catalogue or session
    pinned = await versions.get(source, pin.pack, pin.pack_version)
    target = await versions.get(source, pin.pack, to_version)
    if version_key(target.version) < version_key(pinned.version):
        raise Conflict(
            f"The workspace follows {pin.pack} {pin.pack_version}; "
            f"{target.version} is older (upgrades go forwards)."
        )
    ours = versions.values(pin.pack, target, _declared(target, pin.params))
    theirs = await read_pack_items(session, pin.pack)
    base, behind = await _bases(source, versions, pin, pinned, theirs)
    plan = _taking_the_target(merge.plan_upgrade(base, theirs.values, ours), take)
    # A removal of a row the client worked on (closed it, assessed it, named its owner …)
    # keeps it, as for an item whose pack fields the client changed.
    worked = await _worked_on(
        plan, theirs, Writing(tenant_id, pin.pack, pin.pack_version, base), source, versions, pin
    )
    plan = merge.hold_back(plan, worked)
    # What the merge leaves to the client (a conflict, an item the client changed) is settled
    # once applied; what the steps below hold back stays due.
    decided = {entry.item_id for entry in plan.with_action(Action.CONFLICT, Action.KEPT)}
    # Tranches before a closed one stay (its record), as the API's delete keeps them; due
    # again once the client reopens it.
    plan = merge.hold_back(plan, await _before_closed_tranches(session, plan, theirs, lock))
    writing = Writing(tenant_id, pin.pack, target.version, ours)
    programme = writing.first_programme
    plan = merge.keep_references_whole(plan, theirs.values, programme)
    held = await _named_by_client_rows(session, tenant_id, pin.pack, plan, theirs)
    if held:
        plan = merge.hold_back(plan, held)
    # New items whose key the client's own rows have: conflicts, and what needs them (a
    # register's entries …) in turn.
    taken = await _taken_by_client_rows(session, plan, ours, writing)
    plan = _adds_as_conflicts(plan, taken, theirs, programme)
    standing = _decided_gates(plan, theirs)
    # Kept ones too: a criterion the board never had (its add held back when the gate was
    # decided) would otherwise read "deleted by the client".
    plan = merge.hold_back(
        plan, standing, frozenset({Action.UPDATE, Action.ADD, Action.REMOVE, Action.KEPT})
    )
    # New gates on the way into a tranche under way, and their criteria and checklists.
    in_front = await _gates_in_front_of_started_tranches(session, plan, theirs, lock)
    plan = _adds_as_conflicts(plan, in_front, theirs, programme)
    plan = _reassessing(plan, theirs)
    plan = await _placed_by_an_upgrade(session, plan, theirs, writing)
    plan = _parts_stay_with_their_item(plan)
    return _Prepared(
        pin.pack,
        pin.pack_version,
        target,
        ours,
        theirs,
        plan,
        behind,
        decided,
        set(standing),
        dict(pin.held_items),
    )


def _parts_stay_with_their_item(plan: UpgradePlan) -> UpgradePlan:
    """The plan, keeping the parts (a report format's sections, a gate's criteria, a
    checklist's entries: `_SHOWN_IN_PARENT`) of an item the target version removes whole but
    the upgrade keeps (reports still follow the format, the client worked on it …): the item
    stands as it was, not emptied of them."""
    entries = {entry.item_id: entry for entry in plan.entries}
    held: dict[ItemId, str] = {}
    for entry in plan.with_action(Action.REMOVE):
        parent_field = _SHOWN_IN_PARENT.get(entry.kind)
        if parent_field is None:
            continue
        parent_key = str((entry.theirs or entry.base or {}).get(parent_field))
        parent = entries.get((parent_field, parent_key))
        if parent is not None and parent.ours is None and parent.action is not Action.REMOVE:
            noun = parent_field.replace("_", " ")
            held[entry.item_id] = (
                f"removed in the target version with its {noun} {parent_key}, which the "
                "upgrade keeps: it keeps its parts"
            )
    return merge.hold_back(plan, held) if held else plan


async def _worked_on(
    plan: UpgradePlan,
    theirs: WorkspaceItems,
    writing: Writing,
    source: AsyncSession,
    versions: PackVersions,
    pin: TemplatePin,
) -> dict[ItemId, str]:
    """Removals of rows whose client-held columns (`rows.Stored.worked_on`) are no longer what
    seeding put there, with what the client changed: the pack's fields may be as seeded, but
    the row records the client's work (a risk closed, a milestone achieved), so it stays.
    `writing` writes base. A derived column (`rows.Stored.derived`) is the client's work only
    if no version up to the pinned one derives what it holds: an earlier upgrade that moved
    its source (a tranche's end) did not rewrite it."""
    held: dict[ItemId, str] = {}
    earlier: list[dict[ItemId, ItemValues]] | None = None
    for entry in plan.with_action(Action.REMOVE):
        row = theirs.rows.get(entry.item_id)
        if row is None or entry.base is None or entry.item_id in {SCALES, SETTINGS_ROW}:
            continue
        stored = STORED[entry.kind]
        seeded = stored.columns(entry.key, entry.base, writing)
        changed = stored.worked_on(row, seeded, theirs.reading)
        if set(changed) & stored.derived:
            if earlier is None:
                earlier = await _earlier_values(source, versions, pin)
            changed = [
                name
                for name in changed
                if name not in stored.derived
                or not _derived_by_any(row, name, entry.item_id, earlier, writing)
            ]
        if changed:
            held[entry.item_id] = (
                f"changed by the client ({', '.join(changed)}); the target version removes it"
            )
    return held


async def _before_closed_tranches(
    session: AsyncSession, plan: UpgradePlan, theirs: WorkspaceItems, lock: bool
) -> dict[ItemId, str]:
    """Removals of tranches placed before a closed tranche of their programme (a higher
    position): which tranches came before a closed one is its record, and the API refuses
    such a delete (409, `TrancheService.delete`), which `delete_seeded` would go round. With
    ``lock`` (applying), the programme is held as that delete and a close hold it, so no
    tranche closes between this look and the removal."""
    held: dict[ItemId, str] = {}
    for entry in plan.with_action(Action.REMOVE):
        row = theirs.rows.get(entry.item_id)
        if entry.kind != "tranche" or row is None:
            continue
        if lock:
            await lock_programme(session, row.programme_id)
        ahead = [
            name
            for name, position in await closed_tranches(session, row.programme_id, row.id)
            if row.position < position
        ]
        if ahead:
            named = ", ".join(f"'{name}'" for name in ahead)
            which = "tranche" if len(ahead) == 1 else "tranches"
            held[entry.item_id] = (
                f"removed in the target version, but it stands before the closed {which} {named}"
            )
    return held


async def _earlier_values(
    source: AsyncSession, versions: PackVersions, pin: TemplatePin
) -> list[dict[ItemId, ItemValues]]:
    """The seed values of every published version of the pin's pack up to the pinned one: a
    row may have been seeded (or added by an upgrade) from any of them."""
    pinned = version_key(pin.pack_version)
    found = []
    for name in await versions.names(source, pin.pack, pin.pack_version):
        if version_key(name) <= pinned:
            values = await _values_of(source, versions, pin, name)
            if values is not None:
                found.append(values)
    return found


def _derived_by_any(
    row: Any,
    name: str,
    item_id: ItemId,
    earlier: list[dict[ItemId, ItemValues]],
    writing: Writing,
) -> bool:
    """Whether column `name` of `row` holds what one of the `earlier` versions derives."""
    kind, key = item_id
    for values in earlier:
        if item_id not in values:
            continue
        then = Writing(writing.tenant_id, writing.pack, writing.version, values)
        column = STORED[kind].columns(key, values[item_id], then).get(name)
        if plain(getattr(row, name)) == plain(column):
            return True
    return False


TAKEN = (
    "a conflict settled by taking the target version's values, as asked: the client's are replaced"
)


def _taking_the_target(plan: UpgradePlan, take: Collection[str]) -> UpgradePlan:
    """The plan with the conflicts named in `take` (`kind:key`, as the pin records items)
    settled by taking the target version's item: an update (an add again, where the client
    deleted it). What follows still applies to them (references kept whole, a decided gate,
    the register's rules …). Names of anything else are a `ValidationFailed` naming them."""
    if not take:
        return plan
    conflicts = {item_ref(*entry.item_id): entry for entry in plan.with_action(Action.CONFLICT)}
    unknown = [ref for ref in dict.fromkeys(take) if ref not in conflicts]
    if unknown:
        raise ValidationFailed(
            "Only a conflict between the client's and the target version's values can be "
            f"settled by taking the target's: {', '.join(unknown)} "
            f"{'is' if len(unknown) == 1 else 'are'} not one.",
            errors=[
                field_error(
                    "take_pack",
                    f"{ref}: not such a conflict of this upgrade"
                    + (f" (conflicts: {', '.join(conflicts)})" if conflicts else " (it has none)"),
                )
                for ref in unknown
            ],
        )
    taken = {conflicts[ref].item_id for ref in take}
    return UpgradePlan(
        entries=[
            msgspec.structs.replace(
                entry,
                action=Action.UPDATE if entry.theirs is not None else Action.ADD,
                reason=TAKEN,
                mergeable=False,
            )
            if entry.item_id in taken
            else entry
            for entry in plan.entries
        ]
    )


def _adds_as_conflicts(
    plan: UpgradePlan, held: Mapping[ItemId, str], theirs: WorkspaceItems, programme: str | None
) -> UpgradePlan:
    """The plan with the adds in `held` made conflicts (for the reason given), and what needs
    them held back in turn."""
    if not held:
        return plan
    return merge.keep_references_whole(
        merge.hold_back(plan, held, frozenset({Action.ADD}), as_action=Action.CONFLICT),
        theirs.values,
        programme,
    )


def _declared(version: PackVersion, params: Mapping[str, Any]) -> dict[str, Any]:
    """The pin's parameters that `version` declares (the others it would refuse)."""
    declared = {parameter.key for parameter in version.parameters}
    return {name: value for name, value in params.items() if name in declared}


async def _bases(
    source: AsyncSession,
    versions: PackVersions,
    pin: TemplatePin,
    pinned: PackVersion,
    theirs: WorkspaceItems,
) -> tuple[dict[ItemId, ItemValues], dict[ItemId, str]]:
    """The base of every item, and the items whose pack change an earlier upgrade held back
    (item → the version the workspace still has it from).

    An item's base is the version its row was last written from (`source_version`): an upgrade
    that holds an update or a removal back (a rule refused it, rows still use it …) does not
    write the row, so the pack's change stays due and is planned again, not taken for settled
    because the pin moved on. A new item held back has no row: the pin records it
    (`held_items`), and it is not in base, so it is an add again.
    """
    base = dict(versions.values(pin.pack, pinned, pin.params))
    older: dict[str, dict[ItemId, ItemValues] | None] = {}
    behind: dict[ItemId, str] = {}
    for item_id, row in theirs.rows.items():
        written = getattr(row, "source_version", None)
        if not written or written == pin.pack_version:
            continue
        if written not in older:
            older[written] = await _values_of(source, versions, pin, written)
        values = older[written]
        if values is None:
            continue  # no longer published: the pinned version is the best base there is
        was = values.get(item_id)
        now = base.get(item_id)
        if was is None or (now is not None and merge.same(was, now)):
            continue
        base[item_id] = was
        # Since the upgrade that first held it (recorded on the pin), else since the row's
        # version: held before the pin recorded updates and removals.
        since = pin.held_items.get(item_ref(*item_id), written)
        behind[item_id] = f"held back since {since}"
    for ref, version in pin.held_items.items():
        item_id = parse_item_ref(ref)
        if item_id not in theirs.rows:
            base.pop(item_id, None)
            behind[item_id] = f"held back at {version}"
    return base, behind


async def _values_of(
    source: AsyncSession, versions: PackVersions, pin: TemplatePin, version: str
) -> dict[ItemId, ItemValues] | None:
    try:
        found = await versions.get(source, pin.pack, version)
    except NotFound:
        return None
    return versions.values(pin.pack, found, _declared(found, pin.params))


def _saying_why(plan: UpgradePlan, behind: Mapping[ItemId, str]) -> UpgradePlan:
    """The plan, saying so where an item comes round again because an earlier upgrade held the
    pack's change to it back."""
    return UpgradePlan(
        entries=[
            msgspec.structs.replace(entry, reason=f"{behind[entry.item_id]}; {entry.reason}")
            if entry.item_id in behind and entry.action is not Action.UNCHANGED
            else entry
            for entry in plan.entries
        ]
    )


def _decided_gates(plan: UpgradePlan, theirs: WorkspaceItems) -> dict[ItemId, str]:
    """What the plan would change of a decided gate, or of the criteria of a gate under review,
    which an upgrade leaves as they are.

    A decided gate is a record of what its board decided, on what: the pack may not rewrite or
    remove it (its board, outcomes, recommendation). Its criteria are settled from the moment
    its review starts (`gates.rules.criteria_settled`, as the API settles them): the pack may
    not add, change or remove the criteria the board is assessing or assessed.
    """
    gates = {item_id: row for item_id, row in theirs.rows.items() if item_id[0] == "gate"}
    fixed: dict[ItemId, str] = {}
    for entry in plan.entries:
        if entry.kind == "gate":
            gate = gates.get(entry.item_id)
            if gate is not None and gate.state == GateState.DECIDED:
                fixed[entry.item_id] = f"the gate is decided ({gate.decision}); its record stands"
        elif entry.kind == "gate_criterion":
            values = entry.ours or entry.theirs or {}
            gate = gates.get(("gate", str(values.get("gate"))))
            if gate is None or not criteria_settled(gate.state):
                continue
            if gate.state == GateState.DECIDED and not may_decide(gate.state, gate.decision):
                fixed[entry.item_id] = (
                    f"its gate's decision ({gate.decision}) is final; the criteria stay as the "
                    "board assessed them"
                )
            else:
                fixed[entry.item_id] = (
                    f"its gate is under review ({gate.decision or gate.state}); the criteria "
                    "stay as the board is assessing them"
                )
    return fixed


def _reassessing(plan: UpgradePlan, theirs: WorkspaceItems) -> UpgradePlan:
    """The plan, saying so where an update changes what an assessed criterion tests: its
    assessment is then cleared (`rows.reassessed`), as it was of the old test."""
    entries = []
    for entry in plan.entries:
        row = theirs.rows.get(entry.item_id)
        if (
            entry.kind == "gate_criterion"
            and entry.action is Action.UPDATE
            and row is not None
            and row.status is not CriterionStatus.NOT_ASSESSED
            and any(
                (entry.written or {}).get(name) != (entry.theirs or {}).get(name)
                for name in ("text", "evidence", "mandatory")
            )
        ):
            entry = msgspec.structs.replace(
                entry,
                reason=f"{entry.reason}; what it tests changes, so its assessment "
                f"({row.status}) is cleared for the board to assess it again",
            )
        entries.append(entry)
    return UpgradePlan(entries=entries)


async def _gates_in_front_of_started_tranches(
    session: AsyncSession, plan: UpgradePlan, theirs: WorkspaceItems, lock: bool
) -> dict[ItemId, str]:
    """New gates the plan would put on the way into a tranche already under way.

    The API refuses such a gate (a tranche went in without it; nothing can decide it now that
    matters), so an upgrade does not add one either: the client decides. A gate's place is
    its tranche's exit, so only gates after a tranche the workspace already has can be in front
    of one that started. With ``lock`` (applying), the programme is locked as the API's gate
    and tranche writes lock it, so no tranche starts between this look and the write.
    """
    service = GateService(session, None)
    held: dict[ItemId, str] = {}
    for entry in plan.with_action(Action.ADD):
        after = (entry.ours or {}).get("after_tranche") if entry.kind == "gate" else None
        tranche = theirs.rows.get(("tranche", str(after))) if after is not None else None
        if tranche is None:
            continue
        if lock:
            await lock_programme(session, tranche.programme_id)
        gate = StageGate(
            programme_id=tranche.programme_id, tranche_id=tranche.id, boundary=GateBoundary.EXIT
        )
        under_way = await service.under_way_behind(gate)
        if under_way:
            held[entry.item_id] = (
                f"it would stand on the way into {', '.join(under_way)}, already under way"
            )
    return held


async def _taken_by_client_rows(
    session: AsyncSession,
    plan: UpgradePlan,
    ours: Mapping[ItemId, ItemValues],
    writing: Writing,
) -> dict[ItemId, str]:
    """New items whose key a row of the client's own already has (a custom field the client
    added under the key the pack now brings, say): the table's unique key would refuse them,
    so they are conflicts for the client, named, and the rest of the upgrade goes on."""
    adds = {entry.item_id for entry in plan.with_action(Action.ADD)}
    if not adds:
        return {}
    item_of = {writing.id(*item_id): item_id for item_id in adds}
    taken: dict[ItemId, str] = {}
    for model, rows in rows_for(ours, writing, only=adds).in_order():
        table = _table(model)
        for constraint in table.constraints:
            if not isinstance(constraint, UniqueConstraint):
                continue
            names = [column.name for column in constraint.columns if column.name != "tenant_id"]
            if not names or any(name not in rows[0] for name in names):
                continue
            wanted = {tuple(row[name] for name in names): row["id"] for row in rows}
            columns = [table.c[name] for name in names]
            found = await session.execute(
                select(*columns).where(tuple_(*columns).in_(list(wanted)))
            )
            for values in found.all():
                item_id = item_of.get(wanted[tuple(values)])
                if item_id is not None:
                    said = " and ".join(
                        f"{name} {value!r}" for name, value in zip(names, values, strict=True)
                    )
                    noun = item_id[0].replace("_", " ")
                    taken[item_id] = (
                        f"the workspace already has a {noun} of its own with {said}; "
                        "rename or remove it to take the pack's"
                    )
    return taken


async def _named_by_client_rows(
    session: AsyncSession,
    tenant_id: uuid.UUID,
    pack: str,
    plan: UpgradePlan,
    theirs: WorkspaceItems,
) -> dict[ItemId, str]:
    """Removals that rows not from the pack still refer to (a meeting of a board, the client's
    own risk linked to a pack risk …): removing them would fail, or cascade into client data."""
    removing: dict[Table, dict[uuid.UUID, ItemId]] = {}
    for entry in plan.with_action(Action.REMOVE):
        if entry.item_id == SCALES:
            continue
        table = _table(STORED[entry.kind].model)
        removing.setdefault(table, {})[theirs.rows[entry.item_id].id] = entry.item_id
    held: dict[ItemId, str] = {}
    for table, ids in removing.items():
        for child, column in _referring(table):
            # Core selects get no tenant filter from the session: say it (RLS says it too).
            query = (
                select(child.c[column])
                .where(child.c.tenant_id == tenant_id, child.c[column].in_(list(ids)))
                .distinct()
            )
            if "source_pack" in child.c:
                # The pack's own rows are judged item by item (keep_references_whole).
                query = query.where(_not_from(child, pack))
            for (row_id,) in (await session.execute(query)).all():
                held[ids[row_id]] = f"removed in the target version, but {child.name} still uses it"
        if table is _table(ProgrammeRole):
            for array_table, columns in _ROLE_ARRAYS:
                for column in columns:
                    query = select(array_table.c[column]).where(
                        array_table.c.tenant_id == tenant_id,
                        array_table.c[column].overlap(list(ids)),
                        _not_from(array_table, pack),
                    )
                    for (named,) in (await session.execute(query)).all():
                        for role_id in set(named) & set(ids):
                            held[ids[role_id]] = (
                                f"removed in the target version, but {array_table.name} uses it"
                            )
    return held


def _table(model: type[WorkspaceModel]) -> Table:
    return metadata.tables[f"{WORKSPACE_SCHEMA}.{model.__tablename__}"]


def _keyed(model: type[WorkspaceModel]) -> bool:
    """Whether the model's table has a unique key of its own (a custom field's register and
    key …), beside its id and its provenance."""
    return any(
        isinstance(constraint, UniqueConstraint)
        and any(column.name != "tenant_id" for column in constraint.columns)
        for constraint in _table(model).constraints
    )


def _not_from(table: Table, pack: str) -> ColumnElement[bool]:
    """Rows that are not one of the pack's items: the client's, and the parts of items."""
    return table.c.source_item.is_(None) | table.c.source_pack.is_distinct_from(pack)


def _referring(table: Table) -> list[tuple[Table, str]]:
    """(table, column) of every workspace foreign key to `table` (tenant column left out)."""
    found = []
    for child in metadata.tables.values():
        if child.schema != WORKSPACE_SCHEMA:
            continue
        for constraint in child.constraints:
            if isinstance(constraint, ForeignKeyConstraint) and constraint.referred_table is table:
                columns = [c.name for c in constraint.columns if c.name != "tenant_id"]
                found += [(child, column) for column in columns]
    return found


_ROLE_ARRAYS: list[tuple[Table, list[str]]] = [
    (_table(RaciEntry), ["responsible_role_ids", "consulted_role_ids", "informed_role_ids"]),
    (_table(Board), ["quorum_role_ids"]),
]


async def _apply(
    session: AsyncSession,
    tenant_id: uuid.UUID,
    prepared: _Prepared,
    actor_id: uuid.UUID | None,
    *,
    move_pin: bool,
    via: AppliedVia | None = None,
) -> None:
    """Write the plan; an add or update whose row would break its register's rules is not
    written but becomes a conflict in `prepared.plan`, with the rule's message."""
    theirs, ours, pack = prepared.theirs, prepared.ours, prepared.pack
    writing = Writing(tenant_id, pack, prepared.target.version, ours, clock.today(session))
    # New rows first (updates may name them), parents before children.
    await _add(session, prepared, writing, actor_id)
    plan = prepared.plan
    adds = {entry.item_id for entry in plan.with_action(Action.ADD)}
    if SCALES in adds and theirs.rows.get(("rag_rules", "rag_rules")) is not None:
        plan = _as_update(plan, SCALES)
    # A refused update writes nothing, so it may be tried again once the others are written:
    # rows leaving a choice before the pack removes it from its field, say. Tried again while
    # that lets one more through.
    updates = {entry.item_id: entry.written for entry in plan.with_action(Action.UPDATE)}
    pending = list(updates)
    refused: dict[ItemId, str] = {}
    while pending:
        refused = {}
        for item_id in pending:
            values = updates[item_id]
            assert values is not None
            refusal = await _update(session, item_id, values, theirs, writing, actor_id)
            if refusal is not None:
                refused[item_id] = refusal
        if len(refused) == len(pending):
            break
        pending = list(refused)
    prepared.plan = merge.hold_back(
        prepared.plan, refused, frozenset({Action.UPDATE}), as_action=Action.CONFLICT
    )
    removing: dict[type[WorkspaceModel], list[merge.PlanEntry]] = {}
    for entry in plan.with_action(Action.REMOVE):
        if entry.item_id != SCALES:
            removing.setdefault(STORED[entry.kind].model, []).append(entry)
    in_use: dict[ItemId, str] = {}
    for model in reversed(TABLE_ORDER):
        entries = removing.get(model, [])
        # Rows hold scale keys and custom field values as text, not by foreign key: a removal
        # they still use once the rows this upgrade removes are gone (children go first) is
        # kept, or they could no longer be filtered by it.
        held = await _values_in_use(session, entries, theirs)
        in_use |= held
        ids = [theirs.rows[entry.item_id].id for entry in entries if entry.item_id not in held]
        await delete_seeded(session, model, ids)
    prepared.plan = merge.hold_back(prepared.plan, in_use)
    moved = await _criteria_in_places_of_their_own(session, prepared.plan, writing, actor_id)
    prepared.plan = _saying_where(prepared.plan, moved, writing)
    await _touch_parents(session, prepared.plan, theirs, actor_id)
    if any(e.kind == "score_band" for e in prepared.plan.writes):
        # A risk's read shows its bands, worked out from the workspace's: every ETag moves on.
        await move_versions_on(session, Risk, Risk.tenant_id == tenant_id, actor_id)
    await _settle(session, prepared, theirs, actor_id)
    if move_pin:
        pin = await pins.require(session)
        new = _still_due(prepared, theirs, pin.held_items)
        left = _left_to_client(_saying_why(prepared.plan, prepared.behind))
        await pins.move(
            session, pin, prepared.target.version, actor_id, held=new, conflicts=left, via=via
        )
    forget_configuration(session)


async def _add(
    session: AsyncSession, prepared: _Prepared, writing: Writing, actor_id: uuid.UUID | None
) -> None:
    """Write the plan's adds. Each new row must pass its register's rules as the API's create
    would (`rows.Stored.rules`: a milestone of a project the client cancelled, or in a tranche
    the client closed, is refused), checked once every new row is in, so the rules find what
    the upgrade adds beside it. A refused row is not written: its entry becomes a conflict with
    the rule's message, what needs it is held back in turn (`_adds_as_conflicts`), and the
    others are written again without them.

    A new item whose unique key the client's own row has is a conflict already
    (`_taken_by_client_rows`); a clash still met here (a row made since the plan was read)
    stops the upgrade. So is one whose text would not fit its column (`_too_long`), before
    anything is written."""
    programme = writing.first_programme
    while True:
        adds = {entry.item_id for entry in prepared.plan.with_action(Action.ADD)}
        if not adds:
            return
        unfit = _adds_too_long(prepared.ours, writing, adds)
        if unfit:
            prepared.plan = _adds_as_conflicts(prepared.plan, unfit, prepared.theirs, programme)
            continue
        new_rows = rows_for(prepared.ours, writing, only=adds).in_order()
        await _placed_after_the_clients(session, new_rows, prepared.pack)
        savepoint = await session.begin_nested()
        try:
            written = await insert_seeded_tables(session, new_rows, actor_id)
            for model, rows in new_rows:
                if written[model] != len(rows):
                    raise Conflict(
                        f"{len(rows) - written[model]} new {model.__tablename__} of "
                        f"{prepared.pack} {prepared.target.version} clash with rows the "
                        "workspace already has."
                    )
            forget_configuration(session)
            refused = await _refused_adds(session, new_rows, writing, adds, actor_id)
        except BaseException:
            await savepoint.rollback()
            raise
        if not refused:
            await savepoint.commit()
            return
        await savepoint.rollback()
        forget_configuration(session)
        prepared.plan = _adds_as_conflicts(prepared.plan, refused, prepared.theirs, programme)


def _adds_too_long(
    ours: Mapping[ItemId, ItemValues], writing: Writing, adds: Collection[ItemId]
) -> dict[ItemId, str]:
    """The new items a row of which (the item's, or one of its parts') would not fit its table
    (`_too_long`), with why."""
    found: dict[ItemId, str] = {}
    for item_id in adds:
        kind, key = item_id
        stored, values = STORED[kind], ours[item_id]
        rows = [
            (stored.model, stored.columns(key, values, writing)),
            *(
                (model, row)
                for model, part_rows in stored.parts(key, values, writing).items()
                for row in part_rows
            ),
        ]
        for model, row in rows:
            why = _too_long(model, row)
            if why is not None:
                found[item_id] = why
                break
    return found


# A key no item has (keys have no colon): what a new keyed row's copy is checked under, so its
# create rule's "already has one with this key" does not find the row itself.
_CHECKED_KEY = "upgrade-check:"


async def _refused_adds(
    session: AsyncSession,
    new_rows: list[tuple[type[WorkspaceModel], list[Row]]],
    writing: Writing,
    adds: Collection[ItemId],
    actor_id: uuid.UUID | None,
) -> dict[ItemId, str]:
    """The new items whose rows, as written, the API's create would refuse, with the rule's
    message: custom fields that do not fit the register's definitions (unknown, ill-typed, a
    choice not listed, a required one missing), then the register's rules
    (`RegisterService.check` with no old values; 422, 409, or 403: `REFUSALS`).

    A row with a unique key of its own (a role, a custom register, a custom field) is checked
    under a key nothing has: its create rule's "already has one" would find the row itself,
    and a clash with the client's own row is a conflict already (`_taken_by_client_rows`)."""
    item_of = {writing.id(*item_id): item_id for item_id in adds}
    refused: dict[ItemId, str] = {}
    for model, rows in new_rows:
        keyed = _keyed(model)
        # A table's rows of kinds with rules (a board's seats are parts of the board).
        ids = [row["id"] for row in rows if row["id"] in item_of]
        ruled = [i for i in ids if STORED[item_of[i][0]].rules is not None]
        if not ruled:
            continue
        table = _table(model)
        found = await session.execute(select(table).where(table.c.id.in_(ruled)))
        for current in found.mappings().all():
            item_id = item_of[current["id"]]
            rules = STORED[item_id[0]].rules
            assert rules is not None
            # A copy outside the session: the rules may derive values onto it.
            row = model(**dict(current))
            if keyed and "key" in current:
                row.key = f"{_CHECKED_KEY}{row.id}"  # type: ignore[attr-defined]
            service = rules(session, actor_id)
            try:
                with session.no_autoflush:
                    if isinstance(row, CarriesCustomFields):
                        register = await service.custom_field_register(row)
                        if register is not None:
                            await validate_custom_fields(session, register, row.custom_fields or {})
                    await service.check(row, None)
            except REFUSALS as error:
                refused[item_id] = refusal(error)
    return refused


async def _placed_after_the_clients(
    session: AsyncSession, new_rows: list[tuple[type[WorkspaceModel], list[Row]]], pack: str
) -> None:
    """New criteria of a gate where the client's own criteria stand at their positions go
    after every criterion the gate has, in the pack's order (two in one place would list in
    no set order). Elsewhere they take the pack's positions."""
    adds = [row for model, rows in new_rows if model is GateCriterion for row in rows]
    by_gate: dict[uuid.UUID, list[Row]] = {}
    for row in adds:
        by_gate.setdefault(row["gate_id"], []).append(row)
    if not by_gate:
        return
    found = await session.execute(
        select(GateCriterion.gate_id, GateCriterion.position, GateCriterion.source_pack).where(
            GateCriterion.gate_id.in_(list(by_gate))
        )
    )
    positions: dict[uuid.UUID, list[int]] = {}
    the_clients: dict[uuid.UUID, set[int]] = {}
    for gate_id, position, source in found.all():
        positions.setdefault(gate_id, []).append(position)
        if source != pack:
            the_clients.setdefault(gate_id, set()).add(position)
    for gate_id, rows in by_gate.items():
        if not {row["position"] for row in rows} & the_clients.get(gate_id, set()):
            continue
        last = max(positions[gate_id])
        for n, row in enumerate(sorted(rows, key=lambda row: row["position"])):
            row["position"] = last + 1 + n


async def _criteria_in_places_of_their_own(
    session: AsyncSession, plan: UpgradePlan, writing: Writing, actor_id: uuid.UUID | None
) -> dict[uuid.UUID, tuple[int, int]]:
    """Give each criterion of a gate whose criteria the plan wrote a position of its own, and
    return those renumbered (row id → (position before, position now)).

    A criterion the upgrade leaves as the client has it (a conflict, a kept change, the
    client's own) stays where it is; one the upgrade added or moved can land on its place.
    In the order the gate lists them — by position, what the upgrade did not write first —
    each that would share or go before the one in front of it moves one place after it, so
    nothing changes places with anything else and the client's order stands."""
    written: dict[uuid.UUID, set[uuid.UUID]] = {}
    for entry in plan.with_action(Action.ADD, Action.UPDATE, Action.REMOVE):
        if entry.kind == "gate_criterion":
            values = entry.ours or entry.theirs or {}
            gate_id = writing.id("gate", str(values.get("gate")))
            written.setdefault(gate_id, set()).add(writing.id(*entry.item_id))
    if not written:
        return {}
    by_gate = await _criteria_of(session, written)
    renumbered: dict[uuid.UUID, tuple[int, int]] = {}
    for criteria in by_gate.values():
        for row_id, (before, position) in _own_places(criteria).items():
            await update_seeded(session, GateCriterion, row_id, {"position": position}, actor_id)
            renumbered[row_id] = (before, position)
    return renumbered


async def _criteria_of(
    session: AsyncSession, written: Mapping[uuid.UUID, Collection[uuid.UUID]]
) -> dict[uuid.UUID, list[tuple[int, bool, uuid.UUID]]]:
    """The criteria of each gate in `written` (gate → the criteria an upgrade writes) as
    (position, written, id), in the order the gate lists them."""
    found = await session.execute(
        select(GateCriterion.id, GateCriterion.gate_id, GateCriterion.position)
        .where(GateCriterion.gate_id.in_(list(written)))
        .order_by(GateCriterion.gate_id, GateCriterion.position, GateCriterion.created_at)
    )
    by_gate: dict[uuid.UUID, list[tuple[int, bool, uuid.UUID]]] = {}
    for row_id, gate_id, position in found.all():
        by_gate.setdefault(gate_id, []).append((position, row_id in written[gate_id], row_id))
    return by_gate


def _own_places(criteria: list[tuple[int, bool, uuid.UUID]]) -> dict[uuid.UUID, tuple[int, int]]:
    """The criteria of one gate (position, written by the upgrade, id) that must move to stand
    at a position of their own: id → (position, the position it moves to)."""
    moves: dict[uuid.UUID, tuple[int, int]] = {}
    last = -1
    for position, _, row_id in sorted(criteria, key=lambda c: (c[0], c[1])):
        if position <= last:
            moves[row_id] = (position, last + 1)
            position = last + 1
        last = position
    return moves


_RENUMBERED = (
    "the gate's criteria keep positions of their own, each after those the upgrade leaves as "
    "the client has them"
)


def _saying_where(
    plan: UpgradePlan, renumbered: Mapping[uuid.UUID, tuple[int, int]], writing: Writing
) -> UpgradePlan:
    """The plan, listing the criteria the upgrade renumbered (`_criteria_in_places_of_their_own`)
    with where they went: an add or update placed elsewhere than the target version says, and
    a criterion otherwise left alone that moved along (an update of its position)."""
    if not renumbered:
        return plan
    entries = []
    for entry in plan.entries:
        moved = (
            renumbered.get(writing.id(*entry.item_id)) if entry.kind == "gate_criterion" else None
        )
        if moved is not None:
            before, now = moved
            where = f"renumbered {before} → {now}: {_RENUMBERED}"
            if entry.action is Action.UNCHANGED:
                entry = msgspec.structs.replace(entry, action=Action.UPDATE, reason=where)
            else:
                entry = msgspec.structs.replace(entry, reason=f"{entry.reason}; {where}")
        entries.append(entry)
    return UpgradePlan(entries=entries)


async def _placed_by_an_upgrade(
    session: AsyncSession, plan: UpgradePlan, theirs: WorkspaceItems, writing: Writing
) -> UpgradePlan:
    """The plan, with a criterion whose only difference from its version is a position an
    upgrade renumbered it to (`_own_places`: where the target's position would be renumbered
    to now) unchanged, saying so, not kept as the client's change: the client did nothing."""
    candidates: dict[uuid.UUID, dict[uuid.UUID, merge.PlanEntry]] = {}
    for entry in plan.with_action(Action.KEPT):
        changed = {f.field for f in entry.fields if f.changed_by is merge.ChangedBy.CLIENT}
        row = theirs.rows.get(entry.item_id)
        if entry.kind != "gate_criterion" or changed != {"position"} or row is None:
            continue
        if not isinstance((entry.ours or {}).get("position"), int):
            continue
        candidates.setdefault(row.gate_id, {})[row.id] = entry
    if not candidates:
        return plan
    placed: dict[ItemId, merge.PlanEntry] = {}
    by_gate = await _criteria_of(session, dict.fromkeys(candidates, ()))
    for gate_id, entries in candidates.items():
        criteria = by_gate.get(gate_id, [])
        for row_id, entry in entries.items():
            target = int((entry.ours or {})["position"])
            now = next((p for p, _, i in criteria if i == row_id), None)
            others = [c for c in criteria if c[2] != row_id]
            moves = _own_places([*others, (target, True, row_id)])
            if now is not None and now != target and moves.get(row_id, (0, target))[1] == now:
                placed[entry.item_id] = msgspec.structs.replace(
                    entry,
                    action=Action.UNCHANGED,
                    reason=f"at position {now}, not the target version's {target}, where an "
                    f"upgrade renumbered it: {_RENUMBERED}",
                )
    return UpgradePlan(entries=[placed.get(e.item_id, e) for e in plan.entries])


# What a plan writes; any other action on an item the pack changes leaves that change due.
_WRITTEN = frozenset({Action.ADD, Action.UPDATE, Action.REMOVE, Action.UNCHANGED})


def _still_due(
    prepared: _Prepared, theirs: WorkspaceItems, recorded: Mapping[str, str]
) -> dict[str, str]:
    """The pack's changes the plan holds back (item reference → the version the upgrade that
    first held them back moved to), for the pin: new items (no row says they are due) and the
    updates and removals a rule held back (their rows keep an older `source_version`). What the
    client decided (a conflict, a change of theirs the merge keeps) is settled, not due, and so
    is a decided gate's record, which no later upgrade rewrites. An item leaves the record once
    its change goes through or the pack drops it; while the record is not empty, `upgrade_all`
    plans the workspace even when it is on the target version."""
    held = {}
    for entry in prepared.plan.entries:
        if entry.action in _WRITTEN or entry.item_id in prepared.standing:
            continue
        row = theirs.rows.get(entry.item_id)
        held_add = row is None and entry.base is None and entry.ours is not None
        held_change = row is not None and entry.item_id not in prepared.decided
        if held_add or held_change:
            ref = item_ref(*entry.item_id)
            held[ref] = recorded.get(ref, prepared.target.version)
    return held


def _left_to_client(plan: UpgradePlan) -> list[UpgradeConflict]:
    """The plan's conflicts, for the pin's record of the upgrade (`_settle` settles them, so no
    later plan shows them): each with the fields whose change in the target version was not
    applied, and the plan's reason."""
    unapplied = {merge.ChangedBy.PACK, merge.ChangedBy.BOTH}
    return [
        UpgradeConflict(
            kind=entry.kind,
            key=entry.key,
            fields=[f.field for f in entry.fields if f.changed_by in unapplied],
            reason=entry.reason,
        )
        for entry in plan.with_action(Action.CONFLICT)
    ]


async def _settle(
    session: AsyncSession,
    prepared: _Prepared,
    theirs: WorkspaceItems,
    actor_id: uuid.UUID | None,
) -> None:
    """Move `source_version` on to the target for rows the pack's change has reached without
    writing them: the conflicts and changes the merge leaves to the client (the client has seen
    the target's change; its row stands), and rows the client already brought to the target's
    values. The next upgrade's base for them is then the target. Rows an upgrade holds back
    (a rule refused the update, rows still use what it removes …) keep their version: the
    pack's change to them stays due."""
    version = prepared.target.version
    ids: dict[type[WorkspaceModel], list[uuid.UUID]] = {}
    for entry in prepared.plan.entries:
        row = theirs.rows.get(entry.item_id)
        if row is None or getattr(row, "source_version", version) == version:
            continue
        caught_up = (
            entry.action is Action.UNCHANGED
            and entry.base is not None
            and entry.theirs is not None
            and not merge.same(entry.base, entry.theirs)
        )
        if caught_up or entry.item_id in prepared.decided:
            ids.setdefault(STORED[entry.kind].model, []).append(row.id)
    for model, found in ids.items():
        # The row's representation shows source_version, so its ETag moves on too.
        await move_versions_on(
            session, model, model.id.in_(found), actor_id, source_version=version
        )


# Kinds shown inside their parent's representation (a gate's criteria …), by the field that
# names the parent; changing one moves the parent's version on, as through the API.
_SHOWN_IN_PARENT = {
    "gate_criterion": "gate",
    "report_section": "status_report",
    "checklist_entry": "checklist",
}


async def _touch_parents(
    session: AsyncSession, plan: UpgradePlan, theirs: WorkspaceItems, actor_id: uuid.UUID | None
) -> None:
    """Move on the version (the ETag) of every row whose children the plan wrote."""
    parents: dict[type[WorkspaceModel], set[uuid.UUID]] = {}
    for entry in plan.entries:
        parent_field = _SHOWN_IN_PARENT.get(entry.kind)
        if parent_field is None or entry.action not in {Action.ADD, Action.UPDATE, Action.REMOVE}:
            continue
        values = entry.ours or entry.theirs or {}
        parent = theirs.rows.get((parent_field, str(values.get(parent_field))))
        if parent is not None:  # else the parent is new too
            parents.setdefault(STORED[parent_field].model, set()).add(parent.id)
    for model, ids in parents.items():
        await move_versions_on(session, model, model.id.in_(ids), actor_id)


async def _values_in_use(
    session: AsyncSession, removals: list[merge.PlanEntry], theirs: WorkspaceItems
) -> dict[ItemId, str]:
    """Removals of a proximity, a benefit confidence level or a custom field that rows still
    hold (by key, or a value in the field), with why they stay."""
    held: dict[ItemId, str] = {}
    for entry in removals:
        row = theirs.rows.get(entry.item_id)
        if entry.kind == "proximity":
            rows = await _count(session, select(Risk.id).where(Risk.proximity == entry.key))
            register = "risks"
        elif entry.kind == "benefit_confidence":
            rows = await _count(session, select(Benefit.id).where(Benefit.confidence == entry.key))
            register = "benefits"
        elif entry.kind == "custom_field" and row is not None:
            rows = sum((await values_in_use(session, row.register, row.key)).values())
            register = row.register
        else:
            continue
        if rows:
            held[entry.item_id] = (
                f"removed in the target version, but {rows} {register_rows(register, rows)} "
                f"still {'uses' if rows == 1 else 'use'} it"
            )
    return held


async def _count(session: AsyncSession, query: Select[Any]) -> int:
    return int(await session.scalar(select(func.count()).select_from(query.subquery())) or 0)


def _as_update(plan: UpgradePlan, item_id: ItemId) -> UpgradePlan:
    return UpgradePlan(
        entries=[
            msgspec.structs.replace(entry, action=Action.UPDATE)
            if entry.item_id == item_id
            else entry
            for entry in plan.entries
        ]
    )


async def _update(
    session: AsyncSession,
    item_id: ItemId,
    values: ItemValues,
    theirs: WorkspaceItems,
    writing: Writing,
    actor_id: uuid.UUID | None,
) -> str | None:
    """Write one update (`values`: the entry's `written`); returns why not where the row would
    break its register's rules."""
    kind, key = item_id
    stored = STORED[kind]
    row = theirs.rows.get(item_id) or theirs.rows[("rag_rules", "rag_rules")]
    columns = {
        name: value
        for name, value in stored.columns(key, values, writing).items()
        if name not in stored.client_columns
    }
    columns = stored.follow(row, values, columns)
    columns["source_version"] = writing.version
    too_long = _too_long(stored.model, columns)
    if too_long is not None:
        return too_long
    try:
        await update_seeded(session, stored.model, row.id, columns, actor_id, rules=stored.rules)
    except REFUSALS as refused:
        return refusal(refused)
    if kind == "board" and not _same_field("members", values, theirs.values[item_id]):
        # The pack changed the seats (a merge keeps the client's seats as they are, so the
        # client did not): rewritten, each keeping what the client put in it.
        seats = _seats_kept(board_seats(key, values, writing)[BoardMember], row.id, theirs)
        await session.execute(delete(BoardMember).where(BoardMember.board_id == row.id))
        await insert_seeded(session, BoardMember, seats, actor_id)
    elif kind == "benefit" and not _same_field("enabling_projects", values, theirs.values[item_id]):
        # Rewritten only when the pack changed them: a merge keeps the client's as they are.
        await session.execute(delete(BenefitEnabler).where(BenefitEnabler.benefit_id == row.id))
        enablers = benefit_enablers(key, values, writing)[BenefitEnabler]
        await insert_seeded(session, BenefitEnabler, enablers, actor_id)
    return None


def _same_field(name: str, left: ItemValues, right: ItemValues) -> bool:
    return merge.same({name: left.get(name)}, {name: right.get(name)})


def _seats_kept(seats: list[Row], board_id: uuid.UUID, theirs: WorkspaceItems) -> list[Row]:
    """The pack's new `seats` of a board, each taking over a seat the board has for the same
    role (of the same capacity first, in order): the person the client named in it, and the
    title the client gave it (one that is not its role's title)."""
    titles = {
        theirs.rows[item_id].id: values.get("title")
        for item_id, values in theirs.values.items()
        if item_id[0] == "role"
    }
    free = list(theirs.reading.seats.get(board_id, []))
    for seat in seats:
        same_role = [old for old in free if old.role_id == seat["role_id"]]
        same_capacity = [old for old in same_role if plain(old.capacity) == seat["capacity"]]
        if not same_role:
            continue
        found = (same_capacity or same_role)[0]
        free.remove(found)
        seat["user_id"] = found.user_id
        if found.role_title != titles.get(found.role_id, found.role_title):
            seat["role_title"] = found.role_title
    return seats


# What a register's rules answer when they refuse a row: 422, 409, and 403 where the rule
# wants a workspace admin or owner (reopening a closed tranche …). An upgrade runs the rules
# as a member: it has no workspace role of its own (an operator's `pmo templates upgrade` has
# none at all), and a pack's change is not the deliberate correction those rules leave to an
# admin. So a 403 is held back as a conflict, as the others are, for an admin to make.
REFUSALS = (ValidationFailed, Conflict, Forbidden)


def refusal(error: ValidationFailed | Conflict | Forbidden) -> str:
    """A rule's refusal as a plan entry's reason: its message and the fields it names (and,
    for a 403, that it is an admin's or owner's to make)."""
    named = [(found.get("field"), found.get("message")) for found in error.errors or []]
    fields = "; ".join(f"{field}: {message}" for field, message in named if field and message)
    if not fields:
        detail = error.detail
    elif error.detail in {message for _, message in named}:
        detail = fields  # the message alone would leave the field unnamed
    else:
        detail = f"{error.detail} ({fields})"
    if isinstance(error, Forbidden):
        return f"the target version's values need a workspace admin or owner: {detail}"
    return f"the target version's values break a rule of the workspace: {detail}"


def _too_long(model: type[WorkspaceModel], columns: Mapping[str, Any]) -> str | None:
    """Why a row's `columns` do not fit its table (a text longer than its column: a parameter
    the workspace was seeded with, longer than the target version's texts allow), or None.
    The database would refuse the row and fail the whole upgrade."""
    table = _table(model)
    for name, value in columns.items():
        limit = getattr(table.c[name].type, "length", None) if name in table.c else None
        if isinstance(value, str) and limit is not None and len(value) > limit:
            return (
                f"the target version's {name} is {len(value)} characters long with the "
                f"workspace's parameters, but {model.__tablename__}.{name} holds at most {limit}"
            )
    return None


# --- every workspace on a pack -------------------------------------------------------------------


class TenantOutcome(msgspec.Struct, frozen=True, kw_only=True):
    """One workspace's part in upgrading every workspace on a pack."""

    tenant_id: uuid.UUID
    slug: str
    from_version: str
    to_version: str = ""
    # Of what is new: a change held back before at this target (`PlanEntry.held_before`) is
    # left out of both, and listed in `held_before`.
    counts: dict[str, int] = {}
    conflicts: list[str] = []
    held_before: list[str] = []
    applied: bool = False
    error: str | None = None


async def upgrade_all(
    database: Database,
    pack: str,
    to_version: str | None,
    *,
    apply: bool,
    concurrency: int = 4,
    actor_id: uuid.UUID | None = None,
) -> list[TenantOutcome]:
    """Plan (or apply) the upgrade of every live workspace pinned to `pack`, each in a
    transaction of its own; a workspace that fails is reported and the others go on.

    Workspaces already on the target version are left out, unless an earlier upgrade held
    something back that is still due (the pin's `held_items`).
    """
    versions = PUBLISHED
    async with database.session() as control:
        target = (await versions.get(control, pack, to_version)).version
        # Read here, as a cell's session may not reach the catalogue: the versions a row may
        # come from (`_bases`, `_earlier_values`).
        versions.listed.pop(pack, None)
        for name in await versions.names(control, pack, target):
            if version_key(name) <= version_key(target):
                await versions.get(control, pack, name)
        tenants = await _live_tenants(control)
    on_pack, unread = await _tenants_on(database, tenants, pack)
    todo = [(tenants[t], v) for t, v, held in on_pack if v != target or held]
    gate = asyncio.Semaphore(concurrency)

    async def one(tenant: Tenant, pinned: str) -> TenantOutcome:
        async with gate:
            return await _upgrade_one(
                database, versions, tenant, pinned, pack, target, apply, actor_id
            )

    outcomes = await asyncio.gather(*(one(tenant, pinned) for tenant, pinned in todo))
    # A cell that could not be read: its workspaces are reported, not silently skipped.
    not_checked = [
        TenantOutcome(
            tenant_id=tenant.id,
            slug=tenant.slug,
            from_version="?",
            error=f"not checked: cell {tenant.cell!r} could not be read ({unread[tenant.cell]})",
        )
        for tenant in tenants.values()
        if tenant.cell in unread
    ]
    return sorted([*outcomes, *not_checked], key=lambda outcome: outcome.slug)


async def _live_tenants(control: AsyncSession) -> dict[uuid.UUID, Tenant]:
    rows = await control.scalars(
        select(Tenant).where(Tenant.state.in_([TenantState.ACTIVE, TenantState.SUSPENDED]))
    )
    return {tenant.id: tenant for tenant in rows}


async def _tenants_on(
    database: Database, tenants: Mapping[uuid.UUID, Tenant], pack: str
) -> tuple[list[tuple[uuid.UUID, str, bool]], dict[str, str]]:
    """The workspaces pinned to `pack` (id, version, anything held back), and the cells that
    could not be read (name → why): one cell down, or unknown to this process, must not stop
    the others."""
    by_cell: dict[str, list[uuid.UUID]] = {}
    for tenant in tenants.values():
        by_cell.setdefault(tenant.cell, []).append(tenant.id)
    found: list[tuple[uuid.UUID, str, bool]] = []
    unread: dict[str, str] = {}
    for cell, ids in by_cell.items():
        in_cell: list[tuple[uuid.UUID, str, bool]] = []
        try:
            for start in range(0, len(ids), PIN_BATCH):
                scope = TenantScope.many(ids[start : start + PIN_BATCH])
                async with database.transaction(cell, scope) as session:
                    in_cell += await pins.tenants_on(session, pack)
        except UnknownCellError:
            unread[cell] = "this process has no URL for it (PMO_CELLS)"
        except (SQLAlchemyError, OSError) as error:
            unread[cell] = str(getattr(error, "orig", None) or error).splitlines()[0]
        else:
            found += in_cell
    return found, unread


async def _upgrade_one(
    database: Database,
    versions: PackVersions,
    tenant: Tenant,
    pinned: str,
    pack: str,
    target: str,
    apply: bool,
    actor_id: uuid.UUID | None,
) -> TenantOutcome:
    try:
        async with database.transaction(tenant.cell, TenantScope.single(tenant.id)) as session:
            # The catalogue versions are already loaded (`versions`), so no control session.
            if apply:
                done = await apply_upgrade(
                    session,
                    tenant.id,
                    pack,
                    target,
                    versions=versions,
                    actor_id=actor_id,
                    via="cli",
                )
            else:
                done = await plan_upgrade(session, tenant.id, pack, target, versions=versions)
    except ProblemError as error:
        return TenantOutcome(
            tenant_id=tenant.id, slug=tenant.slug, from_version=pinned, error=error.detail
        )
    except SQLAlchemyError as error:
        # One workspace's failure (rolled back) must not stop the others.
        reason = str(getattr(error, "orig", None) or error).splitlines()[0]
        return TenantOutcome(
            tenant_id=tenant.id, slug=tenant.slug, from_version=pinned, error=reason
        )
    new = UpgradePlan(entries=[e for e in done.plan.entries if e.held_before is None])
    return TenantOutcome(
        tenant_id=tenant.id,
        slug=tenant.slug,
        from_version=done.from_version,
        to_version=done.to_version,
        counts={action.value: n for action, n in new.counts().items()},
        conflicts=[f"{e.kind} {e.key}" for e in new.with_action(Action.CONFLICT)],
        held_before=[f"{e.kind} {e.key}" for e in done.plan.entries if e.held_before],
        applied=done.applied,
    )


# --- for the API -------------------------------------------------------------------------------


def plan_document(upgrade: WorkspaceUpgrade) -> dict[str, Any]:
    """An upgrade as plain JSON-able data: counts per action, and every entry that is not
    unchanged with its fields side by side (dates in ISO form)."""
    return {
        "pack": upgrade.pack,
        "from_version": upgrade.from_version,
        "to_version": upgrade.to_version,
        "applied": upgrade.applied,
        "counts": {action.value: n for action, n in upgrade.plan.counts().items()},
        "entries": [
            {
                "kind": entry.kind,
                "key": entry.key,
                "action": entry.action.value,
                "reason": entry.reason,
                "mergeable": entry.mergeable,
                "held_before": entry.held_before,
                "fields": msgspec.to_builtins(entry.fields),
            }
            for entry in upgrade.plan.entries
            if entry.action is not Action.UNCHANGED
        ],
    }


async def upgrade_for_api(
    control: AsyncSession,
    session: AsyncSession,
    tenant_id: uuid.UUID,
    version: str | None,
    apply: bool,
    actor_id: uuid.UUID | None,
    take: Collection[str] = (),
) -> dict[str, Any]:
    """`POST /api/v1/w/{slug}/template-upgrades`: plan, or apply, in the request's transaction
    (wired through the `pmo.workspace` entry point, so `services` does not import this).

    The version is a field of the request's body: one the pack has not published is a 422
    naming it and listing those it has, not a 404 of the route."""
    if version is not None:
        pin = await pins.require(session)
        _, listed = await catalogue.get_pack(control, pin.pack)
        if version not in {row.version for row in listed}:
            # What the workspace can move to: its own version, and the later ones.
            pinned = version_key(pin.pack_version)
            open_to = [r.version for r in listed if version_key(r.version) >= pinned]
            raise ValidationFailed(
                f"The workspace's pack {pin.pack} has no version {version!r}.",
                errors=[field_error("version", f"one of {', '.join(open_to)}")],
            )
    if apply:
        done = await apply_upgrade(
            session,
            tenant_id,
            None,
            version,
            catalogue=control,
            actor_id=actor_id,
            take=take,
            via="api",
        )
    else:
        done = await plan_upgrade(session, tenant_id, None, version, catalogue=control, take=take)
    return plan_document(done)
