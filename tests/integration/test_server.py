"""Transport tests against a real `motionscore serve` process on 127.0.0.1 (bounded, self-stopping)."""

import signal
import threading
import time

import msgpack
import pytest
import zmq

from motionscore.shared.synthetic_dance import beat_times, synthetic_dance
from motionscore.shared import limits
from motionscore.shared import protocol as P
from motionscore.shared.client import ScoreClient, ServerError
from motionscore.shared.options import ScoreOptions
from tests.kit.servers import cancel_midway


def short_motion(seconds=1.0, seed=0):
    return synthetic_dance(beat_times(seconds, 120), seconds, fps=30, seed=seed)


def raw_socket(address):
    sock = zmq.Context.instance().socket(zmq.DEALER)
    sock.setsockopt(zmq.LINGER, 0)
    sock.setsockopt(zmq.RCVTIMEO, 10_000)
    sock.connect(address)
    return sock


def test_hello_and_score(shared_server):
    address = shared_server
    with ScoreClient(address) as client:
        info = client.hello()
        assert info["backbone"]["name"] == "synth" and info["protocol"] == P.PROTOCOL_VERSION
        assert {"HO", "WZ", "CC"} <= set(info["genres"])  # the AIST++ genres and the ballroom dances
        seen = []
        motion = short_motion(2.0)
        result = client.score(motion, ScoreOptions(seed=3, sample_rate=16000), on_progress=lambda f, s: seen.append(f))
    assert result.audio.shape == (32000,) and result.sample_rate == 16000
    assert result.metadata["seed"] == 3 and "alignment" in result.metadata["metrics"]
    assert seen and seen[-1] == 1.0


def test_hits_through_the_server_and_hits_outside_the_motion_refused(shared_server):
    address = shared_server
    motion = short_motion(6.0)
    with ScoreClient(address) as client:
        result = client.score(motion, ScoreOptions(sample_rate=16000, hits=(1.33, 4.1), tempo_bpm=110.0))
        tempo_map = result.metadata["tempo_map"]
        assert tempo_map["hits_s"] == [1.33, 4.1] and tempo_map["hits_caught"] == 2
        assert result.metadata["beats_s"] == tempo_map["beats_s"]
        with pytest.raises(ServerError) as refused:
            client.score(motion, ScoreOptions(sample_rate=16000, hits=(7.5,)))
        assert refused.value.code == P.E_BAD_OPTIONS and "outside the motion" in refused.value.message
    # Hand-written requests are checked the same way (hits are a list of seconds).
    assert P.options_from_wire({"hits": [4.1, 1.33]}).hits == (1.33, 4.1)
    with pytest.raises(P.ProtocolError) as wire:
        P.options_from_wire({"hits": ["soon"]})
    assert wire.value.code == P.E_BAD_OPTIONS


def test_a_song_is_conformed_through_the_server_and_bad_songs_are_typed_errors(shared_server, tmp_path):
    from motionscore.shared.options import ConformOptions
    from tests.kit.songs import drum_song, write_song

    address = shared_server
    motion = synthetic_dance(beat_times(8.0, 116), 8.0, fps=30, seed=1)
    song = write_song(tmp_path / "song.ogg", drum_song(124, 12.0, 44100)[0], 44100).read_bytes()
    seen = []
    with ScoreClient(address, timeout=20) as client:
        result = client.conform(motion, ScoreOptions(sample_rate=32000, hits=(3.3,)), song, "song.ogg",
                                ConformOptions(start_s=0.0), on_progress=lambda f, s: seen.append(s))
        assert result.audio.shape == (8 * 32000, 2) and result.sample_rate == 32000
        conform = result.metadata["conform"]
        assert result.metadata["backbone"] == "conform" and conform["song"] == "song.ogg" and conform["hits_caught"] == 1
        assert any("stretching" in stage for stage in seen), seen
        for data, name, words in [(b"RIFF nothing", "bad.wav", "not an audio file"),
                                  (song, "x" * 300, "song name"),
                                  (b"\0" * (limits.MAX_SONG_BYTES + 1), "huge.mp3", "over the 32 MB limit")]:
            with pytest.raises(ServerError) as refused:
                client.conform(motion, ScoreOptions(), data, name)
            assert refused.value.code == P.E_BAD_SONG and words in refused.value.message
        with pytest.raises(ServerError) as too_short:
            client.conform(synthetic_dance(beat_times(30.0, 116), 30.0, fps=30, seed=1), ScoreOptions(), song, "s.ogg")
        assert too_short.value.code == P.E_BAD_SONG and "--loop" in too_short.value.message
        # The server goes on serving takes.
        assert client.score(short_motion(1.0), ScoreOptions(sample_rate=16000)).audio.shape == (16000,)


