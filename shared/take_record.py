"""What a take says about itself: :class:`TakeRecord`, typed, with its plain-dict wire form.

A take's record travels as the protocol's ``result.metadata`` (docs/protocol.md lists the keys),
is printed by the CLI's summary, placed by the add-on on the take's strip and reported by a
headless batch job; all of them read it through this one class instead of dict keys. The wire
form is a plain dict (msgpack and JSON types only); keys this version does not know are kept in
``extra`` and written back unchanged, so an older client reads a newer server's takes.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields

#: The line a headless batch job prints its result on (``RESULT_TAG + json``), read by ``motionscore batch``.
RESULT_TAG = "MOTIONSCORE_RESULT "
#: ``engine`` of a take made inside Blender (server takes carry none, or "ray").
ENGINE_BUILTIN = "built-in"


#: Keys a record carries only when they apply.
OPTIONAL_KEYS = ("engine", "replica", "conform")


class TakeRecordError(ValueError):
    """A record that is not a take's: one line saying which key is wrong."""


@dataclass(frozen=True)
class TakeMetrics:
    """How well one take's music follows its motion, measured by a beat tracker on the music.

    Times in seconds; ``alignment`` in [0, 1] (None without kinematic beats); ``f1``, ``bcs``
    and ``bhs`` at ``tolerance_s``.
    """

    music_tempo_bpm: float | None
    motion_tempo_bpm: float | None
    tempo_difference_bpm: float | None
    music_beats: int
    kinematic_beats: int
    music_beats_s: list
    alignment: float | None
    bcs: float
    bhs: float
    f1: float
    tolerance_s: float

    def as_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_wire(cls, wire: dict) -> "TakeMetrics":
        try:
            return cls(**{f.name: wire[f.name] for f in fields(cls)})
        except (KeyError, TypeError) as exc:
            raise TakeRecordError(f"take metrics: missing or bad {exc}") from None


@dataclass(frozen=True)
class TakeRecord:
    """One take's record.

    Attributes:
        duration_s, frames, fps: the motion's length (seconds) and frames at ``fps``.
        num_samples, sample_rate, channels: the audio (samples per channel, Hz, 1 or 2).
        genre, prompt, seed, backbone, model_id: what made it.
        rhythm_mode, negative_motion, beat_lock: how.
        kinematic_beats_s, beats_s: the motion's beats and the tempo map's beats, seconds.
        tempo_map: the map's record (:meth:`.tempo_map.TempoMap.to_dict`), None without a pulse.
        metrics: the music's measured beats against the motion; None where nothing measured them
            (a built-in take: no beat tracker inside Blender).
        notes: one line each, for the user.
        backbone_info: the backbone's own details.
        engine: "built-in" for a take made inside Blender, "ray" for a Ray Serve replica's, else None.
        replica: the Ray replica that made it, if any.
        conform: a fitted song's plan record (``motionscore conform``), else None.
        extra: every other key of the wire form (versions, timings, batch size), as received.
    """

    duration_s: float
    num_samples: int
    sample_rate: int
    channels: int
    frames: int
    fps: float
    genre: str | None
    prompt: str
    seed: int
    backbone: str
    model_id: str
    rhythm_mode: str
    negative_motion: bool
    beat_lock: bool
    kinematic_beats_s: list
    beats_s: list
    tempo_map: dict | None
    metrics: TakeMetrics | None
    notes: list
    backbone_info: dict
    engine: str | None = None
    replica: str | None = None
    conform: dict | None = None
    extra: dict = field(default_factory=dict)

    @property
    def built_in(self) -> bool:
        return self.engine == ENGINE_BUILTIN

    @property
    def alignment(self) -> float | None:
        """The measured alignment in [0, 1], None where it was not measured."""
        return None if self.metrics is None else self.metrics.alignment

    @property
    def map_summary(self) -> str:
        """The map in one line ("112 BPM, 4/4, steady"), "" without a map."""
        return (self.tempo_map or {}).get("summary", "")

    def to_wire(self) -> dict:
        """The plain dict of the protocol (``result.metadata``); optional keys only when set."""
        wire = {f.name: getattr(self, f.name) for f in fields(self) if f.name not in ("metrics", "extra")}
        wire["metrics"] = None if self.metrics is None else self.metrics.as_dict()
        for optional in OPTIONAL_KEYS:
            if wire[optional] is None:
                del wire[optional]
        return {**self.extra, **wire}

    @classmethod
    def from_wire(cls, wire: dict) -> "TakeRecord":
        """The record of a received ``metadata`` dict; :class:`TakeRecordError` when a key it must
        have is missing."""
        if not isinstance(wire, dict):
            raise TakeRecordError(f"a take record is a dict, not {type(wire).__name__}")
        names = {f.name for f in fields(cls)} - {"extra"}
        missing = sorted(n for n in names - set(OPTIONAL_KEYS) if n not in wire)
        if missing:
            raise TakeRecordError(f"the take's record has no {', '.join(missing)}")
        values = {n: wire[n] for n in names if n in wire}
        values["metrics"] = None if wire["metrics"] is None else TakeMetrics.from_wire(wire["metrics"])
        return cls(**values, extra={k: v for k, v in wire.items() if k not in names})
