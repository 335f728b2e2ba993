"""Registers as spreadsheets: CSV and XLSX of what the list shows, custom fields as columns."""

from __future__ import annotations

import csv
import io
import itertools
import tempfile
from collections.abc import AsyncIterator, Iterable, Sequence
from contextlib import asynccontextmanager
from typing import IO, Any

from litestar import Request, Response
from litestar.background_tasks import BackgroundTask, BackgroundTasks
from litestar.datastructures import Cookie, State
from litestar.response import Stream
from litestar.response.base import ASGIResponse
from litestar.response.streaming import ASGIStreamingResponse
from litestar.types import Receive, Scope, Send
from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE, Cell
from sqlalchemy.ext.asyncio import AsyncSession

from services.db.tenant_scope import TenantScope
from services.dependencies import WorkspaceAccess, database
from services.errors import ValidationFailed
from services.workspace import clock
from services.workspace.configuration import service as configuration

XLSX_MEDIA_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
# An XLSX export is built in memory: one that would hold more rows than this is refused (filter
# it, or take the CSV, which holds every row). Excel itself holds 1,048,576.
XLSX_EXPORT_LIMIT = 10_000
# How many rows a CSV export reads from its server-side cursor, and writes, at a time.
EXPORT_BATCH = 1_000
# A CSV export is written to a temporary file before it is sent: held in memory up to this
# many bytes, on disk beyond.
SPOOL_IN_MEMORY = 4 * 1024 * 1024
# How many bytes of that file are sent at a time.
SEND_CHUNK = 64 * 1024
# What the export routes' OpenAPI descriptions say of their size.
CSV_EXPORT = (
    "Every row the filters match, in the list's order, however many, read in one snapshot of "
    "the register. The whole file is written before it is sent, so the response carries its "
    "Content-Length, and a failure (a bad filter is a 422) is a problem answer, never a file "
    "cut short."
)
Tables = AsyncIterator[tuple[list[str], list[list[Any]]]]
XLSX_EXPORT = (
    f"Every row the filters match, in the list's order, up to {XLSX_EXPORT_LIMIT:,} (the file is "
    f"built in memory). More than {XLSX_EXPORT_LIMIT:,} is refused with a 422 problem, never cut "
    "short: filter the list, or take the CSV export, which holds every row."
)
# A cell starting with one of these is a formula to a spreadsheet: never let data become one.
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


@asynccontextmanager
async def export_session(
    state: State, workspace: WorkspaceAccess, *, snapshot: bool = True
) -> AsyncIterator[AsyncSession]:
    """A transaction of the export's own, scoped as the request's (its workspace, its time
    zone): the request's ends before a CSV export's rows are read. ``snapshot``: the whole
    export reads one snapshot (REPEATABLE READ), so a row written part way cannot shift the
    batches read after it."""
    scope = TenantScope.single(workspace.tenant_id)
    async with database(state).transaction(workspace.cell, scope) as session:
        if snapshot:
            await session.connection(execution_options={"isolation_level": "REPEATABLE READ"})
        clock.use_zone(session, workspace.timezone)
        yield session


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


async def spool_csv(tables: Tables) -> IO[bytes]:
    """:func:`csv_body` written as ``tables`` come (each a header and a batch of rows; the
    first header is written, before any row) to a temporary file (in memory up to
    :data:`SPOOL_IN_MEMORY` bytes, then on disk), left at its end: an export of any size, its
    memory flat. ``tables`` is read to its end (or closed, on a failure), so the transaction it
    reads in is over before the file is sent. The caller closes the file."""
    spool = tempfile.SpooledTemporaryFile(max_size=SPOOL_IN_MEMORY)  # noqa: SIM115 (returned)
    try:
        first = True
        async for header, rows in tables:
            lines = (header, *rows) if first else rows
            spool.write((("\ufeff" if first else "") + _csv_lines(lines)).encode())
            first = False
    except BaseException:
        spool.close()
        aclose = getattr(tables, "aclose", None)
        if aclose is not None:
            await aclose()
        raise
    return spool


async def _chunks(spool: IO[bytes]) -> AsyncIterator[bytes]:
    while chunk := spool.read(SEND_CHUNK):
        yield chunk


class _SpooledCsv(ASGIStreamingResponse):
    """Reads its tables into a temporary file before the response starts, then sends it."""

    __slots__ = ("tables",)

    def __init__(self, tables: Tables, **options: Any) -> None:
        super().__init__(iterator=(), **options)
        self.tables = tables

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        # Nothing is sent yet: a failure here is answered as the handler's would be.
        spool = await spool_csv(self.tables)
        try:
            self.headers["content-length"] = str(spool.tell())
            spool.seek(0)
            self.iterator = _chunks(spool)
            await super().__call__(scope, receive, send)
        finally:
            # However the response ends (sent, or the client gone): the file goes.
            spool.close()


class CsvExport(Stream):
    """A CSV export's response: see :func:`csv_stream`."""

    __slots__ = ("tables",)

    def __init__(self, filename: str, tables: Tables) -> None:
        super().__init__((), media_type="text/csv", headers=_attachment(filename))
        self.tables = tables

    def to_asgi_response(  # as Stream's, answering with a _SpooledCsv
        self,
        app: Any,
        request: Request[Any, Any, Any],
        *,
        background: BackgroundTask | BackgroundTasks | None = None,
        cookies: Iterable[Cookie] | None = None,
        encoded_headers: Iterable[tuple[bytes, bytes]] | None = None,
        headers: dict[str, str] | None = None,
        is_head_response: bool = False,
        media_type: Any = None,
        status_code: int | None = None,
        type_encoders: Any = None,
    ) -> ASGIResponse:
        return _SpooledCsv(
            self.tables,
            background=self.background or background,
            cookies=self.cookies if cookies is None else itertools.chain(self.cookies, cookies),
            encoded_headers=encoded_headers,
            headers={**headers, **self.headers} if headers is not None else self.headers,
            is_head_response=is_head_response,
            media_type="text/csv",
            encoding=self.encoding,
            status_code=self.status_code or status_code,
        )


def csv_stream(filename: str, tables: Tables) -> Stream:
    """A CSV export of every row ``tables`` hold (each a header and a batch of rows, read in
    a transaction of the export's own: :func:`export_session`).

    The rows are read once the handler has returned (its request's session closed), before
    the response starts: into a temporary file (:func:`spool_csv`), so the export's
    transaction is over, and its database connection back in the pool, before the first byte
    goes to a client however slow. A failure reading them is answered as a handler's error
    would be (a problem, not a file cut short), and the file is sent with its Content-Length.
    """
    return CsvExport(filename, tables)


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
