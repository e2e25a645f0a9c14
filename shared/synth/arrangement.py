"""The synth: a procedural, beat-locked temp-track generator (drums, bass, harmony) needing no weights.

Pure numpy, so it is the one implementation behind both engines: the server's ``synth`` backbone
and the add-on's built-in engine call :func:`render`, and the same rhythm, options and seed give
bit-identical audio either way.

The tempo map's beats become the music's beat grid: every beat of the track sits on a beat of the
map, the grid is extended at the tempo of the nearest beats before the first and after the last,
and tempo changes are followed beat by beat. Bars follow the map's meter and downbeats (3/4 plays
the style's "oom-pah-pah" bar, :func:`.synth_styles.bar_patterns`); without a map the first beat
is a downbeat, in 4/4. Each of the 10 AIST++ genres has its own drum pattern, swing, bass line,
chord progression and timbres (:mod:`.synth_styles`). The seed picks the key, the progression and
the fills; the same request and seed give bit-identical audio.
"""

from __future__ import annotations

import numpy as np

from dataclasses import dataclass, field

from ..genres import GENRE_CODES, GENRE_NAMES, GENRE_TEMPO_RANGE
from ..progress import ProgressFn, no_progress
from ..rhythm import Rhythm
from . import voices
from .styles import STYLES, BarPatterns, Style, bar_patterns, chord_notes

GAINS = {"kick": 0.9, "snare": 0.35, "hat": 0.15, "bass": 0.45, "chord": 0.25}
OFFBEAT_KICK = 0.6
FAST_BPM = 130.0
FAST_GHOST = 0.7
# Below ~95 BPM syncopations and eighth-note hats read as double time, and above ~130 BPM
# syncopated kicks blur the pulse: play them softer there.
SLOW_BPM = 95.0
EDGE_OFFBEAT_KICK = 0.3
SLOW_OFFBEAT_HAT = 0.25
# Bass notes and chords struck off the quarter note, relative to those on it.
OFFBEAT_PITCHED = 0.8
SLOW_OFFBEAT_PITCHED = 0.35
PEAK = 0.89  # -1 dBFS
#: A map in 3/4 without a genre plays as a Viennese waltz from this tempo (BPM) up, else as a waltz:
#: the geometric middle between the top of the waltz's range and the bottom of the Viennese waltz's.
VIENNESE_FROM_BPM = float(np.sqrt(GENRE_TEMPO_RANGE["WZ"][1] * GENRE_TEMPO_RANGE["VW"][0]))


def beat_grid(beats: np.ndarray, duration: float, default_bpm: float) -> tuple[np.ndarray, int]:
    """Beat times covering [0, duration] and the index of the first of ``beats`` in them.

    Args:
        beats: the tempo map's beat times (s), ascending; fewer than 2 means no usable pulse.
    Returns:
        (grid (n,) seconds with grid[0] <= 0 and grid[-1] >= duration, index of ``beats[0]``).
    """
    beats = np.asarray(beats, dtype=np.float64)
    if beats.size < 2:
        period = 60.0 / default_bpm
        return np.arange(0.0, duration + period, period), 0
    first_period = beats[1] - beats[0]
    last_period = beats[-1] - beats[-2]
    before = int(np.ceil(beats[0] / first_period)) if beats[0] > 0 else 0
    head = beats[0] - first_period * np.arange(before, 0, -1)
    after = int(np.ceil(max(duration - beats[-1], 0.0) / last_period))
    tail = beats[-1] + last_period * np.arange(1, after + 1)
    return np.concatenate([head, beats, tail]), before


