import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from motionscore.server.cli import main
from motionscore.server.training.synthetic_dance import beat_times, static_motion, synthetic_dance
from motionscore.shared.motion import save_motion

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "dance.npz"


def run(args, capsys):
    code = main([str(a) for a in args])
    out, err = capsys.readouterr()
    return code, out, err


def test_score_example_exact_length_and_no_overwrite(tmp_path, capsys):
    out = tmp_path / "take.wav"
    code, stdout, _ = run(["score", EXAMPLE, "-o", out, "--json", "-q"], capsys)
    assert code == 0
    meta = json.loads(stdout)
    audio, sr = sf.read(out)
    assert sr == 48000 and audio.shape == (round(meta["duration_s"] * 48000),)
    assert abs(audio.shape[0] / sr - 16.0) < 1e-3  # 480 frames at 30 fps
    assert meta["metrics"]["alignment"] > 0.7
    before = out.read_bytes()
    code, _, err = run(["score", EXAMPLE, "-o", out], capsys)
    assert code == 2 and "exists" in err and "--force" in err and out.read_bytes() == before
    assert run(["score", EXAMPLE, "-o", out, "--force", "--seed", "3", "-q"], capsys)[0] == 0
    assert out.read_bytes() != before


def test_rhythm_json(capsys):
    code, stdout, _ = run(["rhythm", EXAMPLE, "--json"], capsys)
    data = json.loads(stdout)
    assert code == 0 and data["tempo_bpm"] == pytest.approx(112, rel=0.03) and data["sequence_length"] == 957


def _bad_files(tmp: Path):
    (tmp / "corrupt.npz").write_bytes(b"PK\x03\x04 definitely broken")
    np.savez(tmp / "nan.npz", keypoints=np.full((10, 17, 2), np.nan), fps=30.0)
    np.savez(tmp / "shape.npz", keypoints=np.zeros((10, 17, 3)), fps=30.0)
    np.savez(tmp / "one.npz", keypoints=np.zeros((1, 17, 2)), fps=30.0)
    np.savez(tmp / "fps0.npz", keypoints=np.zeros((10, 17, 2)), fps=0.0)
    np.savez(tmp / "fpsbig.npz", keypoints=np.zeros((10, 17, 2)), fps=1e5)
    np.savez(tmp / "joints.npz", keypoints=np.zeros((10, 600, 2)), fps=30.0)
    np.savez(tmp / "genre.npz", keypoints=np.zeros((10, 17, 2)), fps=30.0, genre="polka")
    return {"corrupt": "not a readable motion", "nan": "NaN", "shape": "shape", "one": "at least 2 frames",
            "fps0": "fps", "fpsbig": "fps", "joints": "too many joints", "genre": "valid genres"}


def test_bad_input_one_line_exit_2(tmp_path, capsys):
    for name, fragment in _bad_files(tmp_path).items():
        code, _, err = run(["score", tmp_path / f"{name}.npz", "-o", tmp_path / f"{name}.wav"], capsys)
        assert code == 2, name
        assert fragment in err and err.count("\n") == 1 and "Traceback" not in err, (name, err)
        assert not (tmp_path / f"{name}.wav").exists()
    code, _, err = run(["score", EXAMPLE, "-o", tmp_path / "x.wav", "--genre", "polka"], capsys)
    assert code == 2 and "Waack" in err
    code, _, err = run(["score", EXAMPLE, "-o", tmp_path / "x.mp3"], capsys)
    assert code == 2 and "unsupported audio format" in err
    code, _, err = run(["score", EXAMPLE, "-o", tmp_path / "x.wav", "--backbone", "nope"], capsys)
    assert code == 2 and "unknown backbone" in err


def test_static_motion_is_scored_with_a_note(tmp_path, capsys):
    save_motion(static_motion(frames=90), tmp_path / "still.npz")
    code, stdout, _ = run(["score", tmp_path / "still.npz", "-o", tmp_path / "still.wav", "--json", "-q"], capsys)
    meta = json.loads(stdout)
    assert code == 0 and meta["metrics"]["alignment"] is None
    assert any("does not move" in n for n in meta["notes"])
    assert sf.info(tmp_path / "still.wav").frames == 3 * 48000


