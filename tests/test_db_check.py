"""`pmo db check` finds rows stored before a rule that now refuses them, and `--validate`
validates the NOT VALID constraints once none is left (real PostgreSQL, the real CLI)."""

from __future__ import annotations

import asyncio
import json
import uuid
from decimal import Decimal

import psycopg
import pytest
from click.testing import CliRunner, Result
from sqlalchemy import update

from services import dbcheck
from services.cli import _sync_cells, cli
from services.config import Settings, load_settings
from services.db.engine import Database
from services.db.tenant_scope import TenantScope
from services.tenancy import service as tenancy
from services.workspace.raid.models import Risk
from services.workspace.structure.models import Milestone, Programme, Project
from tests.conftest import MakeWorkspace, PgServer, in_workspace, unique_slug
from tests.test_cli import _env
from tests.workspace_api import Client, day, make

pytestmark = pytest.mark.usefixtures("database")


async def test_rows_stored_before_a_rule_are_listed_until_they_are_put_right(
    client: Client, database: Database, settings: Settings, make_workspace: MakeWorkspace
) -> None:
    ws = await make_workspace()
    prog = await make(client, ws, "programmes", {"name": "Net Zero", "end_date": day(300)})
    tranche = await make(
        client,
        ws,
        "tranches",
        {"programme_id": prog["id"], "name": "Tranche 1", "end_date": day(100)},
    )
    project = await make(
        client,
        ws,
        "projects",
        {"programme_id": prog["id"], "name": "Grid", "tranche_id": tranche["id"]},
    )
    # Through its project's tranche, and in the programme's own plan (no tranche).
    by_project = await make(
        client,
        ws,
        "milestones",
        {
            "programme_id": prog["id"],
            "project_id": project["id"],
            "title": "Design",
            "baseline_date": day(90),
        },
    )
    unplaced = await make(
        client,
        ws,
        "milestones",
        {"programme_id": prog["id"], "title": "Close", "baseline_date": day(290)},
    )
    threat = await make(
        client,
        ws,
        "risks",
        {
            "programme_id": prog["id"],
            "title": "Supplier fails",
            "inherent_probability": 3,
            "inherent_impact": 3,
        },
    )
    opportunity = await make(
        client,
        ws,
        "risks",
        {
            "programme_id": prog["id"],
            "title": "Early grant",
            "kind": "opportunity",
            "inherent_probability": 2,
            "inherent_impact": 2,
        },
    )
    assert await dbcheck.find(database, [ws.slug]) == []

    ids = {
        name: uuid.UUID(row["id"])
        for name, row in (
            ("by_project", by_project),
            ("unplaced", unplaced),
            ("threat", threat),
            ("opportunity", opportunity),
        )
    }
    # As rows written before the rules were: past what the API accepts today.
    async with in_workspace(database, ws.tenant_id) as session:
        await session.execute(
            update(Milestone)
            .where(Milestone.id == ids["by_project"])
            .values(baseline_date=day(120))
        )
        await session.execute(
            update(Milestone).where(Milestone.id == ids["unplaced"]).values(baseline_date=day(310))
        )
        for risk in ("threat", "opportunity"):  # an opportunity may rise: not a finding
            await session.execute(
                update(Risk)
                .where(Risk.id == ids[risk])
                .values(residual_probability=4, residual_score=4 * Risk.residual_impact)
            )

    found = await dbcheck.find(database, [ws.slug])
    assert {(f.rule, f.table, f.row_id) for f in found} == {
        ("baseline-after-tranche-end", "milestones", ids["by_project"]),
        ("baseline-after-programme-end", "milestones", ids["unplaced"]),
        ("threat-residual-above-inherent", "risks", ids["threat"]),
    }
    assert {f.tenant for f in found} == {ws.slug}
    tranche_finding = next(f for f in found if f.rule == "baseline-after-tranche-end")
    assert "Tranche 1" in tranche_finding.message and day(100) in tranche_finding.message

    runner = CliRunner(env=_env(settings))

    async def pmo(*args: str) -> Result:
        # The command runs its own event loop: in a thread, beside the test's.
        return await asyncio.to_thread(runner.invoke, cli, list(args))

    listed = await pmo("db", "check", "--tenant", ws.slug)
    assert listed.exit_code == 1, listed.output
    assert (
        f"{ws.slug} risks {ids['threat']} 'Supplier fails': threat-residual-above-inherent"
        in listed.output
    )
    assert "3 row(s) break a rule" in listed.output
    as_json = await pmo("db", "check", "--tenant", ws.slug, "--json")
    rows = [json.loads(line) for line in as_json.stdout.splitlines()]
    assert {(r["rule"], r["row_id"]) for r in rows} == {(f.rule, str(f.row_id)) for f in found}
    # --validate reads every workspace; with --tenant it is a usage error, nothing validated.
    assert (await pmo("db", "check", "--tenant", ws.slug, "--validate")).exit_code == 2

    async with in_workspace(database, ws.tenant_id) as session:
        await session.execute(
            update(Milestone).where(Milestone.id == ids["by_project"]).values(baseline_date=day(95))
        )
        await session.execute(
            update(Milestone).where(Milestone.id == ids["unplaced"]).values(baseline_date=day(295))
        )
        await session.execute(
            update(Risk)
            .where(Risk.id == ids["threat"])
            .values(residual_probability=3, residual_score=9)
        )
    clean = await pmo("db", "check", "--tenant", ws.slug)
    assert clean.exit_code == 0, clean.output
    assert "no row breaks a rule" in clean.output
    unknown = await pmo("db", "check", "--tenant", "no-such-workspace")
    assert unknown.exit_code == 2 and "no workspace no-such-workspace" in unknown.output


