"""`pmo demo` on the embedded database: provisions its clients through signups, serves, stops
cleanly on SIGTERM (database and S3 server too), reuses its data."""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import httpx
import psutil

from services.demo import free_port


def _start_demo(data_dir: Path, port: int) -> tuple[subprocess.Popen[str], str, str, str]:
    """Start `pmo demo`; returns the process, the first client's slug and its token, and the
    database URL it tells operators to export."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PMO_")}
    env |= {"PMO_DATA_DIR": str(data_dir), "PMO_PORT": str(port), "PMO_LOG_LEVEL": "WARNING"}
    process = subprocess.Popen(
        [sys.executable, "-m", "services", "demo"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    assert process.stdout is not None
    deadline = time.monotonic() + 120
    output = ""
    slug = token = None
    while time.monotonic() < deadline:
        line = process.stdout.readline()
        output += line
        if (match := re.search(r"client\s+(\S+)", line)) and slug is None:
            slug = match.group(1)
        if (match := re.search(r"token\s+(pmo_\S+)", line)) and token is None:
            token = match.group(1)
        if (match := re.search(r"export PMO_DATABASE_URL='(.+)'", line)) and slug and token:
            base = f"http://127.0.0.1:{port}"
            while time.monotonic() < deadline:
                try:
                    if httpx.get(f"{base}/health/live").status_code == 200:
                        return process, slug, token, match.group(1)
                except httpx.TransportError:
                    time.sleep(0.1)
        if not line and process.poll() is not None:
            break
    process.kill()
    raise AssertionError(f"the demo did not start:\n{output}")


def _postmaster(data_dir: Path) -> psutil.Process | None:
    pid_file = data_dir.resolve() / "pgdata" / "postmaster.pid"
    if not pid_file.exists():
        return None
    pid = int(pid_file.read_text().splitlines()[0])
    return psutil.Process(pid) if psutil.pid_exists(pid) else None


def _postgres_running(data_dir: Path) -> bool:
    return _postmaster(data_dir) is not None


def test_demo_serves_stops_on_sigterm_and_reuses_its_data() -> None:
    # Under the project, not /tmp: the embedded server runs as a system user when root.
    data_dir = Path(".pmo") / f"test-demo-{uuid.uuid4().hex[:8]}"
    port = free_port("127.0.0.1")
    process: subprocess.Popen[str] | None = None
    try:
        process, slug, token, database_url = _start_demo(data_dir, port)
        assert slug == "northwind"
        # An operator's command from another shell, as the banner says.
        env = {k: v for k, v in os.environ.items() if not k.startswith("PMO_")}
        listed_runs = subprocess.run(
            [sys.executable, "-m", "services", "provisioning", "list"],
            env={**env, "PMO_DATABASE_URL": database_url},
            capture_output=True,
            text=True,
            timeout=60,
            check=True,
        ).stdout
        assert re.search(r"provision\s+succeeded\s+northwind\s", listed_runs), listed_runs
        assert re.search(r"provision\s+succeeded\s+contoso-rail\s", listed_runs), listed_runs
        programmes = f"http://127.0.0.1:{port}/api/v1/w/{slug}/programmes"
        headers = {"Authorization": f"Bearer {token}"}
        # Provisioned through the signup: the programme the signup named is seeded.
        seeded = httpx.get(programmes, headers=headers).json()
        assert "Digital Patient Services" in {p["name"] for p in seeded["items"]}
        created = httpx.post(programmes, json={"name": "Survives a restart"}, headers=headers)
        assert created.status_code == 201
        assert _postgres_running(data_dir)
        s3 = [
            child
            for child in psutil.Process(process.pid).children(recursive=True)
            if "moto.server" in " ".join(child.cmdline())
        ]
        assert len(s3) == 1

        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=30) == 0
        assert not _postgres_running(data_dir)
        assert not s3[0].is_running()

        # The same clients again (their signups are idempotent), with fresh tokens.
        process, slug, token, _ = _start_demo(data_dir, port)
        listed = httpx.get(programmes, headers={"Authorization": f"Bearer {token}"})
        names = [p["name"] for p in listed.json()["items"]]
        assert sorted(names) == ["Digital Patient Services", "Survives a restart"]
        process.send_signal(signal.SIGINT)
        assert process.wait(timeout=30) == 0
        assert not _postgres_running(data_dir)
    finally:
        if process is not None and process.poll() is None:
            process.kill()
        if (postmaster := _postmaster(data_dir)) is not None:  # only after a failure above
            postmaster.terminate()
            postmaster.wait(timeout=10)
        shutil.rmtree(data_dir, ignore_errors=True)
