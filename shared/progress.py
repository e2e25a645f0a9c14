"""Progress reporting and cancellation, the same for the server's workers and the built-in engine."""

from __future__ import annotations

from typing import Callable


class Cancelled(Exception):
    """Raised (by a progress callback) to stop a job between steps."""


#: progress(fraction in [0, 1], human-readable stage). It may raise :class:`Cancelled`.
ProgressFn = Callable[[float, str], None]


def no_progress(fraction: float, stage: str) -> None:  # noqa: ARG001 - matches ProgressFn
    """A progress callback that ignores everything."""
