"""The learning proof's pieces: captions, tiny-backbone pretraining and its file, the end-to-end runner.

The proof's *numbers* come from ``benchmarks/learning_proof.py`` (about 35 minutes on 2 cores);
these tests check that every step runs and does what it says on a world small enough for CI.
"""

import json
from dataclasses import replace

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from motionscore.server.cli import main
from motionscore.server.data.synthetic_world import make_world
from motionscore.shared.genres import GENRE_CODES

torch = pytest.importorskip("torch")

from motionscore.server.evaluation.paired import paired_comparison  # noqa: E402
from motionscore.server.generation.backbones.musicgen import TinyMusicGenSpec, save_pretrained  # noqa: E402
from motionscore.server.model.captions import caption, onset_word, tempo_word  # noqa: E402
from motionscore.server.training.learning_proof import BASELINES, CONDITIONS, METRICS, ProofConfig, run_proof  # noqa: E402
from motionscore.server.training.pretrain import (  # noqa: E402
    CodecConfig, PretrainConfig, fit_codec, load_pretrained, pretrain_lm)
from motionscore.server.model.tokenizers import word_level_tokenizer  # noqa: E402
from tests.kit.scripts import run_benchmark  # noqa: E402
from tests.kit.paths import BENCHMARKS  # noqa: E402

SMALL = TinyMusicGenSpec(dim=32, layers=2, heads=4, text_dim=32)


@given(genre=st.sampled_from(list(GENRE_CODES) + [None]), bpm=st.floats(40, 260), first=st.floats(0, 2.0),
       variant=st.integers(0, 5))
@settings(max_examples=200, deadline=None)
def test_every_caption_word_is_in_the_vocabulary(genre, bpm, first, variant):
    tokenizer = word_level_tokenizer(["<extra_id_0>", "<extra_id_1>"], eos="</s>",
                                     extra_words=tuple(SMALL.extra_words))
    text = caption(genre, bpm, first, variant)
    ids = tokenizer(text)["input_ids"]
    assert tokenizer.unk_token_id not in ids, text
    assert tempo_word(bpm) in text.split() and onset_word(first) in text.split()
    assert int(tempo_word(bpm)) % 5 == 0 and 60 <= int(tempo_word(bpm)) <= 200


def test_caption_words_rounds_and_clamps():
    assert tempo_word(123.7) == "125" and tempo_word(20) == "60" and tempo_word(999) == "200"
    assert onset_word(0.33) == "8" and onset_word(-1) == "0" and onset_word(5.0) == "25"


def test_extra_words_never_move_the_default_vocabulary():
    plain = word_level_tokenizer(["<extra_id_0>"], eos="</s>")
    extended = word_level_tokenizer(["<extra_id_0>"], eos="</s>", extra_words=("bpm", "120", "music"))
    assert all(extended.get_vocab()[w] == i for w, i in plain.get_vocab().items())
    assert len(extended) == len(plain) + 2  # "music" was already there


@pytest.fixture(scope="module")
def small_world(tmp_path_factory):
    root = tmp_path_factory.mktemp("proofworld")
    counts = make_world(root, clips=10, seed=3, seconds=2.0, sample_rate=32000, val_fraction=0.1, test_fraction=0.2)
    assert counts == {"train": 7, "val": 1, "test": 2}
    return root


def test_world_metadata_describes_every_clip(small_world):
    meta = json.loads((small_world / "metadata.json").read_text())
    assert len(meta) == 10
    for name, entry in meta.items():
        assert (small_world / entry["split"] / f"{name}.npz").exists()
        assert 80 <= entry["bpm"] <= 160 and 0 < entry["first_accent_s"] <= 60 / entry["bpm"]
        assert entry["genre"] in GENRE_CODES


def test_cli_synth_rejects_bad_fractions_and_workers(tmp_path, capsys):
    assert main(["data", "synth", "--out", str(tmp_path / "w"), "--clips", "3", "--test-fraction", "0.9"]) == 2
    assert "must leave clips for train" in capsys.readouterr().err
    assert main(["data", "synth", "--out", str(tmp_path / "w"), "--clips", "3", "--workers", "0"]) == 2
    assert "--workers must be at least 1" in capsys.readouterr().err
    for options, message in ((["--clips", "0"], "--clips must be at least 1"),
                             (["--clips", "3", "--seconds", "0"], "--seconds must be at least 1"),
                             (["--clips", "3", "--seconds", "nan"], "--seconds must be at least 1")):
        assert main(["data", "synth", "--out", str(tmp_path / "w"), *options]) == 2
        err = capsys.readouterr().err
        assert message in err and "Traceback" not in err
    assert not (tmp_path / "w").exists()


