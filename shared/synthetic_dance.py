"""Procedural dancing skeletons with known accent times (tests, examples, the synthetic data world).

A COCO-17 figure stands in a 1920x1080 frame. On every beat some limbs "hit": they snap to a new
position, accelerating over a short move and stopping dead on the beat (the way dancers mark a
beat), alternating out and back so the figure never drifts;
a slow sway and sub-pixel jitter keep it from looking mechanical. Which limbs hit, how hard, and
whether there are weaker off-beat moves depends on the genre. The accents are therefore exactly
the beat times, which is what the rhythm tests check against.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .genres import parse_genre
from .motion import COCO17, Motion

FRAME_SIZE = (1920, 1080)

# Standing pose, pixels (x right, y down), roughly 500 px tall, centred.
_REST = {
    "nose": (960, 330), "left_eye": (972, 318), "right_eye": (948, 318),
    "left_ear": (988, 326), "right_ear": (932, 326),
    "left_shoulder": (1030, 410), "right_shoulder": (890, 410),
    "left_elbow": (1060, 510), "right_elbow": (860, 510),
    "left_wrist": (1075, 600), "right_wrist": (845, 600),
    "left_hip": (1000, 620), "right_hip": (920, 620),
    "left_knee": (1005, 730), "right_knee": (915, 730),
    "left_ankle": (1010, 840), "right_ankle": (910, 840),
}
_GROUPS = {
    "head": ("nose", "left_eye", "right_eye", "left_ear", "right_ear"),
    "left_arm": ("left_elbow", "left_wrist"),
    "right_arm": ("right_elbow", "right_wrist"),
    "torso": ("left_shoulder", "right_shoulder", "left_hip", "right_hip"),
    "left_leg": ("left_knee", "left_ankle"),
    "right_leg": ("right_knee", "right_ankle"),
}


@dataclass(frozen=True)
class GenreStyle:
    """How a genre moves: limb groups that hit on beats, hit size (px), move length (s), off-beat level."""

    groups: tuple[str, ...]
    amplitude: float
    move: float
    offbeat: float


_STYLES = {
    "BR": GenreStyle(("torso", "left_leg", "right_leg", "left_arm", "right_arm"), 70, 0.15, 0.3),
    "HO": GenreStyle(("torso", "left_leg", "right_leg", "head"), 45, 0.14, 0.35),
    "JB": GenreStyle(("left_arm", "right_arm", "left_leg", "head"), 60, 0.25, 0.0),
    "JS": GenreStyle(("left_arm", "right_arm", "torso", "right_leg"), 55, 0.18, 0.2),
    "KR": GenreStyle(("left_arm", "right_arm", "torso", "head"), 80, 0.10, 0.25),
    "LH": GenreStyle(("torso", "head", "left_arm", "right_arm"), 50, 0.15, 0.3),
    "LO": GenreStyle(("left_arm", "right_arm", "torso"), 65, 0.10, 0.0),
    "MH": GenreStyle(("torso", "head", "left_leg", "right_leg"), 50, 0.15, 0.3),
    "PO": GenreStyle(("left_arm", "right_arm", "head", "torso"), 40, 0.08, 0.2),
    "WA": GenreStyle(("left_arm", "right_arm", "head"), 75, 0.12, 0.25),
}


def beat_times(duration: float, bpm: float | list[tuple[float, float]], phase: float = 0.25) -> np.ndarray:
    """Beat times (seconds) in [phase, duration).

    Args:
        bpm: a constant tempo, or a list of (start_second, bpm) segments for tempo changes.
        phase: time of the first beat.
    """
    segments = [(0.0, float(bpm))] if np.isscalar(bpm) else sorted((float(s), float(b)) for s, b in bpm)
    times, t = [], float(phase)
    while t < duration:
        times.append(t)
        current = [b for s, b in segments if s <= t + 1e-9]
        t += 60.0 / (current[-1] if current else segments[0][1])
    return np.asarray(times)


def _hit_profile(t: np.ndarray, hits: np.ndarray, move: float, signs: np.ndarray, gains: np.ndarray) -> np.ndarray:
    """Displacement (T,) from hits: each move lasts ``move`` seconds, speeds up (position ~ u^2)
    and stops dead at its hit time."""
    out = np.zeros_like(t)
    for hit, sign, gain in zip(hits, signs, gains):
        u = np.clip((t - (hit - move)) / move, 0.0, 1.0)
        out += sign * gain * u ** 2
    return out


def synthetic_dance(beats: np.ndarray, duration: float, fps: float = 30.0, genre: str = "HO",
                    seed: int = 0, jitter_px: float = 0.3) -> Motion:
    """A COCO-17 dancer (pixels, 1920x1080) whose accents fall on ``beats`` (seconds).

    Returns a Motion of round(duration * fps) frames with the genre set.
    """
    code = parse_genre(genre) or "HO"
    if code not in _STYLES:
        raise ValueError(f"synthetic dancers move in the AIST++ genres only ({', '.join(_STYLES)}), not {genre!r}")
    style = _STYLES[code]
    rng = np.random.default_rng(seed)
    frames = int(round(duration * fps))
    t = np.arange(frames) / fps
    rest = np.array([_REST[name] for name in COCO17], dtype=np.float64)
    keypoints = np.repeat(rest[None], frames, axis=0)

    beats = np.asarray(beats, dtype=np.float64)
    offbeats = (beats[:-1] + beats[1:]) / 2 if style.offbeat > 0 and beats.size > 1 else np.zeros(0)
    for group_index, group in enumerate(style.groups):
        angle = rng.uniform(0, np.pi)
        direction = np.array([np.cos(angle), np.sin(angle)])
        # Out on one beat, back on the next: alternating signs keep the limb near rest.
        signs = np.where(np.arange(beats.size) % 2 == 0, 1.0, -1.0)
        gains = style.amplitude * rng.uniform(0.8, 1.2, beats.size)
        offset = _hit_profile(t, beats, style.move, signs, gains)
        if offbeats.size:
            off_signs = np.where(np.arange(offbeats.size) % 2 == 0, 1.0, -1.0)
            off_gain = style.offbeat * style.amplitude * 0.5
            offset += _hit_profile(t, offbeats, style.move, off_signs, np.full(offbeats.size, off_gain))
        joints = [COCO17.index(name) for name in _GROUPS[group]]
        keypoints[:, joints, :] += offset[:, None, None] * direction
    sway = 12.0 * np.sin(2 * np.pi * t / 4.0 + rng.uniform(0, 2 * np.pi))
    keypoints[..., 0] += sway[:, None]
    keypoints += rng.normal(0.0, jitter_px, keypoints.shape)
    return Motion(keypoints=keypoints.astype(np.float32), fps=fps, joint_names=COCO17,
                  frame_size=FRAME_SIZE, genre=code)


def static_motion(frames: int = 60, fps: float = 30.0) -> Motion:
    """A figure standing perfectly still."""
    rest = np.array([_REST[name] for name in COCO17], dtype=np.float32)
    return Motion(keypoints=np.repeat(rest[None], frames, axis=0), fps=fps, frame_size=FRAME_SIZE)


__all__ = ["FRAME_SIZE", "beat_times", "synthetic_dance", "static_motion"]
