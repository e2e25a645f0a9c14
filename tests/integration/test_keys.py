"""Serving beyond this computer: CurveZMQ keys, authorised clients only, farm-safe file modes.

Every server here is a real `motionscore serve --keys` process on 127.0.0.1; traffic is bounded in
count and time.
"""

from __future__ import annotations

import os
import socket
import stat
import time
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import zmq

from motionscore.server.cli import main
from motionscore.shared.synthetic_dance import beat_times, synthetic_dance
from motionscore.shared.client import E_BAD_KEY, E_KEY_REFUSED, E_KEY_REQUIRED, ScoreClient, ServerError
from motionscore.shared.motion import save_motion
from motionscore.shared.options import ScoreOptions
from tests.kit.servers import free_port, start_server, stop_server

pytestmark = pytest.mark.skipif(not zmq.has("curve"), reason="pyzmq without CurveZMQ")


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.fixture
def key_folder(tmp_path):
    folder = tmp_path / "keys"
    assert main(["keys", "init", str(folder)]) == 0
    for name in ("alice", "mallory"):
        assert main(["keys", "add", str(folder), name]) == 0
    assert main(["keys", "revoke", str(folder), "mallory"]) == 0  # mallory has a real pair, not admitted
    return folder


@pytest.fixture
def keyed_server(key_folder, tmp_path):
    alice = {"server_key": str(key_folder / "server.key"), "client_key": str(key_folder / "issued" / "alice.key_secret")}
    address, proc = start_server(tmp_path / "keyed.log", "--keys", str(key_folder), "--no-warm-up",
                                 "--client-timeout", "6", keys=alice)
    yield address, alice, proc
    stop_server(proc)


def test_keys_init_add_list_revoke(tmp_path, capsys):
    folder = tmp_path / "k"
    assert main(["keys", "init", str(folder)]) == 0
    out = capsys.readouterr().out
    assert "server.key" in out and "motionscore keys add" in out
    assert mode(folder / "server.key_secret") == 0o600 and (folder / "clients").is_dir()
    assert main(["keys", "add", str(folder), "farm-01"]) == 0
    out = capsys.readouterr().out
    assert str(folder / "issued" / "farm-01.key_secret") in out and str(folder / "server.key") in out
    assert mode(folder / "issued" / "farm-01.key_secret") == 0o600
    assert (folder / "clients" / "farm-01.key").read_bytes() == (folder / "issued" / "farm-01.key").read_bytes()
    # Standard tools read the files: they are pyzmq certificates.
    import zmq.auth

    public, secret = zmq.auth.load_certificate(str(folder / "issued" / "farm-01.key_secret"))
    assert len(public) == len(secret) == 40
    assert main(["keys", "list", str(folder)]) == 0 and "farm-01" in capsys.readouterr().out
    for argv, message in ((["keys", "init", str(folder)], "already holds a server key pair"),
                          (["keys", "add", str(folder), "farm-01"], "already exists"),
                          (["keys", "add", str(folder), "../evil"], "client name"),
                          (["keys", "revoke", str(folder), "nobody"], "no authorised client"),
                          (["keys", "list", str(tmp_path / "none")], "not a key folder")):
        assert main(argv) == 2
        err = capsys.readouterr().err
        assert message in err and "Traceback" not in err
    assert main(["keys", "revoke", str(folder), "farm-01"]) == 0
    assert not (folder / "clients" / "farm-01.key").exists() and (folder / "revoked" / "farm-01.key").exists()


def test_non_loopback_needs_keys(tmp_path, capsys):
    assert main(["serve", "--bind", f"tcp://0.0.0.0:{free_port()}", "--no-warm-up"]) == 2
    err = capsys.readouterr().err
    assert "needs --keys" in err and "motionscore keys init" in err and len(err.strip().splitlines()) == 1
    assert main(["serve", "--bind", f"tcp://0.0.0.0:{free_port()}", "--keys", str(tmp_path / "nokeys")]) == 2
    assert "not a key folder" in capsys.readouterr().err


