"""Errors over HTTP: RFC 9457 ``application/problem+json``, mapped once for the whole API.

The handlers in :data:`exception_handlers` turn :class:`services.errors.ProblemError`, Litestar's
own errors and anything unexpected into problems with a stable ``code``, a human ``detail`` and,
for bad input, field ``errors``; :func:`problem_responses` documents them in the OpenAPI schema.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterable, Mapping
from enum import Enum
from typing import Any

import msgspec
import structlog
from litestar import Request, Response
from litestar.exceptions import HTTPException, ValidationException
from litestar.openapi.datastructures import ResponseSpec
from litestar.status_codes import HTTP_500_INTERNAL_SERVER_ERROR
from litestar.types import ExceptionHandlersMap
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm.exc import StaleDataError

from services import parameters
from services.bodies import missing_fields
from services.errors import (
    Conflict,
    MalformedRequest,
    NotFound,
    PayloadTooLarge,
    ProblemError,
    Unauthenticated,
    UnsupportedMediaType,
    ValidationFailed,
    VersionMismatch,
    field_error,
)
from services.text import plain_message

PROBLEM_MEDIA_TYPE = "application/problem+json"
PROBLEM_TYPE_BASE = "https://docs.pmo.cloud/problems/"

log = structlog.get_logger("pmo.errors")


class FieldError(msgspec.Struct):
    field: str
    message: str
    source: str


class Problem(msgspec.Struct):
    """An RFC 9457 problem, as documented in the OpenAPI schema."""

    type: str
    title: str
    status: int
    detail: str
    code: str
    instance: str | None = None
    errors: list[FieldError] | None = None
    request_id: str | None = None


def problem_responses(*errors: type[ProblemError]) -> dict[int, ResponseSpec]:
    """OpenAPI ``responses`` for a handler that may raise ``errors`` (plus bad input and 500)."""
    by_status: dict[int, list[str]] = {}
    documented: tuple[type[ProblemError], ...] = (*errors, ValidationFailed, MalformedRequest)
    for error in documented:
        by_status.setdefault(error.status, []).append(error.code)
    return {
        status: ResponseSpec(
            data_container=Problem,
            media_type=PROBLEM_MEDIA_TYPE,
            description="Problem: " + ", ".join(sorted(set(codes))),
            generate_examples=False,
        )
        for status, codes in sorted(by_status.items())
    }


def problem_response(
    request: Request[Any, Any, Any],
    *,
    status: int,
    code: str,
    title: str,
    detail: str,
    errors: list[dict[str, str]] | None = None,
    headers: Mapping[str, str] | None = None,
    extra: Mapping[str, Any] | None = None,
) -> Response[dict[str, Any]]:
    body: dict[str, Any] = {
        "type": PROBLEM_TYPE_BASE + code,
        "title": title,
        "status": status,
        "detail": detail,
        "instance": request.url.path,
        "code": code,
        **(extra or {}),
    }
    if errors:
        body["errors"] = errors
    request_id = request.scope.get("state", {}).get("request_id")
    if request_id:
        body["request_id"] = request_id
    return Response(body, status_code=status, media_type=PROBLEM_MEDIA_TYPE, headers=headers)


def _problem_error(request: Request[Any, Any, Any], exc: ProblemError) -> Response[Any]:
    return problem_response(
        request,
        status=exc.status,
        code=exc.code,
        title=exc.title,
        detail=exc.detail,
        errors=exc.errors,
        headers=exc.headers,
        extra=exc.extra,
    )


# msgspec names the field in the message, and Litestar's key is then the object that lacks it
# (``data`` for the body itself).
_NAMED_FIELD = re.compile(r"^Object (missing required|contains unknown) field `([^`]+)`$")
_NAMED_MESSAGES = {"missing required": "required", "contains unknown": "not a field here"}
# Litestar reports a missing required parameter in its detail alone, without field errors.
_MISSING_PARAMETER = re.compile(r"^Missing required (\w+) parameter '([^']+)'")


# The body itself (Litestar's ``data``) missing — the ``KeyError`` text — or of the wrong JSON type.
_NO_BODY = "'data'"
_WRONG_TYPE = re.compile(r"^Expected `([^`]+)`, got `([^`]+)`$")


def _body_message(message: str) -> str:
    if message == _NO_BODY:
        return "a JSON object is required"
    if wrong := _WRONG_TYPE.match(message):
        return f"expected a JSON {wrong[1]}, got {wrong[2]}"
    return plain_message(message)


# msgspec's message for a value outside an enum or a Literal; we add the values it may take.
_NOT_A_CHOICE = re.compile(r"^Invalid enum value .+$")
_INDEX = re.compile(r"\[\d+\]")


def _choices_of(info: msgspec.inspect.Type | None) -> list[str] | None:
    while isinstance(info, msgspec.inspect.Metadata):
        info = info.type
    if isinstance(info, msgspec.inspect.UnionType):
        found = [c for t in info.types if (c := _choices_of(t)) is not None]
        return found[0] if len(found) == 1 else None
    if isinstance(info, msgspec.inspect.EnumType):
        return [str(member.value) for member in info.cls]
    if isinstance(info, msgspec.inspect.LiteralType):
        return [str(value) for value in info.values]
    return None


def _step(info: msgspec.inspect.Type, name: str) -> msgspec.inspect.Type | None:
    """The type of field ``name`` inside ``info`` (through optionals, lists and dicts)."""
    while True:
        if isinstance(info, msgspec.inspect.Metadata):
            info = info.type
        elif isinstance(info, msgspec.inspect.UnionType):
            inner = [t for t in info.types if not isinstance(t, msgspec.inspect.NoneType)]
            if len(inner) != 1:
                return None
            info = inner[0]
        elif isinstance(info, msgspec.inspect.ListType | msgspec.inspect.SetType):
            info = info.item_type
        elif isinstance(info, msgspec.inspect.DictType):
            info = info.value_type
        else:
            break
    if isinstance(info, msgspec.inspect.StructType):
        return next((f.type for f in info.fields if f.encode_name == name), None)
    return None


def _allowed(request: Request[Any, Any, Any], key: str, source: str) -> list[str] | None:
    """The values a field may take, when the handler declares it as an enum or a Literal."""
    handler = request.scope.get("route_handler")
    if handler is None:
        return None
    try:
        if source == "body":
            data = handler.parsed_data_field
            if data is None:
                return None
            info: msgspec.inspect.Type | None = msgspec.inspect.type_info(data.annotation)
            for part in _INDEX.sub("", key).removeprefix("data.").split("."):
                info = None if info is None else _step(info, part)
            return _choices_of(info)
        models = [handler.signature_model] + [
            provide.signature_model for provide in handler.resolve_dependencies().values()
        ]
        for model in models:
            if (found := _step(msgspec.inspect.type_info(model), key)) is not None:
                return _choices_of(found)
    except (AttributeError, TypeError, ValueError):  # a type msgspec cannot describe
        return None
    return None


def _field_error(request: Request[Any, Any, Any], item: Mapping[str, Any]) -> dict[str, str]:
    key, message = str(item.get("key") or ""), str(item.get("message", ""))
    source = item.get("source", "body")
    source = str(source.value if isinstance(source, Enum) else source)
    if named := _NAMED_FIELD.match(message):
        field = named[2] if key in ("", "data") else f"{key}.{named[2]}"
        return field_error(field, _NAMED_MESSAGES[named[1]], source)
    if source == "body" and key == "data":
        # The body as a whole: it has no field name (as a JSON pointer, "" is the whole document).
        return field_error("", _body_message(message), source)
    if _NOT_A_CHOICE.match(message) and (allowed := _allowed(request, key, source)):
        message = f"{message}; expected one of {', '.join(map(repr, allowed))}"
    said = plain_message(message)
    if source != "body":
        # As the request names it (``state``), not the argument receiving it (``lifecycle``).
        key = parameters.request_name(request, key)
        said = said.removesuffix(", not text")  # every value in a URL or a header is text
    return field_error(key, said, source)


def _missing_fields(request: Request[Any, Any, Any]) -> list[str]:
    """The required fields the body (already read) lacks, nested ones too; [] when that cannot
    be told."""
    body = getattr(getattr(request, "_connection_state", None), "json", None)
    return missing_fields(request, body) if isinstance(body, dict) else []


def _litestar_validation(
    request: Request[Any, Any, Any], exc: ValidationException
) -> Response[Any]:
    raw = exc.extra if isinstance(exc.extra, list) else []
    errors = [_field_error(request, item) for item in raw if isinstance(item, dict)]
    if not errors and (missing := _MISSING_PARAMETER.match(str(exc.detail))):
        # Litestar names the first one missing; name them all, so one answer says it all.
        names = parameters.missing_query_parameters(request) if missing[1] == "query" else []
        errors = [field_error(name, "required", missing[1]) for name in names or [missing[2]]]
    if any(e == field_error(e["field"], "required") for e in errors):
        # msgspec stops at the first required field a body lacks, nested or not: add the others.
        named = {e["field"] for e in errors}
        errors += [field_error(f, "required") for f in _missing_fields(request) if f not in named]
    if not errors or any(e["message"].startswith("JSON is malformed") for e in errors):
        return problem_response(
            request,
            status=400,
            code=MalformedRequest.code,
            title=MalformedRequest.title,
            detail=errors[0]["message"] if errors else str(exc.detail),
        )
    return problem_response(
        request,
        status=ValidationFailed.status,
        code=ValidationFailed.code,
        title=ValidationFailed.title,
        detail="; ".join(f"{e['field'] or e['source']}: {e['message']}" for e in errors),
        errors=errors,
    )


# The same title for a status whichever way it is raised (our errors' titles where we have them).
_HTTP_TITLES = {
    error.status: error.title
    for error in (
        MalformedRequest,
        Unauthenticated,
        NotFound,
        PayloadTooLarge,
        UnsupportedMediaType,
    )
}

_HTTP_CODES = {
    400: "malformed-request",
    401: "unauthenticated",
    403: "forbidden",
    404: "not-found",
    405: "method-not-allowed",
    406: "not-acceptable",
    413: "payload-too-large",
    415: "unsupported-media-type",
    429: "rate-limited",
}


def _unreadable_id(request: Request[Any, Any, Any], exc: HTTPException) -> Response[Any] | None:
    """A 404 that says why, when a typed path parameter (an id) could not be read.

    Still a 404, to anyone: no resource has such an id. Saying it is not a UUID is read from the
    URL and the public API's shape alone, before authentication, so it tells nothing about what
    exists.
    """
    if not isinstance(exc.__cause__, ValueError):
        return None
    found = parameters.unreadable_path_parameter(request)
    if found is None:
        return None
    value = found.value if len(found.value) <= 60 else found.value[:57] + "..."
    if found.type is uuid.UUID:
        detail, message = f"'{value}' is not an id here (ids are UUIDs).", "not a UUID"
    else:
        detail = f"'{value}' is not a {found.name} here (a {found.type.__name__})."
        message = f"not a {found.type.__name__}"
    return problem_response(
        request,
        status=404,
        code=NotFound.code,
        title=NotFound.title,
        detail=detail,
        errors=[field_error(found.name, message, "path")],
    )


def allow_value(methods: Iterable[str]) -> str:
    """An ``Allow`` header's value: the methods, HEAD with GET (every GET route answers it)."""
    allowed = set(methods)
    if "GET" in allowed:
        allowed.add("HEAD")
    return ", ".join(sorted(allowed))


