"""Data folders, the AIST++ importer, and the training loop on tiny models."""

import json
import pickle

import numpy as np
import pytest
import soundfile as sf

from motionscore.server.cli import main
from motionscore.server.data.data_folder import check_folder
from motionscore.server.data.aist_import import ImportError_, import_aist, read_keypoint_pickle
from motionscore.server.data.synthetic_world import make_world

torch = pytest.importorskip("torch")


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    root = tmp_path_factory.mktemp("world")
    counts = make_world(root, clips=5, seed=0, seconds=2.0, sample_rate=16000, val_fraction=0.2)
    assert counts == {"train": 4, "val": 1}
    return root


def test_data_check_reports_each_problem(world, tmp_path):
    counts, problems = check_folder(world)
    assert problems == [] and counts == {"train": 4, "val": 1}
    bad = tmp_path / "bad"
    (bad / "train").mkdir(parents=True)
    for name in ("a", "b", "c", "d"):
        for suffix in (".npz", ".wav"):
            src = next((world / "train").glob(f"*{suffix}"))
            (bad / "train" / f"{name}{suffix}").write_bytes(src.read_bytes())
    (bad / "train" / "a.wav").unlink()                      # missing pair
    (bad / "train" / "b.wav").write_bytes(b"not audio")     # unreadable audio
    sf.write(bad / "train" / "c.wav", np.zeros(16000 * 5, np.float32), 16000)  # length mismatch
    np.savez(bad / "train" / "d.npz", keypoints=np.zeros((60, 17, 2)), fps=30.0, genre="polka")  # bad genre
    _, problems = check_folder(bad)
    text = "\n".join(f"{p.path}: {p.message}" for p in problems)
    assert "missing 'val' folder" in text and "a.npz: no audio pair" in text
    assert "b.wav: unreadable audio" in text and "c.wav: length mismatch" in text and "valid genres" in text
    assert main(["data", "check", str(bad)]) == 2


def _fake_aist(root, sequences, frames=700):
    (root / "kp").mkdir()
    (root / "music").mkdir()
    for seq in sequences:
        kp = np.random.default_rng(0).uniform(0, 1000, (9, frames, 17, 3)).astype(np.float32)
        kp[..., 2] = 0.9
        with open(root / "kp" / f"{seq}.pkl", "wb") as f:
            pickle.dump({"keypoints2d": kp, "det_scores": np.ones((9, frames)), "timestamps": np.arange(frames)}, f)
        music = seq.split("_")[4]
        sf.write(root / "music" / f"{music}.wav", np.zeros(16000 * 15, np.float32), 16000)
    (root / "splits").mkdir()
    (root / "splits" / "crossmodal_train.txt").write_text(sequences[0] + "\n")
    (root / "splits" / "crossmodal_test.txt").write_text(sequences[1] + "\n")


def test_import_aist_windows_genres_and_splits(tmp_path):
    seqs = ["gHO_sBM_cAll_d19_mHO0_ch01", "gKR_sBM_cAll_d28_mKR1_ch02"]
    _fake_aist(tmp_path, seqs)
    counts = import_aist(tmp_path / "kp", tmp_path / "music", tmp_path / "out", window_s=5.12, hop_s=2.56,
                         views=[0, 4], splits=tmp_path / "splits")
    # 700 frames at 60 fps: windows of 307 frames every 154 -> starts 0, 154, 308 (3), x 2 views
    assert counts == {"train": 6, "val": 0, "test": 6}
    from motionscore.shared.motion import load_motion

    train = sorted((tmp_path / "out" / "train").glob("*.npz"))
    motion = load_motion(train[0])
    assert motion.genre == "HO" and motion.num_frames == 307 and motion.fps == 60.0
    assert load_motion(next((tmp_path / "out" / "test").glob("*.npz"))).genre == "KR"
    assert sf.info(str(train[0].with_suffix(".wav"))).frames == round(307 / 60 * 16000)
    assert check_folder(tmp_path / "out")[1] == [p for p in check_folder(tmp_path / "out")[1] if "val" in p.message]


