"""``motionscore data synth``: a synthetic dance-music world for training without downloads.

Each clip is a procedural COCO-17 dancer (``synthetic_dance``) with accents on the beat at a tempo
between 80 and 160 BPM and a genre-dependent movement style, paired with music from the ``synth``
backbone rendered on those same beats, so the music's beats are the dance's accents.
``DATA/metadata.json`` records each clip's split, genre, tempo (BPM) and first accent (s): the
learning proof writes its pretraining captions from it.
"""

from __future__ import annotations

import functools
import json
from pathlib import Path

import numpy as np

from motionscore.shared.genres import GENRE_CODES
from motionscore.shared.motion import save_motion
from motionscore.shared.rhythm import extract_rhythm

from motionscore.server.generation.audio_io import write_audio
from motionscore.server.generation.backbones import GenerationRequest, load_backbone
from motionscore.shared.synthetic_dance import beat_times, synthetic_dance


@functools.lru_cache(maxsize=1)
def _synth():
    return load_backbone("synth")


#: Fewest clips worth rendering in worker processes. A spawned worker pays its imports and numba's
#: compilation once (seconds), while a clip renders in a fraction of a second in a warm process, so
#: a small world is rendered faster in this process alone.
PARALLEL_MIN_CLIPS = 200


def _clip_plan(clips: int, seed: int, seconds: float, val_fraction: float, test_fraction: float) -> list[dict]:
    """Every clip's split, genre, tempo, first accent and dancer seed, drawn in order from one
    generator (so a clip is the same whatever the number of workers that render it)."""
    rng = np.random.default_rng(seed)
    n_val = max(1, int(round(clips * val_fraction))) if clips > 1 else 0
    n_test = max(1, int(round(clips * test_fraction))) if test_fraction > 0 and clips > 2 else 0
    plan = []
    for i in range(clips):
        genre = GENRE_CODES[int(rng.integers(len(GENRE_CODES)))]
        bpm = float(rng.uniform(80, 160))
        phase = float(rng.uniform(0.05, 60.0 / bpm))
        plan.append({"index": i, "split": "val" if i < n_val else "test" if i < n_val + n_test else "train",
                     "genre": genre, "bpm": bpm, "phase": phase, "dancer_seed": int(rng.integers(1 << 31)),
                     "seconds": seconds})
    return plan


def _render_clip(clip: dict, out: str, sample_rate: int) -> str:
    """Write one planned clip's NAME.npz + NAME.wav under ``out/split``; returns NAME."""
    accents = beat_times(clip["seconds"], clip["bpm"], phase=clip["phase"])
    motion = synthetic_dance(accents, clip["seconds"], fps=30, genre=clip["genre"], seed=clip["dancer_seed"])
    # The music's beats are where this dancer stops (its kinematic beats), as the world is designed.
    music = _synth().generate(GenerationRequest(rhythm=extract_rhythm(motion).following_kinematic_beats(),
                                                duration=motion.duration, sample_rate=sample_rate,
                                                genre=clip["genre"], seed=clip["index"]))
    name = f"synth{clip['index']:05d}"
    folder = Path(out) / clip["split"]
    save_motion(motion, folder / f"{name}.npz")
    write_audio(folder / f"{name}.wav", music.audio, sample_rate, force=True)
    return name


def make_world(out: Path, clips: int, seed: int = 0, seconds: float = 5.12, sample_rate: int = 32000,
               val_fraction: float = 0.15, test_fraction: float = 0.0, progress=None, workers: int = 1) -> dict[str, int]:
    """Write ``clips`` pairs split into train/val (and test when ``test_fraction`` > 0); returns
    counts per split. ``workers`` > 1 renders clips in that many processes (same files) when there
    are at least :data:`PARALLEL_MIN_CLIPS` of them."""
    plan = _clip_plan(clips, seed, seconds, val_fraction, test_fraction)
    counts = {"train": 0, "val": 0} | ({"test": 0} if test_fraction > 0 else {})
    for clip in plan:
        (out / clip["split"]).mkdir(parents=True, exist_ok=True)
        counts[clip["split"]] += 1
    if workers > 1 and clips >= max(PARALLEL_MIN_CLIPS, 2):
        import multiprocessing
        from concurrent.futures import ProcessPoolExecutor

        # spawn, not fork: the caller may hold torch's thread pools, which do not survive a fork.
        with ProcessPoolExecutor(max_workers=workers, mp_context=multiprocessing.get_context("spawn")) as pool:
            for done, _ in enumerate(pool.map(_render_clip, plan, [str(out)] * clips, [sample_rate] * clips,
                                              chunksize=8), start=1):
                if progress:
                    progress(done, clips)
    else:
        for done, clip in enumerate(plan, start=1):
            _render_clip(clip, str(out), sample_rate)
            if progress:
                progress(done, clips)
    metadata = {f"synth{c['index']:05d}": {"split": c["split"], "genre": c["genre"], "bpm": round(c["bpm"], 3),
                                          "first_accent_s": round(c["phase"], 4)} for c in plan}
    (out / "metadata.json").write_text(json.dumps(metadata, indent=1))
    return counts
