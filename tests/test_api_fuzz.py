"""Schemathesis over the API: generated requests never produce a 500 or break the schema."""

from __future__ import annotations

import uuid

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.specs.openapi.checks import allow_header_conformance

from tests.conftest import MakeWorkspace, Workspace


@pytest.fixture(scope="session")
async def fuzz_workspace(make_workspace: MakeWorkspace) -> Workspace:
    return await make_workspace()


@pytest.fixture(scope="session")
async def offboarded_workspace(make_workspace: MakeWorkspace) -> Workspace:
    """Offboarding is fuzzed on a workspace of its own: it ends the workspace."""
    return await make_workspace()


def follow_signup_rules(body: dict[str, object]) -> None:
    """Signups name things that exist (packs, plans, cells) and a real address."""
    body["admin_email"] = f"fuzz-{uuid.uuid4().hex[:8]}@example.org"
    body["plan"] = "trial"
    body["template_pack"] = "msp-governance"
    body["start_date"] = "2027-01-04"
    for optional in ("template_version", "region", "cell"):
        body.pop(optional, None)
    if body.get("slug") is not None:
        body["slug"] = f"fuzz-{uuid.uuid4().hex[:10]}"


def follow_business_rules(body: object, workspace: Workspace) -> None:
    """Keep schema-valid bodies valid for rules the schema cannot say (tested on their own)."""
    if not isinstance(body, dict):
        return
    if "template_pack" in body:
        follow_signup_rules(body)
        return
    if body.get("owner_id") is not None:
        body["owner_id"] = str(workspace.user_id)  # owners must be members
    if body.get("timezone") is not None:
        body["timezone"] = "Europe/London"  # an IANA zone name
    start, end = body.get("start_date"), body.get("end_date")
    if isinstance(start, str) and isinstance(end, str) and end < start:
        body["start_date"], body["end_date"] = end, start  # a programme ends after it starts


def test_api_never_fails_unexpectedly(
    live_server: str, fuzz_workspace: Workspace, offboarded_workspace: Workspace
) -> None:
    schema = schemathesis.openapi.from_url(f"{live_server}/schema/openapi.json")
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 7
    for operation in operations:

        @given(case=operation.as_strategy())
        @settings(
            max_examples=50,
            derandomize=True,  # the same cases every run: CI must not flake
            deadline=None,
            database=None,
            suppress_health_check=list(HealthCheck),
        )
        def check(case: schemathesis.Case) -> None:
            workspace = fuzz_workspace
            if case.path.endswith("/offboarding"):
                workspace = offboarded_workspace
            if case.path_parameters and "slug" in case.path_parameters:
                # Fuzz inside a real workspace so requests reach the handlers.
                case.path_parameters["slug"] = workspace.slug
            follow_business_rules(case.body, workspace)
            if case.method.upper() == "PATCH":
                # Updates need If-Match (428 without it, tested on its own); `*` is any version.
                case.headers = {**(case.headers or {}), "If-Match": "*"}
            if case.headers and "Idempotency-Key" in case.headers:
                case.headers["Idempotency-Key"] = uuid.uuid4().hex  # a reused key is refused
            case.call_and_validate(
                headers=workspace.headers, excluded_checks=[allow_header_conformance]
            )

        check()
