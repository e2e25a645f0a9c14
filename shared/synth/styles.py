"""Genre styles of the `synth` backbone: 16-step drum patterns, bass lines, chords, timbres.

Patterns are one bar of 4/4 in sixteenths ("x" hit, "o" soft hit / open hat, "." rest). Every
style puts a kick or a snare/clap on each quarter note so that the beat is unambiguous: the track
is a temp track whose job is to make the motion's beats audible. :func:`bar_patterns` gives a
style's bar in another meter (3/4: the style's first beat, then "oom-pah-pah").
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Style:
    name: str
    default_bpm: float
    swing: float            # delay of odd sixteenths, fraction of a sixteenth
    kick: str
    snare: str
    hats: str               # "x" closed, "o" open
    snare_voice: str        # "snare", "clap" or "brush"
    bass: str               # "x" note on the chord root, "5" fifth, "8" octave, "." rest
    bass_voice: str         # "synth", "sub", "upright"
    chord_voice: str        # "pad", "stab", "keys", "strings"
    chord_rhythm: str       # where chords are struck in the bar
    progressions: tuple[tuple[str, ...], ...]  # chord symbols relative to the key, one per bar
    minor: bool


@dataclass(frozen=True)
class BarPatterns:
    """One bar of a style in some meter: patterns of 4 sixteenths per beat (``4 * meter`` steps)."""

    kick: str
    snare: str
    hats: str
    bass: str
    chord_rhythm: str

    @property
    def steps(self) -> int:
        return len(self.kick)


def bar_patterns(style: Style, meter: int) -> BarPatterns:
    """The style's bar in ``meter`` beats: 4/4 as written; 3/4 keeps the style's first beat (its
    kick, hats and bass) and its hats over three beats, and puts the backbeat and the chords on
    beats 2 and 3, the waltz's "oom-pah-pah"."""
    if meter == 4:
        return BarPatterns(style.kick, style.snare, style.hats, style.bass, style.chord_rhythm)
    if meter != 3:
        raise ValueError(f"meter must be 3 or 4, got {meter!r}")
    pah = "....x...x..."
    return BarPatterns(kick=style.kick[:4] + "." * 8, snare=pah, hats=style.hats[:12],
                       bass=style.bass[:4] + "." * 8, chord_rhythm=pah)


