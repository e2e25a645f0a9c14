import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from motionscore.server.cli import main
from motionscore.shared.synthetic_dance import beat_times, static_motion, synthetic_dance
from motionscore.shared.motion import save_motion
from tests.kit.dances import two_pulse_dance
from tests.kit.paths import EXAMPLE_MOTION

EXAMPLE = EXAMPLE_MOTION


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


def test_rhythm_and_score_offer_the_other_tempo_of_a_two_pulse_dance(tmp_path, capsys):
    """Arms at 110 BPM, legs at 80: the map takes 110 and both commands say what else fits."""
    path = tmp_path / "two.npz"
    save_motion(two_pulse_dance(0), path)
    code, stdout, _ = run(["rhythm", path], capsys)
    # The legs' 80 BPM first; the map is in 3/4 (the hips repeat every three of its beats), whose
    # evidence also offers the tempo of which the legs' half-time would be the bar (119.4).
    code, stdout, _ = run(["rhythm", path, "--json"], capsys)
    alternatives = json.loads(stdout)["tempo_map"]["alternatives_bpm"]
    assert code == 0 and alternatives == [79.7, 119.4]
    code, stdout, _ = run(["rhythm", path], capsys)
    assert code == 0 and "the motion's pulse also fits 79.7 or 119.4 BPM (score with --tempo BPM to use one)" in stdout
    code, stdout, _ = run(["score", path, "-o", tmp_path / "two.wav"], capsys)
    assert code == 0 and "also fits  79.7 or 119.4 BPM (--tempo BPM to use one)" in stdout
    # Taking the advice: the map follows the user's tempo and offers nothing more.
    code, stdout, _ = run(["rhythm", path, "--tempo", "79.7"], capsys)
    assert code == 0 and "80 BPM" in stdout and "also fits" not in stdout


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
    from tests.kit.servers import free_port

    code, _, err = run(["score", EXAMPLE, "-o", tmp_path / "x.wav", "--server", f"tcp://127.0.0.1:{free_port()}",
                        "--timeout", "1"], capsys)
    assert code == 1 and "no motionscore server answered" in err and not (tmp_path / "x.wav").exists()


def test_score_through_a_server(shared_server, tmp_path, capsys):
    address = shared_server
    motion = synthetic_dance(beat_times(3.0, 100), 3.0, fps=24, genre="LO")
    save_motion(motion, tmp_path / "m.npz")
    code, stdout, _ = run(["score", tmp_path / "m.npz", "-o", tmp_path / "m.wav", "--server", address, "--json"], capsys)
    assert code == 0 and json.loads(stdout)["genre"] == "LO"
    assert sf.info(tmp_path / "m.wav").frames == 3 * 48000


def test_serve_refuses_non_loopback_and_busy_port(capsys, shared_server):
    code, _, err = run(["serve", "--bind", "tcp://0.0.0.0:5999"], capsys)
    assert code == 2 and "needs --keys" in err and "motionscore keys init" in err
    address = shared_server
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


@pytest.mark.parametrize("backbone", ["musicgen", "riffusion", "audioldm", "stableaudio"])
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


@pytest.mark.parametrize("backbone", ["musicgen", "riffusion", "audioldm", "stableaudio"])
def test_text_only_takes_follow_the_motions_tempo_in_words(backbone, tmp_path, capsys):
    """Without encoders the motion reaches an ML backbone through its tempo map, in words: two dances
    at different tempi give different music, and each take's prompt names its tempo."""
    pytest.importorskip("torch")
    from motionscore.server.generation.backbones import load_backbone
    from motionscore.server.generation.pipeline import score_motion
    from motionscore.shared.options import ScoreOptions

    model = load_backbone(backbone, model="tiny")
    takes = {}
    for bpm in (100, 137):
        motion = synthetic_dance(beat_times(4.0, bpm), 4.0, fps=30, genre="PO", seed=2)
        # The tiny AudioLDM's random vocoder is nearly silent: compare the float audio, not a 16-bit file.
        result = score_motion(motion, ScoreOptions(sample_rate=16000, beat_lock=False), model)
        meta = result.metadata
        assert meta["tempo_map"]["tempo_bpm"] == pytest.approx(bpm, rel=0.02)
        words = f"{round(meta['tempo_map']['tempo_bpm'])} bpm"
        assert meta["backbone_info"]["prompt_text"].endswith(f", {words}")
        assert any(f"tempo in words ({words})" in n for n in meta["notes"])
        takes[bpm] = (result.audio, words)
    (slow, slow_words), (fast, fast_words) = takes[100], takes[137]
    assert slow_words != fast_words and slow.shape == fast.shape and not np.array_equal(slow, fast)


