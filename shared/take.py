"""One take's steps that both engines share: the request's rhythm and the take's record.

The server's pipeline (``server/generation/pipeline.py``) and the built-in engine
(:mod:`.builtin`, which the add-on runs inside Blender) both call these, so a take's tempo map,
notes and metadata keys are the same whichever engine made it; only the server adds what needs its libraries (measured beat metrics,
beat lock).
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from .genres import tempo_note
from .motion import Motion
from .options import ScoreOptions
from .rhythm import Rhythm, extract_rhythm
from .take_record import TakeMetrics, TakeRecord
from .tempo_map import TempoMap, TempoSegment



def request_genre(motion: Motion, options: ScoreOptions) -> str | None:
    """The genre the take is asked for: the request's, else the one the motion file names."""
    return options.genre or motion.genre


def request_rhythm(motion: Motion, options: ScoreOptions, mode: str | None = None) -> Rhythm:
    """The motion's rhythm and tempo map as the request asks (hits, tempo, meter, genre, or a map
    given whole).

    ``mode``: the rhythm mode a backbone's weights need ("compat"), else the request's.
    """
    rhythm = extract_rhythm(motion, mode=mode or options.rhythm_mode, hits=options.hits,
                            tempo_bpm=options.tempo_bpm, meter=options.meter, genre=request_genre(motion, options))
    if not options.map_beats:
        return rhythm
    tempo_map = given_map(options.map_beats, options.map_downbeats, motion.duration, options.meter, options.hits)
    return replace(rhythm, beat_times=tempo_map.beats, tempo_bpm=tempo_map.tempo_bpm, tempo_map=tempo_map)


#: Beat intervals within this fraction of each other are one tempo segment of a given map.
SEGMENT_TOLERANCE = 0.01


def given_map(beats, downbeats, duration: float, meter: int | None = None, hits=()) -> TempoMap:
    """A tempo map given whole (beats in s, bar-start indices) over ``duration`` s: continued at its
    last tempo past its last beat, its bars every ``meter`` beats where none are given, its segments
    the runs of one tempo."""
    beats = np.asarray(beats, dtype=np.float64)
    last = beats[-1] - beats[-2]
    if beats[-1] + last < duration:
        beats = np.r_[beats, beats[-1] + last * np.arange(1, int((duration - beats[-1]) / last) + 1)]
    beats = beats[beats < duration]
    downbeats = np.asarray([d for d in downbeats if d < beats.size], dtype=np.int64)
    if meter is None:
        meter = 3 if downbeats.size >= 2 and int(np.median(np.diff(downbeats))) == 3 else 4
    if downbeats.size:
        step = int(np.median(np.diff(downbeats))) if downbeats.size >= 2 else meter
        downbeats = np.r_[downbeats, np.arange(downbeats[-1] + step, beats.size, step)].astype(np.int64)
    else:
        downbeats = np.arange(0, beats.size, meter, dtype=np.int64)
    intervals = np.diff(beats)
    segments, start = [], 0
    for i in range(1, intervals.size + 1):
        if i == intervals.size or abs(intervals[i] / intervals[start] - 1) > SEGMENT_TOLERANCE:
            end = beats[i] if i < intervals.size else duration
            segments.append(TempoSegment(float(beats[start]) if start else 0.0, float(end),
                                         float(60.0 / np.mean(intervals[start:i]))))
            start = i
    return TempoMap(beats, downbeats, meter, tuple(segments), np.asarray(hits, dtype=np.float64), duration)


def tempo_map_record(rhythm: Rhythm, genre: str | None, options: ScoreOptions) -> tuple[dict | None, str]:
    """(the tempo map as plain data or None without a pulse, the genre note or "").

    The note says a map whose tempo does not suit the genre named; never of the user's own tempo.
    """
    record = rhythm.tempo_map.to_dict() if rhythm.tempo_map is not None else None
    note = tempo_note(genre, rhythm.tempo_bpm) if record and options.tempo_bpm is None else ""
    if note:
        record["genre_note"] = note
    return record, note


def closing_notes(rhythm: Rhythm, options: ScoreOptions, backbone: str, genre_note: str) -> list[str]:
    """What the user should know about the take after the music is made, in the order they read it."""
    notes = []
    if rhythm.is_static:
        notes.append("the motion does not move: no kinematic beats, alignment not defined")
    if options.negative_motion and backbone == "synth":
        notes.append("synth ignores negative motion conditioning")
    if genre_note:
        notes.append(f"tempo map: {genre_note}; the motion's pulse outweighed the genre's range "
                     f"(--tempo, or Tempo in the add-on, sets another)")
    return notes


def take_metadata(motion: Motion, options: ScoreOptions, rhythm: Rhythm, *, num_samples: int, sample_rate: int,
                  channels: int, genre: str | None, backbone: str, model_id: str, beat_lock: bool,
                  tempo_map: dict | None, metrics: TakeMetrics | None, notes: list[str], info: dict) -> dict:
    """The record a take carries, in its wire form (protocol ``result.metadata``; see
    :class:`~.take_record.TakeRecord`). ``metrics`` is None where nothing measured the music's beats."""
    return TakeRecord(
        duration_s=motion.duration, num_samples=int(num_samples), sample_rate=int(sample_rate),
        channels=int(channels), frames=motion.num_frames, fps=motion.fps, genre=genre,
        prompt=options.prompt, seed=options.seed, backbone=backbone, model_id=model_id,
        rhythm_mode=rhythm.mode, negative_motion=options.negative_motion, beat_lock=bool(beat_lock),
        kinematic_beats_s=[round(float(t), 4) for t in rhythm.kinematic_beat_times],
        beats_s=[round(float(t), 4) for t in rhythm.beat_times],
        tempo_map=tempo_map, metrics=metrics, notes=notes, backbone_info=info,
    ).to_wire()