def test_parallel_rendering_writes_the_same_world(small_world, tmp_path, monkeypatch):
    """Clips are planned in order from one generator, so two processes write the same files."""
    import motionscore.server.data.synthetic_world as synthetic_world

    monkeypatch.setattr(synthetic_world, "PARALLEL_MIN_CLIPS", 2)  # processes even for ten clips
    parallel = tmp_path / "parallel"
    assert main(["data", "synth", "--out", str(parallel), "--clips", "10", "--seed", "3", "--seconds", "2.0",
                 "--val-fraction", "0.1", "--test-fraction", "0.2", "--workers", "2"]) == 0
    serial_files = sorted(p.relative_to(small_world) for p in small_world.rglob("*") if p.is_file())
    assert serial_files == sorted(p.relative_to(parallel) for p in parallel.rglob("*") if p.is_file())
    assert json.loads((parallel / "metadata.json").read_text()) == json.loads((small_world / "metadata.json").read_text())
    for rel in serial_files:
        if rel.suffix == ".wav":  # the CLI writes at 32 kHz too; same samples
            assert (parallel / rel).read_bytes() == (small_world / rel).read_bytes(), rel
        elif rel.suffix == ".npz":
            from motionscore.shared.motion import load_motion

            a, b = load_motion(parallel / rel), load_motion(small_world / rel)
            assert np.array_equal(a.keypoints, b.keypoints) and a.genre == b.genre


def test_pretraining_lowers_the_loss_and_the_saved_model_reloads(small_world, tmp_path):
    from motionscore.server.generation.backbones.musicgen import MusicGenBackbone
    from motionscore.server.data.data_folder import load_split
    from motionscore.server.training.train import target_of

    from motionscore.server.training.train import _audio

    meta = json.loads((small_world / "metadata.json").read_text())
    backbone = MusicGenBackbone.from_musicgen(SMALL.build(), model_id="small")
    pairs = load_split(small_world, "train")
    wavs = [_audio(audio, 32000) for _, _, audio in pairs]
    import torchaudio

    codec = backbone.mg.compression_model
    probe = torch.from_numpy(wavs[0][:32000])[None, None]
    mel = torchaudio.transforms.MelSpectrogram(32000, n_fft=2048, hop_length=512, n_mels=64)

    def log_mel_error(codes):  # what a listener (and the beat tracker) hears, unlike waveform L1
        return float((torch.log(mel(codec.decode(codes)) + 1e-5) - torch.log(mel(probe) + 1e-5)).abs().mean())

    with torch.no_grad():
        codes_before, _ = codec.encode(probe)
        error_before = log_mel_error(codes_before)
    codec_losses = fit_codec(backbone, wavs, CodecConfig(steps=40, batch_size=4), log=lambda _: None)
    with torch.no_grad():
        codes_after, _ = codec.encode(probe)
        error_after = log_mel_error(codes_after)
    assert len(codec_losses) == 40 and np.mean(codec_losses[-10:]) < np.mean(codec_losses[:10])
    assert error_after < error_before
    assert not any(p.requires_grad for p in codec.parameters()) and not codec.training
    codes = [target_of(backbone, audio) for _, _, audio in pairs]
    fixed = torch.stack([c[..., :40] for c in codes[:4]])
    texts = [caption(m.genre, meta[n]["bpm"], meta[n]["first_accent_s"]) for n, m, _ in pairs[:4]]
    with torch.no_grad():
        before = float(backbone.text_cross_entropy(fixed, texts))
    losses = pretrain_lm(backbone, codes, [m.genre for _, m, _ in pairs], [meta[n]["bpm"] for n, _, _ in pairs],
                         [meta[n]["first_accent_s"] for n, _, _ in pairs],
                         PretrainConfig(steps=30, batch_size=4, warmup=3), log=lambda _: None)
    with torch.no_grad():
        after = float(backbone.text_cross_entropy(fixed, texts))
    assert len(losses) == 30 and after < before - 0.3
    assert not any(p.requires_grad for p in backbone.mg.lm.parameters()) and not backbone.mg.lm.training

    path = tmp_path / "tiny.safetensors"
    save_pretrained(backbone, SMALL, path)
    reloaded = load_pretrained(path)
    with torch.no_grad():
        assert float(reloaded.text_cross_entropy(fixed, texts)) == pytest.approx(after, abs=1e-5)
        assert torch.equal(reloaded.mg.compression_model.encode(probe)[0], codes_after)
    assert reloaded.model_id == str(path)


