"""HTTP for a workspace's template pin and its upgrades: a dry run (the default) for anyone who
reads the workspace, applying for admins with a token that writes."""

from __future__ import annotations

from typing import Annotated, Any

import msgspec
from litestar import Controller, Request, Response, get, post
from litestar.di import NamedDependency
from litestar.params import FromPath, HeaderParameter, JSONBody
from sqlalchemy.ext.asyncio import AsyncSession

from services import idempotency
from services.concurrency import matches
from services.dependencies import PREVIEW, WorkspaceAccess, workspace_dependencies
from services.errors import IdempotencyKeyReused, NotSeeded, VersionMismatch
from services.idempotency import IdempotencyKey
from services.identity.models import Role
from services.problems import problem_responses
from services.workspace.http import READ_ERRORS, WRITE_ERRORS
from services.workspace.schemas import read_of
from services.workspace.templates import service as pins
from services.workspace.templates.schemas import (
    TemplatePinRead,
    TemplateUpgradeCreate,
    TemplateUpgradeRead,
)

PlanIfMatch = Annotated[
    str | None,
    HeaderParameter(
        name="If-Match",
        description="Applying: the ETag of the dry run reviewed; the upgrade is refused (412) "
        "if the plan is no longer that one. Optional.",
    ),
]


class TemplateController(Controller):
    path = "/api/v1/w/{slug:str}"
    tags = ["templates"]
    dependencies = workspace_dependencies
    security = [{"bearer": []}]

    @get(
        "/template-pin",
        summary="The template pack version the workspace follows",
        description="A workspace created without a template pack follows none: 404 with the "
        "problem code `workspace-not-seeded` (the workspace is there; it has no pin), unlike "
        "`not-found` for a workspace that is not.",
        responses=problem_responses(*READ_ERRORS, NotSeeded),
    )
    async def template_pin(
        self,
        slug: FromPath[str],
        session: NamedDependency[AsyncSession],
        workspace: NamedDependency[WorkspaceAccess],
    ) -> TemplatePinRead:
        pin = await pins.require(session)
        return read_of(TemplatePinRead, pin, last_upgrade=pins.last_upgrade(pin))

    @post(
        "/template-upgrades",
        summary="Plan (dry run) or apply an upgrade to another version of the workspace's pack",
        description="Three-way merge per pack item: items the client never changed follow the "
        "target version; items the client changed are kept, and reported as conflicts where "
        "the pack changed them too, as are rows whose new values break the register's rules. "
        "A dry run (`apply` false, the default) changes nothing and is open to anyone who reads "
        "the workspace, read-only tokens included; applying needs the admin role and a token "
        "that writes. Applying is atomic and moves the workspace's pin; send an "
        "`Idempotency-Key` to retry it safely. The answer's `ETag` names the plan: applying "
        "with it in `If-Match` applies that plan or nothing (412 when it changed). A "
        "workspace created without a pack has nothing to upgrade: 404 `workspace-not-seeded`.",
        status_code=200,
        responses=problem_responses(
            *WRITE_ERRORS, IdempotencyKeyReused, VersionMismatch, NotSeeded
        ),
        opt={PREVIEW: True},
    )
    async def upgrade(
        self,
        request: Request[Any, Any, Any],
        slug: FromPath[str],
        data: JSONBody[TemplateUpgradeCreate],
        session: NamedDependency[AsyncSession],
        control_session: NamedDependency[AsyncSession],
        workspace: NamedDependency[WorkspaceAccess],
        idempotency_key: IdempotencyKey = None,
        if_match: PlanIfMatch = None,
    ) -> Response[TemplateUpgradeRead]:
        if data.apply:
            workspace.require(Role.ADMIN, writing=True)
        upgrade = pins.upgrader()

        async def run() -> tuple[int, Any]:
            if data.apply and if_match is not None and if_match.strip():
                # The plan reviewed, or none: a dry run first (it writes nothing), compared.
                now = await upgrade(
                    control_session,
                    session,
                    workspace.tenant_id,
                    data.version,
                    False,
                    workspace.actor_id,
                    data.take_pack,
                )
                if not matches(if_match, pins.plan_tag(now)):
                    raise VersionMismatch(
                        "The upgrade's plan changed since you reviewed it (the workspace or the "
                        "pack moved on); review the dry run again and apply with its ETag.",
                        current_etag=pins.plan_tag(now),
                    )
            planned = await upgrade(
                control_session,
                session,
                workspace.tenant_id,
                data.version,
                data.apply,
                workspace.actor_id,
                data.take_pack,
            )
            return 200, planned

        # A dry run changes nothing, so only applying needs to happen once per key.
        outcome = await idempotency.run_once(
            session,
            idempotency_key if data.apply else None,
            idempotency.fingerprint("POST", request.url.path, workspace.actor_id, data),
            run,
        )
        headers = {"Idempotent-Replayed": "true"} if outcome.replayed else {}
        headers["ETag"] = pins.plan_tag(outcome.body)
        body = msgspec.convert(outcome.body, TemplateUpgradeRead)
        return Response(body, status_code=outcome.status_code, headers=headers)
