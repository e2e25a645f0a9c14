"""A real server process running a tiny MusicGen with encoders: waiting requests are batched."""

import subprocess
import sys
import time

import pytest

pytest.importorskip("audiocraft")

from motionscore.shared.synthetic_dance import beat_times, synthetic_dance  # noqa: E402
from motionscore.shared.client import ScoreClient  # noqa: E402
from motionscore.shared.options import ScoreOptions  # noqa: E402
from tests.kit.servers import start_server, stop_server  # noqa: E402


def test_musicgen_server_batches_waiting_requests(tmp_path):
    checkpoint = tmp_path / "enc.safetensors"
    subprocess.run([sys.executable, "-m", "motionscore.server.cli", "encoders", "init", "--backbone", "musicgen",
                    "-o", str(checkpoint)], check=True, capture_output=True, timeout=300)
    address, proc = start_server(tmp_path / "server.log", "--backbone", "musicgen", "--model", "tiny",
                                 "--encoders", str(checkpoint), "--device", "cpu", startup_s=180)
    try:
        with ScoreClient(address, timeout=1.0) as probe:
            info = probe.hello()
        assert info["backbone"]["name"] == "musicgen" and info["backbone"]["encoders"] == str(checkpoint)
        with ScoreClient(address, timeout=120) as client:
            jobs = []
            for k, bpm in enumerate([90, 110, 130, 150, 170]):
                motion = synthetic_dance(beat_times(1.5, bpm), 1.5, seed=k)
                jobs.append(client.submit(motion, ScoreOptions(seed=k, sample_rate=16000)))
            deadline = time.monotonic() + 240
            while not all(client.jobs[j].done for j in jobs) and time.monotonic() < deadline:
                client.poll(0.5)
            states = [client.jobs[j] for j in jobs]
        assert all(s.error is None for s in states), [s.error for s in states]
        assert all(s.result.audio.shape == (24000,) for s in states)
        assert max(s.result.metadata.get("batch_size", 1) for s in states) > 1
        assert all(s.result.metadata["backbone"] == "musicgen" for s in states)
    finally:
        stop_server(proc)