def bar_positions(size: int, first: int, downbeats: np.ndarray | None, meter: int) -> tuple[np.ndarray, np.ndarray]:
    """(bar number, beat in the bar), each (size,), for every beat of a grid whose beat ``first``
    is the map's beat 0.

    ``downbeats``: indices into the map's beats where bars start (every ``meter`` beats within a
    tempo segment; a new segment starts a new bar); None or empty: a bar every ``meter`` beats from
    grid beat ``first``. Before the first and after the last downbeat, bars of ``meter`` beats.
    """
    index = np.arange(size) - first
    starts = np.asarray(downbeats if downbeats is not None else [], dtype=np.int64)
    if starts.size == 0:
        starts = np.zeros(1, dtype=np.int64)
    # The latest bar start at or before each beat (the first one for beats before it).
    latest = np.maximum(np.searchsorted(starts, index, side="right") - 1, 0)
    rel = index - starts[latest]
    return (latest + rel // meter).astype(np.int64), (rel % meter).astype(np.int64)


def choose_genre(tempo_bpm: float | None, seed: int, meter: int | None = None) -> str:
    """Automatic genre: for a map in 3/4 a waltz (a Viennese one from VIENNESE_FROM_BPM), a style
    made for three beats; else the AIST++ style whose typical tempo is nearest the motion's (seed
    breaks ties)."""
    if meter == 3:
        return "VW" if tempo_bpm is not None and tempo_bpm >= VIENNESE_FROM_BPM else "WZ"
    if tempo_bpm is None:
        return GENRE_CODES[seed % len(GENRE_CODES)]
    # Fold the tempo into the styles' range so a half- or double-time estimate still matches.
    while tempo_bpm > 135:
        tempo_bpm /= 2
    while tempo_bpm < 75:
        tempo_bpm *= 2
    distances = [(abs(STYLES[c].default_bpm - tempo_bpm), (i - seed) % len(GENRE_CODES), c)
                 for i, c in enumerate(GENRE_CODES)]
    return min(distances)[2]


#: The parts a take is made of (its stems), in mixing order.
PARTS = ("drums", "bass", "chords")
#: General MIDI drum keys of the synth's drum sounds.
GM_KICK, GM_SNARE, GM_CLAP, GM_CLOSED_HAT, GM_OPEN_HAT = 36, 38, 39, 42, 46
#: Length written for a drum hit in note tracks (s).
DRUM_NOTE_S = 0.05


class _Mixer:
    """Accumulates notes into one buffer per part; notes may start before 0 or run past the end."""

    def __init__(self, num_samples: int, sr: int):
        self.parts = {part: np.zeros(num_samples, dtype=np.float64) for part in PARTS}
        self.sr = sr
        #: What each part played: (start s, length s, MIDI pitches, gain), for note tracks.
        self.events: dict[str, list] = {part: [] for part in PARTS}

    def add(self, t: float, note: np.ndarray, gain: float, part: str, pitches: tuple = (),
            length: float | None = None) -> None:
        """Mix ``note`` (samples) at ``t`` s into ``part``; ``pitches`` (MIDI numbers; General MIDI
        drum keys for the drums) and ``length`` (s, default the sound's) describe it as notes."""
        if pitches:
            self.events[part].append((t, length if length is not None else note.shape[0] / self.sr, pitches, gain))
        buffer = self.parts[part]
        start = int(round(t * self.sr))
        lo, hi = max(start, 0), min(start + note.shape[0], buffer.shape[0])
        if hi > lo:
            buffer[lo:hi] += gain * note[lo - start:hi - start]

    @property
    def buffer(self) -> np.ndarray:
        """The mix before mastering."""
        return self.parts["drums"] + self.parts["bass"] + self.parts["chords"]


@dataclass
class SynthTake:
    """A rendered take: ``audio`` float32 (num_samples,) in [-1, 1] at the requested rate."""

    audio: np.ndarray
    genre: str
    #: Facts the user should know about how the take was made (e.g. the genre chosen for them).
    notes: list[str] = field(default_factory=list)
    #: What the synth chose: tempo (BPM), meter, key, progression, style name.
    info: dict = field(default_factory=dict)
    #: With ``stems=True``: float32 (num_samples,) per part (PARTS), summing to ``audio``.
    stems: dict | None = None
    #: What each part played: (start s, length s, MIDI pitches, gain) per note (drums: GM keys).
    events: dict = field(default_factory=dict)


def num_samples(duration: float, sample_rate: int) -> int:
    """Samples of a take ``duration`` seconds long: round(duration * sample_rate)."""
    return int(round(duration * sample_rate))


def render(rhythm: Rhythm, duration: float, sample_rate: int, genre: str | None = None, seed: int = 0,
           prompt: str = "", progress: ProgressFn = no_progress, stems: bool = False) -> SynthTake:
    """Music on ``rhythm``'s tempo map (its beats, bars and meter), ``duration`` seconds long.

    Args:
        rhythm: the motion's rhythm; its ``beat_times`` (s) become the music's beats.
        duration: length in seconds; the audio has :func:`num_samples` samples.
        sample_rate: Hz.
        genre: genre code, or None to choose one from the map's tempo and meter.
        seed: picks the key, the progression and the fills.
        prompt: free text; the synth cannot follow it and says so in the notes.
        progress: called between beats; may raise ``Cancelled``.
        stems: also return each part as mastered in the mix: the master's per-sample gain (its
            soft clip, level and fades) applied to the part, so the stems sum to the take.
    """
    rng = np.random.default_rng(seed)
    notes: list[str] = []
    if genre is None:
        genre = choose_genre(rhythm.tempo_bpm, seed, rhythm.tempo_map.meter if rhythm.tempo_map is not None else None)
        notes.append(f"genre chosen automatically: {GENRE_NAMES[genre]}")
    style = STYLES[genre]
    if rhythm.beat_times.size < 2:
        notes.append(f"no kinematic beats found: steady {style.default_bpm:g} BPM")
    if prompt:
        notes.append("synth ignores the text prompt (use an ML backbone for text control)")
    grid, first = beat_grid(rhythm.beat_times, duration, style.default_bpm)
    tempo_map = rhythm.tempo_map
    meter = tempo_map.meter if tempo_map is not None else 4
    bars = bar_positions(grid.size, first, tempo_map.downbeats if tempo_map is not None else None, meter)
    key_root = int(rng.integers(0, 12))
    progression = style.progressions[int(rng.integers(len(style.progressions)))]
    mixer = _Mixer(num_samples(duration, sample_rate), sample_rate)
    _render(mixer, style, bar_patterns(style, meter), grid, bars, key_root, progression, rng, progress)
    mix = mixer.buffer
    audio = _master(mix, sample_rate)
    parts = None
    if stems:
        gain = np.divide(audio, mix, out=np.zeros_like(mix), where=mix != 0)
        parts = {part: (buffer * gain).astype(np.float32) for part, buffer in mixer.parts.items()}
    tempo = float(60.0 / np.median(np.diff(grid))) if grid.size >= 2 else style.default_bpm
    info = {"tempo_bpm": round(tempo, 2), "meter": meter, "key": _key_name(key_root, style.minor),
            "progression": list(progression), "style": style.name}
    return SynthTake(audio=audio, genre=genre, notes=notes, info=info, stems=parts, events=mixer.events)


def _key_name(root: int, minor: bool) -> str:
    names = ["C", "C#", "D", "Eb", "E", "F", "F#", "G", "Ab", "A", "Bb", "B"]
    return names[root % 12] + (" minor" if minor else " major")


def _render(mixer: _Mixer, style: Style, bar: BarPatterns, grid: np.ndarray, bars: tuple[np.ndarray, np.ndarray],
            key_root: int, progression: tuple[str, ...], rng: np.random.Generator, progress: ProgressFn) -> None:
    """Render ``style`` with the bar ``bar`` onto ``grid`` (n,) beat times in seconds, whose
    beats have (bar number, beat in the bar) ``bars``."""
    sr = mixer.sr
    drum_rng = np.random.default_rng(rng.integers(1 << 31))
    kick = voices.kick(sr, drum_rng)
    if style.snare_voice == "clap":
        backbeat = voices.clap(sr, drum_rng)
    else:
        backbeat = voices.snare(sr, drum_rng, brush=style.snare_voice == "brush")
    backbeat_key = GM_CLAP if style.snare_voice == "clap" else GM_SNARE
    closed, opened = voices.hat(sr, drum_rng), voices.hat(sr, drum_rng, open_=True)
    note_cache: dict[tuple, np.ndarray] = {}

    def cached(key: tuple, make) -> np.ndarray:
        if key not in note_cache:
            note_cache[key] = make()
        return note_cache[key]

    meter = bar.steps // 4
    bar_numbers, beats_in_bar = bars
    fill_bars = {b for b in range(int(bar_numbers.min()), int(bar_numbers.max()) + 1)
                 if b % 8 == 7 and rng.random() < 0.7}
    total_beats = len(grid) - 1
    for k in range(total_beats):
        if k % 4 == 0:
            progress(k / max(total_beats, 1), f"rendering beat {k + 1}/{total_beats}")
        start, period = grid[k], grid[k + 1] - grid[k]
        fast = period < 60.0 / FAST_BPM
        slow = period > 60.0 / SLOW_BPM
        bar_number, beat_in_bar = int(bar_numbers[k]), int(beats_in_bar[k])
        # Before the map's first downbeat the take plays a pickup of plain quarter kicks and hats.
        # Entering a bar on its backbeat made librosa hear a 120 BPM house take as 80 BPM and an
        # 80 BPM break take as 160 (synthetic takes of every style, 80-140 BPM, all four bar
        # phases: 2 of 80 at 48 kHz and 1 of 72 at 22.05 kHz, all entering on beat 2 or 4; none
        # with the pickup).
        pickup = bar_number < 0
        chord_symbol = progression[bar_number % len(progression)]
        bass_root, chord_pitches = chord_notes(chord_symbol, key_root, style.minor)
        for j in range(4):
            step = beat_in_bar * 4 + j
            offset = j + (style.swing if j % 2 else 0.0)
            t = start + period * offset / 4
            human = 1.0 + 0.08 * (rng.random() - 0.5)
            pitched = 1.0 if j == 0 else (SLOW_OFFBEAT_PITCHED if slow else OFFBEAT_PITCHED)
            # A kick on every quarter keeps the pulse unambiguous (beat trackers otherwise lock to
            # half or double time); the style's own off-quarter kicks add the groove, softer.
            if j == 0:
                mixer.add(t, kick, GAINS["kick"] * human, "drums", (GM_KICK,), DRUM_NOTE_S)
                if pickup:
                    mixer.add(t, closed, GAINS["hat"] * human, "drums", (GM_CLOSED_HAT,), DRUM_NOTE_S)
            if pickup:
                continue
            if j != 0 and bar.kick[step] != ".":
                mixer.add(t, kick, GAINS["kick"] * (EDGE_OFFBEAT_KICK if slow or fast else OFFBEAT_KICK) * human, "drums",
                           (GM_KICK,), DRUM_NOTE_S)
            fill = bar_number in fill_bars and beat_in_bar == meter - 1 and j in (1, 2, 3)
            if bar.snare[step] != "." or fill:
                mixer.add(t, backbeat, GAINS["snare"] * human * (0.6 if fill else 1.0), "drums", (backbeat_key,),
                          DRUM_NOTE_S)
            elif j == 0 and fast:
                # Above ~130 BPM a backbeat on 2 and 4 only reads as half time: ghost 1 and 3.
                mixer.add(t, backbeat, GAINS["snare"] * FAST_GHOST * human, "drums", (backbeat_key,), DRUM_NOTE_S)
            hat = bar.hats[step]
            if hat != ".":
                accent = 1.0 if j == 0 else (0.6 * SLOW_OFFBEAT_HAT if slow else 0.6)
                mixer.add(t, opened if hat == "o" else closed, GAINS["hat"] * accent * human, "drums",
                          (GM_OPEN_HAT if hat == "o" else GM_CLOSED_HAT,), DRUM_NOTE_S)
            b = bar.bass[step]
            if b != ".":
                length = period * _steps_until_next(bar.bass, step) / 4
                pitch = bass_root + {"x": 0, "5": 7, "8": 12}[b]
                note = cached(("bass", pitch, round(length, 2)),
                              lambda: voices.bass(sr, pitch, round(length, 2), style.bass_voice))
                mixer.add(t, note, GAINS["bass"] * pitched * human, "bass", (int(round(pitch)),), round(length, 2))
            if bar.chord_rhythm[step] != ".":
                length = period * _steps_until_next(bar.chord_rhythm, step) / 4
                length = min(length, period * meter) if style.chord_voice != "stab" else min(length, period / 2)
                note = cached(("chord", chord_symbol, round(length, 2)),
                              lambda: voices.chord(sr, chord_pitches, round(length, 2), style.chord_voice))
                mixer.add(t, note, GAINS["chord"] * pitched * human, "chords",
                          tuple(int(round(p)) for p in chord_pitches), round(length, 2))
    progress(1.0, "mixing")


def _steps_until_next(pattern: str, step: int) -> int:
    """Sixteenths from ``step`` to the next hit in the (cyclic) pattern, at least 1."""
    size = len(pattern)
    for distance in range(1, size + 1):
        if pattern[(step + distance) % size] != ".":
            return distance
    return size


def _master(buffer: np.ndarray, sr: int) -> np.ndarray:
    """Soft-clip, normalise to -1 dBFS, short fades at both ends; float32."""
    if not buffer.any():
        return buffer.astype(np.float32)
    out = np.tanh(1.3 * buffer / (np.abs(buffer).max() + 1e-9))
    out *= PEAK / (np.abs(out).max() + 1e-9)
    fade_in, fade_out = min(out.size, int(0.005 * sr)), min(out.size, int(0.03 * sr))
    out[:fade_in] *= np.linspace(0.0, 1.0, fade_in)
    out[out.size - fade_out:] *= np.linspace(1.0, 0.0, fade_out)
    return out.astype(np.float32)
