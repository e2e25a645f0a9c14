import json

import numpy as np
import pytest
import soundfile as sf

from motionscore.server.generation.backbones import GenerationRequest, load_backbone
from motionscore.server.cli import main
from motionscore.server.evaluation.embeddings import EmbedderError, frechet_distance, load_embedder
from motionscore.server.evaluation.evaluate import evaluate_clip, evaluate_folders
from motionscore.shared.synthetic_dance import beat_times, synthetic_dance
from motionscore.shared.motion import save_motion
from motionscore.shared.rhythm import extract_rhythm
from tests.kit.songs import click_track

SR = 22050


def test_click_track_on_the_accents_scores_one_and_shifted_scores_low():
    motion = synthetic_dance(beat_times(20, 100), 20, genre="LO", seed=2)
    kinematic = extract_rhythm(motion).beat_times
    on = click_track(kinematic, SR, 20)
    report = evaluate_clip("on", on, SR, reference=(on, SR), motion=motion)
    assert report.f1 == pytest.approx(1.0) and report.alignment > 0.8
    shifted = click_track(kinematic + 0.35, SR, 20)
    late = evaluate_clip("late", shifted, SR, reference=(on, SR), motion=motion)
    assert late.f1 < 0.3 and late.alignment < 0.1


@pytest.fixture(scope="module")
def eval_folders(tmp_path_factory):
    root = tmp_path_factory.mktemp("eval")
    for sub in ("gen", "ref", "mot"):
        (root / sub).mkdir()
    synth = load_backbone("synth")
    for i, bpm in enumerate([90, 120, 140]):
        motion = synthetic_dance(beat_times(6, bpm), 6, seed=i)
        save_motion(motion, root / "mot" / f"clip{i}.npz")
        rhythm = extract_rhythm(motion)
        for folder, seed in (("gen", 1), ("ref", 2)):
            take = synth.generate(GenerationRequest(rhythm=rhythm, duration=6, sample_rate=SR, seed=seed, genre="HO"))
            sf.write(root / folder / f"clip{i}.wav", take.audio, SR)
    sf.write(root / "gen" / "extra.wav", np.zeros(SR, np.float32), SR)  # no reference, no motion
    return root


def test_fad_and_clap_through_tiny_stand_ins(eval_folders):
    vggish, clap = load_embedder("tiny-vggish"), load_embedder("tiny-clap")
    report = evaluate_folders(eval_folders / "gen", eval_folders / "ref", eval_folders / "mot",
                              fad_embedder=vggish, clap=clap)
    summary = report.summary
    assert summary["clips"] == 4 and summary["fad_embedder"] == "tiny-vggish" and summary["fad"] >= 0
    assert -1 <= summary["clap"] <= 1 and summary["f1"] > 0.8 and summary["alignment"] > 0.6
    assert report.unpaired["without_reference"] == ["extra"] and report.unpaired["without_motion"] == ["extra"]
    # The same code path distinguishes music from noise.
    audio, _ = sf.read(eval_folders / "gen" / "clip0.wav", dtype="float32")
    other, _ = sf.read(eval_folders / "ref" / "clip1.wav", dtype="float32")
    noise = np.random.default_rng(0).normal(0, 0.3, audio.size).astype(np.float32)
    za, zb, zn = (vggish(x, SR) for x in (audio, other, noise))
    assert frechet_distance(za, za) == pytest.approx(0, abs=1e-9)
    assert frechet_distance(za, zb) < frechet_distance(za, zn)
    assert clap(audio, SR).shape == (1, 32)


def test_real_vggish_weights_load_from_a_file(tmp_path):
    torch = pytest.importorskip("torch")
    from motionscore.server.evaluation.embeddings import _vggish_module

    torch.manual_seed(0)
    path = tmp_path / "vggish-10086976.pth"
    torch.save(_vggish_module().state_dict(), path)
    embedder = load_embedder("vggish", str(path))
    assert embedder(np.random.default_rng(0).normal(size=SR * 2).astype(np.float32), SR).shape == (2, 128)
    with pytest.raises(EmbedderError, match="vggish-10086976.pth"):
        load_embedder("vggish", str(tmp_path / "missing.pth"))
    with pytest.raises(EmbedderError, match="huggingface-cli download"):
        load_embedder("clap", str(tmp_path / "no-clap-here"))


def test_eval_command_writes_report_and_pictures(eval_folders, tmp_path, capsys):
    out = tmp_path / "report"
    code = main(["eval", "--generated", str(eval_folders / "gen"), "--reference", str(eval_folders / "ref"),
                 "--motion", str(eval_folders / "mot"), "--out", str(out), "--fad-embedder", "tiny-vggish",
                 "--clap", "tiny-clap"])
    stdout = capsys.readouterr().out
    assert code == 0 and "FAD (tiny-vggish)" in stdout and "mean" in stdout
    data = json.loads((out / "report.json").read_text())
    assert len(data["clips"]) == 4 and (out / "per_clip.csv").read_text().count("\n") == 5
    assert (out / "summary.png").stat().st_size > 10_000
    assert sorted(p.name for p in (out / "plots").iterdir()) == ["clip0.png", "clip1.png", "clip2.png", "extra.png"]


def test_eval_one_and_score_plot(eval_folders, tmp_path, capsys):
    png = tmp_path / "one.png"
    code = main(["eval-one", str(eval_folders / "mot" / "clip1.npz"), str(eval_folders / "gen" / "clip1.wav"),
                 "--reference", str(eval_folders / "ref" / "clip1.wav"), "--json", "--plot", str(png)])
    data = json.loads(capsys.readouterr().out)
    assert code == 0 and data["f1"] > 0.8 and data["alignment"] > 0.6 and png.stat().st_size > 10_000
    score_png = tmp_path / "take.png"
    assert main(["score", str(eval_folders / "mot" / "clip0.npz"), "-o", str(tmp_path / "t.wav"), "-q",
                 "--plot", str(score_png)]) == 0
    assert score_png.stat().st_size > 10_000
    # The map's bars, the user's hits and the motion's soft hits (accents) all draw.
    from motionscore.server.evaluation.plots import beat_timeline

    drawn = beat_timeline(tmp_path / "map.png", np.zeros(22050 * 4, np.float32), 22050, np.arange(0.5, 4, 0.5),
                          np.arange(0.5, 4, 0.5), bars=[0.5, 2.5], hits=[1.5], accents=[3.0])
    assert drawn.stat().st_size > 10_000


def test_eval_bad_input(tmp_path, capsys):
    assert main(["eval", "--generated", str(tmp_path / "nope"), "--fad-embedder", "none"]) == 2
    assert "does not exist" in capsys.readouterr().err
    (tmp_path / "g").mkdir()
    (tmp_path / "g" / "bad.wav").write_bytes(b"RIFF broken")
    assert main(["eval", "--generated", str(tmp_path / "g"), "--fad-embedder", "none"]) == 2
    assert "unreadable audio" in capsys.readouterr().err
    assert main(["eval", "--generated", str(tmp_path / "g"), "--reference", str(tmp_path / "g")]) == 1
    assert "VGGish weights not found" in capsys.readouterr().err
