"""Step 2: the steady grid (tempo and phase) that best fits the onset envelope over a span.

A 1 % tempo error drifts a whole beat within a minute at 120 BPM, so the tempo is measured over the
longest steady stretch, not beat by beat: periods in ``fit_step`` steps, phases in sub-frame steps.
"""

from __future__ import annotations

import numpy as np

from .config import DEFAULT_CONFIG, TempoMapConfig


def _grid_scores(env: np.ndarray, periods: np.ndarray, start: float, stop: float, phase_step: float
                 ) -> tuple[np.ndarray, np.ndarray]:
    """For each period (samples), the best phase and the mean envelope on that grid over [start, stop)."""
    n = env.size
    best_score = np.full(periods.size, -np.inf)
    best_phase = np.zeros(periods.size)
    positions = np.arange(n, dtype=np.float64)
    for i, period in enumerate(periods):
        phases = start + np.arange(0.0, period, phase_step)
        count = int(np.floor((stop - 1 - phases[-1]) / period)) + 1
        if count < 2:
            continue
        grid = phases[:, None] + np.arange(count)[None, :] * period
        values = np.interp(grid, positions, env).mean(axis=1)
        k = int(np.argmax(values))
        if values[k] > best_score[i]:
            best_score[i], best_phase[i] = values[k], phases[k]
    return best_score, best_phase


def fit_grid(env: np.ndarray, rate: float, bpm: float, span: float | None = None, start: int = 0,
             stop: int | None = None, config: TempoMapConfig = DEFAULT_CONFIG) -> tuple[float, float, float]:
    """The steady grid that best fits ``env`` over samples [start, stop) near ``bpm``.

    Returns (bpm, first beat's sample position (fractional, >= start), mean envelope on the grid).
    ``span``: relative, default ``config.fit_span``; 0 fits the phase only, at exactly ``bpm``.
    """
    span = config.fit_span if span is None else span
    stop = env.size if stop is None else stop
    ratios = np.arange(-span, span + config.fit_step / 2, config.fit_step) if span > 0 else np.zeros(1)
    periods = 60.0 * rate / (bpm * (1.0 + ratios))
    scores, phases = _grid_scores(env, periods, float(start), float(stop), config.phase_step)
    k = int(np.argmax(scores))
    if not np.isfinite(scores[k]):
        return bpm, float(start), 0.0
    return float(60.0 * rate / periods[k]), float(phases[k]), float(scores[k])
