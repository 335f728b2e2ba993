"""Seeding a pack version into a workspace: one transaction, provenance and stable ids on every
row, idempotent, isolated, and read back exactly as the pack says (real PostgreSQL)."""

from __future__ import annotations

import uuid
from datetime import date, timedelta

import psycopg
import pytest
from sqlalchemy import select

from services.catalogue import service as catalogue
from services.config import Settings
from services.db.base import WORKSPACE_SCHEMA, metadata
from services.db.bootstrap import libpq_url
from services.db.engine import Database
from services.errors import Conflict, NotFound, ValidationFailed
from services.workspace.configuration import service as configuration
from services.workspace.configuration.models import RiskResponseModel
from services.workspace.governance.models import BoardMember
from services.workspace.models import Rag
from services.workspace.raid.models import Dependency, Risk
from services.workspace.structure.models import Milestone
from services.workspace.templates import service as pins
from templates_library.items import seed_items, stable_id
from templates_library.loader import load_library
from templates_library.reading import read_pack_items
from templates_library.rows import SCALES, SETTINGS_ROW, STORED, Writing
from templates_library.schema import PackVersion
from templates_library.seeding import PackVersions, seed
from templates_library.upgrade import same
from templates_library.values import seed_values
from tests.conftest import MakeWorkspace, PublishPack, in_workspace
from tests.tiny_pack import PARAMS, START, second_version, tiny_version

SHIPPED = [
    pytest.param(pack.key, loaded.version, id=f"{pack.key}@{loaded.version.version}")
    for pack in load_library()
    for loaded in pack.versions
    if loaded.version is not None
]
WORKSPACE_TABLES = sorted(
    table.name for table in metadata.tables.values() if table.schema == WORKSPACE_SCHEMA
)


def snapshot(settings: Settings, tenant_id: uuid.UUID) -> dict[str, list[tuple[object, ...]]]:
    """Every row of the tenant as the application role sees it: (id, version, updated_at)."""
    assert settings.database_url is not None
    with psycopg.connect(libpq_url(settings.database_url)) as conn:
        conn.execute("SELECT set_config('app.tenant_ids', %s, true)", (str(tenant_id),))
        return {
            table: conn.execute(
                f"SELECT id, version, updated_at FROM workspace.{table} ORDER BY id"
            ).fetchall()
            for table in WORKSPACE_TABLES
        }


@pytest.mark.usefixtures("shipped_catalogue")
@pytest.mark.parametrize(("pack", "version"), SHIPPED)
async def test_every_shipped_version_seeds_and_reads_back_as_its_seed_values(
    database: Database, make_workspace: MakeWorkspace, pack: str, version: PackVersion
) -> None:
    ws = await make_workspace()

    result = await seed(database, ws.tenant_id, pack, version.version, PARAMS)

    assert result.seeded and result.items == len(seed_items(version))
    assert result.rows >= result.items  # board seats and enabling projects are rows of their own
    async with in_workspace(database, ws.tenant_id) as session:
        read = await read_pack_items(session, pack)
    expected = seed_values(version, PARAMS)
    assert set(read.values) == set(expected)
    differing = [item for item in expected if not same(read.values[item], expected[item])]
    assert differing == []
    # Nor does any row look worked on by a client, so an upgrade may remove any of them.
    writing = Writing(ws.tenant_id, pack, version.version, expected)
    worked = {
        item: STORED[item[0]].worked_on(
            read.rows[item], STORED[item[0]].columns(item[1], values, writing), read.reading
        )
        for item, values in expected.items()
        if item not in {SCALES, SETTINGS_ROW}
    }
    assert {item: columns for item, columns in worked.items() if columns} == {}


