"""HTTP for workspace registers, built from one pattern: list (filter, sort, page), export (CSV,
XLSX), create (Idempotency-Key), get (ETag), update (If-Match) and delete.

:func:`register_controller` makes the controller of one register from a :class:`RegisterSpec`;
a concept adds its own routes (publish, decide, approve …) in its ``controllers`` module.
"""

# No `from __future__ import annotations` here: the generated handlers carry real types in their
# annotations, which is what Litestar reads to validate requests and write the OpenAPI schema.

import dataclasses
import inspect
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Annotated, Any, get_type_hints

import msgspec
from litestar import Controller, Request, Response, delete, get, patch, post
from litestar.datastructures import State
from litestar.di import NamedDependency, Provide
from litestar.params import FromPath, JSONBody, QueryParameter
from litestar.response import Stream
from sqlalchemy.ext.asyncio import AsyncSession

from services import idempotency
from services.concurrency import IfMatch, check_if_match, etag
from services.dependencies import MIN_ROLE, WorkspaceAccess, workspace_dependencies
from services.errors import (
    Conflict,
    Forbidden,
    IdempotencyKeyReused,
    NotFound,
    PreconditionRequired,
    ProblemError,
    TenantSuspended,
    TenantUnavailable,
    Unauthenticated,
    ValidationFailed,
    VersionMismatch,
    field_error,
)
from services.idempotency import IdempotencyKey
from services.identity import service as identity
from services.identity.models import Role
from services.pagination import DEFAULT_LIMIT, Limit, Offset, Page, stated_order
from services.problems import problem_responses
from services.workspace import clock, exports
from services.workspace.registers import RegisterService, parts_named
from services.workspace.schemas import read_of

READ_ERRORS: tuple[type[ProblemError], ...] = (
    Unauthenticated,
    Forbidden,
    NotFound,
    TenantUnavailable,
)
WRITE_ERRORS = (*READ_ERRORS, TenantSuspended, ValidationFailed, Conflict)
CREATE_RESPONSES = problem_responses(*WRITE_ERRORS, IdempotencyKeyReused)
UPDATE_RESPONSES = problem_responses(*WRITE_ERRORS, VersionMismatch, PreconditionRequired)
READ_RESPONSES = problem_responses(*READ_ERRORS)
# An export's filters are the list's; an XLSX export over its cap is refused too.
EXPORT_RESPONSES = problem_responses(*READ_ERRORS, ValidationFailed)
# Actions (decide, publish) take an Idempotency-Key and If-Match: :func:`act_once`.
ACTION_RESPONSES = problem_responses(
    *WRITE_ERRORS, VersionMismatch, PreconditionRequired, IdempotencyKeyReused
)

CustomFilter = Annotated[
    list[str] | None,
    QueryParameter(
        description="Custom field filters: `key=value`, or `key>=value` / `key<=value` for "
        "numbers and dates (registers with custom fields only).",
    ),
]


def _named(values: Mapping[str, object], field: str) -> list[object]:
    """The values at ``field``: ``owner_id``, ``attendee_ids[]`` or ``members[].user_id``."""
    name, _, rest = field.partition("[]")
    found = values.get(name)
    if not rest and not field.endswith("[]"):
        return [found]
    items = found if isinstance(found, list) else []
    if not rest:
        return list(items)
    key = rest.lstrip(".")
    return [
        item.get(key) if isinstance(item, Mapping) else getattr(item, key, None) for item in items
    ]


async def check_people(
    control_session: AsyncSession,
    workspace: WorkspaceAccess,
    values: Mapping[str, object],
    fields: Sequence[str],
) -> None:
    """People named in ``fields`` must be members of the workspace."""
    errors = []
    for name in fields:
        for person in _named(values, name):
            if isinstance(person, uuid.UUID) and (
                await identity.role_in(control_session, person, workspace.tenant_id) is None
            ):
                errors.append(field_error(name.replace("[]", ""), "not a member of this workspace"))
                break
    if errors:
        raise ValidationFailed("People named must be members of this workspace.", errors=errors)


def with_etag(
    body: Any, version: int, status_code: int = 200, as_of: date | None = None
) -> Response[Any]:
    return Response(body, status_code=status_code, headers={"ETag": etag(version, as_of)})


