"""The programme's organisation: roles, the RACI matrix and stakeholders, as registers."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, func, or_

from services.workspace.organisation.models import Level, ProgrammeRole, RaciEntry, Stakeholder
from services.workspace.registers import RegisterService, equal


@dataclass(frozen=True, slots=True)
class RoleFilter:
    def conditions(self) -> list[ColumnElement[bool]]:
        return []

    def order(self) -> list[Any]:
        return [ProgrammeRole.key]


class ProgrammeRoleService(RegisterService[ProgrammeRole]):
    model = ProgrammeRole
    noun = "programme role"


@dataclass(frozen=True, slots=True)
class RaciFilter:
    programme_id: uuid.UUID | None = None
    role_id: uuid.UUID | None = None

    def conditions(self) -> list[ColumnElement[bool]]:
        conditions: list[ColumnElement[bool]] = []
        if self.programme_id is not None:
            conditions.append(RaciEntry.programme_id == self.programme_id)
        if self.role_id is not None:
            role = [self.role_id]
            conditions.append(
                or_(
                    RaciEntry.accountable_role_id == self.role_id,
                    RaciEntry.responsible_role_ids.contains(role),
                    RaciEntry.consulted_role_ids.contains(role),
                    RaciEntry.informed_role_ids.contains(role),
                )
            )
        return conditions

    def order(self) -> list[Any]:
        return [RaciEntry.position, RaciEntry.activity]


class RaciEntryService(RegisterService[RaciEntry]):
    model = RaciEntry
    noun = "RACI entry"


@dataclass(frozen=True, slots=True)
class StakeholderFilter:
    programme_id: uuid.UUID | None = None
    power: Level | None = None
    interest: Level | None = None

    def conditions(self) -> list[ColumnElement[bool]]:
        pairs = [
            (Stakeholder.programme_id, self.programme_id),
            (Stakeholder.power, self.power),
            (Stakeholder.interest, self.interest),
        ]
        return equal(pairs)

    def order(self) -> list[Any]:
        return [func.lower(Stakeholder.name)]


class StakeholderService(RegisterService[Stakeholder]):
    model = Stakeholder
    noun = "stakeholder"
    register = "stakeholders"
