"""The backbone interface every music generator implements (synth now; MusicGen, Riffusion and
AudioLDM adapters slot in behind the same verbs)."""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field

import numpy as np

from motionscore.shared.progress import Cancelled, ProgressFn, no_progress
from motionscore.shared.rhythm import Rhythm

__all__ = ["Backbone", "Cancelled", "Generation", "GenerationRequest", "ProgressFn", "no_progress"]


@dataclass(frozen=True)
class GenerationRequest:
    """What a backbone needs to make one piece of music.

    Attributes:
        rhythm: the motion's rhythm (60 Hz envelope, onsets, kinematic beats in seconds).
        duration: output length in seconds; the audio has exactly round(duration * sample_rate)
            samples.
        sample_rate: output rate in Hz.
        genre: genre code, or None to let the backbone choose.
        prompt: free text that steers the result ("" for none).
        seed: random seed; the same request and seed give the same audio.
        guidance: classifier-free guidance scale, None for the backbone's default.
        negative_rhythm: rhythm of the reversed motion, for negative conditioning, or None.
        channels: 1 (mono, (n,) audio) or 2 (stereo, (n, 2) audio; only backbones whose
            ``channels`` is 2 are asked for it).
    """

    rhythm: Rhythm
    duration: float
    sample_rate: int
    genre: str | None = None
    prompt: str = ""
    seed: int = 0
    guidance: float | None = None
    negative_rhythm: Rhythm | None = None
    channels: int = 1

    @property
    def num_samples(self) -> int:
        return int(round(self.duration * self.sample_rate))


@dataclass
class Generation:
    """A backbone's output: float32 audio in [-1, 1], (num_samples,) mono or (num_samples, 2)
    stereo as the request's ``channels`` asked."""

    audio: np.ndarray
    sample_rate: int
    genre: str | None = None
    #: Facts the user should know about how this take was made (e.g. "text-only: no encoders").
    notes: list[str] = field(default_factory=list)
    #: Backbone-specific details worth recording with the take (tempo used, key, model ids...).
    info: dict = field(default_factory=dict)


class Backbone(ABC):
    """A music generator. Implementations must be safe to call from one worker thread at a time."""

    #: Registry name, e.g. "synth", "musicgen".
    name: str = ""
    #: Rhythm extraction mode the loaded weights need ("compat" for the original release), or None.
    rhythm_mode: str | None = None
    #: Most requests the server hands to one generate_batch call.
    max_batch: int = 1
    #: Channels the model makes: 1 (mono) or 2 (stereo; it honours GenerationRequest.channels).
    channels: int = 1

    @property
    @abstractmethod
    def model_id(self) -> str:
        """What weights are loaded (hub id, local path, "tiny", or "procedural")."""

    @abstractmethod
    def generate(self, request: GenerationRequest, progress: ProgressFn = no_progress) -> Generation:
        """Make music for one request. Must call ``progress`` between steps so cancel works."""

    def generate_batch(self, requests: list[GenerationRequest], progress: ProgressFn = no_progress) -> list[Generation]:
        """Several requests at once (ML backbones run them as one batch); default: one by one."""
        return [self.generate(r, progress) for r in requests]

    def describe(self) -> dict:
        """Plain-data description for the server's info message."""
        return {"name": self.name, "model_id": self.model_id, "channels": self.channels}
