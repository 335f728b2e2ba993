"""Every knob of the platform, read from ``PMO_*`` environment variables in one place.

``load_settings()`` is the only way settings are built outside tests; a missing or malformed value
raises :class:`ConfigError` whose message is one line naming the variable.
"""

from __future__ import annotations

import enum
from collections.abc import Iterator
from pathlib import Path
from typing import Annotated, Any

from pydantic import Field, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError

DEFAULT_CELL = "default"
# Dev and test only: a fixed key keeps `pmo demo` sessions valid across restarts. Refused in prod.
_DEV_SECRET_KEY = "dev-only-secret-key-change-me-0000000000000000"  # noqa: S105


# Never shown by repr(), str() or a traceback's locals: keys, and URLs' passwords.
_SECRET_FIELDS = frozenset(
    {
        "secret_key",
        "stripe_secret_key",
        "stripe_webhook_secret",
        "oidc_client_secret",
        "s3_access_key_id",
        "s3_secret_access_key",
    }
)
_URL_FIELDS = frozenset({"database_url", "database_owner_url", "database_admin_url"})
REDACTED = "**********"


def without_password(url: str) -> str:
    """A database URL fit to show: its password masked."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except ArgumentError:
        return REDACTED


class ConfigError(Exception):
    """Start-up cannot continue; the message is one line naming the variable."""


class Environment(enum.StrEnum):
    DEV = "dev"
    TEST = "test"
    PROD = "prod"


class LogFormat(enum.StrEnum):
    JSON = "json"
    CONSOLE = "console"


def _database_url(value: str, variable: str) -> URL:
    try:
        url = make_url(value)
    except ArgumentError as exc:
        raise ValueError(f"not a database URL ({exc})") from None
    if url.get_backend_name() != "postgresql":
        raise ValueError(f"{variable} must be a postgresql:// URL")
    # One driver everywhere: psycopg 3 (async in the app, sync in Alembic and the CLI).
    return url.set(drivername="postgresql+psycopg")


class Settings(BaseSettings):
    """Platform settings. Field ``x`` is read from ``PMO_X``."""

    model_config = SettingsConfigDict(env_prefix="PMO_", extra="ignore", frozen=True)

    env: Environment = Environment.DEV
    secret_key: str = Field(default=_DEV_SECRET_KEY, min_length=32)

    # The application's connection (role pmo_app). Unset: `pmo demo` starts an embedded PostgreSQL.
    database_url: str | None = None
    # Migrations run as the schema owner; default: database_url with the user set to pmo_owner.
    database_owner_url: str | None = None
    # A superuser connection, used only by `pmo db init` to create roles and databases.
    database_admin_url: str | None = None
    # Extra cells, "name=postgresql://...;name2=postgresql://...". The default cell is database_url.
    cells: Annotated[dict[str, str], NoDecode] = Field(default_factory=dict)
    db_pool_size: int = Field(default=10, ge=1, le=500)
    db_statement_timeout_ms: int = Field(default=15_000, ge=0)

    host: str = "127.0.0.1"
    port: int = Field(default=8000, ge=1, le=65535)
    public_url: str | None = None
    max_request_body_bytes: int = Field(default=1_048_576, ge=1024)
    log_level: str = "INFO"
    log_format: LogFormat | None = None
    data_dir: Path = Path(".pmo")

    # Outside world, used by later capabilities (billing, SSO, storage).
    stripe_api_base: str = "https://api.stripe.com"
    stripe_secret_key: str | None = None
    stripe_webhook_secret: str | None = None
    oidc_issuer: str | None = None
    oidc_client_id: str | None = None
    oidc_client_secret: str | None = None
    s3_endpoint_url: str | None = None
    s3_region: str = "eu-west-2"
    s3_bucket: str = "pmo-documents"
    # Unset: boto3's own credential chain (instance role, AWS_* variables, …).
    s3_access_key_id: str | None = None
    s3_secret_access_key: str | None = None

    # Signups. Plans are accepted by key until billing owns the catalogue.
    plans: Annotated[list[str], NoDecode] = Field(
        default_factory=lambda: ["trial", "starter", "professional", "enterprise"]
    )
    # Signups per client address and minute (0: no limit), one count in the control database
    # shared by every API process.
    signup_rate_limit_per_minute: int = Field(default=20, ge=0)
    invitation_days: int = Field(default=7, ge=1, le=90)

    # Workers (`pmo worker`, and in-process in `pmo demo`).
    worker_concurrency: int = Field(default=4, ge=1, le=100)
    worker_heartbeat_seconds: float = Field(default=5.0, gt=0)
    # A worker silent this long is dead: its jobs are re-queued and its runs' leases lapse.
    worker_stalled_seconds: float = Field(default=30.0, gt=0)
    provisioning_max_attempts: int = Field(default=6, ge=1, le=50)
    # The first retry waits this long; each later one twice as long as the one before.
    provisioning_retry_seconds: float = Field(default=1.0, ge=0)
    # An offboarded workspace's export is kept this long after its offboarding finished, then
    # deleted by the workers (``provisioning.purge_exports``; ``pmo provisioning purge-exports``).
    export_retention_days: int = Field(default=30, ge=1, le=3650)
    # Fault injection for the reliability tests, "<step>:<before|after>:<crash|fail|transient>".
    provisioning_fault: str | None = None

    def __repr_args__(self) -> Iterator[tuple[str | None, Any]]:
        # repr(), str() and rich's tracebacks (which print locals) all go through here.
        for name, value in super().__repr_args__():
            if value is None:
                yield name, value
            elif name in _SECRET_FIELDS:
                yield name, REDACTED
            elif name in _URL_FIELDS:
                yield name, without_password(value)
            elif name == "cells":
                yield name, {cell: without_password(url) for cell, url in value.items()}
            else:
                yield name, value

    @field_validator("database_url", "database_owner_url", "database_admin_url")
    @classmethod
    def _check_database_url(cls, value: str | None) -> str | None:
        if value is None or value == "":
            return None
        return _database_url(value, "the URL").render_as_string(hide_password=False)

    @field_validator("cells", mode="before")
    @classmethod
    def _parse_cells(cls, value: object) -> object:
        if not isinstance(value, str):
            return value
        cells: dict[str, str] = {}
        for part in filter(None, (p.strip() for p in value.split(";"))):
            name, sep, url = part.partition("=")
            if not sep or not name.strip() or not url.strip():
                raise ValueError(
                    f"expected name=postgresql://... entries separated by ';', got {part!r}"
                )
            cells[name.strip()] = _database_url(url.strip(), "a cell").render_as_string(
                hide_password=False
            )
        return cells

    @field_validator("plans", mode="before")
    @classmethod
    def _parse_plans(cls, value: object) -> object:
        if isinstance(value, str):
            return [p.strip() for p in value.split(",") if p.strip()]
        return value

    @field_validator("provisioning_fault")
    @classmethod
    def _check_fault(cls, value: str | None) -> str | None:
        if not value:
            return None
        parts = value.split(":")
        if (
            len(parts) != 3
            or parts[1] not in {"before", "after"}
            or parts[2] not in {"crash", "fail", "transient"}
        ):
            raise ValueError("expected <step>:<before|after>:<crash|fail|transient>")
        return value

    @field_validator("log_level")
    @classmethod
    def _check_log_level(cls, value: str) -> str:
        level = value.upper()
        if level not in {"DEBUG", "INFO", "WARNING", "ERROR"}:
            raise ValueError("must be one of DEBUG, INFO, WARNING, ERROR")
        return level

    @model_validator(mode="after")
    def _check_production(self) -> Settings:
        if self.env is Environment.PROD:
            if self.secret_key == _DEV_SECRET_KEY:
                raise ValueError("PMO_SECRET_KEY must be set in prod")
            if self.database_url is None:
                raise ValueError("PMO_DATABASE_URL must be set in prod")
            if self.provisioning_fault is not None:
                raise ValueError("PMO_PROVISIONING_FAULT is for tests; it is refused in prod")
        if self.worker_heartbeat_seconds * 3 > self.worker_stalled_seconds:
            raise ValueError(
                "PMO_WORKER_STALLED_SECONDS must be at least three heartbeats "
                "(PMO_WORKER_HEARTBEAT_SECONDS)"
            )
        if not self.plans:
            raise ValueError("PMO_PLANS must name at least one plan")
        if DEFAULT_CELL in self.cells:
            raise ValueError(f"PMO_CELLS must not name {DEFAULT_CELL!r}; it is PMO_DATABASE_URL")
        return self

    @property
    def effective_log_format(self) -> LogFormat:
        if self.log_format is not None:
            return self.log_format
        return LogFormat.JSON if self.env is Environment.PROD else LogFormat.CONSOLE

    @property
    def run_lease_seconds(self) -> float:
        """How long a run stays claimed by a silent worker: shorter than stall detection, so a
        re-queued run finds its lease lapsed."""
        return self.worker_stalled_seconds / 2

    def cell_urls(self) -> dict[str, str]:
        """Cell name → application database URL; the default cell first."""
        if self.database_url is None:
            raise ConfigError("PMO_DATABASE_URL: not set (use `pmo demo` for an embedded database)")
        return {DEFAULT_CELL: self.database_url, **self.cells}

    def owner_url(self, app_url: str) -> str:
        """The migrations URL (role pmo_owner) for one cell's application URL."""
        if self.database_owner_url is not None and app_url == self.database_url:
            return self.database_owner_url
        return make_url(app_url).set(username="pmo_owner", password=None).render_as_string(False)

    def admin_url(self, app_url: str) -> str:
        """A superuser URL on the server of ``app_url`` (for `pmo db init`)."""
        if self.database_admin_url is not None:
            return self.database_admin_url
        url = make_url(app_url).set(username="postgres", password=None, database="postgres")
        return url.render_as_string(hide_password=False)


def load_settings(**overrides: object) -> Settings:
    """Build settings from the environment (and explicit overrides, used by tests and the demo)."""
    try:
        return Settings(**overrides)  # type: ignore[arg-type]
    except ValidationError as exc:
        error = exc.errors()[0]
        field = ".".join(str(p) for p in error["loc"])
        # A rule across settings names its variables itself ("PMO_SECRET_KEY must be set …").
        variable = f"PMO_{field.upper()}: " if field else ""
        message = error["msg"].removeprefix("Value error, ")
        more = f" (and {exc.error_count() - 1} more)" if exc.error_count() > 1 else ""
        raise ConfigError(f"{variable}{message}{more}") from None
