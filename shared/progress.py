"""Progress reporting and cancellation, the same for the server's workers and the built-in engine."""

from __future__ import annotations

import time
from typing import Callable


class Cancelled(Exception):
    """Raised (by a progress callback) to stop a job between steps."""


#: progress(fraction in [0, 1], human-readable stage). It may raise :class:`Cancelled`.
ProgressFn = Callable[[float, str], None]


def no_progress(fraction: float, stage: str) -> None:  # noqa: ARG001 - matches ProgressFn
    """A progress callback that ignores everything."""


def stage_phase(stage: str) -> str:
    """The phase a stage names, without its counters: ``"stretching 3/7"`` -> ``"stretching"``."""
    return " ".join(word for word in stage.split() if not any(ch.isdigit() for ch in word))


class ProgressThrottle:
    """Decides which progress messages go over the wire.

    Fine-grained steps (a diffusion step, a stretched run of beats) are sent at most every
    ``interval_s`` seconds, but the first message of every new phase and the last one (fraction
    1.0) always go, so a client always sees each phase the job passed through, however fast.
    """

    def __init__(self, interval_s: float = 0.1, clock: Callable[[], float] | None = None):
        self.interval_s = interval_s
        self._clock = clock or time.monotonic
        self._last_time: float | None = None
        self._last_phase: str | None = None

    def should_send(self, fraction: float, stage: str) -> bool:
        now = self._clock()
        phase = stage_phase(stage)
        send = (self._last_time is None or now - self._last_time >= self.interval_s
                or fraction >= 1.0 or phase != self._last_phase)
        if send:
            self._last_time, self._last_phase = now, phase
        return send
