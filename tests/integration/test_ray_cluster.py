"""`serve --engine ray --ray-address`: joining a Ray cluster made with `ray start --head`.

A one-node cluster on 127.0.0.1 with its own token (RAY_AUTH_TOKEN, so nothing is written to
~/.ray); the server joins it, scores, and on stop removes its app but leaves the cluster running.
Bounded: the cluster is stopped at the end (`ray stop`) whatever happens.
"""

import os
import secrets
import subprocess
import sys
from pathlib import Path

import pytest

from motionscore.shared.synthetic_dance import beat_times, synthetic_dance
from motionscore.shared.client import ScoreClient
from motionscore.shared.options import ScoreOptions

from tests.kit.servers import free_port, start_server, stop_server

pytest.importorskip("ray.serve")
pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("ray")]  # one Ray at a time on this machine
RAY = str(Path(sys.executable).with_name("ray"))


@pytest.fixture
def ray_cluster(monkeypatch):
    port = free_port()
    env = {**os.environ, "RAY_AUTH_MODE": "token", "RAY_AUTH_TOKEN": secrets.token_hex(32)}
    for name in ("RAY_AUTH_MODE", "RAY_AUTH_TOKEN"):
        monkeypatch.setenv(name, env[name])  # the server process and this test's own ray.init
    started = subprocess.run([RAY, "start", "--head", "--node-ip-address", "127.0.0.1", "--port", str(port),
                              "--include-dashboard=false", "--disable-usage-stats", "--num-cpus", "2"],
                             capture_output=True, text=True, timeout=180, env=env)
    assert started.returncode == 0, started.stdout[-2000:] + started.stderr[-2000:]
    try:
        yield f"127.0.0.1:{port}"
    finally:
        subprocess.run([RAY, "stop", "--force"], capture_output=True, timeout=120, env=env)


def apps(address: str) -> list[str]:
    """The Serve applications on the cluster, asked from a separate process (a Ray driver)."""
    probe = ("import ray, json; ray.init(address=%r, log_to_driver=False); from ray import serve; "
             "print('APPS', json.dumps(sorted(serve.status().applications)))" % address)
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=120)
    line = [x for x in out.stdout.splitlines() if x.startswith("APPS ")]
    assert line, out.stderr[-2000:]
    import json

    return json.loads(line[-1][5:])


def test_the_server_joins_a_cluster_and_leaves_it_running(ray_cluster, tmp_path):
    address, proc = start_server(tmp_path / "server.log", "--engine", "ray", "--ray-address", ray_cluster,
                                 startup_s=240.0)
    try:
        with ScoreClient(address, timeout=60) as client:
            result = client.score(synthetic_dance(beat_times(2, 120), 2, fps=30), ScoreOptions(sample_rate=8000))
        assert result.audio.shape == (round(result.metadata["duration_s"] * 8000),)
        assert result.metadata["engine"] == "ray" and result.metadata["replica"].startswith("Scorer#")
        assert apps(ray_cluster) == [f"motionscore-{proc.pid}"]
    finally:
        stop_server(proc)
    assert proc.returncode == 0
    assert apps(ray_cluster) == []  # our app is gone, the cluster still answers


def test_an_unreachable_cluster_is_one_clear_line(tmp_path):
    run = subprocess.run([sys.executable, "-m", "motionscore.server.cli", "serve", "--engine", "ray",
                          "--ray-address", f"127.0.0.1:{free_port()}", "--bind", f"tcp://127.0.0.1:{free_port()}"],
                         capture_output=True, text=True, timeout=120)
    assert run.returncode != 0
    last = run.stderr.strip().splitlines()[-1]
    assert last.startswith("motionscore: failed: cannot join the Ray cluster at 127.0.0.1:"), last
    assert "nothing answers there" in last and "Traceback" not in run.stderr
