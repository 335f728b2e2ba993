"""A workspace's rows read back as seed values (`values`), for upgrades and save-as-template.

* `read_pack_items` — the rows a pack seeded (provenance `source_pack = pack`), each under its
  item key: the "theirs" of an upgrade. Rows the client created are not pack items; a reference
  to one reads as `row:<uuid>`.
* `read_programme_items` — everything one programme holds, the client's rows included (they get
  keys made from their names), plus the workspace-wide items (roles, scales, RAG rules, custom
  fields, custom registers, report formats): what save-as-template exports.

Either is one statement: a `UNION ALL` of every table's rows as JSON (`to_jsonb`), which costs a
fifth of thirty ORM queries. Rows come back as `Record`s whose attributes are typed like the
model's columns, so `rows.Stored.values` reads them as it would read the model.
"""

from __future__ import annotations

import enum
import re
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from sqlalchemy import (
    ARRAY,
    CompoundSelect,
    Date,
    DateTime,
    Enum,
    Float,
    Select,
    Uuid,
    bindparam,
    func,
    literal,
    or_,
    union_all,
)
from sqlalchemy import select as select_
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql.elements import BindParameter, ColumnElement

from services.db.base import WorkspaceModel
from services.db.tenant_scope import TenantScopeError, scope_of
from services.workspace.benefits.models import Benefit, BenefitEnabler
from services.workspace.custom_registers.models import CustomRegister, CustomRegisterEntry
from services.workspace.gates.models import Checklist, ChecklistEntry, GateCriterion, StageGate
from services.workspace.governance.models import Board, BoardMember
from services.workspace.reporting.models import ReportFormat, ReportSection
from services.workspace.structure.models import Programme
from templates_library.rows import PART_TABLES, STORED, TABLE_ORDER, Reading, Stored
from templates_library.values import ItemId, ItemValues


class Record:
    """A row read back: one attribute per column, typed as the model types it."""

    def __init__(self, values: dict[str, Any]) -> None:
        self.__dict__.update(values)

    def __getattr__(self, name: str) -> Any:  # only for names that are not columns
        raise AttributeError(name)


@dataclass
class WorkspaceItems:
    """Items read from a workspace: their values, and the row each came from."""

    values: dict[ItemId, ItemValues] = field(default_factory=dict)
    rows: dict[ItemId, Record] = field(default_factory=dict)
    reading: Reading = field(default_factory=lambda: Reading({}))


_KINDS_OF_MODEL: dict[type[WorkspaceModel], list[Stored]] = {}
for _stored in STORED.values():
    _KINDS_OF_MODEL.setdefault(_stored.model, []).append(_stored)
_ITEM_TABLES = [model for model in TABLE_ORDER if model not in PART_TABLES]
_BY_NAME = {model.__tablename__: model for model in TABLE_ORDER}


def _converter(column_type: Any) -> Callable[[Any], Any] | None:
    if isinstance(column_type, Uuid):
        return uuid.UUID
    if isinstance(column_type, ARRAY):
        return lambda values: [uuid.UUID(value) for value in values]
    if isinstance(column_type, DateTime):
        return datetime.fromisoformat
    if isinstance(column_type, Date):
        return date.fromisoformat
    if isinstance(column_type, Enum) and column_type.enum_class is not None:
        enum_class: type[enum.Enum] = column_type.enum_class
        return enum_class
    if isinstance(column_type, Float):
        return float
    return None


_CONVERTERS: dict[type[WorkspaceModel], list[tuple[str, Callable[[Any], Any]]]] = {
    model: [
        (column.name, converter)
        for column in model.__table__.columns
        if (converter := _converter(column.type)) is not None
    ]
    for model in TABLE_ORDER
}


def record(model: type[WorkspaceModel], data: dict[str, Any]) -> Record:
    """A row of `model` from its `to_jsonb` form."""
    for name, convert in _CONVERTERS[model]:
        value = data.get(name)
        if value is not None:
            data[name] = convert(value)
    return Record(data)


# A row alias → the condition its rows meet (None: every row).
Condition = Callable[[Any], ColumnElement[bool] | None]


