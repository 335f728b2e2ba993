"""What each route's parameters are called, and unknown query parameters refused, not ignored.

A typo such as ``?stat=failed`` must not quietly answer with every run, nor ``?programme=…``
(for ``programme_id``) with every programme's risks. A route accepts the query parameters that
Litestar's kwargs model expects for it (the handler's and its dependencies': paging, filters);
anything else under ``/api/`` is a 422 field error naming it, with the accepted ones in the
detail. A parameter that takes one value is given it once: ``?band=green&band=red`` is a 422 too,
not the red risks alone; those declared as lists (``custom``) take several. A whole number
(``limit``, ``offset``, ``horizon_days`` …) is written in plain decimal digits: ``?limit=1e1`` or
``?limit=10.0`` is refused like ``?limit=ten``, where the decoder would read them as 10.

Authentication comes first, as for a bad body: on routes that authenticate, the provider that does
so (marked with :func:`authenticates`) checks the query once the caller is known, so an anonymous
caller gets 401 and not a list of our parameters; on the other routes the ``before_request`` hook
checks it.

The same index knows which routes take no body (no ``data``): the ``before_request`` hook refuses
a body sent to one (:func:`services.bodies.refuse_unread_body`), before authentication as any bad
body is, where it would have been ignored.

The same index names a parameter in an error as the request spells it (``state``), not as the
handler or a filter dependency calls its argument (``lifecycle``): :func:`request_name`, and finds
the path segment a typed path parameter could not read (``/programmes/not-a-uuid``), which
Litestar answers with a bare 404: :func:`unreadable_path_parameter`.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, TypeVar

from litestar import Litestar, Request
from litestar.routes import HTTPRoute
from litestar.types.internal_types import PathParameterDefinition

from services.bodies import refuse_unread_body
from services.errors import ValidationFailed, field_error

API_PREFIX = "/api/"
STATE_KEY = "route_parameters"
PATHS_KEY = "typed_paths"

Provider = TypeVar("Provider", bound=Callable[..., Any])
_AUTHENTICATORS: set[Callable[..., Any]] = set()
# A whole number as a query writes it: decimal digits, without leading zeros (as JSON writes one).
_WHOLE_NUMBER = re.compile(r"-?(?:0|[1-9][0-9]*)")
WHOLE_NUMBER = "must be a whole number, in plain digits (no exponent, point or leading zero)"


def authenticates(provider: Provider) -> Provider:
    """Mark a dependency provider that authenticates; it must call :func:`reject_unknown`."""
    _AUTHENTICATORS.add(provider)
    return provider


@dataclass(frozen=True, slots=True)
class Accepted:
    names: frozenset[str]
    """The query parameters, as the request spells them."""
    lists: frozenset[str]
    """Those of them that take several values (``?custom=…&custom=…``); the others take one."""
    required: tuple[str, ...]
    """Those of them the handler cannot do without, alphabetically (Litestar keeps a set)."""
    aliases: dict[str, str]
    """Argument name → request name, for every query, header and path parameter."""
    authenticated: bool
    takes_body: bool
    """Whether the handler (or a dependency of it) reads the body: ``data`` (or raw ``body``)."""
    whole_numbers: frozenset[str] = frozenset()
    """The query parameters that take a whole number, as the request spells them."""


def _authenticated(batches: Iterable[Iterable[Any]]) -> bool:
    """Whether an authenticating provider is among a handler's dependencies (at any depth)."""
    return any(
        dependency.provide.dependency in _AUTHENTICATORS
        for batch in batches
        for dependency in batch
    )


def _whole_numbers(handler: Any, batches: Iterable[Iterable[Any]]) -> set[str]:
    """The argument names, among the handler's and its dependencies', typed ``int``."""
    models = [handler.signature_model]
    models += [dependency.provide.signature_model for batch in batches for dependency in batch]
    return {
        name
        for model in models
        for name, field in getattr(model, "_fields", {}).items()
        if int in (field.annotation, *field.args) and bool not in (field.annotation, *field.args)
    }