# Chord symbols: roman degree + quality; the synth turns them into MIDI notes in the chosen key.
STYLES: dict[str, Style] = {
    "BR": Style("Break", 115, 0.10, "x.x...x...x.....", "....x.......x...", "x.x.x.x.x.x.x.xo",
                "snare", "x..x..x...x..5..", "synth", "stab", "x.........x.....",
                (("i7", "i7", "iv7", "v7"), ("i7", "VII", "VI", "v7")), True),
    "HO": Style("House", 122, 0.0, "x...x...x...x...", "....x.......x...", "x.o.x.o.x.o.x.o.",
                "clap", "..x...x...x...x.", "synth", "stab", "..x..x....x..x..",
                (("i7", "VI7", "III7", "VII"), ("i9", "iv9", "i9", "v7")), True),
    "JB": Style("Ballet Jazz", 100, 0.33, "x.......x.......", "....x.......x...", "x..xx..xx..xx..x",
                "brush", "x...5...x...5...", "upright", "keys", "x.....x.....x...",
                (("ii7", "V7", "Imaj7", "VImaj7"), ("Imaj7", "vi7", "ii7", "V7")), False),
    "JS": Style("Street Jazz", 105, 0.2, "x..x....x.x.....", "....x.......x...", "x.x.x.x.x.x.x.x.",
                "snare", "x..x....x.x..5..", "sub", "keys", "x.....x...x.....",
                (("i9", "iv9", "VII9", "III7"), ("i9", "VI7", "ii7", "v7")), True),
    "KR": Style("Krump", 100, 0.05, "x.....x.x.......", "....x.......x...", "x.x.x.x.x.x.x.x.",
                "clap", "x.......x.......", "sub", "pad", "x...............",
                (("i", "i", "VI", "v"), ("i", "iv", "i", "VII")), True),
    "LH": Style("LA-style Hip-hop", 96, 0.15, "x......x..x.....", "....x.......x...", "x.x.x.x.x.x.x.x.",
                "clap", "x......x..x.....", "sub", "pad", "x.......x.......",
                (("i7", "iv7", "VII", "III"), ("i7", "VI7", "iv7", "v7")), True),
    "LO": Style("Lock", 112, 0.08, "x.....x...x.....", "....x.......x...", "x.x.x.x.x.x.x.x.",
                "snare", "x..8....x.8...5.", "synth", "stab", "..x...x...x...x.",
                (("I9", "I9", "IV9", "I9"), ("I9", "IV9", "V9", "IV9")), False),
    "MH": Style("Middle Hip-hop", 92, 0.25, "x......xx.......", "....x.......x...", "x.x.x.x.x.x.x.x.",
                "snare", "x......xx.....5.", "sub", "keys", "x.......x.......",
                (("i7", "iv7", "VI7", "v7"), ("i9", "i9", "iv9", "VII7")), True),
    "PO": Style("Pop", 118, 0.0, "x...x...x...x...", "....x.......x...", "x.x.x.x.x.x.x.x.",
                "clap", "x.x.x.x.x.x.x.x.", "synth", "pad", "x.......x.......",
                (("I", "V", "vi", "IV"), ("vi", "IV", "I", "V")), False),
    "WA": Style("Waack", 124, 0.0, "x...x...x...x...", "....x.......x...", "..o...o...o...o.",
                "clap", "x.8.x.8.x.8.x.8.", "synth", "strings", "x...............",
                (("Imaj7", "vi7", "ii7", "V7"), ("IVmaj7", "iii7", "vi7", "II7")), False),
    # Ballroom dances (shared.genres.BALLROOM): default tempo mid-way in the WDSF range; the waltzes
    # are written in 4/4 like the rest and played in 3/4 by bar_patterns.
    "CC": Style("Cha-cha", 124, 0.0, "x...x...x...x...", "....x.......x...", "x.x.x.x.x.x.xxx.",
                "clap", "x.....x.x.....5.", "upright", "keys", "..x...x...x.x...",
                (("i", "iv", "V7", "i"), ("i", "VI", "iv", "V7")), True),
    "FT": Style("Slow Foxtrot", 116, 0.33, "x.......x.......", "....x.......x...", "x..xx..xx..xx..x",
                "brush", "x...5...8...5...", "upright", "keys", "x.......x.......",
                (("Imaj7", "vi7", "ii7", "V7"), ("iii7", "vi7", "ii7", "V7")), False),
    "JV": Style("Jive", 172, 0.33, "x.......x.......", "....x.......x...", "x.xxx.xxx.xxx.xx",
                "snare", "x...x...5...x...", "upright", "keys", "..x...x...x...x.",
                (("I", "I", "IV", "I"), ("V7", "IV", "I", "V7")), False),
    "PD": Style("Paso Doble", 122, 0.0, "x...x...x...x...", "....x.......x...", "x.x.x.x.x.x.x.x.",
                "snare", "x...5...x...5...", "upright", "strings", "x...x...x...x...",
                (("i", "i", "V7", "i"), ("i", "iv", "V7", "i")), True),
    "QS": Style("Quickstep", 204, 0.2, "x.......x.......", "....x.......x...", "x.x.x.x.x.x.x.x.",
                "brush", "x...5...x...5...", "upright", "keys", "..x.......x.....",
                (("I", "vi", "ii7", "V7"), ("I", "VI7", "II7", "V7")), False),
    "RB": Style("Rumba", 104, 0.0, "x.....x.x.......", "....x.......x...", "x.x.x.x.x.x.x.x.",
                "brush", "x.....x.x.......", "upright", "keys", "...x..x....x..x.",
                (("i", "iv", "V7", "i"), ("i", "VI", "iv", "V7")), True),
    "SB": Style("Samba", 102, 0.0, "x..xx..xx..xx..x", "....x.......x...", "x.xxx.xxx.xxx.xx",
                "clap", "x..5x..5x..5x..5", "synth", "stab", "..x..x....x..x..",
                (("I", "vi", "ii7", "V7"), ("I", "I", "IV", "V7")), False),
    "TG": Style("Tango", 128, 0.0, "x...x...x...x...", "............x.x.", "x...x...x...x...",
                "snare", "x...x...x...x.x.", "upright", "strings", "x...x...x...x.x.",
                (("i", "i", "V7", "V7"), ("i", "iv", "V7", "i")), True),
    "VW": Style("Viennese Waltz", 177, 0.0, "x...............", "....x.......x...", "x...x...x...x...",
                "brush", "x.......5.......", "upright", "strings", "x...x...x...x...",
                (("I", "I", "V7", "V7"), ("I", "IV", "V7", "I")), False),
    "WZ": Style("Waltz", 87, 0.0, "x...............", "....x.......x...", "x...x...x...x...",
                "brush", "x.......5.......", "upright", "strings", "x...x...x...x...",
                (("Imaj7", "vi7", "ii7", "V7"), ("I", "iii", "IV", "V7")), False),
}

_DEGREES = {"i": 0, "ii": 2, "iii": 4, "iv": 5, "v": 7, "vi": 9, "vii": 11}
_MINOR_DEGREES = {"i": 0, "ii": 2, "iii": 3, "iv": 5, "v": 7, "vi": 8, "vii": 10}


def chord_notes(symbol: str, key_root: int, minor_key: bool) -> tuple[int, list[int]]:
    """(bass root MIDI note, chord MIDI notes) for a roman-numeral symbol like ``iv7``/``Imaj7``."""
    roman = "".join(ch for ch in symbol if ch.lower() in "iv")
    quality = symbol[len(roman):]
    table = _MINOR_DEGREES if minor_key else _DEGREES
    root = key_root + table[roman.lower()]
    minor = roman.islower()
    third = 3 if minor else 4
    intervals = [0, third, 7]
    if quality in ("7", "9"):
        intervals.append(10)
    if quality == "maj7":
        intervals.append(11)
    if quality == "9":
        intervals.append(14)
    notes = [60 + (root % 12) + i for i in intervals]
    # Keep voicings within an octave and a half above middle C minus a fourth.
    notes = [n - 12 if n > 74 else n for n in notes]
    return 36 + (root % 12), sorted(notes)
