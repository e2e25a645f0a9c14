"""Instrument voices for the procedural `synth` backbone: each returns one note as float32 (n,).

Everything is plain numpy so the default backbone needs no weights and no downloads. Voices are
deterministic given their arguments (noise comes from the caller's generator). ``sr`` is the sample
rate in Hz, durations are seconds, pitches are MIDI note numbers.
"""

from __future__ import annotations

import functools

import numpy as np


def midi_to_hz(note: float) -> float:
    return 440.0 * 2.0 ** ((note - 69.0) / 12.0)


def _env(n: int, sr: int, attack: float, decay: float) -> np.ndarray:
    """Linear attack then exponential decay (time constant ``decay`` s)."""
    t = np.arange(n) / sr
    env = np.exp(-np.maximum(t - attack, 0.0) / max(decay, 1e-4))
    if attack > 0:
        env *= np.minimum(t / attack, 1.0)
    return env


def _release(x: np.ndarray, sr: int, seconds: float = 0.01) -> np.ndarray:
    k = min(x.shape[0], max(1, int(seconds * sr)))
    x[-k:] *= np.linspace(1.0, 0.0, k)
    return x


def _one_pole_lowpass(x: np.ndarray, cutoff_hz: float, sr: int) -> np.ndarray:
    """First-order low-pass via its closed-form impulse response (cheap, stable)."""
    a = np.exp(-2.0 * np.pi * cutoff_hz / sr)
    taps = (1 - a) * a ** np.arange(int(min(x.shape[0], 5 * sr / (2 * np.pi * cutoff_hz) + 1)))
    return np.convolve(x, taps)[: x.shape[0]]


def kick(sr: int, rng: np.random.Generator, tone: float = 1.0) -> np.ndarray:
    """Sine kick with a pitch drop (150 -> 48 Hz) and a short click."""
    n = int(0.45 * sr)
    t = np.arange(n) / sr
    freq = 48.0 + 100.0 * tone * np.exp(-t / 0.035)
    phase = 2 * np.pi * np.cumsum(freq) / sr
    body = np.sin(phase) * _env(n, sr, 0.001, 0.16)
    click = rng.standard_normal(n) * _env(n, sr, 0.0, 0.004) * 0.3
    return _release((body + click).astype(np.float32), sr)


def snare(sr: int, rng: np.random.Generator, brush: bool = False) -> np.ndarray:
    """Noise burst plus a 185 Hz body; ``brush`` makes it soft and long."""
    n = int((0.35 if brush else 0.25) * sr)
    t = np.arange(n) / sr
    noise = rng.standard_normal(n)
    noise = noise - _one_pole_lowpass(noise, 1500.0 if not brush else 3000.0, sr)
    decay = 0.12 if brush else 0.07
    body = np.sin(2 * np.pi * 185.0 * t) * _env(n, sr, 0.0, 0.05) * (0.2 if brush else 0.7)
    out = noise * _env(n, sr, 0.02 if brush else 0.0005, decay) + body
    return _release(out.astype(np.float32) * (0.5 if brush else 1.0), sr)


def clap(sr: int, rng: np.random.Generator) -> np.ndarray:
    """Three quick noise bursts and a tail."""
    n = int(0.3 * sr)
    noise = rng.standard_normal(n)
    noise = noise - _one_pole_lowpass(noise, 900.0, sr)
    env = np.zeros(n)
    for offset in (0.0, 0.011, 0.022):
        k = int(offset * sr)
        env[k:] += _env(n - k, sr, 0.0, 0.008 if offset < 0.02 else 0.09)
    return _release((noise * env * 0.8).astype(np.float32), sr)


def hat(sr: int, rng: np.random.Generator, open_: bool = False) -> np.ndarray:
    """High-passed noise; open hats ring longer."""
    n = int((0.35 if open_ else 0.08) * sr)
    noise = rng.standard_normal(n)
    noise = noise - _one_pole_lowpass(noise, 7000.0, sr)
    return _release((noise * _env(n, sr, 0.0, 0.12 if open_ else 0.018) * 0.5).astype(np.float32), sr)


