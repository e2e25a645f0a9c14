"""The pseudo-word mechanism on tiny Riffusion, AudioLDM and Stable Audio pipelines (offline, real code paths)."""

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("diffusers")

from motionscore.server.generation.backbones import load_backbone  # noqa: E402
from motionscore.server.model.checkpoint import save_checkpoint  # noqa: E402
from motionscore.server.model.encoders import EncoderConfig, Encoders  # noqa: E402
from tests.models.backbone_common import BackboneTesterMixin  # noqa: E402
from tests.kit.scripts import run_benchmark  # noqa: E402

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


class TestDiffusionBackbones(BackboneTesterMixin):
    genre_learns = False

    def pseudo_word_rows(self, backbone):
        texts = [backbone.prompt_text(self.make_request(), "*", "@")]
        vectors, _ = backbone.encode([self.make_request()])
        ids = backbone.pipe.tokenizer(texts, return_tensors="pt")["input_ids"]
        embed = backbone.token_embedding()
        plain = embed(ids)
        with backbone.injector.active(vectors):
            injected = embed(ids)
        return (plain != injected).any(dim=-1)[0], (ids[0] == backbone.token_ids[0]) | (ids[0] == backbone.token_ids[1])

    def frozen_modules(self, backbone):
        return {"denoiser": denoiser(backbone), "text": backbone.pipe.text_encoder, "vae": backbone.pipe.vae}

    def training_loss(self, backbone, requests):
        latents = torch.randn(LATENTS[backbone.name])
        return backbone.training_loss(latents, requests, torch.Generator().manual_seed(0))

    def batch_tolerance(self, single):
        # Batched convolutions differ from single ones in the last bits; Griffin-Lim (riffusion)
        # amplifies that a little: equal to 0.5 % of the peak.
        return 5e-3 * max(float(np.abs(single).max()), 1e-12)


def test_a_prebuilt_pipeline_runs_as_loaded_weights_would():
    """Benchmarks hand real-size random pipelines in through ``pipeline=``: same code path as weights."""
    from motionscore.server.generation.backbones.audioldm import build_tiny_audioldm

    backbone = load_backbone("audioldm", model="my-build", pipeline=build_tiny_audioldm(seed=3), device="cpu", steps=2)
    assert backbone.model_id == "my-build" and backbone.steps == 2
    assert backbone.generate(TestDiffusionBackbones().make_request()).audio.shape == (SR,)


@pytest.mark.parametrize("name", ["riffusion", "audioldm"])
def test_the_decode_benchmark_times_a_diffusion_backbone(name, capsys):
    import re

    assert run_benchmark("bench_decode", ["--backbone", name, "--model", "tiny", "--repeats", "1"]) == 0
    last = capsys.readouterr().out.strip().splitlines()[-1]
    assert re.fullmatch(rf"{name} \d+\.\d+ s per 5\.12 s clip \(batch 1, 4 steps, \d+\.\d+ s per call\)", last), last
