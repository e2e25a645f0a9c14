"""`eval` (a folder of takes) and `eval-one` (one take)."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path


from .common import Failure, UserError, fmt, load_motion_file


def _embedders(args):
    from motionscore.server.evaluation.embeddings import EmbedderError, load_embedder

    try:
        fad = load_embedder(args.fad_embedder, args.embedder_weights) if args.fad_embedder != "none" else None
        clap = load_embedder(args.clap, args.clap_model) if args.clap != "none" else None
    except EmbedderError as exc:
        raise Failure(str(exc)) from None
    return fad, clap


def cmd_eval(args: argparse.Namespace) -> int:
    from motionscore.server.evaluation.evaluate import EvaluationError, evaluate_folders, format_table, write_report

    fad, clap = _embedders(args)
    if args.reference is None and fad is not None:
        fad = None  # FAD needs reference music
    show = sys.stderr.isatty() and not args.quiet

    def progress(i, n, name):
        if show:
            sys.stderr.write(f"\r[{i}/{n}] {name[:40]:<40}")
            sys.stderr.flush()
            if i == n:
                sys.stderr.write("\n")

    try:
        report = evaluate_folders(Path(args.generated), Path(args.reference) if args.reference else None,
                                  Path(args.motion) if args.motion else None, args.tolerance, args.sigma,
                                  fad, clap, progress)
    except EvaluationError as exc:
        raise UserError(str(exc)) from None
    print(format_table(report))
    for key, names in report.unpaired.items():
        if names:
            print(f"note: {len(names)} {key.replace('_', ' ')}: {', '.join(names[:5])}{' ...' if len(names) > 5 else ''}")
    if args.out:
        written = write_report(report, Path(args.out), plots=not args.no_plots, generated=Path(args.generated))
        print(f"wrote {len(written)} files to {args.out} (report.json, per_clip.csv, summary.png, plots/)")
    return 0


def cmd_eval_one(args: argparse.Namespace) -> int:
    from motionscore.server.evaluation.evaluate import EvaluationError, evaluate_clip, read_audio

    motion = load_motion_file(args.motion)
    clap = None
    if args.clap != "none" and args.reference:
        _, clap = _embedders(argparse.Namespace(fad_embedder="none", embedder_weights=None, clap=args.clap,
                                                clap_model=args.clap_model))
    try:
        audio, rate = read_audio(args.audio)
        reference = read_audio(args.reference) if args.reference else None
    except EvaluationError as exc:
        raise UserError(str(exc)) from None
    reference_beats = None
    if args.reference_beats:
        from motionscore.server.data.real_clips import read_beats

        try:
            reference_beats = read_beats(Path(args.reference_beats))
        except (OSError, ValueError) as exc:
            raise UserError(f"--reference-beats {args.reference_beats}: not a beats file (one time in seconds "
                            f"per line): {str(exc).splitlines()[0][:120]}") from None
    report = evaluate_clip(Path(args.audio).stem, audio, rate, reference, motion, args.tolerance, args.sigma, clap,
                           reference_beats=reference_beats)
    if args.plot:
        from motionscore.server.evaluation.plots import beat_timeline

        metrics = {k: getattr(report, k) for k in ("f1", "alignment") if getattr(report, k) is not None}
        beat_timeline(args.plot, audio, rate, report.music_beats, report.motion_beats,
                      title=Path(args.audio).name, metrics=metrics, tolerance=args.tolerance)
    if args.json:
        print(json.dumps({**report.row(), "music_beats_s": report.music_beats,
                          "motion_beats_s": report.motion_beats}, indent=2))
    else:
        for key, value in report.row().items():
            print(f"{key:>22}  {fmt(value, '{:.3f}') if isinstance(value, float) else value}")
    return 0


def register(sub) -> None:
    """Add this module's commands to the top-level subparsers."""
    def metric_options(p):
        p.add_argument("--tolerance", type=float, default=0.2, help="beat matching tolerance in s (default 0.2)")
        p.add_argument("--sigma", type=float, default=0.1, help="alignment score sigma in s (default 0.1)")
        p.add_argument("--clap", default="none", choices=["none", "clap", "tiny-clap"],
                       help="CLAP similarity to the reference (clap needs the model in the HF cache)")
        p.add_argument("--clap-model", default=None, help="local ClapModel directory or hub id (default "
                                                          "laion/clap-htsat-unfused, from the HF cache)")
    evaluate = sub.add_parser("eval", help="evaluate a folder of generated music",
                              description="Pair GEN/x.wav with REF/x.wav and MOTION/x.npz by name; print "
                                          "BCS/BHS/F1, tempo difference, alignment, FAD and CLAP.")
    evaluate.add_argument("--generated", required=True, help="folder of generated audio")
    evaluate.add_argument("--reference", default=None, help="folder of reference (ground-truth) music")
    evaluate.add_argument("--motion", default=None, help="folder of motion .npz files (for the alignment score)")
    evaluate.add_argument("--out", default=None, help="write report.json, per_clip.csv and PNGs here")
    evaluate.add_argument("--fad-embedder", default="vggish", choices=["none", "vggish", "tiny-vggish", "clap", "tiny-clap"],
                          help="embedding model for FAD (default vggish; its weights must be local)")
    evaluate.add_argument("--embedder-weights", default=None, help="VGGish weights file (default: torch hub cache)")
    evaluate.add_argument("--no-plots", action="store_true", help="skip the PNGs")
    evaluate.add_argument("-q", "--quiet", action="store_true")
    metric_options(evaluate)
    evaluate.set_defaults(func=cmd_eval)
    one = sub.add_parser("eval-one", help="evaluate one take against its motion (and a reference)")
    one.add_argument("motion", help="motion .npz")
    one.add_argument("audio", help="generated audio")
    one.add_argument("--reference", default=None, help="reference music for BCS/BHS/F1/TD/CLAP")
    one.add_argument("--reference-beats", default=None, metavar="FILE",
                     help="annotated beats (one time in seconds per line): F1 at the tolerance and at 70 ms")
    one.add_argument("--json", action="store_true")
    one.add_argument("--plot", default=None, metavar="PNG", help="draw the beat timeline")
    metric_options(one)
    one.set_defaults(func=cmd_eval_one)