@pytest.mark.parametrize("options, message", [
    (["--views", "a"], "--views: expected comma-separated camera indices"),
    (["--views", "9"], "camera views must be among 0-8"),
    (["--window", "-1"], "must be positive"),
    (["--hop", "0"], "must be positive"),
    (["--window", "5.12", "--hop", "0.001"], "at least one frame"),
])
def test_import_aist_refuses_bad_views_and_windows_without_writing(options, message, tmp_path, capsys):
    _fake_aist(tmp_path, ["gHO_sBM_cAll_d19_mHO0_ch01", "gKR_sBM_cAll_d28_mKR1_ch02"])
    assert main(["data", "import-aist", "--keypoints", str(tmp_path / "kp"), "--audio", str(tmp_path / "music"),
                 "--out", str(tmp_path / "out"), *options]) == 2
    assert message in capsys.readouterr().err
    assert not (tmp_path / "out").exists()


def test_import_aist_never_writes_into_a_folder_with_files(tmp_path, capsys):
    _fake_aist(tmp_path, ["gHO_sBM_cAll_d19_mHO0_ch01", "gKR_sBM_cAll_d28_mKR1_ch02"])
    out = tmp_path / "out"
    (out / "train").mkdir(parents=True)
    mine = out / "train" / "mine.wav"
    mine.write_bytes(b"the user's file")
    command = ["data", "import-aist", "--keypoints", str(tmp_path / "kp"), "--audio", str(tmp_path / "music"),
               "--out", str(out)]
    assert main(command) == 2 and "not empty" in capsys.readouterr().err
    assert mine.read_bytes() == b"the user's file" and sorted(out.rglob("*")) == [out / "train", mine]
    assert main([*command, "--force"]) == 0
    assert mine.read_bytes() == b"the user's file"


def test_pickle_with_anything_but_arrays_is_refused(tmp_path):
    class Evil:
        def __reduce__(self):
            return (print, ("boom",))

    path = tmp_path / "evil.pkl"
    path.write_bytes(pickle.dumps({"keypoints2d": Evil()}))
    with pytest.raises(ImportError_, match="refused builtins.print"):
        read_keypoint_pickle(path)


@pytest.mark.parametrize("name", ["musicgen", "riffusion", "audioldm", "stableaudio"])
def test_loss_on_a_fixed_batch_goes_down(name, world):
    from motionscore.server.generation.backbones import load_backbone
    from motionscore.server.model.encoders import EncoderConfig, Encoders
    from motionscore.server.training.train import batch_loss, load_clips

    torch.manual_seed(0)
    backbone = load_backbone(name, model="tiny", device="cpu")
    backbone.encoders = Encoders(EncoderConfig(dim=backbone.text_dim, hidden=64))
    clips = load_clips(backbone, world, "train", False, log=lambda _: None)[:2]
    optim = torch.optim.AdamW(backbone.encoders.parameters(), lr=3e-3)
    before = float(batch_loss(backbone, clips, 7, False).detach())
    for _ in range(15):
        loss = batch_loss(backbone, clips, 7, False)
        optim.zero_grad()
        loss.backward()
        optim.step()
    assert float(batch_loss(backbone, clips, 7, False)) < before


