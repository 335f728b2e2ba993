"""`pmo demo` on the embedded database: provisions its clients through signups, serves, stops
quietly on SIGTERM and Ctrl-C (database and S3 server too), reuses its data (an offboarded client
stays gone), also when the PMO_DATABASE_URL it printed is still exported."""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

import httpx
import psutil
import pytest

from services.demo import free_port, is_embedded_socket

# Distinctive values to look for in everything the demo prints: none may ever be shown.
SECRET_KEY = f"demo-test-secret-{uuid.uuid4().hex}"


@dataclass
class Started:
    process: subprocess.Popen[str]
    tokens: dict[str, str]  # each demo client's slug → its owner's token, in banner order
    database_url: str  # what the banner tells operators to export
    output: str


def _spawn_demo(
    data_dir: Path, port: int, *, sigint_ignored: bool = False, **more: str
) -> subprocess.Popen[str]:
    """Start `pmo demo` in its own process group, as a shell runs it (``more``: settings).
    ``sigint_ignored``: as a script's ``pmo demo &`` starts it, with SIGINT ignored."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PMO_")}
    env |= {
        "PMO_DATA_DIR": str(data_dir),
        "PMO_PORT": str(port),
        "PMO_LOG_LEVEL": "WARNING",
        "PMO_SECRET_KEY": SECRET_KEY,
        **more,
    }
    return subprocess.Popen(
        [sys.executable, "-m", "services", "demo"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
        preexec_fn=(lambda: signal.signal(signal.SIGINT, signal.SIG_IGN))
        if sigint_ignored
        else None,
    )


def _start_demo(data_dir: Path, port: int, database_url: str | None = None) -> Started:
    """Start `pmo demo` and read its banner."""
    more = {"PMO_DATABASE_URL": database_url} if database_url is not None else {}
    process = _spawn_demo(data_dir, port, **more)
    assert process.stdout is not None
    deadline = time.monotonic() + 120
    output = ""
    slug = database_url = None
    tokens: dict[str, str] = {}
    while time.monotonic() < deadline:
        line = process.stdout.readline()
        output += line
        if match := re.search(r"client\s+(\S+)", line):
            slug = match.group(1)
        if (match := re.search(r"token\s+(pmo_\S+)", line)) and slug is not None:
            tokens[slug] = match.group(1)
        if match := re.search(r"export PMO_DATABASE_URL='(.+)'", line):
            database_url = match.group(1)
        if "Ctrl-C stops" in line and database_url is not None:
            base = f"http://127.0.0.1:{port}"
            while time.monotonic() < deadline:
                try:
                    if httpx.get(f"{base}/health/live").status_code == 200:
                        return Started(process, tokens, database_url, output)
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


def _catches(pid: int, signum: int) -> bool:
    """Whether process ``pid`` has a handler for ``signum`` (Linux: SigCgt in its status)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("SigCgt:"):
            return bool(int(line.split()[1], 16) >> (signum - 1) & 1)
    return False


def _clean_up(process: subprocess.Popen[str] | None, data_dir: Path) -> None:
    """After a test: the demo and its database gone (they are only left after a failure), and
    its data."""
    if process is not None and process.poll() is None:
        process.kill()
    if (postmaster := _postmaster(data_dir)) is not None:
        postmaster.terminate()
        postmaster.wait(timeout=10)
    shutil.rmtree(data_dir, ignore_errors=True)


def _stopped_quietly(process: subprocess.Popen[str]) -> str:
    """What the demo printed while stopping, once it exited 0 without a traceback or a secret."""
    output, _ = process.communicate(timeout=30)
    assert process.returncode == 0, output
    assert "Traceback" not in output, output
    assert "Task exception" not in output, output
    for secret in (SECRET_KEY, "demo-secret"):  # the key, and the S3 secret the demo sets
        assert secret not in output, output
    assert output.rstrip().endswith("embedded PostgreSQL stopped"), output
    return output


def test_the_url_a_demo_prints_is_recognised_as_its_own(tmp_path: Path) -> None:
    socket = tmp_path / "pgdata"
    own = f"postgresql+psycopg://pmo_app:@/pmo?host={str(socket).replace('/', '%2F')}"
    assert is_embedded_socket(own, tmp_path)
    assert not is_embedded_socket(own, tmp_path / "elsewhere")
    assert not is_embedded_socket("postgresql://pmo_app@db.internal:5432/pmo", tmp_path)


