"""The ``pmo`` command's entry point, kept light: it imports nothing of the platform before it
has done what cannot wait.

``pmo demo`` stops on Ctrl-C or SIGTERM, and its own handler comes first thing once it is
loaded; but loading :mod:`services.cli` and what it imports takes a second or more, and a demo a
script starts in the background inherits SIGINT ignored. Until the demo's handler takes over, a
stop ends it at once, quietly (nothing is started yet), exit code 0.
"""

from __future__ import annotations

import signal
import sys


def main() -> None:
    if sys.argv[1:2] == ["demo"]:
        for signum in (signal.SIGINT, signal.SIGTERM):
            signal.signal(signum, _stop_while_loading)
    from services.cli import main as run

    run()


def _stop_while_loading(_signum: int, _frame: object) -> None:
    raise SystemExit(0)
