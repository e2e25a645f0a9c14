"""Music for real dances: steady tempo at the song's tempo, on the song's beats.

Every clip in ../shared/data/real (aistpp2d, the aistpp-official views, paired ballroom dances) was
danced to steady-tempo music. For each clip this scores the motion with the `synth` backbone (the
product's default) through the same pipeline as `motionscore score`, tracks the beats of the audio
it wrote with librosa (independent of how the music was made), and prints:

- tempo found in the music vs the true tempo, and whether it is within 5 % (x2, x1/2 forgiven);
- the coefficient of variation of the music's beat intervals (a steady song: 0.01-0.03);
- AIST++: share of the music's beats within 0.1 s of the dance's steady grid (true tempo, best phase);
- paired: beat F1 at 0.2 s and 70 ms against the song's own beats (``paired/*.beats``);
- the map's meter (beats per bar) against the music's (3 for the waltzes, 4 for the rest);
- how often the true tempo is the map's or one of its alternative tempi (what the user is offered);

then the means, and the same figures for the tempo map itself (before any audio).

    .venv/bin/python benchmarks/bench_realtempo.py [--data ../shared/data/real] [--views 0,4,8] [--json OUT]
        [--write-audio DIR] [--excerpts 6,10] [--frame-rates 24,25,30] [--no-genre] [--ceiling]

Each clip is scored with its genre, as a user who names the dance would: the AIST++ clips carry
theirs, the ballroom clips their dance from the name (``DANCE_W_*`` Waltz, ``C`` Cha-cha, ``R``
Rumba, ``T`` Tango), which sets the tempo map's prior, the waltzes' 3/4 and the synth's style.
``--no-genre`` scores every clip as a user who names none.

``--ceiling`` also prints, per ballroom clip, the best F1 a steady grid reaches against the song's
beats when its phase is picked by looking at the song: at the map's tempo (how much is tempo, how
much phase), and for the waltzes with a 3D capture (``paired/NAME.joints3d.npy``) at the tempo of
the capture's own rise and fall (what any steady music that follows this motion can reach). The
other way round, it prints the F1 of the map made at the song's exact tempo (``--tempo``), its
phase found from the motion as always: what a perfect tempo estimate alone would give.

``--excerpts 6,10`` also scores the tempo map alone on consecutive excerpts of each clip of
those lengths (seconds): real shots are often short, and the map has less to go on.

``--frame-rates 24,25,30`` also scores the tempo map alone on every clip as a capture at those
frame rates would have recorded it (``real_clips.at_frame_rate``): Blender scenes run at 24, 25
or 30 fps, the AIST++ keypoints at 30 and 60, the ballroom capture at 25.

``--data DIR`` scores any folder in that layout, e.g. the 43 ballroom captures of the public
"Dance with Melody" set that ``import_dance_with_melody.py`` writes (38 of them not in
``paired/``).

``--write-audio DIR`` also writes each take as ``DIR/NAME.wav`` with the reference beats
(``NAME.beats``, ballroom) or the true tempo (``NAME.bpm``), so that any other beat tracker can
score the same music.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from dataclasses import replace
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")

import numpy as np  # noqa: E402

from motionscore.server.analysis.metrics import (beat_scores, grid_share, interval_cv, tempo_right,  # noqa: E402
                                                   track_music_beats)
from motionscore.server.data.real_clips import at_frame_rate, load_real_clips, without_genre  # noqa: E402
from motionscore.server.generation.backbones import load_backbone  # noqa: E402
from motionscore.server.generation.pipeline import score_motion  # noqa: E402
from motionscore.shared.genres import tempo_note  # noqa: E402
from motionscore.shared.options import ScoreOptions  # noqa: E402
from motionscore.shared.rhythm import extract_rhythm  # noqa: E402

REPO = Path(__file__).resolve().parents[1]


def measure(beats: np.ndarray, tempo: float | None, clip, meter: int | None = None, alternatives=None) -> dict:
    row = {"tempo": None if tempo is None else round(float(tempo), 2), "tempo_ok": tempo_right(tempo, clip.true_bpm),
           "cv": interval_cv(beats)}
    if alternatives is not None:  # the map's: is the song's tempo its tempo or one of its alternatives?
        row["alternatives"] = [float(b) for b in alternatives]
        row["tempo_or_alternative_ok"] = row["tempo_ok"] or any(tempo_right(b, clip.true_bpm) for b in alternatives)
    if meter is not None:
        row["meter"], row["meter_ok"] = int(meter), int(meter) == clip.true_meter
    if clip.reference_beats is not None:
        reference = clip.reference_beats[clip.reference_beats < clip.motion.duration]
        row["f1_200ms"] = beat_scores(beats, reference, 0.2).f1
        row["f1_70ms"] = beat_scores(beats, reference, 0.07).f1
    else:
        row["grid_share"] = grid_share(beats, clip.true_bpm)
    return row


def shown(value, spec: str = "{:.0%}") -> str:
    """A figure for the summary lines, "-" where the data has no clip to measure it on."""
    return "-" if value is None else spec.format(value)


def means(rows: list[dict]) -> dict:
    if not rows:
        return {"clips": 0}
    out = {"clips": len(rows), "tempo_ok": float(np.mean([r["tempo_ok"] for r in rows]))}
    cvs = [r["cv"] for r in rows if r["cv"] is not None]
    out["median_cv"] = float(np.median(cvs)) if cvs else None
    for key in ("grid_share", "f1_200ms", "f1_70ms", "meter_ok", "tempo_or_alternative_ok"):
        values = [r[key] for r in rows if key in r]
        if values:
            out[key] = float(np.mean(values))
    return out


def write_take(folder: Path, clip, audio: np.ndarray, sample_rate: int) -> None:
    """``folder/NAME.wav`` and ``NAME.beats`` (the song's beats, seconds) or ``NAME.bpm``."""
    import soundfile

    folder.mkdir(parents=True, exist_ok=True)
    soundfile.write(folder / f"{clip.name}.wav", audio, sample_rate, subtype="PCM_16")
    if clip.reference_beats is not None:
        beats = clip.reference_beats[clip.reference_beats < clip.motion.duration]
        (folder / f"{clip.name}.beats").write_text("".join(f"{t:.4f}\n" for t in beats))
    else:
        (folder / f"{clip.name}.bpm").write_text(f"{clip.true_bpm:g}\n")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=REPO.parent / "shared" / "data" / "real",
                        help="folder laid out like ../shared/data/real")
    parser.add_argument("--views", default="0,1,2,3,4,5,6,7,8", help="aistpp-official camera views")
    parser.add_argument("--json", type=Path, default=None, help="write every row here")
    parser.add_argument("--excerpts", type=excerpt_lengths, default=(), metavar="SECONDS",
                        help="comma-separated excerpt lengths (s, at least 1) to score the map on, e.g. 6,10")
    parser.add_argument("--frame-rates", type=frame_rates, default=(), metavar="FPS",
                        help="comma-separated frame rates to score the map on every clip captured at, e.g. 24,25,30")
    parser.add_argument("--write-audio", type=Path, default=None, metavar="DIR",
                        help="also write each take (WAV) and its reference beats or tempo here")
    parser.add_argument("--ceiling", action="store_true",
                        help="also print, per ballroom clip, the best F1 a steady grid reaches against the song "
                             "with its phase picked by looking at the song: at the map's tempo and, for the "
                             "waltzes, at the 3D capture's own rise-and-fall tempo")
    parser.add_argument("--no-genre", action="store_true",
                        help="score every clip as a user who names no genre (by default the AIST++ clips "
                             "carry their genre and the ballroom clips their dance, e.g. Waltz)")
    args = parser.parse_args(argv)
    if not args.data.is_dir():
        print(f"bench_realtempo: no data folder {args.data}", file=sys.stderr)
        return 2
    clips = load_real_clips(args.data, tuple(int(v) for v in args.views.split(",")))
    if args.no_genre:
        clips = [without_genre(clip) for clip in clips]
    backbone = load_backbone("synth")
    rows = {"map": [], "music": []}
    print(f"{'clip':<34} {'true':>6} | {'map':>6} {'ok':>3} {'bar':>3} | {'music':>6} {'ok':>3} {'CV':>6} "
          f"{'grid':>5} {'F1@.2':>6} {'F1@70':>6}")
    for clip in clips:
        tempo_map = map_row(clip)
        meter = tempo_map.get("meter")
        result = score_motion(clip.motion, ScoreOptions(sample_rate=22050), backbone)
        tempo, beats = track_music_beats(result.audio, result.sample_rate)
        if args.write_audio:
            write_take(args.write_audio, clip, result.audio, result.sample_rate)
        music = measure(beats, tempo, clip)
        tempo_map["clip"] = music["clip"] = clip.name
        music["kind"] = tempo_map["kind"] = clip.kind
        rows["map"].append(tempo_map)
        rows["music"].append(music)
        fmt = lambda v, f="{:.2f}": "-" if v is None else f.format(v)  # noqa: E731
        print(f"{clip.name:<34} {clip.true_bpm:>6.1f} | {fmt(tempo_map['tempo'], '{:.1f}'):>6} "
              f"{'yes' if tempo_map['tempo_ok'] else 'NO':>3} {fmt(meter, '{}/4') if meter else '-':>3} | "
              f"{fmt(music['tempo'], '{:.1f}'):>6} "
              f"{'yes' if music['tempo_ok'] else 'NO':>3} {fmt(music['cv'], '{:.3f}'):>6} "
              f"{fmt(music.get('grid_share')):>5} {fmt(music.get('f1_200ms')):>6} {fmt(music.get('f1_70ms')):>6}",
              flush=True)
    summary = {}
    for source in ("map", "music"):
        summary[source] = {"all": means(rows[source])}
        for kind in ("aistpp2d", "aistpp-official", "paired"):
            part = [r for r in rows[source] if r["kind"] == kind]
            if part:
                summary[source][kind] = means(part)
    for source in ("map", "music"):
        s = summary[source]
        aist = [r for r in rows[source] if r["kind"] != "paired"]
        print(f"\n{source}: tempo within 5 % on {s['all']['tempo_ok']:.0%} of {s['all']['clips']} clips; "
              f"median beat-interval CV {s['all']['median_cv']:.3f}; AIST++ beats on the grid "
              f"{shown(means(aist).get('grid_share'))}; ballroom F1 "
              f"{shown(s.get('paired', {}).get('f1_200ms'), '{:.3f}')} at 0.2 s, "
              f"{shown(s.get('paired', {}).get('f1_70ms'), '{:.3f}')} at 70 ms")
        print("  by set: " + "; ".join(f"{k} tempo {v['tempo_ok']:.0%} ({v['clips']} clips)"
                                       for k, v in s.items() if k != "all"))
    print(f"\nmap tempo or one of its alternatives right on "
          f"{sum(r['tempo_or_alternative_ok'] for r in rows['map'])} of {len(rows['map'])} clips "
          f"({np.mean([len(r['alternatives']) for r in rows['map']]):.2f} alternatives a clip)")
    meters = [r for r in rows["map"] if "meter_ok" in r]
    waltzes = [r for r, clip in zip(rows["map"], clips) if clip.true_meter == 3 and "meter_ok" in r]
    print(f"\nmap meter right on {sum(r['meter_ok'] for r in meters)} of {len(meters)} clips "
          f"({sum(r['meter_ok'] for r in waltzes)} of {len(waltzes)} in 3/4)")
    # The note a user who named the genre gets when the map's tempo does not suit it.
    noted = [r for r, clip in zip(rows["map"], clips) if tempo_note(clip.motion.genre, r["tempo"])]
    summary["genre_notes"] = {"clips": len(noted), "tempo_wrong": sum(not r["tempo_ok"] for r in noted),
                              "of_tempo_wrong": sum(not r["tempo_ok"] for r in rows["map"])}
    print(f"\nmap tempo noted as not suiting the clip's genre on {len(noted)} of {len(rows['map'])} clips: "
          f"{summary['genre_notes']['tempo_wrong']} of the {summary['genre_notes']['of_tempo_wrong']} whose tempo "
          f"is wrong, {len(noted) - summary['genre_notes']['tempo_wrong']} whose tempo is right")
    if args.ceiling:
        summary["ceiling"] = ceiling_figures(clips, args.data, rows["map"])
    for length in args.excerpts:
        summary[f"excerpts_{length:g}s"] = excerpt_figures(clips, length)
    for fps in args.frame_rates:
        summary[f"at_{fps:g}fps"] = frame_rate_figures(clips, fps)
    if args.json:
        args.json.write_text(json.dumps({"rows": rows, "summary": summary}, indent=1))
    return 0


