"""Every model module, imported so the metadata is complete (Alembic, drift checks)."""

from __future__ import annotations

import importlib

MODEL_MODULES = (
    "services.tenancy.models",
    "services.identity.models",
    "services.workspace.models",
    "services.provisioning_runs.models",
    "services.idempotency",
)


def import_all_models() -> None:
    for module in MODEL_MODULES:
        importlib.import_module(module)
