"""Step 3: tempo segments. Local tempi in overlapping windows (searched within the global tempo's
family) are partitioned into pieces of constant tempo with a penalty per change, and a change is
kept only where the pieces' own grids clearly beat one steady grid, so the map changes tempo only
where the motion clearly does.
"""

from __future__ import annotations

import numpy as np

from .config import DEFAULT_CONFIG, TempoMapConfig
from .grid import fit_grid
from .salience import coarse_tempo


def _local_tempi(cues: list[np.ndarray], env: np.ndarray, rate: float, bpm: float, independent: int = 0,
                 meter: int | None = None, config: TempoMapConfig = DEFAULT_CONFIG) -> tuple[np.ndarray, np.ndarray]:
    """(window centres in samples, local tempo in BPM) in ``local_window_s`` windows, each searched
    within ``local_ratio`` of ``bpm`` and refined on the onset envelope."""
    n = env.size
    win, hop = int(config.local_window_s * rate), int(config.local_hop_s * rate)
    if n < win + hop:
        return np.zeros(0), np.zeros(0)
    centres, tempi = [], []
    for start in range(0, n - win + 1, hop):
        local = coarse_tempo([c[start:start + win] for c in cues], rate, None, bpm / config.local_ratio,
                             bpm * config.local_ratio, independent, meter, config)
        if local is None:
            local = bpm
        local, _, _ = fit_grid(env, rate, local, 0.03, start, start + win, config)
        centres.append(start + win / 2)
        tempi.append(local)
    return np.asarray(centres), np.asarray(tempi)


def partition(values: np.ndarray, config: TempoMapConfig = DEFAULT_CONFIG) -> list[int]:
    """Start indices of the pieces of constant level that best fit ``values`` (log tempi): optimal
    partitioning with squared deviations from each piece's median, capped at ``outlier``, and
    ``change_penalty`` per piece; pieces hold at least ``min_segment_hops`` values (or all of them)."""
    penalty, min_length = config.change_penalty, config.min_segment_hops
    n = values.size
    if n == 0:
        return []
    best = np.full(n + 1, np.inf)
    best[0] = -penalty
    back = np.zeros(n + 1, dtype=np.int64)
    for end in range(1, n + 1):
        for start in range(0, end):
            if end - start < min_length and not (start == 0 and end == n):
                continue
            piece = values[start:end]
            cost = np.minimum((piece - np.median(piece)) ** 2, config.outlier ** 2).sum()
            total = best[start] + penalty + cost
            if total < best[end]:
                best[end], back[end] = total, start
    if not np.isfinite(best[n]):
        return [0]
    starts, end = [], n
    while end > 0:
        starts.append(int(back[end]))
        end = int(back[end])
    return starts[::-1]


def _confirmed_pieces(env: np.ndarray, rate: float, bpm: float, bounds: list[int], levels: list[float],
                      config: TempoMapConfig = DEFAULT_CONFIG) -> list[tuple[int, int, float, float]]:
    """Keep a tempo change only where it explains the accents clearly better than one steady grid.

    Real dances performed to one steady song often have stretches whose local pulse is a related
    tempo (steps at 3/2 or 4/3 of the beat); a real change of tempo is one a steady grid at either
    tempo cannot follow. Each proposed change between neighbouring pieces is kept when the two
    pieces' own grids score ``change_gain`` times the best steady grid over both (at either piece's
    tempo). Returns (start, stop, bpm, refit span) per piece, in samples.
    """
    if len(levels) <= 1:
        return [(0, env.size, bpm, 0.0)]
    pieces = [(bounds[i], bounds[i + 1], levels[i]) for i in range(len(levels))]
    merged = True
    while merged and len(pieces) > 1:
        merged = False
        for i in range(len(pieces) - 1):
            (a0, a1, la), (b0, b1, lb) = pieces[i], pieces[i + 1]
            split = ((a1 - a0) * fit_grid(env, rate, la, 0.02, a0, a1, config)[2]
                     + (b1 - b0) * fit_grid(env, rate, lb, 0.02, b0, b1, config)[2]) / (b1 - a0)
            steady = max(fit_grid(env, rate, level, 0.02, a0, b1, config)[2] for level in (la, lb, bpm))
            if split < config.change_gain * steady:
                longer = la if a1 - a0 >= b1 - b0 else lb
                pieces[i:i + 2] = [(a0, b1, longer)]
                merged = True
                break
    if len(pieces) == 1:
        return [(0, env.size, bpm, 0.0)]
    return [(p0, p1, level, config.fit_span / 2) for p0, p1, level in pieces]
