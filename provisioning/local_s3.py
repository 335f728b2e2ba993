"""moto's S3 server as a child process on loopback: the demo's (and the tests') S3."""

from __future__ import annotations

import ctypes
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field

import httpx

from services.demo import free_port

HOST = "127.0.0.1"
_PR_SET_PDEATHSIG = 1


def _end_with_parent() -> None:
    """In the child, before moto starts: on Linux, ask for SIGTERM when the process that
    started it dies, so a demo killed outright (SIGKILL, no clean-up) leaves no S3 server
    holding its port. Elsewhere nothing: `stop()` is the clean way."""
    if sys.platform == "linux":
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)


@dataclass
class LocalS3:
    """``moto_server`` on a free (or given) port; path-style addressing, any credentials."""

    port: int = 0
    process: subprocess.Popen[bytes] | None = field(default=None, repr=False)

    @property
    def endpoint_url(self) -> str:
        return f"http://{HOST}:{self.port}"

    def start(self, timeout: float = 30) -> LocalS3:
        self.port = self.port or free_port(HOST)
        self.process = subprocess.Popen(  # noqa: S603 — our own interpreter and module
            [sys.executable, "-m", "moto.server", "-H", HOST, "-p", str(self.port)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            preexec_fn=_end_with_parent,
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"moto_server exited with {self.process.returncode}")
            try:
                httpx.get(f"{self.endpoint_url}/moto-api/", timeout=1)
                return self
            except httpx.TransportError:
                time.sleep(0.1)
        self.stop()
        raise RuntimeError(f"moto_server did not answer on port {self.port}")

    def reset(self) -> None:
        """Forget every bucket and object."""
        httpx.post(f"{self.endpoint_url}/moto-api/reset", timeout=10).raise_for_status()

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.process = None