def index(app: Litestar) -> None:
    """Record, once, which query parameters each route handler accepts."""
    accepted: dict[object, Accepted] = {}
    for route in app.routes:
        if not isinstance(route, HTTPRoute):
            continue
        for handler, model in route.route_handler_map.values():
            every = (
                *model.expected_query_params,
                *model.expected_header_params,
                *model.expected_path_params,
            )
            whole = _whole_numbers(handler, model.dependency_batches)
            accepted[handler] = Accepted(
                names=frozenset(p.field_alias for p in model.expected_query_params),
                lists=frozenset(
                    p.field_alias for p in model.expected_query_params if p.is_sequence
                ),
                required=tuple(
                    sorted(p.field_alias for p in model.expected_query_params if p.is_required)
                ),
                aliases={p.field_name: p.field_alias for p in every},
                authenticated=_authenticated(model.dependency_batches),
                takes_body=bool({"data", "body"} & model.expected_reserved_kwargs),
                whole_numbers=frozenset(
                    p.field_alias for p in model.expected_query_params if p.field_name in whole
                ),
            )
    app.state[STATE_KEY] = accepted
    app.state[PATHS_KEY] = [
        tuple(route.path_components)
        for route in app.routes
        if any(p.parser for p in route.path_parameters.values())
    ]


def _indexed(request: Request[Any, Any, Any]) -> Accepted | None:
    known: dict[object, Accepted] = request.app.state.get(STATE_KEY, {})
    return known.get(request.scope.get("route_handler"))


def _accepted(request: Request[Any, Any, Any]) -> Accepted | None:
    return _indexed(request) if request.url.path.startswith(API_PREFIX) else None


def missing_query_parameters(request: Request[Any, Any, Any]) -> list[str]:
    """The required query parameters the request leaves out (Litestar names the first only)."""
    indexed = _indexed(request)
    if indexed is None:
        return []
    return [name for name in indexed.required if name not in request.query_params]


def request_name(request: Request[Any, Any, Any], argument: str) -> str:
    """A parameter's name in the request, given the argument that receives it."""
    indexed = _indexed(request)
    return indexed.aliases.get(argument, argument) if indexed else argument


@dataclass(frozen=True, slots=True)
class UnreadablePathParameter:
    name: str
    value: str
    type: type


def unreadable_path_parameter(request: Request[Any, Any, Any]) -> UnreadablePathParameter | None:
    """The typed path parameter whose segment could not be read, for a request no route matched.

    Litestar's router answers such a request with a 404 and no word of why: this finds a route the
    path has the shape of and the segment its parser refuses.
    """
    segments = [segment for segment in request.url.path.split("/") if segment]
    shapes: list[tuple[str | PathParameterDefinition, ...]] = request.app.state.get(PATHS_KEY, [])
    for shape in shapes:
        if len(shape) != len(segments) or any(
            isinstance(part, str) and part != segment
            for part, segment in zip(shape, segments, strict=True)
        ):
            continue
        for part, segment in zip(shape, segments, strict=True):
            if isinstance(part, PathParameterDefinition) and part.parser is not None:
                try:
                    part.parser(segment)
                except ValueError:
                    return UnreadablePathParameter(part.name, segment, part.type)
    return None


def reject_unknown(request: Request[Any, Any, Any]) -> None:
    """Raise a 422 naming every query parameter the route does not take, or else every one
    that takes one value and is given more than once (Litestar would keep the last)."""
    accepted = _accepted(request)
    if accepted is None:
        return
    unknown = sorted({name for name in request.query_params if name not in accepted.names})
    if unknown:
        takes = ", ".join(sorted(accepted.names)) or "no query parameters"
        plural = "s" if len(unknown) > 1 else ""
        raise ValidationFailed(
            f"Unknown query parameter{plural} {', '.join(map(repr, unknown))}; "
            f"this route takes {takes}.",
            errors=[field_error(name, "not a parameter here", "query") for name in unknown],
        )
    given = Counter(name for name, _ in request.query_params.multi_items())
    repeated = sorted(name for name, n in given.items() if n > 1 and name not in accepted.lists)
    if repeated:
        plural = "s" if len(repeated) > 1 else ""
        raise ValidationFailed(
            f"Query parameter{plural} {', '.join(map(repr, repeated))} "
            f"{'take' if plural else 'takes'} one value, given more than once.",
            errors=[field_error(name, "given more than once", "query") for name in repeated],
        )
    unwritten = sorted(
        name
        for name, value in request.query_params.multi_items()
        if name in accepted.whole_numbers and not _WHOLE_NUMBER.fullmatch(value)
    )
    if unwritten:
        raise ValidationFailed(
            "; ".join(f"{name}: {WHOLE_NUMBER}" for name in unwritten),
            errors=[field_error(name, WHOLE_NUMBER, "query") for name in unwritten],
        )


async def before_request(request: Request[Any, Any, Any]) -> None:
    """A body sent to a route that takes none is refused; the query is checked here on routes
    that do not authenticate (the others check it after authenticating)."""
    accepted = _accepted(request)
    if accepted is None:
        return
    if not accepted.takes_body:
        await refuse_unread_body(request)
    if not accepted.authenticated:
        reject_unknown(request)