async def test_rows_carry_provenance_stable_ids_and_dates_from_the_start_date(
    database: Database, make_workspace: MakeWorkspace, publish_pack: PublishPack
) -> None:
    ws = await make_workspace()
    key = await publish_pack()

    await seed(database, ws.tenant_id, key, "1.0.0", PARAMS)

    async with in_workspace(database, ws.tenant_id) as session:
        risk = await session.scalar(select(Risk).where(Risk.source_item == "risk:threat"))
        milestone = await session.scalar(select(Milestone))
        dependency = await session.scalar(select(Dependency))
        seats = (await session.scalars(select(BoardMember).order_by(BoardMember.position))).all()
    assert risk is not None and milestone is not None and dependency is not None
    assert risk.id == stable_id(ws.tenant_id, key, "risk", "threat")
    assert (risk.source_pack, risk.source_version) == (key, "1.0.0")
    assert (risk.inherent_score, risk.residual_score) == (12, 12)
    assert risk.owner_role_id == stable_id(ws.tenant_id, key, "role", "manager")
    assert milestone.baseline_date == milestone.forecast_date == START + timedelta(days=50)
    # "run needs the build": the build provides (from), the run needs it (to).
    assert dependency.from_project_id == stable_id(ws.tenant_id, key, "project", "build")
    assert dependency.to_project_id == stable_id(ws.tenant_id, key, "project", "run")
    assert [(s.role_title, s.capacity, s.source_item) for s in seats] == [
        ("Sponsor", "chair", "board:board#seat-0"),
        ("Manager", "member", "board:board#seat-1"),
    ]


async def test_workspace_settings_come_from_the_pack(
    database: Database, make_workspace: MakeWorkspace, shipped_catalogue: None
) -> None:
    ws = await make_workspace()

    await seed(database, ws.tenant_id, "agile-pmo-safe", None, PARAMS)

    async with in_workspace(database, ws.tenant_id) as session:
        found = await configuration.configuration(session)
        fields = await configuration.definitions(session, "risks")
    pack = next(p for p in load_library() if p.key == "agile-pmo-safe")
    version = pack.versions[-1].version
    assert version is not None
    scales = version.scales
    assert found.risk_response_model is RiskResponseModel.ROAM
    assert [(b.key, b.min_score, b.max_score) for b in found.bands] == [
        (b.key, b.min_score, b.max_score) for b in scales.bands
    ]
    assert [b.rag for b in found.bands] == [Rag.GREEN, Rag.AMBER, Rag.RED, Rag.RED]
    assert [(lv.value, lv.label) for lv in found.probability] == [
        (lv.value, lv.label) for lv in scales.probability
    ]
    assert [lv.key for lv in found.proximity] == [lv.key for lv in scales.proximity]
    assert (
        found.rag_rules.cost_variance_amber_max_pct == version.rag_rules.cost_variance_pct.amber_max
    )
    assert {d.key for d in fields} == {
        f.key for f in version.custom_fields if f.register == "risks"
    }


async def test_seeding_twice_changes_nothing(
    database: Database, make_workspace: MakeWorkspace, publish_pack: PublishPack, settings: Settings
) -> None:
    ws = await make_workspace()
    key = await publish_pack()
    first = await seed(database, ws.tenant_id, key, "1.0.0", PARAMS)
    before = snapshot(settings, ws.tenant_id)

    again = await seed(database, ws.tenant_id, key, "1.0.0", PARAMS)

    assert first.seeded and first.rows > 0
    assert not again.seeded and again.rows == 0
    assert snapshot(settings, ws.tenant_id) == before  # same rows, same versions
    assert sum(len(rows) for rows in before.values()) == first.rows + 1  # and the pin


async def test_seeding_again_does_not_bring_back_what_the_client_deleted(
    database: Database, make_workspace: MakeWorkspace, publish_pack: PublishPack
) -> None:
    ws = await make_workspace()
    key = await publish_pack()
    await seed(database, ws.tenant_id, key, "1.0.0", PARAMS)
    async with in_workspace(database, ws.tenant_id) as session:
        await session.delete(await session.scalar(select(Milestone)))

    await seed(database, ws.tenant_id, key, "1.0.0", PARAMS)

    async with in_workspace(database, ws.tenant_id) as session:
        assert await session.scalar(select(Milestone)) is None


