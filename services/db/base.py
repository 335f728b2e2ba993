"""Declarative bases for the two planes.

* :class:`ControlModel` — schema ``control``: tenants, users, tokens … not row-scoped by tenant.
* :class:`WorkspaceModel` — schema ``workspace``: everything a client owns. ``tenant_id`` leads the
  primary key and every foreign key to another workspace table, and row-level security is enabled
  and forced on the table (see ``migrations``). Declare workspace foreign keys with
  :func:`workspace_foreign_key` so the tenant can never be left out.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any, ClassVar

from sqlalchemy import DateTime, ForeignKeyConstraint, Integer, MetaData, Uuid, func
from sqlalchemy.orm import DeclarativeBase, Mapped, declared_attr, mapped_column

CONTROL_SCHEMA = "control"
WORKSPACE_SCHEMA = "workspace"

metadata = MetaData(
    naming_convention={
        "ix": "ix_%(table_name)s_%(column_0_N_name)s",
        "uq": "uq_%(table_name)s_%(column_0_N_name)s",
        "ck": "ck_%(table_name)s_%(constraint_name)s",
        "fk": "fk_%(table_name)s_%(column_0_N_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)


def utcnow() -> datetime:
    return datetime.now(UTC)


class Base(DeclarativeBase):
    metadata = metadata
    type_annotation_map: ClassVar[dict[Any, Any]] = {
        datetime: DateTime(timezone=True),
        uuid.UUID: Uuid(),
    }


class ControlModel(Base):
    """A control-plane table: one row per platform object, not row-scoped by tenant."""

    __abstract__ = True

    @declared_attr.directive
    def __table_args__(cls) -> Any:
        return {"schema": CONTROL_SCHEMA}

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    created_at: Mapped[datetime] = mapped_column(default=utcnow, server_default=func.now())


class WorkspaceModel(Base):
    """A workspace-plane table: ``PRIMARY KEY (tenant_id, id)``, row-level security, versioned rows.

    ``tenant_id`` is stamped from the session's tenant scope on insert; ``version`` backs
    ``ETag``/``If-Match`` and SQLAlchemy's optimistic concurrency check.
    """

    __abstract__ = True
    # Subclasses add their own constraints here; the schema is added for them.
    __workspace_table_args__: ClassVar[tuple[Any, ...]] = ()
    # False for the platform's own bookkeeping kept beside the client's rows (idempotency
    # records): purged with the workspace, but not the client's data, so not exported.
    __client_data__: ClassVar[bool] = True

    @declared_attr.directive
    def __table_args__(cls) -> Any:
        info = {"client_data": cls.__client_data__}
        return (*cls.__workspace_table_args__, {"schema": WORKSPACE_SCHEMA, "info": info})

    @declared_attr.directive
    def __mapper_args__(cls) -> Any:
        return {"version_id_col": cls.__table__.c.version}

    tenant_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    version: Mapped[int] = mapped_column(Integer, nullable=False)
    created_at: Mapped[datetime] = mapped_column(default=utcnow, server_default=func.now())
    updated_at: Mapped[datetime] = mapped_column(
        default=utcnow, onupdate=utcnow, server_default=func.now()
    )
    created_by: Mapped[uuid.UUID | None]
    updated_by: Mapped[uuid.UUID | None]


def workspace_foreign_key(
    columns: list[str], target: str, target_columns: list[str] | None = None, **kwargs: Any
) -> ForeignKeyConstraint:
    """A foreign key to another workspace table, led by ``tenant_id`` on both sides.

    ``workspace_foreign_key(["programme_id"], "programmes")`` →
    ``FOREIGN KEY (tenant_id, programme_id) REFERENCES workspace.programmes (tenant_id, id)``.
    """
    remote = target_columns or ["id"]
    return ForeignKeyConstraint(
        ["tenant_id", *columns],
        [f"{WORKSPACE_SCHEMA}.{target}.tenant_id"]
        + [f"{WORKSPACE_SCHEMA}.{target}.{c}" for c in remote],
        **kwargs,
    )
