"""Real `motionscore serve` processes on free 127.0.0.1 ports, started and stopped one way."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server(log_path: Path, *extra: str, keys: dict | None = None,
                 startup_s: float = 180.0) -> tuple[str, subprocess.Popen]:
    """A real `motionscore serve` process on a free loopback port, answering ``hello`` (with the
    client key files in ``keys`` when it is keyed) within ``startup_s``; its output goes to ``log_path``.

    The server warms up before it answers (a first take, numba compiling librosa's JIT into a cold
    cache); on two busy cores that has taken two and a half minutes, hence the generous default."""
    address = f"tcp://127.0.0.1:{free_port()}"
    log = open(log_path, "w")
    proc = subprocess.Popen([sys.executable, "-m", "motionscore.server.cli", "serve", "--bind", address, *extra],
                            stdout=log, stderr=subprocess.STDOUT, env={**os.environ, "PYTHONUNBUFFERED": "1"})
    log.close()
    from motionscore.shared.client import ScoreClient, ServerError

    deadline = time.monotonic() + startup_s
    while True:
        try:
            with ScoreClient(address, timeout=1.0, **(keys or {})) as client:
                client.hello()
            return address, proc
        except ServerError:
            if proc.poll() is not None or time.monotonic() > deadline:
                proc.kill()
                raise RuntimeError("server did not start: " + Path(log_path).read_text())


def stop_server(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()


def cancel_midway(client, motion, options, timeout_s: float = 60.0):
    """Submit a long take through ``client``, cancel it once it is under way (10 %), and wait for the
    job to end; returns its JobState (its error says how it ended)."""
    job_id = client.submit(motion, options)
    job = client.jobs[job_id]
    deadline = time.monotonic() + timeout_s
    while job.fraction < 0.1 and not job.done and time.monotonic() < deadline:
        client.poll(0.2)
    client.cancel(job_id)
    while not job.done and time.monotonic() < deadline:
        client.poll(0.2)
    return job
