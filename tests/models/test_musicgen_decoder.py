"""The fast MusicGen decoder gives audiocraft's tokens: greedy, sampled with one seed, continued from
a prompt, in the static (CUDA-graph) step, on the tiny model and on the released models' layout."""

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("audiocraft")

from audiocraft.modules.conditioners import ConditioningAttributes  # noqa: E402

from motionscore.server.cli import main  # noqa: E402
from motionscore.server.generation.backbones import GenerationRequest, load_backbone  # noqa: E402
from motionscore.server.generation.backbones.musicgen import build_tiny_musicgen  # noqa: E402
from motionscore.server.generation.backbones.musicgen_decoder import (  # noqa: E402
    FastMusicGenDecoder, exponential_race, unsupported_reason, use_decoder)
from motionscore.server.model.checkpoint import save_checkpoint  # noqa: E402
from motionscore.server.model.encoders import EncoderConfig, Encoders  # noqa: E402
from motionscore.shared.synthetic_dance import beat_times, synthetic_dance  # noqa: E402
from motionscore.shared.motion import save_motion  # noqa: E402
from motionscore.shared.rhythm import extract_rhythm  # noqa: E402
from tests.kit.scripts import run_benchmark  # noqa: E402

TEXTS = ["a house music with rhythm", "techno"]


def _conditions(texts=TEXTS):
    return [ConditioningAttributes(text={"description": t}) for t in texts]


@pytest.fixture(scope="module", params=["tiny", "release-layout"])
def lm(request):
    if request.param == "tiny":
        return build_tiny_musicgen().lm
    return build_tiny_musicgen(release_layout=True, dim=64, heads=4, layers=3, seed=1).lm


def _stock(lm, seed, **kwargs):
    torch.manual_seed(seed)
    with torch.no_grad():
        return type(lm).generate(lm, **kwargs)


def _fast(decoder, seed, **kwargs):
    torch.manual_seed(seed)
    return decoder.generate(**kwargs)


def test_the_fixtures_run_the_fast_path(lm):
    assert unsupported_reason(lm) is None


@pytest.mark.parametrize("sampling", [False, True], ids=["greedy", "sampled"])
def test_tokens_equal_audiocraft(lm, sampling):
    """Greedy: the same argmax at every step. Sampled: the same probabilities go to the same
    torch.multinomial draws, so one seed gives the same tokens (the same distribution, a fortiori)."""
    decoder = FastMusicGenDecoder(lm)
    args = dict(prompt=None, conditions=_conditions(), max_gen_len=160, use_sampling=sampling, top_k=250, cfg_coef=3.0)
    stock = _stock(lm, 5, **args)
    fast = _fast(decoder, 5, **args)
    assert decoder.last_path == "eager"
    assert stock.shape == (2, lm.num_codebooks, 160) and torch.equal(stock, fast)
    if sampling:  # and another seed really samples other tokens
        assert not torch.equal(_fast(decoder, 6, **args), fast)


def test_a_continuation_from_a_prompt_equals_audiocraft(lm):
    decoder = FastMusicGenDecoder(lm)
    first = _stock(lm, 0, prompt=None, conditions=_conditions(), max_gen_len=120, use_sampling=False, cfg_coef=3.0)
    args = dict(prompt=first[..., :50], conditions=_conditions(), max_gen_len=150, use_sampling=False, cfg_coef=3.0)
    stock = _stock(lm, 0, **args)
    fast = _fast(decoder, 0, **args)
    assert torch.equal(stock, fast) and torch.equal(fast[..., :50], first[..., :50])
    trimmed = _fast(decoder, 0, **args, remove_prompts=True)
    assert torch.equal(trimmed, fast[..., 50:])


def test_the_static_cuda_graph_step_equals_audiocraft(lm):
    """The step a CUDA graph captures (full-length masked cache, text padded to its bucket, the
    position a tensor) runs eagerly on a CPU: the same greedy tokens, also from a prompt."""
    decoder = FastMusicGenDecoder(lm, cuda_graphs=True)
    for prompt_len in (0, 30):
        first = _stock(lm, 0, prompt=None, conditions=_conditions(), max_gen_len=100, use_sampling=False, cfg_coef=3.0)
        args = dict(prompt=first[..., :prompt_len] if prompt_len else None, conditions=_conditions(),
                    max_gen_len=100, use_sampling=False, cfg_coef=3.0)
        assert torch.equal(_stock(lm, 0, **args), _fast(decoder, 0, **args))
        assert decoder.last_path == "graph"
    assert len(decoder._graphs) == 1  # one bucket served both requests