async def _answer_once(
    request: Request[Any, Any, Any],
    session: AsyncSession,
    workspace: WorkspaceAccess,
    key: str | None,
    data: object,
    read: type[msgspec.Struct],
    status_code: int,
    make: Callable[[], Awaitable[msgspec.Struct]],
) -> tuple[Any, idempotency.Outcome, dict[str, str]]:
    """Run ``make`` once per ``Idempotency-Key`` (in the request's transaction): the answer's
    body, the outcome and its headers so far (``Idempotent-Replayed`` on a replay)."""

    async def answer() -> tuple[int, Any]:
        return status_code, msgspec.to_builtins(await make())

    outcome = await idempotency.run_once(
        session,
        key,
        idempotency.fingerprint("POST", request.url.path, workspace.actor_id, data),
        answer,
    )
    headers = {"Idempotent-Replayed": "true"} if outcome.replayed else {}
    return msgspec.convert(outcome.body, read), outcome, headers


async def create_once(
    request: Request[Any, Any, Any],
    session: AsyncSession,
    workspace: WorkspaceAccess,
    key: str | None,
    data: object,
    read: type[msgspec.Struct],
    make: Callable[[], Awaitable[msgspec.Struct]],
    location: str | None = None,
    as_of: date | None = None,
) -> Response[Any]:
    """Run ``make`` once per ``Idempotency-Key``; answer 201 with ETag and Location (``as_of``:
    the workspace's today, for a read that shows fields worked out from it)."""
    body, outcome, headers = await _answer_once(
        request, session, workspace, key, data, read, 201, make
    )
    base = location or request.url.path.rstrip("/")
    headers["Location"] = f"{base}/{body.id}"
    # A replay answers the body as first worked out; if that was from the workspace's today,
    # the day it was is not known, so no tag is given rather than a wrong one.
    if not (outcome.replayed and as_of is not None):
        headers["ETag"] = etag(body.version, as_of)
    return Response(body, status_code=outcome.status_code, headers=headers)


async def act_once(
    request: Request[Any, Any, Any],
    session: AsyncSession,
    workspace: WorkspaceAccess,
    key: str | None,
    data: object,
    read: type[msgspec.Struct],
    act: Callable[[], Awaitable[msgspec.Struct]],
) -> Response[Any]:
    """An action on a resource (decide, publish): ``act`` runs once per ``Idempotency-Key`` and
    answers 200 with the resource and its ETag, a replay the first answer.

    Check ``If-Match`` inside ``act``: the action itself moved the ETag on, so a replay would
    otherwise be refused as stale (a refused attempt leaves the key free).
    """
    body, outcome, headers = await _answer_once(
        request, session, workspace, key, data, read, 200, act
    )
    headers["ETag"] = etag(body.version)
    return Response(body, status_code=outcome.status_code, headers=headers)


Present = Callable[[AsyncSession, list[Any]], Awaitable[list[Any]]]
# What a write stamps on a row: not what a read of it shows of the row itself.
_STAMPS = ("updated_at", "updated_by")


def _shown(items: list[Any]) -> dict[str, Any]:
    """What a read of one row shows, but for the write's stamps (its version is kept)."""
    shown: dict[str, Any] = msgspec.to_builtins(items[0])
    return {name: value for name, value in shown.items() if name not in _STAMPS}


@dataclass(frozen=True)
class RegisterSpec:
    """What makes one register's controller."""

    path: str  # the plural in the URL: "risks", "change-requests"
    noun: str  # "risk"
    service: Callable[[AsyncSession, uuid.UUID | None, Role], RegisterService[Any]]
    # None for both: a read-only register (list, export and get), filled by template packs.
    create: type[msgspec.Struct] | None
    update: type[msgspec.Struct] | None
    read: type[msgspec.Struct]
    # A function of query parameters returning the service's filter (a Litestar dependency).
    filters: Callable[..., Any]
    # Fields naming workspace members, checked on write (``attendee_ids[]``,
    # ``members[].user_id`` for lists).
    people: tuple[str, ...] = ("owner_id",)
    # Adds computed fields to rows as they are shown (band, realisation %, RAG …).
    present: Present | None = None
    tag: str = ""
    deletable: bool = True
    # The least role that writes (default: member); reads stay open to viewers.
    write_role: Role | None = None
    # The least role that deletes (default: the write role), for rows whose deletion rewrites
    # what others rely on.
    delete_role: Role | None = None
    # What the exports hold beyond "the list's fields, then a column per custom field".
    export_description: str | None = None
    # Whether ``present`` works fields out from the workspace's today (slip, overdue, RAG):
    # the ETag then names the day as well as the version (:mod:`services.concurrency`).
    dated: bool = False


def _described(size: str, columns: str | None) -> str:
    """An export's description: what it holds, then (a register's own) what its columns are."""
    return f"{size}\n\n{columns}" if columns else size


