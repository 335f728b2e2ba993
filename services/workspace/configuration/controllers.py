"""HTTP for a workspace's register configuration: what is in force, and custom fields."""

from __future__ import annotations

from dataclasses import asdict
from typing import Annotated

from litestar import Controller, get
from litestar.di import NamedDependency
from litestar.params import FromPath, QueryParameter
from sqlalchemy.ext.asyncio import AsyncSession

from services.dependencies import WorkspaceAccess, workspace_dependencies
from services.identity.models import Role
from services.text import KEY_PATTERN
from services.workspace.configuration import service as configuration
from services.workspace.configuration.custom_fields import CustomFieldFilter, CustomFieldService
from services.workspace.configuration.rules import Level
from services.workspace.configuration.schemas import (
    BandRead,
    CustomFieldCreate,
    CustomFieldRead,
    CustomFieldUpdate,
    LevelRead,
    RagRulesRead,
    RegisterConfigurationRead,
)
from services.workspace.http import READ_RESPONSES, RegisterSpec, register_controller


def custom_field_filter(
    register: Annotated[str | None, QueryParameter(pattern=KEY_PATTERN, max_length=64)] = None,
) -> CustomFieldFilter:
    return CustomFieldFilter(register)


CustomFieldController = register_controller(
    RegisterSpec(
        path="custom-fields",
        noun="custom field",
        service=CustomFieldService,
        create=CustomFieldCreate,
        update=CustomFieldUpdate,
        read=CustomFieldRead,
        filters=custom_field_filter,
        people=(),
        tag="configuration",
        write_role=Role.ADMIN,
    )
)


class RegisterConfigurationController(Controller):
    path = "/api/v1/w/{slug:str}/register-configuration"
    tags = ["configuration"]
    dependencies = workspace_dependencies
    security = [{"bearer": []}]

    @get("/", responses=READ_RESPONSES, summary="Scales, risk bands and RAG rules in force")
    async def register_configuration(
        self,
        slug: FromPath[str],
        session: NamedDependency[AsyncSession],
        workspace: NamedDependency[WorkspaceAccess],
    ) -> RegisterConfigurationRead:
        found = await configuration.configuration(session)

        def levels(items: tuple[Level, ...]) -> list[LevelRead]:
            return [LevelRead(lv.key, lv.label, lv.value, lv.description) for lv in items]

        return RegisterConfigurationRead(
            probability=levels(found.probability),
            impact=levels(found.impact),
            bands=[
                BandRead(b.key, b.label, b.min_score, b.max_score, b.rag, b.response)
                for b in found.bands
            ],
            proximity=levels(found.proximity),
            benefit_confidence=levels(found.benefit_confidence),
            rag_rules=RagRulesRead(**asdict(found.rag_rules)),
            risk_response_model=found.risk_response_model,
        )
