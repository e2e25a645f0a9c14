"""Warming up a server before it says it is ready, so that an animator's first click does not wait.

The first take in a fresh process pays for work that later takes do not: importing librosa, numba
compiling its beat tracker and phase vocoder, the backbone's first forward pass. Measured with
``benchmarks/bench_spine.py`` (60 s shot, 2-core CPU): 5.1 s for the first take against 0.5 s for the
next ones. One short take through the very same pipeline pays all of that up front.
"""

from __future__ import annotations

import logging
import time

import numpy as np

from motionscore.shared.motion import COCO17, Motion
from motionscore.shared.options import ScoreOptions

from motionscore.server.generation.backbones import Backbone

from motionscore.server.generation.pipeline import score_motion

log = logging.getLogger("motionscore.server")

#: Length of the warm-up take (seconds): long enough for a beat grid and the beat tracker.
WARMUP_SECONDS = 4.0
WARMUP_BPM = 120.0


def warmup_motion(seconds: float = WARMUP_SECONDS, bpm: float = WARMUP_BPM, fps: float = 30.0) -> Motion:
    """A COCO-17 figure whose limbs swing out and stop dead on every beat (pixels, 1920x1080)."""
    frames = int(round(seconds * fps))
    t = np.arange(frames) / fps
    phase = (t * bpm / 60.0) % 1.0
    swing = (phase ** 2) * np.where(np.floor(t * bpm / 60.0) % 2 == 0, 1.0, -1.0)
    rng = np.random.default_rng(0)
    rest = np.stack([960 + rng.uniform(-120, 120, len(COCO17)), 540 + rng.uniform(-300, 300, len(COCO17))], axis=1)
    keypoints = np.repeat(rest[None], frames, axis=0)
    limbs = [COCO17.index(n) for n in ("left_wrist", "right_wrist", "left_ankle", "right_ankle", "left_elbow")]
    keypoints[:, limbs, 0] += 60.0 * swing[:, None]
    keypoints[:, limbs, 1] += 25.0 * swing[:, None]
    return Motion(keypoints=keypoints, fps=fps, joint_names=COCO17, frame_size=(1920, 1080))


def warm_up(backbone: Backbone) -> float:
    """Score one short take with ``backbone`` (beat lock on, so its code is warm too); returns seconds."""
    started = time.perf_counter()
    score_motion(warmup_motion(), ScoreOptions(sample_rate=22050, beat_lock=True), backbone)
    seconds = time.perf_counter() - started
    log.info("warmed up %s in %.1f s", backbone.name, seconds)
    return seconds