def default_order(spec: RegisterSpec) -> str:
    """What a register's list says of its order: its filter's, with no query parameters (the
    ``sort`` parameter at its default), then the id that :meth:`RegisterService.page` adds."""
    filters: Any = get_type_hints(spec.filters)["return"]()
    sort = inspect.signature(spec.filters).parameters.get("sort")
    if sort is not None:
        filters = dataclasses.replace(filters, sort=sort.default)
    model: Any = getattr(spec.service, "model")  # noqa: B009 (a service class, typed as a callable)
    return stated_order([*filters.order(), model.__table__.c.id], sort.default if sort else None)


def register_controller(spec: RegisterSpec) -> type[Controller]:
    plural = spec.path.replace("-", " ")

    def as_of(session: AsyncSession) -> date | None:
        return clock.today(session) if spec.dated else None

    async def present(session: AsyncSession, rows: list[Any]) -> list[Any]:
        if spec.present is not None:
            return await spec.present(session, rows)
        return [read_of(spec.read, row) for row in rows]

    async def list_items(
        self: Controller,
        slug: FromPath[str],
        session: NamedDependency[AsyncSession],
        workspace: NamedDependency[WorkspaceAccess],
        where: NamedDependency[Any],
        custom: CustomFilter = None,
        limit: Limit = DEFAULT_LIMIT,
        offset: Offset = 0,
    ) -> Any:
        service = spec.service(session, workspace.actor_id, workspace.role)
        rows, total = await service.page(where, custom, limit, offset)
        return Page.of(await present(session, rows), total, limit, offset)

    list_items.__annotations__["return"] = Page[spec.read]  # type: ignore[name-defined]

    fields = list(spec.read.__struct_fields__)

    async def export_xlsx(
        self: Controller,
        slug: FromPath[str],
        session: NamedDependency[AsyncSession],
        workspace: NamedDependency[WorkspaceAccess],
        where: NamedDependency[Any],
        custom: CustomFilter = None,
    ) -> Response[bytes]:
        service = spec.service(session, workspace.actor_id, workspace.role)
        rows = await service.export_rows(where, custom)
        shown = [msgspec.to_builtins(item) for item in await present(session, rows)]
        header, table = await service.export_table(where, fields, shown)
        return exports.xlsx_response(f"{spec.path}.xlsx", spec.path, header, table)

    async def csv_tables(
        state: State, workspace: WorkspaceAccess, where: Any, query: Any
    ) -> AsyncIterator[tuple[list[str], list[list[Any]]]]:
        # The request's session ends when the handler returns, before the rows are read: they
        # are read in a transaction of the export's own, in one snapshot.
        async with exports.export_session(state, workspace) as session:
            service = spec.service(session, workspace.actor_id, workspace.role)
            # The header even when no row matches.
            yield await service.export_table(where, fields, [])
            async for rows in service.export_batches(query):
                shown = [msgspec.to_builtins(item) for item in await present(session, rows)]
                yield await service.export_table(where, fields, shown)

    async def export_csv(
        self: Controller,
        state: State,
        slug: FromPath[str],
        session: NamedDependency[AsyncSession],
        workspace: NamedDependency[WorkspaceAccess],
        where: NamedDependency[Any],
        custom: CustomFilter = None,
    ) -> Stream:
        service = spec.service(session, workspace.actor_id, workspace.role)
        # Filters are checked here, so a bad one is a problem before the file starts.
        query = await service.export_query(where, custom)
        tables = csv_tables(state, workspace, where, query)
        return exports.csv_stream(f"{spec.path}.csv", tables)

    async def create_item(
        self: Controller,
        request: Request[Any, Any, Any],
        slug: FromPath[str],
        data: Any,
        session: NamedDependency[AsyncSession],
        control_session: NamedDependency[AsyncSession],
        workspace: NamedDependency[WorkspaceAccess],
        idempotency_key: IdempotencyKey = None,
    ) -> Any:
        service = spec.service(session, workspace.actor_id, workspace.role)

        async def make() -> msgspec.Struct:
            await check_people(
                control_session, workspace, msgspec.structs.asdict(data), spec.people
            )
            row = await service.create(data)
            shown: msgspec.Struct = (await present(session, [row]))[0]
            return shown

        return await create_once(
            request,
            session,
            workspace,
            idempotency_key,
            data,
            spec.read,
            make,
            as_of=as_of(session),
        )

    create_item.__annotations__["data"] = JSONBody[spec.create]  # type: ignore[misc,name-defined]
    create_item.__annotations__["return"] = Response[spec.read]  # type: ignore[name-defined]

    async def get_item(
        self: Controller,
        slug: FromPath[str],
        item_id: FromPath[uuid.UUID],
        session: NamedDependency[AsyncSession],
        workspace: NamedDependency[WorkspaceAccess],
    ) -> Any:
        row = await spec.service(session, workspace.actor_id, workspace.role).get(item_id)
        return with_etag((await present(session, [row]))[0], row.version, as_of=as_of(session))

    get_item.__annotations__["return"] = Response[spec.read]  # type: ignore[name-defined]

    async def update_item(
        self: Controller,
        slug: FromPath[str],
        item_id: FromPath[uuid.UUID],
        data: Any,
        session: NamedDependency[AsyncSession],
        control_session: NamedDependency[AsyncSession],
        workspace: NamedDependency[WorkspaceAccess],
        if_match: IfMatch = None,
    ) -> Any:
        service = spec.service(session, workspace.actor_id, workspace.role)
        row = await service.get(item_id)
        check_if_match(if_match, row.version, as_of(session))
        changes = data.changes()
        if parts_named(service.model, changes):
            # Nested parts are written apart from the row, no column of it: its version is
            # checked here, the row held, before any of them is (412 if it moved on since).
            await service.hold_as_loaded(row, as_of(session))
        await check_people(control_session, workspace, changes, spec.people)
        shown_before = _shown(await present(session, [row]))
        row = await service.update(row, changes)
        shown = (await present(session, [row]))[0]
        if _shown([shown]) != shown_before and row.version == shown_before["version"]:
            # Only what hangs off the row changed (its members, lines, enablers): what its read
            # shows did, so its version (the ETag) moves on all the same.
            await service.touch(row)
            shown = (await present(session, [row]))[0]
        return with_etag(shown, row.version, as_of=as_of(session))

    update_item.__annotations__["data"] = JSONBody[spec.update]  # type: ignore[misc,name-defined]
    update_item.__annotations__["return"] = Response[spec.read]  # type: ignore[name-defined]

    async def delete_item(
        self: Controller,
        slug: FromPath[str],
        item_id: FromPath[uuid.UUID],
        session: NamedDependency[AsyncSession],
        workspace: NamedDependency[WorkspaceAccess],
        if_match: IfMatch = None,
    ) -> None:
        service = spec.service(session, workspace.actor_id, workspace.role)
        row = await service.get(item_id)
        if if_match is not None:
            check_if_match(if_match, row.version, as_of(session))
        await service.delete(row)

    item = "/{item_id:uuid}"
    writes = {MIN_ROLE: spec.write_role} if spec.write_role else {}
    handlers: dict[str, Any] = {
        "list_items": get(
            "/",
            summary=f"List {plural}",
            description=default_order(spec),
            responses=READ_RESPONSES,
        )(list_items),
        "export_csv": get(
            "/export.csv",
            summary=f"Export {plural} as CSV (filtered like the list)",
            description=_described(exports.CSV_EXPORT, spec.export_description),
            media_type="text/csv",
            responses=EXPORT_RESPONSES,
        )(export_csv),
        "export_xlsx": get(
            "/export.xlsx",
            summary=f"Export {plural} as XLSX (filtered like the list)",
            description=_described(exports.XLSX_EXPORT, spec.export_description),
            media_type=exports.XLSX_MEDIA_TYPE,
            responses=EXPORT_RESPONSES,
        )(export_xlsx),
        "get_item": get(item, summary=f"Get a {spec.noun}", responses=READ_RESPONSES)(get_item),
    }
    if spec.create is not None:
        handlers["create_item"] = post(
            "/",
            summary=f"Create a {spec.noun}",
            status_code=201,
            responses=CREATE_RESPONSES,
            opt=writes,
        )(create_item)
    if spec.update is not None:
        handlers["update_item"] = patch(
            item,
            summary=f"Change a {spec.noun} (needs If-Match)",
            responses=UPDATE_RESPONSES,
            opt=writes,
        )(update_item)
    if spec.deletable and spec.create is not None:
        deleter = spec.delete_role or spec.write_role
        summary, description = f"Delete a {spec.noun}", None
        if spec.delete_role is not None:
            who = " and ".join(f"{r}s" for r in Role if r.at_least(spec.delete_role))
            summary += f" ({who})"
            description = (
                f"Needs the {spec.delete_role} role; {spec.write_role or Role.MEMBER}s change "
                f"{plural} but do not delete them."
            )
        handlers["delete_item"] = delete(
            item,
            summary=summary,
            description=description,
            responses=problem_responses(*WRITE_ERRORS, VersionMismatch),
            opt={MIN_ROLE: deleter} if deleter else {},
        )(delete_item)
    name = "".join(part.capitalize() for part in spec.path.split("-")) + "Controller"
    return type(
        name,
        (Controller,),
        {
            "path": f"/api/v1/w/{{slug:str}}/{spec.path}",
            "tags": [spec.tag or plural],
            "dependencies": {
                **workspace_dependencies,
                "where": Provide(spec.filters, sync_to_thread=False),
            },
            "security": [{"bearer": []}],
            **handlers,
        },
    )
