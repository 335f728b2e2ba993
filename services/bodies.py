"""Request bodies: every route that takes one takes JSON, read here for the whole API.

Litestar reads a handler's ``data`` through :meth:`Request.json`; the application's request class,
:class:`ApiRequest`, checks what it reads:

* the body is declared as JSON (``Content-Type: application/json`` or ``application/*+json``):
  anything else is a 415. A form or ``text/plain`` body is what another site's page can make a
  browser send without a CORS preflight, so it must not be read as JSON;
* it is UTF-8 and not nested deeper than :data:`MAX_DEPTH`: otherwise a 400, where msgspec's
  ``UnicodeDecodeError`` or ``RecursionError`` would have been a 500;
* a string with an unpaired high surrogate escape (``"\\ud800"``, ``"x\\ud800y"``) is called
  that, where msgspec says "Input data was truncated" of a whole body;
* a number too large to read (``1e400``) is a 422 naming its field, where msgspec's message
  names no field (``$[...]``);
* an object giving a key twice (``{"name": "a", "name": "b"}``) is a 422 naming it, where the
  decoder would keep the last value unsaid. msgspec cannot tell, so the body is read a second
  time for it, by the standard library with numbers left unread (about five times msgspec's
  time: some 70 µs for a body of 4 KB).

Requests without a body never get here (Litestar leaves ``data`` out), so a bodyless POST or
DELETE is unaffected.

A route that takes no ``data`` never reads its body, so one sent would be ignored, whatever it
held: :func:`refuse_unread_body` refuses it instead (``services.parameters`` calls it before the
handler, and before authentication, as a bad body is refused before it). A body that is not JSON
is the same 415; a JSON one is a 422 unless it is the empty object ``{}``, which clients send on
action POSTs.
"""

from __future__ import annotations

import functools
import json
import re
from collections import Counter
from collections.abc import Iterator
from typing import Any

import msgspec
from litestar import Request
from litestar.exceptions import SerializationException

from services.errors import MalformedRequest, UnsupportedMediaType, ValidationFailed, field_error

JSON_MEDIA_TYPE = "application/json"
MAX_DEPTH = 32
"""How deeply arrays and objects may nest in a body; the API's own bodies nest a few levels."""
NO_BODY = "This route takes no body; send none (or {})."
UNPAIRED_SURROGATE = (
    "JSON is malformed: an unpaired UTF-16 surrogate (an escape \\uD800–\\uDBFF must be "
    "followed by one \\uDC00–\\uDFFF)"
)
# A high surrogate escape not followed by a low one.
_UNPAIRED = re.compile(
    rb"(?<!\\)(?:\\\\)*\\u[dD][89abAB][0-9a-fA-F]{2}(?!\\u[dD][c-fC-F][0-9a-fA-F]{2})"
)
# The empty object, with JSON's whitespace (RFC 8259 §2) around and inside it.
_EMPTY_OBJECT = re.compile(rb"[ \t\n\r]*\{[ \t\n\r]*\}[ \t\n\r]*")


def is_json(media_type: str) -> bool:
    """``application/json`` or a structured ``+json`` type (RFC 6839); parameters are ignored
    (RFC 8259 defines none: JSON is UTF-8)."""
    kind, _, subtype = media_type.partition("/")
    return kind == "application" and (subtype == "json" or subtype.endswith("+json"))


def nested_deeper_than(value: Any, limit: int) -> bool:
    """Whether arrays and objects nest more than ``limit`` levels in a decoded JSON value."""
    pending: list[tuple[Any, int]] = [(value, 1)] if isinstance(value, dict | list) else []
    while pending:
        item, depth = pending.pop()
        if depth > limit:
            return True
        children = item.values() if isinstance(item, dict) else item
        pending.extend((child, depth + 1) for child in children if isinstance(child, dict | list))
    return False


# What the second reading (:func:`_read_again`) leaves for a number msgspec cannot read.
_OUT_OF_RANGE = object()


class _Twice(dict[str, Any]):
    """An object, and the keys it was given more than once."""

    twice: list[str]


def _number(text: str) -> object:
    """A JSON number's text, or :data:`_OUT_OF_RANGE` when msgspec would refuse it."""
    try:
        msgspec.json.decode(text)
    except msgspec.ValidationError:
        return _OUT_OF_RANGE
    return None


