"""`encoders init`, `data check|synth|import-aist` and `train`."""

from __future__ import annotations

import argparse
import json
import math
import sys
from pathlib import Path


from .common import EXIT_BAD_INPUT, UserError, load_backbone_from_args, progress_printer

PROJECTOR_HELP = "rhythm projector: attn (the published attention pooling) or mlp (default attn)"
PERIODICITY_HELP = ("also give the rhythm projector the onsets' autocorrelation at lags 1..N (60 Hz samples; "
                    "0 = the published input, the onsets only; the learning proof uses 90 = 1.5 s)")


def cmd_encoders_init(args: argparse.Namespace) -> int:
    """A randomly initialised encoder checkpoint matching a backbone (a starting point, and for tests)."""
    from motionscore.server.model.checkpoint import save_checkpoint
    from motionscore.server.model.encoders import EncoderConfig, Encoders, default_hidden

    out = Path(args.output)
    if out.exists() and not args.force:
        raise UserError(f"{out} exists; pass --force to overwrite it")
    if out.suffix != ".safetensors":
        raise UserError(f"{out}: encoder checkpoints are .safetensors files")
    backbone = load_backbone_from_args(argparse.Namespace(model=args.model, encoders=None, encoders_format=None,
                                                 device="cpu"), args.backbone)
    import torch

    torch.manual_seed(args.seed)
    try:
        encoders = Encoders(EncoderConfig(dim=backbone.text_dim, projector=args.projector,
                                          hidden=args.hidden or default_hidden(backbone.text_dim),
                                          periodicity_lags=args.periodicity_lags))
    except ValueError as exc:
        raise UserError(str(exc)) from None
    save_checkpoint(out, encoders, backbone.name, backbone.model_id, extra={"initialised": "random", "seed": args.seed})
    print(f"wrote {out}: {backbone.name} ({backbone.model_id}), {backbone.text_dim}-d, projector {args.projector}")
    return 0


def cmd_data_check(args: argparse.Namespace) -> int:
    from motionscore.server.data.data_folder import check_folder

    counts, problems = check_folder(Path(args.data))
    for problem in problems:
        print(f"{problem.path}: {problem.message}")
    summary = ", ".join(f"{split} {n}" for split, n in counts.items()) or "nothing"
    print(f"{len(problems)} problem(s); usable pairs: {summary}")
    return 0 if not problems else EXIT_BAD_INPUT


def _empty_output_folder(path: str, force: bool) -> Path:
    """The data folder to write: refused when it already holds files, unless --force."""
    out = Path(path)
    if out.exists() and not out.is_dir():
        raise UserError(f"{out} is a file, not a folder")
    if out.exists() and any(out.iterdir()) and not force:
        raise UserError(f"{out} is not empty; choose another folder or pass --force")
    return out


def cmd_data_synth(args: argparse.Namespace) -> int:
    from motionscore.server.data.synthetic_world import make_world

    out = _empty_output_folder(args.out, args.force)
    if args.clips < 1:
        raise UserError(f"--clips must be at least 1, got {args.clips}")
    if not (math.isfinite(args.seconds) and args.seconds >= 1.0):
        raise UserError(f"--seconds must be at least 1 (a clip must hold a few beats), got {args.seconds}")
    show = progress_printer(sys.stderr.isatty())
    for name in ("val_fraction", "test_fraction"):
        if not 0 <= getattr(args, name) < 1:
            raise UserError(f"--{name.replace('_', '-')} must be in [0, 1), got {getattr(args, name)}")
    if args.val_fraction + args.test_fraction >= 1:
        raise UserError("--val-fraction + --test-fraction must leave clips for train/")
    if args.workers < 1:
        raise UserError(f"--workers must be at least 1, got {args.workers}")
    counts = make_world(out, args.clips, seed=args.seed, seconds=args.seconds, val_fraction=args.val_fraction,
                        test_fraction=args.test_fraction, workers=args.workers,
                        progress=lambda i, n: show(i / n, f"clip {i}/{n}"))
    print(f"wrote {sum(counts.values())} clips to {out}: " + ", ".join(f"{k} {v}" for k, v in counts.items()))
    return 0


