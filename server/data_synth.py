"""``motionscore data synth``: a synthetic dance-music world for training without downloads.

Each clip is a procedural COCO-17 dancer (``synthetic_dance``) with accents on the beat at a tempo
between 80 and 160 BPM and a genre-dependent movement style, paired with music from the ``synth``
backbone rendered on those same beats, so the music's beats are the dance's accents.
``DATA/metadata.json`` records each clip's split, genre, tempo (BPM) and first accent (s): the
learning proof writes its pretraining captions from it.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from motionscore.shared.genres import GENRE_CODES
from motionscore.shared.motion import save_motion
from motionscore.shared.rhythm import extract_rhythm

from .audio_io import write_audio
from .backbones import GenerationRequest, load_backbone
from .synthetic_dance import beat_times, synthetic_dance


def make_world(out: Path, clips: int, seed: int = 0, seconds: float = 5.12, sample_rate: int = 32000,
               val_fraction: float = 0.15, test_fraction: float = 0.0, progress=None) -> dict[str, int]:
    """Write ``clips`` pairs split into train/val (and test when ``test_fraction`` > 0); returns
    counts per split."""
    rng = np.random.default_rng(seed)
    synth = load_backbone("synth")
    counts = {"train": 0, "val": 0} | ({"test": 0} if test_fraction > 0 else {})
    metadata = {}
    n_val = max(1, int(round(clips * val_fraction))) if clips > 1 else 0
    n_test = max(1, int(round(clips * test_fraction))) if test_fraction > 0 and clips > 2 else 0
    for i in range(clips):
        split = "val" if i < n_val else "test" if i < n_val + n_test else "train"
        folder = out / split
        folder.mkdir(parents=True, exist_ok=True)
        genre = GENRE_CODES[int(rng.integers(len(GENRE_CODES)))]
        bpm = float(rng.uniform(80, 160))
        phase = float(rng.uniform(0.05, 60.0 / bpm))
        accents = beat_times(seconds, bpm, phase=phase)
        motion = synthetic_dance(accents, seconds, fps=30, genre=genre, seed=int(rng.integers(1 << 31)))
        music = synth.generate(GenerationRequest(rhythm=extract_rhythm(motion), duration=motion.duration,
                                                 sample_rate=sample_rate, genre=genre, seed=i))
        name = f"synth{i:05d}"
        save_motion(motion, folder / f"{name}.npz")
        write_audio(folder / f"{name}.wav", music.audio, sample_rate, force=True)
        counts[split] += 1
        metadata[name] = {"split": split, "genre": genre, "bpm": round(bpm, 3), "first_accent_s": round(phase, 4)}
        if progress:
            progress(i + 1, clips)
    (out / "metadata.json").write_text(json.dumps(metadata, indent=1))
    return counts
