"""What every workspace register's service shares: get, create (with a seeder's id and pack
provenance), update, delete, filtered and sorted pages, export rows and custom fields.

A concept's service subclasses :class:`RegisterService` and adds its rules in
:meth:`RegisterService.check` (called before every write with the values the row had).
"""

from __future__ import annotations

import dataclasses
import functools
import re
import uuid
from collections.abc import AsyncIterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any, ClassVar, Generic, Protocol, TypeVar

import msgspec
from sqlalchemy import (
    ColumnElement,
    Numeric,
    Select,
    Text,
    and_,
    bindparam,
    cast,
    delete,
    func,
    literal_column,
    select,
    update,
)
from sqlalchemy.dialects.postgresql import JSONB, insert
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import InstrumentedAttribute

from services.concurrency import etag
from services.db.base import WorkspaceModel, utcnow
from services.db.tenant_scope import TenantScopeError, scope_of
from services.errors import Conflict, NotFound, ValidationFailed, VersionMismatch, field_error
from services.identity.models import Role
from services.workspace import exports, money
from services.workspace.configuration import service as configuration
from services.workspace.models import CarriesCustomFields, SeededFromPack
from services.workspace.organisation.models import ProgrammeRole
from services.workspace.structure.models import Programme, Project

M = TypeVar("M", bound=WorkspaceModel)
# PostgreSQL's detail of a foreign key refusing a delete names the table that still refers.
_REFERRED_FROM = re.compile(r'is still referenced from table "(\w+)"')
# Tables the workspace's configuration (`configuration.configuration`) is read from.
_CONFIGURATION_TABLES = frozenset(
    {"scale_levels", "risk_bands", "register_settings", "custom_field_definitions"}
)


@dataclass(frozen=True, slots=True)
class Provenance:
    """A template pack item a seeded row came from."""

    pack: str
    version: str
    item: str


async def insert_seeded(
    session: AsyncSession,
    model: type[WorkspaceModel],
    rows: list[dict[str, Any]],
    actor_id: uuid.UUID | None = None,
) -> int:
    """:func:`insert_seeded_tables` for one table; returns how many rows were new."""
    return (await insert_seeded_tables(session, [(model, rows)], actor_id)).get(model, 0)


async def insert_seeded_tables(
    session: AsyncSession,
    tables: Sequence[tuple[type[WorkspaceModel], list[dict[str, Any]]]],
    actor_id: uuid.UUID | None = None,
) -> dict[type[WorkspaceModel], int]:
    """The template seeder's bulk path: every table's ``rows`` (each with its ``id`` and
    provenance) in **one statement**, one ``INSERT … SELECT FROM jsonb_populate_recordset(…)
    ON CONFLICT DO NOTHING`` per table as a data-modifying CTE; returns how many rows of each
    table were new.

    A row whose id (or another unique key) is already taken is left as it is, so seeding twice
    writes nothing. The rows are stamped with the session's tenant. Each service's rules for
    derived values (scores, bands …) are applied by the caller through that service's pure
    rules; checks that read other rows do not run here: packs are validated as a whole before
    they are published. Foreign keys are checked at the end of the statement, so the order of
    the tables does not matter to the database (parents first reads best all the same).

    Each table's rows travel as one JSON parameter, so the statement's text depends only on
    the tables and their columns — the same for every workspace seeded from one pack version
    — and a whole pack costs one round trip instead of one per table (about thirty).
    """
    tables = [(model, rows) for model, rows in tables if rows]
    if not tables:
        return {}
    scope = scope_of(session.sync_session)
    if scope is None:
        raise TenantScopeError("seeding workspace rows without a tenant scope")
    stamp = {"tenant_id": scope.tenant_id, "version": 1, "created_by": actor_id}
    stamp["updated_by"] = actor_id
    shapes: list[tuple[Any, tuple[str, ...]]] = []
    parameters: dict[str, str] = {}
    for position, (model, rows) in enumerate(tables):
        table = model.__table__
        names = list(dict.fromkeys([*stamp, *rows[0]]))
        defaults = _python_defaults(table, names)
        records = [{**defaults, **row, **stamp} for row in rows]
        shapes.append((table, (*names, *defaults)))
        parameters[f"rows_{position}"] = msgspec.json.encode(records).decode()
    counts = (await session.execute(_insert_tables_from_json(tuple(shapes)), parameters)).one()
    return {model: int(count) for (model, _), count in zip(tables, counts, strict=True)}


