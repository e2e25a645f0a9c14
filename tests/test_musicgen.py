"""The pseudo-word mechanism on a tiny MusicGen (same code path as a real one, offline)."""

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("audiocraft")

from motionscore.server.generation.backbones import GenerationRequest, load_backbone  # noqa: E402
from motionscore.server.model.checkpoint import CheckpointError, load_released, save_checkpoint  # noqa: E402
from motionscore.server.model.encoders import EncoderConfig, Encoders  # noqa: E402
from motionscore.server.model.pseudo_words import InjectionPlan  # noqa: E402
from motionscore.shared.synthetic_dance import beat_times, synthetic_dance  # noqa: E402
from motionscore.shared.rhythm import extract_rhythm  # noqa: E402

SR = 16000


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory):
    torch.manual_seed(0)
    path = tmp_path_factory.mktemp("enc") / "tiny-musicgen.safetensors"
    save_checkpoint(path, Encoders(EncoderConfig(dim=32, hidden=64)), "musicgen", "tiny")
    return path


@pytest.fixture(scope="module")
def backbone(checkpoint):
    return load_backbone("musicgen", model="tiny", encoders=str(checkpoint), device="cpu")


def request(bpm=120, seed=0, negative=False, seconds=2.0, genre="HO"):
    motion = synthetic_dance(beat_times(seconds, bpm), seconds, seed=bpm)
    return GenerationRequest(rhythm=extract_rhythm(motion), duration=seconds, sample_rate=SR, genre=genre, seed=seed,
                             negative_rhythm=extract_rhythm(motion.reversed()) if negative else None)


def test_only_pseudo_word_rows_change(backbone):
    cond = backbone.conditioner
    plan = backbone.plan_for([request()])
    cond.plan = InjectionPlan(plan.texts, None)
    inputs = cond.tokenize(plan.texts)
    plain = cond.input_embeddings(inputs)
    cond.plan = plan
    injected = cond.input_embeddings(cond.tokenize(plan.texts))
    cond.plan = None
    changed = (plain != injected).any(dim=-1)[0]
    ids = inputs["input_ids"][0]
    expected = (ids == cond.token_ids[0]) | (ids == cond.token_ids[1])
    assert expected.sum() == 2 and torch.equal(changed, expected)
    row = int(torch.nonzero(ids == cond.token_ids[0])[0])
    assert torch.allclose(injected[0, row], plan.vectors[0, 0])


def test_training_step_updates_only_the_encoders(backbone):
    encoders = backbone.encoders
    for p in encoders.parameters():
        p.requires_grad_(True)
    frozen = {**{f"lm.{k}": v.clone() for k, v in backbone.mg.lm.state_dict().items()},
              **{f"t5.{k}": v.clone() for k, v in backbone.conditioner.t5.state_dict().items()}}
    before = {k: v.clone() for k, v in encoders.state_dict().items()}
    optim = torch.optim.AdamW([p for p in encoders.parameters()], lr=1e-2)
    codes = torch.randint(0, 400, (2, 4, 40))
    encoders.train()
    loss = backbone.training_loss(codes, [request(100), request(140)])
    loss.backward()
    assert all(p.grad is None for p in backbone.mg.lm.parameters())
    assert all(p.grad is None for p in backbone.conditioner.t5.parameters())
    assert any(p.grad is not None and p.grad.abs().sum() > 0 for p in encoders.rhythm.parameters())
    assert any(p.grad is not None and p.grad.abs().sum() > 0 for p in encoders.genre.parameters())
    optim.step()
    after_frozen = {**{f"lm.{k}": v for k, v in backbone.mg.lm.state_dict().items()},
                    **{f"t5.{k}": v for k, v in backbone.conditioner.t5.state_dict().items()}}
    assert all(torch.equal(frozen[k], after_frozen[k]) for k in frozen)
    assert any(not torch.equal(before[k], v) for k, v in encoders.state_dict().items())
    # put the fixture back as it was
    encoders.load_state_dict(before)
    encoders.eval()
    for p in encoders.parameters():
        p.requires_grad_(False)
        p.grad = None


