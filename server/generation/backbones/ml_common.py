"""What the ML backbones share: encoders, prompt text, negative rhythm, exact-length output."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import torch

from motionscore.shared.genres import GENRE_NAMES

from motionscore.server.model.checkpoint import load_checkpoint, load_released
from motionscore.server.model.encoders import resample_onsets
from motionscore.shared.prompts import build_prompt, fill, tempo_words
from .base import Generation, GenerationRequest, ProgressFn, no_progress
from .windows import join_windows, plan_windows


def exact_length(audio: np.ndarray, source_rate: int, request: GenerationRequest) -> np.ndarray:
    """Resample (n,) float audio to the request's rate and cut/pad to exactly its sample count."""
    audio = np.asarray(audio, dtype=np.float32)
    if source_rate != request.sample_rate:
        import librosa

        audio = librosa.resample(audio, orig_sr=source_rate, target_sr=request.sample_rate)
    n = request.num_samples
    if audio.size >= n:
        return np.ascontiguousarray(audio[:n], dtype=np.float32)
    return np.concatenate([audio, np.zeros(n - audio.size, np.float32)])


class MLBackboneMixin:
    """Needs ``name``, ``text_dim``, ``device``, ``_model_id``; provides encoders, prompts, batching
    and long shots."""

    encoders = None
    rhythm_mode: str | None = None
    max_batch = 8
    #: Longest piece made in one go (s) and the overlap between windows of longer ones.
    window_s: float = 5.12
    window_overlap_s: float = 1.0

    @property
    def model_id(self) -> str:
        """What the backbone was loaded from: "tiny", a hub id or a folder (set as ``_model_id``)."""
        return self._model_id

    def load_encoders(self, path: str | None, encoders_format: str = "motionscore") -> None:
        if path is None:
            self.encoders, self.encoders_id = None, None
            return
        ckpt = load_released(path, self.device) if encoders_format == "released" else \
            load_checkpoint(path, backbone=self.name, dim=self.text_dim, device=self.device)
        if ckpt.encoders.config.dim != self.text_dim:
            raise ValueError(f"{path}: encoders write {ckpt.encoders.config.dim}-d vectors, "
                             f"this model's text embeddings are {self.text_dim}-d")
        for p in ckpt.encoders.parameters():
            p.requires_grad_(False)
        self.encoders, self.encoders_id = ckpt.encoders, str(path)
        self.rhythm_mode = ckpt.rhythm_mode

    def prompt_text(self, request: GenerationRequest, rhythm_token: str, genre_token: str) -> str:
        prompt = build_prompt(request.prompt)
        if self.encoders is not None:
            return fill(prompt, rhythm_token, genre_token)
        genre = GENRE_NAMES.get(request.genre, "") if request.genre else ""
        # Without encoders the motion reaches the music only as words: its tempo map's tempo and meter.
        tempo_map = request.rhythm.tempo_map
        tempo = tempo_words(request.rhythm.tempo_bpm, tempo_map.meter if tempo_map is not None else None)
        text = " ".join(fill(prompt, "a steady beat", genre).split())
        return f"{text}, {tempo}" if tempo else text

    def _sequences(self, rhythms) -> torch.Tensor:
        length = self.encoders.config.seq_len
        rows = [resample_onsets(torch.as_tensor(r.binary, dtype=torch.float32, device=self.device)[None], length)
                for r in rhythms]
        return torch.cat(rows)

    def encode(self, requests: list[GenerationRequest], grad: bool = False):
        """(vectors (B, 2, D), negative (B, 2, D) or None), or (None, None) without encoders."""
        if self.encoders is None:
            return None, None
        genres = [r.genre for r in requests]
        with torch.set_grad_enabled(grad or torch.is_grad_enabled()):
            vectors = self.encoders(self._sequences([r.rhythm for r in requests]), genres)
            negative = None
            if all(r.negative_rhythm is not None for r in requests):
                negative = self.encoders(self._sequences([r.negative_rhythm for r in requests]), genres)
        return vectors, negative

    def notes(self, request: GenerationRequest) -> list[str]:
        notes = []
        if self.encoders is None:
            tempo = tempo_words(request.rhythm.tempo_bpm)
            notes.append(f"text-only: no encoders loaded, {self.name} follows the prompt"
                         + (f" and the motion's tempo in words ({tempo})" if tempo else "") + ", not the motion's rhythm")
        if request.negative_rhythm is not None and self.encoders is not None:
            notes.append("negative conditioning on the reversed motion")
        return notes

    def generate(self, request: GenerationRequest, progress: ProgressFn = no_progress) -> Generation:
        return self.generate_batch([request], progress)[0]

    def generate_batch(self, requests: list[GenerationRequest], progress: ProgressFn = no_progress) -> list[Generation]:
        """Requests that fit one window run as one batch; longer ones window by window."""
        if all(r.duration <= self.window_s for r in requests):
            return self._generate_windows(requests, progress)
        out = []
        for i, request in enumerate(requests):
            out.append(self._generate_long(request, lambda f, s, i=i: progress((i + f) / len(requests), s)))
        return out

    def window_request(self, request: GenerationRequest, start: float, end: float, index: int) -> GenerationRequest:
        """The request for [start, end): that window's rhythm (and the reversed motion's rhythm over
        the same frames), its own length and seed."""
        negative = None
        if request.negative_rhythm is not None:
            negative = request.negative_rhythm.window(request.duration - end, request.duration - start)
        return replace(request, rhythm=request.rhythm.window(start, end), negative_rhythm=negative,
                       duration=end - start, seed=(request.seed + index) % 2 ** 32)

    def _generate_long(self, request: GenerationRequest, progress: ProgressFn) -> Generation:
        """Overlapping windows, each conditioned on its own part of the motion, joined on beats."""
        spans = plan_windows(request.duration, self.window_s, self.window_overlap_s)
        pieces, info = [], {}
        for k, (start, end) in enumerate(spans):
            label = f"window {k + 1}/{len(spans)}"
            progress(k / len(spans), label)
            piece = self._generate_windows([self.window_request(request, start, end, k)],
                                           lambda f, s, k=k, label=label: progress((k + f) / len(spans), f"{label}: {s}"))[0]
            pieces.append(piece.audio)
            info = piece.info
        audio = join_windows(pieces, spans, request.num_samples, request.sample_rate, request.rhythm.beat_times)
        return Generation(audio=audio, sample_rate=request.sample_rate, genre=request.genre,
                          notes=self.notes(request) + [f"{len(spans)} windows of {self.window_s:g} s joined on beats"],
                          info={**info, "windows": len(spans)})

    def describe(self) -> dict:
        return {"name": self.name, "model_id": self.model_id, "encoders": getattr(self, "encoders_id", None),
                "channels": self.channels}
