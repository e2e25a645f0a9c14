"""`motionscore serve --engine ray`: the ZeroMQ front with synth in two Ray Serve replicas.

One real server process on 127.0.0.1 for the module (Ray takes ~20 s to start on 2 cores); every
test is bounded in time and the server (and the Ray instance it started) stops at the end.
"""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import soundfile as sf

from motionscore.shared.synthetic_dance import beat_times, synthetic_dance
from motionscore.shared import protocol as P
from motionscore.shared.client import ScoreClient, ServerError
from motionscore.shared.motion import save_motion
from motionscore.shared.options import ScoreOptions

from tests.kit.servers import cancel_midway, start_server, stop_server
from tests.kit.paths import BENCHMARKS  # noqa: E402

pytest.importorskip("ray.serve")
pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("ray")]  # one Ray at a time on this machine


@pytest.fixture(scope="module")
def ray_server(tmp_path_factory):
    log = tmp_path_factory.mktemp("ray") / "server.log"
    address, proc = start_server(log, "--engine", "ray", "--replicas", "2", "--client-timeout", "20",
                                 startup_s=240.0)
    yield address, proc, log
    stop_server(proc)
    assert proc.returncode == 0, log.read_text()[-3000:]  # a clean stop, not Ray's SIGTERM abort
    deadline = time.monotonic() + 60
    while replica_pids(proc.pid) and time.monotonic() < deadline:
        time.sleep(0.5)
    assert not replica_pids(proc.pid), "the replicas outlived the server"


def listening_ports() -> set[int]:
    """TCP ports in LISTEN state on this machine (from /proc/net/tcp and tcp6)."""
    ports = set()
    for name in ("tcp", "tcp6"):
        try:
            lines = Path(f"/proc/net/{name}").read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            fields = line.split()
            if fields[3] == "0A":
                ports.add(int(fields[1].rsplit(":", 1)[1], 16))
    return ports


def replica_pids(server_pid: int) -> list[int]:
    """Processes of this server's Ray Serve replicas (Ray titles them ServeReplica:<app>:<deployment>)."""
    pids = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            title = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if f"ServeReplica:motionscore-{server_pid}:" in title:
            pids.append(int(entry.name))
    return pids


def test_hello_names_the_engine(ray_server):
    address, _, _ = ray_server
    with ScoreClient(address) as client:
        info = client.hello()
    assert info["backbone"]["name"] == "synth" and info["backbone"]["engine"] == "ray"
    assert info["backbone"]["replicas"] == 2
    # No Ray Serve HTTP proxy (8000) and no dashboard (8265): clients come in through ZeroMQ only.
    assert not {8000, 8265} & listening_ports()


def test_twelve_concurrent_cli_clients_use_both_replicas(ray_server, tmp_path):
    address, _, _ = ray_server
    procs = []
    for i in range(12):
        seconds = 2.0 + 0.25 * i  # every take its own length, so a mix-up cannot pass
        motion = synthetic_dance(beat_times(seconds, 100 + 5 * i), seconds, fps=30, seed=i)
        path = tmp_path / f"m{i}.npz"
        save_motion(motion, path)
        procs.append((i, motion.duration, subprocess.Popen(
            [sys.executable, "-m", "motionscore.server.cli", "score", str(path), "-o", str(tmp_path / f"o{i}.wav"),
             "--server", address, "--seed", str(i), "--sample-rate", "16000", "--json", "-q", "--timeout", "60"],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)))
    replicas = set()
    for i, duration, proc in procs:
        out, err = proc.communicate(timeout=240)
        assert proc.returncode == 0, err
        metadata = json.loads(out)
        audio, rate = sf.read(tmp_path / f"o{i}.wav")
        assert rate == 16000 and audio.shape[0] == round(duration * 16000) == metadata["num_samples"]
        assert metadata["seed"] == i and metadata["engine"] == "ray"
        replicas.add(metadata["replica"])
    assert len(replicas) == 2, replicas


def test_cancel_reaches_the_replica(ray_server):
    address, _, _ = ray_server
    with ScoreClient(address, timeout=30) as client:
        job = cancel_midway(client, synthetic_dance(beat_times(300, 120), 300, fps=30), ScoreOptions(), 90)
        assert job.error is not None and job.error.code == P.E_CANCELLED
        assert client.score(synthetic_dance(beat_times(1, 120), 1, fps=30),
                            ScoreOptions(sample_rate=8000)).audio.shape == (8000,)


