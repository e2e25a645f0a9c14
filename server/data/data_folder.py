"""Training data folders: ``DATA/{train,val[,test]}/NAME.npz`` (motion with a genre) + ``NAME.wav``.

``check_folder`` reports problems per file: a missing pair, an unreadable or invalid motion, a
missing or unknown genre, unreadable audio, or audio whose length differs from the motion's by
more than ``LENGTH_TOLERANCE_S``.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from motionscore.shared.motion import Motion, MotionError, load_motion

SPLITS = ("train", "val", "test")
REQUIRED_SPLITS = ("train", "val")
LENGTH_TOLERANCE_S = 0.05


@dataclass(frozen=True)
class Problem:
    path: str
    message: str


@dataclass(frozen=True)
class Pair:
    name: str
    motion_path: Path
    audio_path: Path


def pairs(folder: Path) -> list[Pair]:
    """Complete (motion, audio) pairs of one split folder, sorted by name."""
    motions = {p.stem: p for p in folder.glob("*.npz")}
    audio = {p.stem: p for p in folder.glob("*.wav")}
    return [Pair(n, motions[n], audio[n]) for n in sorted(set(motions) & set(audio))]


def check_folder(root: Path) -> tuple[dict[str, int], list[Problem]]:
    """Counts of valid pairs per split and every problem found."""
    import soundfile as sf

    problems: list[Problem] = []
    counts: dict[str, int] = {}
    if not root.is_dir():
        return counts, [Problem(str(root), "no such folder")]
    for split in SPLITS:
        folder = root / split
        if not folder.is_dir():
            if split in REQUIRED_SPLITS:
                problems.append(Problem(str(folder), f"missing '{split}' folder"))
            continue
        motions = {p.stem: p for p in folder.glob("*.npz")}
        audio = {p.stem: p for p in folder.glob("*.wav")}
        for name in sorted(set(motions) - set(audio)):
            problems.append(Problem(str(motions[name]), "no audio pair (NAME.wav)"))
        for name in sorted(set(audio) - set(motions)):
            problems.append(Problem(str(audio[name]), "no motion pair (NAME.npz)"))
        good = 0
        for pair in pairs(folder):
            try:
                motion = load_motion(pair.motion_path)
            except MotionError as exc:
                problems.append(Problem(str(pair.motion_path), str(exc).split(": ", 1)[-1]))
                continue
            if motion.genre is None:
                problems.append(Problem(str(pair.motion_path), "no genre (add a 'genre' entry)"))
                continue
            try:
                info = sf.info(str(pair.audio_path))
            except Exception as exc:  # soundfile raises its own types
                problems.append(Problem(str(pair.audio_path), f"unreadable audio ({type(exc).__name__})"))
                continue
            seconds = info.frames / info.samplerate
            if abs(seconds - motion.duration) > LENGTH_TOLERANCE_S:
                problems.append(Problem(str(pair.audio_path), f"length mismatch: audio {seconds:.3f} s, "
                                                              f"motion {motion.duration:.3f} s"))
                continue
            good += 1
        counts[split] = good
    return counts, problems


def load_split(root: Path, split: str) -> list[tuple[str, Motion, Path]]:
    """(name, motion, audio path) for every valid pair of a split."""
    out = []
    for pair in pairs(root / split):
        out.append((pair.name, load_motion(pair.motion_path), pair.audio_path))
    return out
