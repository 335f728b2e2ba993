"""HTTP for custom registers and their entries (read-only).

The entries' exports are their own: an entry's content is its custom fields, whose columns
depend on the entry's register.
"""

from __future__ import annotations

import uuid
from typing import Annotated, Any

import msgspec
from litestar import Response, get
from litestar.di import NamedDependency
from litestar.params import FromPath, QueryParameter
from sqlalchemy.ext.asyncio import AsyncSession

from services.dependencies import WorkspaceAccess
from services.errors import ValidationFailed
from services.problems import problem_responses
from services.workspace import exports
from services.workspace.custom_registers.schemas import CustomRegisterEntryRead, CustomRegisterRead
from services.workspace.custom_registers.service import (
    CustomRegisterEntryService,
    CustomRegisterFilter,
    CustomRegisterService,
    EntryFilter,
)
from services.workspace.http import READ_ERRORS, CustomFilter, RegisterSpec, register_controller
from services.workspace.schemas import read_of


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
_EntryRegister = register_controller(
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

EXPORT_DESCRIPTION = (
    "Filtered like the list. An entry's content is its custom fields: after the entry's own "
    "columns comes one column per custom field of its register, in display order. With "
    "`register_id`, the columns are that register's fields headed by their labels. Without "
    "it, they are the fields of every custom register (in the registers' order), each headed "
    "`<register title>: <field label>` (the register's key instead where two registers share "
    "a title) and filled only on that register's entries. `custom` filters need `register_id`."
)
EXPORT_RESPONSES = problem_responses(*READ_ERRORS, ValidationFailed)


async def _export(
    session: AsyncSession, workspace: WorkspaceAccess, where: EntryFilter, custom: list[str] | None
) -> tuple[list[str], list[list[Any]]]:
    service = CustomRegisterEntryService(session, workspace.actor_id)
    rows = await service.export_rows(where, custom)
    shown = [msgspec.to_builtins(read_of(CustomRegisterEntryRead, row)) for row in rows]
    columns = [(c.register_id, c.key, c.header) for c in await service.export_columns(where)]
    fields = list(CustomRegisterEntryRead.__struct_fields__)
    return exports.table_with_owned_columns(fields, shown, "register_id", columns)


class CustomRegisterEntryController(_EntryRegister):  # type: ignore[misc,valid-type]
    """The entries' register, with exports whose columns are the registers' custom fields."""

    @get(
        "/export.csv",
        summary="Export custom register entries as CSV, a column per custom field",
        description=EXPORT_DESCRIPTION,
        media_type="text/csv",
        responses=EXPORT_RESPONSES,
    )
    async def export_csv(
        self,
        slug: FromPath[str],
        session: NamedDependency[AsyncSession],
        workspace: NamedDependency[WorkspaceAccess],
        where: NamedDependency[EntryFilter],
        custom: CustomFilter = None,
    ) -> Response[bytes]:
        header, rows = await _export(session, workspace, where, custom)
        return exports.csv_response("custom-register-entries.csv", header, rows)

    @get(
        "/export.xlsx",
        summary="Export custom register entries as XLSX, a column per custom field",
        description=EXPORT_DESCRIPTION,
        media_type=exports.XLSX_MEDIA_TYPE,
        responses=EXPORT_RESPONSES,
    )
    async def export_xlsx(
        self,
        slug: FromPath[str],
        session: NamedDependency[AsyncSession],
        workspace: NamedDependency[WorkspaceAccess],
        where: NamedDependency[EntryFilter],
        custom: CustomFilter = None,
    ) -> Response[bytes]:
        header, rows = await _export(session, workspace, where, custom)
        return exports.xlsx_response(
            "custom-register-entries.xlsx", "custom-register-entries", header, rows
        )
