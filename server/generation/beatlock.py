"""Beat lock: a generated take conformed onto the motion's beats, like a user's song.

The take's own beats are tracked and paired one by one with the map's, from the beat nearest the
map's first (a take made for this shot starts with it), and the take is re-timed by the same time
map and renderer as ``motionscore conform`` (:mod:`motionscore.server.conform`). There is no
stretch limit: a take whose tempo is 15-30 % off the map still lands on it, and one that runs out
before the shot ends continues by whole bars. The output has exactly the input's shape.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from motionscore.shared.tempo_map import TempoMap
from motionscore.server.analysis.metrics import TIGHT_TOLERANCE, beat_scores, track_music_beats
from motionscore.server.conform.conform import conform_audio
from motionscore.server.conform.song import SongError
from motionscore.server.conform.timemap import ConformError
from .audio_io import mono_mix


@dataclass
class BeatLockResult:
    audio: np.ndarray
    anchors: int          # beats the time map goes through (0: the input was kept)
    max_stretch: float    # largest local change of speed used (0.05 = 5 %)
    f1_before: float | None = None
    f1_after: float | None = None
    ratio: float = 1.0    # the take's playing speed (1.2: it was 20 % too slow)


def beats_map(beats: np.ndarray, duration: float, meter: int = 4) -> TempoMap:
    """A tempo map holding just ``beats`` (s), bars every ``meter`` beats from the first."""
    beats = np.sort(np.asarray(beats, dtype=np.float64))
    beats = beats[(beats >= 0) & (beats < duration)]
    return TempoMap(beats, np.arange(0, beats.size, meter, dtype=np.int64), meter, (), duration=duration)


def beat_lock(audio: np.ndarray, sample_rate: int, beats: np.ndarray, meter: int = 4,
              keep_if_worse: bool = True) -> BeatLockResult:
    """Re-time ``audio`` (n,) or (n, channels) so its beats fall on ``beats`` (s); every channel is
    re-timed alike and the shape is kept.

    With ``keep_if_worse`` the result is re-tracked and the input returned unchanged when its beat
    F1 at 70 ms against ``beats`` did not improve (music without a clear beat can get worse).
    """
    audio = np.asarray(audio, dtype=np.float32)
    channels = audio[None] if audio.ndim == 1 else np.ascontiguousarray(audio.T)
    duration = channels.shape[1] / sample_rate
    try:
        conformed = conform_audio(channels, sample_rate, beats_map(beats, duration, meter), name="the take",
                                  loop=True, force=True, bars=False, fade=False)
    except (SongError, ConformError):
        return BeatLockResult(audio.copy(), 0, 0.0)
    out = conformed.audio[0] if audio.ndim == 1 else np.ascontiguousarray(conformed.audio.T)
    plan = conformed.plan
    ratios = np.array([s.ratio for s in plan.segments])
    result = BeatLockResult(out.astype(np.float32), len(plan.segments) - 1, float(np.max(np.abs(ratios - 1.0))),
                            ratio=plan.ratio)
    if keep_if_worse:
        # Judged at the MIREX tolerance: a take whose beats only came within 0.2 s is not on the map.
        result.f1_before = beat_scores(track_music_beats(mono_mix(audio), sample_rate)[1], beats, TIGHT_TOLERANCE).f1
        result.f1_after = beat_scores(track_music_beats(mono_mix(result.audio), sample_rate)[1], beats,
                                      TIGHT_TOLERANCE).f1
        if result.f1_after <= result.f1_before:
            return BeatLockResult(audio.copy(), 0, 0.0, result.f1_before, result.f1_after)
    return result
