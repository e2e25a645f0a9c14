"""Does beat lock help? F1 (0.2 s) between music beats and kinematic beats, before and after.

Run:  .venv/bin/python benchmarks/bench_beatlock.py
Cases: synth takes (already on the beat), synth takes generated for the wrong tempo/phase, and tiny
MusicGen takes (music unrelated to the motion). The default of --beat-lock follows from this.
"""

from __future__ import annotations

import time

import numpy as np

from motionscore.server.generation.backbones import GenerationRequest, load_backbone
from motionscore.server.generation.beatlock import beat_lock
from motionscore.server.analysis.metrics import beat_scores, track_music_beats
from motionscore.shared.synthetic_dance import beat_times, synthetic_dance
from motionscore.shared.rhythm import extract_rhythm

SR = 22050


def f1(audio, beats):
    return beat_scores(track_music_beats(audio, SR)[1], beats, 0.2).f1


def row(label, audio, beats):
    start = time.perf_counter()
    locked = beat_lock(audio, SR, beats)
    seconds = time.perf_counter() - start
    before, after = f1(audio, beats), f1(locked.audio, beats)
    print(f"{label:38s} F1 {before:.3f} -> {after:.3f}   anchors {locked.anchors:3d}  "
          f"max stretch {locked.max_stretch * 100:4.1f} %  {seconds:.2f} s")
    return before, after


def main() -> None:
    synth = load_backbone("synth")
    results = {"aligned synth": [], "off-beat synth": [], "tiny musicgen": []}
    for genre, bpm in [("HO", 90), ("MH", 110), ("PO", 128), ("KR", 150)]:
        beats = beat_times(20, bpm)
        rhythm = extract_rhythm(synthetic_dance(beats, 20, genre=genre, seed=1))
        take = synth.generate(GenerationRequest(rhythm=rhythm, duration=20, sample_rate=SR, genre=genre))
        results["aligned synth"].append(row(f"synth {genre} {bpm} BPM (on the beat)", take.audio, rhythm.beat_times))
        wrong = extract_rhythm(synthetic_dance(beat_times(20, bpm * 0.94, phase=0.45), 20, genre=genre, seed=2))
        off = synth.generate(GenerationRequest(rhythm=wrong, duration=20, sample_rate=SR, genre=genre))
        results["off-beat synth"].append(row(f"synth {genre} at -6 % tempo, wrong phase", off.audio, rhythm.beat_times))
    musicgen = load_backbone("musicgen", model="tiny", device="cpu")
    for bpm in (100, 120, 140):
        beats = beat_times(12, bpm)
        rhythm = extract_rhythm(synthetic_dance(beats, 12, seed=3))
        take = musicgen.generate(GenerationRequest(rhythm=rhythm, duration=12, sample_rate=SR, seed=1))
        results["tiny musicgen"].append(row(f"tiny musicgen, motion at {bpm} BPM", take.audio, rhythm.beat_times))
    for name, pairs in results.items():
        before, after = np.mean(pairs, axis=0)
        print(f"mean {name:14s} F1 {before:.3f} -> {after:.3f}")


if __name__ == "__main__":
    main()
