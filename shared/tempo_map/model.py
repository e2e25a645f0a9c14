"""What a tempo map is: its beats, bars, tempo segments and hits (plain data, to and from dicts)."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np


def alternatives_text(alternatives) -> str:
    """"119.7 or 128.4 BPM" for the map's alternative tempi (BPM); "" without any."""
    values = [f"{float(b):g}" for b in alternatives]
    if not values:
        return ""
    return (", ".join(values[:-1]) + " or " + values[-1] if len(values) > 1 else values[0]) + " BPM"


@dataclass(frozen=True)
class TempoSegment:
    """A stretch of constant tempo: [start_s, end_s) at ``bpm``; its first beat starts a bar."""

    start_s: float
    end_s: float
    bpm: float

    def to_dict(self) -> dict:
        return {"start_s": round(self.start_s, 4), "end_s": round(self.end_s, 4), "bpm": round(self.bpm, 3)}


@dataclass(frozen=True)
class TempoMap:
    """The music's beats for a motion.

    Attributes:
        beats: float64 (n,), beat times in seconds, ascending, within [0, duration).
        downbeats: int64 (m,), indices into ``beats`` of each bar's first beat.
        meter: beats per bar (3 or 4).
        segments: the tempo segments, in order, covering the beats.
        hits: float64 (h,), the user's sync points in seconds (caught: a beat sits on each).
        duration: the motion's length in seconds.
        accents: float64 (a,), where the motion's prominent accents pulled a beat (soft hits), s.
        alternatives: other tempi (BPM) the motion's pulse also supports, strongest first, none
            near the map's tempo, its double or half: what to try with a tempo override when the
            map sounds wrong (:meth:`TempoEvidence.alternatives`; empty with the user's tempo).
    """

    beats: np.ndarray
    downbeats: np.ndarray
    meter: int
    segments: tuple[TempoSegment, ...]
    hits: np.ndarray = field(default_factory=lambda: np.zeros(0))
    duration: float = 0.0
    accents: np.ndarray = field(default_factory=lambda: np.zeros(0))
    alternatives: tuple[float, ...] = ()

    @property
    def tempo_bpm(self) -> float | None:
        """The main tempo: that of the longest segment (None without beats)."""
        if not self.segments:
            return None
        return max(self.segments, key=lambda s: s.end_s - s.start_s).bpm

    @property
    def bar_times(self) -> np.ndarray:
        return self.beats[self.downbeats] if self.beats.size else np.zeros(0)

    def hits_caught(self, tolerance_s: float) -> int:
        """How many hits have a beat within ``tolerance_s`` seconds."""
        if not self.hits.size or not self.beats.size:
            return 0
        return int(sum(np.min(np.abs(self.beats - h)) <= tolerance_s for h in self.hits))

    def summary(self, tolerance_s: float = 1 / 30) -> str:
        """One line: "112 BPM, 4/4, 2 tempo changes, 2/2 hits caught"."""
        if self.tempo_bpm is None:
            return "no steady beat"
        changes = len(self.segments) - 1
        text = f"{self.tempo_bpm:.0f} BPM, {self.meter}/4"
        text += f", {changes} tempo change{'s' if changes != 1 else ''}" if changes else ", steady"
        if self.hits.size:
            text += f", {self.hits_caught(tolerance_s)}/{self.hits.size} hits caught"
        return text

    def window(self, start: float, end: float) -> "TempoMap":
        """The part in [start, end) seconds with times relative to ``start``."""
        keep = (self.beats >= start) & (self.beats < end)
        index = np.flatnonzero(keep)
        first = int(index[0]) if index.size else 0
        downbeats = np.asarray([d - first for d in self.downbeats if keep[d]], dtype=np.int64)
        segments = tuple(TempoSegment(max(s.start_s, start) - start, min(s.end_s, end) - start, s.bpm)
                         for s in self.segments if s.end_s > start and s.start_s < end)
        hits = self.hits[(self.hits >= start) & (self.hits < end)] - start
        accents = self.accents[(self.accents >= start) & (self.accents < end)] - start
        return TempoMap(self.beats[keep] - start, downbeats, self.meter, segments, hits,
                        max(0.0, min(end, self.duration) - start), accents, self.alternatives)

    def to_dict(self) -> dict:
        """Plain types for metadata and the protocol."""
        return {"tempo_bpm": None if self.tempo_bpm is None else round(self.tempo_bpm, 3), "meter": self.meter,
                "beats_s": [round(float(t), 4) for t in self.beats],
                "downbeats": [int(i) for i in self.downbeats],
                "segments": [s.to_dict() for s in self.segments],
                "hits_s": [round(float(h), 4) for h in self.hits],
                "hits_caught": self.hits_caught(1 / 30),
                "accents_s": [round(float(a), 4) for a in self.accents],
                "alternatives_bpm": [float(b) for b in self.alternatives], "summary": self.summary()}
