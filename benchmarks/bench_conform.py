"""Conforming real recordings onto tempo maps: are the song's beats on the map's beats?

Every song in ../shared/data/real with beats found by someone else is conformed, as
``motionscore conform`` does it, onto

- steady tempo maps at 0.85, 0.9, 1.0, 1.1 and 1.15 times the song's tempo (in the song's meter),
  one with a tempo change (x0.9 then x1.1 after 8 bars) and one with three hits off the grid;
- the tempo maps of the real motions (aistpp2d/, paired/) and of synthetic dancers at 90, 110 and
  130 BPM, whatever ratio they need (``--force``, ``--loop``).

The judge is independent of our beat tracker: the song's own reference beats (people's for
``beats/``, madmom's RNN + DBN for ``paired/``) are carried through the conform's time map and
matched with the map's beats (F1 at 70 ms, the fade-out excluded). ``--judge TRACKER=PYTHON``
(repeatable; TRACKER is ``essentia`` or ``madmom``, neither a dependency: bench_independent_tracker.py
says how to make their venvs) also tracks the conformed audio with that tracker, run by PYTHON as
``bench_independent_tracker.py --beats-json``, and the untouched song too, delayed by 0 to 100 ms of
silence: its F1 there against the reference beats says how far that judge agrees with the
references before anything is conformed, and whether a shift alone changes its mind. Also
printed: hits with a carried beat within 70 ms, exact length, the correlation of the mean chroma
of take and song section (pitch kept), and the seconds it took against the take's length.

    .venv/bin/python benchmarks/bench_conform.py [--data ../shared/data/real] [--json OUT] \
        [--judge madmom=/tmp/mm/bin/python] [--judge essentia=/tmp/ess/bin/python] [--no-motions]
    .venv/bin/python benchmarks/bench_conform.py --song-beats    # the song tracker alone, 2 minutes
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")

import numpy as np  # noqa: E402

from motionscore.server.analysis.metrics import beat_scores  # noqa: E402
from motionscore.server.conform.conform import conform_audio  # noqa: E402
from motionscore.server.conform.song import read_song  # noqa: E402
from motionscore.server.conform.song_beats import track_song  # noqa: E402
from motionscore.server.conform.stretch import FADE_OUT_S  # noqa: E402
from motionscore.server.data.real_clips import load_real_clips, read_beats  # noqa: E402
from motionscore.shared.rhythm import extract_rhythm  # noqa: E402
from motionscore.shared.synthetic_dance import beat_times, synthetic_dance  # noqa: E402
from motionscore.shared.tempo_map import TempoMap, TempoSegment  # noqa: E402

SAMPLE_RATE = 44_100
TOLERANCE = 0.07
RATIOS = (0.85, 0.9, 1.0, 1.1, 1.15)


def songs(root: Path) -> list[tuple[str, Path, np.ndarray, int]]:
    """(name, audio file, reference beats in song seconds, meter) of every song with beats."""
    found = []
    for wav in sorted((root / "beats").glob("*.wav")):
        found.append((wav.stem, wav, read_beats(wav.with_suffix(".beats")), 3 if "Waltz" in wav.stem else 4))
    for mp3 in sorted((root / "paired").glob("*.mp3")):
        offset = float(np.load(mp3.with_suffix(".npz"))["music_offset_s"])
        found.append((mp3.stem, mp3, read_beats(mp3.with_suffix(".beats")) + offset, 3 if "_W_" in mp3.stem else 4))
    return found


def steady_map(bpm: float, meter: int, duration: float, change_at_bar: int | None = None, second_bpm: float = 0.0,
               hits=()) -> TempoMap:
    """A steady map (first beat at half a beat), optionally changing tempo at a bar."""
    period = 60.0 / bpm
    beats, t, segments, start = [], period / 2, [], 0.0
    while t < duration:
        if change_at_bar is not None and len(beats) == change_at_bar * meter:
            segments.append(TempoSegment(start, t, bpm))
            start, period, bpm = t, 60.0 / second_bpm, second_bpm
        beats.append(t)
        t += period
    segments.append(TempoSegment(start, duration, bpm))
    beats = np.asarray(beats)
    return TempoMap(beats, np.arange(0, beats.size, meter), meter, tuple(segments), np.asarray(hits, float), duration)


def chroma_correlation(take: np.ndarray, song: np.ndarray, sample_rate: int) -> float:
    import librosa

    a = librosa.feature.chroma_stft(y=take, sr=sample_rate).mean(axis=1)
    b = librosa.feature.chroma_stft(y=song, sr=sample_rate).mean(axis=1)
    return float(np.corrcoef(a, b)[0, 1])


#: Silence put before the untouched song to see whether a judge's verdict survives a shift alone.
JUDGE_SHIFTS_S = (0.0, 0.025, 0.05, 0.075, 0.1)
JUDGES = ("essentia", "madmom")


class Judges:
    """Independent beat trackers, each run by its own Python on a folder of WAVs (mono float32).

    ``add`` queues audio under a name; ``track`` runs every judge once on the queue (one process
    each, so a tracker's models load once per batch) and returns {judge: {name: beats (s)}}.
    """

    def __init__(self, pythons: dict[str, str]):
        self.pythons = pythons
        self.folder = Path(tempfile.mkdtemp(prefix="bench_conform_"))
        self.queued: list[Path] = []

    def add(self, name: str, audio: np.ndarray) -> None:
        import soundfile

        path = self.folder / f"{name}.wav"
        soundfile.write(path, audio, SAMPLE_RATE, subtype="FLOAT")
        self.queued.append(path)

    def track(self) -> dict[str, dict[str, np.ndarray]]:
        found = {}
        script = Path(__file__).with_name("bench_independent_tracker.py")
        for judge, python in self.pythons.items():
            out = self.folder / f"{judge}.json"
            try:
                done = subprocess.run([python, str(script), "--tracker", judge, "--beats-json", str(out),
                                       str(self.folder)], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
            except OSError as error:  # no such Python
                raise SystemExit(f"bench_conform: --judge {judge}={python}: cannot run it ({error.strerror})")
            if done.returncode != 0:  # its own one line, e.g. the tracker is not installed there
                said = done.stderr.strip().splitlines()
                raise SystemExit(f"bench_conform: --judge {judge}={python}: {said[-1] if said else 'failed'}")
            found[judge] = {name: np.asarray(beats) for name, beats in json.loads(out.read_text()).items()}
            out.unlink()
        for path in self.queued:
            path.unlink()
        self.queued = []
        return found

    def close(self) -> None:
        shutil.rmtree(self.folder, ignore_errors=True)


def judge(song, reference: np.ndarray, tempo_map: TempoMap, **conform) -> tuple[dict, np.ndarray, np.ndarray, float]:
    """Conform ``song`` onto ``tempo_map`` and score it by the carried reference beats.

    Returns (row, the take (n,) mono, the map's beats judged (s), half the reference's beat (s)).
    """
    started = time.perf_counter()
    result = conform_audio(song.audio, SAMPLE_RATE, tempo_map, name=song.name, **conform)
    seconds = time.perf_counter() - started
    plan = result.plan
    end = tempo_map.duration - FADE_OUT_S
    carried = plan.to_output(reference)
    carried = carried[(carried >= 0.0) & (carried < end)]
    # Judged where the reference has beats: the map's beats whose song time lies inside its span.
    under = np.array([next(s.in_start for s in plan.segments if abs(s.out_start - b) < 1e-9) for b in plan.beats])
    half = 0.5 * float(np.median(np.diff(reference)))
    targets = plan.beats[(plan.beats < end) & (under >= reference[0] - half) & (under <= reference[-1] + half)]
    row = {"ratio": round(plan.ratio, 3), "octave": plan.octave, "max_warp": round(plan.max_warp, 3),
           "f1": round(beat_scores(carried, targets, TOLERANCE).f1, 3),
           "exact_length": result.audio.shape[1] == int(round(tempo_map.duration * SAMPLE_RATE)),
           "seconds": round(seconds, 2), "duration": round(tempo_map.duration, 2)}
    # Hits are judged where the reference has beats (a section can start before them: the paired
    # songs' references begin where the dance does).
    judged_hits = [h for h in tempo_map.hits if targets.size and targets[0] - half <= h <= targets[-1] + half]
    if tempo_map.hits.size:
        row["hits_on_beat"] = int(sum(np.min(np.abs(carried - h)) <= TOLERANCE for h in judged_hits))
        row["hits"] = len(judged_hits)
    lo, hi = int(plan.section_start_s * SAMPLE_RATE), int(plan.section_end_s * SAMPLE_RATE)
    take = result.audio.mean(axis=0)
    row["chroma"] = round(chroma_correlation(take, song.mix()[max(lo, 0):hi], SAMPLE_RATE), 3)
    return row, take, targets, half


def tracked_f1(tracked: np.ndarray, targets: np.ndarray, half: float) -> float:
    """F1 at 70 ms of a judge's beats against ``targets``, only where targets are (half a beat either side)."""
    lo, hi = (targets[0], targets[-1]) if targets.size else (0.0, 0.0)
    return round(beat_scores(tracked[(tracked >= lo - half) & (tracked <= hi + half)], targets, TOLERANCE).f1, 3)


def motions(root: Path) -> list[tuple[str, TempoMap]]:
    maps = [(clip.name, extract_rhythm(clip.motion).tempo_map) for clip in load_real_clips(root, views=(0,))
            if clip.kind in ("aistpp2d", "paired")]
    for bpm in (90, 110, 130):
        dance = synthetic_dance(beat_times(30.0, bpm), 30.0, fps=30.0, genre="HO", seed=bpm)
        maps.append((f"synthetic_{bpm}", extract_rhythm(dance).tempo_map))
    return maps


#: The map tempi (times the song's) at which ``--song-beats`` tracks each song.
SONG_BEAT_PRIORS = (0.87, 1.0, 1.15)


def song_beats_report(song_list) -> int:
    """F1 at 70 ms of the song tracker's own beats against each song's reference beats (within
    their span), tracked for maps at SONG_BEAT_PRIORS of the song's tempo: the tracker alone,
    before any conform."""
    means = []
    for name, path, reference, meter in song_list:
        mix = read_song(path, SAMPLE_RATE).mix()
        tempo = 60.0 / float(np.median(np.diff(reference)))
        half = 0.5 * float(np.median(np.diff(reference)))
        scores = [tracked_f1(track_song(mix, SAMPLE_RATE, meter, tempo / ratio, name).beats, reference, half)
                  for ratio in SONG_BEAT_PRIORS]
        means.append(float(np.mean(scores)))
        print(f"{name:22s} song beats against its references: " + " ".join(f"{f:.3f}" for f in scores)
              + f", mean {means[-1]:.3f}", flush=True)
    print(f"\nsong beats against the references, all songs: mean F1@70 {np.mean(means):.3f}")
    return 0


def judge_pythons(specs: list[str]) -> dict[str, str]:
    """{tracker: python} from ``--judge TRACKER[=PYTHON]`` arguments (PYTHON defaults to this one)."""
    pythons = {}
    for spec in specs:
        tracker, _, python = spec.partition("=")
        if tracker not in JUDGES:
            raise SystemExit(f"bench_conform: --judge {spec}: the tracker is one of {', '.join(JUDGES)}")
        pythons[tracker] = python or sys.executable
    return pythons


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", default=str(Path(__file__).resolve().parents[2] / "shared" / "data" / "real"))
    parser.add_argument("--json", help="write every row here")
    parser.add_argument("--judge", action="append", default=[], metavar="TRACKER[=PYTHON]",
                        help="also track the takes with essentia or madmom, run by PYTHON (repeatable)")
    parser.add_argument("--no-motions", action="store_true", help="skip the conforms onto the motions' maps")
    parser.add_argument("--song-beats", action="store_true",
                        help="only score the song tracker's own beats against the songs' references")
    args = parser.parse_args(argv)
    root = Path(args.data)
    if not (root / "beats").is_dir():
        print(f"bench_conform: no real data at {root}", file=sys.stderr)
        return 2
    if args.song_beats:
        return song_beats_report(songs(root))
    judges = Judges(judge_pythons(args.judge))
    try:
        return report(args, root, judges)
    finally:
        judges.close()


def report(args, root: Path, judges: Judges) -> int:  # noqa: C901 - a report, read top to bottom
    names = list(judges.pythons)
    rows, worst, untouched = [], {}, {}
    print(f"{'song':22s} {'map':18s} {'ratio':>6s} {'oct':>4s} {'warp':>5s} {'F1@70':>6s} {'chroma':>6s} "
          f"{'hits':>5s} {'s/len':>10s}" + "".join(f" {n:>8s}" for n in names))

    def show(song_name, map_name, row):
        hits = f"{row['hits_on_beat']}/{row['hits']}" if "hits" in row else "-"
        print(f"{song_name:22s} {map_name:18s} {row['ratio']:6.3f} {row['octave']:4g} {row['max_warp']:5.2f} "
              f"{row['f1']:6.3f} {row['chroma']:6.3f} {hits:>5s} {row['seconds']:5.1f}/{row['duration']:<4.0f}"
              + "".join(f" {row[n + '_f1']:8.3f}" for n in names)
              + ("" if row["exact_length"] else "  LENGTH WRONG"), flush=True)
        rows.append({"song": song_name, "map": map_name, **row})

    def judged(batch):
        """Score a batch of (song, map name, (row, take, targets, half)) by every judge, then show it."""
        for k, (_, _, (_, take, _, _)) in enumerate(batch):
            judges.add(f"take{k}", take)
        tracked = judges.track() if names else {}
        for k, (song_name, map_name, (row, _, targets, half)) in enumerate(batch):
            for n in names:
                row[n + "_f1"] = tracked_f1(tracked[n][f"take{k}"], targets, half)
            show(song_name, map_name, row)

    song_list = songs(root)
    for name, path, reference, meter in song_list:
        song = read_song(path, SAMPLE_RATE)
        tempo = 60.0 / float(np.median(np.diff(reference)))
        duration = min(30.0, 0.8 * (song.duration - reference[0]) / max(RATIOS))
        batch = [(name, f"x{ratio:g}", judge(song, reference, steady_map(tempo / ratio, meter, duration)))
                 for ratio in RATIOS]
        batch.append((name, "x0.9 -> x1.1", judge(song, reference, steady_map(tempo / 0.9, meter, duration,
                                                                               8 // meter * 2, tempo / 1.1))))
        hits = (duration * 0.3 + 0.17, duration * 0.5 - 0.21, duration * 0.7 + 0.09)
        batch.append((name, "x1 + 3 hits", judge(song, reference, steady_map(tempo, meter, duration, hits=hits))))
        judged(batch)
        if names:
            # Each judge's own view of the untouched song, delayed by a little silence: where it
            # already disagrees with the reference beats (which half of a syncopated beat is the
            # beat), or changes its mind under a shift, it cannot tell a conform that landed from
            # one that did not.
            for k, shift in enumerate(JUDGE_SHIFTS_S):
                judges.add(f"untouched{k}", np.concatenate([np.zeros(int(round(shift * SAMPLE_RATE)), np.float32),
                                                            song.mix()]))
            tracked = judges.track()
            half = 0.5 * float(np.median(np.diff(reference)))
            untouched[name] = {n: [tracked_f1(tracked[n][f"untouched{k}"] - shift, reference, half)
                                   for k, shift in enumerate(JUDGE_SHIFTS_S)] for n in names}
        worst[name] = min(r["f1"] for r in rows if r["song"] == name and r["map"].startswith("x"))
    steady = [r for r in rows if r["map"].startswith("x")]
    for name in worst:
        mine = [r for r in steady if r["song"] == name]
        print(f"{name:22s} steady and changing maps: mean F1@70 {np.mean([r['f1'] for r in mine]):.3f}"
              + "".join(f", {n} {np.mean([r[n + '_f1'] for r in mine]):.3f} (on the untouched song against its "
                        f"reference beats, shifted by 0-100 ms: {min(untouched[name][n]):.3f}-"
                        f"{max(untouched[name][n]):.3f})" for n in names))
    print(f"\nsteady and changing maps at x0.85-x1.15: mean F1@70 {np.mean([r['f1'] for r in steady]):.3f}, worst "
          f"song {min(np.mean([r['f1'] for r in steady if r['song'] == s]) for s in worst):.3f}, "
          f"worst map {min(worst.values()):.3f}, chroma >= {min(r['chroma'] for r in steady):.3f}, "
          f"hits {sum(r.get('hits_on_beat', 0) for r in rows)}/{sum(r.get('hits', 0) for r in rows)}, "
          f"lengths exact {sum(r['exact_length'] for r in rows)}/{len(rows)}"
          + "".join(f"; {n} mean F1@70 {np.mean([r[n + '_f1'] for r in steady]):.3f}, worst song "
                    f"{min(np.mean([r[n + '_f1'] for r in steady if r['song'] == s]) for s in worst):.3f}"
                    for n in names))
    motion_rows = []
    for map_name, tempo_map in ([] if args.no_motions else motions(root)):
        batch = [(name, map_name[:18], judge(read_song(path, SAMPLE_RATE), reference, tempo_map, force=True, loop=True))
                 for name, path, reference, meter in song_list]
        judged(batch)
        motion_rows.extend(rows[-len(batch):])
    near = [r for r in motion_rows if 0.85 <= r["ratio"] <= 1.15 and r["octave"] == 1.0]
    if motion_rows:
        print(f"\nmotion maps: {len(motion_rows)} conforms, mean F1@70 {np.mean([r['f1'] for r in motion_rows]):.3f}"
              + "".join(f" ({n} {np.mean([r[n + '_f1'] for r in motion_rows]):.3f})" for n in names)
              + f"; the {len(near)} at x0.85-x1.15: {np.mean([r['f1'] for r in near]):.3f} (worst "
              f"{min(r['f1'] for r in near):.3f})"
              + "".join(f" ({n} {np.mean([r[n + '_f1'] for r in near]):.3f})" for n in names)
              + f"; seconds per second of take {max(r['seconds'] / r['duration'] for r in rows):.3f} at most")
    if args.json:
        Path(args.json).write_text(json.dumps(rows, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