def test_the_exponential_race_samples_the_given_distribution():
    """The graph-safe sampler: argmax(p / E) with E ~ Exp(1) draws i with probability p_i."""
    from scipy.stats import chisquare

    torch.manual_seed(0)
    probs = torch.tensor([0.5, 0.2, 0.15, 0.1, 0.05, 0.0])
    draws = exponential_race(probs.expand(40_000, -1).contiguous())[:, 0]
    counts = torch.bincount(draws, minlength=6).numpy()
    assert counts[5] == 0
    assert chisquare(counts[:5], 40_000 * probs[:5].numpy()).pvalue > 1e-3
    skewed = torch.tensor([0.1, 0.9])  # and it is not uniform
    assert abs(float(exponential_race(skewed.expand(20_000, -1).contiguous()).float().mean()) - 0.9) < 0.02


def test_what_the_fast_decoder_does_not_implement_falls_back_to_audiocraft(lm):
    decoder = FastMusicGenDecoder(lm)
    args = dict(prompt=None, conditions=_conditions(), max_gen_len=60, use_sampling=True, top_k=0, top_p=0.9,
                cfg_coef=3.0)
    assert torch.equal(_stock(lm, 2, **args), _fast(decoder, 2, **args))
    assert decoder.last_path == "audiocraft"
    from audiocraft.models.lm import LMModel
    from audiocraft.modules.codebooks_patterns import DelayedPatternProvider
    from audiocraft.modules.conditioners import ConditioningProvider, ConditionFuser

    plain = LMModel(DelayedPatternProvider(n_q=2), ConditioningProvider({}), ConditionFuser({}), n_q=2, card=16,
                    dim=16, num_heads=2, num_layers=1, custom=False, cross_attention=False)
    assert "PyTorch's own multi-head attention" in unsupported_reason(plain)
    with pytest.raises(ValueError, match="cannot run this LM"):
        FastMusicGenDecoder(plain)


def _request(seed=0, seconds=2.0):
    motion = synthetic_dance(beat_times(seconds, 120), seconds, seed=3)
    return GenerationRequest(rhythm=extract_rhythm(motion), duration=seconds, sample_rate=16000, genre="HO", seed=seed,
                             negative_rhythm=extract_rhythm(motion.reversed()))


def test_the_backbone_decodes_fast_by_default_and_both_decoders_make_the_same_audio(tmp_path):
    torch.manual_seed(0)
    ckpt = tmp_path / "enc.safetensors"
    save_checkpoint(ckpt, Encoders(EncoderConfig(dim=32, hidden=64)), "musicgen", "tiny")
    backbone = load_backbone("musicgen", model="tiny", encoders=str(ckpt), device="cpu")
    assert backbone.decoder == "fast"
    fast = backbone.generate_batch([_request(), _request(seed=1)])
    assert fast[0].info["decoder"] == "fast (eager)"
    backbone.decoder = "audiocraft"
    stock = backbone.generate_batch([_request(), _request(seed=1)])
    assert stock[0].info["decoder"] == "audiocraft"
    for a, b in zip(fast, stock):
        assert np.array_equal(a.audio, b.audio)
    assert not np.array_equal(fast[0].audio, fast[1].audio)
    with pytest.raises(ValueError, match="unknown decoder"):
        use_decoder(backbone.mg, "turbo")


def test_long_pieces_continue_window_by_window_with_the_fast_decoder():
    backbone = load_backbone("musicgen", model="tiny", device="cpu")
    backbone.window_s, backbone.context_s = 2.0, 1.0
    request = _request(seconds=3.5)
    fast = backbone.generate(request)
    assert fast.info["windows"] == 3 and fast.info["decoder"] == "fast (eager)"
    backbone.decoder = "audiocraft"
    assert np.array_equal(backbone.generate(request).audio, fast.audio)


def test_cli_decoder_option(tmp_path, capsys):
    motion = synthetic_dance(beat_times(2.0, 120), 2.0, seed=3)
    path = tmp_path / "m.npz"
    save_motion(motion, path)
    assert main(["score", str(path), "-o", str(tmp_path / "x.wav"), "--backbone", "synth", "--decoder", "fast"]) == 2
    assert "backbone 'synth' has none" in capsys.readouterr().err
    assert main(["score", str(path), "-o", str(tmp_path / "y.wav"), "--backbone", "musicgen", "--model", "tiny",
                 "--decoder", "audiocraft"]) == 0
    assert (tmp_path / "y.wav").exists()


def test_the_decode_benchmark_compares_both_decoders_and_reports_identity(capsys):
    """benchmarks/bench_decode.py runs end to end on the tiny model (its speed is a figure, not a test)."""
    import re

    assert run_benchmark("bench_decode", ["--model", "tiny", "--repeats", "1"]) == 0
    out = capsys.readouterr().out
    last = out.strip().splitlines()[-1]
    assert re.fullmatch(r"speedup \d+\.\dx \(stock \d+\.\d+ s, fast \d+\.\d+ s per 5\.12 s clip, identical: yes\)", last), last
    assert "sampled tokens of the same seed identical too: yes" in out
    bad = ["--device", "cuda"] if not torch.cuda.is_available() else ["--batch", "0"]
    assert run_benchmark("bench_decode", bad) == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err and ("no CUDA device" in err or "at least 1" in err)
