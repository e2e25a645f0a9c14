"""Takes per minute through `motionscore serve --engine ray` with 1 and with 2 replicas, in one run.

    .venv/bin/python benchmarks/bench_scale.py                       # synth, this machine's CPUs
    .venv/bin/python benchmarks/bench_scale.py --backbone musicgen --model small-random \\
        --gpus-per-replica 0.5 --seconds 5.12                        # on a GPU machine

For each replica count a real server process is started on a free 127.0.0.1 port (and stopped),
``--clients`` command-line-style clients (threads, one ScoreClient each) score ``--takes`` takes of
``--seconds`` seconds between them, and the wall time from the first submission to the last result
gives takes per minute. Every take is checked for its exact length. Threads per process are pinned
to 1 (OMP/MKL/OpenBLAS, inherited by the replicas) so replicas do not fight over cores. The last
line: ``scale 2 vs 1 replica(s): X.XXx (A vs B takes/min)``.
"""

from __future__ import annotations

import argparse
import os
import platform
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

THREAD_VARS = ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS", "NUMBA_NUM_THREADS")
for _var in THREAD_VARS:
    os.environ.setdefault(_var, "1")

from motionscore.shared.synthetic_dance import beat_times, synthetic_dance  # noqa: E402
from motionscore.shared.client import ScoreClient, ServerError  # noqa: E402
from motionscore.shared.options import ScoreOptions  # noqa: E402


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start(replicas: int, args, log: Path) -> tuple[str, subprocess.Popen]:
    address = f"tcp://127.0.0.1:{free_port()}"
    command = [sys.executable, "-m", "motionscore.server.cli", "serve", "--engine", "ray", "--replicas", str(replicas),
               "--bind", address, "--backbone", args.backbone, "--queue", "256"]
    if args.model:
        command += ["--model", args.model]
    if args.gpus_per_replica:
        command += ["--gpus-per-replica", str(args.gpus_per_replica)]
    with open(log, "w") as out:
        proc = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + args.startup_s
    while True:
        try:
            with ScoreClient(address, timeout=1.0) as client:
                client.hello()
            return address, proc
        except ServerError:
            if proc.poll() is not None or time.monotonic() > deadline:
                proc.kill()
                raise SystemExit(f"bench_scale: the server did not start; see {log}")


def stop(proc: subprocess.Popen) -> None:
    proc.terminate()
    try:
        proc.wait(60)
    except subprocess.TimeoutExpired:
        proc.kill()


def measure(address: str, args) -> tuple[float, set[str]]:
    """Takes per minute with ``args.clients`` clients sharing ``args.takes`` takes; the replicas seen."""
    motion = synthetic_dance(beat_times(args.seconds, 120), args.seconds, fps=30, seed=0)
    expected = round(motion.duration * args.sample_rate)
    todo = list(range(args.takes))
    lock = threading.Lock()
    replicas: set[str] = set()
    errors: list[str] = []

    def client_loop() -> None:
        with ScoreClient(address, timeout=args.timeout) as client:
            while True:
                with lock:
                    if not todo or errors:
                        return
                    seed = todo.pop()
                try:
                    result = client.score(motion, ScoreOptions(seed=seed, sample_rate=args.sample_rate))
                except ServerError as exc:
                    errors.append(str(exc))
                    return
                if result.audio.shape != (expected,):
                    errors.append(f"take {seed}: {result.audio.shape[0]} samples, expected {expected}")
                with lock:
                    replicas.add(result.metadata.get("replica", "?"))

    threads = [threading.Thread(target=client_loop) for _ in range(args.clients)]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    wall = time.perf_counter() - started
    if errors:
        raise SystemExit(f"bench_scale: {errors[0]}")
    return args.takes / wall * 60.0, replicas


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--backbone", default="synth")
    parser.add_argument("--model", default=None, help="ML backbones: tiny, small-random (musicgen), a hub id...")
    parser.add_argument("--gpus-per-replica", type=float, default=0.0)
    parser.add_argument("--takes", type=int, default=24, help="takes per replica count (default 24)")
    parser.add_argument("--clients", type=int, default=6, help="concurrent clients (default 6)")
    parser.add_argument("--seconds", type=float, default=20.0, help="length of each take (default 20 s)")
    parser.add_argument("--sample-rate", type=int, default=48000)
    parser.add_argument("--timeout", type=float, default=60.0)
    parser.add_argument("--startup-s", type=float, default=300.0)
    parser.add_argument("--log-dir", default=None, help="keep the servers' logs here (default: a temp folder)")
    args = parser.parse_args(argv)
    import tempfile

    log_dir = Path(args.log_dir or tempfile.mkdtemp(prefix="bench_scale-"))
    log_dir.mkdir(parents=True, exist_ok=True)
    print(f"bench_scale: {args.backbone}{' ' + args.model if args.model else ''}, {args.takes} takes of "
          f"{args.seconds:g} s at {args.sample_rate} Hz, {args.clients} clients; {platform.processor() or platform.machine()}, "
          f"{os.cpu_count()} CPUs, threads per process {os.environ['OMP_NUM_THREADS']}", flush=True)
    rates = {}
    for replicas in (1, 2):
        address, proc = start(replicas, args, log_dir / f"server-{replicas}.log")
        try:
            measure(address, argparse.Namespace(**{**vars(args), "takes": max(2, args.clients)}))  # warm every replica
            rate, seen = measure(address, args)
        finally:
            stop(proc)
        rates[replicas] = rate
        print(f"  {replicas} replica(s): {rate:7.1f} takes/min ({len(seen)} replica(s) used)", flush=True)
    print(f"scale 2 vs 1 replica(s): {rates[2] / rates[1]:.2f}x ({rates[2]:.1f} vs {rates[1]:.1f} takes/min)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