@functools.cache
def _insert_tables_from_json(shapes: tuple[tuple[Any, tuple[str, ...]], ...]) -> Any:
    """``WITH t0 AS (INSERT … RETURNING id), t1 AS (…) … SELECT count(t0), count(t1), …``."""
    inserted = []
    for position, (table, names) in enumerate(shapes):
        parameter = cast(bindparam(f"rows_{position}", type_=Text), JSONB)
        records = func.jsonb_populate_recordset(
            literal_column(f"NULL::{table.fullname}"), parameter
        ).table_valued(*names)
        insert_rows = (
            insert(table)
            .from_select(
                list(names), select(*(records.c[name] for name in names)), include_defaults=False
            )
            .on_conflict_do_nothing()
            .returning(table.c.id)
        )
        inserted.append(insert_rows.cte(f"t{position}"))
    return select(*(select(func.count()).select_from(t).scalar_subquery() for t in inserted))


def _python_defaults(table: Any, given: list[str]) -> dict[str, Any]:
    """Values for the columns not given whose default SQLAlchemy computes in Python (the
    database fills those with a server default)."""
    found: dict[str, Any] = {}
    for column in table.columns:
        default = column.default
        if column.name in given or default is None or column.server_default is not None:
            continue
        if getattr(default, "is_scalar", False):
            found[column.name] = default.arg
        elif getattr(default, "is_callable", False):
            found[column.name] = default.arg(None)
    return found


async def update_seeded(
    session: AsyncSession,
    model: type[WorkspaceModel],
    row_id: uuid.UUID,
    values: dict[str, Any],
    actor_id: uuid.UUID | None = None,
    *,
    rules: type[RegisterService[Any]] | None = None,
) -> None:
    """Write a template upgrade's new values onto one seeded row, moving its version on (its
    ETag changes, so a client holding the old one gets 412).

    With ``rules`` (the register's service), the row as ``values`` leave it must pass what the
    API's update checks (:meth:`RegisterService.check_seeded`): if it does not, this raises
    that :class:`ValidationFailed` / :class:`Conflict` and writes nothing. Values the rules
    derive (scores, trend …) are written with it.
    """
    scope = scope_of(session.sync_session)
    if scope is None:
        raise TenantScopeError("updating workspace rows without a tenant scope")
    if rules is not None:
        table = model.__table__
        current = (
            await session.execute(
                select(table).where(table.c.tenant_id == scope.tenant_id, table.c.id == row_id)
            )
        ).one_or_none()
        if current is None:
            raise NotFound(f"No {model.__tablename__} row {row_id}.")
        values = await rules(session, actor_id).check_seeded(dict(current._mapping), values)
    await session.execute(
        update(model)
        .where(model.tenant_id == scope.tenant_id, model.id == row_id)
        .values(**values, version=model.version + 1, updated_at=utcnow(), updated_by=actor_id)
        .execution_options(synchronize_session=False)
    )
    if rules is not None and current is not None:
        await rules(session, actor_id).seeded_written(dict(current._mapping), values)
    if model.__tablename__ in _CONFIGURATION_TABLES:
        # The rules of the rows written next read the workspace's configuration as it now is.
        configuration.forget_configuration(session)


async def move_versions_on(
    session: AsyncSession,
    model: type[WorkspaceModel],
    which: ColumnElement[bool],
    actor_id: uuid.UUID | None,
    **also: Any,
) -> None:
    """Move on the version (the ETag), ``updated_at`` and ``updated_by`` of ``model``'s rows
    that ``which`` selects, because something their reads show changed elsewhere (a gate's
    criteria, a benefit's measurements or enabling projects): a client holding the old ETag
    gets 412.

    The increment is the database's (``version = version + 1``), not checked against a version
    read before: changing a child needs no ``If-Match`` on its parent, and two children changed
    at once both go in, one after the other (the row lock orders them). ``also``: columns
    written in the same statement (an upgrade settling a row's ``source_version``).
    """
    await session.execute(
        update(model)
        .where(which)
        .values(version=model.version + 1, updated_at=utcnow(), updated_by=actor_id, **also)
        .execution_options(synchronize_session=False)
    )


async def delete_seeded(
    session: AsyncSession, model: type[WorkspaceModel], ids: list[uuid.UUID]
) -> int:
    """Delete rows by id (a template upgrade's removals); returns how many went."""
    if not ids:
        return 0
    result = await session.execute(
        delete(model).where(model.id.in_(ids)).execution_options(synchronize_session=False)
    )
    return int(getattr(result, "rowcount", 0) or 0)


