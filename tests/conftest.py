import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
REAL_DATA = REPO.parent / "shared" / "data" / "real"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def real_data() -> Path:
    if not REAL_DATA.is_dir():
        pytest.skip("../shared/data/real is not present")
    return REAL_DATA


def start_server(log_path: Path, *extra: str, keys: dict | None = None,
                 startup_s: float = 60.0) -> tuple[str, subprocess.Popen]:
    """A real `motionscore serve` process on a free loopback port, answering ``hello`` (with the
    client key files in ``keys`` when it is keyed) within ``startup_s``; its output goes to ``log_path``."""
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


@pytest.fixture
def server_process(tmp_path):
    """A real `motionscore serve` process on a free loopback port; yields (address, Popen)."""
    address, proc = start_server(tmp_path / "server.log", "--workers", "2", "--client-timeout", "6")
    yield address, proc
    stop_server(proc)
