"""Custom registers and their entries, as registers."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement

from services.workspace.custom_registers.models import CustomRegister, CustomRegisterEntry
from services.workspace.registers import RegisterService


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
