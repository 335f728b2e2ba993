"""HTTP for custom registers and their entries (read-only)."""

from __future__ import annotations

import uuid
from typing import Annotated

from litestar.params import QueryParameter

from services.workspace.custom_registers.schemas import CustomRegisterEntryRead, CustomRegisterRead
from services.workspace.custom_registers.service import (
    CustomRegisterEntryService,
    CustomRegisterFilter,
    CustomRegisterService,
    EntryFilter,
)
from services.workspace.http import RegisterSpec, register_controller


def register_filter() -> CustomRegisterFilter:
    return CustomRegisterFilter()


def entry_filter(
    register_id: Annotated[
        uuid.UUID | None,
        QueryParameter(
            description="Only this custom register's entries; needed by `custom` filters."
        ),
    ] = None,
) -> EntryFilter:
    return EntryFilter(register_id)


CustomRegisterController = register_controller(
    RegisterSpec(
        path="custom-registers",
        noun="custom register",
        service=CustomRegisterService,
        create=None,
        update=None,
        read=CustomRegisterRead,
        filters=register_filter,
        people=(),
        tag="custom registers",
    )
)
CustomRegisterEntryController = register_controller(
    RegisterSpec(
        path="custom-register-entries",
        noun="custom register entry",
        service=CustomRegisterEntryService,
        create=None,
        update=None,
        read=CustomRegisterEntryRead,
        filters=entry_filter,
        people=(),
        tag="custom registers",
    )
)
