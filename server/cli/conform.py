"""`conform`: fit a song (the user's own track) onto a motion's tempo map."""

from __future__ import annotations

import argparse
import sys

from motionscore.shared.client import DEFAULT_ADDRESS, default_address
from motionscore.shared.genres import valid_genres_text
from motionscore.shared.options import ConformOptions, OptionsError, ScoreOptions

from .common import (
    UserError, add_key_options, add_map_options, deliver_take, map_options, on_server, progress_printer,
    take_inputs,
)


def cmd_conform(args: argparse.Namespace) -> int:
    from motionscore.server.conform.song import SongError, read_song
    from motionscore.server.conform.timemap import ConformError
    motion = take_inputs(args)
    try:
        options = ScoreOptions(genre=args.genre, sample_rate=args.sample_rate, channels=args.channels,
                               **map_options(args, motion.duration))
        options.check_motion(motion.duration)
        conform = ConformOptions(start_s=args.start, loop=args.loop, force=args.force)
    except OptionsError as exc:
        raise UserError(str(exc)) from None
    show = progress_printer(not args.quiet and sys.stderr.isatty())
    if args.server:
        from motionscore.server.conform.song import MAX_SONG_BYTES
        from pathlib import Path

        path = Path(args.song)
        if not path.is_file():
            raise UserError(f"{path}: no such file")
        if path.stat().st_size > MAX_SONG_BYTES:
            raise UserError(f"{path.name}: {path.stat().st_size / 2**20:.0f} MB is over the "
                            f"{MAX_SONG_BYTES // 2**20} MB limit for a song; cut the part you need first")
        data = path.read_bytes()
        result = on_server(args, lambda client: client.conform(motion, options, data, path.name, conform,
                                                               on_progress=show))
        return deliver_take(args, result.audio, result.sample_rate, result.metadata)
    from motionscore.server.generation.song_fit import fit_song

    try:
        song = read_song(args.song, options.sample_rate)
        result = fit_song(motion, options, song, conform, show)
    except (SongError, ConformError) as exc:
        raise UserError(str(exc)) from None
    return deliver_take(args, result.audio, result.sample_rate, result.metadata)


def register(sub) -> None:
    """Add `conform` to the top-level subparsers."""
    conform = sub.add_parser(
        "conform", help="fit a song onto a motion's tempo map",
        description="Stretch a song (wav, flac, ogg or mp3) so that its beats land on the motion's tempo map, "
                    "pitch kept, starting on one of its bars; write it like a take. Runs in-process unless "
                    "--server is given.")
    conform.add_argument("motion", help="motion file (.npz)")
    conform.add_argument("song", help="the song: .wav, .flac, .ogg or .mp3 (at most 20 minutes, 32 MB)")
    conform.add_argument("-o", "--output", required=True, help="audio file to write (.wav, .flac or .ogg)")
    conform.add_argument("--start", type=float, default=None, metavar="SECONDS",
                         help="start the song at its bar nearest this time (default: its first bar)")
    conform.add_argument("--loop", action="store_true",
                         help="repeat the song by whole bars when it is shorter than the shot")
    conform.add_argument("--force", action="store_true",
                         help="overwrite the output file if it exists, and stretch beyond x0.75-x1.33 if needed")
    conform.add_argument("--genre", default=None, help=f"genre for the tempo map's prior and meter (default: the "
                                                       f"motion's genre). Valid: {valid_genres_text()}")
    conform.add_argument("--sample-rate", type=int, default=48_000, help="output sample rate in Hz (default 48000)")
    conform.add_argument("--channels", default=None, choices=["mono", "stereo"],
                         help="output channels (default: the song's)")
    conform.add_argument("--server", default=None, nargs="?", const=default_address(),
                         help=f"conform on a running server (default address: $MOTIONSCORE_SERVER or "
                              f"{DEFAULT_ADDRESS})")
    conform.add_argument("--timeout", type=float, default=10.0, help="seconds without any answer before giving up")
    conform.add_argument("--json", action="store_true", help="print the take's metadata as JSON")
    conform.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    conform.add_argument("--plot", default=None, metavar="PNG", help="also draw the take's beat timeline")
    add_map_options(conform)
    add_key_options(conform)
    conform.set_defaults(func=cmd_conform)