def _statement(conditions: dict[type[WorkspaceModel], Condition]) -> CompoundSelect[Any]:
    """Each table's rows meeting its condition, as (table, row as JSON), in one statement.

    Conditions name their values as bind parameters (`tenant_ids` always), so a statement is
    built once and reused: building it costs more than running it.
    """
    parts: list[Select[Any]] = []
    for model, condition in conditions.items():
        alias = model.__table__.alias("row")
        query = select_(
            literal(model.__tablename__).label("source_table"),
            func.to_jsonb(alias.table_valued()).label("data"),
        ).where(alias.c.tenant_id.in_(bindparam("tenant_ids", expanding=True)))
        where = condition(alias)
        if where is not None:
            query = query.where(where)
        parts.append(query)
    return union_all(*parts)


async def _fetch(
    session: AsyncSession, statement: CompoundSelect[Any], **values: Any
) -> dict[type[WorkspaceModel], list[Record]]:
    scope = scope_of(session.sync_session)
    if scope is None:
        raise TenantScopeError("reading workspace rows without a tenant scope")
    found: dict[type[WorkspaceModel], list[Record]] = {model: [] for model in TABLE_ORDER}
    result = await session.execute(statement, {"tenant_ids": list(scope.tenant_ids), **values})
    for table, data in result.all():
        model = _BY_NAME[table]
        found[model].append(record(model, data))
    for model, rows in found.items():
        rows.sort(key=lambda row: _order(model, row))
    return found


def _order(model: type[WorkspaceModel], row: Record) -> tuple[Any, ...]:
    return (getattr(row, "position", 0), row.created_at, row.id)


def _under(parent: type[WorkspaceModel], column: str, condition: Condition) -> Condition:
    """Rows whose `column` names a row of `parent` that meets `condition`."""

    def where(row: Any) -> ColumnElement[bool]:
        parent_row = parent.__table__.alias("parent")
        parents = select_(parent_row.c.id)
        parent_condition = condition(parent_row)
        if parent_condition is not None:
            parents = parents.where(parent_condition)
        found: ColumnElement[bool] = row.c[column].in_(parents)
        return found

    return where


def _pack_rows(row: Any) -> ColumnElement[bool]:
    found: ColumnElement[bool] = row.c.source_pack == bindparam("pack")
    return found


_PACK_STATEMENT = _statement(
    dict.fromkeys(_ITEM_TABLES, _pack_rows)
    | {part: _under(parent, column, _pack_rows) for part, (parent, column) in PART_TABLES.items()}
)


async def read_pack_items(session: AsyncSession, pack: str) -> WorkspaceItems:
    """The rows `pack` seeded into the session's workspace, as seed values by item."""
    tables = await _fetch(session, _PACK_STATEMENT, pack=pack)
    found: dict[ItemId, Record] = {}
    for model in _ITEM_TABLES:
        for stored in _KINDS_OF_MODEL[model]:
            for row in tables[model]:
                key = stored.item_key(row) if stored.owns(row) else None
                if key is not None:
                    found[(stored.kind, key)] = row
    keys = {row.id: key for (kind, key), row in found.items() if kind != "scale_settings"}
    return _items(found, keys, tables)


async def read_programme_items(session: AsyncSession, programme_id: uuid.UUID) -> WorkspaceItems:
    """Everything programme `programme_id` holds and the workspace-wide items it uses, the
    client's own rows included (keyed by their names); pack rows keep their item keys."""
    tables = await _fetch(session, _PROGRAMME_STATEMENT, programme_id=programme_id)
    found: dict[ItemId, Record] = {}
    keys: dict[uuid.UUID, str] = {}
    taken: set[ItemId] = set()
    fresh: list[tuple[Stored, Record]] = []
    for model in _ITEM_TABLES:
        for stored in _KINDS_OF_MODEL[model]:
            for row in tables[model]:
                if not stored.owns(row):
                    continue
                key = stored.item_key(row)
                if key is None and row.source_item is None:
                    fresh.append((stored, row))
                elif key is not None:
                    found[(stored.kind, key)] = row
                    taken.add((stored.kind, key))
                    if stored.kind != "scale_settings":
                        keys[row.id] = key
    # The client's rows get keys from what they are called, children under their parent's key.
    for stored, row in fresh:
        parent = _parent_key(stored.kind, row, keys)
        key = _fresh_key(stored.kind, row, parent, taken)
        taken.add((stored.kind, key))
        found[(stored.kind, key)] = row
        keys[row.id] = key
    return _items(found, keys, tables)


