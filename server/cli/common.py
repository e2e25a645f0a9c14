"""What the commands share: errors and exit codes, progress, loading inputs, the options
several commands take, and the summary of a take."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path


from motionscore.shared.genres import GENRE_NAMES
from motionscore.shared.motion import MotionError, load_motion
from motionscore.shared.options import OptionsError
from motionscore.shared.take_record import TakeRecord
from motionscore.shared.tempo_map import alternatives_text


#: Exit codes: 0 success; 1 the work failed (server unreachable, server error, cancelled); 2 bad input
#: (unreadable motion or song, invalid option, existing output without --force).
EXIT_FAILED, EXIT_BAD_INPUT = 1, 2


class UserError(Exception):
    """Bad input: printed as one line, exit code 2."""


class Failure(Exception):
    """The work could not be done: printed as one line, exit code 1."""


def load_backbone_from_args(args: argparse.Namespace, name: str):
    """Load a backbone with the model/encoder options; every failure is one line."""
    from motionscore.server.generation.backbones import UnknownBackboneError, load_backbone

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


def add_model_options(parser: argparse.ArgumentParser) -> None:
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


def progress_printer(enabled: bool):
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


def load_motion_file(path: str):
    try:
        return load_motion(path)
    except MotionError as exc:
        raise UserError(str(exc)) from None


def read_hits(args: argparse.Namespace) -> tuple[float, ...]:
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


def map_options(args: argparse.Namespace, duration: float) -> dict:
    """The tempo-map options of score, rhythm and conform (hits, tempo, meter, or a composer's map
    from ``--tempo-map``), validated against a motion of ``duration`` seconds."""
    try:
        settings = {"hits": read_hits(args), "tempo_bpm": args.tempo, "meter": args.meter}
    except OptionsError as exc:
        raise UserError(str(exc)) from None
    if args.tempo_map:
        from motionscore.shared.tempo_midi import MidiMapError, read_tempo_map

        if args.tempo is not None:
            raise UserError("--tempo and --tempo-map both set the tempo; give one")
        try:
            given = read_tempo_map(args.tempo_map, duration, args.meter)
        except MidiMapError as exc:
            raise UserError(f"--tempo-map {exc}") from None
        settings.update(map_beats=tuple(float(b) for b in given.beats),
                        map_downbeats=tuple(int(d) for d in given.downbeats), meter=given.meter,
                        hits=tuple(sorted(set(settings["hits"]) | {float(h) for h in given.hits})))
    return settings


def hit_names(args: argparse.Namespace) -> dict[float, str]:
    """Names of the hits that have one: the words after the time in ``--hits-file`` ("7.77 punch")."""
    names: dict[float, str] = {}
    if getattr(args, "hits_file", None):
        for line in Path(args.hits_file).read_text().splitlines():
            fields = line.split("#", 1)[0].split(None, 1)
            if len(fields) == 2:
                try:
                    names[round(float(fields[0].rstrip(",")), 4)] = fields[1].strip()
                except ValueError:
                    continue
    return names


def take_inputs(args: argparse.Namespace):
    """Refuse a bad ``-o`` or ``--midi`` before any work, then load the motion (score, conform)."""
    from motionscore.server.generation.audio_io import OutputExistsError, check_output_path

    try:
        check_output_path(args.output, args.force)
    except (OutputExistsError, ValueError) as exc:
        raise UserError(str(exc)) from None
    check_midi_path(args)
    return load_motion_file(args.motion)


def check_midi_path(args: argparse.Namespace) -> None:
    """Refuse ``--midi FILE`` before any work: a .mid name, a folder that exists, no file in the way."""
    if not getattr(args, "midi", None):
        return
    path = Path(args.midi)
    if path.suffix.lower() not in (".mid", ".midi"):
        raise UserError(f"--midi {path}: name the file .mid")
    if not path.parent.is_dir():
        raise UserError(f"--midi {path}: {path.parent} is not a folder")
    if path.exists() and not getattr(args, "force", False):
        raise UserError(f"--midi {path} exists; choose another name or pass --force to overwrite it")


def write_midi(args: argparse.Namespace, tempo_map: dict | None, duration: float, parts: dict | None = None) -> None:
    """Write ``--midi`` from a take's tempo map record (metadata ``tempo_map``), if asked, with the
    note tracks of a synth take's ``parts`` (:attr:`SynthTake.events`)."""
    if not getattr(args, "midi", None):
        return
    from motionscore.shared.tempo_midi import MidiMapError, map_from_record, write_tempo_map

    if not tempo_map or len(tempo_map.get("beats_s", [])) < 2:
        raise Failure(f"--midi {args.midi}: the take has no tempo map to write (the motion has no steady pulse)")
    names = hit_names(args)
    tempo = map_from_record(tempo_map, duration)
    try:
        path = write_tempo_map(args.midi, tempo, [names.get(round(float(h), 4), f"hit {i + 1}")
                                                  for i, h in enumerate(tempo.hits)], parts=parts)
    except (MidiMapError, OSError) as exc:
        raise Failure(f"--midi {args.midi}: {exc}") from None
    print(f"wrote {path} (tempo map: {tempo_map.get('summary', '')})", file=sys.stderr)


def add_key_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--server-key", default=None, metavar="FILE",
                        help="the keyed server's public key (server.key; default $MOTIONSCORE_SERVER_KEY)")
    parser.add_argument("--client-key", default=None, metavar="FILE",
                        help="this client's key pair (NAME.key_secret from `motionscore keys add`; "
                             "default $MOTIONSCORE_CLIENT_KEY)")


