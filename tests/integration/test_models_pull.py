"""`motionscore models pull/list` against a hub on 127.0.0.1 (tests/kit/local_hub.py), never the internet:
the files a backbone loads and nothing else, progress, resume, the checksum check, and every
failure in one line with no partial model that looks complete."""

import errno
import json
import os
import subprocess
import sys

import pytest

from motionscore.server.cli import main
from motionscore.server.model import weights
from tests.kit.servers import free_port
from tests.kit.local_hub import LocalHub

MB = 1024 * 1024


def write(path, data: bytes):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)


@pytest.fixture
def hub(tmp_path, monkeypatch):
    """MusicGen's two repositories in the hub's layout, with files the backbone never loads beside them."""
    root = tmp_path / "hub"
    rng = os.urandom
    write(root / "facebook/musicgen-small/state_dict.bin", rng(3 * MB))
    write(root / "facebook/musicgen-small/compression_state_dict.bin", rng(MB))
    write(root / "facebook/musicgen-small/model.safetensors", rng(MB))  # transformers' copy: not loaded
    write(root / "facebook/musicgen-small/README.md", b"# musicgen")
    write(root / "t5-base/config.json", b'{"d_model": 8}')
    write(root / "t5-base/spiece.model", rng(2048))
    write(root / "t5-base/tokenizer.json", b"{}")
    write(root / "t5-base/model.safetensors", rng(2 * MB))
    write(root / "t5-base/pytorch_model.bin", rng(MB))  # an older copy of the same weights: not loaded
    write(root / "t5-base/flax_model.msgpack", rng(MB))
    cache = tmp_path / "cache"
    # huggingface_hub writes (and can resume from) whole 10 MB chunks; in 64 KB chunks these
    # megabyte files get as far into a transfer as a real model's gigabytes do.
    import huggingface_hub.constants

    monkeypatch.setattr(huggingface_hub.constants, "DOWNLOAD_CHUNK_SIZE", 64 * 1024)
    monkeypatch.setenv("HF_HUB_CACHE", str(cache))
    # As after a backbone load in this process (the suite loads many): a pull still goes online.
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", True)
    with LocalHub(root) as server:
        monkeypatch.setenv("HF_ENDPOINT", server.url)
        yield server, cache


def snapshot(cache, repo_id):
    folders = list((cache / ("models--" + repo_id.replace("/", "--")) / "snapshots").glob("*"))
    assert len(folders) == 1
    return sorted(p.relative_to(folders[0]).as_posix() for p in folders[0].rglob("*") if p.is_file())


def test_pull_musicgen_fetches_its_files_and_t5_then_lists_them(hub, capsys):
    server, cache = hub
    assert main(["models", "pull", "musicgen"]) == 0
    err = capsys.readouterr().err
    assert "facebook/musicgen-small: 2 files, 4.0 MB, checked" in err and "t5-base: 4 files" in err
    assert snapshot(cache, "facebook/musicgen-small") == ["compression_state_dict.bin", "state_dict.bin"]
    assert snapshot(cache, "t5-base") == ["config.json", "model.safetensors", "spiece.model", "tokenizer.json"]
    assert main(["models", "list", "--json"]) == 0
    listed = {m["repo_id"]: m for m in json.loads(capsys.readouterr().out)}
    assert listed["facebook/musicgen-small"]["complete"] and listed["facebook/musicgen-small"]["used_by"] == ["musicgen"]
    assert listed["t5-base"]["bytes"] >= 2 * MB and listed["t5-base"]["used_by"] == ["musicgen"]
    assert main(["models", "list"]) == 0
    assert "complete" in capsys.readouterr().out
    # A second pull finds everything in the cache: no file is fetched again.
    before = len([r for r in server.requests if r[0] == "GET" and "/resolve/" in r[1]])
    assert main(["models", "pull", "musicgen"]) == 0
    assert len([r for r in server.requests if r[0] == "GET" and "/resolve/" in r[1]]) == before


def test_an_interrupted_transfer_resumes(hub, capsys):
    """Bodies cut half-way: huggingface_hub resumes with a Range request and the result checks out."""
    server, cache = hub
    server.truncate = 2
    assert main(["models", "pull", "musicgen", "--model", "facebook/musicgen-small"]) == 0
    ranged = [r for r in server.requests if r[0] == "GET" and r[2].startswith("bytes=") and r[2] != "bytes=0-"]
    assert ranged, server.requests
    assert sorted(json.loads((cache / "models--facebook--musicgen-small" / weights.MARKER).read_text())["files"]) == [
        "compression_state_dict.bin", "state_dict.bin"]


