"""The options of a scoring request, validated the same way on both sides of the wire."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, fields

from . import limits
from .genres import UnknownGenreError, parse_genre
from .prompts import PromptError, build_prompt

DEFAULT_SAMPLE_RATE = 48_000  # Blender's default audio mix rate
RHYTHM_MODES = ("default", "compat")


class OptionsError(ValueError):
    """An option with a bad value: the message names it and says what is allowed."""


@dataclass(frozen=True)
class ScoreOptions:
    """How to score a motion.

    Attributes:
        genre: genre code/name, or None/"auto" to let the backbone choose.
        prompt: free text that steers the music ("" for none).
        seed: random seed (0 .. 2**32-1); same motion + options + seed -> same audio.
        backbone: which backbone must serve the request; None accepts whatever the server runs.
        guidance: classifier-free guidance scale (ML backbones), None for the default.
        sample_rate: output sample rate in Hz.
        negative_motion: condition the unconditional branch on the reversed motion (ML backbones).
        rhythm_mode: "default", or "compat" to reproduce the original code's rhythm extraction.
        beat_lock: time-warp the music onto the kinematic beats (at most +-8 % locally); None =
            automatic: on for the ML backbones, off for synth (already on the beat by construction).
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
        if self.rhythm_mode not in RHYTHM_MODES:
            raise OptionsError(f"rhythm_mode must be one of {', '.join(RHYTHM_MODES)}, got {self.rhythm_mode!r}")

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> "ScoreOptions":
        """Build from a plain mapping; unknown keys are refused (a typo must not pass silently)."""
        if not isinstance(data, dict):
            raise OptionsError("options must be a map")
        names = {f.name for f in fields(cls)}
        unknown = sorted(str(k) for k in data if k not in names)
        if unknown:
            raise OptionsError(f"unknown option(s): {', '.join(unknown)}; known: {', '.join(sorted(names))}")
        return cls(**data)