def test_hits_tempo_and_meter_from_the_command_line(tmp_path, capsys):
    save_motion(synthetic_dance(beat_times(12.0, 100), 12.0, fps=30, genre="MH", seed=1), tmp_path / "m.npz")
    (tmp_path / "hits.txt").write_text("# sync points\n7.77  punch\n")
    code, out, err = run(["rhythm", tmp_path / "m.npz", "--hits", "3.1", "--hits-file", tmp_path / "hits.txt",
                          "--json"], capsys)
    data = json.loads(out)
    assert code == 0 and data["tempo_map"]["hits_s"] == [3.1, 7.77] and data["tempo_map"]["hits_caught"] == 2
    code, out, err = run(["score", tmp_path / "m.npz", "-o", tmp_path / "t.wav", "--tempo", "90", "--meter", "3",
                          "--json", "-q"], capsys)
    meta = json.loads(out)
    assert code == 0 and meta["tempo_map"]["tempo_bpm"] == 90 and meta["tempo_map"]["meter"] == 3
    assert meta["tempo_map"]["summary"].startswith("90 BPM, 3/4")
    code, out, err = run(["score", tmp_path / "m.npz", "-o", tmp_path / "u.wav", "-q"], capsys)
    assert code == 0 and "tempo map  100 BPM, 4/4, steady" in out
    for bad, message in ((["--hits", "1,x"], "hits must be seconds"), (["--hits", "30"], "outside the motion"),
                         (["--tempo", "5"], "tempo_bpm must be"), (["--hits-file", tmp_path / "none.txt"], "cannot read")):
        code, out, err = run(["score", tmp_path / "m.npz", "-o", tmp_path / "bad.wav", *bad], capsys)
        assert code == 2 and message in err and "Traceback" not in err
        assert not (tmp_path / "bad.wav").exists()


def test_a_named_ballroom_dance_sets_the_map_and_the_prompt_from_the_command_line(tmp_path, capsys):
    save_motion(synthetic_dance(beat_times(12.0, 87), 12.0, fps=30, genre="HO", seed=1), tmp_path / "m.npz")
    code, out, _ = run(["rhythm", tmp_path / "m.npz", "--json"], capsys)
    assert code == 0 and json.loads(out)["tempo_map"]["meter"] == 4
    code, out, _ = run(["rhythm", tmp_path / "m.npz", "--genre", "waltz", "--json"], capsys)
    data = json.loads(out)
    assert code == 0 and data["genre"] == "WZ" and data["tempo_map"]["meter"] == 3
    code, out, err = run(["rhythm", tmp_path / "m.npz", "--genre", "polka"], capsys)
    assert code == 2 and "unknown genre 'polka'" in err and "Waltz" in err and "Traceback" not in err
    code, out, _ = run(["score", tmp_path / "m.npz", "-o", tmp_path / "s.wav", "--genre", "waltz"], capsys)
    assert code == 0 and "genre Waltz (WZ)" in out and "tempo map  87 BPM, 3/4" in out
    pytest.importorskip("torch")
    code, out, _ = run(["score", tmp_path / "m.npz", "-o", tmp_path / "t.wav", "--genre", "Waltz", "--backbone",
                        "musicgen", "--model", "tiny", "--sample-rate", "16000", "--json", "-q"], capsys)
    meta = json.loads(out)
    assert code == 0 and meta["genre"] == "WZ" and meta["tempo_map"]["meter"] == 3
    assert meta["backbone_info"]["prompt_text"].startswith("a Waltz music")
    assert meta["backbone_info"]["prompt_text"].endswith("87 bpm, in 3/4 time")