def test_server_warms_up_before_it_answers(server_process, tmp_path):
    """The first take must not pay for cold librosa/numba work (benchmarks/bench_spine.py times it):
    the server scores a short take before it reads its first message, so it is warm when it answers."""
    address, _ = server_process
    with ScoreClient(address) as client:
        client.hello()
    log = (tmp_path / "server.log").read_text()
    assert "warmed up synth in" in log and log.index("warmed up synth in") < log.index("serving synth")


def test_warmup_motion_has_a_steady_beat():
    from motionscore.server.serving.warmup import WARMUP_BPM, warmup_motion
    from motionscore.shared.rhythm import extract_rhythm

    rhythm = extract_rhythm(warmup_motion())
    assert rhythm.tempo_bpm == pytest.approx(WARMUP_BPM, rel=0.02) and rhythm.beat_times.size >= 6


def test_sixteen_concurrent_clients(server_process):
    address, _ = server_process
    errors, results = [], {}

    def run(client_index):
        try:
            with ScoreClient(address, timeout=60) as client:
                for k in range(10):
                    frames = 20 + client_index * 10 + k  # every request has its own length
                    motion = synthetic_dance(beat_times(frames / 30, 120), frames / 30, seed=k)
                    res = client.score(motion, ScoreOptions(seed=k, sample_rate=8000))
                    results[(client_index, k)] = (res.audio.shape[0], round(frames / 30 * 8000), res.metadata["seed"])
        except Exception as exc:  # collected and asserted below
            errors.append(repr(exc))

    threads = [threading.Thread(target=run, args=(i,)) for i in range(16)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=300)
    assert not errors, errors[:3]
    assert len(results) == 160
    for (client_index, k), (got, expected, seed) in results.items():
        assert got == expected and seed == k


def test_garbage_and_oversized_get_errors_and_server_keeps_serving(server_process):
    address, proc = server_process
    sock = raw_socket(address)
    for payload in [b"\xc1\xff garbage", msgpack.packb([1, 2]), msgpack.packb({"v": 1, "type": "dance"})]:
        sock.send(payload)
        reply = P.decode(sock.recv())
        assert reply["type"] == P.ERROR and reply["code"] in (P.E_BAD_MESSAGE, P.E_UNKNOWN_TYPE)
    sock.send(b"\x00" * (limits.MAX_REQUEST_BYTES + 1))
    reply = P.decode(sock.recv())
    assert reply["code"] == P.E_TOO_LARGE
    sock.send_multipart([b"a", b"b", b"c"])
    assert P.decode(sock.recv())["code"] == P.E_BAD_MESSAGE
    bad = P.score_request("j1", short_motion(), ScoreOptions())
    bad["motion"]["fps"] = -5.0
    sock.send(P.encode(bad))
    reply = P.decode(sock.recv())
    assert reply["code"] == P.E_BAD_MOTION and reply["id"] == "j1"
    wrong = P.score_request("j2", short_motion(), ScoreOptions(backbone="musicgen"))
    sock.send(P.encode(wrong))
    assert P.decode(sock.recv())["code"] == P.E_WRONG_BACKBONE
    sock.close(0)
    assert proc.poll() is None
    with ScoreClient(address) as client:
        assert client.score(short_motion(), ScoreOptions(sample_rate=8000)).audio.shape == (8000,)


def test_cancel_stops_a_job(server_process):
    address, _ = server_process
    with ScoreClient(address, timeout=30) as client:
        job = cancel_midway(client, synthetic_dance(beat_times(300, 120), 300, fps=30), ScoreOptions())
        assert job.error is not None and job.error.code == P.E_CANCELLED
        assert job.result is None
        assert client.score(short_motion(), ScoreOptions(sample_rate=8000)).audio.size == 8000


def test_vanished_client_does_not_wedge_the_server(server_process):
    address, _ = server_process
    sock = raw_socket(address)
    sock.send(P.encode(P.score_request("ghost", synthetic_dance(beat_times(400, 120), 400, fps=30), ScoreOptions())))
    assert P.decode(sock.recv())["type"] == P.ACCEPTED
    sock.close(0)  # never pings again; the server (client timeout 6 s) must drop the job
    time.sleep(8)
    with ScoreClient(address, timeout=30) as client:
        start = time.monotonic()
        assert client.score(short_motion(), ScoreOptions(sample_rate=8000)).audio.size == 8000
        assert time.monotonic() - start < 20


def test_unreachable_server_fails_fast():
    from tests.kit.servers import free_port

    with ScoreClient(f"tcp://127.0.0.1:{free_port()}", timeout=1.0) as client:
        start = time.monotonic()
        with pytest.raises(ServerError, match="no motionscore server answered"):
            client.score(short_motion(), ScoreOptions())
        assert time.monotonic() - start < 5


def test_sigterm_shuts_down_cleanly(server_process):
    _, proc = server_process
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=15) == 0
