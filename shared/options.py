"""The options of a scoring request, validated the same way on both sides of the wire."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, fields

from . import limits
from .genres import UnknownGenreError, parse_genre
from .prompts import PromptError, build_prompt

DEFAULT_SAMPLE_RATE = 48_000  # Blender's default audio mix rate
RHYTHM_MODES = ("default", "compat")


#: Output channel layouts a request may ask for.
CHANNELS = ("mono", "stereo")


class OptionsError(ValueError):
    """An option with a bad value: the message names it and says what is allowed."""


def read_times(path) -> list[float]:
    """Times in seconds from a text file: the first field of each line ('#' starts a comment, blank
    lines are skipped), as in beat annotation files ("12.34 1") and hit lists ("7.77 punch").

    Raises:
        OSError: the file cannot be read. ValueError: a line whose first field is not a number
            (UnicodeDecodeError, a ValueError, for a file that is not text).
    """
    from pathlib import Path

    values = []
    for number, line in enumerate(Path(path).read_text().splitlines(), 1):
        fields = line.split("#", 1)[0].split()
        if not fields:
            continue
        try:
            values.append(float(fields[0].rstrip(",")))
        except ValueError:
            raise ValueError(f"line {number}: {fields[0]!r} is not a time in seconds") from None
    return values


def parse_hits(values) -> tuple[float, ...]:
    """Hits as sorted seconds: a list/tuple of numbers, or text "1.25, 3.5" (the CLI's form).

    Raises:
        OptionsError: for anything that is not a finite time in [0, MAX_DURATION_S], or too many.
    """
    if isinstance(values, str):
        parts = [p for p in values.replace(";", ",").replace("\n", ",").split(",") if p.strip()]
        try:
            values = [float(p) for p in parts]
        except ValueError:
            raise OptionsError(f"hits must be seconds separated by commas, e.g. 1.25,3.5; got {values!r}") from None
    if not isinstance(values, (list, tuple)):
        raise OptionsError(f"hits must be a list of times in seconds, got {type(values).__name__}")
    if len(values) > limits.MAX_HITS:
        raise OptionsError(f"at most {limits.MAX_HITS} hits, got {len(values)}")
    out = []
    for value in values:
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) \
                or not 0 <= value <= limits.MAX_DURATION_S:
            raise OptionsError(f"each hit must be a time in seconds in [0, {limits.MAX_DURATION_S:g}], got {value!r}")
        out.append(float(value))
    out.sort()
    close = [(a, b) for a, b in zip(out, out[1:]) if b - a < limits.MIN_HIT_GAP_S]
    if close:
        a, b = close[0]
        raise OptionsError(f"hits at {a:g} s and {b:g} s are closer than {limits.MIN_HIT_GAP_S:g} s: one beat "
                           f"cannot sit on both; remove one")
    return tuple(out)


def from_plain(cls, data, what: str):
    """An options dataclass from a plain mapping, refusing a non-map and unknown keys (a typo must
    not pass silently); ``what`` names the options in messages ("option", "conform option")."""
    if not isinstance(data, dict):
        raise OptionsError(f"{what}s must be a map")
    names = {f.name for f in fields(cls)}
    unknown = sorted(str(k) for k in data if k not in names)
    if unknown:
        raise OptionsError(f"unknown {what}(s): {', '.join(unknown)}; known: {', '.join(sorted(names))}")
    return cls(**data)


def parse_map_beats(values) -> tuple[float, ...]:
    """A given tempo map's beats (s): empty, or at least two ascending finite times in the limits."""
    if not isinstance(values, (list, tuple)):
        raise OptionsError(f"map_beats must be a list of times in seconds, got {type(values).__name__}")
    if len(values) > limits.MAX_MAP_BEATS:
        raise OptionsError(f"at most {limits.MAX_MAP_BEATS} map beats, got {len(values)}")
    if any(isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v)
           or not 0 <= v <= limits.MAX_DURATION_S for v in values):
        raise OptionsError(f"map_beats must be times in [0, {limits.MAX_DURATION_S:g}] s")
    if len(values) == 1 or any(b <= a for a, b in zip(values, values[1:])):
        raise OptionsError("map_beats must be at least two strictly ascending times")
    return tuple(float(v) for v in values)


