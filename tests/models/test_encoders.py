"""The rhythm projector's periodicity input (onset autocorrelation): what it measures, on synthetic
pulse trains and on real AIST++ dance, and how it travels through training, checkpoints and the CLI."""

import json

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from motionscore.server.cli import main

torch = pytest.importorskip("torch")

from motionscore.server.model.encoders import EncoderConfig, Encoders, onset_periodicity  # noqa: E402

SEQ = 303  # the projector's input length: 5.12 s of onsets at 60 Hz


def _pulse_train(period: int, start: int, jitter: np.ndarray | None = None) -> torch.Tensor:
    times = np.arange(start, SEQ, period)
    if jitter is not None:
        times = np.clip(times + jitter[: times.size], 0, SEQ - 1)
    seq = torch.zeros(1, SEQ)
    seq[0, times] = 1.0
    return seq


@settings(max_examples=150, deadline=None)
@given(period=st.integers(22, 45), start=st.integers(0, 44), seed=st.integers(0, 2**16))
def test_the_strongest_lag_is_the_beat_period_wherever_the_beats_start(period, start, seed):
    """80-160 BPM at 60 Hz is a period of 22-45 samples; onsets up to a sample early or late."""
    start %= period
    jitter = np.random.default_rng(seed).integers(-1, 2, size=SEQ)
    p = onset_periodicity(_pulse_train(period, start, jitter), 90)[0]
    assert p.shape == (90,) and float(p.min()) >= 0.0 and float(p.max()) <= 1.0 + 1e-6
    # Between 0.75 and 1.4 periods no other multiple of the period exists.
    lo, hi = int(np.ceil(0.75 * period)), int(np.floor(1.4 * period))
    best = lo + int(p[lo - 1:hi].argmax())
    assert abs(best - period) <= 1


def test_no_onsets_give_zeros_not_nan():
    p = onset_periodicity(torch.zeros(3, SEQ), 40)
    assert p.shape == (3, 40) and torch.equal(p, torch.zeros(3, 40))


@pytest.mark.parametrize("projector", ["attn", "mlp"])
def test_encoders_read_the_periodicity(projector):
    """The projector's first layer reads the onsets and the 60 lags; out-of-range lags are refused."""
    torch.manual_seed(0)
    encoders = Encoders(EncoderConfig(dim=32, hidden=64, projector=projector, periodicity_lags=60)).eval()
    first = next(m for m in encoders.rhythm.modules() if isinstance(m, torch.nn.Linear))
    assert first.in_features == SEQ + 60
    out = encoders(torch.cat([_pulse_train(30, 3), _pulse_train(40, 3)]), ["gHO", None])
    assert out.shape == (2, 2, 32) and torch.isfinite(out).all()
    assert not torch.allclose(out[0, 0], out[1, 0])
    with pytest.raises(ValueError, match="periodicity lags"):
        Encoders(EncoderConfig(dim=32, periodicity_lags=SEQ))


def test_a_ballroom_dance_reaches_the_genre_encoder_as_automatic():
    """The encoder learnt the AIST++ genres only: a ballroom dance gets the uniform one-hot, as auto.

    The one-hot is compared exactly; the embeddings within float rounding, since a batched matmul
    need not give bit-identical rows for identical inputs (it did not on every CPU this ran on)."""
    torch.manual_seed(0)
    encoders = Encoders(EncoderConfig(dim=32, hidden=64)).eval()
    index = encoders.genre_index(["WZ", None, "HO"])
    hot = encoders.genre.one_hot(index)
    assert torch.equal(hot[0], hot[1]) and not torch.equal(hot[0], hot[2])
    out = encoders(torch.cat([_pulse_train(30, 3)] * 3), ["WZ", None, "HO"])
    assert torch.allclose(out[0], out[1], rtol=0, atol=1e-6) and not torch.allclose(out[0, 1], out[2, 1])


@pytest.mark.realdata
def test_periodicity_finds_the_music_tempo_in_real_dance(real_data):
    """On real AIST++ dances (5.12 s windows, half-window hop), the strongest lag between 20 and 50
    samples (72-180 BPM) names the tempo of the dance's music (x2 and x1/2 allowed, 5 %) clearly
    more often than a lag drawn at random would."""
    from motionscore.shared.motion import load_motion
    from motionscore.shared.rhythm import extract_rhythm

    lags = np.arange(20, 51)
    hits, chance, windows = 0, 0.0, 0
    for path in sorted((real_data / "aistpp2d").glob("*.npz")):
        motion = load_motion(path)
        bpm = motion.extras["music_bpm"]
        onsets = np.asarray(extract_rhythm(motion).binary, dtype=np.float32)
        right = np.array([min(abs(3600 / lag * f / bpm - 1) for f in (0.5, 1, 2)) <= 0.05 for lag in lags])
        for start in range(0, onsets.size - SEQ + 1, SEQ // 2):
            p = onset_periodicity(torch.from_numpy(onsets[start:start + SEQ])[None], 90)[0].numpy()
            hits += bool(right[int(p[lags - 1].argmax())])
            chance += right.mean()
            windows += 1
    # Measured: 26 of 90 windows against 16.3 expected by chance (dancers do not mark every beat,
    # and 2D keypoints of real dance are noisy: the house dances bounce at double time).
    assert windows == 90
    assert hits >= 1.4 * chance, (hits, chance)


def test_training_with_periodicity_writes_a_checkpoint_that_scores(tmp_path):
    from motionscore.server.data.synthetic_world import make_world

    world = tmp_path / "world"
    make_world(world, clips=4, seed=1, seconds=2.0, sample_rate=16000, val_fraction=0.25)
    ckpt = tmp_path / "enc.safetensors"
    assert main(["train", "--backbone", "musicgen", "--data", str(world), "--out", str(ckpt), "--steps", "2",
                 "--batch-size", "2", "--periodicity-lags", "45"]) == 0
    from safetensors import safe_open

    with safe_open(str(ckpt), "pt") as f:
        assert json.loads(f.metadata()["encoder_config"])["periodicity_lags"] == 45
    out = tmp_path / "take.wav"
    motion = next((world / "val").glob("*.npz"))
    assert main(["score", str(motion), "-o", str(out), "--backbone", "musicgen", "--model", "tiny",
                 "--encoders", str(ckpt), "-q"]) == 0
    assert out.is_file()
    bad = tmp_path / "bad.safetensors"
    assert main(["encoders", "init", "--backbone", "musicgen", "-o", str(bad), "--periodicity-lags", "400"]) == 2
    assert main(["train", "--backbone", "musicgen", "--data", str(world), "--out", str(bad), "--steps", "1",
                 "--periodicity-lags", "-1"]) == 2
    assert not bad.exists()