def cmd_data_import_aist(args: argparse.Namespace) -> int:
    from motionscore.server.data.aist_import import VIEWS, ImportError_, import_aist

    out = _empty_output_folder(args.out, args.force)
    try:
        views = list(range(VIEWS)) if args.views == "all" else [int(v) for v in args.views.split(",")]
    except ValueError:
        raise UserError(f"--views: expected comma-separated camera indices 0-8 or 'all', got {args.views!r}") from None
    try:
        counts = import_aist(Path(args.keypoints), Path(args.audio), out, args.window, args.hop, views,
                             Path(args.splits) if args.splits else None)
    except ImportError_ as exc:
        raise UserError(str(exc)) from None
    print(f"wrote {sum(counts.values())} windows to {args.out}: " + ", ".join(f"{k} {v}" for k, v in counts.items()))
    return 0


def cmd_train(args: argparse.Namespace) -> int:
    from motionscore.server.training.train import TrainConfig, train

    out = Path(args.out)
    if out.suffix != ".safetensors":
        raise UserError(f"{out}: the checkpoint must be a .safetensors file")
    if out.exists() and not args.resume and not args.force:
        raise UserError(f"{out} exists; pass --resume to continue it or --force to start over")
    config = TrainConfig(backbone=args.backbone, model=args.model, data=Path(args.data), out=out,
                         projector=args.projector, steps=args.steps, epochs=args.epochs, batch_size=args.batch_size,
                         lr=args.lr, seed=args.seed, device=args.device, resume=args.resume,
                         negative_objective=args.negative_objective, save_every=args.save_every,
                         val_every=args.val_every, hidden=args.hidden, periodicity_lags=args.periodicity_lags)
    try:
        summary = train(config, log=lambda text: print(text, file=sys.stderr))
    except (ValueError, FileNotFoundError) as exc:
        raise UserError(str(exc).splitlines()[0]) from None
    print(json.dumps(summary))
    return 0


