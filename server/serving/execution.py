"""Running scoring jobs and turning their outcome into protocol messages.

One implementation for both engines: the local server's worker threads and the Ray Serve
replicas (serving.ray_engine) hand it tasks and a way to send each task's messages; it runs
them as one take or one batch, throttles progress, honours cancellation and never lets a failed
job take its caller down.
"""

from __future__ import annotations

import logging
import threading
import traceback
from dataclasses import dataclass, field
from typing import Callable

import numpy as np

from motionscore.shared import protocol as P
from motionscore.shared.motion import Motion
from motionscore.shared.options import ConformOptions, ScoreOptions
from motionscore.shared.progress import ProgressThrottle

from motionscore.server.generation.backbones import Backbone, Cancelled
from motionscore.server.generation.pipeline import ScoreResult, score_batch, score_motion

log = logging.getLogger("motionscore.server")

PROGRESS_INTERVAL_S = 0.1


@dataclass
class Task:
    """One job to run: what to score, how to report, and how it is stopped.

    ``send`` receives every message of the job (progress, then one result or error) without
    its ``id``; the caller adds routing. ``cancel`` is set by whoever may stop the job (the
    client, a timeout, shutdown), ``reason`` says why.
    """

    motion: Motion
    options: ScoreOptions
    send: Callable[[dict], None] | None = None
    cancel: threading.Event = field(default_factory=threading.Event)
    reason: str = "cancelled by the client"
    label: str = ""
    #: A conform job: the song file's bytes and name (None: a score job).
    song: bytes | None = None
    song_name: str = ""
    conform: ConformOptions | None = None

    def joins(self, first: "Task") -> bool:
        """Whether this task may ride in ``first``'s batch (score jobs with the same guidance and rate)."""
        return self.song is None and first.song is None and batchable(self.options, first.options)


def batchable(a: ScoreOptions, b: ScoreOptions) -> bool:
    """Two jobs may share one generate_batch call (same guidance and sample rate)."""
    return (a.guidance, a.sample_rate) == (b.guidance, b.sample_rate)


def result_message(result: ScoreResult, extra_metadata: dict | None = None) -> dict:
    metadata = {**result.metadata, **(extra_metadata or {})}
    return {"type": P.RESULT, "audio": P.encode_array(result.audio.astype(np.float32)),
            "sample_rate": result.sample_rate, "metadata": metadata}


def run_tasks(tasks: list[Task], backbone: Backbone, extra_metadata: dict | None = None) -> None:
    """Run ``tasks`` (all batchable with the first) as one take or one batch; every task gets
    its progress and exactly one terminal message."""
    if len(tasks) == 1:
        _run_one(tasks[0], backbone, extra_metadata)
    else:
        _run_batch(tasks, backbone, extra_metadata)


def _run_batch(tasks: list[Task], backbone: Backbone, extra_metadata: dict | None) -> None:
    throttle = ProgressThrottle(PROGRESS_INTERVAL_S)

    def progress(fraction: float, stage: str) -> None:
        if all(task.cancel.is_set() for task in tasks):
            raise Cancelled("every job of the batch was cancelled")
        if throttle.should_send(fraction, stage):
            for task in tasks:
                if not task.cancel.is_set():
                    task.send({"type": P.PROGRESS, "fraction": round(float(fraction), 4), "stage": stage})

    try:
        results = score_batch([(task.motion, task.options) for task in tasks], backbone, progress)
    except Cancelled as exc:
        for task in tasks:
            task.send(P.error_message(P.E_CANCELLED, task.reason if task.cancel.is_set() else str(exc)))
        return
    except Exception as exc:  # a failed batch must never take the server down
        log.error("batch of %d failed:\n%s", len(tasks), traceback.format_exc())
        for task in tasks:
            task.send(P.error_message(P.E_INTERNAL, f"{type(exc).__name__}: {exc}"))
        return
    for task, result in zip(tasks, results):
        if task.cancel.is_set():
            task.send(P.error_message(P.E_CANCELLED, task.reason))
        else:
            task.send(result_message(result, extra_metadata))


def _run_one(task: Task, backbone: Backbone, extra_metadata: dict | None) -> None:
    throttle = ProgressThrottle(PROGRESS_INTERVAL_S)

    def progress(fraction: float, stage: str) -> None:
        if task.cancel.is_set():
            raise Cancelled(task.reason)
        if throttle.should_send(fraction, stage):
            task.send({"type": P.PROGRESS, "fraction": round(float(fraction), 4), "stage": stage})

    try:
        progress(0.0, "starting")
        if task.song is not None:
            result = _fit(task, progress)
            if result is None:
                return
        else:
            result = score_motion(task.motion, task.options, backbone, progress)
        if task.cancel.is_set():
            raise Cancelled(task.reason)
        task.send(result_message(result, extra_metadata))
    except Cancelled as exc:
        task.send(P.error_message(P.E_CANCELLED, str(exc) or task.reason))
    except Exception as exc:  # a failed job must never take the server down
        log.error("job %s failed:\n%s", task.label, traceback.format_exc())
        task.send(P.error_message(P.E_INTERNAL, f"{type(exc).__name__}: {exc}"))


def _fit(task: Task, progress) -> ScoreResult | None:
    """A conform job's take; None when the song was refused (its error message is sent)."""
    from motionscore.server.conform.song import SongError, read_song
    from motionscore.server.conform.timemap import ConformError
    from motionscore.server.generation.song_fit import fit_song

    try:
        song = read_song(task.song, task.options.sample_rate, name=task.song_name)
        return fit_song(task.motion, task.options, song, task.conform or ConformOptions(), progress)
    except (SongError, ConformError) as exc:
        task.send(P.error_message(P.E_BAD_SONG, str(exc)))
        return None
