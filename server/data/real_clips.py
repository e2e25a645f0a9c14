"""Real dances with known music, from a folder laid out like ``../shared/data/real`` (see its README).

Every clip was danced to steady-tempo music, so it carries the true tempo and, where the song is
there, the song's beats on the dance's clock:

- ``aistpp2d/*.npz``: motion files with ``music_bpm`` (30 fps, exactly 64 beats long);
- ``aistpp-official/keypoints2d/*.pkl``: official AIST++ pickles, 9 camera views at 60 fps; the
  tempo follows from the music id (mBR2 = 100 BPM; 80 + 10 k BPM for mXXk, 110 + 5 k for house);
- ``paired/NAME.npz`` + ``NAME.beats``: ballroom dances with their song's beats (seconds from the
  dance's first frame); the dance (``DANCE_W_*`` a waltz, ``C`` cha-cha, ``R`` rumba, ``T`` tango)
  becomes the motion's genre, as the AIST++ clips carry theirs (:func:`without_genre` drops it).

The data is third-party and never ships with the product; this module only reads it.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from motionscore.shared.motion import COCO17, Motion, load_motion
from motionscore.shared.options import read_times
from motionscore.shared.rhythm import resample

OFFICIAL_FPS = 60.0
#: The dance letter of a Dance-with-Melody name (``DANCE_W_1``) -> its genre code.
BALLROOM_LETTERS = {"C": "CC", "R": "RB", "T": "TG", "W": "WZ"}


@dataclass(frozen=True)
class RealClip:
    """One real dance: ``motion``, its music's tempo in BPM, and the song's beats in seconds from
    the motion's first frame (None where the song is not available).

    ``true_meter`` is the music's beats per bar: 3 for the ballroom waltzes (``DANCE_W_*``), else 4
    (AIST++ music, cha-cha and rumba are in 4/4, tango in 2/4, which 4/4 bars also fit)."""

    name: str
    kind: str  # "aistpp2d", "aistpp-official" or "paired"
    motion: Motion
    true_bpm: float
    reference_beats: np.ndarray | None = None
    true_meter: int = 4


def aist_music_bpm(music_id: str) -> float:
    """Tempo of an AIST++ music id such as ``mBR2`` or ``mHO5`` (the dataset's published rule)."""
    genre, index = music_id[1:3], int(music_id[3:])
    return 110.0 + 5 * index if genre == "HO" else 80.0 + 10 * index


def read_beats(path: Path) -> np.ndarray:
    """Beat times in seconds from a ``.beats`` file (one per line, optional second column)."""
    return np.asarray(read_times(path), dtype=np.float64)


def load_real_clips(root: Path, views: tuple[int, ...] = tuple(range(9))) -> list[RealClip]:
    """Every clip under ``root`` (missing subfolders are skipped), in a fixed order."""
    from motionscore.server.data.aist_import import genre_of, music_id, read_keypoint_pickle

    clips = []
    for path in sorted((root / "aistpp2d").glob("*.npz")):
        motion = load_motion(path)
        clips.append(RealClip(path.stem, "aistpp2d", motion, float(motion.extras["music_bpm"])))
    for path in sorted((root / "aistpp-official" / "keypoints2d").glob("*.pkl")):
        keypoints = read_keypoint_pickle(path)["keypoints2d"]
        for view in views:
            points = keypoints[view]
            motion = Motion(keypoints=np.nan_to_num(points[..., :2]), fps=OFFICIAL_FPS,
                            confidence=np.clip(np.nan_to_num(points[..., 2]), 0, 1), joint_names=COCO17,
                            frame_size=(1920, 1080), genre=genre_of(path.stem))
            clips.append(RealClip(f"{path.stem}_v{view}", "aistpp-official", motion,
                                  aist_music_bpm(music_id(path.stem))))
    for path in sorted((root / "paired").glob("*.npz")):
        beats = read_beats(path.with_suffix(".beats"))
        motion = load_motion(path)
        letter = path.stem.split("_")[1] if path.stem.count("_") >= 2 else ""
        if motion.genre is None and letter in BALLROOM_LETTERS:
            motion = replace(motion, genre=BALLROOM_LETTERS[letter])
        clips.append(RealClip(path.stem, "paired", motion, float(60.0 / np.median(np.diff(beats))), beats,
                              3 if path.stem.startswith("DANCE_W_") else 4))
    return clips


def without_genre(clip: RealClip) -> RealClip:
    """``clip`` as a user who names no genre would score it."""
    return replace(clip, motion=replace(clip.motion, genre=None))


def at_frame_rate(clip: RealClip, fps: float) -> RealClip:
    """``clip`` as a capture at ``fps`` frames per second would have recorded it (a Blender scene
    at 24, 25 or 30 fps): keypoints and confidence resampled at that rate's frame times, with the
    rhythm's own resampler; the music is the same."""
    motion = clip.motion
    keypoints, weights = resample(motion.keypoints, motion.weights(), motion.fps, fps)
    confidence = None if motion.confidence is None else weights
    return replace(clip, motion=replace(motion, keypoints=keypoints, confidence=confidence, fps=float(fps)))
