"""Evaluation of generated music: per-clip beat metrics, FAD and CLAP over a set, reports and plots.

Pairing is by file name stem: ``GEN/clip.wav`` <-> ``REF/clip.wav`` (reference music) <->
``MOTION/clip.npz`` (its dance). Beat metrics (BCS, BHS, F1, tempo difference) compare the
generated music's beats with the reference music's beats; the alignment score compares them with
the motion's kinematic beats and needs no reference.
"""

from __future__ import annotations

import csv
import json
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from motionscore.shared.motion import Motion, load_motion
from motionscore.shared.rhythm import extract_rhythm

from motionscore.server.analysis.metrics import (DEFAULT_SIGMA, DEFAULT_TOLERANCE, TIGHT_TOLERANCE, alignment_score, beat_scores, tempo_difference,
                      track_music_beats)

AUDIO_SUFFIXES = (".wav", ".flac", ".ogg")


class EvaluationError(Exception):
    """Bad evaluation input (missing folder, unreadable audio, nothing to pair): one line."""


def read_audio(path: str | Path) -> tuple[np.ndarray, int]:
    """Mono float32 audio and its rate; channels are averaged."""
    import soundfile as sf

    try:
        audio, rate = sf.read(str(path), dtype="float32", always_2d=True)
    except Exception as exc:  # soundfile raises its own error types
        raise EvaluationError(f"{path}: unreadable audio ({str(exc).splitlines()[0] if str(exc) else type(exc).__name__})") from None
    return audio.mean(axis=1), int(rate)


@dataclass
class ClipReport:
    """Metrics of one generated clip (None where the needed input is absent)."""

    name: str
    duration_s: float
    music_tempo_bpm: float | None
    music_beats: list = field(repr=False)
    reference_tempo_bpm: float | None = None
    tempo_difference_bpm: float | None = None
    bcs: float | None = None
    bhs: float | None = None
    f1: float | None = None
    motion_tempo_bpm: float | None = None
    #: the motion's beats (its tempo map's, seconds) and the music's beat F1 against them
    motion_beats: list = field(default_factory=list, repr=False)
    motion_f1: float | None = None
    alignment: float | None = None
    clap: float | None = None
    #: beat F1 against annotated beats (``reference_beats``) at the tolerance and at 70 ms
    annotated_f1: float | None = None
    annotated_f1_70ms: float | None = None

    def row(self) -> dict:
        data = asdict(self)
        data.pop("music_beats")
        data.pop("motion_beats")
        return data


def evaluate_clip(name: str, audio: np.ndarray, sample_rate: int, reference: tuple[np.ndarray, int] | None = None,
                  motion: Motion | None = None, tolerance: float = DEFAULT_TOLERANCE,
                  sigma: float = DEFAULT_SIGMA, clap=None, reference_beats: np.ndarray | None = None) -> ClipReport:
    """Beat metrics of one take: against the reference music's beats, the motion's (tempo map)
    beats and, when given, annotated ``reference_beats`` (seconds from the take's start)."""
    tempo, beats = track_music_beats(audio, sample_rate)
    report = ClipReport(name=name, duration_s=audio.size / sample_rate, music_tempo_bpm=tempo,
                        music_beats=[float(b) for b in beats])
    if reference is not None:
        ref_tempo, ref_beats = track_music_beats(*reference)
        scores = beat_scores(beats, ref_beats, tolerance)
        report.reference_tempo_bpm = ref_tempo
        report.tempo_difference_bpm = tempo_difference(tempo, ref_tempo)
        report.bcs, report.bhs, report.f1 = scores.bcs, scores.bhs, scores.f1
        if clap is not None:
            from .embeddings import cosine_similarity

            report.clap = cosine_similarity(clap(audio, sample_rate), clap(*reference))
    if motion is not None:
        rhythm = extract_rhythm(motion)
        report.motion_tempo_bpm = rhythm.tempo_bpm
        report.motion_beats = [float(b) for b in rhythm.beat_times]
        report.motion_f1 = beat_scores(beats, rhythm.beat_times, tolerance).f1
        report.alignment = alignment_score(rhythm.beat_times, beats, sigma)
    if reference_beats is not None:
        annotated = np.asarray(reference_beats, dtype=np.float64)
        annotated = annotated[annotated < report.duration_s]
        report.annotated_f1 = beat_scores(beats, annotated, tolerance).f1
        report.annotated_f1_70ms = beat_scores(beats, annotated, TIGHT_TOLERANCE).f1
    return report


def _index(folder: Path | None, suffixes: tuple[str, ...], what: str) -> dict[str, Path]:
    if folder is None:
        return {}
    if not folder.is_dir():
        raise EvaluationError(f"{what} folder {folder} does not exist")
    return {p.stem: p for p in sorted(folder.iterdir()) if p.suffix.lower() in suffixes}


