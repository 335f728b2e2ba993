"""Every model module, imported so the metadata is complete (Alembic, drift checks)."""

from __future__ import annotations

import importlib

MODEL_MODULES = (
    "services.tenancy.models",
    "services.identity.models",
    "services.workspace.models",
    "services.workspace.configuration.models",
    "services.workspace.structure.models",
    "services.workspace.benefits.models",
    "services.workspace.raid.models",
    "services.workspace.governance.models",
    "services.workspace.gates.models",
    "services.workspace.reporting.models",
    "services.workspace.organisation.models",
    "services.workspace.custom_registers.models",
    "services.workspace.lessons.models",
    "services.workspace.templates.models",
    "services.catalogue.models",
    "services.provisioning_runs.models",
    "services.idempotency",
    "services.rate_limit",
)


def import_all_models() -> None:
    for module in MODEL_MODULES:
        importlib.import_module(module)
