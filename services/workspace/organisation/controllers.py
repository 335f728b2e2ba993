"""HTTP for the programme's organisation: roles, RACI entries and stakeholders (read-only)."""

from __future__ import annotations

import uuid
from typing import Annotated

from litestar.params import FromQuery, QueryParameter

from services.workspace.http import RegisterSpec, register_controller
from services.workspace.organisation.models import Level
from services.workspace.organisation.schemas import (
    ProgrammeRoleRead,
    RaciEntryRead,
    StakeholderRead,
)
from services.workspace.organisation.service import (
    ProgrammeRoleService,
    RaciEntryService,
    RaciFilter,
    RoleFilter,
    StakeholderFilter,
    StakeholderService,
)


def role_filter() -> RoleFilter:
    return RoleFilter()


def raci_filter(
    programme_id: FromQuery[uuid.UUID | None] = None,
    role_id: Annotated[
        uuid.UUID | None, QueryParameter(description="Entries naming this role in any column")
    ] = None,
) -> RaciFilter:
    return RaciFilter(programme_id, role_id)


def stakeholder_filter(
    programme_id: FromQuery[uuid.UUID | None] = None,
    power: FromQuery[Level | None] = None,
    interest: FromQuery[Level | None] = None,
) -> StakeholderFilter:
    return StakeholderFilter(programme_id, power, interest)


ProgrammeRoleController = register_controller(
    RegisterSpec(
        path="programme-roles",
        noun="programme role",
        service=ProgrammeRoleService,
        create=None,
        update=None,
        read=ProgrammeRoleRead,
        filters=role_filter,
        people=(),
        tag="organisation",
    )
)
RaciEntryController = register_controller(
    RegisterSpec(
        path="raci-entries",
        noun="RACI entry",
        service=RaciEntryService,
        create=None,
        update=None,
        read=RaciEntryRead,
        filters=raci_filter,
        people=(),
        tag="organisation",
    )
)
StakeholderController = register_controller(
    RegisterSpec(
        path="stakeholders",
        noun="stakeholder",
        service=StakeholderService,
        create=None,
        update=None,
        read=StakeholderRead,
        filters=stakeholder_filter,
        people=(),
        tag="organisation",
    )
)
