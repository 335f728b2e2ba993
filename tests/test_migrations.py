"""Migrations are the only way schemas are made: they match the models and run both ways."""

from __future__ import annotations

import psycopg
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import create_engine
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
            return list(compare_metadata(context, metadata))
    finally:
        engine.dispose()


def test_models_and_migrated_schema_do_not_drift(settings: Settings) -> None:
    assert settings.database_url is not None
    assert _schema_differences(settings.owner_url(settings.database_url)) == []


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
