"""The built-in engine: takes made in this process with the synth, no server, no model weights.

It runs wherever numpy does, Blender's own Python included (nothing here imports torch, librosa,
scipy, soundfile, pyzmq or msgpack), and it speaks the client's verbs (:class:`BuiltinEngine`:
``submit``/``poll``/``cancel``/``score``/``close``, with the same :class:`~.client.JobState` and
:class:`~.client.JobResult`), so the add-on drives either engine through one code path.

A built-in take is the server's ``synth`` take of the same request, bit for bit
(:func:`motionscore.shared.synth.render` is the one implementation); what the built-in engine leaves
out is what needs the server's libraries: measured beat metrics (a beat tracker) and beat lock
(a time-stretcher). Its metadata says so in its notes and records ``engine: built-in``.
"""

from __future__ import annotations

import queue
import threading
import time
import uuid

import numpy as np

from . import __version__
from .client import JobResult, JobState, ServerError
from .motion import Motion
from .options import ScoreOptions
from .progress import Cancelled, ProgressFn, no_progress
from .protocol import E_BAD_OPTIONS, E_CANCELLED, E_INTERNAL, E_WRONG_BACKBONE
from .rhythm import Rhythm
from .synth import SynthTake, num_samples, render
from .take import closing_notes, request_genre, request_rhythm, take_metadata, tempo_map_record
from .take_record import ENGINE_BUILTIN, TakeRecord

#: Overrides the add-on's Engine (auto, built-in or server), as $MOTIONSCORE_SERVER does the address:
#: `motionscore batch` sets "server" so that a farm's shots never quietly become built-in takes.
ENGINE_ENV = "MOTIONSCORE_ENGINE"
#: The only backbone the built-in engine runs.
BACKBONE = "synth"
#: Said in every built-in take's notes: the metrics the server would add.
NOT_MEASURED = "built-in engine: the music's beats were not measured (no beat tracker inside Blender); " \
               "the synth plays the tempo map's beats"


def check_backbone(options: ScoreOptions) -> None:
    """Refuse a request for an ML backbone: only a server runs those (never a silent synth take)."""
    if options.backbone not in (None, BACKBONE):
        raise ServerError(E_WRONG_BACKBONE, f"backbone {options.backbone} needs a motionscore server; "
                                            f"the built-in engine makes only the synth")


def score_builtin(motion: Motion, options: ScoreOptions, progress: ProgressFn = no_progress) -> JobResult:
    """Rhythm -> tempo map -> synth: a take as the server's synth backbone makes it.

    Returns audio float32 (round(motion.duration * sample_rate),) mono. ``progress`` may raise
    :class:`Cancelled`. Raises ServerError (E_WRONG_BACKBONE, E_BAD_OPTIONS) for requests this engine
    cannot make. Progress shares as on the server: rhythm 0-5 %, music 5-90 %, the record 90-100 %.
    """
    started = time.perf_counter()
    check_backbone(options)
    if options.channels == "stereo":
        raise ServerError(E_BAD_OPTIONS, "the built-in synth makes mono audio; stereo needs a server "
                                         "running a stereo backbone (stableaudio)")
    try:
        options.check_motion(motion.duration)
    except ValueError as exc:
        raise ServerError(E_BAD_OPTIONS, str(exc)) from None
    progress(0.0, "extracting rhythm")
    rhythm = request_rhythm(motion, options)
    genre = request_genre(motion, options)
    progress(0.05, "generating")
    take = render(rhythm, motion.duration, options.sample_rate, genre=genre, seed=options.seed,
                  prompt=options.prompt, progress=lambda f, stage: progress(0.05 + 0.85 * f, stage))
    progress(0.9, "writing the take's record")
    notes = list(take.notes)
    if options.beat_lock:
        notes.append("beat lock needs a server (its time-stretcher); the synth already plays on the map's beats")
    tempo_map, genre_note = tempo_map_record(rhythm, genre, options)
    notes += closing_notes(rhythm, options, BACKBONE, genre_note)
    notes.append(NOT_MEASURED)
    metadata = take_metadata(motion, options, rhythm, num_samples=num_samples(motion.duration, options.sample_rate),
                             sample_rate=options.sample_rate, channels=1, genre=take.genre, backbone=BACKBONE,
                             model_id="procedural", beat_lock=False, tempo_map=tempo_map, metrics=None, notes=notes,
                             info=take.info)
    metadata.update({"engine": ENGINE_BUILTIN, "version": __version__,
                     "compute_s": round(time.perf_counter() - started, 4)})
    progress(1.0, "done")
    return JobResult(audio=take.audio, sample_rate=options.sample_rate, metadata=metadata)


