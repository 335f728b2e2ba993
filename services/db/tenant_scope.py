"""The tenant scope: which workspaces a session may touch, enforced twice.

A scope is bound to a session (``session.info``), never global, so it cannot leak between requests
or tasks. Every ORM query on a workspace model gets ``tenant_id IN (scope)`` added; inserts are
stamped with the scope's tenant; and each transaction runs ``set_config('app.tenant_ids', …)`` so
PostgreSQL's row-level security enforces the same list. A workspace query without a scope raises.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import event, text
from sqlalchemy.engine import Connection
from sqlalchemy.orm import ORMExecuteState, Session, SessionTransaction, with_loader_criteria

from services.db import rls
from services.db.base import WorkspaceModel

_SCOPE_KEY = "tenant_scope"
_SCOPE_STATEMENT = text(rls.scope_statement(":ids"))


class TenantScopeError(RuntimeError):
    """Workspace data touched without, or outside, a tenant scope: always a programming error."""


@dataclass(frozen=True, slots=True)
class TenantScope:
    """The tenants a session may read; writes need exactly one (``tenant_id``)."""

    tenant_ids: tuple[uuid.UUID, ...]

    @classmethod
    def single(cls, tenant_id: uuid.UUID) -> TenantScope:
        return cls((tenant_id,))

    @classmethod
    def many(cls, tenant_ids: Sequence[uuid.UUID]) -> TenantScope:
        return cls(tuple(dict.fromkeys(tenant_ids)))

    @property
    def tenant_id(self) -> uuid.UUID:
        if len(self.tenant_ids) != 1:
            raise TenantScopeError("writing workspace rows needs a scope of exactly one tenant")
        return self.tenant_ids[0]

    def as_setting(self) -> str:
        return ",".join(str(t) for t in self.tenant_ids)


def bind_scope(session: Session, scope: TenantScope | None) -> None:
    """Give ``session`` a tenant scope; takes effect from its next transaction."""
    if scope is None:
        session.info.pop(_SCOPE_KEY, None)
    else:
        session.info[_SCOPE_KEY] = scope


def scope_of(session: Session) -> TenantScope | None:
    scope = session.info.get(_SCOPE_KEY)
    return scope if isinstance(scope, TenantScope) else None


def _touches_workspace(state: ORMExecuteState) -> bool:
    return any(issubclass(mapper.class_, WorkspaceModel) for mapper in state.all_mappers)


@event.listens_for(Session, "do_orm_execute")
def _filter_by_tenant(state: ORMExecuteState) -> None:
    if not (state.is_select or state.is_update or state.is_delete) or not _touches_workspace(state):
        return
    scope = scope_of(state.session)
    if scope is None:
        raise TenantScopeError("workspace query without a tenant scope")
    tenant_ids = scope.tenant_ids
    state.statement = state.statement.options(
        with_loader_criteria(
            WorkspaceModel,
            lambda cls: cls.tenant_id.in_(tenant_ids),
            include_aliases=True,
        )
    )


@event.listens_for(Session, "before_flush")
def _stamp_tenant(session: Session, _context: Any, _instances: Any) -> None:
    scope = scope_of(session)
    for obj in (*session.new, *session.dirty, *session.deleted):
        if not isinstance(obj, WorkspaceModel):
            continue
        if scope is None:
            raise TenantScopeError("workspace write without a tenant scope")
        if obj.tenant_id is None:
            obj.tenant_id = scope.tenant_id
        elif obj.tenant_id not in scope.tenant_ids:
            raise TenantScopeError("workspace write outside the session's tenant scope")


@event.listens_for(Session, "after_begin")
def _set_database_scope(session: Session, _tx: SessionTransaction, connection: Connection) -> None:
    scope = scope_of(session)
    if scope is not None:
        # psycopg 3 binds server-side, so `SET LOCAL app.tenant_ids = $1` is not possible.
        connection.execute(_SCOPE_STATEMENT, {"ids": scope.as_setting()})
