"""Motions with a known pulse that several tiers use (pure numpy: no server package)."""

from __future__ import annotations

from dataclasses import replace

from motionscore.shared.synthetic_dance import beat_times, synthetic_dance


def two_pulse_dance(seed: int):
    """Head and arms at 110 BPM, hips and legs (COCO joints 11-16) at 80: two tempi at once."""
    upper = synthetic_dance(beat_times(16.0, 110), 16.0, fps=30, genre="HO", seed=seed)
    lower = synthetic_dance(beat_times(16.0, 80), 16.0, fps=30, genre="HO", seed=seed + 10)
    keypoints = upper.keypoints.copy()
    keypoints[:, 11:] = lower.keypoints[:, 11:]
    return replace(upper, keypoints=keypoints, genre=None)
