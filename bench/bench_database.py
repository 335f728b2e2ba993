"""The fresh database each benchmark runs in: made by the project's own bootstrap and migrations.

``PMO_BENCH_DATABASE_URL`` is a superuser URL (default: the local server's ``postgres``).
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import psycopg
from psycopg import sql
from sqlalchemy.engine import URL, make_url

from services.db import migrate
from services.db.bootstrap import bootstrap_cell, libpq_url

DEFAULT_ADMIN_URL = "postgresql://postgres@127.0.0.1:5432/postgres"


@dataclass(frozen=True)
class BenchDatabase:
    name: str
    admin: URL

    @classmethod
    def from_env(cls, name: str) -> BenchDatabase:
        return cls(name, make_url(os.environ.get("PMO_BENCH_DATABASE_URL", DEFAULT_ADMIN_URL)))

    @property
    def admin_url(self) -> str:
        return self.admin.render_as_string(hide_password=False)

    @property
    def admin_libpq(self) -> str:
        return libpq_url(self.admin_url)

    @property
    def superuser_libpq(self) -> str:
        """The bench database as the superuser (bulk loading, no row-level security)."""
        return libpq_url(self.admin.set(database=self.name).render_as_string(hide_password=False))

    def url(self, user: str) -> str:
        """The bench database as ``user`` (SQLAlchemy URL, psycopg driver)."""
        on_bench = self.admin.set(
            drivername="postgresql+psycopg", username=user, password=None, database=self.name
        )
        return on_bench.render_as_string(hide_password=False)

    @property
    def app_url(self) -> str:
        return self.url("pmo_app")

    @property
    def owner_url(self) -> str:
        return self.url("pmo_owner")

    def create(self) -> None:
        """Drop any earlier copy, then roles, database and schema as production makes them."""
        self.drop()
        bootstrap_cell(self.admin_url, self.app_url, self.owner_url)
        migrate.upgrade(self.owner_url)

    def drop(self) -> None:
        with psycopg.connect(self.admin_libpq, autocommit=True) as conn:
            drop = sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)")
            conn.execute(drop.format(sql.Identifier(self.name)))
