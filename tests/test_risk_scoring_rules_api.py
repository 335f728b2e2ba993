"""The shipped template packs against the risk scoring rules: every pack version seeds threats
whose residual levels do not exceed their inherent ones (real PostgreSQL, real seeding)."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from services.db.engine import Database
from services.workspace.gates.models import GateState, StageGate
from services.workspace.raid.models import Risk
from services.workspace.raid.rules import RiskLevels, residual_problems
from templates_library.items import seed_items
from templates_library.loader import load_library
from templates_library.schema import PackVersion
from templates_library.seeding import seed
from tests.conftest import MakeWorkspace, in_workspace
from tests.tiny_pack import PARAMS

SHIPPED = [
    pytest.param(pack.key, loaded.version, id=f"{pack.key}@{loaded.version.version}")
    for pack in load_library()
    for loaded in pack.versions
    if loaded.version is not None
]


@pytest.mark.usefixtures("shipped_catalogue")
@pytest.mark.parametrize(("pack", "version"), SHIPPED)
async def test_no_shipped_pack_seeds_a_threat_scored_worse_after_its_response_or_a_decided_gate(
    database: Database, make_workspace: MakeWorkspace, pack: str, version: PackVersion
) -> None:
    ws = await make_workspace()
    await seed(database, ws.tenant_id, pack, version.version, PARAMS)

    async with in_workspace(database, ws.tenant_id) as session:
        risks = (await session.scalars(select(Risk))).all()
        gates = (await session.scalars(select(StageGate))).all()
    # Every risk the pack names is read back and checked.
    assert len(risks) == sum(item.kind == "risk" for item in seed_items(version))
    offenders = {
        risk.source_item: problems
        for risk in risks
        if (
            problems := residual_problems(
                risk.kind,
                RiskLevels(
                    risk.inherent_probability,
                    risk.inherent_impact,
                    risk.residual_probability,
                    risk.residual_impact,
                ),
            )
        )
    }
    assert offenders == {}
    # A seeded gate is planned: its board puts it in review before deciding it.
    assert {gate.state for gate in gates} <= {GateState.PLANNED}
