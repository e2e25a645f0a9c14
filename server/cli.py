"""The `motionscore` command line: score, rhythm, serve.

Exit codes: 0 success; 1 the work failed (server unreachable, server error, cancelled);
2 bad input (unreadable motion, invalid option, existing output without --force).
"""

from __future__ import annotations

import argparse
import json
import logging
import math
import signal
import sys
import threading
from pathlib import Path

import numpy as np

from motionscore.shared.client import DEFAULT_ADDRESS, ScoreClient, ServerError, default_address
from motionscore.shared.genres import GENRE_NAMES, tempo_note, valid_genres_text
from motionscore.shared.motion import MotionError, load_motion
from motionscore.shared.options import RHYTHM_MODES, OptionsError, ScoreOptions
from motionscore.shared.tempo_map import alternatives_text

from . import __version__

EXIT_FAILED, EXIT_BAD_INPUT = 1, 2


class UserError(Exception):
    """Bad input: printed as one line, exit code 2."""


class Failure(Exception):
    """The work could not be done: printed as one line, exit code 1."""


def _load_backbone(args: argparse.Namespace, name: str):
    """Load a backbone with the model/encoder options; every failure is one line."""
    from .generation.backbones import UnknownBackboneError, load_backbone

    options = {"model": args.model, "encoders": args.encoders, "encoders_format": args.encoders_format,
               "device": args.device, "decoder": getattr(args, "decoder", None)}
    if options["decoder"] is not None and name != "musicgen":
        raise UserError(f"--decoder chooses MusicGen's token decoder; backbone {name!r} has none")
    try:
        return load_backbone(name, **{k: v for k, v in options.items() if v is not None})
    except UnknownBackboneError as exc:
        raise UserError(str(exc)) from None
    except (ValueError, FileNotFoundError) as exc:  # bad checkpoint, mismatched encoders
        raise UserError(str(exc).splitlines()[0]) from None
    except RuntimeError as exc:  # weights missing offline
        raise Failure(str(exc).splitlines()[0]) from None


def _add_model_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--model", default=None, help="ML backbones: 'tiny' (random, offline), a hub id "
                                                      "(facebook/musicgen-small, ...) or a local directory")
    parser.add_argument("--encoders", default=None, help="encoder checkpoint (.safetensors); without it an ML "
                                                         "backbone makes text-only music")
    parser.add_argument("--encoders-format", default=None, choices=["motionscore", "released"],
                        help="'released' reads the original work's MusicGen encoders (torch file)")
    parser.add_argument("--device", default=None, help="torch device (default: cuda when available, else cpu)")
    parser.add_argument("--decoder", default=None, choices=["fast", "audiocraft"],
                        help="MusicGen only: 'fast' (default; static cache, CUDA graphs on a GPU, the same tokens) "
                             "or audiocraft's own generate loop")


def cmd_encoders_init(args: argparse.Namespace) -> int:
    """A randomly initialised encoder checkpoint matching a backbone (a starting point, and for tests)."""
    from .model.checkpoint import save_checkpoint
    from .model.encoders import EncoderConfig, Encoders, default_hidden

    out = Path(args.output)
    if out.exists() and not args.force:
        raise UserError(f"{out} exists; pass --force to overwrite it")
    if out.suffix != ".safetensors":
        raise UserError(f"{out}: encoder checkpoints are .safetensors files")
    backbone = _load_backbone(argparse.Namespace(model=args.model, encoders=None, encoders_format=None,
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


def _progress_printer(enabled: bool):
    last = [None]

    def show(fraction: float, stage: str) -> None:
        if not enabled:
            return
        text = f"\r[{'#' * int(fraction * 30):<30}] {fraction * 100:5.1f}%  {stage:<32}"
        if text != last[0]:
            sys.stderr.write(text)
            sys.stderr.flush()
            last[0] = text
        if fraction >= 1.0:
            sys.stderr.write("\n")
    return show


def _load(path: str):
    try:
        return load_motion(path)
    except MotionError as exc:
        raise UserError(str(exc)) from None


def _read_hits(args: argparse.Namespace) -> tuple[float, ...]:
    """--hits "1.25,3.5" and --hits-file FILE (one time in seconds per line, '#' comments), together."""
    from motionscore.shared.options import parse_hits, read_times

    values: list[float] = []
    if args.hits:
        values += parse_hits(args.hits)
    if args.hits_file:
        try:
            times = read_times(args.hits_file)
        except (OSError, UnicodeDecodeError) as exc:
            raise UserError(f"--hits-file {args.hits_file}: cannot read it ({type(exc).__name__})") from None
        except ValueError as exc:
            raise UserError(f"--hits-file {args.hits_file}: {exc}") from None
        try:
            values += parse_hits(times)
        except OptionsError as exc:
            raise UserError(f"--hits-file {args.hits_file}: {exc}") from None
    return tuple(sorted(values))


def _map_options(args: argparse.Namespace) -> dict:
    """The tempo-map options shared by score and rhythm (hits, tempo, meter), validated."""
    try:
        return {"hits": _read_hits(args), "tempo_bpm": args.tempo, "meter": args.meter}
    except OptionsError as exc:
        raise UserError(str(exc)) from None


def _add_key_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--server-key", default=None, metavar="FILE",
                        help="the keyed server's public key (server.key; default $MOTIONSCORE_SERVER_KEY)")
    parser.add_argument("--client-key", default=None, metavar="FILE",
                        help="this client's key pair (NAME.key_secret from `motionscore keys add`; "
                             "default $MOTIONSCORE_CLIENT_KEY)")


def _add_map_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--hits", default=None, metavar="T1,T2",
                        help="sync points in seconds the music must put a beat on, e.g. 1.25,3.5")
    parser.add_argument("--hits-file", default=None, metavar="FILE",
                        help="more sync points: one time in seconds per line ('#' starts a comment)")
    parser.add_argument("--tempo", type=float, default=None, metavar="BPM",
                        help="impose the tempo instead of estimating it from the motion")
    parser.add_argument("--meter", type=int, default=None, choices=(3, 4),
                        help="beats per bar (default: the genre's, 3 for a waltz; else from the motion, "
                             "3 for a waltz's rise and fall, else 4)")


