"""Fixtures every tier may use; the helpers behind them live in tests/kit (never import one test
module from another)."""

import os
import tempfile
from pathlib import Path

import pytest

# Numba (librosa's JIT) caches compiled code beside the installed package, and two processes
# compiling the same function at once can corrupt that cache: every later process that loads it
# segfaults. Each pytest-xdist worker, with the servers and commands it starts, gets a cache of its own.
if os.environ.get("PYTEST_XDIST_WORKER"):
    os.environ.setdefault("NUMBA_CACHE_DIR", str(Path(tempfile.gettempdir())
                                                  / f"motionscore-numba-{os.environ['PYTEST_XDIST_WORKER']}"))

from tests.kit.paths import REAL_DATA
from tests.kit.servers import start_server, stop_server


@pytest.fixture
def real_data() -> Path:
    if not REAL_DATA.is_dir():
        pytest.skip("../shared/data/real is not present")
    return REAL_DATA


@pytest.fixture
def server_process(tmp_path):
    """A real `motionscore serve` process of its own (for tests that stop, flood or time out a
    server); yields (address, Popen)."""
    address, proc = start_server(tmp_path / "server.log", "--workers", "2", "--client-timeout", "6")
    yield address, proc
    stop_server(proc)


@pytest.fixture(scope="session")
def shared_server(tmp_path_factory):
    """One synth server for the whole session, for tests that only ask it for takes; yields its address."""
    address, proc = start_server(tmp_path_factory.mktemp("shared-server") / "server.log", "--workers", "2")
    yield address
    stop_server(proc)
