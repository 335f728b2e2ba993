"""`pmo db init`: the two roles and the database of a cell, created idempotently.

* ``pmo_owner`` owns the schemas and runs the migrations.
* ``pmo_app`` is what the application connects as: not superuser, not BYPASSRLS, not owner, so
  row-level security applies to it.
"""

from __future__ import annotations

import psycopg
from psycopg import sql
from sqlalchemy.engine import make_url

from services.db.rls import APP_ROLE, OWNER_ROLE


def libpq_url(url: str) -> str:
    """A SQLAlchemy URL as a libpq conninfo URL (drops the ``+driver``)."""
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


def _ensure_role(conn: psycopg.Connection, name: str, password: str | None) -> None:
    row = conn.execute(
        "SELECT rolcanlogin, rolsuper, rolbypassrls, rolcreatedb, rolcreaterole "
        "FROM pg_roles WHERE rolname = %s",
        (name,),
    ).fetchone()
    attributes = sql.SQL("LOGIN NOSUPERUSER NOBYPASSRLS NOCREATEDB NOCREATEROLE")
    if row is None:
        statement = sql.SQL("CREATE ROLE {} WITH {}").format(sql.Identifier(name), attributes)
    elif row != (True, False, False, False, False) or password:
        # Only touch an existing role when it is wrong or a password is given: roles are
        # cluster-wide, and concurrent ALTERs of one role fail ("tuple concurrently updated").
        statement = sql.SQL("ALTER ROLE {} WITH {}").format(sql.Identifier(name), attributes)
    else:
        return
    if password:
        statement = sql.SQL("{} PASSWORD {}").format(statement, sql.Literal(password))
    conn.execute(statement)


def bootstrap_cell(admin_url: str, app_url: str, owner_url: str) -> list[str]:
    """Create roles and the database named in ``app_url``; returns what was done, for printing."""
    app, owner = make_url(app_url), make_url(owner_url)
    database = app.database or "pmo"
    done: list[str] = []
    with psycopg.connect(libpq_url(admin_url), autocommit=True) as conn:
        _ensure_role(conn, OWNER_ROLE, owner.password)
        _ensure_role(conn, APP_ROLE, app.password)
        exists = conn.execute(
            "SELECT 1 FROM pg_database WHERE datname = %s", (database,)
        ).fetchone()
        if not exists:
            conn.execute(
                sql.SQL("CREATE DATABASE {} OWNER {}").format(
                    sql.Identifier(database), sql.Identifier(OWNER_ROLE)
                )
            )
            done.append(f"created database {database}")
        conn.execute(
            sql.SQL("GRANT CONNECT, TEMPORARY ON DATABASE {} TO {}").format(
                sql.Identifier(database), sql.Identifier(APP_ROLE)
            )
        )
    done.append(f"roles {OWNER_ROLE} and {APP_ROLE} ready on database {database}")
    return done
