"""What each route's parameters are called, and unknown query parameters refused, not ignored.

A typo such as ``?stat=failed`` must not quietly answer with every run, nor ``?programme=…``
(for ``programme_id``) with every programme's risks. A route accepts the query parameters that
Litestar's kwargs model expects for it (the handler's and its dependencies': paging, filters);
anything else under ``/api/`` is a 422 field error naming it, with the accepted ones in the
detail.

Authentication comes first, as for a bad body: on routes that authenticate, the provider that does
so (marked with :func:`authenticates`) checks the query once the caller is known, so an anonymous
caller gets 401 and not a list of our parameters; on the other routes the ``before_request`` hook
checks it.

The same index names a parameter in an error as the request spells it (``state``), not as the
handler or a filter dependency calls its argument (``lifecycle``): :func:`request_name`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, TypeVar

from litestar import Litestar, Request
from litestar.routes import HTTPRoute

from services.errors import ValidationFailed, field_error

API_PREFIX = "/api/"
STATE_KEY = "route_parameters"

Provider = TypeVar("Provider", bound=Callable[..., Any])
_AUTHENTICATORS: set[Callable[..., Any]] = set()


def authenticates(provider: Provider) -> Provider:
    """Mark a dependency provider that authenticates; it must call :func:`reject_unknown`."""
    _AUTHENTICATORS.add(provider)
    return provider


@dataclass(frozen=True, slots=True)
class Accepted:
    names: frozenset[str]
    """The query parameters, as the request spells them."""
    aliases: dict[str, str]
    """Argument name → request name, for every query, header and path parameter."""
    authenticated: bool


def _authenticated(batches: Iterable[Iterable[Any]]) -> bool:
    """Whether an authenticating provider is among a handler's dependencies (at any depth)."""
    return any(
        dependency.provide.dependency in _AUTHENTICATORS
        for batch in batches
        for dependency in batch
    )


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
            accepted[handler] = Accepted(
                names=frozenset(p.field_alias for p in model.expected_query_params),
                aliases={p.field_name: p.field_alias for p in every},
                authenticated=_authenticated(model.dependency_batches),
            )
    app.state[STATE_KEY] = accepted


def _indexed(request: Request[Any, Any, Any]) -> Accepted | None:
    known: dict[object, Accepted] = request.app.state.get(STATE_KEY, {})
    return known.get(request.scope.get("route_handler"))


def _accepted(request: Request[Any, Any, Any]) -> Accepted | None:
    return _indexed(request) if request.url.path.startswith(API_PREFIX) else None


def request_name(request: Request[Any, Any, Any], argument: str) -> str:
    """A parameter's name in the request, given the argument that receives it."""
    indexed = _indexed(request)
    return indexed.aliases.get(argument, argument) if indexed else argument


def reject_unknown(request: Request[Any, Any, Any]) -> None:
    """Raise a 422 naming every query parameter the route does not take."""
    accepted = _accepted(request)
    if accepted is None:
        return
    unknown = sorted({name for name in request.query_params if name not in accepted.names})
    if not unknown:
        return
    takes = ", ".join(sorted(accepted.names)) or "no query parameters"
    plural = "s" if len(unknown) > 1 else ""
    raise ValidationFailed(
        f"Unknown query parameter{plural} {', '.join(map(repr, unknown))}; "
        f"this route takes {takes}.",
        errors=[field_error(name, "not a parameter here", "query") for name in unknown],
    )


async def before_request(request: Request[Any, Any, Any]) -> None:
    """The check for routes that do not authenticate (the others check after authenticating)."""
    accepted = _accepted(request)
    if accepted is not None and not accepted.authenticated:
        reject_unknown(request)