@dataclass
class EvaluationReport:
    clips: list[ClipReport]
    summary: dict
    unpaired: dict


def _mean(values):
    values = [v for v in values if v is not None]
    return float(np.mean(values)) if values else None


def evaluate_folders(generated: Path, reference: Path | None = None, motion: Path | None = None,
                     tolerance: float = DEFAULT_TOLERANCE, sigma: float = DEFAULT_SIGMA, fad_embedder=None,
                     clap=None, progress=None) -> EvaluationReport:
    gen = _index(generated, AUDIO_SUFFIXES, "generated")
    if not gen:
        raise EvaluationError(f"no audio files ({', '.join(AUDIO_SUFFIXES)}) in {generated}")
    refs = _index(reference, AUDIO_SUFFIXES, "reference")
    motions = _index(motion, (".npz",), "motion")
    clips, fad_gen, fad_ref = [], [], []
    for i, (name, path) in enumerate(gen.items(), 1):
        if progress:
            progress(i, len(gen), name)
        audio, rate = read_audio(path)
        ref = read_audio(refs[name]) if name in refs else None
        mot = None
        if name in motions:
            try:
                mot = load_motion(motions[name])
            except ValueError as exc:
                raise EvaluationError(str(exc)) from None
        clips.append(evaluate_clip(name, audio, rate, ref, mot, tolerance, sigma, clap if ref is not None else None))
        if fad_embedder is not None and ref is not None:
            fad_gen.append(fad_embedder(audio, rate))
            fad_ref.append(fad_embedder(*ref))
    summary = {key: _mean([getattr(c, key) for c in clips])
               for key in ("bcs", "bhs", "f1", "tempo_difference_bpm", "alignment", "clap")}
    summary.update(clips=len(clips), tolerance_s=tolerance, sigma_s=sigma)
    if fad_embedder is not None and fad_gen:
        from .embeddings import frechet_distance

        summary["fad"] = frechet_distance(np.concatenate(fad_gen), np.concatenate(fad_ref))
        summary["fad_embedder"] = fad_embedder.name
    unpaired = {"without_reference": sorted(set(gen) - set(refs)) if refs or reference else [],
                "without_motion": sorted(set(gen) - set(motions)) if motion else [],
                "references_without_generated": sorted(set(refs) - set(gen))}
    return EvaluationReport(clips, summary, unpaired)


def write_report(report: EvaluationReport, out: Path, plots: bool = True, generated: Path | None = None) -> list[Path]:
    """report.json, per_clip.csv, summary.png and plots/<clip>.png into ``out``."""
    out.mkdir(parents=True, exist_ok=True)
    written = []
    data = {"summary": report.summary, "unpaired": report.unpaired,
            "clips": [{**c.row(), "music_beats_s": c.music_beats, "motion_beats_s": c.motion_beats}
                      for c in report.clips]}
    (out / "report.json").write_text(json.dumps(data, indent=2))
    written.append(out / "report.json")
    rows = [c.row() for c in report.clips]
    with open(out / "per_clip.csv", "w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    written.append(out / "per_clip.csv")
    if plots:
        from .plots import beat_timeline, summary_figure

        written.append(summary_figure(out / "summary.png", rows))
        (out / "plots").mkdir(exist_ok=True)
        gen = _index(generated, AUDIO_SUFFIXES, "generated") if generated else {}
        for clip in report.clips:
            if clip.name in gen:
                audio, rate = read_audio(gen[clip.name])
                metrics = {k: getattr(clip, k) for k in ("f1", "alignment") if getattr(clip, k) is not None}
                written.append(beat_timeline(out / "plots" / f"{clip.name}.png", audio, rate,
                                             np.array(clip.music_beats), np.array(clip.motion_beats),
                                             title=clip.name, metrics=metrics))
    return written


def format_table(report: EvaluationReport) -> str:
    cols = ("name", "f1", "bcs", "bhs", "tempo_difference_bpm", "alignment", "clap")
    heads = ("clip", "F1", "BCS", "BHS", "TD (BPM)", "align", "CLAP")

    def fmt(v):
        return "-" if v is None else (f"{v:.3f}" if isinstance(v, float) else str(v))

    rows = [heads] + [tuple(fmt(getattr(c, k)) for k in cols) for c in report.clips]
    rows.append(("mean",) + tuple(fmt(report.summary.get(k)) for k in cols[1:]))
    widths = [max(len(r[i]) for r in rows) for i in range(len(heads))]
    lines = ["  ".join(cell.ljust(w) for cell, w in zip(row, widths)) for row in rows]
    lines.insert(1, "-" * len(lines[0]))
    lines.insert(len(lines) - 1, "-" * len(lines[0]))
    if "fad" in report.summary:
        lines.append(f"FAD ({report.summary['fad_embedder']}): {report.summary['fad']:.3f}")
    return "\n".join(lines)