def test_a_foreign_safetensors_file_is_refused(tmp_path):
    from safetensors.torch import save_file

    path = tmp_path / "foreign.safetensors"
    save_file({"w": torch.zeros(2)}, str(path), metadata={"format": "something-else"})
    with pytest.raises(ValueError, match="not a pretrained tiny MusicGen"):
        load_pretrained(path)
    with pytest.raises(ValueError, match="no such file"):
        load_pretrained(tmp_path / "missing.safetensors")


def test_the_proof_runs_end_to_end_and_reports_every_condition(tmp_path):
    config = ProofConfig(work=tmp_path / "proof", clips=12, val_fraction=0.05, test_fraction=0.15, pretrain_clips=6,
                         seconds=2.0, spec=SMALL, codec=CodecConfig(steps=3, batch_size=2),
                         pretrain=PretrainConfig(steps=6, batch_size=4, warmup=2), encoder_steps=4, encoder_batch=4)
    lines = []
    report = run_proof(config, log=lines.append)
    for metric in METRICS:
        assert set(report[metric]) == set(CONDITIONS)
        assert all(0.0 <= v <= 1.0 for v in report[metric].values())
    assert report["held_out_clips"] == 2 and report["train_clips"] == 9 and report["pretrain_clips"] == 6
    assert report["f1"]["world music"] > 0.5  # the world's own music follows its dances
    assert report["encoder_training"]["steps"] == 4
    # Paired statistics for every measure against every baseline, over the held-out clips.
    assert set(report["paired"]) == set(METRICS)
    for metric in METRICS:
        assert set(report["paired"][metric]) == set(BASELINES)
        assert all(c["clips"] == 2 and 0.0 <= c["p"] <= 1.0 for c in report["paired"][metric].values())
    assert any(line.startswith("trained: F1") for line in lines)
    # The encoders' checkpoint names the pretrained backbone file they were trained against.
    from motionscore.server.model.checkpoint import load_checkpoint

    ckpt = load_checkpoint(tmp_path / "proof" / "encoders.safetensors", backbone="musicgen", dim=SMALL.text_dim)
    assert ckpt.model_id == str(tmp_path / "proof" / "backbone.safetensors")
    # ...and a user can listen to them: the CLI loads both files.
    motion = next((tmp_path / "proof" / "world" / "test").glob("*.npz"))
    out = tmp_path / "take.wav"
    assert main(["score", str(motion), "--backbone", "musicgen", "--model", str(tmp_path / "proof" / "backbone.safetensors"),
                 "--encoders", str(tmp_path / "proof" / "encoders.safetensors"), "-o", str(out)]) == 0
    assert out.exists()
    # A second run reuses the worlds and the pretrained backbone instead of remaking them...
    assert report["pretrain_loss"]["reused"] is False
    lines.clear()
    again = run_proof(config, log=lines.append)
    assert any("reusing the synthetic world" in line for line in lines)
    assert any("reusing the pretrained backbone" in line for line in lines)
    assert not any(line.startswith("pretrain step") for line in lines)
    assert again["pretrain_loss"] == {**report["pretrain_loss"], "reused": True}
    assert again["f1"]["world music"] == report["f1"]["world music"]
    # ...but not one pretrained with other settings.
    lines.clear()
    run_proof(replace(config, pretrain=PretrainConfig(steps=7, batch_size=4, warmup=2)), log=lines.append)
    assert not any("reusing the pretrained backbone" in line for line in lines)
    assert any(line.startswith("pretrain step 7/7") for line in lines)
    assert np.isfinite(report["pretrain_loss"]["last"])


@settings(max_examples=60, deadline=None)
@given(base=st.lists(st.floats(0.0, 1.0), min_size=8, max_size=60),
       gain=st.one_of(st.just(0.0), st.floats(1e-3, 0.5), st.floats(-0.5, -1e-3)), seed=st.integers(0, 99))
