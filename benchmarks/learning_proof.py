"""Prove that encoder training teaches a frozen backbone to follow the motion (issues 5 and 18).

Pretrains a tiny MusicGen on a synthetic dance-music world, trains the encoders against it, and
prints beat F1 (0.2 s and 70 ms), alignment and tempo agreement on held-out motions for trained /
untrained / shuffled-rhythm encoders (see server/training/learning_proof.py for the conditions).

    .venv/bin/python benchmarks/learning_proof.py --work /tmp/proof --seeds 0,1,2   # the README's figures
    .venv/bin/python benchmarks/learning_proof.py --work /tmp/proof --seed 0         # one seed, in WORK itself
    .venv/bin/python benchmarks/learning_proof.py --work /tmp/p --quick --seeds 0,1  # a smoke run, ~2 min

Each seed is a new world, backbone and encoders (WORK/seed-N/, its log in WORK/seed-N/log.txt); seeds
run in parallel processes (--jobs), each on --threads CPU threads (default 1, so that the numbers do
not depend on how many run at once or on the machine's core count). One seed takes about 50
minutes on one core. The report (WORK/report.json) records the packages' versions and the lock
file's hash; rerunning a seed in the same environment gives the same numbers. A rerun in the same
WORK reuses the worlds and the pretrained backbones made with the same settings.
"""

from __future__ import annotations

import os
import sys


def _threads_from_argv(argv: list[str]) -> int:
    """--threads' value, read before anything imports numpy or torch (1 when absent or invalid:
    argparse then reports an invalid one)."""
    value = "1"
    for i, arg in enumerate(argv):
        if arg == "--threads" and i + 1 < len(argv):
            value = argv[i + 1]
        elif arg.startswith("--threads="):
            value = arg.split("=", 1)[1]
    return int(value) if value.isdigit() and int(value) >= 1 else 1


# BLAS and OpenMP read their thread counts once, when numpy and torch are imported: set them first,
# so that a run's numbers never depend on the machine's core count.
_THREADS = _threads_from_argv(sys.argv[1:])
for _var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS", "NUMBA_NUM_THREADS"):
    os.environ[_var] = str(_THREADS)

import argparse  # noqa: E402
import json  # noqa: E402
import subprocess  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import torch  # noqa: E402

from motionscore.server.training.learning_proof import (  # noqa: E402
    CONDITIONS, TEMPO_CLAIM, ProofConfig, environment, pool_seeds, run_proof)
from motionscore.server.training.pretrain import CodecConfig, PretrainConfig  # noqa: E402

LABELS = {"f1": None, "f1_70ms": "F1@70ms", "alignment": "align", "tempo_ok": "tempo within 5 %"}


def _seed_list(text: str) -> list[int]:
    try:
        seeds = [int(part) for part in text.split(",") if part.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"--seeds takes whole numbers separated by commas, not {text!r}") from None
    if not seeds or len(set(seeds)) != len(seeds) or min(seeds) < 0:
        raise argparse.ArgumentTypeError(f"--seeds needs distinct seeds of 0 or more, got {text!r}")
    return seeds


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--work", type=Path, required=True, help="folder for the worlds, models and reports")
    parser.add_argument("--seeds", type=_seed_list, default=None,
                        help="comma-separated seeds, each a new world, backbone and encoders in WORK/seed-N")
    parser.add_argument("--seed", type=int, default=0, help="one seed, run in WORK itself (default 0)")
    parser.add_argument("--jobs", type=int, default=None, help="seeds run at once (default: all of them)")
    parser.add_argument("--threads", type=int, default=1, help="CPU threads per seed (default 1)")
    parser.add_argument("--clips", type=int, default=None, help="paired clips for the encoders (default 2400)")
    parser.add_argument("--pretrain-clips", type=int, default=None, help="music clips for the backbone (default 600)")
    parser.add_argument("--seconds", type=float, default=None, help="length of every world clip in seconds (default 5.12)")
    parser.add_argument("--codec-steps", type=int, default=None, help="codec training steps (default 300)")
    parser.add_argument("--pretrain-steps", type=int, default=None, help="LM pretraining steps (default 1600)")
    parser.add_argument("--encoder-steps", type=int, default=None, help="encoder training steps (default 1200)")
    parser.add_argument("--periodicity-lags", type=int, default=None,
                        help="autocorrelation lags the rhythm projector reads (default 90; 0 = the onsets only)")
    parser.add_argument("--guidance", type=float, default=None, help="classifier-free guidance (default 1.0)")
    parser.add_argument("--quick", action="store_true", help="a tiny smoke run (numbers mean nothing)")
    return parser


