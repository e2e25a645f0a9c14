"""MusicGen token decoding: audiocraft's generate loop against the fast decoder, in one run.

    .venv/bin/python benchmarks/bench_decode.py --model tiny --device cpu
    .venv/bin/python benchmarks/bench_decode.py --model small-random --device cuda --batch 8
    .venv/bin/python benchmarks/bench_decode.py --model facebook/musicgen-small --device cuda   # cached weights
    .venv/bin/python benchmarks/bench_decode.py --backbone stableaudio --model tiny
    .venv/bin/python benchmarks/bench_decode.py --backbone stableaudio --model real-random --device cuda

``--backbone stableaudio`` times the pipeline as diffusers ships it (the full ~47.55 s latent,
cropped afterwards) against the backbone's latent cut to the clip, both from the same seed and
steps (``--steps``, default the backbone's: 100 for real weights, 4 for tiny); its last line:
``stableaudio speedup X.Xx (stock S s, fast F s per 5.12 s clip, latent N of 1024 frames)``.
``--backbone riffusion|audioldm`` print seconds per 5.12 s clip (one path: fp16 and PyTorch's SDPA
attention on CUDA, the backbone's steps, 50 and 10). ``--model real-random`` builds the released
architectures with random weights (benchmarks/real_size.py): the real models' speed without them.

``small-random`` is musicgen-small's architecture (LM 24 x 1024, 16 heads, 4 codebooks of 2048,
T5-base-sized text encoder) with random weights: the real model's speed without its weights. Both
decoders are timed sampling as the product does (top-k 250, guidance 3.0) from the same seed; the
last line says whether their greedy tokens were identical. Times are the token generation of one 5.12 s clip
(``MusicGen._generate_tokens``: text encoder + LM decode; the codec's audio decoding is the same
for both and excluded), the best of --repeats after one warm-up call, divided by the batch for
"per clip". On CUDA the model runs in float16 unless --dtype float32.
"""

from __future__ import annotations

import argparse
import platform
import sys
import time
from pathlib import Path

import torch

from motionscore.server.generation.backbones.musicgen import MUSICGEN_SMALL, build_tiny_musicgen, load_musicgen
from motionscore.server.generation.backbones.musicgen_decoder import unsupported_reason, use_decoder

CLIP_S = 5.12
PROMPTS = ("a house music with * as the rhythm", "a hip hop music with * as the rhythm",
           "a techno music with * as the rhythm", "a jazz music with * as the rhythm")


def _model(name: str, device: str, dtype: torch.dtype):
    if name == "tiny":
        mg = build_tiny_musicgen(device=device)
    elif name == "small-random":
        mg = build_tiny_musicgen(device=device, **MUSICGEN_SMALL)
    else:
        mg = load_musicgen(name, device)
    mg.lm.to(dtype)
    conditioner = mg.lm.condition_provider.conditioners["description"]
    conditioner.t5.to(dtype)
    conditioner.output_proj.to(dtype)
    return mg


def _time(mg, decoder: str, batch: int, seed: int, repeats: int, sampling: bool = True) -> tuple[float, torch.Tensor]:
    use_decoder(mg, decoder)
    mg.set_generation_params(duration=CLIP_S, use_sampling=sampling, top_k=250, cfg_coef=3.0)
    texts = [PROMPTS[i % len(PROMPTS)] for i in range(batch)]
    device_type = next(mg.lm.parameters()).device.type

    def run():
        torch.manual_seed(seed)
        with torch.no_grad():
            attributes, _ = mg._prepare_tokens_and_attributes(texts, None)
            tokens = mg._generate_tokens(attributes, None)
        if device_type == "cuda":
            torch.cuda.synchronize()
        return tokens

    run()  # warm-up: kernels, allocator, CUDA graph capture
    best, tokens = float("inf"), None
    for _ in range(repeats):
        start = time.perf_counter()
        tokens = run()
        best = min(best, time.perf_counter() - start)
    return best, tokens


def _diffusion_backbone(name: str, model: str, device: str, dtype: torch.dtype, steps: int | None):
    from motionscore.server.generation.backbones import load_backbone

    if model == "real-random":
        sys.path.insert(0, str(Path(__file__).resolve().parent))
        from real_size import BUILDERS

        backbone = load_backbone(name, model="real-random", pipeline=BUILDERS[name](), device=device, steps=steps)
    else:
        backbone = load_backbone(name, model=model, device=device, steps=steps)
    if dtype != torch.float32 and model in ("tiny", "real-random"):
        backbone.pipe.to(dtype=dtype)
    return backbone


