"""The motion container and its ``.npz`` file format.

A :class:`Motion` is a sequence of 2D keypoints, one row per frame:

- ``keypoints``: float32 (T, J, 2), pixels in image convention (origin top-left, x right, y down)
  when ``frame_size`` is given, otherwise any consistent unit (only relative motion matters to
  the rhythm);
- ``fps``: frames per second (> 0); frame ``t`` is at ``t / fps`` seconds, and the motion lasts
  ``T / fps`` seconds (one frame-duration per frame, like a Blender frame range);
- ``confidence``: optional float32 (T, J) in [0, 1] (0 = joint off-screen, behind the camera or
  not detected);
- ``joint_names``: J names; COCO-17 order when absent;
- ``frame_size``: optional (width, height) in pixels;
- ``genre``: optional genre code (see :mod:`.genres`).

The file format is an ``.npz`` with arrays of those names (``fps`` a scalar, ``genre`` a string);
it is read with ``allow_pickle=False``.
"""

from __future__ import annotations

import math
import zipfile
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np

from . import limits
from .genres import UnknownGenreError, parse_genre

#: COCO-17 keypoint order, the default when a motion carries no joint names.
COCO17: tuple[str, ...] = (
    "nose", "left_eye", "right_eye", "left_ear", "right_ear",
    "left_shoulder", "right_shoulder", "left_elbow", "right_elbow", "left_wrist", "right_wrist",
    "left_hip", "right_hip", "left_knee", "right_knee", "left_ankle", "right_ankle",
)

#: Keys with a meaning in a motion file; other scalar entries are kept in ``Motion.extras``.
KNOWN_KEYS = ("keypoints", "fps", "confidence", "joint_names", "frame_size", "genre")


class MotionError(ValueError):
    """A motion that cannot be used: the message says what is wrong, in one line."""


@dataclass(frozen=True)
class Motion:
    """2D keypoints over time. See the module docstring for units and conventions."""

    keypoints: np.ndarray
    fps: float
    confidence: np.ndarray | None = None
    joint_names: tuple[str, ...] | None = None
    frame_size: tuple[int, int] | None = None
    genre: str | None = None
    #: Extra scalar entries of the file (e.g. ``music_bpm`` in the AIST++ test data), untouched.
    extras: dict = field(default_factory=dict, compare=False)

    def __post_init__(self) -> None:
        validate(self)

    @property
    def num_frames(self) -> int:
        return int(self.keypoints.shape[0])

    @property
    def num_joints(self) -> int:
        return int(self.keypoints.shape[1])

    @property
    def duration(self) -> float:
        """Length in seconds: frames / fps."""
        return self.num_frames / self.fps

    @property
    def names(self) -> tuple[str, ...]:
        """Joint names, defaulting to COCO-17 (or ``joint_<i>`` when J != 17)."""
        if self.joint_names is not None:
            return self.joint_names
        if self.num_joints == len(COCO17):
            return COCO17
        return tuple(f"joint_{i}" for i in range(self.num_joints))

    def weights(self) -> np.ndarray:
        """Per-joint confidence (T, J) float32, ones when none was given."""
        if self.confidence is None:
            return np.ones(self.keypoints.shape[:2], dtype=np.float32)
        return self.confidence

    def frames(self, start: int, stop: int) -> "Motion":
        """Frames [start, stop) as a motion of their own (time restarts at 0)."""
        conf = None if self.confidence is None else self.confidence[start:stop].copy()
        return replace(self, keypoints=self.keypoints[start:stop].copy(), confidence=conf)

    def reversed(self) -> "Motion":
        """The same motion played backwards (used as a negative condition)."""
        conf = None if self.confidence is None else self.confidence[::-1].copy()
        return replace(self, keypoints=self.keypoints[::-1].copy(), confidence=conf)


def _check_array(name: str, arr: np.ndarray, ndim: int) -> None:
    if arr.ndim != ndim:
        raise MotionError(f"{name} must have {ndim} dimensions, got shape {arr.shape}")
    if not np.issubdtype(arr.dtype, np.number) or np.issubdtype(arr.dtype, np.complexfloating):
        raise MotionError(f"{name} must be real numbers, got dtype {arr.dtype}")
    if arr.size and not np.all(np.isfinite(arr)):
        raise MotionError(f"{name} contains NaN or infinite values")


