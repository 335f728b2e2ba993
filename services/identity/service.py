"""Users, memberships and API tokens. Tokens are random, shown once and stored as SHA-256."""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import secrets
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete, select, union_all, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from services.db.base import utcnow
from services.errors import Conflict, NotFound, ValidationFailed, field_error
from services.identity.models import ApiToken, Membership, Role, StaffRole, TokenScope, User

TOKEN_PREFIX = "pmo_"  # noqa: S105 — a marker, not a secret
# Updating last_used_at on every request would be a write per read; once a minute is enough.
_LAST_USED_GRANULARITY = timedelta(minutes=1)


@dataclass(frozen=True, slots=True)
class Principal:
    """Who is calling: a user, through one token."""

    user_id: uuid.UUID
    email: str
    staff_role: StaffRole | None
    token_id: uuid.UUID
    token_tenant_id: uuid.UUID | None
    scopes: frozenset[TokenScope]

    def can_write(self) -> bool:
        return TokenScope.WRITE in self.scopes


def _hash_secret(secret: str) -> bytes:
    return hashlib.sha256(secret.encode()).digest()


def derived_secret(signing_key: str, purpose: str) -> str:
    """A token secret derived from the platform's key and ``purpose`` (e.g. an invitation of one
    provisioning run): the same every time, so a retried step finds the token it made instead of
    making a second one, and the platform can deliver it again without storing it."""
    digest = hmac.new(signing_key.encode(), purpose.encode(), hashlib.sha256).digest()
    return TOKEN_PREFIX + base64.urlsafe_b64encode(digest).decode().rstrip("=")


# A domain label: letters and digits, hyphens inside (``acme``, ``north-wind``, ``xn--zo-pja``).
_DOMAIN_LABEL = re.compile(r"[^\W_](?:[^\W_]|-){0,61}(?<!-)", re.UNICODE)
# Never in an address we accept: they separate or quote addresses, or hide in a header.
_SEPARATORS = frozenset(',;:<>()[]\\"')


def email_problem(email: str) -> str | None:
    """What is wrong with ``email`` (trimmed), in plain words; None if it is an address.

    Deliberately simple — no DNS, no quoted local parts: no spaces, control characters, or
    what separates or quotes addresses (commas …); one ``@`` with something before it; after
    it, a domain of dot-separated labels of letters, digits and inner hyphens."""
    if any(c.isspace() or not c.isprintable() for c in email):
        return "it has a space or a control character"
    if any(c in _SEPARATORS for c in email):
        return "it has a comma, semicolon, colon, bracket or quote (send one address)"
    if email.count("@") != 1:
        return "it has no @" if "@" not in email else "it has more than one @"
    local, _, domain = email.partition("@")
    if not local:
        return "nothing comes before the @"
    labels = domain.split(".")
    if len(labels) < 2 or not all(_DOMAIN_LABEL.fullmatch(label) for label in labels):
        return (
            "what follows the @ is not a domain such as example.org (parts of letters, digits "
            "and inner hyphens, separated by dots)"
        )
    return None


def normalise_email(email: str, field: str = "email") -> str:
    """``email`` trimmed and lower-cased; raises :class:`ValidationFailed` naming ``field``
    with the reason (:func:`email_problem`) if it is not an address we accept."""
    email = email.strip().lower()
    problem = email_problem(email)
    if problem is not None:
        raise ValidationFailed(
            f"{email!r} is not an email address: {problem}.",
            errors=[field_error(field, f"not an email address: {problem}")],
        )
    return email


def default_display_name(email: str) -> str:
    """What a user is called until they say: the local part of their (normalised) email."""
    return email.partition("@")[0]


async def create_user(
    session: AsyncSession, email: str, display_name: str = "", staff_role: StaffRole | None = None
) -> User:
    email = normalise_email(email)
    if await session.scalar(select(User.id).where(User.email == email)) is not None:
        raise Conflict(f"A user with email {email} exists.", errors=[field_error("email", "taken")])
    user = User(
        email=email, display_name=display_name or default_display_name(email), staff_role=staff_role
    )
    session.add(user)
    await session.flush()
    return user


async def get_user_by_email(session: AsyncSession, email: str) -> User | None:
    """The user with ``email`` (trimmed, any case). Not checked as an address: one stored
    before the address rules tightened is still found, to be revoked or removed."""
    wanted = email.strip().lower()
    return await session.scalar(select(User).where(User.email == wanted))


async def require_user(session: AsyncSession, email: str) -> User:
    user = await get_user_by_email(session, email)
    if user is None:
        normalise_email(email)  # a mistyped address is told so, rather than "no user"
        raise NotFound(f"No user {email}.")
    return user