def bench_diffusion(args, dtype: torch.dtype) -> int:
    """Seconds per 5.12 s clip of a diffusion backbone; for stableaudio the full latent (the stock
    pipeline) against the latent cut to the clip."""
    from motionscore.server.generation.backbones import GenerationRequest
    from motionscore.shared.synthetic_dance import beat_times, synthetic_dance
    from motionscore.shared.rhythm import extract_rhythm

    backbone = _diffusion_backbone(args.backbone, args.model, args.device, dtype, args.steps)
    denoiser = getattr(backbone.pipe, "unet", None) or backbone.pipe.transformer
    rhythm = extract_rhythm(synthetic_dance(beat_times(CLIP_S, 120), CLIP_S, fps=30, seed=0))
    requests = [GenerationRequest(rhythm=rhythm, duration=CLIP_S, sample_rate=44100, seed=args.seed + i,
                                  prompt=PROMPTS[i % len(PROMPTS)].replace(" with * as the rhythm", ""))
                for i in range(args.batch)]
    params = sum(p.numel() for p in denoiser.parameters())
    where = torch.cuda.get_device_name() if args.device == "cuda" else f"{platform.processor() or 'cpu'}, " \
                                                                         f"{torch.get_num_threads()} threads"
    print(f"{args.backbone} {args.model}: {type(denoiser).__name__} {params / 1e6:.2f} M parameters, {backbone.steps} "
          f"steps; {args.device} ({where}), {str(dtype).split('.')[-1]}, batch {args.batch}, torch {torch.__version__}")

    def timed() -> float:
        backbone.generate_batch(requests)  # warm-up
        best = float("inf")
        for _ in range(args.repeats):
            start = time.perf_counter()
            backbone.generate_batch(requests)
            if args.device == "cuda":
                torch.cuda.synchronize()
            best = min(best, time.perf_counter() - start)
        return best

    if args.backbone != "stableaudio":
        seconds = timed()
        print(f"{args.backbone} {seconds / args.batch:.3f} s per {CLIP_S} s clip (batch {args.batch}, "
              f"{backbone.steps} steps, {seconds:.3f} s per call)")
        return 0
    full, frames = backbone.full_frames, backbone.latent_frames(CLIP_S)
    cut = backbone.latent_frames
    backbone.latent_frames = lambda seconds: full  # the stock pipeline: always its whole latent
    try:
        stock_s = timed()
    finally:
        backbone.latent_frames = cut
    print(f"  full latent ({full} frames): {stock_s:.3f} s per call, {stock_s / args.batch:.3f} s per clip", flush=True)
    fast_s = timed()
    print(f"  cut latent ({frames} frames): {fast_s:.3f} s per call, {fast_s / args.batch:.3f} s per clip", flush=True)
    print(f"stableaudio speedup {stock_s / fast_s:.1f}x (stock {stock_s / args.batch:.3f} s, fast {fast_s / args.batch:.3f} s "
          f"per {CLIP_S} s clip, latent {frames} of {full} frames)")
    return 0


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backbone", default="musicgen", choices=["musicgen", "stableaudio", "riffusion", "audioldm"])
    parser.add_argument("--steps", type=int, default=None, help="diffusion backbones: denoising steps (default the backbone's)")
    parser.add_argument("--model", default="tiny", help="tiny, small-random (musicgen) / real-random (diffusion backbones), "
                                                        "or a hub id / folder in the HF cache")
    parser.add_argument("--device", default="cpu", choices=["cpu", "cuda"])
    parser.add_argument("--batch", type=int, default=1, help="clips per call (default 1)")
    parser.add_argument("--dtype", default=None, choices=["float16", "bfloat16", "float32"],
                        help="default float16 on cuda, float32 on cpu")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=None, help="CPU threads (default: torch's choice)")
    args = parser.parse_args(argv)
    if args.batch < 1 or args.repeats < 1:
        print("--batch and --repeats must be at least 1", file=sys.stderr)
        return 2
    if args.device == "cuda" and not torch.cuda.is_available():
        print("--device cuda: no CUDA device here", file=sys.stderr)
        return 2
    if args.threads:
        torch.set_num_threads(args.threads)
    dtype = getattr(torch, args.dtype or ("float16" if args.device == "cuda" else "float32"))
    if args.backbone != "musicgen":
        try:
            return bench_diffusion(args, dtype)
        except RuntimeError as exc:
            print(str(exc).splitlines()[0], file=sys.stderr)
            return 1
    try:
        mg = _model(args.model, args.device, dtype)
    except RuntimeError as exc:
        print(str(exc).splitlines()[0], file=sys.stderr)
        return 1
    reason = unsupported_reason(mg.lm)
    if reason:
        print(f"the fast decoder does not run this model ({reason}); nothing to compare", file=sys.stderr)
        return 1
    lm_params = sum(p.numel() for p in mg.lm.parameters())
    where = torch.cuda.get_device_name() if args.device == "cuda" else f"{platform.processor() or 'cpu'}, " \
                                                                         f"{torch.get_num_threads()} threads"
    steps = int(CLIP_S * mg.frame_rate) + mg.lm.num_codebooks - 1
    print(f"model {args.model}: LM {lm_params / 1e6:.1f} M parameters, {mg.lm.num_codebooks} codebooks, "
          f"{steps} decode steps per {CLIP_S} s clip; {args.device} ({where}), {str(dtype).split('.')[-1]}, "
          f"batch {args.batch}, torch {torch.__version__}")
    stock_s, stock_tokens = _time(mg, "audiocraft", args.batch, args.seed, args.repeats)
    print(f"  audiocraft generate: {stock_s:.3f} s per call, {stock_s / args.batch:.3f} s per clip", flush=True)
    fast_s, fast_tokens = _time(mg, "fast", args.batch, args.seed, args.repeats)
    path = mg.lm.generate.__self__.last_path
    print(f"  fast decoder ({path}): {fast_s:.3f} s per call, {fast_s / args.batch:.3f} s per clip", flush=True)
    # Identity is checked greedily: under sampling a CUDA graph draws with the exponential race
    # (the same distribution, other random numbers), so only greedy tokens can be compared there.
    _, stock_greedy = _time(mg, "audiocraft", args.batch, args.seed, 1, sampling=False)
    _, fast_greedy = _time(mg, "fast", args.batch, args.seed, 1, sampling=False)
    identical = torch.equal(stock_greedy, fast_greedy)
    if path == "eager":
        print(f"  sampled tokens of the same seed identical too: {'yes' if torch.equal(stock_tokens, fast_tokens) else 'no'}")
    print(f"speedup {stock_s / fast_s:.1f}x (stock {stock_s / args.batch:.3f} s, fast {fast_s / args.batch:.3f} s "
          f"per {CLIP_S} s clip, identical: {'yes' if identical else 'no'})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