def cmd_score(args: argparse.Namespace) -> int:
    from .generation.audio_io import OutputExistsError, check_output_path, mono_mix, write_audio

    try:
        check_output_path(args.output, args.force)
    except (OutputExistsError, ValueError) as exc:
        raise UserError(str(exc)) from None
    motion = _load(args.motion)
    try:
        options = ScoreOptions(genre=args.genre, prompt=args.prompt or "", seed=args.seed,
                               backbone=args.backbone,
                               sample_rate=args.sample_rate, rhythm_mode=args.rhythm_mode,
                               beat_lock=args.beat_lock, negative_motion=args.negative_motion,
                               channels=args.channels, **_map_options(args))
        options.check_motion(motion.duration)
    except OptionsError as exc:
        raise UserError(str(exc)) from None
    show = _progress_printer(not args.quiet and sys.stderr.isatty())
    if args.server:
        try:
            with ScoreClient(args.server, timeout=args.timeout, server_key=args.server_key,
                             client_key=args.client_key) as client:
                result = client.score(motion, options, on_progress=show)
        except ServerError as exc:
            if exc.code == "bad_key":  # a key file of ours, or a handshake that cannot work
                raise UserError(exc.message) from None
            if exc.code in ("bad_motion", "bad_options", "wrong_backbone"):
                raise UserError(f"the server refused the request: {exc.message}") from None
            raise Failure(f"server: {exc.message}") from None
        audio, sample_rate, metadata = result.audio, result.sample_rate, result.metadata
    else:
        from .generation.pipeline import ChannelsError, output_channels, score_motion

        backbone = _load_backbone(args, args.backbone or "synth")
        try:
            output_channels(options, backbone)
        except ChannelsError as exc:
            raise UserError(str(exc)) from None
        result = score_motion(motion, options, backbone, show)
        audio, sample_rate, metadata = result.audio, result.sample_rate, result.metadata
    try:
        path = write_audio(args.output, audio, sample_rate, force=args.force)
    except OutputExistsError as exc:
        raise Failure(str(exc)) from None
    if args.plot:
        from .evaluation.plots import beat_timeline

        m = metadata["metrics"]
        tempo_map = metadata.get("tempo_map") or {}
        bars = [tempo_map["beats_s"][i] for i in tempo_map.get("downbeats", [])]
        beat_timeline(args.plot, mono_mix(audio), sample_rate, m["music_beats_s"], metadata.get("beats_s", []),
                      title=f"{path.name}: {tempo_map.get('summary', 'no tempo map')}",
                      metrics={"F1": m["f1"], "alignment": m["alignment"]}, tolerance=m["tolerance_s"],
                      bars=bars, hits=tempo_map.get("hits_s", []), accents=tempo_map.get("accents_s", []),
                      reference_label="tempo map beats")
    if args.json:
        print(json.dumps({"output": str(path), **metadata}, indent=2))
    else:
        _print_summary(path, metadata)
    return 0


def _fmt(value, pattern: str = "{:.2f}", missing: str = "n/a") -> str:
    return missing if value is None else pattern.format(value)


