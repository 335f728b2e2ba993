"""What the OpenAPI document publishes, standard JSON-Schema validators read as the API means it:
a valid value validates against the schema of its field."""

from __future__ import annotations

from typing import Any

from jsonschema import Draft202012Validator
from litestar import Litestar
from litestar.testing import AsyncTestClient

MONEY = ("budget", "forecast_cost", "cost_impact", "value_per_year", "realisation_cost")


async def components(client: AsyncTestClient[Litestar]) -> dict[str, Any]:
    document = (await client.get("/schema/openapi.json")).json()
    schemas: dict[str, Any] = document["components"]["schemas"]
    return schemas


def validator(schemas: dict[str, Any], name: str) -> Draft202012Validator:
    """A validator of component ``name``, its ``$ref``s resolved in the document."""
    root = {"$ref": f"#/components/schemas/{name}", "components": {"schemas": schemas}}
    return Draft202012Validator(root)


async def test_money_with_cents_validates_against_its_published_schema(
    client: AsyncTestClient[Litestar],
) -> None:
    schemas = await components(client)
    checked = 0
    for name, schema in schemas.items():
        for field in MONEY:
            if field not in schema.get("properties", {}):
                continue
            checked += 1
            for amount in (0.29, 19.99, 1234.57, 0.07, 100):
                body = {field: amount}
                errors = [
                    e
                    for e in validator(schemas, name).iter_errors(body)
                    if list(e.absolute_path) == [field]
                ]
                assert not errors, (name, field, amount, [e.message for e in errors])
            if name.endswith(("Create", "Update")):
                # What the cents rule became: said, since validators cannot test it.
                assert "two decimal places" in str(schema["properties"][field]), (name, field)
    assert checked >= 8


async def test_an_integer_template_parameter_default_validates_against_its_schema(
    client: AsyncTestClient[Litestar],
) -> None:
    schemas = await components(client)
    parameter = {"key": "weeks", "type": "number", "description": "How many.", "default": 12}
    assert not list(validator(schemas, "TemplateParameter").iter_errors(parameter))
    for default in ("2027-01-04", 1.5, True, None):
        assert not list(
            validator(schemas, "TemplateParameter").iter_errors({**parameter, "default": default})
        )