def take_parts(result: JobResult, options: ScoreOptions, motion: Motion | None = None, rhythm: Rhythm | None = None,
               stems: bool = True) -> SynthTake | None:
    """The parts of a synth take (made here or by a server), rendered again in this process.

    The synth is deterministic, so the take's request (``options`` and ``motion``, or the
    ``rhythm`` it made) renders the same take again, this time with each part kept: its stems
    (float32 (n,) per part, summing to the take) and the notes each part played. The render is
    checked sample for sample against ``result.audio``; parts of another take are never returned.

    None when the take has no parts to give: an ML backbone's take, a beat-locked or a stereo take
    (re-timed or mixed as a whole), or one this synth does not reproduce (a server running another
    version of it).
    """
    record = TakeRecord.from_wire(result.metadata)
    if record.backbone != BACKBONE or record.beat_lock or result.audio.ndim != 1:
        return None
    if rhythm is None:
        rhythm = request_rhythm(motion, options)
    take = render(rhythm, float(record.duration_s), result.sample_rate, genre=record.genre, seed=options.seed,
                  prompt=options.prompt, stems=stems)
    return take if np.array_equal(take.audio, result.audio) else None


class BuiltinEngine:
    """Built-in takes behind the client's verbs; one worker thread makes them in turn.

    ``submit`` returns at once and the worker updates each job's :class:`JobState` (fraction,
    stage, then result or error); ``poll`` only reads them, so a UI timer calling it never waits.
    ``score`` makes one take in the calling thread (``blender -b``, the CLI). Not for use from
    several threads at once, like the client.
    """

    def __init__(self) -> None:
        self.jobs: dict[str, JobState] = {}
        self._cancelled: set[str] = set()
        self._lock = threading.Lock()
        self._queue: queue.Queue = queue.Queue()
        self._worker: threading.Thread | None = None

    def __enter__(self) -> "BuiltinEngine":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def submit(self, motion: Motion, options: ScoreOptions) -> str:
        """Queue a take; returns its job id. Refusals (an ML backbone) become the job's error."""
        job_id = uuid.uuid4().hex[:16]
        self.jobs[job_id] = JobState(job_id)
        self._queue.put((job_id, motion, options))
        if self._worker is None or not self._worker.is_alive():
            self._worker = threading.Thread(target=self._work, name="motionscore-builtin", daemon=True)
            self._worker.start()
        return job_id

    def poll(self, timeout: float = 0.0) -> None:  # noqa: ARG002 - the client's signature
        """Nothing to read: the worker updates the job states itself."""

    def cancel(self, job_id: str) -> None:
        """Stop a job at its next progress step (or before it starts)."""
        with self._lock:
            self._cancelled.add(job_id)

    def close(self) -> None:
        """Cancel every job not done; the worker stops at its next step."""
        for job_id, state in list(self.jobs.items()):
            if not state.done:
                self.cancel(job_id)
        self._queue.put(None)

    def score(self, motion: Motion, options: ScoreOptions, on_progress=None) -> JobResult:
        """One take in this thread; ``on_progress(fraction, stage)`` as the client calls it."""
        return score_builtin(motion, options, lambda f, stage: on_progress(f, stage) if on_progress else None)

    def _work(self) -> None:
        while True:
            item = self._queue.get()
            if item is None:
                return
            job_id, motion, options = item
            state = self.jobs[job_id]

            def progress(fraction: float, stage: str, _id=job_id, _state=state) -> None:
                with self._lock:
                    if _id in self._cancelled:
                        raise Cancelled("cancelled")
                _state.fraction, _state.stage = fraction, stage

            try:
                result = score_builtin(motion, options, progress)
            except Cancelled:
                state.error = ServerError(E_CANCELLED, "cancelled")
            except ServerError as exc:
                state.error = exc
            except Exception as exc:  # noqa: BLE001 - a worker must report, never die silently
                state.error = ServerError(E_INTERNAL, f"the built-in engine failed: {type(exc).__name__}: {exc}")
            else:
                state.fraction, state.stage, state.result = 1.0, "done", result
