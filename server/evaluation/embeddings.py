"""Audio embedding models for FAD and CLAP similarity, loaded from local files only.

- ``vggish``: the VGGish network (Hershey et al. 2017) as in torchvggish, the standard FAD
  embedder. Weights: ``vggish-10086976.pth`` (torchvggish's release) from an explicit path or the
  torch hub cache (``$TORCH_HOME/hub/checkpoints``), loaded with ``weights_only=True``.
- ``clap``: LAION CLAP through transformers' ``ClapModel`` (e.g. ``laion/clap-htsat-unfused`` from the
  HF cache or a local directory); the projected audio embedding.
- ``tiny-vggish`` / ``tiny-clap``: the same classes and code paths with small, seeded random
  weights, for tests and for checking a setup offline. Their numbers mean nothing.

Every embedder maps mono float audio (n,) at any rate to an array (k, D) of k >= 1 embeddings.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

VGGISH_FILE = "vggish-10086976.pth"
VGGISH_SR = 16_000
CLAP_SR = 48_000
CLAP_HUB_ID = "laion/clap-htsat-unfused"
CLAP_SEGMENT_S = 10.0


class EmbedderError(Exception):
    """An embedding model that cannot be loaded: the message names what is missing and how to get it."""


def _torch():
    import torch

    return torch


# ---------------------------------------------------------------------------------------------
# VGGish
def _vggish_module(widths=(64, 128, 256, 512), hidden=4096, out=128):
    torch = _torch()
    nn = torch.nn

    class VGGish(nn.Module):
        """VGGish; input (N, 1, 96, 64) log-mel patches, output (N, 128). Keys match torchvggish."""

        def __init__(self):
            super().__init__()
            a, b, c, d = widths
            self.features = nn.Sequential(
                nn.Conv2d(1, a, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2, 2),
                nn.Conv2d(a, b, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2, 2),
                nn.Conv2d(b, c, 3, padding=1), nn.ReLU(), nn.Conv2d(c, c, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2, 2),
                nn.Conv2d(c, d, 3, padding=1), nn.ReLU(), nn.Conv2d(d, d, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2, 2))
            self.embeddings = nn.Sequential(nn.Linear(d * 4 * 6, hidden), nn.ReLU(), nn.Linear(hidden, hidden),
                                            nn.ReLU(), nn.Linear(hidden, out), nn.ReLU())

        def forward(self, x):
            x = self.features(x)
            x = x.transpose(1, 3).transpose(1, 2).contiguous()  # NCHW -> NHWC, as TensorFlow flattened it
            return self.embeddings(x.view(x.size(0), -1))

    return VGGish()


def vggish_patches(audio: np.ndarray, sample_rate: int) -> np.ndarray:
    """VGGish frontend: 16 kHz, 25 ms / 10 ms STFT, 64 mel bands 125-7500 Hz, log(mel + 0.01),
    non-overlapping 0.96 s patches -> (k, 96, 64) float32 (at least one, zero-padded)."""
    import librosa

    y = np.asarray(audio, dtype=np.float32)
    if sample_rate != VGGISH_SR:
        y = librosa.resample(y, orig_sr=sample_rate, target_sr=VGGISH_SR)
    spec = np.abs(librosa.stft(y, n_fft=512, hop_length=160, win_length=400, window="hann", center=False)) \
        if y.size >= 400 else np.zeros((257, 0), np.float32)
    mel = librosa.filters.mel(sr=VGGISH_SR, n_fft=512, n_mels=64, fmin=125, fmax=7500, htk=True)
    logmel = np.log(mel @ spec + 0.01).T  # (frames, 64)
    count = max(1, logmel.shape[0] // 96)
    if logmel.shape[0] < 96 * count:
        logmel = np.concatenate([logmel, np.full((96 * count - logmel.shape[0], 64), np.log(0.01))])
    return logmel[: 96 * count].reshape(count, 96, 64).astype(np.float32)


def _vggish_weights_path(path: str | None) -> Path:
    if path:
        candidate = Path(path)
    else:
        torch_home = Path(os.environ.get("TORCH_HOME", Path.home() / ".cache" / "torch"))
        candidate = torch_home / "hub" / "checkpoints" / VGGISH_FILE
    if not candidate.is_file():
        raise EmbedderError(
            f"VGGish weights not found at {candidate}. Download {VGGISH_FILE} from the torchvggish "
            f"release (github.com/harritaylor/torchvggish) on a machine with internet and put it there, "
            f"or pass --embedder-weights PATH.")
    return candidate


class Embedder:
    """Callable: (audio (n,), sample_rate) -> embeddings (k, D) float64."""

    name = ""
    dim = 0

    def __call__(self, audio: np.ndarray, sample_rate: int) -> np.ndarray:
        raise NotImplementedError


class VGGishEmbedder(Embedder):
    def __init__(self, weights: str | None = None, tiny: bool = False, device: str = "cpu"):
        torch = _torch()
        self.name = "tiny-vggish" if tiny else "vggish"
        if tiny:
            torch.manual_seed(0)
            self.model = _vggish_module(widths=(16, 32, 32, 32), hidden=64, out=32)
        else:
            self.model = _vggish_module()
            state = torch.load(_vggish_weights_path(weights), map_location="cpu", weights_only=True)
            state = {k: v for k, v in state.items() if not k.startswith("pproc")}
            self.model.load_state_dict(state)
        self.model.eval().to(device)
        self.device = device
        self.dim = 32 if tiny else 128

    def __call__(self, audio, sample_rate):
        torch = _torch()
        patches = torch.from_numpy(vggish_patches(audio, sample_rate))[:, None].to(self.device)
        with torch.no_grad():
            return self.model(patches).double().cpu().numpy()


class ClapEmbedder(Embedder):
    """Projected CLAP audio embeddings of 10 s segments (k segments -> (k, D))."""

    def __init__(self, model: str | None = None, tiny: bool = False, device: str = "cpu"):
        torch = _torch()
        from transformers import ClapFeatureExtractor, ClapModel

        self.name = "tiny-clap" if tiny else "clap"
        if tiny:
            from transformers import ClapAudioConfig, ClapConfig, ClapTextConfig

            torch.manual_seed(0)
            audio_cfg = ClapAudioConfig(depths=[1, 1], num_attention_heads=[2, 2], patch_embeds_hidden_size=16,
                                        hidden_size=32, projection_dim=32, enable_fusion=False)
            text_cfg = ClapTextConfig(vocab_size=100, hidden_size=32, num_hidden_layers=1, num_attention_heads=2,
                                      intermediate_size=37, projection_dim=32, max_position_embeddings=64)
            self.model = ClapModel(ClapConfig(text_config=text_cfg.to_dict(), audio_config=audio_cfg.to_dict(),
                                              projection_dim=32))
            self.features = ClapFeatureExtractor()
        else:
            source = model or CLAP_HUB_ID
            try:
                # Local files only: a missing model fails at once with instructions, not after retries.
                self.model = ClapModel.from_pretrained(source, local_files_only=True)
                self.features = ClapFeatureExtractor.from_pretrained(source, local_files_only=True)
            except OSError as exc:
                raise EmbedderError(
                    f"CLAP model {source!r} is not available offline ({str(exc).splitlines()[0]}). Run "
                    f"`huggingface-cli download {CLAP_HUB_ID}` on a machine with internet (HF cache), or pass "
                    f"--clap-model DIR with a saved ClapModel.") from None
        self.model.eval().to(device)
        self.device = device

    def __call__(self, audio, sample_rate):
        torch = _torch()
        import librosa

        y = np.asarray(audio, dtype=np.float32)
        if sample_rate != CLAP_SR:
            y = librosa.resample(y, orig_sr=sample_rate, target_sr=CLAP_SR)
        size = int(CLAP_SEGMENT_S * CLAP_SR)
        segments = [y[i:i + size] for i in range(0, max(y.size, 1), size)] or [np.zeros(1, np.float32)]
        inputs = self.features(segments, sampling_rate=CLAP_SR, return_tensors="pt",
                               truncation="rand_trunc", padding="repeatpad")
        with torch.no_grad():
            out = self.model.get_audio_features(input_features=inputs["input_features"].to(self.device),
                                                is_longer=inputs.get("is_longer"))
        out = out if torch.is_tensor(out) else out.pooler_output
        return out.double().cpu().numpy()


def load_embedder(name: str, weights: str | None = None, device: str = "cpu") -> Embedder:
    """``vggish``, ``clap``, ``tiny-vggish`` or ``tiny-clap`` (see the module docstring)."""
    if name == "vggish":
        return VGGishEmbedder(weights, device=device)
    if name == "tiny-vggish":
        return VGGishEmbedder(tiny=True, device=device)
    if name == "clap":
        return ClapEmbedder(weights, device=device)
    if name == "tiny-clap":
        return ClapEmbedder(tiny=True, device=device)
    raise EmbedderError(f"unknown embedder {name!r}; choose vggish, clap, tiny-vggish or tiny-clap")


def frechet_distance(a: np.ndarray, b: np.ndarray) -> float:
    """Fréchet distance between Gaussians fitted to two embedding sets (n_a, D) and (n_b, D)."""
    from scipy import linalg

    if a.shape[0] < 2 or b.shape[0] < 2:
        raise ValueError("FAD needs at least two embeddings on each side")
    mu_a, mu_b = a.mean(axis=0), b.mean(axis=0)
    cov_a, cov_b = np.cov(a, rowvar=False), np.cov(b, rowvar=False)
    covmean = linalg.sqrtm(cov_a @ cov_b)
    if not np.isfinite(covmean).all():
        offset = np.eye(cov_a.shape[0]) * 1e-6
        covmean = linalg.sqrtm((cov_a + offset) @ (cov_b + offset))
    covmean = covmean.real
    return float(np.sum((mu_a - mu_b) ** 2) + np.trace(cov_a) + np.trace(cov_b) - 2 * np.trace(covmean))


def cosine_similarity(a: np.ndarray, b: np.ndarray) -> float:
    """Cosine similarity of the mean embeddings of two clips."""
    u, v = a.mean(axis=0), b.mean(axis=0)
    return float(u @ v / (np.linalg.norm(u) * np.linalg.norm(v) + 1e-12))
