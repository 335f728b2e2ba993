"""Control plane: users, their memberships in workspaces, staff roles and API tokens."""

from __future__ import annotations

import enum
import uuid
from datetime import datetime

from sqlalchemy import Boolean, ForeignKey, Index, LargeBinary, String, UniqueConstraint, text
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import Mapped, mapped_column

from services.db.base import ControlModel
from services.db.types import text_enum


class Role(enum.StrEnum):
    """A person's role inside one client workspace, weakest first."""

    VIEWER = "viewer"
    MEMBER = "member"
    ADMIN = "admin"
    OWNER = "owner"

    @property
    def rank(self) -> int:
        return list(Role).index(self)

    def at_least(self, other: Role) -> bool:
        return self.rank >= other.rank


class StaffRole(enum.StrEnum):
    """A role on the service company's side, across client workspaces."""

    EXPERT = "expert"
    ACCOUNT_MANAGER = "account_manager"
    PLATFORM_ADMIN = "platform_admin"


class TokenScope(enum.StrEnum):
    READ = "read"
    WRITE = "write"


class User(ControlModel):
    __tablename__ = "users"

    email: Mapped[str] = mapped_column(String(320), unique=True)
    display_name: Mapped[str] = mapped_column(String(200))
    staff_role: Mapped[StaffRole | None] = mapped_column(text_enum(StaffRole))
    is_active: Mapped[bool] = mapped_column(Boolean, server_default=text("true"))


class Membership(ControlModel):
    __tablename__ = "memberships"
    __table_args__ = (
        UniqueConstraint("tenant_id", "user_id"),
        Index(None, "user_id"),
        {"schema": "control"},
    )

    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("control.users.id", ondelete="CASCADE"))
    tenant_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("control.tenants.id", ondelete="CASCADE")
    )
    role: Mapped[Role] = mapped_column(text_enum(Role))


class ApiToken(ControlModel):
    """A bearer token. Only a SHA-256 of the secret is stored; the secret is shown once."""

    __tablename__ = "api_tokens"
    __table_args__ = (Index(None, "user_id"), {"schema": "control"})

    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("control.users.id", ondelete="CASCADE"))
    # Set: the token works in this one workspace only.
    tenant_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("control.tenants.id", ondelete="CASCADE")
    )
    name: Mapped[str] = mapped_column(String(200))
    prefix: Mapped[str] = mapped_column(String(16))
    secret_hash: Mapped[bytes] = mapped_column(LargeBinary(32), unique=True)
    scopes: Mapped[list[str]] = mapped_column(ARRAY(String(16)))
    expires_at: Mapped[datetime | None]
    revoked_at: Mapped[datetime | None]
    last_used_at: Mapped[datetime | None]
