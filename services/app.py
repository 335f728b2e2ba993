"""``create_app(settings)``: the one way the Litestar application is built."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator
from contextlib import asynccontextmanager
from typing import Any

import msgspec
from litestar import Litestar
from litestar.config.cors import CORSConfig
from litestar.datastructures import State
from litestar.enums import ParamType, ScopeType
from litestar.openapi import OpenAPIConfig
from litestar.openapi.plugins import ScalarRenderPlugin
from litestar.openapi.spec import (
    Components,
    OpenAPIHeader,
    OpenAPIMediaType,
    OpenAPIResponse,
    OpenAPIType,
    Operation,
    Parameter,
    Reference,
    RequestBody,
    Schema,
    SecurityScheme,
)
from litestar.routes import HTTPRoute
from litestar.types import ASGIApp, Message, Receive, Scope, Send

from services import health, parameters
from services.bodies import ApiRequest
from services.catalogue.controllers import TemplateCatalogueController
from services.conditional import answer_not_modified
from services.config import Settings
from services.db.engine import Database
from services.errors import PayloadTooLarge, ProblemError, UnsupportedMediaType, VersionMismatch
from services.jobs import JobQueue
from services.logging import access_log_middleware, configure_logging
from services.problems import PROBLEM_MEDIA_TYPE, allow_value, exception_handlers
from services.provisioning_runs.controllers import (
    OffboardingController,
    ProvisioningRunController,
    SignupController,
)
from services.rate_limit import RateLimitMiddleware
from services.tenancy.controllers import WorkspaceSettingsController
from services.workspace.benefits.controllers import BenefitController, BenefitMeasurementController
from services.workspace.configuration.controllers import (
    CustomFieldController,
    RegisterConfigurationController,
)
from services.workspace.custom_registers.controllers import (
    CustomRegisterController,
    CustomRegisterEntryController,
)
from services.workspace.gates.controllers import (
    ChecklistController,
    GateController,
    GateCriteriaController,
)
from services.workspace.governance.controllers import (
    ActionController,
    BoardController,
    ChangeRequestController,
    ChangeRequestDecisionController,
    DecisionController,
    MeetingController,
    ProgrammeDocumentController,
)
from services.workspace.lessons.controllers import LessonController
from services.workspace.organisation.controllers import (
    ProgrammeRoleController,
    RaciEntryController,
    StakeholderController,
)
from services.workspace.raid.controllers import (
    AssumptionController,
    DependencyController,
    IssueController,
    RiskController,
)
from services.workspace.reporting.controllers import (
    DependencyMapController,
    ProgrammeViewController,
    ReportFormatController,
    StatusReportActionController,
    StatusReportController,
)
from services.workspace.structure.controllers import (
    MilestoneController,
    ProgrammeController,
    ProjectController,
    TrancheController,
)
from services.workspace.templates.controllers import TemplateController

API_DESCRIPTION = """Managed programme management offices: workspaces, registers, governance.

**Retries.** POSTs take an `Idempotency-Key` (creates; actions such as publishing a report or
deciding a change; signups and offboarding): the same key with the same request answers the
first answer (`Idempotent-Replayed: true`), a different request under it is a 422. PATCH and
DELETE need no key, being idempotent here: a PATCH names the version it changes (`If-Match`),
so a retry after it succeeded is a 412 rather than a second change (a PATCH changing nothing
moves no version), and a retried DELETE is a 404.