#: Options passed on unchanged to each seed's process.
_PASSED_ON = ("clips", "pretrain_clips", "seconds", "codec_steps", "pretrain_steps", "encoder_steps", "periodicity_lags",
              "guidance")


def _config(args, seed: int, work: Path) -> ProofConfig:
    config = ProofConfig(work=work, seed=seed)
    if args.quick:
        config.clips, config.pretrain_clips, config.encoder_steps = 24, 16, 10
        config.pretrain = PretrainConfig(steps=20, warmup=5)
        config.codec = CodecConfig(steps=10)
    for name, value in (("clips", args.clips), ("pretrain_clips", args.pretrain_clips), ("guidance", args.guidance),
                        ("encoder_steps", args.encoder_steps), ("seconds", args.seconds)):
        if value:
            setattr(config, name, value)
    if args.codec_steps:
        config.codec.steps = args.codec_steps
    if args.pretrain_steps:
        config.pretrain.steps = args.pretrain_steps
    if args.periodicity_lags is not None:
        config.periodicity_lags = args.periodicity_lags
    return config


def _print_table(report: dict, tolerance: float, title: str) -> None:
    print(f"\n{title}")
    print(f"  {'condition':<16} {'F1@' + format(tolerance, 'g') + 's':>8} {'F1@70ms':>8} {'align':>6} {'tempo':>6}")
    for name in CONDITIONS:
        print(f"  {name:<16} {report['f1'][name]:>8.3f} {report['f1_70ms'][name]:>8.3f} "
              f"{report['alignment'][name]:>6.3f} {report['tempo_ok'][name]:>6.2f}")
    print("  trained minus each baseline, clip by clip (mean, bootstrap 95 % interval, Wilcoxon p):")
    for metric in ("f1", "f1_70ms", "tempo_ok"):
        label = LABELS[metric] or f"F1@{tolerance:g}s"
        cells = [f"{name} {c['mean']:+.3f} [{c['ci95'][0]:+.3f}, {c['ci95'][1]:+.3f}] "
                 + (f"p {c['p']:.3f}" if c["p"] >= 0.001 else "p < 0.001")
                 for name, c in report["paired"][metric].items()]
        print(f"    {label:<16} " + "; ".join(cells))


def _run_one(args) -> int:
    torch.set_num_threads(args.threads)
    config = _config(args, args.seed, args.work)
    env = environment(torch.get_num_threads())  # before the run: the lock it was installed from
    report = run_proof(config, log=lambda line: print(line, flush=True))
    report["environment"] = env
    (args.work / "report.json").write_text(json.dumps(report, indent=1))
    _print_table(report, config.tolerance,
                 f"seed {args.seed}: {report['held_out_clips']} held-out motions (backbone pretrained on "
                 f"{report['pretrain_clips']} other clips, encoders trained on {report['train_clips']}):")
    tempo = report["tempo_ok"]
    print(f"tempo right: trained {tempo['trained']:.0%}, untrained {tempo['untrained']:.0%}, "
          f"shuffled {tempo['shuffled']:.0%}, time-shuffled {tempo['time-shuffled']:.0%}; "
          f"wall time {report['timings_s']['total_s']:.0f} s ({report['timings_s']}); report: {args.work / 'report.json'}")
    return 0


def _child_argv(args, seed: int) -> list[str]:
    argv = [sys.executable, str(Path(__file__).resolve()), "--work", str(args.work / f"seed-{seed}"),
            "--seed", str(seed), "--threads", str(args.threads)]
    for name in _PASSED_ON:
        value = getattr(args, name)
        if value is not None:
            argv += [f"--{name.replace('_', '-')}", str(value)]
    return argv + (["--quick"] if args.quick else [])


