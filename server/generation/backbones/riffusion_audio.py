"""Riffusion's spectrogram images <-> audio, written against today's numpy/librosa.

Published parameters: 44.1 kHz mono, hop 10 ms (441), window 100 ms (4410), n_fft 17640, 512 mel
bins (htk, 0-10 kHz), image = 255 - 255 * (mel / max_value) ** 0.25 flipped so low frequencies are
at the bottom; a 512-pixel-wide image is 5.12 s. Inversion: undo the scaling, map mel back to a
linear magnitude (least squares with the mel basis' pseudo-inverse, clipped at 0), Griffin-Lim.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np

SAMPLE_RATE = 44_100
HOP = 441
WINDOW = 4_410
N_FFT = 17_640
N_MELS = 512
F_MAX = 10_000.0
POWER_FOR_IMAGE = 0.25
MAX_VALUE = 30e6
GRIFFIN_LIM_ITERS = 32
PIXELS_PER_SECOND = SAMPLE_RATE / HOP  # 100


@lru_cache(maxsize=1)
def _mel_basis() -> np.ndarray:
    import librosa

    return librosa.filters.mel(sr=SAMPLE_RATE, n_fft=N_FFT, n_mels=N_MELS, fmin=0.0, fmax=F_MAX, htk=True, norm=None)


@lru_cache(maxsize=2)
def _mel_inverse(device: str):
    import torch

    return torch.linalg.pinv(torch.from_numpy(_mel_basis()).to(device=device, dtype=torch.float32))


def audio_to_image(audio: np.ndarray) -> np.ndarray:
    """Mono 44.1 kHz audio (n,) -> uint8 image (512, frames), low frequencies at the bottom."""
    import librosa

    spec = np.abs(librosa.stft(audio, n_fft=N_FFT, hop_length=HOP, win_length=WINDOW)) ** 2
    mel = _mel_basis() @ spec
    data = np.clip(mel / MAX_VALUE, 0, 1) ** POWER_FOR_IMAGE
    return (255 - 255 * data)[::-1].round().astype(np.uint8)


def image_to_audio(image: np.ndarray, seconds: float | None = None, device: str = "cpu",
                   iterations: int = GRIFFIN_LIM_ITERS) -> np.ndarray:
    """Grayscale image (512, W) in [0, 255] (or [0, 1] floats) -> audio (n,) at 44.1 kHz, float32.

    Runs in torch (torchaudio's Griffin-Lim, seeded) so a GPU does the 32 large FFT round trips."""
    import torch
    import torchaudio

    data = np.asarray(image, dtype=np.float32)
    if data.max() <= 1.0:
        data = data * 255.0
    data = (255.0 - data[::-1].copy()) / 255.0
    mel = torch.from_numpy(np.power(np.clip(data, 0, 1), 1.0 / POWER_FOR_IMAGE) * MAX_VALUE).to(device)
    magnitude = torch.sqrt(torch.clamp(_mel_inverse(device) @ mel, min=0))
    torch.manual_seed(0)  # Griffin-Lim starts from random phases: keep it repeatable
    griffin_lim = torchaudio.transforms.GriffinLim(n_fft=N_FFT, n_iter=iterations, win_length=WINDOW,
                                                   hop_length=HOP, power=1.0).to(device)
    audio = griffin_lim(magnitude).cpu().numpy()  # (W - 1) * HOP samples
    if seconds:
        audio = audio[: int(round(seconds * SAMPLE_RATE))]
    peak = np.abs(audio).max()
    return (audio / peak * 0.89 if peak > 0 else audio).astype(np.float32)
