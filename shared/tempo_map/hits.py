"""Step 5: hits. The user's sync points are caught exactly (:func:`catch_hits_counted`); the
motion's most prominent accents act as soft hits (:func:`strong_accents`).

Times in seconds from the motion's first frame; envelopes at ``rate`` Hz, sample ``i`` at
``(i + 1) / rate`` s.
"""

from __future__ import annotations

import numpy as np

from .config import DEFAULT_CONFIG, TempoMapConfig


def strong_accents(env: np.ndarray, rate: float, beats: np.ndarray, latency_s: float = 0.0,
                   config: TempoMapConfig = DEFAULT_CONFIG) -> np.ndarray:
    """The motion's own hits (seconds, ascending): where its most prominent accents pull the grid.

    Args:
        env: (N,) smoothed onset strength, sample ``i`` at ``(i + 1) / rate`` s.
        beats: (n,) the steady grid's beats in seconds.
        latency_s: accents come this long after their beat.
    Each beat's accent is the envelope's maximum within ``accent_reach`` of a period of it. An accent
    at least ``accent_prominence`` times the median beat's is a hit; the strongest in each
    ``accent_spacing_beats``-beat stretch is kept, and its beat is pulled ``accent_pull`` of the way to it
    (a soft hit: the tempo bends a little, the grid never re-phases). A steady pulse (every accent
    alike) has none.
    """
    if beats.size < 4 or env.size < 3:
        return np.zeros(0)
    period = float(np.median(np.diff(beats)))
    reach = int(np.ceil(config.accent_reach * period * rate))
    centres = np.round((beats + latency_s) * rate - 1.0).astype(np.int64)
    lo, hi = np.clip(centres - reach, 0, env.size - 1), np.clip(centres + reach + 1, 1, env.size)
    places = [int(a + np.argmax(env[a:b])) if b > a else int(a) for a, b in zip(lo, hi)]
    strength = env[places]
    typical = float(np.median(strength))
    if typical <= 0:
        return np.zeros(0)
    order = [i for i in np.argsort(strength)[::-1] if strength[i] >= config.accent_prominence * typical]
    chosen: list[int] = []
    for i in order:
        if all(abs(i - j) >= config.accent_spacing_beats for j in chosen):
            chosen.append(int(i))
    pulled = [beats[i] + config.accent_pull * ((places[i] + 1.0) / rate - latency_s - beats[i]) for i in sorted(chosen)]
    return np.asarray(pulled, dtype=np.float64)


def catch_hits(beats: np.ndarray, hits: np.ndarray, duration: float) -> np.ndarray:
    """See :func:`catch_hits_counted`; the moved beats only."""
    return catch_hits_counted(beats, hits, duration)[0]


def catch_hits_counted(beats: np.ndarray, hits: np.ndarray, duration: float) -> tuple[np.ndarray, int]:
    """Beats moved so that one sits exactly on each hit, respaced evenly between hits.

    The nearest beat (by index along the grid) is assigned to each hit in time order, each hit a
    later beat than the one before; beats between two hits are evenly spaced, beats before the
    first and after the last hit keep their intervals and move with it. Beats that end up outside
    [0, duration) are dropped and the grid is extended to keep covering the span.
    """
    hits = np.sort(np.asarray(hits, dtype=np.float64))
    if hits.size == 0 or beats.size < 2:
        return beats, 0
    period_before = float(beats[1] - beats[0])
    period_after = float(beats[-1] - beats[-2])
    # Extend the grid far enough on both sides that every hit has neighbours.
    lead = int(np.ceil(max(0.0, beats[0] - hits[0]) / period_before)) + 2
    tail = int(np.ceil(max(0.0, hits[-1] - beats[-1]) / period_after)) + 2
    grid = np.concatenate([beats[0] - period_before * np.arange(lead, 0, -1), beats,
                           beats[-1] + period_after * np.arange(1, tail + 1)])
    anchors: list[tuple[int, float]] = []
    for hit in hits:
        index = int(np.argmin(np.abs(grid - hit)))
        if anchors and index <= anchors[-1][0]:
            index = anchors[-1][0] + 1
        anchors.append((index, float(hit)))
    out = grid.copy()
    first_index, first_hit = anchors[0]
    out[:first_index + 1] = grid[:first_index + 1] + (first_hit - grid[first_index])
    for (i0, t0), (i1, t1) in zip(anchors[:-1], anchors[1:]):
        out[i0:i1 + 1] = np.linspace(t0, t1, i1 - i0 + 1)
    last_index, last_hit = anchors[-1]
    out[last_index:] = grid[last_index:] + (last_hit - grid[last_index])
    # Keep the span covered after the shift, then cut to [0, duration).
    origin = lead
    while out[0] > period_before:
        out = np.concatenate([[out[0] - period_before], out])
        origin += 1
    while out[-1] < duration - period_after:
        out = np.concatenate([out, [out[-1] + period_after]])
    keep = (out >= 0.0) & (out < duration)
    return out[keep], origin - int(np.count_nonzero(~keep[:origin]))