def _items(
    found: dict[ItemId, Record],
    keys: dict[uuid.UUID, str],
    tables: dict[type[WorkspaceModel], list[Record]],
) -> WorkspaceItems:
    reading = Reading(keys)
    for seat in tables.get(BoardMember, []):
        reading.seats.setdefault(seat.board_id, []).append(seat)  # type: ignore[arg-type]
    for enabler in tables.get(BenefitEnabler, []):
        reading.enablers.setdefault(enabler.benefit_id, []).append(enabler)  # type: ignore[arg-type]
    items = WorkspaceItems(reading=reading)
    for item_id, row in found.items():
        items.values[item_id] = STORED[item_id[0]].values(row, reading)
        items.rows[item_id] = row
    return items


# --- one programme ----------------------------------------------------------------------------

# Children go with the rows of their parent table that go.
_CHILDREN: dict[type[WorkspaceModel], tuple[type[WorkspaceModel], str]] = {
    GateCriterion: (StageGate, "gate_id"),
    CustomRegisterEntry: (CustomRegister, "register_id"),
    ReportSection: (ReportFormat, "format_id"),
    ChecklistEntry: (Checklist, "checklist_id"),
    BoardMember: (Board, "board_id"),
    BenefitEnabler: (Benefit, "benefit_id"),
}


def _programme_conditions() -> dict[type[WorkspaceModel], Condition]:
    """Which rows of each table go with the programme (None: all, for workspace-wide tables)."""
    programme_id: BindParameter[uuid.UUID] = bindparam("programme_id", type_=Uuid())

    def of_programme(model: type[WorkspaceModel]) -> Condition:
        if model is Programme:
            return lambda row: row.c.id == programme_id
        if model in _CHILDREN:
            parent, column = _CHILDREN[model]
            return _under(parent, column, of_programme(parent))
        programme = model.__table__.c.get("programme_id")
        if programme is None:
            return lambda row: None
        if programme.nullable:
            # Boards, RACI, stakeholders and documents may serve the whole workspace.
            return lambda row: or_(row.c.programme_id == programme_id, row.c.programme_id.is_(None))
        return lambda row: row.c.programme_id == programme_id

    return {model: of_programme(model) for model in TABLE_ORDER}


_PROGRAMME_STATEMENT = _statement(_programme_conditions())


_PARENT_COLUMN = {
    "gate_criterion": "gate_id",
    "register_entry": "register_id",
    "report_section": "format_id",
    "checklist_entry": "checklist_id",
}
_NAME_COLUMNS = ("key", "title", "name", "activity", "statement", "text", "label")
_NOT_KEY = re.compile(r"[^a-z0-9]+")


def _parent_key(kind: str, row: Record, keys: dict[uuid.UUID, str]) -> str | None:
    column = _PARENT_COLUMN.get(kind)
    return None if column is None else keys.get(getattr(row, column))


def _fresh_key(kind: str, row: Record, parent: str | None, taken: set[ItemId]) -> str:
    """A key for a client's row: its own key where it has one, else its name made a key."""
    if kind in {"probability_level", "impact_level"}:
        base = str(row.value)
    elif kind == "custom_field":
        base = f"{row.register}/{row.key}"
    else:
        names = (getattr(row, column, None) for column in _NAME_COLUMNS)
        name = next((n for n in names if n), kind)
        words = _NOT_KEY.sub("-", str(name).lower()).strip("-")[:48].rstrip("-") or kind
        base = words if parent is None else f"{parent}/{words}"
    key, n = base, 1
    while (kind, key) in taken:
        n += 1
        key = f"{base}-{n}"
    return key
