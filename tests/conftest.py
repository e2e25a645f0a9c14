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


@pytest.fixture
def server_process(tmp_path):
    """A real `motionscore serve` process on a free loopback port; yields (address, Popen)."""
    address = f"tcp://127.0.0.1:{free_port()}"
    log = open(tmp_path / "server.log", "w")
    proc = subprocess.Popen([sys.executable, "-m", "motionscore.server.cli", "serve", "--bind", address,
                             "--workers", "2", "--client-timeout", "6"],
                            stdout=log, stderr=subprocess.STDOUT, env={**os.environ, "PYTHONUNBUFFERED": "1"})
    from motionscore.shared.client import ScoreClient, ServerError

    deadline = time.monotonic() + 60
    while True:
        try:
            with ScoreClient(address, timeout=1.0) as client:
                client.hello()
            break
        except ServerError:
            if proc.poll() is not None or time.monotonic() > deadline:
                proc.kill()
                raise RuntimeError("server did not start: " + (tmp_path / "server.log").read_text())
    yield address, proc
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
    log.close()