def register(sub) -> None:
    """Add this module's commands to the top-level subparsers."""
    encoders = sub.add_parser("encoders", help="encoder checkpoints")
    enc_sub = encoders.add_subparsers(dest="encoders_command", required=True, metavar="ACTION")
    init = enc_sub.add_parser("init", help="write randomly initialised encoders matching a backbone")
    init.add_argument("--backbone", required=True, choices=["musicgen", "riffusion", "audioldm", "stableaudio"])
    init.add_argument("--model", default="tiny", help="the backbone's model (default tiny)")
    init.add_argument("--projector", default="attn", choices=["mlp", "attn"], help=PROJECTOR_HELP)
    init.add_argument("--hidden", type=int, default=None, help="hidden width (default 768, 64 for tiny models)")
    init.add_argument("--periodicity-lags", type=int, default=0, metavar="N", help=PERIODICITY_HELP)
    init.add_argument("--seed", type=int, default=0, help="seed of the random initialisation (default 0)")
    init.add_argument("-o", "--output", required=True, help="checkpoint file (.safetensors)")
    init.add_argument("--force", action="store_true", help="overwrite the checkpoint if it exists")
    init.set_defaults(func=cmd_encoders_init)
    data = sub.add_parser("data", help="training data folders")
    data_sub = data.add_subparsers(dest="data_command", required=True, metavar="ACTION")
    check = data_sub.add_parser("check", help="validate a data folder (train/ val/ [test/] of NAME.npz + NAME.wav)")
    check.add_argument("data", help="the data folder (holding train/ and val/)")
    check.set_defaults(func=cmd_data_check)
    world = data_sub.add_parser("synth", help="make a synthetic dance-music data folder")
    world.add_argument("--out", required=True, help="data folder to write (train/, val/, [test/], metadata.json)")
    world.add_argument("--clips", type=int, default=100, help="paired clips in all splits (default 100)")
    world.add_argument("--seed", type=int, default=0, help="world seed: same seed, same files (default 0)")
    world.add_argument("--seconds", type=float, default=5.12, help="clip length (default 5.12)")
    world.add_argument("--val-fraction", type=float, default=0.15, help="share of clips in val/ (default 0.15)")
    world.add_argument("--test-fraction", type=float, default=0.0, help="share of clips in test/ (default 0)")
    world.add_argument("--workers", type=int, default=1, help="processes rendering clips, used for worlds of 200 clips or more (default 1; same files)")
    world.add_argument("--force", action="store_true", help="write into a folder that is not empty")
    world.set_defaults(func=cmd_data_synth)
    aist = data_sub.add_parser("import-aist", help="AIST++ 2D keypoints + music -> a data folder")
    aist.add_argument("--keypoints", required=True, help="folder of AIST++ keypoints2d/*.pkl")
    aist.add_argument("--audio", required=True, help="folder of AIST++ music (mHO0.wav, ...)")
    aist.add_argument("--out", required=True, help="data folder to write (train/, val/, test/)")
    aist.add_argument("--splits", default=None, help="folder with crossmodal_{train,val,test}.txt")
    aist.add_argument("--window", type=float, default=5.12, help="window length in s (default 5.12)")
    aist.add_argument("--hop", type=float, default=None, help="hop between windows in s (default: the window)")
    aist.add_argument("--views", default="0", help="camera views: comma-separated indices 0-8, or 'all'")
    aist.add_argument("--force", action="store_true", help="write into a folder that is not empty")
    aist.set_defaults(func=cmd_data_import_aist)
    trainer = sub.add_parser("train", help="train the rhythm and genre encoders (backbone frozen)")
    trainer.add_argument("--backbone", required=True, choices=["musicgen", "riffusion", "audioldm", "stableaudio"])
    trainer.add_argument("--model", default="tiny", help="the frozen backbone: 'tiny' (random, offline), a hub id, "
                         "a local folder, or a pretrained .safetensors file (default tiny)")
    trainer.add_argument("--data", required=True, help="data folder (train/ and val/ of NAME.npz + NAME.wav)")
    trainer.add_argument("--out", required=True, help="checkpoint (.safetensors), written every --save-every steps")
    trainer.add_argument("--projector", default="attn", choices=["mlp", "attn"], help=PROJECTOR_HELP)
    trainer.add_argument("--hidden", type=int, default=None, help="encoder width (default 768, 64 for tiny models)")
    trainer.add_argument("--periodicity-lags", type=int, default=0, metavar="N", help=PERIODICITY_HELP)
    trainer.add_argument("--steps", type=int, default=None, help="optimiser steps (instead of --epochs)")
    trainer.add_argument("--epochs", type=int, default=None, help="default 20 when --steps is not given")
    trainer.add_argument("--batch-size", type=int, default=4, help="clips per step (default 4)")
    trainer.add_argument("--lr", type=float, default=1e-4, help="peak AdamW learning rate (default 1e-4)")
    trainer.add_argument("--seed", type=int, default=0, help="seed of batches, noise and dropout (default 0)")
    trainer.add_argument("--device", default=None, help="torch device (default: cuda when available, else cpu)")
    trainer.add_argument("--resume", action="store_true", help="continue exactly from the checkpoint at --out")
    trainer.add_argument("--force", action="store_true", help="start afresh even if --out exists (it is replaced)")
    trainer.add_argument("--negative-objective", action="store_true",
                         help="also train on the reversed motion paired with the reversed music (PN-Diffusion)")
    trainer.add_argument("--save-every", type=int, default=100, help="checkpoint every N steps (default 100)")
    trainer.add_argument("--val-every", type=int, default=50, help="validation loss every N steps (default 50)")
    trainer.set_defaults(func=cmd_train)
