"""The platform's one error hierarchy: failures a caller can act on, raised by services.

Plain exceptions with a status, a stable machine ``code`` and a human ``title``; services raise
them without knowing about HTTP. :mod:`services.problems` maps them once to problem+json.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar


class ProblemError(Exception):
    """A failure the caller can act on. Subclasses set ``status``, ``code`` and ``title``."""

    status: ClassVar[int] = 400
    code: ClassVar[str] = "bad-request"
    title: ClassVar[str] = "Bad request"

    def __init__(
        self,
        detail: str,
        *,
        errors: list[dict[str, str]] | None = None,
        headers: Mapping[str, str] | None = None,
        **extra: Any,
    ) -> None:
        super().__init__(detail)
        self.detail = detail
        self.errors = errors
        self.headers = dict(headers or {})
        self.extra = extra


class ValidationFailed(ProblemError):
    status, code, title = 422, "validation-error", "The request has invalid fields"


class MalformedRequest(ProblemError):
    status, code, title = 400, "malformed-request", "The request could not be read"


class Unauthenticated(ProblemError):
    status, code, title = 401, "unauthenticated", "Authentication required"

    def __init__(self, detail: str) -> None:
        super().__init__(detail, headers={"WWW-Authenticate": 'Bearer realm="pmo"'})


class Forbidden(ProblemError):
    status, code, title = 403, "forbidden", "Not allowed"


class TenantSuspended(ProblemError):
    status, code, title = 403, "tenant-suspended", "The workspace is suspended (read-only)"


class NotFound(ProblemError):
    status, code, title = 404, "not-found", "Not found"


class Conflict(ProblemError):
    status, code, title = 409, "conflict", "Conflict"


class TenantUnavailable(ProblemError):
    status, code, title = 409, "tenant-unavailable", "The workspace is not available"


class IdempotencyKeyReused(ProblemError):
    status, code, title = 422, "idempotency-key-reused", "Idempotency key used for another request"


class VersionMismatch(ProblemError):
    status, code, title = 412, "version-mismatch", "The resource has changed"


class PreconditionRequired(ProblemError):
    status, code, title = 428, "if-match-required", "If-Match header required"


class PayloadTooLarge(ProblemError):
    status, code, title = 413, "payload-too-large", "Request body too large"


class UnsupportedMediaType(ProblemError):
    status, code, title = 415, "unsupported-media-type", "Unsupported body type"


class RateLimited(ProblemError):
    """Raised by the rate-limit middleware (as Litestar's 429); declared here for the schema."""

    status, code, title = 429, "rate-limited", "Too many requests"


def field_error(field: str, message: str, source: str = "body") -> dict[str, str]:
    return {"field": field, "message": message, "source": source}


class NotSeeded(NotFound):
    """The workspace follows no template pack (it was created without one): its template pin
    and upgrades are not there, though the workspace is."""

    status, code, title = 404, "workspace-not-seeded", "The workspace follows no template pack"