def validate(motion: Motion) -> None:
    """Check shapes, values and limits; normalise dtypes in place (the dataclass is frozen).

    Raises:
        MotionError: one line saying what is wrong.
    """
    kp = np.asarray(motion.keypoints)
    if kp.ndim != 3 or kp.shape[-1] != 2:
        raise MotionError(f"keypoints must have shape (frames, joints, 2), got {kp.shape}")
    _check_array("keypoints", kp, 3)
    frames, joints = kp.shape[:2]
    if frames < limits.MIN_FRAMES:
        raise MotionError(f"a motion needs at least {limits.MIN_FRAMES} frames, got {frames}")
    if frames > limits.MAX_FRAMES:
        raise MotionError(f"too many frames: {frames} > {limits.MAX_FRAMES}")
    if joints < 1:
        raise MotionError("a motion needs at least one joint")
    if joints > limits.MAX_JOINTS:
        raise MotionError(f"too many joints: {joints} > {limits.MAX_JOINTS}")
    if frames * joints > limits.MAX_JOINT_FRAMES:
        raise MotionError(f"too large: {frames} frames x {joints} joints > {limits.MAX_JOINT_FRAMES} joint-frames")
    try:
        fps = float(motion.fps)
    except (TypeError, ValueError):
        raise MotionError(f"fps must be a number, got {motion.fps!r}") from None
    if not math.isfinite(fps) or fps < limits.MIN_FPS or fps > limits.MAX_FPS:
        raise MotionError(f"fps must be between {limits.MIN_FPS:g} and {limits.MAX_FPS:g}, got {motion.fps!r}")
    if frames / fps > limits.MAX_DURATION_S:
        raise MotionError(f"too long: {frames / fps:.1f} s > {limits.MAX_DURATION_S:g} s")
    object.__setattr__(motion, "keypoints", np.ascontiguousarray(kp, dtype=np.float32))
    object.__setattr__(motion, "fps", fps)

    if motion.confidence is not None:
        conf = np.asarray(motion.confidence)
        _check_array("confidence", conf, 2)
        if conf.shape != (frames, joints):
            raise MotionError(f"confidence must have shape {(frames, joints)}, got {conf.shape}")
        if conf.size and (conf.min() < 0 or conf.max() > 1):
            raise MotionError("confidence must lie in [0, 1]")
        object.__setattr__(motion, "confidence", np.ascontiguousarray(conf, dtype=np.float32))

    if motion.joint_names is not None:
        names = tuple(str(n) for n in motion.joint_names)
        if len(names) != joints:
            raise MotionError(f"{len(names)} joint names for {joints} joints")
        object.__setattr__(motion, "joint_names", names)

    if motion.frame_size is not None:
        size = tuple(np.asarray(motion.frame_size).reshape(-1).tolist())
        if len(size) != 2 or not all(isinstance(v, (int, float)) and v > 0 and math.isfinite(v) for v in size):
            raise MotionError(f"frame_size must be (width, height) > 0, got {motion.frame_size!r}")
        object.__setattr__(motion, "frame_size", (int(size[0]), int(size[1])))

    if motion.genre is not None:
        try:
            object.__setattr__(motion, "genre", parse_genre(motion.genre))
        except UnknownGenreError as exc:
            raise MotionError(str(exc)) from None


def _scalar(arr: np.ndarray, name: str):
    if arr.size != 1:
        raise MotionError(f"{name} must be a single value, got shape {arr.shape}")
    return arr.reshape(-1)[0].item()


def load_motion(path: str | Path) -> Motion:
    """Read a motion ``.npz`` (no pickles).

    Raises:
        MotionError: missing/corrupt file, missing or malformed entries, any invalid value.
    """
    path = Path(path)
    if not path.is_file():
        raise MotionError(f"{path}: no such file")
    try:
        with np.load(path, allow_pickle=False) as data:
            files = set(data.files)
            if "keypoints" not in files:
                raise MotionError(f"{path}: no 'keypoints' array (found: {', '.join(sorted(files)) or 'nothing'})")
            if "fps" not in files:
                raise MotionError(f"{path}: no 'fps' entry")
            entries = {k: data[k] for k in files}
    except MotionError:
        raise
    except (zipfile.BadZipFile, ValueError, OSError, EOFError, KeyError) as exc:
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise MotionError(f"{path}: not a readable motion .npz ({reason})") from None

    try:
        genre = None
        if "genre" in entries:
            genre = str(_scalar(entries["genre"], "genre")) or None
        names = None
        if "joint_names" in entries:
            names = tuple(str(n) for n in entries["joint_names"].reshape(-1))
        extras = {k: _scalar(v, k) for k, v in entries.items()
                  if k not in KNOWN_KEYS and v.size == 1 and v.dtype.kind in "biufU"}
        return Motion(
            keypoints=entries["keypoints"],
            fps=_scalar(entries["fps"], "fps"),
            confidence=entries.get("confidence"),
            joint_names=names,
            frame_size=entries.get("frame_size"),
            genre=genre,
            extras=extras,
        )
    except MotionError as exc:
        raise MotionError(f"{path}: {exc}") from None


def save_motion(motion: Motion, path: str | Path) -> None:
    """Write a motion ``.npz`` that :func:`load_motion` reads back unchanged."""
    arrays: dict[str, np.ndarray] = {"keypoints": motion.keypoints, "fps": np.float64(motion.fps)}
    if motion.confidence is not None:
        arrays["confidence"] = motion.confidence
    if motion.joint_names is not None:
        arrays["joint_names"] = np.array(motion.joint_names, dtype=str)
    if motion.frame_size is not None:
        arrays["frame_size"] = np.array(motion.frame_size, dtype=np.int64)
    if motion.genre is not None:
        arrays["genre"] = np.array(motion.genre)
    for key, value in motion.extras.items():
        arrays.setdefault(key, np.array(value))
    np.savez_compressed(path, **arrays)