def test_authorised_client_gets_exact_audio_and_others_get_a_clear_refusal(keyed_server, key_folder, tmp_path,
                                                                           capsys):
    address, alice, _ = keyed_server
    motion = synthetic_dance(beat_times(2.0, 120), 2.0, fps=30)
    with ScoreClient(address, timeout=5.0, **alice) as client:
        assert client.hello()["keys_required"] is True
        result = client.score(motion, ScoreOptions(sample_rate=16000))
    assert result.audio.shape == (32000,)
    mallory = {"server_key": str(key_folder / "server.key"),
               "client_key": str(key_folder / "issued" / "mallory.key_secret")}
    for keys, code, text in (({}, E_KEY_REQUIRED, "needs a key: see motionscore keys"),
                             (mallory, E_KEY_REFUSED, "refused this client's key")):
        started = time.monotonic()
        with pytest.raises(ServerError) as refused:
            with ScoreClient(address, timeout=5.0, **keys) as client:
                client.score(motion, ScoreOptions(sample_rate=16000))
        assert refused.value.code == code and text in refused.value.message
        assert time.monotonic() - started < 5.0  # known at the handshake, not after the timeout
    # The same through the command line: one line, no file, no traceback.
    save_motion(motion, tmp_path / "m.npz")
    for extra, text in (([], "needs a key"), (["--server-key", mallory["server_key"], "--client-key",
                                               mallory["client_key"]], "refused this client's key"),
                        (["--server-key", alice["server_key"]], "keys come in twos")):
        out = tmp_path / "x.wav"
        code = main(["score", str(tmp_path / "m.npz"), "-o", str(out), "--server", address, "-q", *extra])
        err = capsys.readouterr().err
        assert code in (1, 2) and text in err and "Traceback" not in err and len(err.strip().splitlines()) == 1
        assert not out.exists()
    code = main(["score", str(tmp_path / "m.npz"), "-o", str(tmp_path / "ok.wav"), "--server", address, "-q",
                 "--server-key", alice["server_key"], "--client-key", alice["client_key"]])
    assert code == 0 and sf.info(str(tmp_path / "ok.wav")).frames == round(2.0 * 48000)


def test_a_public_key_is_not_a_client_key(key_folder):
    with pytest.raises(ServerError) as bad:
        ScoreClient("tcp://127.0.0.1:9", server_key=str(key_folder / "server.key"),
                    client_key=str(key_folder / "issued" / "alice.key"))
    assert bad.value.code == E_BAD_KEY and "key pair" in bad.value.message


def test_garbage_and_a_connection_flood_do_not_stop_the_keyed_server(keyed_server):
    address, alice, proc = keyed_server
    port = int(address.rsplit(":", 1)[1])
    # 40 raw TCP connections sending plaintext and junk, held open while the real client works.
    floods = []
    for i in range(40):
        s = socket.create_connection(("127.0.0.1", port), timeout=2)
        s.sendall(b"\xff" + os.urandom(64) if i % 2 else b"GET / HTTP/1.1\r\nHost: x\r\n\r\n" * 20)
        floods.append(s)
    try:
        started = time.monotonic()
        with ScoreClient(address, timeout=30.0, **alice) as client:
            result = client.score(synthetic_dance(beat_times(1.0, 120), 1.0, fps=30), ScoreOptions(sample_rate=8000))
        # A liveness bound, not a speed target: a wedged server would never answer; a loaded
        # 2-core CI machine (the whole suite around it) once took 10.2 s for this 1 s take.
        assert result.audio.shape == (8000,) and time.monotonic() - started < 30.0
    finally:
        for s in floods:
            s.close()
    assert proc.poll() is None


def test_a_revoked_client_is_refused_from_its_next_connection(keyed_server, key_folder):
    address, alice, _ = keyed_server
    with ScoreClient(address, timeout=5.0, **alice) as client:
        client.hello()
    assert main(["keys", "revoke", str(key_folder), "alice"]) == 0
    deadline = time.monotonic() + 10  # the server re-reads clients/ every second
    while True:
        try:
            with ScoreClient(address, timeout=2.0, **alice) as client:
                client.hello()
        except ServerError as exc:
            assert exc.code == E_KEY_REFUSED
            break
        assert time.monotonic() < deadline, "the revoked key was still admitted"
        time.sleep(0.5)


def test_files_for_the_user_follow_the_umask(tmp_path):
    from motionscore.server.generation.audio_io import write_audio

    old = os.umask(0o022)
    try:
        path = write_audio(tmp_path / "take.wav", np.zeros(800, dtype=np.float32), 8000)
        assert mode(path) == 0o644
        os.umask(0o002)
        assert mode(write_audio(tmp_path / "group.flac", np.zeros(800, dtype=np.float32), 8000)) == 0o664
        os.umask(0o022)
        folder = tmp_path / "k"
        assert main(["keys", "init", str(folder)]) == 0 and main(["keys", "add", str(folder), "a"]) == 0
        assert mode(folder / "server.key") == 0o644 and mode(folder / "server.key_secret") == 0o600
        assert mode(folder / "issued" / "a.key_secret") == 0o600 and mode(folder / "clients" / "a.key") == 0o644
    finally:
        os.umask(old)
