"""Turn the "Dance with Melody" ballroom captures into more real clips for ``bench_realtempo.py``.

``../shared/data/real/paired/`` holds 5 ballroom dances of that set (Tang, Jia, Mao, ACM MM 2018;
github.com/mhy12345/Music-to-Dance-Motion-Synthesis: research use only, no licence, commercial
songs; never commit its files here). The public repository has 61 dances; 43 of them have both
their capture and their song (the others' files are missing or Git LFS pointers). This writes them in the same layout as ``paired/``, so that the tempo map can be
measured on ballroom dances it was never tuned on:

- ``OUT/paired/NAME.npz``: the motion (17 COCO-named joints, the front orthographic view of the
  capture: x = 960 + 2.5 X, y = 740 - 2.5 Y pixels of a 1920x1080 frame, 25 fps,
  ``music_offset_s`` = where the dance starts in the song), exactly as ``paired/`` was made (the
  5 shared dances come out identical);
- ``OUT/paired/NAME.joints3d.npy``: the capture, (T, 23, 3) cm;
- ``OUT/paired/NAME.beats``: the song's beats from the dance's first frame to its last, by
  madmom's RNN + DBN tracker, as for ``paired/*.beats`` (on the 5 shared songs: F1 1.00 at 70 ms
  against the shared files on four, 0.996 on the rumba, which gets one more beat at its end).

Existing files are left alone (a second run only adds what is missing). Run it with the madmom
venv of ``bench_independent_tracker.py`` (madmom is not a motionscore dependency):

    git clone https://github.com/mhy12345/Music-to-Dance-Motion-Synthesis /tmp/dwm-src
    /tmp/mm/bin/python benchmarks/import_dance_with_melody.py /tmp/dwm-src /tmp/dwm
    .venv/bin/python benchmarks/bench_realtempo.py --data /tmp/dwm

It also counts each capture's gap fills (runs of at least 3 frames where every joint moves on a
straight line at constant speed, which no dancer does): every one of the 43 captures has them,
about one every 2 s (every 51 frames in most waltzes), and such a regular comb of kinks is a
periodic cue of its own (see the README's limitations).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_independent_tracker import madmom_beats  # noqa: E402

from motionscore.shared.motion import COCO17, Motion, save_motion  # noqa: E402

FPS = 25.0
#: The capture's joints for the 17 COCO names (0 head, 1 neck; arms 3-5 and 12-14 shoulder to
#: hand; legs 7-9 and 16-18 hip to ankle), as in ``paired/`` (its README).
COCO_FROM_CAPTURE = (0, 0, 0, 1, 1, 3, 12, 4, 13, 5, 14, 7, 16, 8, 17, 9, 18)
#: Second differences below this (cm) in every joint and axis: a straight, constant-speed frame.
STRAIGHT_CM = 1e-3


def gap_fills(joints: np.ndarray, least: int = 3) -> list[int]:
    """First frames of the runs of at least ``least`` frames where every joint of ``joints``
    (T, J, 3) cm moves on a straight line at constant speed."""
    straight = np.abs(np.diff(joints.astype(np.float64), 2, axis=0)).max(axis=(1, 2)) < STRAIGHT_CM
    starts, i = [], 0
    while i < straight.size:
        k = i
        while k < straight.size and straight[k]:
            k += 1
        if k - i >= least:
            starts.append(i + 1)
        i = max(k, i + 1)
    return starts


def convert(folder: Path, out: Path, track=madmom_beats) -> str:
    """Write one dance (``folder`` holds config.json, skeletons.json, audio.mp3) into ``out``; a
    line to print. ``track(path)`` gives the beat times (s) of a song file."""
    name = folder.name
    skeletons, song, config = folder / "skeletons.json", folder / "audio.mp3", folder / "config.json"
    # A Git LFS pointer (a clone without LFS) is a file of about 130 bytes.
    missing = [p.name for p in (skeletons, song) if not p.is_file() or p.stat().st_size < 200]
    missing += [] if config.is_file() else [config.name]
    if missing:
        return f"{name}: skipped, no {' or '.join(missing)} (a Git LFS pointer or a missing file)"
    targets = [out / f"{name}{suffix}" for suffix in (".npz", ".joints3d.npy", ".beats")]
    if all(t.exists() for t in targets):
        return f"{name}: already there"
    try:
        data = json.loads(skeletons.read_text())
        joints = np.asarray(data["skeletons"], dtype=np.float32) + np.asarray(data["center"], dtype=np.float32)[:, None]
        offset = float(json.loads(config.read_text())["start_position"]) / FPS
    except (ValueError, KeyError, TypeError, IndexError) as error:
        return f"{name}: skipped, unreadable skeletons.json or config.json ({type(error).__name__}: {error})"
    if joints.ndim != 3 or joints.shape[1:] != (23, 3) or joints.shape[0] < 2:
        return f"{name}: skipped, skeletons.json holds {joints.shape} positions, not (T, 23, 3)"
    duration = joints.shape[0] / FPS
    picked = joints[:, list(COCO_FROM_CAPTURE)]  # float32 arithmetic, as paired/ was made
    keypoints = np.stack([960.0 + 2.5 * picked[..., 0], 740.0 - 2.5 * picked[..., 1]], axis=-1).astype(np.float32)
    if not targets[1].exists():
        np.save(targets[1], joints)
    if not targets[0].exists():
        save_motion(Motion(keypoints=keypoints, fps=FPS, joint_names=COCO17, frame_size=(1920, 1080),
                           extras={"music_offset_s": offset}), targets[0])
    if not targets[2].exists():
        beats = np.asarray(track(song), dtype=np.float64) - offset
        beats = beats[(beats >= 0.0) & (beats < duration)]
        targets[2].write_text("".join(f"{t:.3f}\n" for t in beats))
    beats = np.loadtxt(targets[2], ndmin=1)
    fills = gap_fills(joints)
    spacing = f", every {np.median(np.diff(fills)):.0f} frames" if len(fills) > 2 else ""
    tempo = 60.0 / np.median(np.diff(beats)) if beats.size > 1 else float("nan")
    return (f"{name}: {duration:.1f} s from {offset:.2f} s into the song, {beats.size} beats ({tempo:.1f} BPM), "
            f"{len(fills)} gap fills{spacing}")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("source", type=Path, help="a checkout of mhy12345/Music-to-Dance-Motion-Synthesis")
    parser.add_argument("out", type=Path, help="folder to write OUT/paired/ into (for bench_realtempo --data)")
    parser.add_argument("--names", default="", help="comma-separated dances (default: every DANCE_* folder)")
    args = parser.parse_args(argv)
    folders = sorted(p for p in args.source.glob("DANCE_*") if p.is_dir())
    if args.names:
        wanted = set(args.names.split(","))
        unknown = sorted(wanted - {p.name for p in folders})
        if unknown:
            print(f"import_dance_with_melody: no folder {', '.join(unknown)} in {args.source}", file=sys.stderr)
            return 2
        folders = [p for p in folders if p.name in wanted]
    if not folders:
        print(f"import_dance_with_melody: no DANCE_* folders in {args.source}", file=sys.stderr)
        return 2
    out = args.out / "paired"
    out.mkdir(parents=True, exist_ok=True)
    for i, folder in enumerate(folders, 1):
        print(f"[{i}/{len(folders)}] {convert(folder, out)}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
