"""HTTP for custom registers and their entries (read-only). An entry's content is its custom
fields, whose export columns depend on the entry's register (the service's ``export_table``)."""

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
            description="Only this custom register's entries; needed by `custom` filters, and "
            "makes the export's columns this register's fields.",
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
EXPORT_DESCRIPTION = (
    "Filtered like the list. An entry's content is its custom fields: after the entry's own "
    "columns comes one column per custom field of its register, in display order. With "
    "`register_id`, the columns are that register's fields headed by their labels. Without "
    "it, they are the fields of every custom register (in the registers' order), each headed "
    "`<register title>: <field label>` (the register's key instead where two registers share "
    "a title) and filled only on that register's entries. `custom` filters need `register_id`."
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
        export_description=EXPORT_DESCRIPTION,
    )
)