_SAW_TABLE_SIZE = 4096


@functools.lru_cache(maxsize=64)
def _saw_table(harmonics: int) -> np.ndarray:
    """One period of a sawtooth with ``harmonics`` partials, (_SAW_TABLE_SIZE + 1,) (wraps around)."""
    phase = np.arange(_SAW_TABLE_SIZE + 1) / _SAW_TABLE_SIZE
    k = np.arange(1, harmonics + 1)
    return (np.sin(2 * np.pi * np.outer(phase, k)) / k).sum(axis=1) * (2 / np.pi)


def _saw(freq: float, n: int, sr: int, max_harmonics: int = 40) -> np.ndarray:
    """Band-limited sawtooth by additive synthesis (no aliasing), (n,).

    Read from a one-period table of the same partials with linear interpolation: the 40th partial
    still has ~100 table points per cycle (error < 1e-3 of its amplitude), and rendering the
    synthetic worlds is 4x faster than summing n x harmonics sines.
    """
    harmonics = max(1, min(max_harmonics, int((sr / 2) / freq)))
    position = (freq * np.arange(n) / sr) % 1.0 * _SAW_TABLE_SIZE
    index = position.astype(np.int64)
    table = _saw_table(harmonics)
    return table[index] + (position - index) * (table[index + 1] - table[index])


def bass(sr: int, note: float, seconds: float, kind: str = "synth") -> np.ndarray:
    """A bass note: ``synth`` (filtered saw), ``sub`` (808-like sine) or ``upright`` (plucked)."""
    n = max(1, int(seconds * sr))
    freq = midi_to_hz(note)
    t = np.arange(n) / sr
    if kind == "sub":
        out = np.sin(2 * np.pi * freq * t) + 0.15 * np.sin(4 * np.pi * freq * t)
        out = np.tanh(1.5 * out) * _env(n, sr, 0.003, max(seconds, 0.2))
    elif kind == "upright":
        out = (np.sin(2 * np.pi * freq * t) + 0.4 * np.sin(4 * np.pi * freq * t)
               + 0.15 * np.sin(6 * np.pi * freq * t)) * _env(n, sr, 0.004, 0.35)
    else:
        out = _one_pole_lowpass(_saw(freq, n, sr, 16), 700.0, sr) * _env(n, sr, 0.004, 0.25)
    return _release(out.astype(np.float32) * 0.6, sr)


def chord(sr: int, notes: list[float], seconds: float, kind: str = "pad") -> np.ndarray:
    """A chord: ``pad`` (soft detuned saws), ``stab`` (short bright), ``keys`` (electric piano),
    ``strings`` (slow swell)."""
    n = max(1, int(seconds * sr))
    t = np.arange(n) / sr
    out = np.zeros(n)
    for note in notes:
        f = midi_to_hz(note)
        if kind == "keys":
            tone = np.sin(2 * np.pi * f * t) + 0.25 * np.sin(2 * np.pi * 2 * f * t) * np.exp(-t / 0.15)
            out += tone * _env(n, sr, 0.003, 0.9)
        elif kind == "stab":
            out += _saw(f, n, sr, 12) * _env(n, sr, 0.002, 0.09)
        else:
            detuned = _saw(f * 1.003, n, sr, 10) + _saw(f * 0.997, n, sr, 10)
            attack = 0.25 if kind == "strings" else 0.06
            out += 0.5 * detuned * _env(n, sr, min(attack, seconds / 3), 2.5)
    if kind in ("pad", "strings", "stab"):
        out = _one_pole_lowpass(out, 2500.0 if kind == "stab" else 1800.0, sr)
    return _release((out / max(1, len(notes))).astype(np.float32), sr, 0.03)