async def test_seeding_one_tenant_never_touches_another(
    database: Database, make_workspace: MakeWorkspace, publish_pack: PublishPack, settings: Settings
) -> None:
    a, b = await make_workspace(), await make_workspace()
    key = await publish_pack()
    await seed(database, b.tenant_id, key, "1.0.0", PARAMS)
    b_before = snapshot(settings, b.tenant_id)

    await seed(database, a.tenant_id, key, "1.0.0", PARAMS)

    assert snapshot(settings, b.tenant_id) == b_before
    a_rows = snapshot(settings, a.tenant_id)
    a_ids = {row[0] for rows in a_rows.values() for row in rows}
    b_ids = {row[0] for rows in b_before.values() for row in rows}
    assert a_ids and not a_ids & b_ids  # the same pack, different stable ids
    async with in_workspace(database, a.tenant_id) as session:
        assert {r.tenant_id for r in (await session.scalars(select(Risk))).all()} == {a.tenant_id}


async def test_a_workspace_on_a_version_moves_by_upgrade_not_by_seeding_again(
    database: Database, make_workspace: MakeWorkspace, publish_pack: PublishPack
) -> None:
    ws = await make_workspace()
    key = await publish_pack(None, second_version)
    await seed(database, ws.tenant_id, key, "1.0.0", PARAMS)

    with pytest.raises(Conflict, match="moves to another version by upgrade"):
        await seed(database, ws.tenant_id, key, "1.1.0", PARAMS)
    with pytest.raises(Conflict):
        await seed(database, ws.tenant_id, key, "1.0.0", {**PARAMS, "programme_name": "Other"})
    async with in_workspace(database, ws.tenant_id) as session:
        pin = await pins.require(session)
    assert (pin.pack, pin.pack_version, pin.params) == (key, "1.0.0", PARAMS)


async def test_bad_parameters_and_unknown_packs_are_refused_and_write_nothing(
    database: Database, make_workspace: MakeWorkspace, publish_pack: PublishPack, settings: Settings
) -> None:
    ws = await make_workspace()
    key = await publish_pack()

    with pytest.raises(ValidationFailed) as refused:
        await seed(database, ws.tenant_id, key, "1.0.0", {"start_date": "soon", "colour": "red"})
    with pytest.raises(NotFound):
        await seed(database, ws.tenant_id, key, "9.9.9", PARAMS)
    with pytest.raises(NotFound):
        await seed(database, uuid.uuid4(), key, "1.0.0", PARAMS)

    assert {e["field"] for e in refused.value.errors or []} == {
        "params.start_date",
        "params.colour",
    }
    assert all(rows == [] for rows in snapshot(settings, ws.tenant_id).values())


async def test_seeding_accepts_a_date_object_and_records_it_in_iso_form(
    database: Database, make_workspace: MakeWorkspace, publish_pack: PublishPack
) -> None:
    ws = await make_workspace()
    key = await publish_pack()

    await seed(database, ws.tenant_id, key, None, {"start_date": date(2026, 3, 2)})
    again = await seed(database, ws.tenant_id, key, None, {"start_date": "2026-03-02"})

    assert not again.seeded
    async with in_workspace(database, ws.tenant_id) as session:
        assert (await pins.require(session)).params == {"start_date": "2026-03-02"}


def test_the_tiny_pack_second_version_is_valid() -> None:
    # The upgrade tests rely on it: a board, a risk, a criterion and a decision change; a risk
    # is added; the assumption and the opportunity go.
    from templates_library.validation import version_findings

    assert version_findings(tiny_version(second_version)) == []


@pytest.mark.usefixtures("shipped_catalogue")
async def test_warming_reads_the_latest_published_version_of_every_pack(
    database: Database,
) -> None:
    versions = PackVersions()
    async with database.transaction() as session:
        published = await catalogue.published_versions(session)
        ready = await versions.warm(session)
    assert len(ready) == len(published) >= len({param.values[0] for param in SHIPPED})
    latest = {(pack, catalogue.latest_name(names)) for pack, names in published.items()}
    assert set(versions.loaded) == latest
    assert {(pack, version.version) for pack, version in ready} == latest
    assert {key for key, _ in latest} <= {pack for pack, _ in versions._fields}
