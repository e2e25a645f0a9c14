"""The pseudo-word mechanism on tiny Riffusion, AudioLDM and Stable Audio pipelines (offline, real code paths)."""

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("diffusers")

from motionscore.server.generation.backbones import GenerationRequest, load_backbone  # noqa: E402
from motionscore.server.model.checkpoint import save_checkpoint  # noqa: E402
from motionscore.server.model.encoders import EncoderConfig, Encoders  # noqa: E402
from motionscore.shared.synthetic_dance import beat_times, synthetic_dance  # noqa: E402
from motionscore.shared.rhythm import extract_rhythm  # noqa: E402

SR = 16000
LATENTS = {"riffusion": (2, 4, 64, 16), "audioldm": (2, 4, 100, 4), "stableaudio": (2, 8, 32)}


def denoiser(backbone):
    """The frozen network that denoises: a UNet, or Stable Audio's diffusion transformer."""
    return getattr(backbone.pipe, "unet", None) or backbone.pipe.transformer


@pytest.fixture(scope="module", params=["riffusion", "audioldm", "stableaudio"])
def backbone(request, tmp_path_factory):
    torch.manual_seed(0)
    path = tmp_path_factory.mktemp(request.param) / "enc.safetensors"
    save_checkpoint(path, Encoders(EncoderConfig(dim=32, hidden=64)), request.param, "tiny")
    return load_backbone(request.param, model="tiny", encoders=str(path), device="cpu")


def make_request(bpm=120, seed=0, negative=False, seconds=1.0):
    motion = synthetic_dance(beat_times(seconds, bpm), seconds, seed=bpm)
    return GenerationRequest(rhythm=extract_rhythm(motion), duration=seconds, sample_rate=SR, genre="KR", seed=seed,
                             negative_rhythm=extract_rhythm(motion.reversed()) if negative else None)


def test_only_pseudo_word_rows_change(backbone):
    texts = [backbone.prompt_text(make_request(), "*", "@")]
    vectors, _ = backbone.encode([make_request()])
    ids = backbone.pipe.tokenizer(texts, return_tensors="pt")["input_ids"]
    embed = backbone.token_embedding()
    plain = embed(ids)
    with backbone.injector.active(vectors):
        injected = embed(ids)
    changed = (plain != injected).any(dim=-1)[0]
    expected = (ids[0] == backbone.token_ids[0]) | (ids[0] == backbone.token_ids[1])
    assert expected.sum() == 2 and torch.equal(changed, expected)


def test_training_step_updates_only_the_encoders(backbone):
    encoders = backbone.encoders
    encoders.train()
    for p in encoders.parameters():
        p.requires_grad_(True)
    frozen = {name: {k: v.clone() for k, v in m.state_dict().items()}
              for name, m in (("unet", denoiser(backbone)), ("text", backbone.pipe.text_encoder))}
    before = {k: v.clone() for k, v in encoders.state_dict().items()}
    optim = torch.optim.AdamW(encoders.parameters(), lr=1e-2)
    latents = torch.randn(LATENTS[backbone.name])
    loss = backbone.training_loss(latents, [make_request(100), make_request(150)], torch.Generator().manual_seed(0))
    loss.backward()
    for module in (denoiser(backbone), backbone.pipe.text_encoder, backbone.pipe.vae):
        assert all(p.grad is None for p in module.parameters())
    assert any(p.grad is not None and p.grad.abs().sum() > 0 for p in encoders.rhythm.parameters())
    optim.step()
    for name, module in (("unet", denoiser(backbone)), ("text", backbone.pipe.text_encoder)):
        assert all(torch.equal(frozen[name][k], v) for k, v in module.state_dict().items())
    assert any(not torch.equal(before[k], v) for k, v in encoders.state_dict().items())
    encoders.load_state_dict(before)
    encoders.eval()
    for p in encoders.parameters():
        p.requires_grad_(False)
        p.grad = None


def test_seed_motion_negative_and_batch(backbone):
    a = backbone.generate(make_request(100, seed=3)).audio
    assert a.shape == (SR,)
    assert np.array_equal(a, backbone.generate(make_request(100, seed=3)).audio)
    assert not np.array_equal(a, backbone.generate(make_request(160, seed=3)).audio)
    negative = backbone.generate(make_request(100, seed=3, negative=True))
    assert not np.array_equal(a, negative.audio) and any("reversed" in n for n in negative.notes)
    requests = [make_request(100, seed=1), make_request(130, seed=2)]
    batch = backbone.generate_batch(requests)
    for got, request in zip(batch, requests):
        single = backbone.generate(request).audio
        # Batched convolutions differ from single ones in the last bits; Griffin-Lim (riffusion)
        # amplifies that a little: equal to 0.5 % of the peak.
        np.testing.assert_allclose(got.audio, single, atol=5e-3 * max(np.abs(single).max(), 1e-12) + 1e-9)


def test_text_only_without_encoders(backbone):
    plain = load_backbone(backbone.name, model="tiny", device="cpu")
    out = plain.generate(make_request())
    assert out.audio.shape == (SR,) and any("text-only" in n for n in out.notes)


def test_a_prebuilt_pipeline_runs_as_loaded_weights_would():
    """Benchmarks hand real-size random pipelines in through ``pipeline=``: same code path as weights."""
    from motionscore.server.generation.backbones.audioldm import build_tiny_audioldm

    backbone = load_backbone("audioldm", model="my-build", pipeline=build_tiny_audioldm(seed=3), device="cpu", steps=2)
    assert backbone.model_id == "my-build" and backbone.steps == 2
    assert backbone.generate(make_request()).audio.shape == (SR,)


@pytest.mark.parametrize("name", ["riffusion", "audioldm"])
def test_the_decode_benchmark_times_a_diffusion_backbone(name):
    import re
    import subprocess
    import sys
    from pathlib import Path

    script = Path(__file__).resolve().parents[1] / "benchmarks" / "bench_decode.py"
    run = subprocess.run([sys.executable, str(script), "--backbone", name, "--model", "tiny", "--repeats", "1"],
                         capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr[-2000:]
    last = run.stdout.strip().splitlines()[-1]
    assert re.fullmatch(rf"{name} \d+\.\d+ s per 5\.12 s clip \(batch 1, 4 steps, \d+\.\d+ s per call\)", last), last