def test_a_map_that_does_not_suit_the_genre_named_is_said(tmp_path, capsys):
    """A 100 BPM dance named a tango (124-132 BPM): its map keeps the motion's 100 BPM and says it
    is slow for a tango, in rhythm, score and the take's metadata; not with the user's own tempo,
    nor for a genre that suits it."""
    save_motion(synthetic_dance(beat_times(12.0, 100), 12.0, fps=30, genre="MH", seed=1), tmp_path / "m.npz")
    note = "100 BPM is slow for Tango (124-132 BPM)"
    code, out, _ = run(["rhythm", tmp_path / "m.npz", "--genre", "tango"], capsys)
    assert code == 0 and f"note: {note}; the motion's pulse outweighed the genre's range" in out
    code, out, _ = run(["score", tmp_path / "m.npz", "-o", tmp_path / "t.wav", "--genre", "tango"], capsys)
    assert code == 0 and "tempo map  100 BPM" in out and f"note       tempo map: {note};" in out
    code, out, _ = run(["score", tmp_path / "m.npz", "-o", tmp_path / "u.wav", "--genre", "tango", "--json", "-q"],
                       capsys)
    meta = json.loads(out)
    assert meta["tempo_map"]["genre_note"] == note and any(n.startswith(f"tempo map: {note}") for n in meta["notes"])
    for options in (["--genre", "tango", "--tempo", "100"], ["--genre", "MH"], []):
        code, out, _ = run(["rhythm", tmp_path / "m.npz", *options], capsys)
        assert code == 0 and "note:" not in out
        code, out, _ = run(["score", tmp_path / "m.npz", "-o", tmp_path / f"v{len(options)}.wav", *options,
                            "--json", "-q"], capsys)
        meta = json.loads(out)
        assert "genre_note" not in meta["tempo_map"] and not any(n.startswith("tempo map:") for n in meta["notes"])


def test_eval_one_against_the_motion_and_annotated_beats(tmp_path, capsys):
    motion = synthetic_dance(beat_times(10.0, 120), 10.0, fps=30, genre="HO", seed=1)
    save_motion(motion, tmp_path / "m.npz")
    assert main(["score", str(tmp_path / "m.npz"), "-o", str(tmp_path / "t.wav"), "-q"]) == 0
    capsys.readouterr()
    from motionscore.shared.rhythm import extract_rhythm

    beats = extract_rhythm(motion).beat_times
    (tmp_path / "song.beats").write_text("\n".join(f"{b:.3f}" for b in beats))
    (tmp_path / "off.beats").write_text("\n".join(f"{b + 0.25:.3f}" for b in beats))
    scores = {}
    for name in ("song", "off"):
        code, out, err = run(["eval-one", tmp_path / "m.npz", tmp_path / "t.wav", "--reference-beats",
                              tmp_path / f"{name}.beats", "--json"], capsys)
        assert code == 0
        scores[name] = json.loads(out)
    assert scores["song"]["motion_f1"] >= 0.9 and scores["song"]["annotated_f1"] >= 0.9
    assert scores["song"]["annotated_f1_70ms"] >= 0.8 and scores["off"]["annotated_f1_70ms"] <= 0.2
    (tmp_path / "bad.beats").write_text("one two\n")
    code, out, err = run(["eval-one", tmp_path / "m.npz", tmp_path / "t.wav", "--reference-beats",
                          tmp_path / "bad.beats"], capsys)
    assert code == 2 and "not a beats file" in err


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


def test_a_servers_synth_take_gets_the_same_stems(tmp_path, shared_server):
    """Stems of a take made on the server: its parts rendered here and checked against the take."""
    import soundfile as sf

    from motionscore.server.cli import main

    address = shared_server
    local, remote = tmp_path / "local", tmp_path / "remote"
    local.mkdir()
    remote.mkdir()
    common = ["examples/dance.npz", "-q", "--sample-rate", "16000", "--seed", "3"]
    assert main(["score", *common, "-o", str(local / "take.wav"), "--stems", str(local)]) == 0
    assert main(["score", *common, "-o", str(remote / "take.wav"), "--stems", str(remote), "--server", address,
                 "--backbone", "synth"]) == 0
    for name in ("take", "take_drums", "take_bass", "take_chords"):
        here, there = (sf.read(str(folder / f"{name}.wav"), dtype="int16")[0] for folder in (local, remote))
        assert np.array_equal(here, there) and np.abs(there).max() > 100
