"""Alembic environment: run as pmo_owner on one cell's database (URL passed in by pmo db)."""

from __future__ import annotations

from alembic import context
from sqlalchemy import create_engine
from sqlalchemy.pool import NullPool

from services.db.base import metadata
from services.db.models import import_all_models

import_all_models()
SCHEMAS = {"control", "workspace"}


def include_name(name: str | None, type_: str, _parent: object) -> bool:
    return name in SCHEMAS if type_ == "schema" else True


def run_migrations() -> None:
    url = context.config.attributes.get("url") or context.config.get_main_option("sqlalchemy.url")
    engine = create_engine(url, poolclass=NullPool)
    with engine.connect() as connection:
        context.configure(
            connection=connection,
            target_metadata=metadata,
            include_schemas=True,
            include_name=include_name,
            compare_type=True,
            transaction_per_migration=True,
        )
        with context.begin_transaction():
            context.run_migrations()
    engine.dispose()


run_migrations()
