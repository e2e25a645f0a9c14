"""The time map of a conform: which stretch of the song plays under which beat of the tempo map.

Pure numpy. Output time is the shot's (seconds from its first frame), input time the song's.

1. **Octave.** The song's beats are paired with the map's one to one, or, when that would play
   the song beyond x1.5 or below x1/1.5, two to one or one to two (``octave``, song beats per map
   beat), whichever needs the least stretch; "one to two" puts the song's off-beats (midway
   between its beats) under every other map beat.
2. **Section.** The map's first bar starts on a bar of the song: by default the first bar that
   leaves room for the map's pickup beats, with ``start_s`` the bar nearest that time.
3. **Pairs.** Map beat i plays song beat ``section + i`` (minus the pickup): one global ratio,
   the median song interval over the median map interval, and per-beat warps where either side
   is not steady. A song beat whose interval differs from its neighbours' by more than
   ``MAX_BEAT_WARP`` is a tracking slip, not music: its pair follows its neighbours instead.
4. **Hits** are caught by moving the nearest map beat onto each (the map already places beats on
   hits; this holds for any map).
5. **Loop.** When the song runs out, ``loop`` jumps back to the section's start by whole bars;
   without it the plan is refused with how much is missing.

Each output beat interval becomes one :class:`Segment`; the renderer stretches each by its own
constant ratio, so the map's beats land exactly where planned.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .song_beats import SongBeats

#: Playing speeds (song seconds per output second) allowed without ``force``.
MIN_RATIO, MAX_RATIO = 0.75, 4.0 / 3.0
#: Pairing song beats one to one with the map's is kept up to this playing speed (or its inverse).
ONE_TO_ONE_SPAN = 1.5
#: Song beats per map beat that are tried.
OCTAVES = (0.5, 1.0, 2.0)
#: Largest deviation of one song beat interval from its neighbours' (fraction) that is followed.
MAX_BEAT_WARP = 0.2
#: Neighbouring intervals (each side) that define a song beat's expected interval.
NEIGHBOURS = 2
#: Missing song shorter than this (output seconds) at the very end is silence, not an error.
END_SLACK_S = 0.5
#: A first beat closer than this to the shot's start (s) starts it: no lead-in segment.
HEAD_MIN_S = 1e-3
#: Closest a moved beat may come to its neighbours (seconds).
MIN_BEAT_GAP_S = 0.05


class ConformError(ValueError):
    """A conform that cannot be planned as asked; one line saying why and what to do."""


@dataclass(frozen=True)
class Segment:
    """Input [in_start, in_end) s of the song plays over output [out_start, out_end) s."""

    in_start: float
    in_end: float
    out_start: float
    out_end: float

    @property
    def ratio(self) -> float:
        """Song seconds per output second (1.1: played 10 % faster)."""
        return (self.in_end - self.in_start) / (self.out_end - self.out_start)


@dataclass(frozen=True)
class ConformPlan:
    """The plan: segments in output order, covering [0, duration) without gaps.

    Attributes:
        ratio: the global playing speed (median song interval per median map interval).
        octave: song beats per map beat (0.5, 1 or 2).
        section_start_s, section_end_s: the song time of the section's first bar and the latest
            song time used, seconds.
        max_warp: the largest |segment ratio / ratio - 1| over the beat segments.
        loops: how many times the song jumped back to the section's start.
        hits_caught: hits with a map beat within 1 ms after the plan.
        beats: the output beat times (the map's, hits caught), seconds.
    """

    segments: tuple[Segment, ...]
    ratio: float
    octave: float
    section_start_s: float
    section_end_s: float
    max_warp: float
    loops: int
    hits_caught: int
    beats: np.ndarray

    def to_output(self, song_times) -> np.ndarray:
        """Output times (s, ascending) of song times (s): where the plan plays them, once per
        segment that plays them (a looped song plays some twice)."""
        times = np.asarray(song_times, dtype=np.float64)
        out = [s.out_start + (times[(times >= s.in_start) & (times < s.in_end)] - s.in_start) / s.ratio
               for s in self.segments]
        return np.sort(np.concatenate(out)) if out else np.zeros(0)

    def record(self) -> dict:
        """Plain types for metadata."""
        return {"ratio": round(self.ratio, 4), "octave": self.octave,
                "section_start_s": round(self.section_start_s, 3), "section_end_s": round(self.section_end_s, 3),
                "max_warp": round(self.max_warp, 4), "loops": self.loops, "hits_caught": self.hits_caught,
                "segments": len(self.segments)}


def choose_octave(song_period: float, map_period: float) -> float:
    """Song beats per map beat: one to one while that plays the song within x1/1.5-x1.5 (a beat
    stays a beat), else whichever brings the playing speed closest to 1."""
    if 1 / ONE_TO_ONE_SPAN <= song_period / map_period <= ONE_TO_ONE_SPAN:
        return 1.0
    return min(OCTAVES, key=lambda k: abs(np.log(k * song_period / map_period)))


def virtual_beats(song: SongBeats, octave: float) -> tuple[np.ndarray, np.ndarray]:
    """(beats, downbeat indices) of the song at ``octave`` song beats per map beat."""
    beats, down = song.beats, song.downbeats
    if octave == 1.0:
        return beats, down
    if octave == 2.0:
        parity = int(down[0] % 2) if down.size else 0
        kept = beats[parity::2]
        return kept, np.asarray([(d - parity) // 2 for d in down if (d - parity) % 2 == 0], dtype=np.int64)
    halves = np.empty(2 * beats.size - 1)
    halves[0::2] = beats
    halves[1::2] = (beats[:-1] + beats[1:]) / 2
    return halves, 2 * down


def catch_hits(beats: np.ndarray, hits: np.ndarray) -> np.ndarray:
    """Map beats with the nearest beat moved onto each hit (when the neighbours leave room)."""
    beats = beats.copy()
    for hit in np.sort(np.asarray(hits, dtype=np.float64)):
        k = int(np.argmin(np.abs(beats - hit)))
        lo = beats[k - 1] + MIN_BEAT_GAP_S if k > 0 else -np.inf
        hi = beats[k + 1] - MIN_BEAT_GAP_S if k + 1 < beats.size else np.inf
        if lo <= hit <= hi:
            beats[k] = hit
    return beats


def _expected_interval(beats: np.ndarray, j: int) -> float:
    """The interval the song's neighbouring beats predict for beats[j] -> beats[j + 1]."""
    gaps = np.diff(beats)
    around = np.r_[gaps[max(0, j - NEIGHBOURS):j], gaps[j + 1:j + 1 + NEIGHBOURS]]
    return float(np.median(around)) if around.size else float(np.median(gaps))


def plan_conform(song: SongBeats, song_duration: float, map_beats: np.ndarray, map_downbeats: np.ndarray,
                 duration: float, *, hits=(), start_s: float | None = None, loop: bool = False,
                 force: bool = False, bars: bool = True, name: str = "song") -> ConformPlan:
    """Plan a conform of a song (its beats, ``song_duration`` s) onto a map (``map_beats`` s with
    ``map_downbeats`` indices) over ``duration`` s.

    ``bars=False`` pairs the map's first beat with the song's beat nearest it instead of bar with
    bar (a generated take, made for this shot, whose bars are not known). Raises ConformError.
    """
    beats_out = np.sort(np.asarray(map_beats, dtype=np.float64))
    beats_out = beats_out[(beats_out >= 0) & (beats_out < duration)]
    if beats_out.size < 2:
        raise ConformError("the tempo map has fewer than two beats: nothing to conform to "
                           "(a motion without a pulse needs --tempo)")
    beats_out = catch_hits(beats_out, np.asarray(hits, dtype=np.float64))
    map_period = float(np.median(np.diff(beats_out)))
    octave = choose_octave(song.period, map_period)  # song.period: the tracker's line, too
    song_beats, song_down = virtual_beats(song, octave)
    # The song's period from a line through its beats: the median interval is quantised to the
    # tracker's frames, a line is not.
    ratio = float(np.polyfit(np.arange(song_beats.size), song_beats, 1)[0]) / map_period
    if not force and not MIN_RATIO <= ratio <= MAX_RATIO:
        raise ConformError(
            f"{name}: the song ({song.tempo_bpm:.0f} BPM) would play at x{ratio:.2f} its speed to follow the "
            f"map ({60 / map_period:.0f} BPM); beyond x{MIN_RATIO:g}-x{MAX_RATIO:.2f} it sounds stretched: "
            f"pass --force to do it anyway")
    if start_s is not None and not 0 <= start_s < song_duration:
        raise ConformError(f"{name}: --start {start_s:g} s lies outside the song (0-{song_duration:.1f} s)")
    pickup = 0  # map beats before the map's first bar
    if bars:
        pickup = int(map_downbeats[0]) if len(map_downbeats) and map_downbeats[0] < beats_out.size else 0
        candidates = song_down[song_down >= pickup]
        if candidates.size == 0:
            raise ConformError(f"{name}: no bar of the song leaves room for the map's {pickup} pickup beats")
        section = int(candidates[0]) if start_s is None else \
            int(candidates[np.argmin(np.abs(song_beats[candidates] - start_s))])
    else:
        section = int(np.argmin(np.abs(song_beats - (beats_out[0] if start_s is None else start_s))))
    first = section - pickup  # the song beat under the map's first beat
    bar = int(np.median(np.diff(song_down))) if song_down.size >= 2 else song.meter
    last = song_beats.size - 1  # the last beat that can start a segment is last - 1
    span = ((last - section) // bar) * bar if loop else 0
    if loop and span < bar:
        raise ConformError(f"{name}: less than one bar of the song after {song_beats[section]:.1f} s to loop")

    def index(i: int) -> tuple[int, int]:
        """(song beat index for map beat i, loops so far)."""
        j = first + i
        if loop and j >= section + span:
            turns = (j - section) // span
            return section + (j - section) % span, int(turns)
        return j, 0

    n = beats_out.size
    if not loop and index(n - 1)[0] > last:
        covered = next((i for i in range(n) if index(i)[0] > last), n)
        missing = duration - beats_out[max(covered - 1, 0)]
        raise ConformError(f"{name}: the song is {missing:.1f} s too short for the shot from its bar at "
                           f"{song_beats[section]:.1f} s; pass --loop to repeat it by bars, or pick an earlier --start")

    segments: list[Segment] = []
    starts = np.empty(n)  # song time under each map beat
    loops = 0
    j, _ = index(0)
    starts[0] = song_beats[j]
    for i in range(n - 1):
        j, turns = index(i)
        loops = max(loops, turns)
        natural = song_beats[j + 1]
        expected = _expected_interval(song_beats, j)
        gap = natural - starts[i]
        if abs(gap / expected - 1.0) > MAX_BEAT_WARP:
            natural = starts[i] + expected  # a slip of the tracker: follow the neighbours
        segments.append(Segment(starts[i], natural, beats_out[i], beats_out[i + 1]))
        following, _ = index(i + 1)
        starts[i + 1] = natural if following == j + 1 else song_beats[following]
    beat_ratios = np.array([s.ratio for s in segments])
    head_ratio, tail_ratio = beat_ratios[0], beat_ratios[-1]
    if beats_out[0] >= HEAD_MIN_S:
        segments.insert(0, Segment(starts[0] - beats_out[0] * head_ratio, starts[0], 0.0, beats_out[0]))
    else:  # the map starts on a beat: its first segment starts the shot
        first_segment = segments[0]
        segments[0] = Segment(first_segment.in_start, first_segment.in_end, 0.0, first_segment.out_end)
    tail_end = starts[-1] + (duration - beats_out[-1]) * tail_ratio
    if not loop and (tail_end - song_duration) / tail_ratio > END_SLACK_S:
        raise ConformError(f"{name}: the song is {(tail_end - song_duration) / tail_ratio:.1f} s too short for the "
                           f"shot from its bar at {song_beats[section]:.1f} s; pass --loop to repeat it by bars, "
                           f"or pick an earlier --start")
    segments.append(Segment(starts[-1], tail_end, beats_out[-1], duration))
    caught = int(sum(np.min(np.abs(beats_out - h)) <= 1e-3 for h in np.asarray(hits, dtype=np.float64)))
    return ConformPlan(
        segments=tuple(segments), ratio=ratio, octave=octave, section_start_s=float(song_beats[section]),
        section_end_s=float(max(s.in_end for s in segments)), max_warp=float(np.max(np.abs(beat_ratios / ratio - 1))),
        loops=loops, hits_caught=caught, beats=beats_out)