**Lists** say their default order in their description; `limit` and `offset` page them.
"""


def create_app(settings: Settings, database: Database | None = None) -> Litestar:
    """Build the application. ``database`` lets a caller share its engines (tests, demo)."""
    configure_logging(settings)
    db = database or Database(settings)
    jobs = JobQueue(settings)

    @asynccontextmanager
    async def lifespan(app: Litestar) -> AsyncGenerator[None, None]:
        # Connect to the job queue now, not during the first signup.
        warming = asyncio.ensure_future(jobs.warm_up())
        try:
            yield
        finally:
            warming.cancel()
            await jobs.close()
            if database is None:
                await db.dispose()

    middleware: list[Any] = []
    if settings.signup_rate_limit_per_minute:
        middleware.append(RateLimitMiddleware(db, settings.signup_rate_limit_per_minute))

    app = Litestar(
        route_handlers=[
            health.live,
            health.ready,
            SignupController,
            ProvisioningRunController,
            OffboardingController,
            WorkspaceSettingsController,
            RegisterConfigurationController,
            CustomFieldController,
            ProgrammeController,
            TrancheController,
            ProjectController,
            MilestoneController,
            BenefitController,
            BenefitMeasurementController,
            RiskController,
            IssueController,
            AssumptionController,
            DependencyController,
            BoardController,
            MeetingController,
            ActionController,
            DecisionController,
            ChangeRequestController,
            ChangeRequestDecisionController,
            GateController,
            GateCriteriaController,
            StatusReportController,
            StatusReportActionController,
            ProgrammeViewController,
            DependencyMapController,
            ProgrammeRoleController,
            RaciEntryController,
            StakeholderController,
            ProgrammeDocumentController,
            LessonController,
            ChecklistController,
            ReportFormatController,
            CustomRegisterController,
            CustomRegisterEntryController,
            TemplateController,
            TemplateCatalogueController,
        ],
        state=State({"db": db, "settings": settings, "jobs": jobs}),
        lifespan=[lifespan],
        middleware=middleware,
        exception_handlers=exception_handlers,
        request_class=ApiRequest,
        before_request=parameters.before_request,
        request_max_body_size=settings.max_request_body_bytes,
        cors_config=CORSConfig(allow_origins=[settings.public_url] if settings.public_url else []),
        openapi_config=OpenAPIConfig(
            title="PMO Cloud API",
            version="1",
            description=API_DESCRIPTION,
            path="/schema",
            render_plugins=[ScalarRenderPlugin()],
            components=Components(
                security_schemes={
                    "bearer": SecurityScheme(
                        type="http", scheme="bearer", description="An API token: pmo_…"
                    )
                }
            ),
        ),
        # Logging is ours (services.logging): one structlog set-up, not Litestar's default.
        logging_config=None,
        debug=False,
    )
    _declare_closed_request_bodies(app)
    _declare_json_bodies_only(app)
    _declare_response_headers(app)
    _declare_optional_bodies(app)
    parameters.index(app)
    # Around the whole application rather than each route's handler, so that requests no route
    # matches (404, 405) are logged and carry a request id too.
    app.asgi_handler = access_log_middleware(
        answer_not_modified(
            answer_head_as_get(allow_what_is_answered(app.asgi_handler, _route_methods(app)))
        )
    )
    return app


def answer_head_as_get(app: ASGIApp) -> ASGIApp:
    """HEAD is GET without the body (RFC 9110 §9.3.2): every GET route answers it, headers and all.

    Litestar routes HEAD only to handlers declared for it; monitors, caches and link checkers send
    it to any URL and got 405. GET handlers change nothing, so running one for a HEAD is safe.
    """

    async def handler(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != ScopeType.HTTP or scope["method"] != "HEAD":
            await app(scope, receive, send)
            return

        async def headers_only(message: Message) -> None:
            if message["type"] == "http.response.body":
                if message.get("more_body", False):
                    return
                message = {"type": "http.response.body", "body": b"", "more_body": False}
            await send(message)

        await app({**scope, "method": "GET"}, receive, headers_only)

    return handler


def _route_methods(app: Litestar) -> dict[object, frozenset[str]]:
    """Every method each route answers, by its handlers (OPTIONS's among them)."""
    return {
        handler: frozenset(route.methods)
        for route in app.routes
        if isinstance(route, HTTPRoute)
        for handler in route.route_handlers
    }


def allow_what_is_answered(app: ASGIApp, route_methods: dict[object, frozenset[str]]) -> ASGIApp:
    """``Allow`` (on 405s and OPTIONS answers) names every method a resource answers, HEAD too.

    Litestar's 405 lists the path's methods but not HEAD, which :func:`answer_head_as_get` answers
    on every GET route. Its OPTIONS answer lists the methods the path had when that answer was
    made: a handler added to the path later (a register's create beside its list) was missing. The
    route that answered knows them all.
    """

    async def handler(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != ScopeType.HTTP:
            await app(scope, receive, send)
            return

        async def completed(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                found = [i for i, (name, _) in enumerate(headers) if name.lower() == b"allow"]
                if found:
                    methods = route_methods.get(scope.get("route_handler")) or {
                        method.strip() for method in headers[found[0]][1].decode().split(",")
                    }
                    for i in reversed(found):
                        del headers[i]
                    headers.append((b"allow", allow_value(methods).encode()))
                    message = {**message, "headers": headers}
            await send(message)

        await app(scope, receive, completed)

    return handler


def _strict_structs() -> dict[str, type[msgspec.Struct]]:
    found: dict[str, type[msgspec.Struct]] = {}
    pending: list[type[msgspec.Struct]] = [msgspec.Struct]
    while pending:
        cls = pending.pop()
        pending.extend(cls.__subclasses__())
        if cls.__struct_config__.forbid_unknown_fields:
            found[cls.__name__] = cls
    return found


def _declare_closed_request_bodies(app: Litestar) -> None:
    """Bodies that refuse unknown fields say so in the schema (``additionalProperties: false``)."""
    strict = _strict_structs()
    components = app.openapi_schema.components.schemas or {}
    for name, component in components.items():
        if name in strict and isinstance(component, Schema):
            component.additional_properties = False


def _problem(error: type[ProblemError]) -> OpenAPIResponse:
    return OpenAPIResponse(
        description=f"Problem: {error.code}",
        content={
            PROBLEM_MEDIA_TYPE: OpenAPIMediaType(schema=Reference("#/components/schemas/Problem"))
        },
    )


def _operations(app: Litestar) -> list[tuple[str, str, Operation]]:
    """Every operation of the schema: (path, method, operation)."""
    found = []
    for path, item in (app.openapi_schema.paths or {}).items():
        for method in ("get", "put", "post", "patch", "delete"):
            operation = getattr(item, method)
            if operation is not None:
                found.append((path, method, operation))
    return found


def _declare_json_bodies_only(app: Litestar) -> None:
    """Writes document the 415 a body in another type gets (``bodies``), and the 413 of one too
    large: those taking a body read it as JSON, those taking none refuse any but ``{}``."""
    for path, method, operation in _operations(app):
        if method == "get" or not path.startswith(parameters.API_PREFIX):
            continue
        responses = operation.responses if operation.responses is not None else {}
        responses.setdefault(str(UnsupportedMediaType.status), _problem(UnsupportedMediaType))
        responses.setdefault(str(PayloadTooLarge.status), _problem(PayloadTooLarge))
        operation.responses = responses


def _header(description: str) -> OpenAPIHeader:
    return OpenAPIHeader(schema=Schema(type=OpenAPIType.STRING), description=description)


ETAG = _header(
    "The entity tag of the resource as answered: send it in `If-Match` to change it (a 412 if "
    "it changed since) or in `If-None-Match` to read it again (a 304 if it did not). A "
    "replayed create of a row whose read is worked out from the workspace's day answers none."
)
LOCATION = {
    "201": _header("The URL of what was created."),
    "202": _header("The URL at which to follow what was accepted."),
}
IDEMPOTENT_REPLAYED = _header(
    "`true` when this answer replays the first answer to the request's `Idempotency-Key` (the "
    "request was not run again); absent otherwise."
)
IF_NONE_MATCH = Parameter(
    name="If-None-Match",
    param_in=ParamType.HEADER,
    schema=Schema(type=OpenAPIType.STRING),
    required=False,
    description="The ETag of a read you hold: while it is current, the answer is a 304, "
    "without a body.",
)


def _versioned(app: Litestar, response: OpenAPIResponse | Reference) -> bool:
    """Whether an answer is a resource with a version, which is what its ETag names
    (:func:`services.concurrency.etag`)."""
    if not isinstance(response, OpenAPIResponse):
        return False
    for media in (response.content or {}).values():
        schema = media.schema
        if isinstance(schema, Reference):
            schema = (app.openapi_schema.components.schemas or {}).get(schema.ref.split("/")[-1])
        if isinstance(schema, Schema) and "version" in (schema.required or []):
            version = (schema.properties or {}).get("version")
            return isinstance(version, Schema) and version.type == OpenAPIType.INTEGER
    return False


def _declare_response_headers(app: Litestar) -> None:
    """The headers answers carry, documented once for every operation rather than route by route.

    * ``ETag`` on an answer that is a versioned resource (its tag is its version) and on a write
      checking ``If-Match`` (its answer's tag is what the next one sends); a GET answering one
      takes ``If-None-Match`` and may answer 304 (:mod:`services.conditional`);
    * ``Location`` on 201 (what was created) and 202 (where to follow what was accepted);
    * ``Idempotent-Replayed`` on the answers of operations taking an ``Idempotency-Key``;
    * a 412 wherever ``If-Match`` is read.
    """
    for _path, method, operation in _operations(app):
        headers = {p.name for p in operation.parameters or [] if isinstance(p, Parameter)}
        responses = operation.responses if operation.responses is not None else {}
        for status, response in list(responses.items()):
            if not status.startswith("2") or not isinstance(response, OpenAPIResponse):
                continue
            declared = response.headers if response.headers is not None else {}
            for header in declared.values():
                # A route's own ResponseHeader is documented without a schema, which a header,
                # like a parameter, needs: every header answered here is text.
                if isinstance(header, OpenAPIHeader) and header.schema is None:
                    header.schema = Schema(type=OpenAPIType.STRING)
            if _versioned(app, response) or ("If-Match" in headers and status != "204"):
                declared.setdefault("ETag", ETAG)
            if status in LOCATION:
                declared.setdefault("Location", LOCATION[status])
            if "Idempotency-Key" in headers:
                declared.setdefault("Idempotent-Replayed", IDEMPOTENT_REPLAYED)
            response.headers = declared
            if method == "get" and status == "200" and "ETag" in declared:
                responses.setdefault(
                    "304",
                    OpenAPIResponse(
                        description="Not Modified: `If-None-Match` names the current ETag.",
                        headers={"ETag": ETAG},
                    ),
                )
                operation.parameters = [*(operation.parameters or []), IF_NONE_MATCH]
        if "If-Match" in headers:
            responses.setdefault(str(VersionMismatch.status), _problem(VersionMismatch))
        operation.responses = responses


def _declare_optional_bodies(app: Litestar) -> None:
    """A body with a default (publishing's ``{}``) is optional: Litestar marks every body required,
    and writes the default's Python repr as the schema's ``default``."""
    paths = app.openapi_schema.paths or {}
    components = app.openapi_schema.components.schemas or {}
    for route in app.routes:
        if not isinstance(route, HTTPRoute) or route.path_format not in paths:
            continue
        for handler in route.route_handlers:
            data = handler.parsed_fn_signature.parameters.get("data")
            if data is None or not data.has_default:
                continue
            for method in handler.http_methods:
                operation = getattr(paths[route.path_format], method.lower(), None)
                body = operation.request_body if operation is not None else None
                if not isinstance(body, RequestBody):
                    continue
                body.required = False
                for media in body.content.values():
                    schema = media.schema
                    if isinstance(schema, Reference):
                        schema = components.get(schema.ref.split("/")[-1])
                    if isinstance(schema, Schema):
                        schema.default = None
