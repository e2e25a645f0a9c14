"""Rhythm and genre encoders: they write the embeddings of the pseudo-words ``*`` and ``@``.

Shapes: a batch of rhythm sequences (B, N) (binary onsets at 60 Hz, any N) -> (B, D); a batch of
genre indices (B,) (-1 = unknown/automatic) -> (B, D). D is the backbone's text-embedding width.
Sequences of any length are resampled to the encoder's ``seq_len`` (303 = a 5.12 s window, the
published input) keeping every onset: each output bin takes the maximum of the samples it covers.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

import torch
from torch import nn

from motionscore.shared.genres import GENRE_CODES

PROJECTORS = ("mlp", "attn")


@dataclass
class EncoderConfig:
    """Everything needed to rebuild the encoders (stored in checkpoints as JSON)."""

    dim: int                      # backbone text-embedding width
    projector: str = "attn"       # "mlp" or "attn"
    seq_len: int = 303            # rhythm samples the projector sees (5.12 s at 60 Hz, minus 2)
    hidden: int = 768
    heads: int = 8
    dropout: float = 0.1
    #: Autocorrelation lags (60 Hz samples) of the onset sequence given to the projector next to the
    #: sequence itself; 0 = the published input (the sequence only). See :func:`onset_periodicity`.
    periodicity_lags: int = 0
    genres: list[str] = field(default_factory=lambda: list(GENRE_CODES))

    def __post_init__(self):
        if self.projector not in PROJECTORS:
            raise ValueError(f"projector must be one of {PROJECTORS}, got {self.projector!r}")
        if not 0 <= self.periodicity_lags < self.seq_len:
            raise ValueError(f"periodicity lags must be between 0 and {self.seq_len - 1}, got {self.periodicity_lags}")

    def to_dict(self) -> dict:
        return asdict(self)


def default_hidden(text_dim: int) -> int:
    """The encoders' width for a backbone: the published 768, or 64 for the tiny test models."""
    return 768 if text_dim >= 256 else 64


def resample_onsets(seq: torch.Tensor, length: int) -> torch.Tensor:
    """(B, N) -> (B, length): max over each output bin's source span (onsets survive any N)."""
    batch, n = seq.shape
    if n == length:
        return seq
    if n == 0:
        return seq.new_zeros(batch, length)
    edges = torch.linspace(0, n, length + 1, device=seq.device)
    start = edges[:-1].floor().long().clamp(max=n - 1)
    stop = torch.maximum(edges[1:].ceil().long(), start + 1).clamp(max=n)
    width = int((stop - start).max())
    idx = (start[:, None] + torch.arange(width, device=seq.device)[None]).clamp(max=n - 1)
    valid = idx < stop[:, None]
    gathered = seq[:, idx]  # (B, length, width)
    return torch.where(valid[None], gathered, torch.full_like(gathered, -torch.inf)).amax(dim=-1)


def onset_periodicity(seq: torch.Tensor, lags: int, blur: float = 2.0) -> torch.Tensor:
    """How strongly the onsets repeat at each lag: (B, L) onsets -> (B, lags) in [0, 1].

    The sequence is blurred with a Gaussian (``blur`` samples) so onsets a frame or two early or
    late still line up, then entry k-1 is the normalised autocorrelation at lag k (k = 1..lags).
    A tempo is a peak at its beat period (80-160 BPM: 22-45 samples at 60 Hz); a linear layer on
    the raw sequence cannot find a period wherever the beats start, one on this can.
    """
    radius = int(3 * blur)
    taps = torch.exp(-0.5 * (torch.arange(-radius, radius + 1, device=seq.device, dtype=seq.dtype) / blur) ** 2)
    smooth = nn.functional.conv1d(seq[:, None], (taps / taps.sum())[None, None], padding=radius)[:, 0]
    energy = (smooth * smooth).sum(-1, keepdim=True).clamp_min(1e-6)
    return torch.stack([(smooth[:, k:] * smooth[:, :-k]).sum(-1) for k in range(1, lags + 1)], dim=-1) / energy