@pytest.fixture
def own_database(
    pg_server: PgServer, migrated_template: str, created_databases: list[str]
) -> Settings:
    """A database of its own: --validate reads every workspace, and the shared one holds other
    tests' rows written past the rules on purpose."""
    name = pg_server.copy_database(
        f"{migrated_template[: -len('_template')]}_{uuid.uuid4().hex[:8]}", migrated_template
    )
    created_databases.append(name)
    settings = load_settings(
        env="test",
        database_url=pg_server.url(name),
        database_owner_url=pg_server.url(name, "pmo_owner"),
        database_admin_url=pg_server.admin_url,
        cells={},
        log_level="WARNING",
    )
    asyncio.run(_sync_cells(settings))  # as `pmo db upgrade` records them
    return settings


async def _overspent_project(
    settings: Settings, slug: str, put_right: uuid.UUID | None = None
) -> uuid.UUID:
    """Make a project 5 over budget in the workspace ``slug``, or put ``put_right``'s right."""
    db = Database(settings)
    try:
        async with db.session() as control:
            tenant = await tenancy.require_by_slug(control, slug)
        async with db.transaction(tenant.cell, TenantScope.single(tenant.id)) as session:
            if put_right is not None:
                await session.execute(
                    update(Project).where(Project.id == put_right).values(budget=5)
                )
                return put_right
            programme = Programme(name="Net Zero")
            session.add(programme)
            await session.flush()
            project = Project(programme_id=programme.id, name="Overspent", budget=Decimal("-5"))
            session.add(project)
            await session.flush()
            return project.id
    finally:
        await db.dispose()


def _unvalidated(settings: Settings) -> set[str]:
    assert settings.database_owner_url is not None
    url = settings.database_owner_url.replace("postgresql+psycopg://", "postgresql://")
    with psycopg.connect(url) as conn:
        return {name for _, name in conn.execute(dbcheck.UNVALIDATED.text).fetchall()}


def test_validate_waits_for_the_last_bad_row_then_validates_the_not_valid_constraints(
    own_database: Settings,
) -> None:
    settings = own_database
    runner = CliRunner(env=_env(settings))
    slug = unique_slug("check")
    assert runner.invoke(cli, ["tenants", "create", slug]).exit_code == 0
    not_valid = _unvalidated(settings)
    assert "ck_projects_budget_not_negative" in not_valid

    # A project whose budget went negative before the rule: written with the rule lifted.
    assert settings.database_owner_url is not None
    owner = settings.database_owner_url.replace("postgresql+psycopg://", "postgresql://")
    drop = "ALTER TABLE workspace.projects DROP CONSTRAINT ck_projects_budget_not_negative"
    with psycopg.connect(owner, autocommit=True) as conn:
        conn.execute(drop)
    project_id = asyncio.run(_overspent_project(settings, slug))
    with psycopg.connect(owner, autocommit=True) as conn:
        conn.execute(
            "ALTER TABLE workspace.projects ADD CONSTRAINT ck_projects_budget_not_negative"
            " CHECK (budget >= 0) NOT VALID"
        )

    refused = runner.invoke(cli, ["db", "check", "--validate"])
    assert refused.exit_code == 1, refused.output
    assert f"{slug} projects" in refused.output and "money-not-negative" in refused.output
    assert "budget -5.00" in refused.output
    assert _unvalidated(settings) == not_valid

    asyncio.run(_overspent_project(settings, slug, put_right=project_id))
    validated = runner.invoke(cli, ["db", "check", "--validate"])
    assert validated.exit_code == 0, validated.output
    assert "validated ck_projects_budget_not_negative on workspace.projects" in validated.output
    assert _unvalidated(settings) == set()
    again = runner.invoke(cli, ["db", "check", "--validate"])
    assert again.exit_code == 0 and "every constraint is valid" in again.output
