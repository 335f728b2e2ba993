"""A CSV export is read into a file before its response starts: the export's transaction is
over, and its database connection back in the pool, before the first byte reaches a client,
however slowly that client reads; a database failure while reading is a problem answer, not a
file cut short; and a register's export reads one snapshot from its start."""

from __future__ import annotations

import asyncio
import csv
import io
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from litestar import Litestar
from sqlalchemy import insert, select, text

from services.db.engine import Database
from services.workspace import exports
from services.workspace.raid.models import Risk
from services.workspace.structure.models import Programme
from tests.conftest import MakeWorkspace, Workspace, in_workspace
from tests.test_register_exports_api import risks
from tests.workspace_api import Client, url

IDLE_IN_TRANSACTION = text(
    "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
    "AND state LIKE 'idle in transaction%' AND pid <> pg_backend_pid()"
)


async def _get(
    app: Litestar,
    ws: Workspace,
    path: str,
    on_first_chunk: Callable[[], Awaitable[None]] | None = None,
) -> tuple[int, dict[str, str], bytes]:
    """GET ``path`` straight through the ASGI app, in this event loop (the test client runs it
    apart, a request at a time); ``on_first_chunk`` runs when the body has begun, as a client
    that has read nothing more of it yet. Returns the status, the headers and the body."""
    done = asyncio.Event()
    sent_request = False
    started: dict[str, Any] = {}
    chunks: list[bytes] = []

    async def receive() -> dict[str, Any]:
        nonlocal sent_request
        if not sent_request:
            sent_request = True
            return {"type": "http.request", "body": b"", "more_body": False}
        await done.wait()
        return {"type": "http.disconnect"}

    async def send(message: dict[str, Any]) -> None:
        if message["type"] == "http.response.start":
            started.update(message)
            return
        if not chunks and message.get("body") and on_first_chunk is not None:
            await on_first_chunk()
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            done.set()

    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "GET",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "root_path": "",
        "headers": [
            (b"host", b"testserver"),
            (b"authorization", ws.headers["Authorization"].encode()),
        ],
        "client": ("127.0.0.1", 50000),
        "server": ("testserver", 80),
        "state": {},
    }
    await app(scope, receive, send)  # type: ignore[arg-type]
    headers = {k.decode(): v.decode() for k, v in started["headers"]}
    return started["status"], headers, b"".join(chunks)


@pytest.mark.parametrize("register", ["risks", "programmes"])
async def test_the_connection_is_back_in_the_pool_before_the_body_is_read(
    client: Client,
    app: Litestar,
    make_workspace: MakeWorkspace,
    database: Database,
    monkeypatch: pytest.MonkeyPatch,
    register: str,
) -> None:
    # Several batches, so a streamed export would still be reading when the body began.
    monkeypatch.setattr(exports, "EXPORT_BATCH", 7)
    ws = await make_workspace()
    await risks(client, database, ws, 25)
    async with in_workspace(database, ws.tenant_id) as session:
        await session.execute(
            insert(Programme),
            [{"id": uuid.uuid4(), "tenant_id": ws.tenant_id, "name": f"P{n}"} for n in range(25)],
        )
    seen: dict[str, int] = {}

    async def look() -> None:
        seen["checked_out"] = database.engine(ws.cell).pool.checkedout()  # type: ignore[attr-defined]
        async with database.transaction() as session:
            seen["idle_in_transaction"] = int(await session.scalar(IDLE_IN_TRANSACTION) or 0)

    status, headers, body = await _get(app, ws, url(ws, f"{register}/export.csv"), look)
    assert status == 200, body
    assert seen == {"checked_out": 0, "idle_in_transaction": 0}
    # The whole file was written before it was sent: its length goes with it.
    assert int(headers["content-length"]) == len(body)
    assert headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(body.decode("utf-8-sig"))))
    # The 25 risks, or the programme they are in and the 25 others.
    assert len(rows) == (25 if register == "risks" else 26)


async def _blocked_on_risks(database: Database) -> int:
    """The pid of the session waiting for the lock on the risks table (an export's read)."""
    query = text(
        "SELECT pid FROM pg_stat_activity WHERE datname = current_database() "
        "AND wait_event_type = 'Lock' AND query ILIKE '%risks%'"
    )
    for _ in range(200):
        async with database.transaction() as session:
            pid = await session.scalar(query)
        if pid is not None:
            return int(pid)
        await asyncio.sleep(0.05)
    raise AssertionError("no export waited for the risks table")


async def test_a_database_failure_reading_the_rows_is_a_problem_not_a_file_cut_short(
    client: Client, app: Litestar, make_workspace: MakeWorkspace, database: Database
) -> None:
    ws = await make_workspace()
    await risks(client, database, ws, 3)
    async with database.transaction() as holder:
        # The export's read waits for this lock; its query is cancelled while it waits.
        await holder.execute(text("LOCK TABLE workspace.risks IN ACCESS EXCLUSIVE MODE"))
        export = asyncio.create_task(_get(app, ws, url(ws, "risks/export.csv")))
        pid = await _blocked_on_risks(database)
        async with database.transaction() as session:
            await session.execute(select(text("pg_cancel_backend(:pid)")), {"pid": pid})
        status, headers, body = await export
    assert status == 500, body
    assert headers["content-type"].startswith("application/problem+json")


async def test_a_register_export_reads_one_snapshot_from_its_start(
    client: Client, app: Litestar, make_workspace: MakeWorkspace, database: Database
) -> None:
    ws = await make_workspace()
    await risks(client, database, ws, 3)
    async with in_workspace(database, ws.tenant_id) as holder:
        await holder.execute(text("LOCK TABLE workspace.risks IN ACCESS EXCLUSIVE MODE"))
        export = asyncio.create_task(_get(app, ws, url(ws, "risks/export.csv")))
        await _blocked_on_risks(database)
        # Added once the export had begun (it read the register's custom fields already).
        row = await holder.scalar(select(Risk).limit(1))
        assert row is not None
        columns = {
            c.key: getattr(row, c.key)
            for c in Risk.__mapper__.column_attrs
            if c.key not in {"id", "title", "reference", "created_at", "updated_at"}
        }
        await holder.execute(insert(Risk), [{**columns, "id": uuid.uuid4(), "title": "Late"}])
    status, _, body = await export
    assert status == 200, body
    titles = [r["title"] for r in csv.DictReader(io.StringIO(body.decode("utf-8-sig")))]
    assert sorted(titles) == ["Risk 0", "Risk 1", "Risk 2"]
