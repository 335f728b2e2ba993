"""Conditional reads (RFC 9110 §13.1.2): a ``GET`` or ``HEAD`` whose ``If-None-Match`` names the
ETag the answer carries is answered ``304 Not Modified``, without the body.

Done once for every route, on the answer on its way out: a ``200`` with an ``ETag`` that one of
the listed entity tags matches (weak comparison: ``W/"3"`` matches ``"3"``), or any such answer
when the field is ``*``, becomes a 304 keeping its headers (``ETag``, ``Cache-Control``, ``Vary``
…) but those that describe the body left out. Answers without an ETag (lists, exports), other
statuses and other methods (a write's preconditions are ``If-Match``'s:
:mod:`services.concurrency`) are sent as they are.
"""

from __future__ import annotations

import re

from litestar.enums import ScopeType
from litestar.types import ASGIApp, Message, Receive, Scope, Send

# An entity tag (RFC 9110 §8.8.3): an optional weakness mark, then an opaque tag in quotes. The
# tag may hold commas, so a list is read tag by tag rather than split.
_ENTITY_TAG = re.compile(r'\s*(?:W/)?("[\x21\x23-\x7e\x80-\xff]*")\s*(?:,|$)')
# What describes the body a 304 leaves out.
_BODY_HEADERS = frozenset({b"content-type", b"content-length"})


def _opaque(tag: str) -> str:
    return tag.strip().removeprefix("W/")


def none_match(if_none_match: str, etag: str) -> bool:
    """Whether ``If-None-Match``'s value is ``*`` or lists ``etag``, compared weakly."""
    if if_none_match.strip() == "*":
        return True
    wanted = _opaque(etag)
    return any(m[1] == wanted for m in _ENTITY_TAG.finditer(if_none_match))


def answer_not_modified(app: ASGIApp) -> ASGIApp:
    """Wrap ``app`` so that a read the client already holds is a 304 (see the module)."""

    async def handler(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != ScopeType.HTTP or scope["method"] not in ("GET", "HEAD"):
            await app(scope, receive, send)
            return
        fields = [value for name, value in scope["headers"] if name.lower() == b"if-none-match"]
        if not fields:
            await app(scope, receive, send)
            return
        # Several field lines are one list (RFC 9110 §5.3).
        if_none_match = b", ".join(fields).decode("latin-1")
        not_modified = False

        async def conditional(message: Message) -> None:
            nonlocal not_modified
            if message["type"] == "http.response.start" and message["status"] == 200:
                headers = list(message.get("headers", []))
                etag = next((v for n, v in headers if n.lower() == b"etag"), None)
                if etag is not None and none_match(if_none_match, etag.decode("latin-1")):
                    not_modified = True
                    kept = [(n, v) for n, v in headers if n.lower() not in _BODY_HEADERS]
                    message = {**message, "status": 304, "headers": kept}
            elif message["type"] == "http.response.body" and not_modified:
                if message.get("more_body", False):
                    return
                message = {"type": "http.response.body", "body": b"", "more_body": False}
            await send(message)

        await app(scope, receive, conditional)

    return handler