def _misread(value: Any, path: str = "") -> Iterator[tuple[str, str]]:
    """``(field, message)`` for every number too large and every key given twice in ``value``
    (a body read by :func:`_read_again`)."""
    if value is _OUT_OF_RANGE:
        yield path, "a number out of range"
    elif isinstance(value, _Twice):
        for key in value.twice:
            yield (f"{path}.{key}" if path else key), "given more than once"
        for key, item in value.items():
            yield from _misread(item, f"{path}.{key}" if path else key)
    elif isinstance(value, list):
        for i, item in enumerate(value):
            yield from _misread(item, f"{path}[{i}]")


def _read_again(body: bytes, numbers: bool) -> list[tuple[str, str]]:
    """What :func:`_misread` finds in ``body``, already read as JSON by msgspec; ``numbers``:
    look at each number (else they are not read at all, which is quicker)."""
    twice = False

    def read_object(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
        nonlocal twice
        found = _Twice(pairs)
        found.twice = []
        if len(found) != len(pairs):
            twice = True
            found.twice = [key for key, n in Counter(key for key, _ in pairs).items() if n > 1]
        return found

    unread = _number if numbers else (lambda text: None)
    try:
        value = json.loads(
            body, object_pairs_hook=read_object, parse_float=unread, parse_int=unread
        )
    except ValueError:  # what msgspec read, this reads too; but nothing is found if not
        return []
    except RecursionError:  # msgspec stopped at a number before it reached the nesting
        raise _too_deep() from None
    # Walked only when something was found, or may have been.
    return list(_misread(value)) if twice or numbers else []


def _refuse_misread(found: list[tuple[str, str]]) -> None:
    if found:
        errors = [field_error(field, message) for field, message in found]
        raise ValidationFailed(
            "; ".join(f"{e['field']}: {e['message']}" for e in errors), errors=errors
        )


def _too_deep() -> MalformedRequest:
    return MalformedRequest(f"The JSON is nested too deeply (limit {MAX_DEPTH}).")


class ApiRequest(Request[Any, Any, Any]):
    """The API's request: its JSON body is read only when declared as JSON, and read safely."""

    async def json(self) -> Any:
        body = await self.body()
        if body:
            media_type, _ = self.content_type
            if not is_json(media_type):
                raise _unsupported(self, media_type)
        try:
            value = await super().json()
        except UnicodeDecodeError:
            raise MalformedRequest("The body is not valid UTF-8 (JSON is UTF-8).") from None
        except RecursionError:
            raise _too_deep() from None
        except SerializationException as exc:
            if "truncated" in str(exc) and _UNPAIRED.search(body):
                # msgspec says "Input data was truncated" here, though the body is whole.
                raise MalformedRequest(UNPAIRED_SURROGATE) from None
            if "out of range" in str(exc):
                _refuse_misread(
                    [m for m in _read_again(body, True) if m[1] != "given more than once"]
                )
            raise
        # Only a body with more brackets than the limit can nest beyond it: most are not walked.
        if body.count(b"[") + body.count(b"{") > MAX_DEPTH and nested_deeper_than(value, MAX_DEPTH):
            raise _too_deep()
        if isinstance(value, dict | list) and value:
            _refuse_misread(_read_again(body, False))
        if isinstance(value, dict) and (typed := _typed_fields(self)):
            _refuse_text_for_numbers(value, typed)
        return value


# JSON types a body field takes where text is not one of them (what the API documents).
_NOT_TEXT = {
    msgspec.inspect.IntType: "a whole number",
    msgspec.inspect.FloatType: "a number",
    msgspec.inspect.DecimalType: "a number",
    msgspec.inspect.BoolType: "true or false",
}


def _body_annotation(request: Request[Any, Any, Any]) -> Any:
    data = getattr(request.scope.get("route_handler"), "parsed_data_field", None)
    return None if data is None else data.annotation


@functools.cache
def _struct_fields(annotation: Any) -> tuple[msgspec.inspect.Field, ...]:
    try:
        info: msgspec.inspect.Type = msgspec.inspect.type_info(annotation)
    except (TypeError, ValueError):  # a type msgspec cannot describe
        return ()
    info = _bare(info)
    return tuple(info.fields) if isinstance(info, msgspec.inspect.StructType) else ()


def missing_fields(request: Request[Any, Any, Any], body: Any) -> list[str]:
    """Every required field the body lacks, nested objects and arrays of them included, named
    as field errors name them (``criteria[2].text``): msgspec stops at the first one, so one
    answer says them all (that one first, then the others in the body's order)."""
    annotation = _body_annotation(request)
    if annotation is None:
        return []
    try:
        info = msgspec.inspect.type_info(annotation)
    except (TypeError, ValueError):  # a type msgspec cannot describe
        return []
    return list(_missing_in(info, body, ""))


def _missing_in(info: msgspec.inspect.Type, value: Any, path: str) -> Iterator[str]:
    info = _bare(info)
    if isinstance(info, msgspec.inspect.UnionType):
        # The one object type a JSON object can be read as (``X | None``), if there is one.
        objects = [
            kind
            for kind in info.types
            if isinstance(_bare(kind), msgspec.inspect.StructType | msgspec.inspect.DataclassType)
        ]
        if len(objects) == 1:
            yield from _missing_in(objects[0], value, path)
    elif isinstance(info, msgspec.inspect.StructType | msgspec.inspect.DataclassType):
        if isinstance(value, dict):
            for field in info.fields:
                name = f"{path}.{field.encode_name}" if path else field.encode_name
                if field.encode_name in value:
                    yield from _missing_in(field.type, value[field.encode_name], name)
                elif field.required:
                    yield name
    elif isinstance(info, msgspec.inspect.ListType | msgspec.inspect.SetType) and isinstance(
        value, list
    ):
        for i, item in enumerate(value):
            yield from _missing_in(info.item_type, item, f"{path}[{i}]")


def _bare(info: msgspec.inspect.Type) -> msgspec.inspect.Type:
    while isinstance(info, msgspec.inspect.Metadata):
        info = info.type
    return info


def _typed_fields(request: Request[Any, Any, Any]) -> dict[str, str]:
    """The route's top-level body fields that take numbers or booleans, and not text."""
    annotation = _body_annotation(request)
    return {} if annotation is None else _not_text_fields(annotation)


@functools.cache
def _not_text_fields(annotation: Any) -> dict[str, str]:
    found = {}
    for field in _struct_fields(annotation):
        kinds = (
            field.type.types if isinstance(field.type, msgspec.inspect.UnionType) else (field.type,)
        )
        words = []
        for kind in kinds:
            kind = _bare(kind)
            if isinstance(kind, msgspec.inspect.StrType):
                break  # text is one of its types
            if (said := _NOT_TEXT.get(type(kind))) is not None:
                words.append(said)
        else:
            if words:
                found[field.encode_name] = " or ".join(dict.fromkeys(words))
    return found


def _refuse_text_for_numbers(value: dict[str, Any], typed: dict[str, str]) -> None:
    """A number (or true/false) sent as text is refused, not read: the decoder's lax mode would
    take "12.50" for 12.50 (and "1e3" for 1000), which the API does not document."""
    errors = [
        field_error(name, f"must be {typed[name]}, not text")
        for name, given in value.items()
        if name in typed and isinstance(given, str)
    ]
    if errors:
        raise ValidationFailed(
            "; ".join(f"{e['field']}: {e['message']}" for e in errors), errors=errors
        )


async def refuse_unread_body(request: Request[Any, Any, Any]) -> None:
    """Refuse a body sent to a route that takes none: 415 if it is not JSON, else 422 unless it
    is ``{}``. No body (none sent, or ``Content-Length: 0``) passes."""
    body = await request.body()
    if not body:
        return
    media_type, _ = request.content_type
    if not is_json(media_type):
        raise _unsupported(request, media_type, takes="takes no body; send none, or {} as")
    if not _EMPTY_OBJECT.fullmatch(body):
        raise ValidationFailed(NO_BODY, errors=[field_error("", "this route takes no body")])


def _unsupported(
    request: Request[Any, Any, Any], media_type: str, takes: str = "takes a JSON body, sent as"
) -> UnsupportedMediaType:
    sent = f"'{media_type}'" if media_type else "no Content-Type"
    # RFC 9110 §15.5.16: say what is accepted; Accept-Post / Accept-Patch are the headers for it.
    accept = {"POST": "Accept-Post", "PATCH": "Accept-Patch"}.get(request.method)
    return UnsupportedMediaType(
        f"This route {takes} Content-Type: {JSON_MEDIA_TYPE} (or application/*+json); got {sent}.",
        errors=[field_error("Content-Type", f"expected {JSON_MEDIA_TYPE}", "header")],
        headers={accept: JSON_MEDIA_TYPE} if accept else None,
    )