def test_interrupted_training_resumes_exactly_and_the_checkpoint_scores(world, tmp_path):
    from safetensors.torch import load_file

    from motionscore.server.training.train import TrainConfig, train

    def config(out, resume=False):
        return TrainConfig(backbone="musicgen", model="tiny", data=world, out=out, steps=6, batch_size=2, lr=1e-3,
                           save_every=3, val_every=3, resume=resume)

    straight = tmp_path / "straight.safetensors"
    train(config(straight), log=lambda _: None)

    def interrupt_at_3(text):
        if text.startswith("step 3/6"):
            raise KeyboardInterrupt  # Ctrl-C right after the step-3 checkpoint

    interrupted = tmp_path / "interrupted.safetensors"
    with pytest.raises(KeyboardInterrupt):
        train(config(interrupted), log=interrupt_at_3)
    assert json.loads(__import__("safetensors").safe_open(str(interrupted), "pt").metadata()["extra"])["step"] == 3
    summary = train(config(interrupted, resume=True), log=lambda _: None)
    assert summary["steps"] == 3
    a, b = load_file(str(straight)), load_file(str(interrupted))
    assert set(a) == set(b) and all(torch.equal(a[k], b[k]) for k in a)  # bit-identical on CPU

    out = tmp_path / "take.wav"
    motion = next((world / "val").glob("*.npz"))
    assert main(["score", str(motion), "-o", str(out), "--backbone", "musicgen", "--model", "tiny",
                 "--encoders", str(straight), "-q"]) == 0
    assert out.is_file()
    assert main(["train", "--backbone", "musicgen", "--data", str(world), "--out", str(straight), "--steps", "1"]) == 2


@pytest.mark.parametrize("name", ["riffusion", "audioldm", "stableaudio"])
def test_cli_training_of_a_diffusion_backbone_writes_a_checkpoint_that_scores(name, world, tmp_path):
    from safetensors import safe_open

    from motionscore.shared.motion import load_motion

    checkpoint = tmp_path / f"{name}.safetensors"
    assert main(["train", "--backbone", name, "--model", "tiny", "--data", str(world), "--out", str(checkpoint),
                 "--steps", "2", "--batch-size", "2", "--save-every", "1", "--val-every", "1"]) == 0
    extra = json.loads(safe_open(str(checkpoint), "pt").metadata()["extra"])
    assert extra["step"] == 2

    motion_path = next((world / "val").glob("*.npz"))
    out = tmp_path / "take.wav"
    assert main(["score", str(motion_path), "-o", str(out), "--backbone", name, "--model", "tiny",
                 "--encoders", str(checkpoint), "-q"]) == 0
    motion = load_motion(motion_path)
    assert abs(sf.info(str(out)).duration - motion.num_frames / motion.fps) < 0.1
    other = {"riffusion": "audioldm", "audioldm": "riffusion", "stableaudio": "audioldm"}[name]
    assert main(["score", str(motion_path), "-o", str(tmp_path / "other.wav"), "--backbone", other,
                 "--model", "tiny", "--encoders", str(checkpoint), "-q"]) == 2  # another backbone's encoders


@pytest.mark.parametrize("options, message", [
    (["--steps", "0"], "--steps must be at least 1"),
    (["--epochs", "-2"], "--epochs must be at least 1"),
    (["--batch-size", "0"], "--batch-size must be at least 1"),
    (["--save-every", "0"], "--save-every must be at least 1"),
    (["--val-every", "0"], "--val-every must be at least 1"),
    (["--lr", "-1"], "--lr must be a positive number"),
    (["--lr", "nan"], "--lr must be a positive number"),
    (["--device", "foo"], "unknown device 'foo'"),
])
def test_train_refuses_bad_settings_in_one_line_before_any_work(options, message, world, tmp_path, capsys):
    out = tmp_path / "enc.safetensors"
    assert main(["train", "--backbone", "musicgen", "--data", str(world), "--out", str(out), *options]) == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err and "targets cached" not in err
    assert not out.exists()


def test_train_refuses_a_folder_that_is_not_a_data_folder(world, tmp_path, capsys):
    out = tmp_path / "enc.safetensors"
    assert main(["train", "--backbone", "musicgen", "--data", str(tmp_path / "missing"), "--out", str(out)]) == 2
    assert "no such data folder" in capsys.readouterr().err
    assert main(["train", "--backbone", "musicgen", "--data", str(world / "train"), "--out", str(out)]) == 2
    assert "no train/ folder" in capsys.readouterr().err
