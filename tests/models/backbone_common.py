"""The checks every encoder-conditioned backbone passes, written once, as diffusers'
``PipelineTesterMixin`` (tests/pipelines/test_pipelines_common.py) does for its pipelines.

A test class for a backbone inherits :class:`BackboneTesterMixin`, gives a ``backbone`` fixture
(the tiny backbone with freshly initialised encoders: the same code path as real weights) and fills
in the hooks that differ between backbones: how the pseudo-words' rows are read, which networks
are frozen, the training loss on a small batch.
"""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from motionscore.server.generation.backbones import GenerationRequest, load_backbone  # noqa: E402
from motionscore.shared.rhythm import extract_rhythm  # noqa: E402
from motionscore.shared.synthetic_dance import beat_times, synthetic_dance  # noqa: E402


class BackboneTesterMixin:
    """Pseudo-words, frozen backbone, seeds, negative conditioning, batching and text-only takes.

    The test module gives a ``backbone`` fixture (module-scoped: loading is the slow part)."""

    sample_rate = 16000
    seconds = 1.0
    genre = "KR"
    #: Whether the genre encoder gets gradients from this backbone's loss as well as the rhythm's.
    genre_learns = True

    # -- hooks -------------------------------------------------------------------------------
    def make_request(self, bpm: float = 120, seed: int = 0, negative: bool = False) -> GenerationRequest:
        motion = synthetic_dance(beat_times(self.seconds, bpm), self.seconds, seed=int(bpm))
        return GenerationRequest(rhythm=extract_rhythm(motion), duration=self.seconds, sample_rate=self.sample_rate,
                                 genre=self.genre, seed=seed,
                                 negative_rhythm=extract_rhythm(motion.reversed()) if negative else None)

    def pseudo_word_rows(self, backbone) -> tuple:
        """(rows whose embedding the encoders changed, rows of the two pseudo-words), bool (tokens,)."""
        raise NotImplementedError

    def frozen_modules(self, backbone) -> dict:
        """The backbone's networks that training must leave untouched, by name."""
        raise NotImplementedError

    def training_loss(self, backbone, requests: list):
        raise NotImplementedError

    def batch_tolerance(self, single: np.ndarray) -> float:
        """How far a batched take may be from the same take made alone (absolute)."""
        return 0.0

    def deterministic(self, backbone, monkeypatch) -> None:
        """Make generation independent of the random stream, where batching changes it."""

    # -- the common tests ----------------------------------------------------------------------
    def test_only_pseudo_word_rows_change(self, backbone):
        changed, expected = self.pseudo_word_rows(backbone)
        assert expected.sum() == 2 and torch.equal(changed, expected)

    def test_training_step_updates_only_the_encoders(self, backbone):
        encoders = backbone.encoders
        encoders.train()
        for p in encoders.parameters():
            p.requires_grad_(True)
        frozen = self.frozen_modules(backbone)
        kept = {name: {k: v.clone() for k, v in m.state_dict().items()} for name, m in frozen.items()}
        before = {k: v.clone() for k, v in encoders.state_dict().items()}
        optim = torch.optim.AdamW(encoders.parameters(), lr=1e-2)
        try:
            loss = self.training_loss(backbone, [self.make_request(100), self.make_request(150)])
            loss.backward()
            for module in frozen.values():
                assert all(p.grad is None for p in module.parameters())
            learning = [encoders.rhythm] + ([encoders.genre] if self.genre_learns else [])
            for part in learning:
                assert any(p.grad is not None and p.grad.abs().sum() > 0 for p in part.parameters())
            optim.step()
            for name, module in frozen.items():
                assert all(torch.equal(kept[name][k], v) for k, v in module.state_dict().items()), name
            assert any(not torch.equal(before[k], v) for k, v in encoders.state_dict().items())
        finally:  # the fixture is shared by the class: put it back as it was
            encoders.load_state_dict(before)
            encoders.eval()
            for p in encoders.parameters():
                p.requires_grad_(False)
                p.grad = None

    def test_seed_and_motion_decide_the_output(self, backbone):
        a = backbone.generate(self.make_request(100, seed=3)).audio
        assert a.shape == (int(round(self.seconds * self.sample_rate)),)
        assert np.array_equal(a, backbone.generate(self.make_request(100, seed=3)).audio)
        assert not np.array_equal(a, backbone.generate(self.make_request(160, seed=3)).audio)

    def test_negative_conditioning_changes_the_output(self, backbone):
        plain = backbone.generate(self.make_request(120, seed=5)).audio
        negative = backbone.generate(self.make_request(120, seed=5, negative=True))
        assert not np.array_equal(plain, negative.audio)
        assert any("reversed motion" in n for n in negative.notes)

    def test_batch_equals_single_runs(self, backbone, monkeypatch):
        self.deterministic(backbone, monkeypatch)
        requests = [self.make_request(100, seed=1), self.make_request(130, seed=2), self.make_request(160, seed=1)]
        for got, request in zip(backbone.generate_batch(requests), requests):
            single = backbone.generate(request).audio
            np.testing.assert_allclose(got.audio, single, atol=self.batch_tolerance(single) + 1e-9)

    def test_text_only_without_encoders_says_so(self, backbone):
        plain = load_backbone(backbone.name, model="tiny", device="cpu")
        out = plain.generate(self.make_request())
        assert out.audio.shape == (int(round(self.seconds * self.sample_rate)),)
        assert any("text-only" in n for n in out.notes)