async def grant_membership(
    session: AsyncSession, user_id: uuid.UUID, tenant_id: uuid.UUID, role: Role
) -> Membership:
    """Give a user a role in a workspace (changing it if they already have one). A workspace
    keeps an owner: its only owner is not made something else (409) — only an owner asks for
    the workspace's offboarding, so without one the client could not leave on their own."""
    membership = await session.scalar(
        select(Membership).where(Membership.user_id == user_id, Membership.tenant_id == tenant_id)
    )
    if membership is None:
        membership = Membership(user_id=user_id, tenant_id=tenant_id, role=role)
        session.add(membership)
    else:
        if membership.role is Role.OWNER and role is not Role.OWNER:
            # Locked, so two owners demoting each other at once do not both pass.
            owners = (
                await session.scalars(
                    select(Membership.user_id)
                    .where(Membership.tenant_id == tenant_id, Membership.role == Role.OWNER)
                    .with_for_update()
                )
            ).all()
            if set(owners) <= {user_id}:
                raise Conflict(
                    "This is the workspace's only owner; make another member its owner first."
                )
        membership.role = role
    await session.flush()
    return membership


async def role_in(session: AsyncSession, user_id: uuid.UUID, tenant_id: uuid.UUID) -> Role | None:
    return await session.scalar(
        select(Membership.role).where(
            Membership.user_id == user_id, Membership.tenant_id == tenant_id
        )
    )


def _token_values(
    user_id: uuid.UUID,
    secret: str,
    *,
    name: str,
    tenant_id: uuid.UUID | None,
    scopes: frozenset[TokenScope],
    expires_in: timedelta | None,
) -> dict[str, object]:
    """The columns of a new token with ``secret`` (only its hash is kept)."""
    if expires_in is not None and expires_in <= timedelta(0):
        raise ValidationFailed(
            "expiry must be in the future", errors=[field_error("expires_in", ">0")]
        )
    return {
        "user_id": user_id,
        "tenant_id": tenant_id,
        "name": name,
        "prefix": secret[: len(TOKEN_PREFIX) + 8],
        "secret_hash": _hash_secret(secret),
        "scopes": sorted(s.value for s in scopes),
        "expires_at": utcnow() + expires_in if expires_in else None,
    }


async def issue_token(
    session: AsyncSession,
    user_id: uuid.UUID,
    *,
    name: str,
    tenant_id: uuid.UUID | None = None,
    scopes: frozenset[TokenScope] = frozenset(TokenScope),
    expires_in: timedelta | None = None,
) -> tuple[ApiToken, str]:
    """Create a token; returns the row and the secret, which is never available again."""
    secret = TOKEN_PREFIX + secrets.token_urlsafe(32)
    token = ApiToken(
        **_token_values(
            user_id, secret, name=name, tenant_id=tenant_id, scopes=scopes, expires_in=expires_in
        )
    )
    session.add(token)
    await session.flush()
    return token, secret


async def _made_or_found(session: AsyncSession, make: Any, found: Any) -> uuid.UUID:
    """The id ``make`` (an ``INSERT … ON CONFLICT DO NOTHING RETURNING id``) inserted, else the
    one ``found`` selects — in one statement: the insert as a CTE, the look beside it, because
    the statement's own reads do not see what its CTE inserts."""
    made = make.cte("made")
    row_id: uuid.UUID | None = await session.scalar(union_all(select(made.c.id), found).limit(1))
    assert row_id is not None  # inserted now, or there before the statement
    return row_id


async def ensure_member(
    session: AsyncSession, email: str, tenant_id: uuid.UUID, role: Role
) -> uuid.UUID:
    """The user with ``email`` (made if new) with ``role`` in the workspace; the user's id.

    Two statements whatever already exists, so running it again (a retried provisioning step)
    makes nothing twice."""
    email = normalise_email(email)
    user_id = await _made_or_found(
        session,
        insert(User)
        .values(id=uuid.uuid4(), email=email, display_name=default_display_name(email))
        .on_conflict_do_nothing(index_elements=[User.email])
        .returning(User.id),
        select(User.id).where(User.email == email),
    )
    await session.execute(
        insert(Membership)
        .values(id=uuid.uuid4(), user_id=user_id, tenant_id=tenant_id, role=role)
        .on_conflict_do_update(
            index_elements=[Membership.tenant_id, Membership.user_id], set_={"role": role}
        )
    )
    return user_id