def _typed(model: type[WorkspaceModel], name: str, value: Any) -> Any:
    """``value`` as the ORM holds column ``name`` (an enum's member for its text, money's
    ``Decimal`` for a pack's float), so rules comparing with ``is`` or ``!=`` see what they
    would see on a loaded row."""
    column_type = model.__table__.c[name].type
    enum_class = getattr(column_type, "enum_class", None)
    if enum_class is not None and value is not None and not isinstance(value, enum_class):
        return enum_class(value)
    if isinstance(column_type, Numeric) and column_type.asdecimal and isinstance(value, float):
        return money.exact(name, value)
    return value


# Columns every write stamps itself.
_STAMPED = frozenset({"tenant_id", "id", "version", "updated_at", "updated_by"})


class RegisterFilter(Protocol):
    """A list's filters, as a dataclass whose fields are named as the request's parameters: a
    date range is a ``<name>_after`` / ``<name>_before`` pair (:func:`refuse_reversed_ranges`)."""

    def conditions(self) -> list[ColumnElement[bool]]: ...

    def order(self) -> list[Any]: ...


def equal(pairs: Sequence[tuple[Any, Any]]) -> list[ColumnElement[bool]]:
    """``column == value`` for each pair whose value is given (a list's filters)."""
    return [column == value for column, value in pairs if value is not None]


def between(
    column: InstrumentedAttribute[date | None] | InstrumentedAttribute[date],
    after: date | None,
    before: date | None,
) -> list[ColumnElement[bool]]:
    """``column >= after`` and ``column <= before``, for the ones given (a reversed range was
    refused before: :func:`refuse_reversed_ranges`)."""
    conditions: list[ColumnElement[bool]] = []
    if after is not None:
        conditions.append(column >= after)
    if before is not None:
        conditions.append(column <= before)
    return conditions


def refuse_reversed_ranges(where: object) -> None:
    """Raise a 422 when a filter's date range ends before it starts (``due_before`` earlier
    than ``due_after``), which would answer with an empty list instead of saying why."""
    if not dataclasses.is_dataclass(where):
        return
    values = {field.name: getattr(where, field.name) for field in dataclasses.fields(where)}
    for after, start in values.items():
        if not after.endswith("_after"):
            continue
        before = f"{after.removesuffix('_after')}_before"
        end = values.get(before)
        if isinstance(start, date) and isinstance(end, date) and end < start:
            # As a report's period is refused (``period_end`` on or after ``period_start``).
            raise ValidationFailed(
                f"A range must end on or after its start: {before} is before {after}.",
                errors=[field_error(before, f"on or after {after}", "query")],
            )


def parts_named(model: type[WorkspaceModel], changes: Mapping[str, Any]) -> list[str]:
    """The fields a write names that are not columns of ``model``: its nested parts, kept in
    tables of their own (a board's seats, a benefit's enabling projects, a change request's
    re-baselines). Writing them writes no column of the row, so its version-checked UPDATE does
    not refuse a stale version: :meth:`RegisterService.hold_as_loaded` does, before they are
    written."""
    columns = model.__table__.c
    return [name for name in changes if name not in columns]


def invalid(field: str, message: str, detail: str | None = None) -> ValidationFailed:
    return ValidationFailed(detail or message, errors=[field_error(field, message)])


