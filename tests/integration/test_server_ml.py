"""Real server processes running tiny ML backbones: MusicGen with encoders batches waiting requests;
Stable Audio sends stereo over the wire."""

import time

import pytest

from motionscore.shared.synthetic_dance import beat_times, synthetic_dance  # noqa: E402
from motionscore.shared import protocol as P  # noqa: E402
from motionscore.shared.client import ScoreClient, ServerError  # noqa: E402
from motionscore.shared.options import ScoreOptions  # noqa: E402
from tests.kit.servers import start_server, stop_server  # noqa: E402


def test_musicgen_server_batches_waiting_requests(tmp_path):
    pytest.importorskip("audiocraft")
    checkpoint = tmp_path / "enc.safetensors"
    from motionscore.server.cli import main

    assert main(["encoders", "init", "--backbone", "musicgen", "-o", str(checkpoint)]) == 0
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


def dance(seconds: float):
    return synthetic_dance(beat_times(seconds, 120), seconds, fps=30, seed=0)


def test_stereo_over_the_wire_and_refused_by_a_mono_server(tmp_path, shared_server):
    pytest.importorskip("diffusers")
    address, proc = start_server(tmp_path / "server.log", "--backbone", "stableaudio", "--model", "tiny",
                                 startup_s=180.0)
    try:
        with ScoreClient(address, timeout=120) as client:
            assert client.hello()["backbone"]["channels"] == 2
            result = client.score(dance(2.0), ScoreOptions(sample_rate=16000))
            assert result.audio.shape == (32000, 2) and result.metadata["channels"] == 2
            assert client.score(dance(2.0), ScoreOptions(sample_rate=16000, channels="mono")).audio.shape == (32000,)
    finally:
        stop_server(proc)
    with ScoreClient(shared_server, timeout=30) as client:  # a synth server
        with pytest.raises(ServerError) as refused:
            client.score(dance(1.0), ScoreOptions(channels="stereo"))
        assert refused.value.code == P.E_BAD_OPTIONS and "makes mono audio" in refused.value.message
