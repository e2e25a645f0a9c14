"""Spine benchmarks: rhythm throughput, synth real-time factor (one core), a fresh server's first
take against its warm ones, loopback round trip.

Run:  .venv/bin/python benchmarks/bench_spine.py
Prints figures only; nothing here asserts a speed (machines differ).
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time

os.environ.setdefault("OMP_NUM_THREADS", "1")  # "one core" figures
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("MKL_NUM_THREADS", "1")

import numpy as np  # noqa: E402

from motionscore.server.generation.backbones import GenerationRequest, load_backbone  # noqa: E402
from motionscore.shared.synthetic_dance import beat_times, synthetic_dance  # noqa: E402
from motionscore.shared.client import ScoreClient  # noqa: E402
from motionscore.shared.options import ScoreOptions  # noqa: E402
from motionscore.shared.rhythm import extract_rhythm  # noqa: E402


def best_of(fn, repeats=3):
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def main() -> None:
    motion = synthetic_dance(beat_times(60.0, 120), 60.0, fps=60, seed=0)  # 3600 frames x 17 joints
    seconds = best_of(lambda: extract_rhythm(motion))
    jf = motion.num_frames * motion.num_joints
    print(f"rhythm extraction, 60 s at 60 fps x 17 joints: {seconds * 1000:.1f} ms "
          f"= {jf / seconds / 1e6:.2f} M joint-frames/s (incl. beat tracking)")

    rhythm = extract_rhythm(motion)
    synth = load_backbone("synth")
    for genre in ("HO", "WA", "KR"):
        request = GenerationRequest(rhythm=rhythm, duration=60.0, sample_rate=48000, genre=genre, seed=0)
        seconds = best_of(lambda: synth.generate(request), repeats=2)
        print(f"synth {genre}, 60 s at 48 kHz on one core: {seconds:.2f} s = real-time factor {60.0 / seconds:.0f}x")

    def fresh_server(*extra):
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        address = f"tcp://127.0.0.1:{port}"
        started = time.perf_counter()
        server = subprocess.Popen([sys.executable, "-m", "motionscore.server.cli", "serve", "--bind", address, *extra],
                                  stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 120
        with ScoreClient(address, timeout=60) as probe:
            while True:
                try:
                    probe.hello(timeout=1.0)
                    break
                except Exception:
                    if time.monotonic() > deadline:
                        server.kill()
                        raise
        return server, address, time.perf_counter() - started

    for label, extra in (("warm-up on (default)", ()), ("--no-warm-up", ("--no-warm-up",))):
        server, address, startup = fresh_server(*extra)
        try:
            with ScoreClient(address, timeout=60) as client:
                walls, overheads = [], []
                for _ in range(3):
                    start = time.perf_counter()
                    result = client.score(motion, ScoreOptions(sample_rate=48000))
                    walls.append(time.perf_counter() - start)
                    overheads.append(walls[-1] - result.metadata["compute_s"])
        finally:
            server.terminate()
            server.wait(10)
        print(f"fresh server, {label}: ready after {startup:.1f} s; 60 s shot: first take {walls[0]:.2f} s, "
              f"then {walls[1]:.2f} s and {walls[2]:.2f} s (first / warm = {walls[0] / min(walls[1:]):.1f}x)")
    print(f"loopback round trip, 60 s motion (3600x17) + 60 s of 48 kHz float32 audio "
          f"({result.audio.nbytes / 1e6:.1f} MB): overhead {min(overheads) * 1000:.0f} ms "
          f"(wall {walls[-1]:.2f} s, server compute {result.metadata['compute_s']:.2f} s)")
    print(f"machine: {os.cpu_count()} cores, numpy {np.__version__}")


if __name__ == "__main__":
    main()
