"""Settings: every knob from PMO_*, and a bad value stops start-up with one clear line."""

from __future__ import annotations

import pytest
from click.testing import CliRunner
from rich.pretty import pretty_repr

from services.cli import cli, load_plugin_commands
from services.config import ConfigError, Environment, LogFormat, load_settings

APP_URL = "postgresql://pmo_app:secret@db.internal:5432/pmo"


def test_environment_variables_are_read(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PMO_DATABASE_URL", APP_URL)
    monkeypatch.setenv("PMO_PORT", "9000")
    monkeypatch.setenv(
        "PMO_CELLS", "eu=postgresql://pmo_app@eu-db/pmo; us=postgresql://pmo_app@us-db/pmo"
    )
    settings = load_settings()
    assert settings.port == 9000
    assert settings.cell_urls() == {
        "default": "postgresql+psycopg://pmo_app:secret@db.internal:5432/pmo",
        "eu": "postgresql+psycopg://pmo_app@eu-db/pmo",
        "us": "postgresql+psycopg://pmo_app@us-db/pmo",
    }
    assert (
        settings.owner_url(settings.cell_urls()["eu"]) == "postgresql+psycopg://pmo_owner@eu-db/pmo"
    )
    assert settings.effective_log_format is LogFormat.CONSOLE


@pytest.mark.parametrize(
    ("variable", "value", "expected"),
    [
        ("PMO_PORT", "eighty", "PMO_PORT"),
        ("PMO_PORT", "70000", "PMO_PORT"),
        ("PMO_DATABASE_URL", "mysql://x@y/z", "PMO_DATABASE_URL"),
        ("PMO_DATABASE_URL", "::not a url::", "PMO_DATABASE_URL"),
        ("PMO_CELLS", "eu", "PMO_CELLS"),
        ("PMO_ENV", "staging", "PMO_ENV"),
        ("PMO_LOG_LEVEL", "LOUD", "PMO_LOG_LEVEL"),
        ("PMO_SECRET_KEY", "short", "PMO_SECRET_KEY"),
    ],
)
def test_a_malformed_value_names_its_variable(
    monkeypatch: pytest.MonkeyPatch, variable: str, value: str, expected: str
) -> None:
    monkeypatch.setenv(variable, value)
    with pytest.raises(ConfigError) as caught:
        load_settings()
    message = str(caught.value)
    assert message.startswith(expected), message
    assert "\n" not in message


def test_production_requires_a_secret_key_and_a_database(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PMO_ENV", "prod")
    monkeypatch.setenv("PMO_DATABASE_URL", APP_URL)
    with pytest.raises(ConfigError) as caught:
        load_settings()
    # A rule across settings names its variable first, with no "settings:" before it.
    assert str(caught.value) == "PMO_SECRET_KEY must be set in prod"
    monkeypatch.setenv("PMO_SECRET_KEY", "k" * 40)
    settings = load_settings()
    assert settings.env is Environment.PROD
    assert settings.effective_log_format is LogFormat.JSON


def test_the_cli_reports_bad_configuration_in_one_line(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PMO_PORT", "eighty")
    result = CliRunner().invoke(cli, ["db", "current"])
    assert result.exit_code == 2
    assert result.output.strip().splitlines() == [result.output.strip()], "one line, no traceback"
    assert "configuration error: PMO_PORT" in result.output


# Every command that needs a database, as `pmo` loads them (its plugins included).
DATABASE_COMMANDS = [
    ["db", "current"],
    ["tenants", "create", "acme"],
    ["users", "create", "ada@acme.example"],
    ["tokens", "revoke", "00000000-0000-0000-0000-000000000000"],
    ["templates", "list"],
    ["templates", "show", "msp-governance"],
    ["templates", "diff", "msp-governance@1.0.0", "msp-governance@1.1.0"],
    ["templates", "upgrade", "--all", "--to", "msp-governance"],
    ["provisioning", "list"],
    ["provisioning", "show", "00000000-0000-0000-0000-000000000000"],
    ["provisioning", "retry", "00000000-0000-0000-0000-000000000000"],
    ["worker"],
]


@pytest.mark.parametrize("command", DATABASE_COMMANDS, ids=" ".join)
def test_every_database_command_without_a_database_says_so_in_one_line(
    monkeypatch: pytest.MonkeyPatch, command: list[str]
) -> None:
    monkeypatch.delenv("PMO_DATABASE_URL", raising=False)
    load_plugin_commands()
    result = CliRunner().invoke(cli, command)
    assert result.exit_code == 2, result.output
    assert result.output.strip().splitlines() == [
        "configuration error: PMO_DATABASE_URL: not set (use `pmo demo` for an embedded database)"
    ]


def test_serving_without_a_database_says_so(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("PMO_DATABASE_URL", raising=False)
    result = CliRunner().invoke(cli, ["serve"])
    assert result.exit_code == 2
    assert "PMO_DATABASE_URL" in result.output
    assert "Traceback" not in result.output


def test_settings_never_show_their_secrets() -> None:
    secrets = ["k3y-" + "s" * 40, "AKIA-demo-id", "s3-secret-value", "whsec_x", "db-password"]
    settings = load_settings(
        secret_key=secrets[0],
        s3_access_key_id=secrets[1],
        s3_secret_access_key=secrets[2],
        stripe_webhook_secret=secrets[3],
        database_url=f"postgresql://pmo_app:{secrets[4]}@db.internal/pmo",
        cells=f"eu=postgresql://pmo_app:{secrets[4]}@eu-db/pmo",
    )
    # repr and str, and rich's rendering of a traceback's locals (pretty_repr).
    for shown in (repr(settings), str(settings), pretty_repr(settings)):
        assert not [secret for secret in secrets if secret in shown], shown
        assert "secret_key='**********'" in shown.replace("\n", "")
        assert "pmo_app:***@db.internal" in shown
    assert settings.secret_key == secrets[0]  # only hidden from view
