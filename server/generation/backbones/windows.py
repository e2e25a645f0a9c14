"""Long shots from fixed-length generators: window plans and seamless joins on beats."""

from __future__ import annotations

import numpy as np

#: Length (s) of the equal-power crossfade at each join; it ends on a kinematic beat so the
#: beat's transient comes whole from the new window and masks the seam.
CROSSFADE_S = 0.06


def plan_windows(duration: float, window: float, overlap: float) -> list[tuple[float, float]]:
    """[(start, end)] covering [0, duration]; consecutive windows overlap by ``overlap`` seconds."""
    if duration <= window:
        return [(0.0, duration)]
    stride = window - overlap
    count = int(np.ceil((duration - overlap) / stride))
    starts = [min(k * stride, duration - window) for k in range(count)]
    return [(s, s + window) for s in starts]


def join_point(start: float, end: float, beats: np.ndarray) -> float:
    """Where to switch from one window to the next inside their overlap [start, end): the kinematic
    beat nearest the overlap's middle that leaves room for the crossfade, else the middle."""
    middle = (start + end) / 2
    usable = beats[(beats >= start + CROSSFADE_S) & (beats < end)]
    return float(usable[np.argmin(np.abs(usable - middle))]) if usable.size else middle


def join_windows(pieces: list[np.ndarray], spans: list[tuple[float, float]], total_samples: int,
                 sample_rate: int, beats: np.ndarray) -> np.ndarray:
    """Concatenate window audio (each piece (n,) or (n, channels), starting at its span's start)
    into ``total_samples`` frames, switching inside each overlap at a beat with a short
    equal-power crossfade."""
    out = np.zeros((total_samples,) + pieces[0].shape[1:], dtype=np.float32)
    fade = max(1, int(CROSSFADE_S * sample_rate))
    cut_prev = 0
    for k, (piece, (start, end)) in enumerate(zip(pieces, spans)):
        offset = int(round(start * sample_rate))
        if k + 1 < len(spans):
            next_start = spans[k + 1][0]
            cut = int(round(join_point(next_start, end, np.asarray(beats)) * sample_rate))
        else:
            cut = total_samples
        lo, hi = cut_prev, min(cut, total_samples)
        segment = piece[lo - offset:hi - offset] if hi > lo else piece[:0]
        out[lo:lo + segment.shape[0]] = segment
        if k > 0 and lo > 0:
            # Crossfade over the `fade` samples before the cut point from the previous window.
            a = max(lo - fade, int(round(start * sample_rate)))
            ramp = np.linspace(0.0, 1.0, lo - a, endpoint=False) if lo > a else np.zeros(0)
            ramp = ramp.reshape((-1,) + (1,) * (out.ndim - 1))
            incoming = piece[a - offset:lo - offset]
            out[a:lo] = out[a:lo] * np.cos(ramp * np.pi / 2) + incoming * np.sin(ramp * np.pi / 2)
        cut_prev = hi
    return out
