"""Fitting a user's song to a motion: the conform counterpart of the scoring pipeline.

Motion -> tempo map -> the song conformed onto it -> the same metrics and metadata as a take, so
the CLI, the server and the add-on treat a fitted song like any take.
"""

from __future__ import annotations

import time

import numpy as np

from motionscore.shared import __version__
from motionscore.shared.motion import Motion
from motionscore.shared.options import ConformOptions, ScoreOptions
from motionscore.shared.progress import ProgressFn, no_progress
from motionscore.shared.take import closing_notes, request_genre, request_rhythm, take_metadata, tempo_map_record

from motionscore.server.analysis.metrics import score_take
from motionscore.server.conform.conform import conform_audio
from motionscore.server.conform.song import Song
from motionscore.server.conform.timemap import ConformError
from .audio_io import mono_mix
from .pipeline import ScoreResult

#: ``metadata["backbone"]`` of a fitted song.
CONFORM_BACKBONE = "conform"


def layout(audio: np.ndarray, channels: str | None) -> np.ndarray:
    """(channels, n) audio in the layout asked for: "mono", "stereo" or None (as it is)."""
    if channels == "mono":
        return audio.mean(axis=0, keepdims=True)
    if channels == "stereo" and audio.shape[0] == 1:
        return np.repeat(audio, 2, axis=0)
    return audio


def fit_song(motion: Motion, options: ScoreOptions, song: Song, conform: ConformOptions = ConformOptions(),
             progress: ProgressFn = no_progress) -> ScoreResult:
    """Conform ``song`` (decoded at ``options.sample_rate``) onto the motion's tempo map.

    Raises ConformError (no map, or a plan refused) or SongError (no steady beat in the song).
    """
    started = time.perf_counter()
    progress(0.0, "extracting rhythm")
    rhythm = request_rhythm(motion, options)
    if rhythm.tempo_map is None or rhythm.beat_times.size < 2:
        raise ConformError("the motion has no steady pulse to conform to; give it a tempo (--tempo BPM)")
    audio = layout(song.audio, options.channels)
    conformed = conform_audio(audio, song.sample_rate, rhythm.tempo_map, name=song.name, start_s=conform.start_s,
                              loop=conform.loop, force=conform.force,
                              progress=lambda f, stage: progress(0.05 + 0.85 * f, stage))
    progress(0.9, "measuring beat alignment")
    out = conformed.audio[0] if conformed.audio.shape[0] == 1 else np.ascontiguousarray(conformed.audio.T)
    metrics = score_take(rhythm.beat_times, rhythm.tempo_bpm, mono_mix(out), song.sample_rate)
    genre = request_genre(motion, options)
    tempo_map, genre_note = tempo_map_record(rhythm, genre, options)
    plan = conformed.plan
    notes = [f"conformed {song.name} ({conformed.song.tempo_bpm:.1f} BPM) from {plan.section_start_s:.2f} s at "
             f"x{plan.ratio:.3f} speed" + (f", looped {plan.loops}x" if plan.loops else "")
             + (f", largest warp {plan.max_warp * 100:.0f} %" if plan.max_warp > 0.05 else "")]
    notes += closing_notes(rhythm, options, CONFORM_BACKBONE, genre_note)
    metadata = take_metadata(motion, options, rhythm, num_samples=out.shape[0], sample_rate=song.sample_rate,
                             channels=1 if out.ndim == 1 else int(out.shape[1]), genre=genre,
                             backbone=CONFORM_BACKBONE, model_id=song.name, beat_lock=False, tempo_map=tempo_map,
                             metrics=metrics, notes=notes, info={})
    metadata.update({"conform": conformed.record(song.name), "server_version": __version__,
                     "compute_s": round(time.perf_counter() - started, 4)})
    progress(1.0, "done")
    return ScoreResult(audio=out, sample_rate=song.sample_rate, rhythm=rhythm, metadata=metadata)
