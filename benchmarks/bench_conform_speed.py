"""How long conforming takes: a 60 s song onto a 60 s tempo map, on one thread.

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/bench_conform_speed.py [--seconds 60] [--repeats 3]

The song is a drum-and-chord loop at 124 BPM (tests/kit/songs.py), stereo at 48 kHz, conformed onto a
steady 112 BPM map with a tempo change to 118 BPM halfway; prints the median seconds of
``conform_audio`` (beat tracking, time map, Rubber Band render) and its share of the song's length.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np  # noqa: E402

from motionscore.server.conform.conform import conform_audio  # noqa: E402
from motionscore.shared.tempo_map import TempoMap, TempoSegment  # noqa: E402
from tests.kit.songs import drum_song  # noqa: E402


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args(argv)
    rate = 48_000
    song, _ = drum_song(124, args.seconds * 1.2, rate)
    half = args.seconds / 2
    beats = np.r_[np.arange(0.3, half, 60 / 112), np.arange(half, args.seconds, 60 / 118)]
    tempo_map = TempoMap(beats, np.arange(0, beats.size, 4), 4,
                         (TempoSegment(0, half, 112.0), TempoSegment(half, args.seconds, 118.0)), duration=args.seconds)
    times = []
    for _ in range(args.repeats):
        start = time.perf_counter()
        result = conform_audio(song, rate, tempo_map, name="loop")
        times.append(time.perf_counter() - start)
    median = float(np.median(times))
    print(f"conform {args.seconds:g} s of stereo 48 kHz onto a 2-tempo map: median {median:.2f} s "
          f"({median / args.seconds:.3f} of the song's length) over {args.repeats} runs, "
          f"{len(result.plan.segments)} segments")
    return 0


if __name__ == "__main__":
    sys.exit(main())