def _print_summary(path: Path, meta: dict) -> None:
    m = meta["metrics"]
    print(f"wrote {path}")
    layout = {1: "mono", 2: "stereo"}.get(meta.get("channels", 1), f"{meta.get('channels')} channels")
    print(f"  duration   {meta['duration_s']:.3f} s ({meta['frames']} frames at {meta['fps']:g} fps), "
          f"{meta['sample_rate']} Hz {layout}")
    made_by = f", replica {meta['replica']}" if meta.get("replica") else ""
    genre = f"{GENRE_NAMES[meta['genre']]} ({meta['genre']})" if meta.get("genre") in GENRE_NAMES else meta.get("genre")
    print(f"  backbone   {meta['backbone']} ({meta['model_id']}){made_by}, genre {genre}, seed {meta['seed']}")
    tempo_map = meta.get("tempo_map")
    print(f"  tempo map  {tempo_map['summary'] if tempo_map else 'none (the motion has no steady pulse)'}")
    if tempo_map and tempo_map.get("alternatives_bpm"):
        print(f"  also fits  {alternatives_text(tempo_map['alternatives_bpm'])} (--tempo BPM to use one)")
    print(f"  motion     {len(meta.get('kinematic_beats_s', []))} kinematic beats, map tempo "
          f"{_fmt(m['motion_tempo_bpm'], '{:.1f} BPM')}")
    print(f"  music      {m['music_beats']} beats, tempo {_fmt(m['music_tempo_bpm'], '{:.1f} BPM')}")
    print(f"  alignment  {_fmt(m['alignment'], '{:.3f}')} (1 = every beat of the map has a music beat on it); "
          f"beat F1 {m['f1']:.3f} at {m['tolerance_s']:g} s")
    for note in meta.get("notes", []):
        print(f"  note       {note}")


def cmd_rhythm(args: argparse.Namespace) -> int:
    from motionscore.shared.rhythm import extract_rhythm

    motion = _load(args.motion)
    settings = _map_options(args)
    try:
        options = ScoreOptions(genre=args.genre, **settings)
        options.check_motion(motion.duration)
    except OptionsError as exc:
        raise UserError(str(exc)) from None
    rhythm = extract_rhythm(motion, mode=args.mode, genre=options.genre, **settings)
    tempo_map = rhythm.tempo_map
    summary = {
        "file": args.motion, "frames": motion.num_frames, "fps": motion.fps, "duration_s": motion.duration,
        "joints": motion.num_joints, "genre": options.genre or motion.genre, "mode": rhythm.mode,
        "static": rhythm.is_static,
        "tempo_bpm": rhythm.tempo_bpm, "rhythm_fps": rhythm.fps, "sequence_length": int(rhythm.binary.size),
        "onsets": int(rhythm.binary.sum()), "beat_times_s": [round(float(t), 4) for t in rhythm.beat_times],
        "kinematic_beat_times_s": [round(float(t), 4) for t in rhythm.kinematic_beat_times],
        "onset_times_s": [round(float(t), 4) for t in rhythm.onset_times],
        "tempo_map": tempo_map.to_dict() if tempo_map is not None else None,
    }
    if args.json:
        print(json.dumps(summary, indent=2))
        return 0
    print(f"{args.motion}: {motion.num_frames} frames at {motion.fps:g} fps ({motion.duration:.3f} s), "
          f"{motion.num_joints} joints, genre {summary['genre'] or 'not set'}")
    if tempo_map is None:
        print("  the motion does not move: no onsets, no beats, no tempo" if rhythm.is_static
              else "  no steady pulse: no beats, no tempo")
        return 0
    print(f"  rhythm sequence: {rhythm.binary.size} samples at {rhythm.fps:g} Hz, {summary['onsets']} onsets "
          f"({summary['onsets'] / motion.duration:.1f}/s), mode {rhythm.mode}")
    print(f"  kinematic beats: {rhythm.kinematic_beat_times.size} (what the dancer hits, beat by beat)")
    print(f"  tempo map: {tempo_map.summary()}; {rhythm.beat_times.size} beats, {tempo_map.downbeats.size} bars")
    for segment in tempo_map.segments:
        print(f"    {segment.start_s:8.2f} - {segment.end_s:8.2f} s  {segment.bpm:7.2f} BPM")
    if tempo_map.alternatives:
        print(f"  the motion's pulse also fits {alternatives_text(tempo_map.alternatives)} "
              "(score with --tempo BPM to use one)")
    genre_note = tempo_note(summary["genre"], tempo_map.tempo_bpm) if args.tempo is None else ""
    if genre_note:
        print(f"  note: {genre_note}; the motion's pulse outweighed the genre's range (--tempo BPM sets another)")
    if tempo_map.hits.size:
        for hit in tempo_map.hits:
            nearest = float(np.min(np.abs(rhythm.beat_times - hit)))
            print(f"    hit {hit:8.3f} s: nearest beat {nearest * 1000:.1f} ms away")
    if tempo_map.accents.size:
        print(f"  the motion's strongest accents pulled {tempo_map.accents.size} beat"
              f"{'s' if tempo_map.accents.size != 1 else ''} (soft hits): "
              + ", ".join(f"{a:.2f}" for a in tempo_map.accents[:8]) + (" ..." if tempo_map.accents.size > 8 else "") + " s")
    head = ", ".join(f"{t:.2f}" for t in rhythm.beat_times[:8])
    print(f"  first beats (s): {head}{' ...' if rhythm.beat_times.size > 8 else ''}")
    return 0