def add_map_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--hits", default=None, metavar="T1,T2",
                        help="sync points in seconds the music must put a beat on, e.g. 1.25,3.5")
    parser.add_argument("--hits-file", default=None, metavar="FILE",
                        help="more sync points: one time in seconds per line ('#' starts a comment)")
    parser.add_argument("--tempo", type=float, default=None, metavar="BPM",
                        help="impose the tempo instead of estimating it from the motion")
    parser.add_argument("--tempo-map", default=None, metavar="FILE.mid",
                        help="use a composer's tempo map (a MIDI file's tempo track, time signatures and "
                             "markers named hit...) instead of the motion's")
    parser.add_argument("--midi", default=None, metavar="FILE.mid",
                        help="also write the tempo map as a Standard MIDI File (tempo track, bars, hit markers)")
    parser.add_argument("--meter", type=int, default=None, choices=(3, 4),
                        help="beats per bar (default: the genre's, 3 for a waltz; else from the motion, "
                             "3 for a waltz's rise and fall, else 4)")


def fmt(value, pattern: str = "{:.2f}", missing: str = "n/a") -> str:
    return missing if value is None else pattern.format(value)


def print_summary(path: Path, take: TakeRecord) -> None:
    print(f"wrote {path}")
    layout = {1: "mono", 2: "stereo"}.get(take.channels, f"{take.channels} channels")
    print(f"  duration   {take.duration_s:.3f} s ({take.frames} frames at {take.fps:g} fps), "
          f"{take.sample_rate} Hz {layout}")
    made_by = f", replica {take.replica}" if take.replica else ""
    genre = f"{GENRE_NAMES[take.genre]} ({take.genre})" if take.genre in GENRE_NAMES else take.genre
    print(f"  backbone   {take.backbone} ({take.model_id}){made_by}, genre {genre}, seed {take.seed}")
    tempo_map = take.tempo_map
    print(f"  tempo map  {take.map_summary if tempo_map else 'none (the motion has no steady pulse)'}")
    if tempo_map and tempo_map.get("alternatives_bpm"):
        print(f"  also fits  {alternatives_text(tempo_map['alternatives_bpm'])} (--tempo BPM to use one)")
    m = take.metrics
    motion_tempo = fmt(m.motion_tempo_bpm, '{:.1f} BPM') if m else "n/a"
    print(f"  motion     {len(take.kinematic_beats_s)} kinematic beats, map tempo {motion_tempo}")
    if m is None:
        print("  music      beats not measured")
    else:
        print(f"  music      {m.music_beats} beats, tempo {fmt(m.music_tempo_bpm, '{:.1f} BPM')}")
        print(f"  alignment  {fmt(m.alignment, '{:.3f}')} (1 = every beat of the map has a music beat on it); "
              f"beat F1 {m.f1:.3f} at {m.tolerance_s:g} s")
    for note in take.notes:
        print(f"  note       {note}")


def on_server(args: argparse.Namespace, call):
    """``call(client)`` on the server of ``--server`` (with the key options); its errors as one line:
    what the server refused is the user's input (exit 2), anything else a failure (exit 1)."""
    from motionscore.shared.client import ScoreClient, ServerError

    try:
        with ScoreClient(args.server, timeout=args.timeout, server_key=args.server_key,
                         client_key=args.client_key) as client:
            return call(client)
    except ServerError as exc:
        if exc.code == "bad_key":  # a key file of ours, or a handshake that cannot work
            raise UserError(exc.message) from None
        if exc.code in REFUSALS:
            raise UserError(f"the server refused the request: {exc.message}") from None
        raise Failure(f"server: {exc.message}") from None


#: Server error codes that mean the request itself was wrong.
REFUSALS = ("bad_motion", "bad_options", "wrong_backbone", "bad_song")


def deliver_take(args: argparse.Namespace, audio, sample_rate: int, metadata: dict, parts: dict | None = None) -> int:
    """Write a take to ``args.output`` (never over a file that appeared meanwhile), draw ``--plot``,
    write ``--midi`` (with ``parts``' note tracks), print ``--json`` or the summary."""
    from motionscore.server.generation.audio_io import OutputExistsError, mono_mix, write_audio

    try:
        path = write_audio(args.output, audio, sample_rate, force=args.force)
    except OutputExistsError as exc:
        raise Failure(str(exc)) from None
    take = TakeRecord.from_wire(metadata)
    if args.plot:
        from motionscore.server.evaluation.plots import beat_timeline

        m = take.metrics
        tempo_map = take.tempo_map or {}
        bars = [tempo_map["beats_s"][i] for i in tempo_map.get("downbeats", [])]
        beat_timeline(args.plot, mono_mix(audio), sample_rate, m.music_beats_s, take.beats_s,
                      title=f"{path.name}: {tempo_map.get('summary', 'no tempo map')}",
                      metrics={"F1": m.f1, "alignment": m.alignment}, tolerance=m.tolerance_s,
                      bars=bars, hits=tempo_map.get("hits_s", []), accents=tempo_map.get("accents_s", []),
                      reference_label="tempo map beats")
    write_midi(args, take.tempo_map, float(take.duration_s), parts)
    if args.json:
        print(json.dumps({"output": str(path), **metadata}, indent=2))
    else:
        print_summary(path, take)
    return 0