def parse_map_downbeats(values, beats: int) -> tuple[int, ...]:
    """Indices of a given map's bar starts: ascending, each a beat of the map."""
    if not isinstance(values, (list, tuple)) or any(isinstance(v, bool) or not isinstance(v, int) for v in values):
        raise OptionsError("map_downbeats must be a list of beat indices")
    if values and not beats:
        raise OptionsError("map_downbeats needs map_beats")
    if any(not 0 <= v < beats for v in values) or any(b <= a for a, b in zip(values, values[1:])):
        raise OptionsError(f"map_downbeats must be ascending indices into map_beats (0 to {beats - 1})")
    return tuple(values)


@dataclass(frozen=True)
class ScoreOptions:
    """How to score a motion.

    Attributes:
        genre: genre code/name (an AIST++ genre or a ballroom dance, see :mod:`.genres`), or
            None/"auto" to let the backbone choose. It sets the tempo map's tempo prior (and 3/4 for
            a waltz unless ``meter`` is given).
        prompt: free text that steers the music ("" for none).
        seed: random seed (0 .. 2**32-1); same motion + options + seed -> same audio.
        backbone: which backbone must serve the request; None accepts whatever the server runs.
        guidance: classifier-free guidance scale (ML backbones), None for the default.
        sample_rate: output sample rate in Hz.
        negative_motion: condition the unconditional branch on the reversed motion (ML backbones).
        rhythm_mode: "default", or "compat" to reproduce the original code's rhythm extraction.
        beat_lock: time-warp the music onto the tempo map's beats (at most +-8 % locally); None =
            automatic: on for the ML backbones, off for synth (already on the beat by construction).
        hits: sync points in seconds from the motion's first frame that the music must put a beat
            on (e.g. a punch); the tempo bends as little as possible to catch them.
        tempo_bpm: the tempo the music must take (BPM); None estimates it from the motion.
        meter: beats per bar, 3 or 4; None: the genre's (3/4 for a waltz), else from the motion (3/4
            where its rise and fall says so, else 4/4).
        map_beats, map_downbeats: a tempo map given whole (a composer's MIDI tempo map): its beats
            (s) and the indices of its bars' first beats; empty: the map is made from the motion.
            Past its last beat it continues at its last tempo.
        channels: "mono" or "stereo"; None for the backbone's own (stereo for stableaudio, mono
            for the others). "mono" downmixes a stereo backbone; "stereo" needs a stereo one.
    """

    genre: str | None = None
    prompt: str = ""
    seed: int = 0
    backbone: str | None = None
    guidance: float | None = None
    sample_rate: int = DEFAULT_SAMPLE_RATE
    negative_motion: bool = False
    rhythm_mode: str = "default"
    beat_lock: bool | None = None
    hits: tuple[float, ...] = ()
    tempo_bpm: float | None = None
    meter: int | None = None
    channels: str | None = None
    map_beats: tuple[float, ...] = ()
    map_downbeats: tuple[int, ...] = ()

    def __post_init__(self) -> None:
        try:
            object.__setattr__(self, "genre", parse_genre(self.genre))
        except UnknownGenreError as exc:
            raise OptionsError(str(exc)) from None
        if not isinstance(self.prompt, str) or len(self.prompt) > limits.MAX_PROMPT_CHARS:
            raise OptionsError(f"prompt must be text of at most {limits.MAX_PROMPT_CHARS} characters")
        try:
            build_prompt(self.prompt)  # a prompt with placeholders is a template: check it now
        except PromptError as exc:
            raise OptionsError(str(exc)) from None
        if isinstance(self.seed, bool) or not isinstance(self.seed, int) or not 0 <= self.seed < 2 ** 32:
            raise OptionsError(f"seed must be an integer in [0, 2^32), got {self.seed!r}")
        if self.backbone is not None and (not isinstance(self.backbone, str) or not self.backbone):
            raise OptionsError(f"backbone must be a name, got {self.backbone!r}")
        if self.guidance is not None:
            if isinstance(self.guidance, bool) or not isinstance(self.guidance, (int, float)) \
                    or not math.isfinite(self.guidance) or not 0 <= self.guidance <= 50:
                raise OptionsError(f"guidance must be a number in [0, 50], got {self.guidance!r}")
            object.__setattr__(self, "guidance", float(self.guidance))
        if isinstance(self.sample_rate, bool) or not isinstance(self.sample_rate, int) \
                or not limits.MIN_SAMPLE_RATE <= self.sample_rate <= limits.MAX_SAMPLE_RATE:
            raise OptionsError(f"sample_rate must be an integer in [{limits.MIN_SAMPLE_RATE}, "
                               f"{limits.MAX_SAMPLE_RATE}] Hz, got {self.sample_rate!r}")
        if not isinstance(self.negative_motion, bool):
            raise OptionsError("negative_motion must be true or false")
        if self.beat_lock is not None and not isinstance(self.beat_lock, bool):
            raise OptionsError("beat_lock must be true, false or nil (automatic)")
        object.__setattr__(self, "hits", parse_hits(self.hits))
        if self.tempo_bpm is not None:
            if isinstance(self.tempo_bpm, bool) or not isinstance(self.tempo_bpm, (int, float)) \
                    or not math.isfinite(self.tempo_bpm) \
                    or not limits.MIN_TEMPO_BPM <= self.tempo_bpm <= limits.MAX_TEMPO_BPM:
                raise OptionsError(f"tempo_bpm must be a number in [{limits.MIN_TEMPO_BPM:g}, "
                                   f"{limits.MAX_TEMPO_BPM:g}], got {self.tempo_bpm!r}")
            object.__setattr__(self, "tempo_bpm", float(self.tempo_bpm))
        if self.meter is not None and (isinstance(self.meter, bool) or self.meter not in (3, 4)):
            raise OptionsError(f"meter must be 3, 4 or nil (automatic), got {self.meter!r}")
        object.__setattr__(self, "map_beats", parse_map_beats(self.map_beats))
        object.__setattr__(self, "map_downbeats", parse_map_downbeats(self.map_downbeats, len(self.map_beats)))
        if self.channels is not None and self.channels not in CHANNELS:
            raise OptionsError(f"channels must be one of {', '.join(CHANNELS)} or nil (the backbone's own), "
                               f"got {self.channels!r}")
        if self.rhythm_mode not in RHYTHM_MODES:
            raise OptionsError(f"rhythm_mode must be one of {', '.join(RHYTHM_MODES)}, got {self.rhythm_mode!r}")

    def check_motion(self, duration: float) -> None:
        """Refuse hits outside the motion ([0, duration) seconds)."""
        late = [h for h in self.hits if h >= duration]
        if late:
            raise OptionsError(f"hit at {late[0]:g} s is outside the motion, which lasts {duration:g} s")

    def to_dict(self) -> dict:
        data = asdict(self)
        data["hits"] = list(self.hits)
        data["map_beats"] = list(self.map_beats)
        data["map_downbeats"] = list(self.map_downbeats)
        return data

    @classmethod
    def from_dict(cls, data: dict) -> "ScoreOptions":
        """Build from a plain mapping; unknown keys are refused (a typo must not pass silently)."""
        return from_plain(cls, data, "option")


@dataclass(frozen=True)
class ConformOptions:
    """How a song is fitted onto the tempo map (``motionscore conform``, the ``conform`` request).

    Attributes:
        start_s: the song time (seconds) near which the section starts, on a bar; None for the
            first bar that fits.
        loop: repeat the song by whole bars when it is shorter than the shot.
        force: allow a playing speed outside x0.75-x1.33.
    """

    start_s: float | None = None
    loop: bool = False
    force: bool = False

    def __post_init__(self) -> None:
        if self.start_s is not None and (isinstance(self.start_s, bool) or not isinstance(self.start_s, (int, float))
                                         or not math.isfinite(self.start_s) or self.start_s < 0):
            raise OptionsError(f"start_s must be a time in seconds >= 0, got {self.start_s!r}")
        for name in ("loop", "force"):
            if not isinstance(getattr(self, name), bool):
                raise OptionsError(f"{name} must be true or false, got {getattr(self, name)!r}")

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> "ConformOptions":
        """Build from a plain mapping; unknown keys are refused."""
        return from_plain(cls, data, "conform option")