def cmd_serve(args: argparse.Namespace) -> int:
    from .serving.keys import KeyError_, server_keys
    from .serving.service import ScoreServer, is_loopback

    if args.keys:
        try:
            server_keys(Path(args.keys))
        except KeyError_ as exc:
            raise UserError(str(exc)) from None
    elif not is_loopback(args.bind):
        if not args.allow_remote:
            raise UserError(f"{args.bind} is not a loopback address: serving other machines needs --keys DIR "
                            f"(make one with `motionscore keys init DIR`)")
        print(f"motionscore: WARNING: serving {args.bind} without keys: anyone who reaches this port can use "
              f"the GPU and read the music (--allow-remote)", file=sys.stderr)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s", stream=sys.stderr)
    front = dict(address=args.bind, max_queue=args.queue, client_timeout=args.client_timeout,
                 warm_up=not args.no_warm_up, keys=Path(args.keys) if args.keys else None)
    if args.engine == "ray":
        server = _ray_server(args, front)
    else:
        for flag, value in (("--replicas", args.replicas), ("--autoscale", args.autoscale),
                            ("--ray-address", args.ray_address), ("--gpus-per-replica", args.gpus_per_replica)):
            if value is not None:
                raise UserError(f"{flag} is an option of --engine ray")
        backbone = _load_backbone(args, args.backbone)
        server = ScoreServer(backbone, workers=args.workers, **front)

    def stop(signum, frame):  # noqa: ARG001 - signal handler signature
        logging.getLogger("motionscore.server").info("signal %s received", signal.Signals(signum).name)
        server.stop()

    signal.signal(signal.SIGINT, stop)
    signal.signal(signal.SIGTERM, stop)
    if hasattr(signal, "SIGHUP"):
        signal.signal(signal.SIGHUP, lambda signum, frame: server.reload_keys())
    ready = threading.Event()
    try:
        server.serve_forever(ready)
    except Exception as exc:  # zmq bind errors: address in use, bad address; Ray that did not start
        if not ready.is_set():
            if type(exc).__name__ == "RayUnavailable":
                raise Failure(str(exc)) from None
            raise Failure(f"cannot serve on {args.bind}: {exc}") from None
        raise
    return 0


def _ray_server(args: argparse.Namespace, front: dict):
    """`serve --engine ray`: the ZeroMQ front with the backbone in Ray Serve replicas."""
    from .generation.backbones import REGISTRY
    from .serving.ray_engine import RayOptions, RayScoreServer, parse_autoscale

    if args.backbone not in REGISTRY:
        _load_backbone(args, args.backbone)  # the usual one-line error for an unknown name
    if args.workers != 1:
        raise UserError("--workers is the local engine's; with --engine ray use --replicas N or --autoscale MIN:MAX")
    if args.replicas is not None and args.autoscale is not None:
        raise UserError("give --replicas N or --autoscale MIN:MAX, not both")
    replicas = 1 if args.replicas is None else args.replicas
    if replicas < 1:
        raise UserError(f"--replicas must be at least 1, got {replicas}")
    try:
        autoscale = parse_autoscale(args.autoscale) if args.autoscale is not None else None
    except ValueError as exc:
        raise UserError(str(exc)) from None
    gpus = 0.0 if args.gpus_per_replica is None else args.gpus_per_replica
    if gpus < 0:
        raise UserError(f"--gpus-per-replica must be >= 0, got {gpus:g}")
    options = {"model": args.model, "encoders": args.encoders, "encoders_format": args.encoders_format,
               "device": args.device, "decoder": args.decoder}
    if options["decoder"] is not None and args.backbone != "musicgen":
        raise UserError(f"--decoder chooses MusicGen's token decoder; backbone {args.backbone!r} has none")
    for name in ("encoders",):
        if options[name] is not None:  # replicas may run elsewhere: give them an absolute path
            options[name] = str(Path(options[name]).resolve())
    ray_options = RayOptions(replicas=replicas, autoscale=autoscale, address=args.ray_address, gpus_per_replica=gpus)
    return RayScoreServer(args.backbone, {k: v for k, v in options.items() if v is not None}, ray_options, **front)