def test_a_transfer_that_keeps_failing_ends_in_one_line_and_the_next_pull_goes_on(hub, capsys):
    """One file's transfer keeps dropping: after huggingface_hub's retries the pull ends in one line,
    nothing half-written is left and nothing is marked complete; the next pull keeps the files that
    did arrive and fetches only the rest (huggingface_hub 2.x never reuses a partial file)."""
    server, cache = hub
    server.broken.add("state_dict.bin")
    assert main(["models", "pull", "musicgen"]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert err[-1].startswith("motionscore: failed: the connection to http://127.0.0.1:")
    assert "kept dropping while pulling facebook/musicgen-small" in err[-1] and "Traceback" not in "\n".join(err)
    repo = cache / "models--facebook--musicgen-small"
    assert not (repo / weights.MARKER).exists() and not list(repo.glob("blobs/*.incomplete"))
    assert snapshot(cache, "facebook/musicgen-small") == ["compression_state_dict.bin"]
    assert not any(m.complete for m in weights.list_cached())
    server.broken.clear()
    server.requests.clear()
    assert main(["models", "pull", "musicgen"]) == 0
    fetched = sorted(r[1].rsplit("/", 1)[1] for r in server.requests if r[0] == "GET" and "/resolve/" in r[1])
    assert "compression_state_dict.bin" not in fetched and "state_dict.bin" in fetched
    assert all(m.complete for m in weights.list_cached())


def test_an_unknown_model_a_gated_one_and_an_unreachable_hub(hub, capsys, monkeypatch):
    server, cache = hub
    assert main(["models", "pull", "musicgen", "--model", "nobody/nothing"]) == 2
    assert "nobody/nothing: no such model at" in capsys.readouterr().err
    server.gated.add("t5-base")
    assert main(["models", "pull", "musicgen"]) == 1
    err = capsys.readouterr().err
    assert "t5-base is gated: accept its licence at" in err and err.strip().splitlines()[-1].startswith("motionscore")
    monkeypatch.setenv("HF_ENDPOINT", f"http://127.0.0.1:{free_port()}")
    assert main(["models", "pull", "audioldm"]) == 1
    assert "cannot reach http://127.0.0.1:" in capsys.readouterr().err
    assert main(["models", "pull", "synth"]) == 2
    assert "synth needs none" in capsys.readouterr().err


def test_a_full_disk_is_said_before_and_during_the_transfer(hub, capsys, monkeypatch):
    server, cache = hub
    real = weights.shutil.disk_usage
    monkeypatch.setattr(weights.shutil, "disk_usage", lambda path: real(path)._replace(free=MB))
    assert main(["models", "pull", "musicgen"]) == 1
    assert "needs 4.0 MB more in" in capsys.readouterr().err and not list(cache.glob("models--*/snapshots/*/*"))
    monkeypatch.setattr(weights.shutil, "disk_usage", real)
    import huggingface_hub.file_download as download

    def no_space(*args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device")
    monkeypatch.setattr(download, "http_get", no_space)
    assert main(["models", "pull", "musicgen"]) == 1
    err = capsys.readouterr().err
    assert "the disk is full while pulling facebook/musicgen-small" in err and "Traceback" not in err
    assert not any(m.complete for m in weights.list_cached())


def test_progress_as_json_lines_for_the_addon(hub):
    server, cache = hub
    proc = subprocess.run([sys.executable, "-m", "motionscore.server.cli", "models", "pull", "musicgen",
                           "--progress", "json"], capture_output=True, text=True, timeout=120,
                          env={**os.environ, "HF_ENDPOINT": server.url, "HF_HUB_CACHE": str(cache)})
    assert proc.returncode == 0, proc.stderr[-2000:]
    lines = [json.loads(line) for line in proc.stdout.splitlines()]
    assert lines and all(set(line) == {"stage", "done", "total"} for line in lines)
    assert max(line["done"] for line in lines) >= 3 * MB


@pytest.mark.slow
def test_a_pulled_tiny_pipeline_loads_offline(tmp_path, monkeypatch):
    """A real (tiny, random) diffusers pipeline in the hub's layout: pulled from the local hub, it
    loads from the cache with the hub unreachable, through the same code path as real weights."""
    pytest.importorskip("diffusers")
    from motionscore.server.generation.backbones.riffusion import build_tiny_riffusion

    root = tmp_path / "hub"
    build_tiny_riffusion(device="cpu").save_pretrained(root / "test" / "tiny-riffusion")
    write(root / "test/tiny-riffusion/unet/diffusion_pytorch_model.fp16.safetensors", b"not loaded")
    cache = tmp_path / "cache"
    monkeypatch.setenv("HF_HUB_CACHE", str(cache))
    with LocalHub(root) as server:
        monkeypatch.setenv("HF_ENDPOINT", server.url)
        assert main(["models", "pull", "riffusion", "--model", "test/tiny-riffusion"]) == 0
    files = snapshot(cache, "test/tiny-riffusion")
    assert "unet/diffusion_pytorch_model.safetensors" in files and "model_index.json" in files
    assert not [f for f in files if ".fp16." in f]
    # Loaded as `motionscore serve --backbone riffusion --model test/tiny-riffusion` loads it, with
    # the hub unreachable (a take from the loaded pipeline is the tiny backbones' tested path).
    env = {**os.environ, "HF_HUB_CACHE": str(cache), "HF_ENDPOINT": f"http://127.0.0.1:{free_port()}"}
    env.pop("HF_HUB_OFFLINE", None)
    code = ("from motionscore.server.generation.backbones import load_backbone; "
            "b = load_backbone('riffusion', model='test/tiny-riffusion', device='cpu'); print(b.model_id, b.steps)")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=600, env=env)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert proc.stdout.split() == ["test/tiny-riffusion", "50"]  # loaded as real weights are, not built tiny