def _run_seeds(args) -> int:
    args.work.mkdir(parents=True, exist_ok=True)
    jobs = args.jobs or len(args.seeds)
    pending, running, failed = list(args.seeds), {}, []
    started = time.perf_counter()
    print(f"{len(args.seeds)} seeds, {jobs} at a time, {args.threads} thread(s) each; logs in {args.work}/seed-N/log.txt",
          flush=True)
    while pending or running:
        while pending and len(running) < jobs:
            seed = pending.pop(0)
            (args.work / f"seed-{seed}").mkdir(parents=True, exist_ok=True)
            log = open(args.work / f"seed-{seed}" / "log.txt", "w")
            running[seed] = (subprocess.Popen(_child_argv(args, seed), stdout=log, stderr=subprocess.STDOUT), log)
        time.sleep(1.0)
        for seed, (proc, log) in list(running.items()):
            if proc.poll() is not None:
                log.close()
                del running[seed]
                status = "done" if proc.returncode == 0 else f"FAILED (exit {proc.returncode})"
                print(f"seed {seed} {status} after {time.perf_counter() - started:.0f} s", flush=True)
                if proc.returncode:
                    failed.append(seed)
    if failed:
        print(f"seeds {failed} failed; see their log.txt", file=sys.stderr)
        return 1
    reports = {s: json.loads((args.work / f"seed-{s}" / "report.json").read_text()) for s in args.seeds}
    tolerance = _config(args, 0, args.work).tolerance
    for seed in args.seeds:
        _print_table(reports[seed], tolerance, f"seed {seed} ({reports[seed]['held_out_clips']} held-out motions, "
                                               f"{reports[seed]['timings_s']['total_s']:.0f} s):")
    pooled = pool_seeds(reports)
    pooled["environment"] = reports[args.seeds[0]]["environment"]
    pooled["per_seed"] = {str(s): {k: reports[s][k] for k in ("f1", "f1_70ms", "alignment", "tempo_ok", "paired",
                                                              "pretrain_loss", "timings_s")} for s in args.seeds}
    (args.work / "report.json").write_text(json.dumps(pooled, indent=1))
    _print_table(pooled, tolerance, f"pooled over seeds {','.join(map(str, args.seeds))} "
                                    f"({pooled['held_out_clips']} held-out motions):")
    print("\nverdict (what holds in every seed: the 95 % interval of trained minus baseline above zero in each):")
    names = {"f1": f"F1@{tolerance:g}s", **{k: v for k, v in LABELS.items() if v}}
    for entry in pooled["robust"]:
        print(f"  holds:     trained > {entry['baseline']} on {names[entry['metric']]}")
    for entry in pooled["not_robust"]:
        where = f"only in seeds {entry['seeds']}" if entry["seeds"] else "in no seed"
        print(f"  not shown: trained > {entry['baseline']} on {names[entry['metric']]} ({where})")
    codecs = {s: reports[s]["pretrain_loss"].get("codec") for s in args.seeds}
    print("  codec per seed: " + ", ".join(
        f"seed {s} perplexity {c['perplexity']:.2f} ({c['fits']} fit{'s' if c['fits'] > 1 else ''}"
        + (", COLLAPSED" if c.get("collapsed") else "") + ")" if c else f"seed {s} (reused backbone)"
        for s, c in codecs.items()))
    claim = pooled["tempo_claim"]
    print(f"  tempo claim (trained within 5 % of the motion's tempo in >= {TEMPO_CLAIM['at_least']:.0%} of clips and "
          f">= {TEMPO_CLAIM['over_shuffled']:g}x as often as shuffled rhythm): "
          + ", ".join(f"seed {s} {'yes' if ok else 'NO'}" for s, ok in claim.items()))
    env = pooled["environment"]
    print(f"environment: python {env['python']}, {env['threads']} thread(s) per seed, "
          + ", ".join(f"{k} {v}" for k, v in env["packages"].items() if v)
          + (f", lock {env['lock_sha256'][:12]}" if env["lock_sha256"] else ", no lock file")
          + f"; wall time {time.perf_counter() - started:.0f} s; report: {args.work / 'report.json'}")
    return 0


def main(argv=None) -> int:
    args = _parser().parse_args(argv)
    if args.threads < 1 or (args.jobs is not None and args.jobs < 1):
        print("--threads and --jobs must be at least 1", file=sys.stderr)
        return 2
    if args.seconds is not None and not 1.0 <= args.seconds <= 30.0:
        print("--seconds must be between 1 and 30 (a clip's length)", file=sys.stderr)
        return 2
    return _run_seeds(args) if args.seeds else _run_one(args)


if __name__ == "__main__":
    sys.exit(main())