def cmd_keys(args: argparse.Namespace) -> int:
    from .serving import keys

    folder = Path(args.folder)
    try:
        if args.keys_command == "init":
            public, secret = keys.init_keys(folder)
            print(f"made the server's keys in {folder}:\n  {public}  (public: give it to every client)\n"
                  f"  {secret}  (secret: stays on the server)\nserve with: motionscore serve --keys {folder} "
                  f"--bind tcp://0.0.0.0:5757\nadd a client with: motionscore keys add {folder} NAME")
        elif args.keys_command == "add":
            pair, server_public = keys.add_client(folder, args.name)
            print(f"client {args.name!r} is authorised. Give it these two files:\n  {pair}  (its key pair: keep it "
                  f"secret)\n  {server_public}  (the server's public key)\nit uses them with --client-key {pair.name} "
                  f"--server-key {server_public.name} (or $MOTIONSCORE_CLIENT_KEY / $MOTIONSCORE_SERVER_KEY, "
                  f"or the add-on's preferences)")
        elif args.keys_command == "list":
            authorised, revoked = keys.list_clients(folder)
            print(f"{folder}: {len(authorised)} authorised client(s): {', '.join(authorised) or '-'}")
            if revoked:
                print(f"  revoked: {', '.join(revoked)}")
        elif args.keys_command == "revoke":
            keys.revoke_client(folder, args.name)
            print(f"revoked {args.name!r}: a running server refuses it from its next connection")
    except keys.KeyError_ as exc:
        raise UserError(str(exc)) from None
    return 0


def _embedders(args):
    from .evaluation.embeddings import EmbedderError, load_embedder

    try:
        fad = load_embedder(args.fad_embedder, args.embedder_weights) if args.fad_embedder != "none" else None
        clap = load_embedder(args.clap, args.clap_model) if args.clap != "none" else None
    except EmbedderError as exc:
        raise Failure(str(exc)) from None
    return fad, clap


def cmd_eval(args: argparse.Namespace) -> int:
    from .evaluation.evaluate import EvaluationError, evaluate_folders, format_table, write_report

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
    from .evaluation.evaluate import EvaluationError, evaluate_clip, read_audio

    motion = _load(args.motion)
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
        from .data.real_clips import read_beats

        try:
            reference_beats = read_beats(Path(args.reference_beats))
        except (OSError, ValueError) as exc:
            raise UserError(f"--reference-beats {args.reference_beats}: not a beats file (one time in seconds "
                            f"per line): {str(exc).splitlines()[0][:120]}") from None
    report = evaluate_clip(Path(args.audio).stem, audio, rate, reference, motion, args.tolerance, args.sigma, clap,
                           reference_beats=reference_beats)
    if args.plot:
        from .evaluation.plots import beat_timeline

        metrics = {k: getattr(report, k) for k in ("f1", "alignment") if getattr(report, k) is not None}
        beat_timeline(args.plot, audio, rate, report.music_beats, report.motion_beats,
                      title=Path(args.audio).name, metrics=metrics, tolerance=args.tolerance)
    if args.json:
        print(json.dumps({**report.row(), "music_beats_s": report.music_beats,
                          "motion_beats_s": report.motion_beats}, indent=2))
    else:
        for key, value in report.row().items():
            print(f"{key:>22}  {_fmt(value, '{:.3f}') if isinstance(value, float) else value}")
    return 0


def cmd_batch(args: argparse.Namespace) -> int:
    from .serving.batch import run_batch, summary_table

    try:
        results = run_batch(args.files, args.server, save=args.save, blender=args.blender, timeout=args.timeout,
                            server_key=args.server_key, client_key=args.client_key)
    except ServerError as exc:
        raise Failure(exc.message) from None
    except RuntimeError as exc:
        raise Failure(str(exc)) from None
    if args.json:
        print(json.dumps(results, indent=2))
    else:
        print(summary_table(results))
    return 0 if all(r["ok"] for r in results) else EXIT_FAILED


def cmd_data_check(args: argparse.Namespace) -> int:
    from .data.data_folder import check_folder

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
    from .data.synthetic_world import make_world

    out = _empty_output_folder(args.out, args.force)
    if args.clips < 1:
        raise UserError(f"--clips must be at least 1, got {args.clips}")
    if not (math.isfinite(args.seconds) and args.seconds >= 1.0):
        raise UserError(f"--seconds must be at least 1 (a clip must hold a few beats), got {args.seconds}")
    show = _progress_printer(sys.stderr.isatty())
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
    from .data.aist_import import VIEWS, ImportError_, import_aist

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
    from .training.train import TrainConfig, train

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


def cmd_addon_build(args: argparse.Namespace) -> int:
    from .packaging.addon_build import PLATFORMS, BuildError, build

    try:
        result = build(Path(args.output), platforms=args.platform or list(PLATFORMS),
                       log=lambda text: print(text, file=sys.stderr))
    except BuildError as exc:
        raise Failure(str(exc)) from None
    print(f"built {result.zip_path} ({len(result.wheels)} wheels)")
    print(f"install: Blender > Edit > Preferences > Get Extensions > Install from Disk, or "
          f"blender --command extension install-file -r user_default -e {result.zip_path}")
    return 0


