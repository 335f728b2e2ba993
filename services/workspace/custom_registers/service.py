"""Custom registers and their entries, as registers.

An entry's content is all in ``custom_fields``; which fields it has depends on its register
(the definitions naming the register's ``key``). So a ``?custom=`` filter needs the list
narrowed to one register.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, select

from services.errors import ValidationFailed, field_error
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


class CustomRegisterEntryService(RegisterService[CustomRegisterEntry]):
    model = CustomRegisterEntry
    noun = "custom register entry"

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