class RhythmEncoder(nn.Module):
    """Rhythm sequence -> one token embedding (B, dim).

    ``mlp``: LayerNorm -> Linear(L, H) -> SiLU -> Linear(H, H) -> SiLU -> Linear(H, dim).
    ``attn`` (the published "Attn+Pos"): sequence + learned position embedding -> LayerNorm ->
    Linear(L, H) -> Dropout -> SiLU -> Linear(H, H), then that vector attends (heads x 64) to the
    sequence's per-step tokens (self/cross attention) -> Linear(H, dim).

    With ``periodicity_lags`` P > 0 the first Linear reads L + P inputs: the sequence and its
    :func:`onset_periodicity`.
    """

    def __init__(self, config: EncoderConfig):
        super().__init__()
        self.config = config
        L, H, P = config.seq_len, config.hidden, config.periodicity_lags
        if config.projector == "mlp":
            self.net = nn.Sequential(nn.LayerNorm(L + P), nn.Linear(L + P, H), nn.SiLU(), nn.Linear(H, H), nn.SiLU(),
                                     nn.Linear(H, config.dim))
        else:
            self.position = nn.Parameter(torch.zeros(L))
            self.norm = nn.LayerNorm(L)
            self.period_norm = nn.LayerNorm(P) if P else None
            self.proj = nn.Sequential(nn.Linear(L + P, H), nn.Dropout(config.dropout), nn.SiLU(), nn.Linear(H, H))
            self.step_embed = nn.Linear(1, H)
            self.step_position = nn.Parameter(torch.randn(L, H) * 0.02)
            self.attn = nn.MultiheadAttention(H, config.heads, dropout=config.dropout, batch_first=True)
            self.out_norm = nn.LayerNorm(H)
            self.out = nn.Linear(H, config.dim)

    def forward(self, rhythm: torch.Tensor) -> torch.Tensor:
        seq = resample_onsets(rhythm.float(), self.config.seq_len)
        lags = self.config.periodicity_lags
        if self.config.projector == "mlp":
            return self.net(torch.cat([seq, onset_periodicity(seq, lags)], dim=-1) if lags else seq)
        features = self.norm(seq + self.position)
        if lags:
            features = torch.cat([features, self.period_norm(onset_periodicity(seq, lags))], dim=-1)
        query = self.proj(features)[:, None, :]                                   # (B, 1, H)
        steps = self.step_embed(seq[..., None]) + self.step_position[None]        # (B, L, H)
        tokens = torch.cat([query, steps], dim=1)
        attended, _ = self.attn(query, tokens, tokens, need_weights=False)
        return self.out(self.out_norm(query + attended))[:, 0]


class GenreEncoder(nn.Module):
    """Genre index -> embedding (B, dim): LayerNorm(G) -> Linear(G, H) -> SiLU -> Linear(H, dim) on a
    one-hot; index -1 (unknown/automatic) is the uniform distribution over genres."""

    def __init__(self, config: EncoderConfig):
        super().__init__()
        self.config = config
        G = len(config.genres)
        self.net = nn.Sequential(nn.LayerNorm(G), nn.Linear(G, config.hidden), nn.SiLU(),
                                 nn.Linear(config.hidden, config.dim))

    def one_hot(self, index: torch.Tensor) -> torch.Tensor:
        G = len(self.config.genres)
        known = index >= 0
        hot = torch.zeros(index.shape[0], G, device=index.device)
        hot[known] = nn.functional.one_hot(index[known], G).float()
        hot[~known] = 1.0 / G
        return hot

    def forward(self, index: torch.Tensor) -> torch.Tensor:
        return self.net(self.one_hot(index))


class Encoders(nn.Module):
    """Both encoders; the only trainable part of the music model."""

    def __init__(self, config: EncoderConfig):
        super().__init__()
        self.config = config
        self.rhythm = RhythmEncoder(config)
        self.genre = GenreEncoder(config)

    def genre_index(self, codes: list[str | None]) -> torch.Tensor:
        device = next(self.parameters()).device
        return torch.tensor([self.config.genres.index(c) if c in self.config.genres else -1 for c in codes],
                            device=device)

    def forward(self, rhythm: torch.Tensor, genres: list[str | None]) -> torch.Tensor:
        """(B, N) sequences + B genre codes -> (B, 2, dim): row 0 for ``*``, row 1 for ``@``."""
        return torch.stack([self.rhythm(rhythm), self.genre(self.genre_index(genres))], dim=1)
