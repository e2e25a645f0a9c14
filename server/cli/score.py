"""`score` (motion -> music) and `rhythm` (a motion's rhythm and tempo map)."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

from motionscore.shared.client import DEFAULT_ADDRESS, default_address
from motionscore.shared.genres import tempo_note, valid_genres_text
from motionscore.shared.options import RHYTHM_MODES, OptionsError, ScoreOptions
from motionscore.shared.take_record import TakeRecord
from motionscore.shared.tempo_map import alternatives_text


from .common import (
    Failure,
    UserError, add_key_options, add_map_options, add_model_options, check_midi_path, deliver_take,
    load_backbone_from_args, load_motion_file, map_options, on_server, progress_printer, take_inputs, write_midi,
)


def cmd_score(args: argparse.Namespace) -> int:
    motion = take_inputs(args)
    try:
        options = ScoreOptions(genre=args.genre, prompt=args.prompt or "", seed=args.seed,
                               backbone=args.backbone,
                               sample_rate=args.sample_rate, rhythm_mode=args.rhythm_mode,
                               beat_lock=args.beat_lock, negative_motion=args.negative_motion,
                               channels=args.channels, **map_options(args, motion.duration))
        options.check_motion(motion.duration)
    except OptionsError as exc:
        raise UserError(str(exc)) from None
    stem_paths = stem_outputs(args, options)
    show = progress_printer(not args.quiet and sys.stderr.isatty())
    if args.server:
        result = on_server(args, lambda client: client.score(motion, options, on_progress=show))
        audio, sample_rate, metadata = result.audio, result.sample_rate, result.metadata
    else:
        from motionscore.server.generation.pipeline import ChannelsError, output_channels, score_motion

        backbone = load_backbone_from_args(args, args.backbone or "synth")
        try:
            output_channels(options, backbone)
        except ChannelsError as exc:
            raise UserError(str(exc)) from None
        result = score_motion(motion, options, backbone, show)
        audio, sample_rate, metadata = result.audio, result.sample_rate, result.metadata
    take = synth_parts(args, result, options, motion)
    code = deliver_take(args, audio, sample_rate, metadata, take.events if take is not None else None)
    if stem_paths:
        write_stems(stem_paths, take, result.sample_rate, args.force)
    return code


def stem_outputs(args: argparse.Namespace, options: ScoreOptions) -> dict[str, Path]:
    """``--stems DIR``: the file of each synth part (DIR/<take>_<part><suffix>), refused before any
    work when stems cannot be made or a file is in the way."""
    if not args.stems:
        return {}
    from motionscore.shared.synth.arrangement import PARTS

    if args.server and args.backbone != "synth":
        raise UserError("--stems with --server: stems are the synth's parts; add --backbone synth")
    if (args.backbone or "synth") != "synth":
        raise UserError(f"--stems: only synth takes have parts; {args.backbone} makes one mixed track")
    if options.beat_lock:
        raise UserError("--stems: a beat-locked take is re-timed as a whole; drop --beat-lock")
    folder, output = Path(args.stems), Path(args.output)
    if not folder.is_dir():
        raise UserError(f"--stems {folder}: no such folder")
    paths = {part: folder / f"{output.stem}_{part}{output.suffix}" for part in PARTS}
    taken = [str(p) for p in paths.values() if p.exists()]
    if taken and not args.force:
        raise UserError(f"--stems: {taken[0]} exists; choose another folder or pass --force to overwrite it")
    return paths


def synth_parts(args: argparse.Namespace, result, options: ScoreOptions, motion):
    """The parts of a synth take (in-process or the server's), for ``--stems`` and ``--midi``'s note
    tracks (None for other takes); :func:`~motionscore.shared.builtin.take_parts` renders them here
    and checks them against the take."""
    from motionscore.shared.builtin import take_parts

    if not (args.stems or args.midi):
        return None
    take = take_parts(result, options, motion, rhythm=getattr(result, "rhythm", None), stems=bool(args.stems))
    record = TakeRecord.from_wire(result.metadata)
    if take is None and args.stems and record.backbone == "synth" and result.audio.ndim == 1:
        raise Failure(f"the synth's parts rendered here differ from the take (a server running another version?); "
                      f"{args.output} was not written, nor were its stems")
    return take


def write_stems(paths: dict[str, Path], take, sample_rate: int, force: bool) -> None:
    """Write each part of ``take`` (they sum to it)."""
    from motionscore.server.generation.audio_io import write_audio

    for part, path in paths.items():
        write_audio(path, take.stems[part], sample_rate, force=force)
    print(f"wrote stems {', '.join(p.name for p in paths.values())}", file=sys.stderr)


def cmd_rhythm(args: argparse.Namespace) -> int:
    from motionscore.shared.take import request_rhythm

    motion = load_motion_file(args.motion)
    check_midi_path(args)
    try:
        options = ScoreOptions(genre=args.genre, rhythm_mode=args.mode, **map_options(args, motion.duration))
        options.check_motion(motion.duration)
    except OptionsError as exc:
        raise UserError(str(exc)) from None
    rhythm = request_rhythm(motion, options)
    tempo_map = rhythm.tempo_map
    write_midi(args, tempo_map.to_dict() if tempo_map is not None else None, motion.duration)
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


def register(sub) -> None:
    """Add this module's commands to the top-level subparsers."""
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
    score.add_argument("--stems", default=None, metavar="DIR",
                       help="synth takes: also write each part (drums, bass, chords) as DIR/<take>_<part>, "
                            "exactly the take's length, summing to it")
    add_map_options(score)
    add_key_options(score)
    add_model_options(score)
    score.set_defaults(func=cmd_score)
    rhythm = sub.add_parser("rhythm", help="show a motion's rhythm (onsets, kinematic beats, tempo map)")
    rhythm.add_argument("motion", help="motion file (.npz)")
    rhythm.add_argument("--mode", choices=RHYTHM_MODES, default="default")
    rhythm.add_argument("--json", action="store_true", help="machine-readable output")
    rhythm.add_argument("--force", action="store_true", help="overwrite the --midi file if it exists")
    rhythm.add_argument("--genre", default=None, help=f"genre for the tempo map's prior and meter (default: the "
                                                      f"motion's genre). Valid: {valid_genres_text()}")
    add_map_options(rhythm)
    rhythm.set_defaults(func=cmd_rhythm)
