"""Registers as spreadsheets: CSV and XLSX of what the list shows, custom fields as columns."""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from typing import Any

from litestar import Response
from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE, Cell
from sqlalchemy.ext.asyncio import AsyncSession

from services.workspace.configuration import service as configuration

XLSX_MEDIA_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
# A cell starting with one of these is a formula to a spreadsheet: never let data become one.
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


async def custom_columns(session: AsyncSession, register: str | None) -> list[tuple[str, str]]:
    """(key, label) of the register's custom fields, in display order."""
    if register is None:
        return []
    return [(d.key, d.label) for d in await configuration.definitions(session, register)]


def _cell(value: Any) -> Any:
    if value is None:
        return ""
    if isinstance(value, list):
        return "; ".join(str(_cell(v)) for v in value)
    if isinstance(value, dict):
        return "; ".join(f"{k}: {_cell(v)}" for k, v in value.items())
    return value


def table(
    fields: Sequence[str], items: Sequence[dict[str, Any]], custom: Sequence[tuple[str, str]]
) -> tuple[list[str], list[list[Any]]]:
    """Header and rows: the read shape's fields, then one column per custom field."""
    plain = [f for f in fields if f != "custom_fields"]
    header = plain + [label for _, label in custom]
    rows = []
    for item in items:
        extra = item.get("custom_fields") or {}
        rows.append([_cell(item.get(f)) for f in plain] + [_cell(extra.get(k)) for k, _ in custom])
    return header, rows


def table_with_owned_columns(
    fields: Sequence[str],
    items: Sequence[dict[str, Any]],
    owner: str,
    custom: Sequence[tuple[object, str, str]],
) -> tuple[list[str], list[list[Any]]]:
    """:func:`table` for rows whose custom fields depend on one of their fields (a custom
    register's entries on ``register_id``): each custom column ``(owner value, key, header)``
    is filled only on rows whose ``owner`` field holds that value."""
    plain = [f for f in fields if f != "custom_fields"]
    header = plain + [title for _, _, title in custom]
    rows = []
    for item in items:
        extra = item.get("custom_fields") or {}
        mine = str(item.get(owner))
        rows.append(
            [_cell(item.get(f)) for f in plain]
            + [_cell(extra.get(k)) if str(whose) == mine else "" for whose, k, _ in custom]
        )
    return header, rows


def _safe_text(value: Any) -> Any:
    if isinstance(value, str) and value.startswith(FORMULA_START):
        return "'" + value
    return value


def _attachment(filename: str) -> dict[str, str]:
    return {"Content-Disposition": f'attachment; filename="{filename}"'}


def csv_body(header: list[str], rows: list[list[Any]]) -> bytes:
    """A CSV file as the exports write it: every cell formula-safe, UTF-8 with a byte-order
    mark (offboarding's export writes its files with it too)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    # The header too: custom fields' labels are the client's text.
    for row in (header, *rows):
        writer.writerow([_safe_text(v) for v in row])
    # A byte-order mark so spreadsheet software reads UTF-8.
    return ("\ufeff" + buffer.getvalue()).encode()


def csv_response(filename: str, header: list[str], rows: list[list[Any]]) -> Response[bytes]:
    # Litestar adds "; charset=utf-8" to a text/ media type itself (the response's encoding).
    return Response(csv_body(header, rows), media_type="text/csv", headers=_attachment(filename))


def _xlsx_cell(worksheet: Any, value: Any) -> Cell:
    if not isinstance(value, str):
        return WriteOnlyCell(worksheet, value=value)
    # Control characters cannot be stored in a worksheet: drop them.
    cell = WriteOnlyCell(worksheet, value=ILLEGAL_CHARACTERS_RE.sub("", value))
    cell.data_type = "s"  # text stays text, even when it starts with '='
    return cell


def xlsx_response(
    filename: str, sheet: str, header: list[str], rows: list[list[Any]]
) -> Response[bytes]:
    book = Workbook(write_only=True)
    worksheet = book.create_sheet(sheet[:31])
    # The header too: custom fields' labels are the client's text.
    for row in (header, *rows):
        worksheet.append([_xlsx_cell(worksheet, value) for value in row])
    buffer = io.BytesIO()
    book.save(buffer)
    return Response(buffer.getvalue(), media_type=XLSX_MEDIA_TYPE, headers=_attachment(filename))
