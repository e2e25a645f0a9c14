"""``motionscore data import-aist``: AIST++ 2D keypoints + music -> a training data folder.

AIST++ ships 2D keypoints as pickles (``keypoints2d/<sequence>.pkl``: a dict with ``keypoints2d``
of shape (9 views, T, 17, 3) = x, y, confidence at 60 fps). A pickle can run code, so it is read
with a restricted unpickler that only rebuilds plain containers and numpy arrays and refuses
anything else. The music file is named by the sequence's music id (``gHO_sBM_cAll_d19_mHO0_ch01``
-> ``mHO0.wav``); the genre comes from the ``gXX`` code.
"""

from __future__ import annotations

import io
import math
import pickle
from pathlib import Path

import numpy as np

from motionscore.shared.genres import parse_genre
from motionscore.shared.motion import COCO17, Motion, save_motion

from motionscore.server.generation.audio_io import write_audio

FPS = 60.0
VIEWS = 9
#: What an AIST++ keypoint pickle may contain: numpy arrays and dtypes, nothing else.
_ALLOWED = {
    ("numpy.core.multiarray", "_reconstruct"), ("numpy._core.multiarray", "_reconstruct"),
    ("numpy", "ndarray"), ("numpy", "dtype"), ("numpy.core.multiarray", "scalar"),
    ("numpy._core.multiarray", "scalar"),
}


class ImportError_(ValueError):
    """A file that cannot be imported: one line."""


class _RestrictedUnpickler(pickle.Unpickler):
    def find_class(self, module, name):
        if (module, name) in _ALLOWED:
            return super().find_class(module, name)
        raise pickle.UnpicklingError(f"refused {module}.{name}: only plain containers and numpy arrays are allowed")


def read_keypoint_pickle(path: Path) -> dict:
    try:
        data = _RestrictedUnpickler(io.BytesIO(path.read_bytes())).load()
    except pickle.UnpicklingError as exc:
        raise ImportError_(f"{path}: {exc}") from None
    except Exception as exc:  # truncated or not a pickle
        raise ImportError_(f"{path}: not a readable keypoint pickle ({type(exc).__name__})") from None
    if not isinstance(data, dict) or "keypoints2d" not in data:
        raise ImportError_(f"{path}: expected a dict with 'keypoints2d'")
    kp = np.asarray(data["keypoints2d"], dtype=np.float32)
    if kp.ndim != 4 or kp.shape[0] != VIEWS or kp.shape[2:] != (17, 3):
        raise ImportError_(f"{path}: keypoints2d must be (9, T, 17, 3), got {kp.shape}")
    return {"keypoints2d": kp}


def music_id(sequence: str) -> str:
    return next((part for part in sequence.split("_") if part.startswith("m")), "")


def genre_of(sequence: str) -> str:
    code = sequence.split("_", 1)[0]
    genre = parse_genre(code)
    if genre is None:
        raise ImportError_(f"{sequence}: no genre code")
    return genre


def read_split_lists(folder: Path | None) -> dict[str, str]:
    """sequence -> split from the official lists (crossmodal_{train,val,test}.txt), if given."""
    if folder is None:
        return {}
    assignment = {}
    for split in ("train", "val", "test"):
        path = folder / f"crossmodal_{split}.txt"
        if path.is_file():
            for line in path.read_text().split():
                assignment[line.strip()] = split
    return assignment


def import_aist(keypoints: Path, audio: Path, out: Path, window_s: float = 5.12, hop_s: float | None = None,
                views: list[int] | None = None, splits: Path | None = None, progress=None) -> dict[str, int]:
    """Cut every sequence into windows, pair each with its music segment; returns counts per split."""
    import soundfile as sf

    hop_s = window_s if hop_s is None else hop_s
    views = views if views is not None else [0]
    if not (math.isfinite(window_s) and window_s > 0 and math.isfinite(hop_s) and hop_s > 0):
        raise ImportError_(f"window ({window_s} s) and hop ({hop_s} s) must be positive")
    if round(window_s * FPS) < 1 or round(hop_s * FPS) < 1:
        raise ImportError_(f"window and hop must each span at least one frame at {FPS:g} fps")
    bad = [v for v in views if not 0 <= v < VIEWS]
    if bad or not views:
        raise ImportError_(f"camera views must be among 0-{VIEWS - 1}, got {views}")
    assignment = read_split_lists(splits)
    counts = {"train": 0, "val": 0, "test": 0}
    files = sorted(keypoints.glob("*.pkl"))
    if not files:
        raise ImportError_(f"no .pkl keypoint files in {keypoints}")
    for index, path in enumerate(files, 1):
        sequence = path.stem
        split = assignment.get(sequence, "train" if assignment == {} else None)
        if split is None:
            continue
        kp = read_keypoint_pickle(path)["keypoints2d"]
        music_path = audio / f"{music_id(sequence)}.wav"
        if not music_path.is_file():
            raise ImportError_(f"{sequence}: no music file {music_path}")
        music, rate = sf.read(str(music_path), dtype="float32", always_2d=True)
        music = music.mean(axis=1)
        genre = genre_of(sequence)
        frames = int(round(window_s * FPS))
        step = int(round(hop_s * FPS))
        total = min(kp.shape[1], int(music.size / rate * FPS))
        for view in views:
            for w, start in enumerate(range(0, total - frames + 1, step)):
                points = kp[view, start:start + frames]
                motion = Motion(keypoints=np.nan_to_num(points[..., :2]), fps=FPS,
                                confidence=np.clip(np.nan_to_num(points[..., 2]), 0, 1), joint_names=COCO17,
                                frame_size=(1920, 1080), genre=genre)
                lo = int(round(start / FPS * rate))
                segment = music[lo:lo + int(round(frames / FPS * rate))]
                folder = out / split
                folder.mkdir(parents=True, exist_ok=True)
                name = f"{sequence}_v{view}_w{w:03d}"
                save_motion(motion, folder / f"{name}.npz")
                write_audio(folder / f"{name}.wav", segment, rate, force=True)
                counts[split] += 1
        if progress:
            progress(index, len(files))
    return counts
