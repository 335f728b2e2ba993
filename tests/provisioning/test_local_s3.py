"""moto's S3 server, the demo's: it ends with the process that started it, however that ends."""

from __future__ import annotations

import signal
import subprocess
import sys

import psutil

STARTS_S3_AND_WAITS = """
from provisioning.local_s3 import LocalS3
s3 = LocalS3().start()
assert s3.process is not None
print(s3.process.pid, flush=True)
import time
time.sleep(600)
"""


def test_the_s3_server_ends_when_its_parent_is_killed_outright() -> None:
    parent = subprocess.Popen(
        [sys.executable, "-c", STARTS_S3_AND_WAITS], stdout=subprocess.PIPE, text=True
    )
    assert parent.stdout is not None
    moto = psutil.Process(int(parent.stdout.readline()))
    try:
        assert moto.is_running()
        parent.send_signal(signal.SIGKILL)  # no clean-up runs in the parent
        parent.wait(timeout=10)
        moto.wait(timeout=10)  # psutil.TimeoutExpired if it outlives its parent
    finally:
        if parent.poll() is None:
            parent.kill()
        if moto.is_running():  # only after a failure above
            moto.kill()
