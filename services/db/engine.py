"""Engines and sessions: one engine per cell, one way to open a session."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)

from services.config import DEFAULT_CELL, Settings
from services.db import tenant_scope
from services.db.tenant_scope import TenantScope


class UnknownCellError(LookupError):
    pass


class Database:
    """The platform's databases. The control plane lives in the default cell."""

    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        self._urls = settings.cell_urls()
        self._engines: dict[str, AsyncEngine] = {}
        self._factories: dict[str, async_sessionmaker[AsyncSession]] = {}

    @property
    def cells(self) -> list[str]:
        return list(self._urls)

    def url(self, cell: str = DEFAULT_CELL) -> str:
        try:
            return self._urls[cell]
        except KeyError:
            raise UnknownCellError(cell) from None

    def engine(self, cell: str = DEFAULT_CELL) -> AsyncEngine:
        if cell not in self._engines:
            timeout = self._settings.db_statement_timeout_ms
            self._engines[cell] = create_async_engine(
                self.url(cell),
                pool_size=self._settings.db_pool_size,
                max_overflow=self._settings.db_pool_size,
                pool_pre_ping=True,
                connect_args={"options": f"-c statement_timeout={timeout}"},
            )
        return self._engines[cell]

    def session(self, cell: str = DEFAULT_CELL, scope: TenantScope | None = None) -> AsyncSession:
        """A new session on ``cell``; with ``scope`` it may read and write those workspaces."""
        if cell not in self._factories:
            self._factories[cell] = async_sessionmaker(self.engine(cell), expire_on_commit=False)
        session = self._factories[cell]()
        tenant_scope.bind_scope(session.sync_session, scope)
        return session

    @asynccontextmanager
    async def transaction(
        self, cell: str = DEFAULT_CELL, scope: TenantScope | None = None
    ) -> AsyncIterator[AsyncSession]:
        """A session whose work commits on success and rolls back on any error."""
        async with self.session(cell, scope) as session, session.begin():
            yield session

    async def dispose(self) -> None:
        for engine in self._engines.values():
            await engine.dispose()
        self._engines.clear()
        self._factories.clear()