async def issue_token_once(
    session: AsyncSession,
    user_id: uuid.UUID,
    *,
    name: str,
    secret: str,
    tenant_id: uuid.UUID | None = None,
    expires_in: timedelta | None = None,
) -> uuid.UUID:
    """A token whose ``secret`` is given (see :func:`derived_secret`), in one statement: its id,
    made only if no token has that secret yet."""
    values = _token_values(
        user_id,
        secret,
        name=name,
        tenant_id=tenant_id,
        scopes=frozenset(TokenScope),
        expires_in=expires_in,
    )
    return await _made_or_found(
        session,
        insert(ApiToken)
        .values(id=uuid.uuid4(), **values)
        .on_conflict_do_nothing(index_elements=[ApiToken.secret_hash])
        .returning(ApiToken.id),
        select(ApiToken.id).where(ApiToken.secret_hash == values["secret_hash"]),
    )


async def revoke_token(session: AsyncSession, token_id: uuid.UUID) -> ApiToken:
    token = await session.get(ApiToken, token_id)
    if token is None:
        raise NotFound(f"No token {token_id}.")
    if token.revoked_at is None:
        token.revoked_at = utcnow()
        await session.flush()
    return token


async def token_refusal(
    session: AsyncSession, token_id: uuid.UUID, now: datetime | None = None
) -> str | None:
    """Why the token would be refused now (``"revoked at …"``, ``"expired at …"``), or None."""
    token = await session.get(ApiToken, token_id)
    if token is None:
        return "deleted"
    if token.revoked_at is not None:
        return f"revoked at {token.revoked_at:%Y-%m-%d %H:%M:%S} UTC"
    if token.expires_at is not None and token.expires_at <= (now or utcnow()):
        return f"expired at {token.expires_at:%Y-%m-%d %H:%M:%S} UTC"
    return None


async def members_of(session: AsyncSession, tenant_id: uuid.UUID) -> list[dict[str, str]]:
    """The workspace's members, by email: ``user_id``, ``email``, ``display_name``, ``role``."""
    rows = await session.execute(
        select(User.id, User.email, User.display_name, Membership.role)
        .join(Membership, Membership.user_id == User.id)
        .where(Membership.tenant_id == tenant_id)
        .order_by(User.email)
    )
    return [
        {"user_id": str(user_id), "email": email, "display_name": name, "role": role.value}
        for user_id, email, name, role in rows
    ]


async def emails_of(session: AsyncSession, user_ids: Iterable[uuid.UUID]) -> dict[uuid.UUID, str]:
    """The emails of the users with ``user_ids`` that exist."""
    wanted = set(user_ids)
    if not wanted:
        return {}
    rows = await session.execute(select(User.id, User.email).where(User.id.in_(wanted)))
    return dict(rows.all())


async def remove_memberships_of_tenant(session: AsyncSession, tenant_id: uuid.UUID) -> int:
    """Nobody is a member of the workspace any more (offboarding)."""
    result = await session.execute(delete(Membership).where(Membership.tenant_id == tenant_id))
    return int(getattr(result, "rowcount", 0) or 0)


async def revoke_tokens_of_tenant(session: AsyncSession, tenant_id: uuid.UUID) -> int:
    result = await session.execute(
        update(ApiToken)
        .where(ApiToken.tenant_id == tenant_id, ApiToken.revoked_at.is_(None))
        .values(revoked_at=utcnow())
    )
    return int(getattr(result, "rowcount", 0) or 0)


async def revoked_token(session: AsyncSession, secret: str) -> ApiToken | None:
    """The revoked token behind a bearer secret, or None (unknown, or not revoked). Such a token
    authenticates nothing; offboarding uses it to recognise a retry from the user it revoked."""
    if not secret.startswith(TOKEN_PREFIX) or len(secret) > 100:
        return None
    return await session.scalar(
        select(ApiToken).where(
            ApiToken.secret_hash == _hash_secret(secret), ApiToken.revoked_at.is_not(None)
        )
    )


async def authenticate(
    session: AsyncSession, secret: str, now: datetime | None = None
) -> Principal | None:
    """The principal behind a bearer secret, or None if unknown, revoked, expired or inactive."""
    if not secret.startswith(TOKEN_PREFIX) or len(secret) > 100:
        return None
    now = now or utcnow()
    row = (
        await session.execute(
            select(ApiToken, User)
            .join(User, User.id == ApiToken.user_id)
            .where(ApiToken.secret_hash == _hash_secret(secret))
        )
    ).first()
    if row is None:
        return None
    token, user = row
    if token.revoked_at is not None or not user.is_active:
        return None
    if token.expires_at is not None and token.expires_at <= now:
        return None
    if token.last_used_at is None or now - token.last_used_at > _LAST_USED_GRANULARITY:
        token.last_used_at = now
    return Principal(
        user_id=user.id,
        email=user.email,
        staff_role=user.staff_role,
        token_id=token.id,
        token_tenant_id=token.tenant_id,
        scopes=frozenset(TokenScope(s) for s in token.scopes),
    )
