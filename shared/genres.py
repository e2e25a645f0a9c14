"""The genre vocabulary: the 10 AIST++ genres, alphabetical by code (the order of the one-hot)."""

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
GENRE_CODES: tuple[str, ...] = tuple(code for code, _ in GENRES)
GENRE_NAMES: dict[str, str] = dict(GENRES)
#: Tempo range (BPM) of each genre's music in AIST++ (music ids mXX0-5: 80 + 10 k BPM; house
#: 110 + 5 k BPM): the tempo map's prior when the genre is known.
GENRE_TEMPO_RANGE: dict[str, tuple[float, float]] = {code: (110.0, 135.0) if code == "HO" else (80.0, 130.0)
                                                     for code in GENRE_CODES}
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
_LOOKUP.update({"hiphop": "MH", "breakdance": "BR", "breaking": "BR", "locking": "LO",
                "popping": "PO", "waacking": "WA", "jazz": "JS", "ballet": "JB"})


def valid_genres_text() -> str:
    """One line listing what :func:`parse_genre` accepts, for error messages."""
    return "auto, " + ", ".join(f"{code} ({name})" for code, name in GENRES)


def parse_genre(text: str | None) -> str | None:
    """Normalise a user's genre to its two-letter code, or None for automatic.

    Accepts codes (``HO``), AIST++ file-name codes (``gHO``), names in any case and spacing
    (``house``, ``LA-style hip-hop``), a few common aliases, and ``auto``/empty/None.

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
    """Position of a genre code in the one-hot vocabulary (0..9)."""
    return GENRE_CODES.index(code)
