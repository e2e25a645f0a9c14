"""Audio with known beats: drum-and-chord songs for the conform tests (any format) and click tracks."""

from __future__ import annotations

from pathlib import Path

import numpy as np

#: The chord every test song holds (A major, Hz): its pitch must survive a conform.
CHORD_HZ = (220.0, 277.18, 329.63)


def drum_song(bpm: float, seconds: float, sample_rate: int = 22050, meter: int = 4, first_beat: float = 0.25,
              stereo: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """(audio float32 (channels, n), beat times s): a kick on every bar's first beat, a lighter
    kick on the others, a quiet held chord; the right channel is the left at 0.6 plus a hi-hat."""
    n = int(seconds * sample_rate)
    t = np.arange(n) / sample_rate
    left = 0.05 * sum(np.sin(2 * np.pi * f * t) for f in CHORD_HZ).astype(np.float32)
    right = 0.6 * left
    beats = np.arange(first_beat, seconds - 0.2, 60.0 / bpm)
    hit_t = np.arange(int(0.12 * sample_rate)) / sample_rate
    kick = np.sin(2 * np.pi * (55 + 120 * np.exp(-hit_t * 40)) * hit_t) * np.exp(-hit_t * 25)
    hat = np.random.default_rng(0).standard_normal(hit_t.size) * np.exp(-hit_t * 120) * 0.2
    for k, beat in enumerate(beats):
        i = int(round(beat * sample_rate))
        m = min(kick.size, n - i)
        gain = 0.9 if k % meter == 0 else 0.5
        left[i:i + m] += gain * kick[:m]
        right[i:i + m] += 0.6 * gain * kick[:m] + hat[:m]
    audio = np.stack([left, right]) if stereo else left[None]
    return audio.astype(np.float32), beats


def bridge_song(bpm: float = 120.0, seconds: float = 60.0, sample_rate: int = 22050,
                bridge: tuple[float, float] = (20.0, 40.0), hat_gain: float = 4.0) -> tuple[np.ndarray, np.ndarray]:
    """(audio float32 (n,) mono, beat times s): a kick on every beat and a quiet chord; inside
    ``bridge`` (s) the kick drops to half and loud hi-hats play on every off-beat ("and"), the
    trap of a syncopated passage: a beat tracker that follows the accents moves onto the off-beat
    there and back after it."""
    n = int(seconds * sample_rate)
    t = np.arange(n) / sample_rate
    audio = 0.03 * sum(np.sin(2 * np.pi * f * t) for f in CHORD_HZ)
    period = 60.0 / bpm
    beats = np.arange(0.25, seconds - 0.2, period)
    hit_t = np.arange(int(0.12 * sample_rate)) / sample_rate
    kick = np.sin(2 * np.pi * (55 + 120 * np.exp(-hit_t * 40)) * hit_t) * np.exp(-hit_t * 25)
    # A hi-hat is bright: noise differenced twice (a high-pass), nothing of it in the kick's band.
    noise = np.diff(np.random.default_rng(0).standard_normal(hit_t.size + 2), n=2) / 2
    hat = noise * np.exp(-hit_t * 60)
    for beat in beats:
        inside = bridge[0] <= beat < bridge[1]
        i = int(beat * sample_rate)
        m = min(kick.size, n - i)
        audio[i:i + m] += (0.4 if inside else 0.8) * kick[:m] + (0.0 if inside else 0.1) * hat[:m]
        o = int((beat + period / 2) * sample_rate)
        m = max(0, min(hat.size, n - o))
        audio[o:o + m] += (hat_gain if inside else 0.05) * hat[:m]
    return audio.astype(np.float32), beats


def write_song(path: Path, audio: np.ndarray, sample_rate: int) -> Path:
    """Write (channels, n) audio as wav, flac, ogg or mp3 (by the suffix)."""
    import soundfile as sf

    formats = {".wav": ("WAV", "PCM_16"), ".flac": ("FLAC", "PCM_16"), ".ogg": ("OGG", "VORBIS"),
               ".mp3": ("MP3", "MPEG_LAYER_III")}
    fmt, subtype = formats[path.suffix]
    sf.write(str(path), audio.T, sample_rate, format=fmt, subtype=subtype)
    return path


def attacks(audio: np.ndarray, sample_rate: int, near: np.ndarray, reach: float = 0.06) -> np.ndarray:
    """Where the first sound above a third of the local peak starts near each time (s), or nan:
    the kicks' attacks, found without any beat tracker."""
    mono = np.abs(audio.mean(axis=0) if audio.ndim == 2 else audio)
    found = []
    for t in near:
        lo, hi = int(max(t - reach, 0) * sample_rate), int(min(t + reach, mono.size / sample_rate) * sample_rate)
        window = mono[lo:hi]
        if window.size == 0 or window.max() < 0.2:
            found.append(np.nan)
            continue
        found.append((lo + int(np.argmax(window > window.max() / 3))) / sample_rate)
    return np.asarray(found)


def click_track(beats, sr=22050, duration=None) -> np.ndarray:
    """float32 (n,): a 20 ms 1 kHz click at each of ``beats`` (s), ``duration`` s long (default: the
    last beat + 1 s)."""
    n = int((duration or beats[-1] + 1) * sr)
    audio = np.zeros(n, np.float32)
    click = np.sin(2 * np.pi * 1000 * np.arange(int(0.02 * sr)) / sr) * np.exp(-np.arange(int(0.02 * sr)) / 100)
    for b in beats:
        i = int(b * sr)
        audio[i:i + click.size] += click[: max(0, min(click.size, n - i))]
    return audio