def test_demo_serves_stops_on_sigterm_and_reuses_its_data() -> None:
    # Under the project, not /tmp: the embedded server runs as a system user when root.
    data_dir = Path(".pmo") / f"test-demo-{uuid.uuid4().hex[:8]}"
    port = free_port("127.0.0.1")
    process: subprocess.Popen[str] | None = None
    try:
        started = _start_demo(data_dir, port)
        process = started.process
        assert list(started.tokens) == ["northwind", "contoso-rail"]
        base = f"http://127.0.0.1:{port}"
        programmes = f"{base}/api/v1/w/northwind/programmes"
        headers = {"Authorization": f"Bearer {started.tokens['northwind']}"}
        # An operator's command from another shell, as the banner says.
        env = {k: v for k, v in os.environ.items() if not k.startswith("PMO_")}
        listed_runs = subprocess.run(
            [sys.executable, "-m", "services", "provisioning", "list"],
            env={**env, "PMO_DATABASE_URL": started.database_url},
            capture_output=True,
            text=True,
            timeout=60,
            check=True,
        ).stdout
        assert re.search(r"provision\s+succeeded\s+northwind\s", listed_runs), listed_runs
        assert re.search(r"provision\s+succeeded\s+contoso-rail\s", listed_runs), listed_runs
        # Provisioned through the signup: the programme the signup named is seeded.
        seeded = httpx.get(programmes, headers=headers).json()
        assert "Digital Patient Services" in {p["name"] for p in seeded["items"]}
        created = httpx.post(programmes, json={"name": "Survives a restart"}, headers=headers)
        assert created.status_code == 201
        # One client is offboarded, as anyone trying the API may do.
        contoso = {"Authorization": f"Bearer {started.tokens['contoso-rail']}"}
        offboarding = httpx.post(
            f"{base}/api/v1/w/contoso-rail/offboarding",
            json={"confirm": "contoso-rail"},
            headers=contoso,
        )
        assert offboarding.status_code == 202, offboarding.text
        status_url = base + offboarding.json()["status_url"]
        run_id = offboarding.json()["run_id"]
        deadline = time.monotonic() + 60
        while (state := httpx.get(status_url).json()["state"]) not in {"succeeded", "failed"}:
            assert time.monotonic() < deadline, httpx.get(status_url).text
            time.sleep(0.1)
        if state != "succeeded":
            # The public status does not say why a run failed: the operator's command does.
            shown = subprocess.run(
                [sys.executable, "-m", "services", "provisioning", "show", str(run_id)],
                env={**env, "PMO_DATABASE_URL": started.database_url},
                capture_output=True,
                text=True,
                timeout=60,
            )
            pytest.fail(f"the offboarding failed: {shown.stdout}{shown.stderr}")
        assert _postgres_running(data_dir)
        s3 = [
            child
            for child in psutil.Process(process.pid).children(recursive=True)
            if "moto.server" in " ".join(child.cmdline())
        ]
        assert len(s3) == 1

        process.send_signal(signal.SIGTERM)
        _stopped_quietly(process)
        assert not _postgres_running(data_dir)
        assert not s3[0].is_running()

        # The same clients again (their signups are idempotent), with fresh tokens; the
        # offboarded one stays gone and the demo says so instead of refusing to start. The
        # shell still exports the URL the banner printed: the demo starts its database again.
        started = _start_demo(data_dir, port, database_url=started.database_url)
        process = started.process
        assert list(started.tokens) == ["northwind"]
        assert "contoso-rail was offboarded" in started.output
        listed = httpx.get(
            programmes, headers={"Authorization": f"Bearer {started.tokens['northwind']}"}
        )
        names = [p["name"] for p in listed.json()["items"]]
        assert sorted(names) == ["Digital Patient Services", "Survives a restart"]
        os.killpg(process.pid, signal.SIGINT)  # Ctrl-C: the whole process group
        _stopped_quietly(process)
        assert not _postgres_running(data_dir)
    finally:
        _clean_up(process, data_dir)


