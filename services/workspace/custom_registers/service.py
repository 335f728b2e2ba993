"""Custom registers and their entries, as registers.

An entry's content is all in ``custom_fields``; which fields it has depends on its register
(the definitions naming the register's ``key``). So a ``?custom=`` filter needs the list
narrowed to one register, and an export's columns are that register's fields — or, unfiltered,
every custom register's fields, each header naming its register.
"""

from __future__ import annotations

import uuid
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, select

from services.errors import ValidationFailed, field_error
from services.workspace import exports
from services.workspace.configuration import service as configuration
from services.workspace.custom_registers.models import CustomRegister, CustomRegisterEntry
from services.workspace.registers import RegisterFilter, RegisterService


@dataclass(frozen=True, slots=True)
class CustomRegisterFilter:
    def conditions(self) -> list[ColumnElement[bool]]:
        return []

    def order(self) -> list[Any]:
        return [CustomRegister.position, CustomRegister.key]


class CustomRegisterService(RegisterService[CustomRegister]):
    model = CustomRegister
    noun = "custom register"


@dataclass(frozen=True, slots=True)
class EntryFilter:
    register_id: uuid.UUID | None = None

    def conditions(self) -> list[ColumnElement[bool]]:
        if self.register_id is None:
            return []
        return [CustomRegisterEntry.register_id == self.register_id]

    def order(self) -> list[Any]:
        return [CustomRegisterEntry.register_id, CustomRegisterEntry.position]


@dataclass(frozen=True, slots=True)
class EntryColumn:
    """One custom field of one register as an export column."""

    register_id: uuid.UUID
    key: str
    header: str


def entry_columns(
    registers: list[CustomRegister],
    fields: dict[uuid.UUID, list[tuple[str, str]]],
    *,
    name_registers: bool,
) -> list[EntryColumn]:
    """The columns of ``registers`` (in order) from their fields' (key, label) in display
    order, headed by the labels; with ``name_registers`` (a sheet of several registers) by
    ``"<register>: <label>"``, the register named by its title (by its key where titles are
    shared), so every header says whose field it is and none repeats another's."""
    if not name_registers:
        return [EntryColumn(r.id, key, label) for r in registers for key, label in fields[r.id]]
    titles = Counter(r.title for r in registers)
    columns = []
    for register in registers:
        name = register.title if titles[register.title] == 1 else register.key
        for key, label in fields[register.id]:
            columns.append(EntryColumn(register.id, key, f"{name}: {label}"))
    return columns


class CustomRegisterEntryService(RegisterService[CustomRegisterEntry]):
    model = CustomRegisterEntry
    noun = "custom register entry"

    async def custom_field_register(self, row: CustomRegisterEntry) -> str | None:
        """An entry's fields are its register's, named by the register's key."""
        key: str | None = await self.session.scalar(
            select(CustomRegister.key).where(CustomRegister.id == row.register_id)
        )
        return key

    async def _filtered(
        self, where: RegisterFilter, custom: list[str] | None
    ) -> list[ColumnElement[bool]]:
        conditions = await self.conditions(where)
        if not custom:
            return conditions
        register_id = where.register_id if isinstance(where, EntryFilter) else None
        if register_id is None:
            raise ValidationFailed(
                "Custom field filters need the list narrowed to one custom register.",
                errors=[
                    field_error(
                        "custom", "filter by register_id to filter on its custom fields", "query"
                    )
                ],
            )
        key = await self.session.scalar(
            select(CustomRegister.key).where(CustomRegister.id == register_id)
        )
        if key is None:
            raise ValidationFailed(
                f"No custom register {register_id}.",
                errors=[field_error("register_id", "no such custom register here", "query")],
            )
        column = CustomRegisterEntry.custom_fields
        return conditions + await configuration.custom_field_conditions(
            self.session, key, column, custom
        )

    async def export_table(
        self, where: RegisterFilter, fields: Sequence[str], shown: Sequence[dict[str, Any]]
    ) -> tuple[list[str], list[list[Any]]]:
        """An entry's custom fields are its register's: each column is filled on that
        register's entries only."""
        assert isinstance(where, EntryFilter)
        columns = [(c.register_id, c.key, c.header) for c in await self.export_columns(where)]
        return exports.table_with_owned_columns(fields, shown, "register_id", columns)

    async def export_columns(self, where: EntryFilter) -> list[EntryColumn]:
        """The custom columns of an export: the fields of the register filtered to, or of
        every custom register when unfiltered (see :func:`entry_columns`)."""
        query = select(CustomRegister).order_by(CustomRegister.position, CustomRegister.key)
        if where.register_id is not None:
            query = query.where(CustomRegister.id == where.register_id)
        registers = list((await self.session.scalars(query)).all())
        fields = {
            r.id: [(d.key, d.label) for d in await configuration.definitions(self.session, r.key)]
            for r in registers
        }
        return entry_columns(registers, fields, name_registers=where.register_id is None)
