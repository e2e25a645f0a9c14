"""Captions in words: the tempo and first-beat vocabulary a tiny MusicGen is pretrained on.

A caption names the genre, the tempo ("125 bpm", rounded to TEMPO_STEP) and where the first beat
falls ("first beat 8", in ONSET_STEP_S steps). The tiny model's word-level tokenizer holds exactly
these words (CAPTION_WORDS), so every caption is in its vocabulary.
"""

from __future__ import annotations

from motionscore.shared.genres import GENRE_NAMES

#: Caption tempo resolution (BPM): captions say "125 bpm", not "123.7 bpm".
TEMPO_STEP = 5
TEMPO_WORDS = tuple(str(b) for b in range(60, 201, TEMPO_STEP))
#: Where the first beat falls, in steps of this many seconds (one EnCodec frame of the tiny model).
ONSET_STEP_S = 0.04
ONSET_WORDS = tuple(str(n) for n in range(0, 26))
CAPTION_WORDS = ("at", "bpm", "first") + TEMPO_WORDS + tuple(w for w in ONSET_WORDS if w not in TEMPO_WORDS)
_TEMPLATES = ("a {genre} music at {bpm} bpm first beat {onset}", "{bpm} bpm {genre} music first beat {onset}",
              "a {genre} music with {bpm} bpm first beat {onset} as the rhythm")
#: How many caption templates :func:`caption` cycles through (its ``variant``).
CAPTION_VARIANTS = len(_TEMPLATES)


def tempo_word(bpm: float) -> str:
    """The caption's tempo: ``bpm`` rounded to TEMPO_STEP and clamped to the vocabulary."""
    value = int(round(bpm / TEMPO_STEP) * TEMPO_STEP)
    return str(min(max(value, int(TEMPO_WORDS[0])), int(TEMPO_WORDS[-1])))


def onset_word(first_beat_s: float) -> str:
    """The caption's first-beat position: seconds -> ONSET_STEP_S steps, clamped to the vocabulary."""
    return str(min(max(int(round(first_beat_s / ONSET_STEP_S)), 0), len(ONSET_WORDS) - 1))


def caption(genre: str | None, bpm: float, first_beat_s: float, variant: int = 0) -> str:
    """A text-only caption naming the genre (AIST++ code, e.g. "gHO"), the tempo (BPM) and where the
    first beat falls (seconds from the start)."""
    name = GENRE_NAMES.get(genre, "") if genre else ""
    # "LA-style Hip-hop" -> "la style hip hop": the vocabulary holds the words, not the hyphen.
    text = _TEMPLATES[variant % len(_TEMPLATES)].format(genre=name.lower().replace("-", " "), bpm=tempo_word(bpm),
                                                        onset=onset_word(first_beat_s))
    return " ".join(text.split())
