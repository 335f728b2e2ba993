"""HTTP for the public template catalogue: ``/api/v1/templates`` (no sign-in; feeds signup)."""

from __future__ import annotations

from typing import Annotated

from litestar import Controller, Response, get
from litestar.datastructures import ResponseHeader
from litestar.di import NamedDependency, Provide
from litestar.params import PathParameter
from sqlalchemy.ext.asyncio import AsyncSession

from services.catalogue import service as catalogue
from services.catalogue.schemas import TemplatePackSummary, TemplateVersionRead
from services.dependencies import provide_control_session
from services.errors import NotFound
from services.pagination import DEFAULT_LIMIT, Limit, Offset, Page, stated_order
from services.problems import problem_responses

PackKeyPath = Annotated[
    str,
    PathParameter(pattern=r"^[a-z0-9][a-z0-9_-]*$", max_length=64, description="The pack's key."),
]
VersionPath = Annotated[
    str,
    PathParameter(
        pattern=r"^[0-9A-Za-z.+-]+$", max_length=64, description="A published version, e.g. 1.1.0."
    ),
]
# The catalogue changes only when packs are synced; a short shared cache spares the database.
_LIST_CACHE = "public, max-age=60"
# A version's content never changes once published.
_VERSION_CACHE = "public, max-age=3600"


class TemplateCatalogueController(Controller):
    path = "/api/v1/templates"
    tags = ["template catalogue"]
    dependencies = {"control_session": Provide(provide_control_session)}

    @get(
        "/",
        responses=problem_responses(),
        summary="List template packs and their versions",
        description=stated_order(catalogue.PACK_ORDER),
    )
    async def list_templates(
        self,
        control_session: NamedDependency[AsyncSession],
        limit: Limit = DEFAULT_LIMIT,
        offset: Offset = 0,
    ) -> Response[Page[TemplatePackSummary]]:
        rows, total = await catalogue.list_packs(control_session, limit, offset)
        page = Page.of([TemplatePackSummary.of(p, v) for p, v in rows], total, limit, offset)
        return Response(page, headers={"Cache-Control": _LIST_CACHE})

    @get("/{key:str}", responses=problem_responses(NotFound), summary="One template pack")
    async def get_template(
        self, key: PackKeyPath, control_session: NamedDependency[AsyncSession]
    ) -> Response[TemplatePackSummary]:
        pack, versions = await catalogue.get_pack(control_session, key)
        return Response(
            TemplatePackSummary.of(pack, versions), headers={"Cache-Control": _LIST_CACHE}
        )

    @get(
        "/{key:str}/versions/{version:str}",
        responses=problem_responses(NotFound),
        summary="One published version: parameters, item counts and full content",
        response_headers=[
            ResponseHeader(
                name="ETag",
                documentation_only=True,
                description="The version's content hash (a published version never changes): "
                "send it in `If-None-Match` to read it again (a 304 if it did not).",
            )
        ],
    )
    async def get_template_version(
        self,
        key: PackKeyPath,
        version: VersionPath,
        control_session: NamedDependency[AsyncSession],
    ) -> Response[TemplateVersionRead]:
        pack, row, versions = await catalogue.get_version(control_session, key, version)
        return Response(
            TemplateVersionRead.of(pack, row, versions),
            headers={"ETag": f'"{row.content_hash}"', "Cache-Control": _VERSION_CACHE},
        )
