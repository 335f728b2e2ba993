"""Migrations are the only way schemas are made: they match the models and run both ways."""

from __future__ import annotations

import uuid
import warnings

import psycopg
import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import CheckConstraint, create_engine
from sqlalchemy.exc import SAWarning
from sqlalchemy.pool import NullPool

from services.config import Settings
from services.db import migrate
from services.db.base import metadata
from services.db.bootstrap import libpq_url
from services.db.models import import_all_models


def _schema_differences(url: str) -> list[object]:
    import_all_models()
    engine = create_engine(url, poolclass=NullPool)
    try:
        with engine.connect() as conn:
            context = MigrationContext.configure(
                conn,
                opts={
                    "include_schemas": True,
                    "include_name": lambda name, kind, _p: (
                        name in {"control", "workspace"} if kind == "schema" else True
                    ),
                    "compare_type": True,
                },
            )
            with warnings.catch_warnings():
                # Reflecting a NOT VALID CHECK gives SQLAlchemy `dialect_options`, which Alembic
                # passes on as if it were a dialect's argument (the money rules of 0025).
                warnings.filterwarnings(
                    "ignore", "Can't validate argument 'dialect_options'", SAWarning
                )
                return list(compare_metadata(context, metadata))
    finally:
        engine.dispose()


def test_models_and_migrated_schema_do_not_drift(settings: Settings) -> None:
    assert settings.database_url is not None
    assert _schema_differences(settings.owner_url(settings.database_url)) == []


def _check_constraints(url: str) -> dict[tuple[str, str, str], bool]:
    """(schema, table, name) → validated, of the CHECK constraints in the database."""
    with psycopg.connect(libpq_url(url)) as conn:
        rows = conn.execute(
            "SELECT n.nspname, t.relname, c.conname, c.convalidated FROM pg_constraint c"
            " JOIN pg_class t ON t.oid = c.conrelid JOIN pg_namespace n ON n.oid = t.relnamespace"
            " WHERE c.contype = 'c' AND n.nspname IN ('control', 'workspace')"
        ).fetchall()
    return {(schema, table, name): validated for schema, table, name, validated in rows}


def test_models_and_migrations_declare_the_same_check_constraints(settings: Settings) -> None:
    # Alembic's comparison leaves CHECK constraints out: compare their names here.
    assert settings.database_url is not None
    import_all_models()
    declared = {
        (str(table.schema), table.name, str(constraint.name))
        for table in metadata.tables.values()
        for constraint in table.constraints
        if isinstance(constraint, CheckConstraint)
    }
    assert set(_check_constraints(settings.owner_url(settings.database_url))) == declared


def test_money_is_exact_and_never_negative_where_the_api_says_so(settings: Settings) -> None:
    assert settings.database_url is not None
    url = settings.owner_url(settings.database_url)
    constraints = _check_constraints(url)
    not_negative = {
        ("programmes", "budget"),
        ("programmes", "forecast_cost"),
        ("projects", "budget"),
        ("projects", "forecast_cost"),
        ("benefits", "realisation_cost"),
    }
    # NOT VALID: rows written before the rule cannot fail the migration; new writes are checked.
    assert {
        (table, column): constraints[("workspace", table, f"ck_{table}_{column}_not_negative")]
        for table, column in not_negative
    } == dict.fromkeys(not_negative, False)
    with psycopg.connect(libpq_url(url)) as conn:
        types = conn.execute(
            "SELECT table_name, column_name, data_type, numeric_precision, numeric_scale"
            " FROM information_schema.columns WHERE table_schema = 'workspace'"
            " AND column_name IN ('budget', 'forecast_cost', 'cost_impact', 'value_per_year',"
            " 'realisation_cost', 'baseline_value')"
        ).fetchall()
        assert {(t, c): (d, p, s) for t, c, d, p, s in types} == {
            **dict.fromkeys(
                [*not_negative, ("change_requests", "cost_impact")], ("numeric", 16, 2)
            ),
            ("benefits", "value_per_year"): ("numeric", 16, 2),
            ("benefits", "baseline_value"): ("double precision", 53, None),
        }
        tenant = uuid.uuid4()
        conn.execute("SELECT set_config('app.tenant_ids', %s, true)", [str(tenant)])
        with pytest.raises(psycopg.errors.CheckViolation):
            conn.execute(
                "INSERT INTO workspace.programmes (tenant_id, id, name, level, state, budget,"
                " version, created_at, updated_at)"
                " VALUES (%s, gen_random_uuid(), 'p', 'programme', 'defining', -0.01, 1,"
                " now(), now())",
                [tenant],
            )


def test_money_written_as_floats_is_rounded_to_the_cent_and_old_rows_survive_the_new_rules(
    empty_database_url: str,
) -> None:
    migrate.upgrade(empty_database_url, "0024")
    tenant = uuid.uuid4()
    insert = (
        "INSERT INTO workspace.programmes (tenant_id, id, name, level, state, budget,"
        " forecast_cost, version, created_at, updated_at)"
        " VALUES (%s, %s, 'p', 'programme', 'defining', %s, %s, 1, now(), now())"
    )
    drifted, negative = uuid.uuid4(), uuid.uuid4()
    with psycopg.connect(libpq_url(empty_database_url)) as conn:
        conn.execute("SELECT set_config('app.tenant_ids', %s, false)", [str(tenant)])
        conn.execute(insert, [tenant, drifted, 0.1 + 0.2, 1234567890.125])
        conn.execute(insert, [tenant, negative, -5.0, None])
    migrate.upgrade(empty_database_url)
    with psycopg.connect(libpq_url(empty_database_url)) as conn:
        conn.execute("SELECT set_config('app.tenant_ids', %s, false)", [str(tenant)])
        rows = dict(
            conn.execute(
                "SELECT id, budget::text || '/' || coalesce(forecast_cost::text, '')"
                " FROM workspace.programmes"
            ).fetchall()
        )
    assert rows == {drifted: "0.30/1234567890.13", negative: "-5.00/"}


def test_upgrade_downgrade_to_base_and_upgrade_again(empty_database_url: str) -> None:
    head = migrate.head_revision()
    migrate.upgrade(empty_database_url)
    assert migrate.current_revision(empty_database_url) == head

    migrate.downgrade(empty_database_url, "base")
    assert migrate.current_revision(empty_database_url) is None
    with psycopg.connect(libpq_url(empty_database_url)) as conn:
        left = conn.execute(
            "SELECT nspname FROM pg_namespace WHERE nspname IN ('control', 'workspace')"
        ).fetchall()
        assert left == []

    migrate.upgrade(empty_database_url)
    assert migrate.current_revision(empty_database_url) == head
    assert _schema_differences(empty_database_url) == []


def test_history_is_one_line() -> None:
    from alembic.script import ScriptDirectory

    scripts = ScriptDirectory.from_config(migrate.alembic_config(""))
    assert len(scripts.get_heads()) == 1
    assert len(scripts.get_bases()) == 1
