"""Paired statistics: one condition against another over the same clips (bootstrap and Wilcoxon)."""

from __future__ import annotations

import numpy as np


def paired_comparison(trained: list[float], baseline: list[float], seed: int = 0, resamples: int = 10_000) -> dict:
    """Trained minus baseline over the same held-out clips: mean difference, its bootstrap 95 %
    interval (clips resampled with replacement) and the two-sided Wilcoxon signed-rank p-value.

    The clips are paired (same motion, same generation seed), so the per-clip differences carry the
    effect; the spread between clips (tempo, genre) cancels out.
    """
    from scipy.stats import wilcoxon

    diff = np.asarray(trained, dtype=float) - np.asarray(baseline, dtype=float)
    if diff.size == 0:
        raise ValueError("no clips to compare")
    rng = np.random.default_rng(seed)
    means = diff[rng.integers(0, diff.size, size=(resamples, diff.size))].mean(axis=1)
    p_value = 1.0 if not np.any(diff) else float(wilcoxon(diff).pvalue)
    return {"mean": round(float(diff.mean()), 4), "ci95": [round(float(v), 4) for v in np.percentile(means, [2.5, 97.5])],
            "p": round(p_value, 4), "clips": int(diff.size)}