class RegisterService(Generic[M]):
    """CRUD for one register in a tenant-scoped session (the scope decides whose rows)."""

    model: ClassVar[type[WorkspaceModel]]
    noun: ClassVar[str]
    # The register's name for custom field definitions (None: no custom fields).
    register: ClassVar[str | None] = None

    def __init__(
        self, session: AsyncSession, actor_id: uuid.UUID | None, role: Role = Role.MEMBER
    ) -> None:
        self.session = session
        self.actor_id = actor_id
        # The caller's role in the workspace, for rules that depend on who writes (the routes
        # already refused a role below the route's).
        self.role = role

    async def lock_workspace(self, purpose: str) -> None:
        """Hold a lock of the workspace's, named for ``purpose``, until the transaction ends:
        writes that each pass a rule on what they read (no loop, no two decisions replacing
        each other) take it, so two at once cannot both pass before either wrote."""
        scope = scope_of(self.session.sync_session)
        if scope is not None:
            key = func.hashtextextended(f"{purpose}/{scope.tenant_id}", 0)
            await self.session.execute(select(func.pg_advisory_xact_lock(key)))

    # --- reads ------------------------------------------------------------------------------

    async def get(self, row_id: uuid.UUID) -> M:
        row = await self.session.scalar(select(self.model).where(self.model.id == row_id))
        if row is None:
            raise NotFound(f"No {self.noun} {row_id}.")
        return row  # type: ignore[return-value]

    async def conditions(self, where: RegisterFilter) -> list[ColumnElement[bool]]:
        return where.conditions()

    async def _filtered(
        self, where: RegisterFilter, custom: list[str] | None
    ) -> list[ColumnElement[bool]]:
        refuse_reversed_ranges(where)
        conditions = await self.conditions(where)
        if self.register is not None:
            column = self.model.custom_fields  # type: ignore[attr-defined]
            conditions += await configuration.custom_field_conditions(
                self.session, self.register, column, custom
            )
        elif custom:
            raise ValidationFailed(
                f"{self.noun} has no custom fields.",
                errors=[field_error("custom", "this register has no custom fields", "query")],
            )
        return conditions

    async def page(
        self, where: RegisterFilter, custom: list[str] | None, limit: int, offset: int
    ) -> tuple[list[M], int]:
        conditions = await self._filtered(where, custom)
        total = await self.session.scalar(
            select(func.count()).select_from(self.model).where(*conditions)
        )
        query: Select[Any] = (
            select(self.model)
            .where(*conditions)
            .order_by(*where.order(), self.model.id)
            .limit(limit)
            .offset(offset)
        )
        rows: list[M] = list((await self.session.scalars(query)).all())
        return rows, int(total or 0)

    async def export_rows(self, where: RegisterFilter, custom: list[str] | None) -> list[M]:
        """Every row of an XLSX export; a 422 when there are more than
        :data:`exports.XLSX_EXPORT_LIMIT` (never the first that many)."""
        # One row beyond the cap, in the same statement: a count read apart could be stale.
        rows, _ = await self.page(where, custom, exports.XLSX_EXPORT_LIMIT + 1, 0)
        exports.refuse_large_xlsx(len(rows))
        return rows

    async def export_query(self, where: RegisterFilter, custom: list[str] | None) -> Select[Any]:
        """A CSV export's rows in the list's order, its filters checked (raises as
        :meth:`page` does): run it with :meth:`export_batches`, in a session of its own."""
        conditions = await self._filtered(where, custom)
        return select(self.model).where(*conditions).order_by(*where.order(), self.model.id)

    async def export_batches(self, query: Select[Any]) -> AsyncIterator[list[M]]:
        """The rows of :meth:`export_query`, :data:`exports.EXPORT_BATCH` at a time from a
        server-side cursor: one snapshot, and memory flat whatever the register's size."""
        result = await self.session.stream_scalars(
            query.execution_options(yield_per=exports.EXPORT_BATCH)
        )
        async for batch in result.partitions():
            yield list(batch)

    async def export_table(
        self, where: RegisterFilter, fields: Sequence[str], shown: Sequence[dict[str, Any]]
    ) -> tuple[list[str], list[list[Any]]]:
        """An export's header and rows: the read shape's ``fields``, then a column per custom
        field of the register."""
        custom = await exports.custom_columns(self.session, self.register)
        return exports.table(fields, shown, custom)

    # --- writes -----------------------------------------------------------------------------

    async def check(self, row: M, before: dict[str, Any] | None) -> None:
        """The register's rules, before a write; ``before`` holds changed fields' old values
        (None on create). Raise :class:`ValidationFailed` / :class:`Conflict`."""

    async def custom_field_register(self, row: M) -> str | None:
        """The register whose custom field definitions ``row``'s custom fields follow."""
        return self.register

    async def seeded_written(self, current: dict[str, Any], written: dict[str, Any]) -> None:
        """After a template upgrade wrote ``written`` onto a row that held ``current``: what
        moves with it, as :meth:`update` moves it for the API (nothing, unless a register
        says)."""

    async def check_seeded(self, current: dict[str, Any], values: dict[str, Any]) -> dict[str, Any]:
        """What :meth:`update` checks, for a template upgrade writing ``values`` onto a row
        that holds ``current`` (every column): custom fields against their definitions, then
        :meth:`check` with the old values of the fields that change. Raises as those do;
        returns the columns to write (``values`` and what the rules derive from them).

        The row is checked as a copy outside the session: nothing is written or flushed.
        """
        row: M = self.model(**current)  # type: ignore[assignment]
        typed = {name: _typed(self.model, name, value) for name, value in values.items()}
        before = {name: current[name] for name, value in typed.items() if current[name] != value}
        for name, value in typed.items():
            setattr(row, name, value)
        if "custom_fields" in before and isinstance(row, CarriesCustomFields):
            register = await self.custom_field_register(row)
            if register is not None:
                old, new = before["custom_fields"] or {}, row.custom_fields or {}
                changes = {**dict.fromkeys(set(old) - set(new)), **new}
                row.custom_fields = await configuration.validate_custom_fields(
                    self.session, register, changes, old
                )
        with self.session.no_autoflush:
            await self.check(row, before)
        derived = {
            name: getattr(row, name)
            for name in current
            if name not in typed and name not in _STAMPED and getattr(row, name) != current[name]
        }
        return {**{name: getattr(row, name) for name in typed}, **derived}

    def values_of(self, data: msgspec.Struct) -> dict[str, Any]:
        """The column values a create body sets (override to reshape nested parts)."""
        return {
            name: msgspec.to_builtins(value) if isinstance(value, list) else value
            for name, value in msgspec.structs.asdict(data).items()
        }

    async def create(
        self,
        data: msgspec.Struct,
        *,
        id: uuid.UUID | None = None,
        provenance: Provenance | None = None,
    ) -> M:
        """Add a row. ``id`` and ``provenance`` are for the template seeder (not the API)."""
        values = self.values_of(data)
        custom = values.pop("custom_fields", None)
        row: M = self.model(**values)  # type: ignore[assignment]
        if id is not None:
            row.id = id
        if provenance is not None and isinstance(row, SeededFromPack):
            row.source_pack = provenance.pack
            row.source_version = provenance.version
            row.source_item = provenance.item
        if self.register is not None and isinstance(row, CarriesCustomFields):
            row.custom_fields = await configuration.validate_custom_fields(
                self.session, self.register, custom or {}
            )
        row.created_by = row.updated_by = self.actor_id
        with self.session.no_autoflush:
            await self.check(row, None)
        self.session.add(row)
        await self._flush()
        await self.session.refresh(row)
        return row

    async def update(self, row: M, changes: dict[str, Any]) -> M:
        custom = changes.pop("custom_fields", None)
        before = {name: getattr(row, name) for name in changes}
        # The custom fields' definitions and the checks are read from the database: nothing is
        # written until the row is whole again (new levels with their old scores, say, would
        # break a check constraint).
        with self.session.no_autoflush:
            for name, value in changes.items():
                value = msgspec.to_builtins(value) if isinstance(value, list) else value
                setattr(row, name, value)
            if custom is not None and self.register is not None:
                row.custom_fields = await configuration.validate_custom_fields(  # type: ignore[attr-defined]
                    self.session,
                    self.register,
                    custom,
                    row.custom_fields,  # type: ignore[attr-defined]
                )
            await self.check(row, before)
        # Held where its UPDATE would take it (so no lock is taken in a new order), a write of
        # no column too: a PATCH that changes nothing is still refused on a version that moved
        # on while it was made, as a stale If-Match is.
        await self.hold_as_loaded(row, tagged=False)
        # Written only when a column's value changed (the rules' derived ones too): a PATCH
        # that changes nothing leaves the row, its version and who last changed it as they
        # were (``updated_at`` is stamped by the write itself). What hangs off the row (a
        # subclass's nested parts: members, lines, enablers) is not a column: a change there
        # alone moves the version on through :meth:`touch` (the generic update route compares
        # what the row's read shows before and after, and holds the row before any part is
        # written: :func:`parts_named`).
        if self.session.is_modified(row):
            row.updated_by = self.actor_id
        await self._flush()
        await self.session.refresh(row)
        return row

    async def hold_as_loaded(
        self, row: M, as_of: date | None = None, *, tagged: bool = True
    ) -> None:
        """Hold ``row``'s row until the transaction ends (``FOR NO KEY UPDATE``, the lock its
        UPDATE takes) and refuse (412) when its version, read afresh, is no longer the one
        ``row`` was loaded at and its If-Match checked against: another write went in meanwhile.
        The 412 names the current ETag (``as_of`` as for :func:`~services.concurrency.etag`)
        unless ``tagged`` is False: a caller not knowing whether the register's tags name the
        day says none rather than a wrong one.

        An update of columns alone would be refused by the version-checked UPDATE anyway; one
        of nested parts (:func:`parts_named`) writes no column, so without this two at once on
        one ETag both went in, their parts mixed. Call it before any part is written; holding
        twice in one transaction is harmless."""
        model = type(row)
        with self.session.no_autoflush:  # the row's pending changes are not written yet
            held = await self.session.scalar(
                select(model.version)
                .where(model.tenant_id == row.tenant_id, model.id == row.id)
                .with_for_update(key_share=True)
            )
        if held is None:
            raise VersionMismatch(f"The {self.noun} was deleted while this request was being made.")
        if held != row.version:
            named: dict[str, Any] = {"current_etag": etag(held, as_of)} if tagged else {}
            raise VersionMismatch(
                f"The {self.noun} changed while this request was being made; read it again and "
                "reapply your change.",
                **named,
            )

    async def delete(self, row: M) -> None:
        await self.session.delete(row)
        await self._flush()

    async def touch(self, row: M) -> None:
        """Move ``row``'s version on (:func:`move_versions_on`) because something its
        representation shows changed elsewhere: a criterion of a gate, a measurement of a
        benefit."""
        model = type(row)
        which = and_(model.tenant_id == row.tenant_id, model.id == row.id)
        await move_versions_on(self.session, model, which, self.actor_id)
        await self.session.refresh(row, ["version", "updated_at", "updated_by"])

    async def _flush(self) -> None:
        try:
            async with self.session.begin_nested():
                await self.session.flush()
        except IntegrityError as exc:
            # Anything the checks let through that the keys refuse: still the caller's conflict.
            detail = str(getattr(getattr(exc.orig, "diag", None), "message_detail", "") or "")
            if referring := _REFERRED_FROM.search(detail):
                raise Conflict(
                    f"This {self.noun} is still referred to by "
                    f"{referring[1].replace('_', ' ')}: change or remove those first."
                ) from exc
            raise Conflict(
                f"This {self.noun} is referenced by other records or refers to missing ones."
            ) from exc

    # --- references -------------------------------------------------------------------------

    async def require_programme(self, programme_id: uuid.UUID) -> None:
        found = await self.session.scalar(select(Programme.id).where(Programme.id == programme_id))
        if found is None:
            raise invalid("programme_id", "no such programme in this workspace")

    async def require_project(
        self,
        project_id: uuid.UUID | None,
        programme_id: uuid.UUID | None,
        field: str = "project_id",
    ) -> None:
        """The project exists (and, given a programme, belongs to it)."""
        if project_id is None:
            return
        owner = await self.session.scalar(
            select(Project.programme_id).where(Project.id == project_id)
        )
        if owner is None:
            raise invalid(field, "no such project in this workspace")
        if programme_id is not None and owner != programme_id:
            raise invalid(field, "the project belongs to another programme")

    async def in_another_tranche(
        self, project_id: uuid.UUID | None, tranche_id: uuid.UUID | None
    ) -> bool:
        """Whether the project sits in a tranche other than ``tranche_id`` (False when either is
        None, or the project is in no tranche): what a row naming both must not say."""
        if project_id is None or tranche_id is None:
            return False
        tranche = await self.session.scalar(
            select(Project.tranche_id).where(Project.id == project_id)
        )
        return tranche is not None and tranche != tranche_id

    async def require_roles(self, row: WorkspaceModel, before: dict[str, Any] | None) -> None:
        """The programme roles ``row`` names (``*_role_id`` columns) exist here."""
        for column in row.__table__.c:
            name = column.name
            if name.endswith("_role_id") and (before is None or name in before):
                await self.require_row(ProgrammeRole, getattr(row, name), name)

    async def require_row(
        self,
        model: type[WorkspaceModel],
        row_id: uuid.UUID | None,
        field: str,
        programme_id: uuid.UUID | None = None,
    ) -> None:
        """``row_id`` names a row of ``model`` (of ``programme_id`` when the model has one)."""
        if row_id is None:
            return
        query = select(model.id).where(model.id == row_id)
        if programme_id is not None and hasattr(model, "programme_id"):
            query = query.where(model.programme_id == programme_id)
        if await self.session.scalar(query) is None:
            raise invalid(field, f"no such {model.__tablename__.rstrip('s')} here")
