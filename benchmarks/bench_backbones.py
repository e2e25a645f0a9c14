"""Generation speed per backbone (default: tiny models on this machine's CPU).

Run:  .venv/bin/python benchmarks/bench_backbones.py [--model tiny] [--device cpu] [--duration 5.12]
      [--backbones synth musicgen riffusion audioldm]
Prints seconds per clip and seconds of audio per second of compute (long shots: --duration 180).
With real weights in the HF cache: --model facebook/musicgen-small (musicgen), etc. Published
figures for comparison (A40/3090-class GPUs): MusicGen-based 11.48 s/clip, Riffusion-based
8.49 s/clip, AudioLDM-based 14.82 s/clip.
"""

from __future__ import annotations

import argparse
import time

from motionscore.server.generation.backbones import GenerationRequest, load_backbone
from motionscore.shared.synthetic_dance import beat_times, synthetic_dance
from motionscore.shared.rhythm import extract_rhythm


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--backbones", nargs="+", default=["synth", "musicgen", "riffusion", "audioldm"])
    parser.add_argument("--model", default="tiny")
    parser.add_argument("--device", default=None)
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--duration", type=float, default=5.12, help="seconds of music per clip")
    args = parser.parse_args()
    changes = [(0, 100), (args.duration / 3, 128), (2 * args.duration / 3, 110)]
    motion = synthetic_dance(beat_times(args.duration, changes), args.duration, fps=60, seed=0)
    rhythm = extract_rhythm(motion)
    request = GenerationRequest(rhythm=rhythm, duration=args.duration, sample_rate=48000, genre="HO", seed=0)
    for name in args.backbones:
        options = {} if name == "synth" else {"model": args.model, "device": args.device}
        start = time.perf_counter()
        backbone = load_backbone(name, **{k: v for k, v in options.items() if v is not None})
        loaded = time.perf_counter() - start
        times = []
        for _ in range(args.repeats):
            start = time.perf_counter()
            backbone.generate(request)
            times.append(time.perf_counter() - start)
        print(f"{name:10s} model {getattr(backbone, 'model_id', '-'):24s} load {loaded:6.1f} s   "
              f"{min(times):7.2f} s per {args.duration:g} s clip = {args.duration / min(times):7.1f} s of audio "
              f"per s of compute")


if __name__ == "__main__":
    main()