def test_server_down_is_a_clear_failure(tmp_path, capsys):
    from tests.conftest import free_port

    code, _, err = run(["score", EXAMPLE, "-o", tmp_path / "x.wav", "--server", f"tcp://127.0.0.1:{free_port()}",
                        "--timeout", "1"], capsys)
    assert code == 1 and "no motionscore server answered" in err and not (tmp_path / "x.wav").exists()


def test_score_through_a_server(server_process, tmp_path, capsys):
    address, _ = server_process
    motion = synthetic_dance(beat_times(3.0, 100), 3.0, fps=24, genre="LO")
    save_motion(motion, tmp_path / "m.npz")
    code, stdout, _ = run(["score", tmp_path / "m.npz", "-o", tmp_path / "m.wav", "--server", address, "--json"], capsys)
    assert code == 0 and json.loads(stdout)["genre"] == "LO"
    assert sf.info(tmp_path / "m.wav").frames == 3 * 48000


def test_serve_refuses_non_loopback_and_busy_port(capsys, server_process):
    code, _, err = run(["serve", "--bind", "tcp://0.0.0.0:5999"], capsys)
    assert code == 2 and "--allow-remote" in err
    address, _ = server_process
    proc = subprocess.run([sys.executable, "-m", "motionscore.server.cli", "serve", "--bind", address],
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 1 and "cannot serve" in proc.stderr and "Traceback" not in proc.stderr


def test_console_script_help():
    proc = subprocess.run([sys.executable, "-m", "motionscore.server.cli", "--help"], capture_output=True, text=True)
    assert proc.returncode == 0 and "score" in proc.stdout and "serve" in proc.stdout


def test_ml_command_prints_no_library_warnings(tmp_path):
    """A MusicGen take in a fresh process: the summary, and no xformers 'reinstall' warning."""
    pytest.importorskip("audiocraft")
    save_motion(synthetic_dance(beat_times(2.0, 120), 2.0, fps=30), tmp_path / "m.npz")
    proc = subprocess.run([sys.executable, "-m", "motionscore.server.cli", "score", str(tmp_path / "m.npz"),
                           "-o", str(tmp_path / "x.wav"), "--backbone", "musicgen", "--model", "tiny"],
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0 and "wrote" in proc.stdout, proc.stderr
    for noise in ("xformers", "XFORMERS", "Please reinstall", "Traceback"):
        assert noise not in proc.stdout + proc.stderr


@pytest.mark.parametrize("backbone", ["musicgen", "riffusion", "audioldm"])
def test_score_with_each_ml_backbone_offline(backbone, tmp_path, capsys):
    pytest.importorskip("torch")
    motion = synthetic_dance(beat_times(1.5, 120), 1.5, fps=30, genre="KR")
    save_motion(motion, tmp_path / "m.npz")
    checkpoint = tmp_path / "enc.safetensors"
    assert main(["encoders", "init", "--backbone", backbone, "-o", str(checkpoint)]) == 0
    capsys.readouterr()
    for extra, text_only in (([], True), (["--encoders", str(checkpoint)], False)):
        out = tmp_path / f"{backbone}{len(extra)}.wav"
        code = main(["score", str(tmp_path / "m.npz"), "-o", str(out), "--backbone", backbone, "--model", "tiny",
                     "--sample-rate", "22050", "--json", "-q", *extra])
        meta = json.loads(capsys.readouterr().out)
        assert code == 0 and sf.info(out).frames == round(1.5 * 22050)
        assert meta["backbone"] == backbone and meta["model_id"] == "tiny"
        assert any("text-only" in n for n in meta["notes"]) == text_only


def test_bad_template_and_mismatched_encoders(tmp_path, capsys):
    pytest.importorskip("torch")
    code, _, err = run(["score", EXAMPLE, "-o", tmp_path / "x.wav", "--prompt", "jazz in {genre} style"], capsys)
    assert code == 2 and "{rhythm}" in err
    checkpoint = tmp_path / "riff.safetensors"
    assert main(["encoders", "init", "--backbone", "riffusion", "-o", str(checkpoint)]) == 0
    capsys.readouterr()
    code, _, err = run(["score", EXAMPLE, "-o", tmp_path / "y.wav", "--backbone", "musicgen", "--model", "tiny",
                        "--encoders", checkpoint], capsys)
    assert code == 2 and "riffusion" in err and not (tmp_path / "y.wav").exists()