def _number_list(text: str, unit: str, least: float, most: float, rule: str) -> tuple[float, ...]:
    """``"6,10"`` -> (6.0, 10.0), each in [least, most]; a bad list is a one-line usage error
    (argparse, exit 2) naming ``unit`` or ``rule``."""
    try:
        values = tuple(float(x) for x in text.split(",") if x.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a comma-separated list of {unit}") from None
    if not values or min(values) < least or max(values) > most:
        raise argparse.ArgumentTypeError(f"{text!r}: {rule}")
    return values


def frame_rates(text: str) -> tuple[float, ...]:
    return _number_list(text, "frame rates", 10.0, 240.0, "frame rates must lie within 10-240 fps")


def best_phase_f1(period_s: float, duration: float, reference: np.ndarray, step_s: float = 0.005) -> tuple:
    """(F1 at 0.2 s, F1 at 70 ms) of the steady grid of ``period_s`` seconds over [0, duration) whose
    phase (5 ms steps) scores best against ``reference`` (seconds): the most any steady music at that
    tempo can reach, since its phase is picked by looking at the answer."""
    grids = (np.arange(phase, duration, period_s) for phase in np.arange(0.0, period_s, step_s))
    return max((beat_scores(g, reference, 0.2).f1, beat_scores(g, reference, 0.07).f1) for g in grids)


def capture_bar_bpm(joints3d: np.ndarray, fps: float, song_bpm: float, meter: int = 3) -> float:
    """The beat tempo (BPM) of a 3D capture's own rise and fall, one per bar of ``meter`` beats.

    ``joints3d``: (T, J, 3) centimetres, y up. The mean joint height minus its 2 s moving average is
    autocorrelated; the bar lag is searched within +-20 % of a bar of the song's tempo (the song
    only picks the window) and refined at four bars with a parabola through the peak.
    """
    height = joints3d[:, :, 1].astype(np.float64).mean(axis=1)
    width = int(round(2 * fps)) | 1
    height = (height - np.convolve(height, np.ones(width) / width, "same"))[width:-width]
    n = height.size
    acf = np.correlate(height, height, "full")[n - 1:] / np.arange(n, 0, -1)
    bar = meter * 60.0 / song_bpm * fps
    lags = np.arange(int(bar * 0.8), int(bar * 1.2) + 1)
    lag = lags[np.argmax(acf[lags])]
    lags = np.arange(int(4 * lag * 0.97), min(int(4 * lag * 1.03) + 1, n - 1))
    k = lags[np.argmax(acf[lags])]
    curve = acf[k - 1] - 2 * acf[k] + acf[k + 1]
    four_bars = k + (0.5 * (acf[k - 1] - acf[k + 1]) / curve if curve < 0 else 0.0)
    return meter * 60.0 * fps / (four_bars / 4)


def song_tempo_f1(clip, song_bpm: float, reference: np.ndarray) -> tuple[float, float, float]:
    """The map made at the song's exact tempo (as ``--tempo`` would), its phase found from the
    motion: what a perfect tempo estimate alone gives.

    Returns (F1 at 0.2 s, F1 at 70 ms) against ``reference`` (s, a steady song's beats) and where
    the map's beats sit in the song's beat, in beats in [-0.5, 0.5) (circular mean; 0: on the
    song's beats, -0.5: on its off-beats). Both grids share one tempo, so the F1 is all or nothing:
    1 where that offset is within the tolerance, 0 where it is not.
    """
    beats = extract_rhythm(clip.motion, tempo_bpm=song_bpm).beat_times
    slope, intercept = np.polyfit(np.arange(reference.size), reference, 1)
    turn = np.angle(np.mean(np.exp(2j * np.pi * (beats - intercept) / slope))) / (2 * np.pi)
    offset = float((turn + 0.5) % 1.0 - 0.5)
    return beat_scores(beats, reference, 0.2).f1, beat_scores(beats, reference, 0.07).f1, offset


def ceiling_figures(clips, data: Path, map_rows: list[dict]) -> dict:
    """Printed per ballroom clip: the best F1 of a steady grid against the song's beats, its phase
    picked by looking at the song (:func:`best_phase_f1`), at the map's tempo and, for the waltzes
    with a capture (``paired/NAME.joints3d.npy``), at the capture's own bar tempo; and the F1 of the
    map at the song's tempo with the motion's own phase (:func:`song_tempo_f1`)."""
    print("\nceiling: a steady grid with its phase picked against the song's beats (map, body), and the map "
          "at the song's tempo with the motion's phase (tempo)\n"
          f"{'clip':<14} {'song':>6} | {'map':>6} {'F1@.2':>6} {'F1@70':>6} | {'body':>6} {'F1@.2':>6} {'F1@70':>6} "
          f"| {'off':>5} {'F1@.2':>6} {'F1@70':>6}")
    rows = []
    for clip, map_row_ in zip(clips, map_rows):
        if clip.reference_beats is None or not map_row_["tempo"]:
            continue
        duration = clip.motion.duration
        reference = clip.reference_beats[clip.reference_beats < duration]
        song_bpm = 60.0 / np.polyfit(np.arange(reference.size), reference, 1)[0]
        row = {"clip": clip.name, "song_bpm": song_bpm, "map_bpm": map_row_["tempo"]}
        row["map_f1_200ms"], row["map_f1_70ms"] = best_phase_f1(60.0 / map_row_["tempo"], duration, reference)
        capture = data / "paired" / f"{clip.name}.joints3d.npy"
        if clip.true_meter == 3 and capture.exists():
            row["body_bpm"] = capture_bar_bpm(np.load(capture), clip.motion.fps, song_bpm)
            row["body_f1_200ms"], row["body_f1_70ms"] = best_phase_f1(60.0 / row["body_bpm"], duration, reference)
        row["tempo_f1_200ms"], row["tempo_f1_70ms"], row["tempo_offset_beats"] = song_tempo_f1(clip, song_bpm, reference)
        rows.append(row)
        print(f"{clip.name:<14} {song_bpm:>6.2f} | {row['map_bpm']:>6.2f} {row['map_f1_200ms']:>6.2f} "
              f"{row['map_f1_70ms']:>6.2f} | {shown(row.get('body_bpm'), '{:.2f}'):>6} "
              f"{shown(row.get('body_f1_200ms'), '{:.2f}'):>6} {shown(row.get('body_f1_70ms'), '{:.2f}'):>6} "
              f"| {row['tempo_offset_beats']:>+5.2f} {row['tempo_f1_200ms']:>6.2f} {row['tempo_f1_70ms']:>6.2f}")
    out = {"clips": len(rows)}
    for key in ("map_f1_200ms", "map_f1_70ms", "body_f1_200ms", "body_f1_70ms", "tempo_f1_200ms", "tempo_f1_70ms"):
        values = [r[key] for r in rows if key in r]
        out[key] = float(np.mean(values)) if values else None
    bodies = [r for r in rows if "body_bpm" in r]
    ratios = [r["body_bpm"] / r["song_bpm"] for r in bodies]
    print(f"ceiling at the map's tempo ({len(rows)} clips): F1 {shown(out['map_f1_200ms'], '{:.3f}')} at 0.2 s, "
          f"{shown(out['map_f1_70ms'], '{:.3f}')} at 70 ms; at the capture's own bar tempo ({len(bodies)} waltzes, "
          f"median {shown(float(np.median(ratios)) if ratios else None, '{:.3f}')} x the song's): "
          f"{shown(out['body_f1_200ms'], '{:.3f}')} / {shown(out['body_f1_70ms'], '{:.3f}')}")
    offsets = np.abs([r["tempo_offset_beats"] for r in rows])
    out["tempo_offset_within"] = {f"{b:g}": int(np.sum(offsets < b)) for b in (0.1, 0.25)}
    print(f"the map at the song's tempo, phased by the motion ({len(rows)} clips): F1 "
          f"{shown(out['tempo_f1_200ms'], '{:.3f}')} at 0.2 s, {shown(out['tempo_f1_70ms'], '{:.3f}')} at 70 ms; "
          f"its beats within 0.1 beat of the song's on {out['tempo_offset_within']['0.1']}, within a quarter "
          f"beat on {out['tempo_offset_within']['0.25']} (off: the offset in beats, -0.5 = the song's off-beats)")
    out["rows"] = rows
    return out


def excerpt_lengths(text: str) -> tuple[float, ...]:
    return _number_list(text, "seconds", 1.0, np.inf, "excerpts must be at least 1 s long")


def excerpt_figures(clips, length: float) -> dict:
    """The map's figures on consecutive ``length``-second excerpts of every clip, by set; printed."""
    rows = []
    for clip in clips:
        frames = int(round(length * clip.motion.fps))
        for start in range(0, clip.motion.num_frames - frames + 1, max(frames, 1)):
            part = clip.motion.frames(start, start + frames)
            reference = None
            if clip.reference_beats is not None:
                reference = clip.reference_beats - start / clip.motion.fps
                reference = reference[(reference >= 0) & (reference < part.duration)]
            rows.append(map_row(replace(clip, motion=part, reference_beats=reference)))
    return map_figures(rows, f"{length:g} s excerpts", "excerpts")


def frame_rate_figures(clips, fps: float) -> dict:
    """The map's figures on every clip as a capture at ``fps`` would have recorded it; printed."""
    return map_figures([map_row(at_frame_rate(clip, fps)) for clip in clips], f"clips at {fps:g} fps", "clips")


def map_row(clip) -> dict:
    rhythm = extract_rhythm(clip.motion)
    meter = rhythm.tempo_map.meter if rhythm.tempo_map is not None else None
    alternatives = rhythm.tempo_map.alternatives if rhythm.tempo_map is not None else ()
    row = measure(rhythm.beat_times, rhythm.tempo_bpm, clip, meter, alternatives)
    row["true_meter"] = clip.true_meter
    row["kind"] = clip.kind
    return row


def map_figures(rows: list[dict], label: str, unit: str) -> dict:
    """Means of the map's rows, overall and by set, printed under ``label``."""
    out = {"all": means(rows)}
    for kind in ("aistpp2d", "aistpp-official", "paired"):
        part = [r for r in rows if r["kind"] == kind]
        if part:
            out[kind] = means(part)
    aist = [r for r in rows if r["kind"] != "paired"]
    print(f"\nmap on {label} ({len(rows)}): tempo within 5 % on {out['all']['tempo_ok']:.0%} "
          f"(the map's or an alternative: {out['all']['tempo_or_alternative_ok']:.0%}, "
          f"{np.mean([len(r['alternatives']) for r in rows]):.2f} a take); "
          f"AIST++ beats on the grid {shown(means(aist).get('grid_share'))}; ballroom F1 "
          f"{shown(out.get('paired', {}).get('f1_200ms'), '{:.3f}')} at 0.2 s")
    print("  by set: " + "; ".join(f"{k} tempo {v['tempo_ok']:.0%} ({v['clips']} {unit})"
                                   for k, v in out.items() if k != "all"))
    threes = [r for r in rows if r["true_meter"] == 3 and "meter" in r]
    fours = [r for r in rows if r["true_meter"] == 4 and "meter" in r]
    print(f"  meter: 3/4 found in {sum(r['meter'] == 3 for r in threes)} of {len(threes)} waltz {unit} and "
          f"{sum(r['meter'] == 3 for r in fours)} of {len(fours)} others")
    return out


if __name__ == "__main__":
    sys.exit(main())
