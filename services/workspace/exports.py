"""Registers as spreadsheets: CSV and XLSX of what the list shows, custom fields as columns."""

from __future__ import annotations

import csv
import io
from collections.abc import AsyncIterator, Iterable, Sequence
from typing import Any

from litestar import Response
from litestar.response import Stream
from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE, Cell
from sqlalchemy.ext.asyncio import AsyncSession

from services.errors import ValidationFailed
from services.workspace.configuration import service as configuration

XLSX_MEDIA_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
# An XLSX export is built in memory: one that would hold more rows than this is refused (filter
# it, or take the CSV, which holds every row). Excel itself holds 1,048,576.
XLSX_EXPORT_LIMIT = 10_000
# How many rows a CSV export reads from its server-side cursor, and writes, at a time.
EXPORT_BATCH = 1_000
# What the export routes' OpenAPI descriptions say of their size.
CSV_EXPORT = (
    "Every row the filters match, in the list's order, however many: the file is streamed as "
    "the rows are read (one snapshot of the register). A bad filter is a 422 before the file "
    "starts; a failure part way ends the response without its last chunk, so a client sees "
    "the file incomplete rather than a shorter one."
)
XLSX_EXPORT = (
    f"Every row the filters match, in the list's order, up to {XLSX_EXPORT_LIMIT:,} (the file is "
    f"built in memory). More than {XLSX_EXPORT_LIMIT:,} is refused with a 422 problem, never cut "
    "short: filter the list, or take the CSV export, which holds every row."
)
# A cell starting with one of these is a formula to a spreadsheet: never let data become one.
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


async def custom_columns(session: AsyncSession, register: str | None) -> list[tuple[str, str]]:
    """(key, label) of the register's custom fields, in display order."""
    if register is None:
        return []
    return [(d.key, d.label) for d in await configuration.definitions(session, register)]


def refuse_large_xlsx(rows: int) -> None:
    """Raise a 422 when an XLSX export would hold more than :data:`XLSX_EXPORT_LIMIT` rows: a
    spreadsheet of the first that many would pass for the whole register."""
    if rows > XLSX_EXPORT_LIMIT:
        raise ValidationFailed(
            f"This export would hold more than {XLSX_EXPORT_LIMIT:,} rows, the most an XLSX "
            "export holds: filter the list to fewer rows, or export CSV, which holds every row.",
            limit=XLSX_EXPORT_LIMIT,
        )


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


def _csv_lines(rows: Iterable[list[Any]]) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    for row in rows:
        writer.writerow([_safe_text(v) for v in row])
    return buffer.getvalue()


def csv_body(header: list[str], rows: list[list[Any]]) -> bytes:
    """A CSV file as the exports write it: every cell formula-safe, UTF-8 with a byte-order
    mark (offboarding's export writes its files with it too)."""
    # The header too: custom fields' labels are the client's text.
    # A byte-order mark so spreadsheet software reads UTF-8.
    return ("\ufeff" + _csv_lines((header, *rows))).encode()


def csv_stream(filename: str, tables: AsyncIterator[tuple[list[str], list[list[Any]]]]) -> Stream:
    """:func:`csv_body` written as ``tables`` come (each a header and a batch of rows; the
    first header is written, before any row), so an export of any size holds every row
    without being held in memory. The response has started by then: a failure part way
    ends the connection without the last chunk, so a client sees the file incomplete."""

    async def body() -> AsyncIterator[bytes]:
        first = True
        async for header, rows in tables:
            lines = (header, *rows) if first else rows
            yield (("\ufeff" if first else "") + _csv_lines(lines)).encode()
            first = False

    return Stream(body(), media_type="text/csv", headers=_attachment(filename))


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
