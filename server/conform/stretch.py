"""Rendering a conform plan with Rubber Band (through pedalboard): pitch, transients and stereo kept.

Each run of segments that share one playing speed is stretched by a constant ratio, which Rubber
Band renders exactly to the sample (a time-varying ratio lags its changes by tens of
milliseconds, which would put the beats off the map). Every run is stretched with some context on
both sides and joined to the next by a short crossfade placed just before the next run's first
beat, so no beat's attack is cut.
"""

from __future__ import annotations

import numpy as np

from motionscore.shared.progress import ProgressFn, no_progress
from .timemap import Segment

#: Context stretched on each side of a run (seconds of output), so joins have material to fade.
CONTEXT_S = 0.1
#: Joins sit this long before a run's first beat (seconds): the beat's attack stays whole.
JOIN_LEAD_S = 0.02
#: Crossfade at each join (seconds).
CROSSFADE_S = 0.01
#: Segments are rendered as one run while a single ratio puts every inner beat within this many
#: seconds of its place.
RUN_TOLERANCE_S = 0.002
FADE_IN_S = 0.005
#: The end fades out over this long (seconds), at most a quarter of the take.
FADE_OUT_S = 1.0


def runs(segments: tuple[Segment, ...] | list[Segment]) -> list[Segment]:
    """Consecutive segments merged while the input is contiguous and one ratio keeps every inner
    boundary within RUN_TOLERANCE_S of its place."""
    merged: list[Segment] = []
    inner: list[tuple[float, float]] = []
    for seg in segments:
        if merged:
            run = merged[-1]
            candidate = Segment(run.in_start, seg.in_end, run.out_start, seg.out_end)
            points = inner + [(seg.in_start, seg.out_start)]
            if abs(run.in_end - seg.in_start) < 1e-9 and all(
                    abs(candidate.in_start + (o - candidate.out_start) * candidate.ratio - i) / candidate.ratio
                    <= RUN_TOLERANCE_S for i, o in points):
                merged[-1] = candidate
                inner = points
                continue
        merged.append(seg)
        inner = []
    return merged


def _slice(audio: np.ndarray, start: int, end: int) -> np.ndarray:
    """audio[:, start:end] with zeros where the range leaves the audio."""
    out = np.zeros((audio.shape[0], end - start), dtype=np.float32)
    lo, hi = max(start, 0), min(end, audio.shape[1])
    if hi > lo:
        out[:, lo - start:hi - start] = audio[:, lo:hi]
    return out


def render(audio: np.ndarray, sample_rate: int, segments, num_samples: int,
           progress: ProgressFn = no_progress) -> np.ndarray:
    """Play ``audio`` (channels, n) float32 along ``segments``: exactly (channels, num_samples)."""
    import pedalboard

    out = np.zeros((audio.shape[0], num_samples), dtype=np.float32)
    plan = runs(segments)
    fade = max(2, int(CROSSFADE_S * sample_rate))
    joins = [0] + [int(round((s.out_start - JOIN_LEAD_S) * sample_rate)) for s in plan[1:]] + [num_samples]
    for k, seg in enumerate(plan):
        progress(k / len(plan), f"stretching {k + 1}/{len(plan)}")
        ratio = seg.ratio
        context = int(CONTEXT_S * ratio * sample_rate) + fade
        start = int(np.floor(seg.in_start * sample_rate)) - context
        end = int(np.ceil(seg.in_end * sample_rate)) + context
        chunk = _slice(audio, start, end)
        stretched = chunk if abs(ratio - 1.0) < 1e-6 else pedalboard.time_stretch(chunk, float(sample_rate),
                                                                                  stretch_factor=float(ratio))
        # Output sample k of the chunk plays input sample start + k * ratio.
        offset = int(round(seg.out_start * sample_rate + (start - seg.in_start * sample_rate) / ratio))
        lo = max(joins[k] - (fade // 2 if k else 0), 0)
        hi = min(joins[k + 1] + (fade - fade // 2 if k + 1 < len(plan) else 0), num_samples)
        piece = _slice(stretched, lo - offset, hi - offset)
        weight = np.ones(hi - lo, dtype=np.float32)
        if k:
            weight[:fade] = np.linspace(0.0, 1.0, fade, dtype=np.float32)
        if k + 1 < len(plan):
            weight[-fade:] = np.linspace(1.0, 0.0, fade, dtype=np.float32)
        out[:, lo:hi] += piece * weight
    progress(1.0, "stretched")
    return out


def fade_ends(audio: np.ndarray, sample_rate: int) -> np.ndarray:
    """A click-free start and a fade-out over the last FADE_OUT_S (at most a quarter), in place."""
    n = audio.shape[-1]
    start = min(int(FADE_IN_S * sample_rate), n)
    audio[..., :start] *= np.linspace(0.0, 1.0, start, dtype=np.float32)
    end = min(int(FADE_OUT_S * sample_rate), n // 4)
    if end > 0:
        audio[..., n - end:] *= np.linspace(1.0, 0.0, end, dtype=np.float32) ** 2
    return audio