def test_ctrl_c_while_the_demo_signs_up_its_clients_stops_it_quietly() -> None:
    data_dir = Path(".pmo") / f"test-demo-{uuid.uuid4().hex[:8]}"
    port = free_port("127.0.0.1")
    # Seeding fails transiently, again and again: the first signup's run never finishes, so the
    # demo is still waiting on it when Ctrl-C comes.
    process = _spawn_demo(
        data_dir,
        port,
        PMO_PROVISIONING_FAULT="seed_workspace:before:transient",
        PMO_PROVISIONING_MAX_ATTEMPTS="50",
        PMO_PROVISIONING_RETRY_SECONDS="1",
    )
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and process.poll() is None:
            try:
                runs = httpx.get(f"http://127.0.0.1:{port}/health/live")
                if runs.status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(0.1)
        time.sleep(1)  # the signup is in: the demo polls its run
        assert process.poll() is None
        os.killpg(process.pid, signal.SIGINT)
        output = _stopped_quietly(process)
        assert "demo: stopped before the demo clients were signed up" in output
        assert "Ctrl-C stops" not in output  # no banner: nothing was ready to show
        assert not _postgres_running(data_dir)
    finally:
        _clean_up(process, data_dir)


def test_ctrl_c_while_the_demo_starts_its_database_stops_it_whole() -> None:
    """Also when started as a script's background job, which inherits SIGINT ignored: the
    demo's own handler comes first, and a stop asked for while PostgreSQL starts waits for the
    server to be up, then stops it."""
    data_dir = Path(".pmo") / f"test-demo-{uuid.uuid4().hex[:8]}"
    process = _spawn_demo(data_dir, free_port("127.0.0.1"), sigint_ignored=True)
    try:
        assert process.stdout is not None
        seen = ""
        while "starting embedded PostgreSQL" not in seen:
            line = process.stdout.readline()
            assert line, seen
            seen += line
        os.killpg(process.pid, signal.SIGINT)
        output = seen + _stopped_quietly(process)
        assert "Ctrl-C stops" not in output and "starting S3" not in output, output
        assert not _postgres_running(data_dir)
    finally:
        _clean_up(process, data_dir)


def test_ctrl_c_while_the_demo_loads_ends_it_at_once_and_quietly() -> None:
    """Loading takes seconds; a background demo (SIGINT ignored) heard no Ctrl-C until then."""
    data_dir = Path(".pmo") / f"test-demo-{uuid.uuid4().hex[:8]}"
    process = _spawn_demo(data_dir, free_port("127.0.0.1"), sigint_ignored=True)
    try:
        deadline = time.monotonic() + 30
        while not _catches(process.pid, signal.SIGINT):  # the first thing `pmo demo` does
            assert time.monotonic() < deadline and process.poll() is None
            time.sleep(0.02)
        os.killpg(process.pid, signal.SIGINT)  # while it loads its commands: seconds
        output, _ = process.communicate(timeout=30)
        assert process.returncode == 0, output
        assert "Traceback" not in output, output
        assert "starting embedded PostgreSQL" not in output, output  # stopped before that
        assert not _postgres_running(data_dir)
    finally:
        _clean_up(process, data_dir)


def _loading(pid: int) -> bool:
    """Whether the process is loading the platform: pydantic's core, which ``services.config``
    needs (``services.cli`` imports it), is mapped."""
    try:
        return "pydantic_core" in Path(f"/proc/{pid}/maps").read_text()
    except (FileNotFoundError, ProcessLookupError):
        return False


def _left_in_session(pid: int) -> list[str]:
    """The processes still in the session the demo led (its children: moto, PostgreSQL)."""
    left = []
    for found in psutil.process_iter(["pid", "cmdline"]):
        try:
            if found.pid != pid and os.getsid(found.pid) == pid:
                left.append(" ".join(found.info["cmdline"] or []))
        except (ProcessLookupError, psutil.Error):
            continue
    return left


def test_ctrl_c_in_the_first_second_of_the_demo_ends_it_quietly() -> None:
    """As someone who starts `pmo demo` and thinks better of it at once: loading the platform's
    modules takes a second or more before `main()` runs, and a Ctrl-C then must end it as
    quietly as later (exit 0, no traceback, nothing left running)."""
    data_dir = Path(".pmo") / f"test-demo-{uuid.uuid4().hex[:8]}"
    process = _spawn_demo(data_dir, free_port("127.0.0.1"))
    try:
        deadline = time.monotonic() + 30
        while not _loading(process.pid):
            assert time.monotonic() < deadline and process.poll() is None
            time.sleep(0.002)
        os.killpg(process.pid, signal.SIGINT)
        output, _ = process.communicate(timeout=30)
        assert process.returncode == 0, output
        assert "Traceback" not in output and "KeyboardInterrupt" not in output, output
        assert "starting embedded PostgreSQL" not in output, output
        assert _left_in_session(process.pid) == []
        assert not _postgres_running(data_dir)
    finally:
        _clean_up(process, data_dir)