def _http_error(request: Request[Any, Any, Any], exc: HTTPException) -> Response[Any]:
    status = exc.status_code
    if status == 404 and (answer := _unreadable_id(request, exc)) is not None:
        return answer
    code = _HTTP_CODES.get(status, "server-error" if status >= 500 else "bad-request")
    detail = str(exc.detail)
    if status == 413:
        detail = "The request body is larger than this server accepts."
    elif status >= 500:
        detail = "Something went wrong on our side."
    elif status == 404 and detail == "Not Found":  # the router's: no route has this path
        detail = f"Nothing is at {request.url.path} (the API's paths are listed at /schema)."
    elif status == 405:
        listed = (exc.headers or {}).get("allow") or (exc.headers or {}).get("Allow") or ""
        allowed = allow_value(method.strip() for method in listed.split(",") if method.strip())
        detail = f"{request.method} is not allowed on {request.url.path}" + (
            f"; it allows {allowed}." if allowed else "."
        )
    return problem_response(
        request,
        status=status,
        code=code,
        title=_HTTP_TITLES.get(status, code.replace("-", " ").capitalize()),
        detail=detail,
        headers=exc.headers,
    )


def _lost_race(request: Request[Any, Any, Any], exc: StaleDataError) -> Response[Any]:
    """Another request changed or deleted the row between our read and our write.

    The If-Match check passed on what this request read; the version-checked UPDATE or DELETE then
    found the row moved on. With If-Match that is the precondition failing (412); without, a
    conflict (409). Either way nothing was written: the transaction is rolled back.
    """
    error: ProblemError = (
        VersionMismatch(
            "The resource changed while this request was being made; read it again and "
            "reapply your change."
        )
        if request.headers.get("if-match")
        else Conflict(
            "Another request changed or deleted this resource at the same time; read it again "
            "and retry."
        )
    )
    return _problem_error(request, error)


def _refused_by_keys(request: Request[Any, Any, Any], exc: IntegrityError) -> Response[Any]:
    """The database's keys refused a write the checks let through: two requests raced to make
    the same thing (a second correction of one report …), or a row went while this one was being
    written. The transaction is rolled back; the caller can read again and retry."""
    log.warning("request.refused_by_keys", error=str(exc.orig).splitlines()[0])
    error = Conflict(
        "This clashes with a change made at the same time (or with a record it refers to); "
        "nothing was written: read again and retry."
    )
    return _problem_error(request, error)


def _unexpected(request: Request[Any, Any, Any], exc: Exception) -> Response[Any]:
    log.exception("request.failed", error=type(exc).__name__)
    return problem_response(
        request,
        status=HTTP_500_INTERNAL_SERVER_ERROR,
        code="server-error",
        title="Internal server error",
        detail="Something went wrong on our side; the request id identifies it in our logs.",
    )


exception_handlers: ExceptionHandlersMap = {
    ProblemError: _problem_error,
    ValidationException: _litestar_validation,
    StaleDataError: _lost_race,
    IntegrityError: _refused_by_keys,
    HTTPException: _http_error,
    Exception: _unexpected,
}
