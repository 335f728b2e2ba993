"""Fault injection for the reliability tests: ``PMO_PROVISIONING_FAULT=<step>:<when>:<what>``.

``when`` is ``before`` (the step has not touched anything) or ``after`` (its effect is made,
its record is not yet committed — the worst moment to die). ``what`` is ``crash`` (the worker
process kills itself with SIGKILL), ``fail`` (a permanent error) or ``transient`` (an error worth
retrying). Refused in prod by the settings.
"""

from __future__ import annotations

import os
import signal
from dataclasses import dataclass

import structlog

log = structlog.get_logger("pmo.provisioning")


class PermanentStepError(Exception):
    """Retrying will not help (bad input, a refused request): the run fails at once."""


class TransientStepError(Exception):
    """Worth trying again later (something was unreachable or busy)."""


@dataclass(frozen=True, slots=True)
class Fault:
    step: str
    when: str
    what: str

    @classmethod
    def parse(cls, spec: str | None) -> Fault | None:
        if not spec:
            return None
        step, when, what = spec.split(":")
        return cls(step, when, what)

    def hit(self, step: str, when: str) -> None:
        if (step, when) != (self.step, self.when):
            return
        log.warning("provisioning.fault.injected", step=step, when=when, what=self.what)
        if self.what == "crash":
            os.kill(os.getpid(), signal.SIGKILL)
        if self.what == "fail":
            raise PermanentStepError(f"injected permanent failure {when} {step}")
        raise TransientStepError(f"injected transient failure {when} {step}")
