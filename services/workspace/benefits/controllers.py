"""HTTP for benefits: ``/api/v1/w/{slug}/benefits`` and their measurements."""

from __future__ import annotations

import uuid
from datetime import date
from typing import Annotated, Any

from litestar import Controller, Request, Response, get, post
from litestar.di import NamedDependency
from litestar.params import FromPath, FromQuery, JSONBody, QueryParameter
from sqlalchemy.ext.asyncio import AsyncSession

from services.dependencies import WorkspaceAccess, workspace_dependencies
from services.idempotency import IdempotencyKey
from services.pagination import DEFAULT_LIMIT, Limit, Offset, Page, stated_order
from services.workspace.benefits.models import (
    BenefitClassification,
    BenefitState,
)
from services.workspace.benefits.rules import realisation_pct
from services.workspace.benefits.schemas import (
    BenefitCreate,
    BenefitRead,
    BenefitUpdate,
    LatestMeasurement,
    MeasurementCreate,
    MeasurementRead,
)
from services.workspace.benefits.service import (
    MEASUREMENT_ORDER,
    BenefitFilter,
    BenefitService,
    BenefitSort,
    Progress,
    forecast_pct,
)
from services.workspace.http import (
    CREATE_RESPONSES,
    READ_RESPONSES,
    RegisterSpec,
    create_once,
    register_controller,
    with_etag,
)
from services.workspace.schemas import read_of


def benefit_filter(
    programme_id: FromQuery[uuid.UUID | None] = None,
    lifecycle: Annotated[BenefitState | None, QueryParameter(name="state")] = None,
    owner_id: FromQuery[uuid.UUID | None] = None,
    classification: FromQuery[BenefitClassification | None] = None,
    dis_benefit: FromQuery[bool | None] = None,
    due_after: Annotated[date | None, QueryParameter(description="Target on or after")] = None,
    due_before: Annotated[date | None, QueryParameter(description="Target on or before")] = None,
    sort: FromQuery[BenefitSort] = BenefitSort.TARGET,
) -> BenefitFilter:
    return BenefitFilter(
        programme_id, lifecycle, owner_id, classification, dis_benefit, due_after, due_before, sort
    )


async def present_benefits(session: AsyncSession, rows: list[Any]) -> list[Any]:
    service = BenefitService(session, None)
    ids = [row.id for row in rows]
    progress, enablers = await service.progress(ids), await service.enablers(ids)
    shown = []
    for row in rows:
        p = progress.get(row.id, Progress())
        latest = (
            LatestMeasurement(p.latest_on, p.latest_value)
            if p.latest_on is not None and p.latest_value is not None
            else None
        )
        shown.append(
            read_of(
                BenefitRead,
                row,
                enabling_project_ids=enablers.get(row.id, []),
                latest_measurement=latest,
                measurements=p.measurements,
                realisation_pct=realisation_pct(
                    row.baseline_value, row.target_value, p.latest_value
                ),
                forecast_pct=forecast_pct(row, p.latest_value),
            )
        )
    return shown


BenefitController = register_controller(
    RegisterSpec(
        path="benefits",
        noun="benefit",
        service=BenefitService,
        create=BenefitCreate,
        update=BenefitUpdate,
        read=BenefitRead,
        filters=benefit_filter,
        people=("owner_id", "realisation_lead_id"),
        present=present_benefits,
    )
)


class BenefitMeasurementController(Controller):
    """Measurements are append-only: listed and added, never changed or removed."""

    path = "/api/v1/w/{slug:str}/benefits/{benefit_id:uuid}/measurements"
    tags = ["benefits"]
    dependencies = workspace_dependencies
    security = [{"bearer": []}]

    @get(
        "/",
        responses=READ_RESPONSES,
        summary="List a benefit's measurements (newest first)",
        description=stated_order(MEASUREMENT_ORDER),
    )
    async def list_measurements(
        self,
        slug: FromPath[str],
        benefit_id: FromPath[uuid.UUID],
        session: NamedDependency[AsyncSession],
        workspace: NamedDependency[WorkspaceAccess],
        limit: Limit = DEFAULT_LIMIT,
        offset: Offset = 0,
    ) -> Page[MeasurementRead]:
        service = BenefitService(session, workspace.actor_id)
        benefit = await service.get(benefit_id)
        rows, total = await service.measurements(benefit, limit, offset)
        return Page.of([read_of(MeasurementRead, r) for r in rows], total, limit, offset)

    @get("/{measurement_id:uuid}", responses=READ_RESPONSES, summary="Get a measurement")
    async def get_measurement(
        self,
        slug: FromPath[str],
        benefit_id: FromPath[uuid.UUID],
        measurement_id: FromPath[uuid.UUID],
        session: NamedDependency[AsyncSession],
        workspace: NamedDependency[WorkspaceAccess],
    ) -> Response[MeasurementRead]:
        service = BenefitService(session, workspace.actor_id)
        row = await service.measurement(await service.get(benefit_id), measurement_id)
        return with_etag(read_of(MeasurementRead, row), row.version)

    @post("/", responses=CREATE_RESPONSES, summary="Record a measurement", status_code=201)
    async def add_measurement(
        self,
        request: Request[Any, Any, Any],
        slug: FromPath[str],
        benefit_id: FromPath[uuid.UUID],
        data: JSONBody[MeasurementCreate],
        session: NamedDependency[AsyncSession],
        workspace: NamedDependency[WorkspaceAccess],
        idempotency_key: IdempotencyKey = None,
    ) -> Response[MeasurementRead]:
        service = BenefitService(session, workspace.actor_id)

        async def make() -> MeasurementRead:
            benefit = await service.get(benefit_id)
            row = await service.measure(benefit, data.measured_on, data.value, data.comment)
            return read_of(MeasurementRead, row)

        return await create_once(
            request, session, workspace, idempotency_key, data, MeasurementRead, make
        )
