"""API shapes of a workspace's own settings."""

from __future__ import annotations

from typing import Annotated

import msgspec
from msgspec import UNSET, Meta, UnsetType

from services.tenancy.models import Tenant, TenantState
from services.text import NO_NUL, NOT_BLANK

OrganisationName = Annotated[str, Meta(min_length=1, max_length=200, pattern=NOT_BLANK)]
TimeZone = Annotated[
    str, Meta(min_length=1, max_length=64, pattern=NO_NUL, examples=["Europe/London"])
]


ExpertsNeedApproval = Annotated[
    bool,
    Meta(
        description=(
            "Whether the service's experts need the client's approval (an access grant) to work "
            "here. Access grants are not built yet: the setting is kept for them, and today "
            "staff reach a workspace only as members an operator adds."
        )
    ),
]


class WorkspaceSettingsRead(msgspec.Struct):
    slug: str
    name: str
    state: TenantState
    cell: str
    timezone: str
    experts_need_approval: ExpertsNeedApproval
    version: int

    @classmethod
    def of(cls, tenant: Tenant) -> WorkspaceSettingsRead:
        settings = tenant_settings(tenant)
        return cls(
            slug=tenant.slug,
            name=tenant.name,
            state=tenant.state,
            cell=tenant.cell,
            timezone=str(settings["timezone"]),
            experts_need_approval=bool(settings["experts_need_approval"]),
            version=tenant.version,
        )


class WorkspaceSettingsUpdate(msgspec.Struct, forbid_unknown_fields=True, omit_defaults=True):
    """Only the fields sent change."""

    name: OrganisationName | UnsetType = UNSET
    timezone: TimeZone | UnsetType = UNSET
    experts_need_approval: ExpertsNeedApproval | UnsetType = UNSET

    def changes(self) -> dict[str, object]:
        return {f: v for f in self.__struct_fields__ if (v := getattr(self, f)) is not UNSET}


DEFAULT_SETTINGS: dict[str, object] = {"timezone": "UTC", "experts_need_approval": True}


def tenant_settings(tenant: Tenant) -> dict[str, object]:
    return {**DEFAULT_SETTINGS, **(tenant.settings or {})}
