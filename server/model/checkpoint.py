"""Encoder checkpoints: one ``.safetensors`` file, weights plus JSON metadata in its header.

Metadata (all strings in the safetensors header): ``format`` = "motionscore-encoders",
``format_version``, ``backbone``, ``model_id``, ``encoder_config`` (JSON of EncoderConfig: width,
projector, sequence length, genre vocabulary), ``rhythm`` (JSON: mode, fps, direction bins), and
``extra`` (JSON: training step, losses...). No pickle anywhere.

``load_released`` reads the original work's released MusicGen encoders (a torch file with
``poseEncoder`` and ``audioEncoderP`` state dicts) with ``torch.load(weights_only=True)``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import torch
from torch import nn

from motionscore.shared.rhythm import NUM_DIRECTION_BINS, RHYTHM_FPS

from .encoders import EncoderConfig, Encoders, GenreEncoder

FORMAT = "motionscore-encoders"
FORMAT_VERSION = 1


class CheckpointError(ValueError):
    """A checkpoint that cannot be used here: one line saying why."""


@dataclass
class EncoderCheckpoint:
    encoders: nn.Module
    backbone: str
    model_id: str
    rhythm_mode: str = "default"
    extra: dict = field(default_factory=dict)


def save_checkpoint(path: str | Path, encoders: Encoders, backbone: str, model_id: str,
                    rhythm_mode: str = "default", extra: dict | None = None) -> Path:
    from safetensors.torch import save_file

    path = Path(path)
    metadata = {
        "format": FORMAT, "format_version": str(FORMAT_VERSION), "backbone": backbone, "model_id": model_id,
        "encoder_config": json.dumps(encoders.config.to_dict()),
        "rhythm": json.dumps({"mode": rhythm_mode, "fps": RHYTHM_FPS, "bins": NUM_DIRECTION_BINS}),
        "extra": json.dumps(extra or {}),
    }
    state = {k: v.detach().contiguous().cpu() for k, v in encoders.state_dict().items()}
    tmp = path.with_name(path.name + ".tmp")
    save_file(state, str(tmp), metadata=metadata)
    tmp.replace(path)  # a crash mid-write never leaves a truncated checkpoint
    return path


def load_checkpoint(path: str | Path, backbone: str | None = None, dim: int | None = None,
                    device: str = "cpu") -> EncoderCheckpoint:
    """Load and check a checkpoint against the loaded backbone (name and text width)."""
    from safetensors import safe_open

    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"{path}: no such encoder checkpoint")
    if path.suffix != ".safetensors":
        raise CheckpointError(f"{path}: encoder checkpoints are .safetensors files "
                              f"(the original release's torch file loads with --encoders-format released)")
    try:
        with safe_open(str(path), framework="pt", device="cpu") as handle:
            meta = handle.metadata() or {}
            state = {k: handle.get_tensor(k) for k in handle.keys()}
    except Exception as exc:  # safetensors raises several types on corrupt files
        raise CheckpointError(f"{path}: not a readable safetensors file ({type(exc).__name__})") from None
    if meta.get("format") != FORMAT:
        raise CheckpointError(f"{path}: not a motionscore encoder checkpoint")
    if int(meta.get("format_version", "0")) > FORMAT_VERSION:
        raise CheckpointError(f"{path}: written by a newer motionscore (format {meta['format_version']})")
    config = EncoderConfig(**json.loads(meta["encoder_config"]))
    if backbone is not None and meta["backbone"] != backbone:
        raise CheckpointError(f"{path}: encoders trained for backbone {meta['backbone']!r}, "
                              f"but this server runs {backbone!r}")
    if dim is not None and config.dim != dim:
        raise CheckpointError(f"{path}: encoders write {config.dim}-d embeddings, the loaded model's text "
                              f"embeddings are {dim}-d (trained for {meta['model_id']!r})")
    encoders = Encoders(config)
    try:
        encoders.load_state_dict(state)
    except RuntimeError as exc:
        raise CheckpointError(f"{path}: weights do not match the stored configuration ({str(exc).splitlines()[0]})") from None
    rhythm = json.loads(meta.get("rhythm", "{}"))
    return EncoderCheckpoint(encoders.to(device).eval(), meta["backbone"], meta["model_id"],
                             rhythm.get("mode", "default"), json.loads(meta.get("extra", "{}")))


# -- the original release ----------------------------------------------------------------------
class ReleasedRhythmEncoder(nn.Module):
    """The released "Attn+Pos" rhythm projector, as its public description states: binary sequence
    (303) + learned scalar position embedding -> LayerNorm -> Linear(303, 768) -> Dropout -> SiLU ->
    Linear(768, 768) -> attention block (8 heads x 64, residual) -> one 768-d token."""

    def __init__(self, seq_len: int = 303, hidden: int = 768, heads: int = 8, head_dim: int = 64):
        super().__init__()
        self.seq_len, self.heads, self.head_dim = seq_len, heads, head_dim
        self.pos_emb = nn.Parameter(torch.zeros(seq_len))
        self.norm = nn.LayerNorm(seq_len)
        self.fc1 = nn.Linear(seq_len, hidden)
        self.dropout = nn.Dropout(0.1)
        self.fc2 = nn.Linear(hidden, hidden)
        inner = heads * head_dim
        self.to_q = nn.Linear(hidden, inner, bias=False)
        self.to_k = nn.Linear(hidden, inner, bias=False)
        self.to_v = nn.Linear(hidden, inner, bias=False)
        self.to_out = nn.Linear(inner, hidden)

    def forward(self, rhythm: torch.Tensor) -> torch.Tensor:
        from .encoders import resample_onsets

        x = resample_onsets(rhythm.float(), self.seq_len)
        h = self.fc2(nn.functional.silu(self.dropout(self.fc1(self.norm(x + self.pos_emb)))))[:, None]
        B = h.shape[0]
        q, k, v = (f(h).view(B, 1, self.heads, self.head_dim).transpose(1, 2) for f in (self.to_q, self.to_k, self.to_v))
        attended = nn.functional.scaled_dot_product_attention(q, k, v).transpose(1, 2).reshape(B, 1, -1)
        return (h + self.to_out(attended))[:, 0]


class ReleasedEncoders(nn.Module):
    """Same interface as :class:`Encoders`: (rhythm (B, N), genre codes) -> (B, 2, 768)."""

    def __init__(self):
        super().__init__()
        self.config = EncoderConfig(dim=768, projector="attn", seq_len=303, hidden=768)
        self.rhythm = ReleasedRhythmEncoder()
        self.genre = GenreEncoder(self.config)  # LayerNorm(10) -> Linear(10, 768) -> SiLU -> Linear(768, 768)

    genre_index = Encoders.genre_index
    forward = Encoders.forward


def load_released(path: str | Path, device: str = "cpu") -> EncoderCheckpoint:
    """The original work's MusicGen encoders; switches the rhythm extraction to compat mode."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"{path}: no such file")
    try:
        data = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # weights_only refuses anything but tensors and plain containers
        raise CheckpointError(f"{path}: not a loadable torch file with plain tensors ({type(exc).__name__}: "
                              f"{str(exc).splitlines()[0][:120]})") from None
    if not isinstance(data, dict) or "poseEncoder" not in data or "audioEncoderP" not in data:
        raise CheckpointError(f"{path}: expected the keys poseEncoder and audioEncoderP")
    encoders = ReleasedEncoders()
    try:
        encoders.rhythm.load_state_dict(data["poseEncoder"])
        encoders.genre.load_state_dict(data["audioEncoderP"])
    except RuntimeError as exc:
        raise CheckpointError(f"{path}: state dicts do not match the released architecture "
                              f"({str(exc).splitlines()[0]})") from None
    return EncoderCheckpoint(encoders.to(device).eval(), "musicgen", "musicgen (t5-base text encoder, 768-d)", "compat",
                             {"source": "original release"})