def cmd_farm(args: argparse.Namespace) -> int:
    """Export farm job definitions: an OpenJD job bundle or a Flamenco job type."""
    from .packaging import farm_jobs

    out = Path(args.output)
    try:
        if args.farm_command == "openjd":
            shots = Path(args.shots)
            target, listed = farm_jobs.write_openjd_bundle(out, shots, save=args.save, address=args.server,
                                                           executable=args.motionscore, force=args.force)
            count = len(listed)
            print(f"wrote {target} ({count} shot{'s' if count != 1 else ''}, one task each)")
            print(f"run locally:   {farm_jobs.openjd_run_command(out, shots.resolve(), args.server)}")
            print(f"Deadline Cloud: deadline bundle submit {out}")
        else:
            target = farm_jobs.write_flamenco_job_type(out, address=args.server, module=args.addon_module,
                                                       force=args.force)
            print(f"wrote {target}: copy it to the Flamenco Manager's scripts/ folder and restart the Manager")
            if args.shots:
                print(f"shots setting for {args.shots}: {farm_jobs.flamenco_shots_setting(Path(args.shots))}")
    except farm_jobs.FarmExportError as exc:
        raise UserError(str(exc)) from None
    return 0


PROJECTOR_HELP = "rhythm projector: attn (the published attention pooling) or mlp (default attn)"
PERIODICITY_HELP = ("also give the rhythm projector the onsets' autocorrelation at lags 1..N (60 Hz samples; "
                    "0 = the published input, the onsets only; the learning proof uses 90 = 1.5 s)")


def cmd_models_pull(args: argparse.Namespace) -> int:
    """Download a backbone's weights into the Hugging Face cache, with progress, and check them."""
    from .model import weights

    report = None
    if args.progress == "json":  # one JSON line per update, for the add-on's preferences
        def report(stage: str, done: int, total: int) -> None:
            print(json.dumps({"stage": stage, "done": done, "total": total}), flush=True)
    try:
        pulled = weights.pull(args.backbone, args.model, report=report,
                              log=lambda text: print(text, file=sys.stderr))
    except weights.WeightsError as exc:
        raise (UserError if exc.bad_input else Failure)(str(exc)) from None
    for item in pulled:
        print(f"{item.repo_id}: {item.files} files, {weights.size_text(item.bytes)}, checked "
              f"(revision {item.revision[:12]}) in {item.folder}", file=sys.stderr)
    print(f"ready: motionscore serve --backbone {args.backbone}"
          + (f" --model {args.model}" if args.model else ""), file=sys.stderr)
    return 0


