"""The pseudo-word mechanism on a tiny MusicGen (same code path as a real one, offline)."""

import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("audiocraft")

from motionscore.server.generation.backbones import load_backbone  # noqa: E402
from motionscore.server.model.checkpoint import CheckpointError, load_released, save_checkpoint  # noqa: E402
from motionscore.server.model.encoders import EncoderConfig, Encoders  # noqa: E402
from motionscore.server.model.pseudo_words import InjectionPlan  # noqa: E402
from tests.models.backbone_common import BackboneTesterMixin  # noqa: E402


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory):
    torch.manual_seed(0)
    path = tmp_path_factory.mktemp("enc") / "tiny-musicgen.safetensors"
    save_checkpoint(path, Encoders(EncoderConfig(dim=32, hidden=64)), "musicgen", "tiny")
    return path


@pytest.fixture(scope="module")
def backbone(checkpoint):
    return load_backbone("musicgen", model="tiny", encoders=str(checkpoint), device="cpu")


class TestMusicGen(BackboneTesterMixin):
    seconds = 2.0
    genre = "HO"

    def pseudo_word_rows(self, backbone):
        cond = backbone.conditioner
        plan = backbone.plan_for([self.make_request()])
        cond.plan = InjectionPlan(plan.texts, None)
        inputs = cond.tokenize(plan.texts)
        plain = cond.input_embeddings(inputs)
        cond.plan = plan
        injected = cond.input_embeddings(cond.tokenize(plan.texts))
        cond.plan = None
        ids = inputs["input_ids"][0]
        row = int(torch.nonzero(ids == cond.token_ids[0])[0])
        assert torch.allclose(injected[0, row], plan.vectors[0, 0])  # the encoders' vector, as written
        return (plain != injected).any(dim=-1)[0], (ids == cond.token_ids[0]) | (ids == cond.token_ids[1])

    def frozen_modules(self, backbone):
        return {"lm": backbone.mg.lm, "t5": backbone.conditioner.t5}

    def training_loss(self, backbone, requests):
        return backbone.training_loss(torch.randint(0, 400, (2, 4, 40)), requests)

    def deterministic(self, backbone, monkeypatch):
        # Greedy decoding makes generation independent of the random stream, so rows can be compared.
        original = backbone.mg.set_generation_params
        monkeypatch.setattr(backbone.mg, "set_generation_params",
                            lambda **kw: original(**{**kw, "use_sampling": False}))

    def batch_tolerance(self, single):
        return 1e-4


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
