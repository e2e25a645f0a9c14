"""Step 4: meter and downbeats. 3/4 where the hips' height clearly repeats every three beats (a
waltz's rise and fall), else 4/4; the downbeat where the accents are strongest, in 3/4 where the
hips are lowest; a new tempo segment starts a new bar.
"""

from __future__ import annotations

import numpy as np

from ..tempo import _autocorrelation
from .config import DEFAULT_CONFIG, DEFAULT_METER, TempoMapConfig
from .model import TempoSegment
from .salience import smooth


def three_four_evidence(bounce: np.ndarray, period: float, config: TempoMapConfig = DEFAULT_CONFIG) -> float:
    """How much more ``bounce`` (N,) repeats three beats apart than two or four beats apart:
    autocorrelation at 3 periods minus the larger of those at 2 and 4 (each the best within
    ``meter_lag_tolerance`` of its lag); ``period`` in samples. NaN when the signal is too short or flat."""
    x = np.asarray(bounce, dtype=np.float64)
    top = int(np.ceil(4 * period * (1 + config.meter_lag_tolerance))) + 1
    if period <= 0 or x.size <= top + 1:
        return float("nan")
    ac = _autocorrelation(x, top)
    if ac[0] <= 0:
        return float("nan")
    ac = ac / ac[0]
    stretch = np.linspace(1 - config.meter_lag_tolerance, 1 + config.meter_lag_tolerance, 9)
    at = lambda beats: float(np.interp(beats * period * stretch, np.arange(ac.size), ac).max())  # noqa: E731
    return at(3) - max(at(2), at(4))


def detect_meter(bounce: np.ndarray | None, rate: float, beats: np.ndarray, margin: float | None = None,
                 config: TempoMapConfig = DEFAULT_CONFIG) -> int:
    """3 where the hips' height (``bounce`` (N,) at ``rate`` Hz, sample ``i`` at ``(i + 1) / rate``
    s) clearly repeats every three of the map's ``beats`` (seconds) rather than every two or four,
    as a waltz's rise and fall does; else DEFAULT_METER. A dancer bouncing on every beat or every
    other beat repeats every two and four beats too, so those do not look like 3/4. ``margin``:
    default ``config.three_four_margin``."""
    margin = config.three_four_margin if margin is None else margin
    if bounce is None or beats.size < config.meter_min_beats:
        return DEFAULT_METER
    evidence = three_four_evidence(bounce, float(np.median(np.diff(beats))) * rate, config)
    return 3 if evidence >= margin else DEFAULT_METER


def _downbeat_offset(env: np.ndarray, rate: float, beats: np.ndarray, meter: int) -> int:
    """Index of the first downbeat: the beat position in the bar whose accents are strongest."""
    if beats.size < 2 * meter:
        return 0
    return _strongest_position(np.interp(beats * rate - 1.0, np.arange(env.size), smooth(env, 0.06 * rate)), meter)


def _strongest_position(per_beat: np.ndarray, meter: int) -> int:
    """The position in the bar (0..meter-1, counted from beat 0) where ``per_beat`` (one value per
    beat) is largest on average."""
    return int(np.argmax([per_beat[r::meter].mean() for r in range(meter)]))


def _lowest_hips_offset(bounce: np.ndarray, rate: float, beats: np.ndarray, meter: int) -> int:
    """Index of the first downbeat: the beat position in the bar where the hips are lowest, on
    average over each beat's span (beat +- half a period, so a beat's own dip does not count).

    ``bounce`` (N,) is the hips' detrended image height (pixels grow downwards: lowest = largest)
    at ``rate`` Hz, sample ``i`` at ``(i + 1) / rate`` s; ``beats`` in seconds.
    """
    if beats.size < 2 * meter:
        return 0
    half = 0.5 * float(np.median(np.diff(beats))) * rate
    sums = np.concatenate([[0.0], np.cumsum(np.asarray(bounce, dtype=np.float64))])
    lo = np.clip(np.round(beats * rate - 1.0 - half).astype(int), 0, bounce.size)
    hi = np.clip(np.round(beats * rate - 1.0 + half).astype(int), 0, bounce.size)
    return _strongest_position((sums[hi] - sums[lo]) / np.maximum(hi - lo, 1), meter)


def _downbeats(beats: np.ndarray, segments: list[TempoSegment], meter: int, offset: int) -> np.ndarray:
    """Bar starts: every ``meter``-th beat from ``offset`` in the first segment; each later segment
    starts a new bar at its first beat."""
    marks = []
    starts = [float(s.start_s) for s in segments[1:]]
    bar_origin = offset % meter
    for i, t in enumerate(beats):
        if starts and t >= starts[0] - 1e-6:
            bar_origin = i
            starts = [s for s in starts if s > t + 1e-6]
        if (i - bar_origin) % meter == 0:
            marks.append(i)
    return np.asarray(marks, dtype=np.int64)
