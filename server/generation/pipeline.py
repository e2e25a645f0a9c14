"""The scoring pipeline, motion to music and metrics: prepare -> backbone -> beat lock -> metrics.

The server's workers, its Ray replicas and the in-process CLI all run it."""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np

from motionscore.shared.motion import Motion
from motionscore.shared.options import ScoreOptions
from motionscore.shared.rhythm import Rhythm, extract_rhythm
from motionscore.shared.take import closing_notes, request_genre, request_rhythm, take_metadata, tempo_map_record

from motionscore.shared import __version__
from motionscore.server.generation.backbones import Backbone, Generation, GenerationRequest, ProgressFn, no_progress
from motionscore.server.analysis.metrics import score_take
from motionscore.server.generation.audio_io import mono_mix


@dataclass
class ScoreResult:
    """Audio (float32, exactly round(duration * sample_rate) samples: (n,) mono or (n, 2) stereo)
    and what to record."""

    audio: np.ndarray
    sample_rate: int
    rhythm: Rhythm
    metadata: dict = field(default_factory=dict)


class ChannelsError(ValueError):
    """Stereo asked of a backbone that makes mono audio."""


def output_channels(options: ScoreOptions, backbone: Backbone) -> int:
    """1 or 2: the request's channels, or the backbone's own; ChannelsError if it cannot."""
    if options.channels is None:
        return backbone.channels
    if options.channels == "stereo" and backbone.channels < 2:
        raise ChannelsError(f"backbone {backbone.name} makes mono audio; stereo needs a stereo backbone "
                            f"(stableaudio), or ask for mono")
    return 2 if options.channels == "stereo" else 1


def prepare(motion: Motion, options: ScoreOptions, backbone: Backbone) -> GenerationRequest:
    """Rhythm (and the reversed motion's, for negative conditioning) -> a generation request."""
    channels = output_channels(options, backbone)
    mode = backbone.rhythm_mode or options.rhythm_mode  # the original release needs "compat"
    rhythm = request_rhythm(motion, options, mode)
    negative = extract_rhythm(motion.reversed(), mode=mode) if options.negative_motion else None
    return GenerationRequest(
        rhythm=rhythm, duration=motion.duration, sample_rate=options.sample_rate,
        genre=request_genre(motion, options), prompt=options.prompt, seed=options.seed, guidance=options.guidance,
        negative_rhythm=negative, channels=channels,
    )


def finish(motion: Motion, options: ScoreOptions, backbone: Backbone, request: GenerationRequest,
           generation: Generation, started: float) -> ScoreResult:
    """Check the audio, measure its beats against the motion, and gather the take's metadata."""
    audio = generation.audio
    expected = (request.num_samples,) if request.channels == 1 else (request.num_samples, request.channels)
    if audio.shape != expected:
        raise RuntimeError(f"backbone {backbone.name} returned audio of shape {audio.shape}, expected {expected}")
    rhythm = request.rhythm
    notes = list(generation.notes)
    lock = options.beat_lock if options.beat_lock is not None else backbone.name != "synth"
    if lock and rhythm.beat_times.size >= 2:
        from .beatlock import beat_lock

        meter = rhythm.tempo_map.meter if rhythm.tempo_map is not None else 4
        locked = beat_lock(audio, generation.sample_rate, rhythm.beat_times, meter)
        if locked.anchors:
            audio = locked.audio
            notes.append(f"beat lock: conformed through {locked.anchors} beats at x{locked.ratio:.3f} speed (largest "
                         f"change {locked.max_stretch * 100:.1f} %), beat F1 {locked.f1_before:.2f} -> "
                         f"{locked.f1_after:.2f}")
        else:
            notes.append("beat lock: kept the take as generated (warping did not bring its beats closer)")
    metrics = score_take(rhythm.beat_times, rhythm.tempo_bpm, mono_mix(audio), generation.sample_rate)
    tempo_map, genre_note = tempo_map_record(rhythm, request.genre, options)
    notes += closing_notes(rhythm, options, backbone.name, genre_note)
    metadata = take_metadata(motion, options, rhythm, num_samples=audio.shape[0], sample_rate=generation.sample_rate,
                             channels=1 if audio.ndim == 1 else int(audio.shape[1]), genre=generation.genre,
                             backbone=backbone.name, model_id=backbone.model_id, beat_lock=bool(lock),
                             tempo_map=tempo_map, metrics=metrics, notes=notes, info=generation.info)
    metadata.update({"server_version": __version__, "compute_s": round(time.perf_counter() - started, 4)})
    return ScoreResult(audio=audio, sample_rate=generation.sample_rate, rhythm=rhythm, metadata=metadata)


def score_motion(motion: Motion, options: ScoreOptions, backbone: Backbone,
                 progress: ProgressFn = no_progress) -> ScoreResult:
    """Rhythm -> backbone -> beat metrics. ``progress`` may raise Cancelled to stop the job.

    Stages and their share of the progress bar: rhythm 0-5 %, generation 5-90 %, analysis 90-100 %.
    """
    started = time.perf_counter()
    progress(0.0, "extracting rhythm")
    request = prepare(motion, options, backbone)
    progress(0.05, "generating")
    generation = backbone.generate(request, lambda f, stage: progress(0.05 + 0.85 * f, stage))
    progress(0.9, "measuring beat alignment")
    result = finish(motion, options, backbone, request, generation, started)
    progress(1.0, "done")
    return result


def score_batch(items: list[tuple[Motion, ScoreOptions]], backbone: Backbone,
                progress: ProgressFn = no_progress) -> list[ScoreResult]:
    """Several jobs through one ``generate_batch`` call (ML backbones run them as one batch)."""
    started = time.perf_counter()
    progress(0.0, "extracting rhythm")
    requests = [prepare(motion, options, backbone) for motion, options in items]
    progress(0.05, f"generating a batch of {len(items)}")
    generations = backbone.generate_batch(requests, lambda f, stage: progress(0.05 + 0.85 * f, stage))
    progress(0.9, "measuring beat alignment")
    results = [finish(m, o, backbone, r, g, started) for (m, o), r, g in zip(items, requests, generations)]
    for result in results:
        result.metadata["batch_size"] = len(items)
    progress(1.0, "done")
    return results