def test_paired_comparison_reports_a_constant_gain_exactly(base, gain, seed):
    """Trained = baseline + gain on every clip: the mean difference is the gain, its interval is
    the gain, and a non-zero gain on 8 or more clips is significant (all signs agree)."""
    trained = [b + gain for b in base]
    c = paired_comparison(trained, base, seed=seed, resamples=500)
    assert c["clips"] == len(base)
    assert c["mean"] == pytest.approx(gain, abs=1e-4)
    assert c["ci95"][0] == pytest.approx(gain, abs=1e-4) and c["ci95"][1] == pytest.approx(gain, abs=1e-4)
    if gain:
        assert c["p"] < 0.01
    else:
        assert c["p"] == 1.0


def test_paired_comparison_of_noise_is_not_significant_and_its_interval_covers_zero():
    rng = np.random.default_rng(3)
    base = rng.uniform(0.5, 1.0, 200)
    noise = rng.normal(0.0, 0.1, 200)
    c = paired_comparison(list(base + noise - noise.mean()), list(base))  # no gain at all
    assert c["ci95"][0] < 0.0 < c["ci95"][1] and c["p"] > 0.05
    shifted = paired_comparison(list(base + 0.05 + rng.normal(0.0, 0.1, 200)), list(base))
    assert shifted["ci95"][0] > 0.0 and shifted["p"] < 0.001
    with pytest.raises(ValueError, match="no clips"):
        paired_comparison([], [])


def test_world_music_is_on_the_dancers_stops_not_on_the_tempo_map(tmp_path):
    """The world's design: its dancers stop exactly on the music's beats (captions name them too).
    The tempo map would move the music 0.1 s earlier and halve 150 BPM; the world must not."""
    import soundfile as sf

    from motionscore.server.analysis.metrics import beat_scores, track_music_beats
    from motionscore.shared.synthetic_dance import beat_times
    from motionscore.server.data.synthetic_world import _render_clip

    clip = {"index": 3, "split": "train", "genre": "JB", "bpm": 150.0, "phase": 0.2, "dancer_seed": 5, "seconds": 5.12}
    (tmp_path / "train").mkdir()
    name = _render_clip(clip, str(tmp_path), 32000)
    audio, rate = sf.read(str(tmp_path / "train" / f"{name}.wav"))
    accents = beat_times(5.12, 150.0, phase=0.2)
    assert beat_scores(track_music_beats(audio, rate)[1], accents, 0.07).f1 >= 0.8


@pytest.mark.slow
def test_seeded_runs_repeat_exactly_and_pool_their_clips(tmp_path):
    """`learning_proof.py --seeds`: each seed in its own process and folder, pooled statistics and a
    verdict; a seed rerun on its own (another process, another folder) gives the same numbers."""
    import subprocess
    import sys

    script = BENCHMARKS / "learning_proof.py"
    # The smoke run, smaller still: what is checked is that a seed repeats, not what it learns.
    small = ["--quick", "--codec-steps", "4", "--pretrain-steps", "8", "--encoder-steps", "4", "--pretrain-clips", "8",
             "--seconds", "2"]
    both = subprocess.run([sys.executable, str(script), "--work", str(tmp_path / "a"), *small, "--seeds", "0,1"],
                          capture_output=True, text=True, timeout=600)
    assert both.returncode == 0, both.stdout[-2000:] + both.stderr[-2000:]
    again = subprocess.run([sys.executable, str(script), "--work", str(tmp_path / "b"), *small, "--seeds", "1"],
                           capture_output=True, text=True, timeout=600)
    assert again.returncode == 0, again.stdout[-2000:] + again.stderr[-2000:]
    first = json.loads((tmp_path / "a" / "seed-1" / "report.json").read_text())
    second = json.loads((tmp_path / "b" / "seed-1" / "report.json").read_text())
    for key in ("f1", "f1_70ms", "alignment", "tempo_ok", "paired", "pretrain_loss", "per_clip"):
        assert first[key] == second[key], key
    other = json.loads((tmp_path / "a" / "seed-0" / "report.json").read_text())
    assert other["per_clip"]["world music"] != first["per_clip"]["world music"]  # a new world per seed
    pooled = json.loads((tmp_path / "a" / "report.json").read_text())
    assert pooled["seeds"] == [0, 1] and pooled["held_out_clips"] == first["held_out_clips"] * 2
    assert set(pooled["per_seed"]) == {"0", "1"} and set(pooled["tempo_claim"]) == {"0", "1"}
    assert len(pooled["robust"]) + len(pooled["not_robust"]) == len(METRICS) * len(BASELINES)
    env = first["environment"]
    assert env["threads"] == 1 and env["packages"]["torch"] == torch.__version__.split("+")[0] and len(env["lock_sha256"]) == 64
    assert "verdict (what holds in every seed" in both.stdout and "tempo claim" in both.stdout
    assert "pooled over seeds 0,1" in both.stdout


