"""The genre vocabulary: the 10 AIST++ genres (the genre encoder's one-hot) and 10 ballroom dances.

The AIST++ genres are what the genre encoder was trained on. The ballroom dances have no embedding
of their own (the encoder sees them as automatic, the uniform one-hot); they set the tempo map's
prior and meter, the `synth` backbone's style and the genre words of a text-only prompt, so that an
animator who names the dance gets music at its tempo and in its meter.
"""

from __future__ import annotations

#: (code, display name), alphabetical by code as in the published genre encoder.
GENRES: tuple[tuple[str, str], ...] = (
    ("BR", "Break"),
    ("HO", "House"),
    ("JB", "Ballet Jazz"),
    ("JS", "Street Jazz"),
    ("KR", "Krump"),
    ("LH", "LA-style Hip-hop"),
    ("LO", "Lock"),
    ("MH", "Middle Hip-hop"),
    ("PO", "Pop"),
    ("WA", "Waack"),
)
#: The genre encoder's vocabulary (AIST++ codes, one-hot order).
GENRE_CODES: tuple[str, ...] = tuple(code for code, _ in GENRES)
#: Ballroom dances: (code, name, tempo range in BPM, beats per bar). The ranges are the WDSF
#: competition tempi in bars per minute times the beats a bar is counted in (waltz 28-30 bars of
#: 3/4; samba and paso doble, written in 2/4, counted in 4/4 bars of two of their bars); social
#: dance music strays outside them, which the tempo map's prior allows (soft tails).
BALLROOM: tuple[tuple[str, str, tuple[float, float], int], ...] = (
    ("CC", "Cha-cha", (120.0, 128.0), 4),
    ("FT", "Slow Foxtrot", (112.0, 120.0), 4),
    ("JV", "Jive", (168.0, 176.0), 4),
    ("PD", "Paso Doble", (120.0, 124.0), 4),
    ("QS", "Quickstep", (200.0, 208.0), 4),
    ("RB", "Rumba", (100.0, 108.0), 4),
    ("SB", "Samba", (100.0, 104.0), 4),
    ("TG", "Tango", (124.0, 132.0), 4),
    ("VW", "Viennese Waltz", (174.0, 180.0), 3),
    ("WZ", "Waltz", (84.0, 90.0), 3),
)
#: Every genre a user may name: code -> display name (AIST++ first, then ballroom).
GENRE_NAMES: dict[str, str] = dict(GENRES) | {code: name for code, name, _, _ in BALLROOM}
#: Tempo range (BPM) of each genre's music, the tempo map's prior when the genre is known: AIST++
#: music ids mXX0-5 are 80 + 10 k BPM (house 110 + 5 k BPM); ballroom as in BALLROOM.
GENRE_TEMPO_RANGE: dict[str, tuple[float, float]] = (
    {code: (110.0, 135.0) if code == "HO" else (80.0, 130.0) for code in GENRE_CODES}
    | {code: bpm_range for code, _, bpm_range, _ in BALLROOM})
#: The meter of each ballroom dance (3 for the waltzes, 4 for the rest): the tempo map's meter
#: unless the user sets one. For the AIST++ genres and without a genre the motion decides (see
#: :func:`motionscore.shared.tempo_map.estimate_tempo_map`): a named cha-cha is never played in 3/4.
GENRE_METER: dict[str, int] = {code: meter for code, _, _, meter in BALLROOM}
#: What a user may write to let the server pick the genre.
AUTO = "auto"


class UnknownGenreError(ValueError):
    """A genre string that is neither a code, a name nor 'auto'."""


def _key(text: str) -> str:
    return "".join(ch for ch in text.lower() if ch.isalnum())


_LOOKUP: dict[str, str] = {}
for _code, _name in GENRES:
    _LOOKUP[_key(_code)] = _code
    _LOOKUP[_key("g" + _code)] = _code  # AIST++ file-name form, e.g. gHO
    _LOOKUP[_key(_name)] = _code
for _code, _name, _, _ in BALLROOM:
    _LOOKUP[_key(_code)] = _code
    _LOOKUP[_key(_name)] = _code
_LOOKUP.update({"hiphop": "MH", "breakdance": "BR", "breaking": "BR", "locking": "LO",
                "popping": "PO", "waacking": "WA", "jazz": "JS", "ballet": "JB",
                "chachacha": "CC", "chacha": "CC", "foxtrot": "FT", "slowwaltz": "WZ", "englishwaltz": "WZ",
                "viennese": "VW", "pasodoble": "PD"})


def valid_genres_text() -> str:
    """One line listing what :func:`parse_genre` accepts, for error messages."""
    return "auto, " + ", ".join(f"{code} ({name})" for code, name in GENRE_NAMES.items())


def parse_genre(text: str | None) -> str | None:
    """Normalise a user's genre to its two-letter code, or None for automatic.

    Accepts codes (``HO``, ``WZ``), AIST++ file-name codes (``gHO``), names in any case and spacing
    (``house``, ``LA-style hip-hop``, ``cha-cha``), a few common aliases, and ``auto``/empty/None.

    Raises:
        UnknownGenreError: with the list of valid genres.
    """
    if text is None:
        return None
    key = _key(str(text))
    if key in ("", AUTO, "automatic", "none"):
        return None
    try:
        return _LOOKUP[key]
    except KeyError:
        raise UnknownGenreError(f"unknown genre {text!r}; valid genres: {valid_genres_text()}") from None


def genre_index(code: str) -> int:
    """Position of an AIST++ genre code in the encoder's one-hot vocabulary (0..9)."""
    return GENRE_CODES.index(code)


#: How far (relative) a tempo may lie outside its genre's range before :func:`tempo_note` speaks:
#: the 5 % within which a tempo counts as right (music in the genre strays a little).
TEMPO_NOTE_SLACK = 0.05


def tempo_note(code: str | None, bpm: float | None) -> str:
    """A line for the user when ``bpm`` (the tempo map's) does not suit the genre they named.

    "" when there is no genre, no tempo, or the tempo lies within the genre's range
    (GENRE_TEMPO_RANGE) give or take TEMPO_NOTE_SLACK; else e.g. "98 BPM is slow for Tango
    (124-132 BPM)", with "; x2 is 130 BPM" where doubling or halving the tempo lands in the range.
    The map lets clear motion evidence outweigh the genre's range; this says when it did, so that
    the user can choose another tempo (``--tempo``, the add-on's Tempo field or an alternative).
    """
    if code not in GENRE_TEMPO_RANGE or not bpm or bpm <= 0:
        return ""
    low, high = GENRE_TEMPO_RANGE[code]

    def suits(value: float) -> bool:
        return low / (1 + TEMPO_NOTE_SLACK) <= value <= high * (1 + TEMPO_NOTE_SLACK)

    if suits(bpm):
        return ""
    text = f"{bpm:.0f} BPM is {'slow' if bpm < low else 'fast'} for {GENRE_NAMES[code]} ({low:g}-{high:g} BPM)"
    for factor, label in ((2.0, "x2"), (0.5, "x1/2")):
        if suits(bpm * factor):
            text += f"; {label} is {bpm * factor:.0f} BPM"
    return text
