"""Prove that encoder training teaches a frozen backbone to follow the motion (issue 5).

Pretrains a tiny MusicGen on a synthetic dance-music world, trains the encoders against it, and
prints beat F1 (0.2 s) on held-out motions for trained / untrained / shuffled-rhythm encoders
(see server/training/learning_proof.py for the conditions).

    .venv/bin/python benchmarks/learning_proof.py --work /tmp/motionscore-proof
    .venv/bin/python benchmarks/learning_proof.py --work /tmp/p --quick   # a smoke run, ~1 min

The full run takes about 30 minutes on 2 CPU cores; figures go to stdout and WORK/report.json. A
rerun in the same WORK reuses the worlds and the pretrained backbone made with the same settings.
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
from pathlib import Path

import torch

from motionscore.server.training.learning_proof import CONDITIONS, ProofConfig, run_proof
from motionscore.server.training.pretrain import CodecConfig, PretrainConfig


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--work", type=Path, required=True, help="folder for the world, models and report")
    parser.add_argument("--clips", type=int, default=None, help="paired clips for the encoders (default 2400)")
    parser.add_argument("--pretrain-clips", type=int, default=None, help="music clips for the backbone (default 600)")
    parser.add_argument("--codec-steps", type=int, default=None, help="codec training steps (default 300)")
    parser.add_argument("--pretrain-steps", type=int, default=None, help="LM pretraining steps (default 1600)")
    parser.add_argument("--encoder-steps", type=int, default=None, help="encoder training steps (default 1200)")
    parser.add_argument("--periodicity-lags", type=int, default=None,
                        help="autocorrelation lags the rhythm projector reads (default 90; 0 = the onsets only)")
    parser.add_argument("--guidance", type=float, default=None, help="classifier-free guidance (default 1.0)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: torch's choice)")
    parser.add_argument("--quick", action="store_true", help="a tiny smoke run (numbers mean nothing)")
    args = parser.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    config = ProofConfig(work=args.work, seed=args.seed)
    if args.quick:
        config.clips, config.pretrain_clips, config.encoder_steps = 24, 16, 10
        config.pretrain = PretrainConfig(steps=20, warmup=5)
        config.codec = CodecConfig(steps=10)
    if args.clips:
        config.clips = args.clips
    if args.pretrain_clips:
        config.pretrain_clips = args.pretrain_clips
    if args.guidance:
        config.guidance = args.guidance
    if args.codec_steps:
        config.codec.steps = args.codec_steps
    if args.pretrain_steps:
        config.pretrain.steps = args.pretrain_steps
    if args.periodicity_lags is not None:
        config.periodicity_lags = args.periodicity_lags
    if args.encoder_steps:
        config.encoder_steps = args.encoder_steps
    report = run_proof(config, log=lambda line: print(line, flush=True))
    report["machine"] = {"cpu_threads": torch.get_num_threads(), "device": "cpu", "python": platform.python_version(),
                         "torch": torch.__version__}
    (args.work / "report.json").write_text(json.dumps(report, indent=1))
    print(f"\non {report['held_out_clips']} held-out motions (backbone pretrained on {report['pretrain_clips']} other "
          f"clips, encoders trained on {report['train_clips']}):")
    print(f"  {'condition':<16} {'F1@' + format(config.tolerance, 'g') + 's':>8} {'F1@70ms':>8} {'align':>6} {'tempo':>6}")
    for name in CONDITIONS:
        print(f"  {name:<16} {report['f1'][name]:>8.3f} {report['f1_70ms'][name]:>8.3f} "
              f"{report['alignment'][name]:>6.3f} {report['tempo_ok'][name]:>6.2f}")
    print("trained minus each baseline, clip by clip (mean, bootstrap 95 % interval, Wilcoxon p):")
    for metric, label in (("f1", f"F1@{config.tolerance:g}s"), ("f1_70ms", "F1@70ms"), ("tempo_ok", "tempo right")):
        cells = [f"{name} {c['mean']:+.3f} [{c['ci95'][0]:+.3f}, {c['ci95'][1]:+.3f}] "
                 + (f"p {c['p']:.3f}" if c["p"] >= 0.001 else "p < 0.001")
                 for name, c in report["paired"][metric].items()]
        print(f"  {label:<11} " + "; ".join(cells))
    f1 = report["f1"]
    ratio = f1["trained"] / max(f1["untrained"], 1e-9)
    tempo = report["tempo_ok"]
    print(f"tempo right: trained {tempo['trained']:.0%}, untrained {tempo['untrained']:.0%}, "
          f"shuffled {tempo['shuffled']:.0%}, time-shuffled {tempo['time-shuffled']:.0%}")
    print(f"trained / untrained F1 = {ratio:.2f}x; wall time {report['timings_s']['total_s']:.0f} s "
          f"({report['timings_s']}); report: {args.work / 'report.json'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