def test_seed_and_motion_decide_the_output(backbone):
    a = backbone.generate(request(100, seed=3)).audio
    b = backbone.generate(request(100, seed=3)).audio
    c = backbone.generate(request(150, seed=3)).audio
    assert a.shape == (2 * SR,) and np.array_equal(a, b) and not np.array_equal(a, c)


def test_negative_conditioning_changes_the_output(backbone):
    plain = backbone.generate(request(120, seed=5)).audio
    negative = backbone.generate(request(120, seed=5, negative=True))
    assert not np.array_equal(plain, negative.audio)
    assert any("reversed motion" in n for n in negative.notes)


def test_batch_equals_single_runs(backbone, monkeypatch):
    # Greedy decoding makes generation independent of the random stream, so rows can be compared.
    original = backbone.mg.set_generation_params
    monkeypatch.setattr(backbone.mg, "set_generation_params",
                        lambda **kw: original(**{**kw, "use_sampling": False}))
    requests = [request(100, seed=1), request(130, seed=1), request(160, seed=1)]
    batch = backbone.generate_batch(requests)
    singles = [backbone.generate(r) for r in requests]
    for got, want in zip(batch, singles):
        np.testing.assert_allclose(got.audio, want.audio, atol=1e-4)


def test_text_only_without_encoders_says_so():
    plain = load_backbone("musicgen", model="tiny", device="cpu")
    out = plain.generate(request())
    assert out.audio.shape == (2 * SR,) and any("text-only" in n for n in out.notes)


def test_checkpoint_checks(tmp_path, checkpoint):
    torch.manual_seed(1)
    wide = tmp_path / "wide.safetensors"
    save_checkpoint(wide, Encoders(EncoderConfig(dim=64, hidden=64)), "musicgen", "other")
    with pytest.raises(ValueError, match="64-d"):
        load_backbone("musicgen", model="tiny", encoders=str(wide), device="cpu")
    other = tmp_path / "riff.safetensors"
    save_checkpoint(other, Encoders(EncoderConfig(dim=32, hidden=64)), "riffusion", "tiny")
    with pytest.raises(CheckpointError, match="riffusion"):
        load_backbone("musicgen", model="tiny", encoders=str(other), device="cpu")
    (tmp_path / "junk.safetensors").write_bytes(b"junk")
    with pytest.raises(CheckpointError, match="not a readable"):
        load_backbone("musicgen", model="tiny", encoders=str(tmp_path / "junk.safetensors"), device="cpu")


def test_released_checkpoint_loads_and_switches_to_compat(tmp_path):
    from motionscore.server.model.checkpoint import ReleasedEncoders

    torch.manual_seed(2)
    reference = ReleasedEncoders()
    stored = {"poseEncoder": reference.rhythm.state_dict(), "audioEncoderP": reference.genre.state_dict()}
    path = tmp_path / "released.pt"
    torch.save(stored, path)
    ckpt = load_released(path)
    assert ckpt.rhythm_mode == "compat"
    for key, value in stored["poseEncoder"].items():
        assert torch.equal(ckpt.encoders.rhythm.state_dict()[key], value)
    for key, value in stored["audioEncoderP"].items():
        assert torch.equal(ckpt.encoders.genre.state_dict()[key], value)
    seq = (torch.rand(2, 303) > 0.9).float()
    assert ckpt.encoders(seq, ["HO", None]).shape == (2, 2, 768)
    # weights_only: a pickle with code in it is refused
    import pickle

    class Evil:
        def __reduce__(self):
            return (print, ("boom",))

    evil = tmp_path / "evil.pt"
    evil.write_bytes(pickle.dumps({"poseEncoder": Evil()}))
    with pytest.raises(CheckpointError, match="plain tensors"):
        load_released(evil)