def cmd_models_list(args: argparse.Namespace) -> int:
    """What the Hugging Face cache holds, its size, and which backbone uses it."""
    from .model import weights

    cached = weights.list_cached()
    if args.json:
        print(json.dumps([vars(c) for c in cached], indent=2))
        return 0
    print(f"cache: {weights.cache_dir()}")
    if not cached:
        print("  (empty: motionscore models pull BACKBONE fetches one)")
    for c in cached:
        state = "complete" if c.complete else "not pulled by motionscore or incomplete: pull again"
        print(f"  {c.repo_id:40s} {weights.size_text(c.bytes):>9s}  {', '.join(c.used_by) or '-':12s} {state}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="motionscore", description="Music whose beats follow the motion.")
    parser.add_argument("--version", action="version", version=f"motionscore {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    score = sub.add_parser("score", help="make music for a motion file",
                           description="Score a motion (.npz) and write the music. Runs in-process unless "
                                       "--server is given.")
    score.add_argument("motion", help="motion file (.npz, see README: motion format)")
    score.add_argument("-o", "--output", required=True, help="audio file to write (.wav, .flac or .ogg)")
    score.add_argument("--genre", default=None, help=f"genre or 'auto' (default: the motion's genre, else auto). "
                                                     f"Valid: {valid_genres_text()}")
    score.add_argument("--prompt", default="", help="free text that steers the music (ML backbones)")
    score.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    score.add_argument("--backbone", default=None, help="backbone to use in-process (default synth), or to require "
                                                        "of the server (default: whatever it runs)")
    score.add_argument("--server", default=None, nargs="?", const=default_address(),
                       help=f"score on a running server (default address: $MOTIONSCORE_SERVER or "
                            f"{DEFAULT_ADDRESS})")
    score.add_argument("--timeout", type=float, default=10.0, help="seconds without any answer before giving up")
    score.add_argument("--sample-rate", type=int, default=48_000, help="output sample rate in Hz (default 48000)")
    score.add_argument("--rhythm-mode", choices=RHYTHM_MODES, default="default",
                       help="'compat' reproduces the original code's rhythm extraction")
    score.add_argument("--force", action="store_true", help="overwrite the output file if it exists")
    score.add_argument("--beat-lock", action=argparse.BooleanOptionalAction, default=None,
                       help="time-warp the music onto the motion's beats (default: on for ML backbones, off for "
                            "synth, which is on the beat by construction)")
    score.add_argument("--negative-motion", action="store_true",
                       help="ML backbones: guide away from the reversed motion instead of the empty prompt")
    score.add_argument("--channels", default=None, choices=["mono", "stereo"],
                       help="output channels (default: the backbone's own: stereo for stableaudio, mono for the "
                            "others); mono downmixes a stereo backbone")
    score.add_argument("--json", action="store_true", help="print the take's metadata as JSON")
    score.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    score.add_argument("--plot", default=None, metavar="PNG", help="also draw the take's beat timeline")
    _add_map_options(score)
    _add_key_options(score)
    _add_model_options(score)
    score.set_defaults(func=cmd_score)

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

    rhythm = sub.add_parser("rhythm", help="show a motion's rhythm (onsets, kinematic beats, tempo map)")
    rhythm.add_argument("motion", help="motion file (.npz)")
    rhythm.add_argument("--mode", choices=RHYTHM_MODES, default="default")
    rhythm.add_argument("--json", action="store_true", help="machine-readable output")
    rhythm.add_argument("--genre", default=None, help=f"genre for the tempo map's prior and meter (default: the "
                                                      f"motion's genre). Valid: {valid_genres_text()}")
    _add_map_options(rhythm)
    rhythm.set_defaults(func=cmd_rhythm)

    serve = sub.add_parser("serve", help="run the inference server",
                           description="Serve scoring requests over ZeroMQ until SIGINT/SIGTERM.")
    serve.add_argument("--bind", default=default_address(), help=f"address to bind (default {DEFAULT_ADDRESS})")
    serve.add_argument("--backbone", default="synth", help="backbone to serve (default synth)")
    serve.add_argument("--workers", type=int, default=1, help="jobs run in parallel (default 1)")
    serve.add_argument("--queue", type=int, default=64, help="most jobs waiting before 'busy' (default 64)")
    serve.add_argument("--client-timeout", type=float, default=30.0,
                       help="cancel jobs of clients silent for this many seconds (default 30)")
    serve.add_argument("--keys", default=None, metavar="DIR",
                       help="serve with CurveZMQ keys from DIR (motionscore keys init DIR); admits only DIR/clients/; "
                            "needed for any non-loopback --bind")
    serve.add_argument("--allow-remote", action="store_true",
                       help="serve a non-loopback address WITHOUT keys (unauthenticated, unencrypted; warned)")
    serve.add_argument("--engine", default="local", choices=["local", "ray"],
                       help="'local' (default): worker threads in this process; 'ray': the backbone in Ray Serve "
                            "replicas behind the same ZeroMQ front (see the README's 'Scaling out')")
    serve.add_argument("--replicas", type=int, default=None, metavar="N",
                       help="--engine ray: replicas of the backbone (default 1)")
    serve.add_argument("--autoscale", default=None, metavar="MIN:MAX",
                       help="--engine ray: let Ray Serve scale between MIN and MAX replicas on load")
    serve.add_argument("--ray-address", default=None, metavar="ADDR",
                       help="--engine ray: join this Ray cluster (e.g. 10.0.0.5:6379) instead of starting a local one")
    serve.add_argument("--gpus-per-replica", type=float, default=None, metavar="G",
                       help="--engine ray: GPUs Ray reserves per replica (default 0; 1 for one GPU each, 0.5 to pack two)")
    serve.add_argument("--no-warm-up", action="store_true",
                       help="skip the short warm-up take before serving (the first request then pays for it)")
    _add_model_options(serve)
    serve.set_defaults(func=cmd_serve)

    batch = sub.add_parser("batch", help="score many .blend/.bvh shots through headless Blender",
                           description="Score shots with the add-on in headless Blender (the bpy module, or "
                                       "--blender PATH). A failed shot is reported and left as it was; the others "
                                       "go on. Needs a running server.")
    batch.add_argument("files", nargs="+", help=".blend or .bvh files")
    batch.add_argument("--server", default=default_address(), help=f"server address (default $MOTIONSCORE_SERVER "
                                                                   f"or {DEFAULT_ADDRESS})")
    batch.add_argument("--save", action="store_true",
                       help="save each .blend with its new sound strip (a .bvh always gets a new .blend beside it)")
    batch.add_argument("--blender", default=None, help="a Blender binary to use instead of the bpy module")
    batch.add_argument("--timeout", type=float, default=3600.0, help="seconds per shot before giving up")
    batch.add_argument("--json", action="store_true", help="print the results as JSON instead of a table")
    _add_key_options(batch)
    batch.set_defaults(func=cmd_batch)

    keys_parser = sub.add_parser("keys", help="CurveZMQ keys for serving other machines",
                                 description="Make and manage the key folder of `motionscore serve --keys DIR`.")
    keys_sub = keys_parser.add_subparsers(dest="keys_command", required=True, metavar="ACTION")
    for action, text in (("init", "make the server's key pair and DIR/clients/"),
                         ("add", "issue a client key pair and authorise it"),
                         ("list", "list authorised and revoked clients"),
                         ("revoke", "stop admitting a client (from its next connection)")):
        p = keys_sub.add_parser(action, help=text)
        p.add_argument("folder", metavar="DIR", help="the key folder")
        if action in ("add", "revoke"):
            p.add_argument("name", metavar="NAME", help="the client's name (letters, digits, . _ -)")
        p.set_defaults(func=cmd_keys)

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
    world.add_argument("--workers", type=int, default=1, help="processes rendering clips (default 1; same files)")
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

    models = sub.add_parser("models", help="backbone weights in the Hugging Face cache",
                            description="Fetch ML backbones' weights once (takes never download) and see what is "
                                        "cached. The hub is $HF_ENDPOINT, the cache $HF_HUB_CACHE or $HF_HOME/hub.")
    models_sub = models.add_subparsers(dest="models_command", required=True, metavar="ACTION")
    pull = models_sub.add_parser("pull", help="download a backbone's weights and what it needs, then check them")
    pull.add_argument("backbone", help="musicgen (with t5-base), riffusion, audioldm or stableaudio")
    pull.add_argument("--model", default=None, help="another hub id for the backbone's model "
                                                    "(e.g. facebook/musicgen-medium)")
    pull.add_argument("--progress", choices=["bar", "json"], default="bar",
                      help="progress bars on stderr (default), or JSON lines on stdout")
    pull.set_defaults(func=cmd_models_pull)
    listing = models_sub.add_parser("list", help="the cached models, their size and which backbone uses them")
    listing.add_argument("--json", action="store_true")
    listing.set_defaults(func=cmd_models_list)

    addon = sub.add_parser("addon", help="the Blender extension")
    addon_sub = addon.add_subparsers(dest="addon_command", required=True, metavar="ACTION")
    build = addon_sub.add_parser("build", help="build the installable extension zip",
                                 description="Build and validate the Blender extension zip with pyzmq and msgpack "
                                             "wheels for Blender's Pythons (3.11, 3.13) and platforms.")
    build.add_argument("-o", "--output", default="dist", help="folder for the zip (default dist/)")
    build.add_argument("--platform", action="append", choices=["linux-x64", "windows-x64", "macos-arm64", "macos-x64"],
                       help="only these platforms (repeatable; default all four)")
    build.set_defaults(func=cmd_addon_build)

    farm = sub.add_parser("farm", help="job definitions for render farm managers (OpenJD/Deadline, Flamenco)")
    farm_sub = farm.add_subparsers(dest="farm_command", required=True, metavar="MANAGER")
    openjd = farm_sub.add_parser("openjd", help="an Open Job Description job bundle (AWS Deadline Cloud, openjd run)",
                                 description="Write DIR/template.yaml (jobtemplate-2023-09): one task per .blend/.bvh "
                                             "shot in --shots, each `motionscore batch SHOT --server ADDR`.")
    openjd.add_argument("-o", "--output", required=True, help="bundle folder (DIR/template.yaml)")
    openjd.add_argument("--shots", required=True, help="folder whose .blend and .bvh files become the tasks")
    openjd.add_argument("--save", action="store_true", help="save each .blend with its new strip")
    openjd.add_argument("--motionscore", default=None,
                        help="the motionscore command on the workers (default: this environment's)")
    flamenco = farm_sub.add_parser("flamenco", help="a Flamenco job type (JavaScript for the Manager's scripts/)",
                                   description="Write DIR/motionscore_score_shots.js: one blender-render task per shot, "
                                               "running the installed add-on's batch job in the worker's Blender.")
    flamenco.add_argument("-o", "--output", required=True, help="folder for the .js file")
    flamenco.add_argument("--shots", default=None, help="also print the 'shots' setting for this folder")
    flamenco.add_argument("--addon-module", default="bl_ext.user_default.motionscore",
                          help="the extension's module in the workers' Blender (default bl_ext.user_default.motionscore)")
    for command in (openjd, flamenco):
        command.add_argument("--server", default=DEFAULT_ADDRESS,
                             help="default server address of the job (a job parameter / setting)")
        command.add_argument("--force", action="store_true", help="overwrite an existing file")
        command.set_defaults(func=cmd_farm)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return args.func(args)
    except UserError as exc:
        print(f"motionscore: error: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except Failure as exc:
        print(f"motionscore: failed: {exc}", file=sys.stderr)
        return EXIT_FAILED
    except KeyboardInterrupt:
        print("\nmotionscore: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