def test_seeds_option_refuses_bad_lists(capsys):
    for options, message in ((["--seeds", "0,0"], "distinct seeds"), (["--seeds", "a,b"], "whole numbers"),
                             (["--seeds", "0", "--threads", "0"], "must be at least 1"),
                             (["--seconds", "0.5"], "--seconds must be between 1 and 30")):
        code = run_benchmark("learning_proof", ["--work", "/nonexistent/proof", *options])
        err = capsys.readouterr().err
        assert code == 2 and message in err and "Traceback" not in err


def test_a_collapsed_codec_is_fitted_again_and_the_least_collapsed_kept(tmp_path, monkeypatch):
    """The proof measures the fitted codec's code usage; a collapsed quantiser (perplexity ~1,
    nothing for the LM to model) is fitted again with other batches, and the report says so."""
    import motionscore.server.training.learning_proof as proof

    seen_seeds, perplexities = [], iter([1.01, 1.5, 5.0])
    real_fit = proof.fit_codec

    def fit(backbone, wavs, config, log):
        seen_seeds.append(config.seed)
        return real_fit(backbone, wavs, config, log)

    monkeypatch.setattr(proof, "fit_codec", fit)
    monkeypatch.setattr(proof, "codec_usage", lambda b, w: {"codes_used": 3, "perplexity": next(perplexities)})
    config = ProofConfig(work=tmp_path / "proof", clips=12, val_fraction=0.05, test_fraction=0.15, pretrain_clips=6,
                         seconds=2.0, spec=SMALL, codec=CodecConfig(steps=2, batch_size=2),
                         pretrain=PretrainConfig(steps=3, batch_size=4, warmup=1), encoder_steps=2, encoder_batch=4,
                         seed=4)
    lines = []
    report = run_proof(config, log=lines.append)
    assert seen_seeds == [4, 4 + proof.CODEC_RETRY_SEED, 4 + 2 * proof.CODEC_RETRY_SEED]
    assert report["pretrain_loss"]["codec"] == {"codes_used": 3, "perplexity": 5.0, "fits": 3, "kept_fit": 3,
                                                "collapsed": False}
    assert sum("quantiser collapsed" in line for line in lines) == 2
    # All fits collapsed: the least collapsed one is kept, with a warning in the log and the report.
    perplexities = iter([1.2, 2.0, 1.1])
    monkeypatch.setattr(proof, "codec_usage", lambda b, w: {"codes_used": 2, "perplexity": next(perplexities)})
    lines.clear()
    again = run_proof(replace(config, pretrain=PretrainConfig(steps=4, batch_size=4, warmup=1)), log=lines.append)
    assert again["pretrain_loss"]["codec"] == {"codes_used": 2, "perplexity": 2.0, "fits": 3, "kept_fit": 2,
                                               "collapsed": True}
    assert any(line.startswith("WARNING: the codec collapsed in all 3 fits") for line in lines)


def test_codec_usage_counts_codes_and_their_perplexity():
    from motionscore.server.generation.backbones.musicgen import MusicGenBackbone
    from motionscore.server.training.pretrain import codec_usage

    backbone = MusicGenBackbone.from_musicgen(SMALL.build(), model_id="x")
    silence = codec_usage(backbone, [np.zeros(32000, dtype=np.float32)])
    assert silence["codes_used"] <= 2 and silence["perplexity"] < 1.5  # one code for every frame
    rng = np.random.default_rng(0)
    noise = codec_usage(backbone, [rng.normal(0, 0.3, 32000).astype(np.float32) for _ in range(3)])
    assert noise["codes_used"] >= silence["codes_used"] and 1.0 <= noise["perplexity"] <= noise["codes_used"]