def test_killed_replicas_neither_lose_nor_hang_a_request(ray_server):
    address, proc, log = ray_server
    seconds = 400.0  # a take of several seconds, so the kill lands mid-job
    with ScoreClient(address, timeout=60) as client:
        job_id = client.submit(synthetic_dance(beat_times(seconds, 120), seconds, fps=30), ScoreOptions())
        job = client.jobs[job_id]
        deadline = time.monotonic() + 200
        while job.fraction < 0.1 and not job.done and time.monotonic() < deadline:
            client.poll(0.2)
        assert not job.done, "the take finished before a replica could be killed; make it longer"
        victims = replica_pids(proc.pid)
        assert len(victims) == 2, victims
        for pid in victims:
            os.kill(pid, signal.SIGKILL)
        while not job.done and time.monotonic() < deadline:
            client.poll(0.2)
        assert job.done, "the request hung after its replica was killed"
        if job.error is not None:  # the one allowed alternative to a result: the typed error
            assert job.error.code == P.E_REPLICA_FAILED, job.error
        else:
            assert job.result.audio.shape == (round(seconds * 48000),)
        # Ray replaced the replicas: the server goes on serving.
        assert client.score(synthetic_dance(beat_times(1, 120), 1, fps=30),
                            ScoreOptions(sample_rate=8000)).audio.shape == (8000,)
    assert "retrying once" in log.read_text()
    assert sorted(replica_pids(proc.pid)) != sorted(victims)


def test_the_ray_engine_serves_with_keys_only_to_admitted_clients(ray_server, tmp_path):
    """The same CurveZMQ front: a keyed Ray server admits alice's key and nobody without one. Its
    own local Ray instance runs next to the module's (address="local" never joins another)."""
    from motionscore.server.cli import main

    folder = tmp_path / "keys"
    assert main(["keys", "init", str(folder)]) == 0 and main(["keys", "add", str(folder), "alice"]) == 0
    alice = {"server_key": str(folder / "server.key"), "client_key": str(folder / "issued" / "alice.key_secret")}
    address, proc = start_server(tmp_path / "keyed.log", "--engine", "ray", "--keys", str(folder), keys=alice,
                                 startup_s=240.0)
    try:
        with ScoreClient(address, timeout=60, **alice) as client:
            assert client.hello()["keys_required"] is True
            result = client.score(synthetic_dance(beat_times(1, 120), 1, fps=30), ScoreOptions(sample_rate=8000))
            assert result.audio.shape == (8000,) and result.metadata["engine"] == "ray"
        with ScoreClient(address, timeout=3) as stranger:
            with pytest.raises(ServerError):
                stranger.hello()
    finally:
        stop_server(proc)
    assert proc.returncode == 0


def test_ray_options_are_refused_without_the_ray_engine_and_checked(tmp_path):
    def serve(*args):
        return subprocess.run([sys.executable, "-m", "motionscore.server.cli", "serve", "--bind",
                               "tcp://127.0.0.1:1", *args], capture_output=True, text=True, timeout=60)

    local = serve("--replicas", "2")
    assert local.returncode != 0 and "--replicas is an option of --engine ray" in local.stderr
    for args, message in ((("--autoscale", "4:1"), "MIN <= MAX"), (("--autoscale", "x"), "MIN:MAX"),
                          (("--replicas", "0"), "at least 1"), (("--replicas", "2", "--autoscale", "1:2"), "not both"),
                          (("--workers", "3"), "--workers is the local engine's")):
        result = serve("--engine", "ray", *args)
        assert result.returncode != 0 and message in result.stderr, (args, result.stderr)
        assert "Traceback" not in result.stderr


def test_parse_autoscale():
    from motionscore.server.serving.ray_engine import RayOptions, parse_autoscale

    assert parse_autoscale("1:4") == (1, 4) and parse_autoscale("0:2") == (0, 2)
    options = RayOptions(autoscale=(1, 3)).deployment_options()
    assert options["autoscaling_config"]["max_replicas"] == 3 and "num_replicas" not in options
    assert RayOptions(replicas=2, gpus_per_replica=0.5).deployment_options()["ray_actor_options"]["num_gpus"] == 0.5


def test_the_scale_benchmark_runs_both_replica_counts(tmp_path):
    """benchmarks/bench_scale.py end to end with a small load (its figures are the README's, not a test)."""
    import re

    script = BENCHMARKS / "bench_scale.py"
    run = subprocess.run([sys.executable, str(script), "--takes", "4", "--clients", "2", "--seconds", "2",
                          "--log-dir", str(tmp_path)], capture_output=True, text=True, timeout=400)
    assert run.returncode == 0, run.stdout[-2000:] + run.stderr[-2000:]
    assert "1 replica(s):" in run.stdout and "2 replica(s):" in run.stdout
    assert re.fullmatch(r"scale 2 vs 1 replica\(s\): \d+\.\d\dx \(\d+\.\d vs \d+\.\d takes/min\)",
                        run.stdout.strip().splitlines()[-1])
