"""Tempo estimation and beat tracking on an onset envelope, in pure numpy.

Used on the motion's envelope (kinematic beats) so it must run inside Blender's Python, where
librosa is not available. The tracker is Ellis's dynamic-programming beat tracker (2007), the
algorithm librosa uses, extended with a *local* tempo so that beats follow tempo changes:

1. global tempo: autocorrelation of the envelope weighted by a log-normal prior around
   ``PRIOR_BPM``;
2. local tempo: the same in sliding windows, searched within [1/MAX_LOCAL_RATIO, MAX_LOCAL_RATIO]
   of the global period, median-smoothed, interpolated per sample;
3. beats: the sequence maximising onset strength minus ``TIGHTNESS`` x (log(interval/period))^2,
   with weak beats trimmed at both ends.

All periods and indices are in envelope samples; callers convert with the envelope's rate.
"""

from __future__ import annotations

import numpy as np

MIN_BPM = 40.0
MAX_BPM = 240.0
PRIOR_BPM = 120.0
PRIOR_OCTAVES = 1.0
LOCAL_WINDOW_S = 8.0
LOCAL_HOP_S = 1.0
MAX_LOCAL_RATIO = 1.6
TIGHTNESS = 100.0


def _autocorrelation(x: np.ndarray, max_lag: int) -> np.ndarray:
    """Unbiased autocorrelation of the mean-removed signal for lags 0..max_lag."""
    x = x - x.mean()
    n = x.shape[0]
    size = 1 << int(np.ceil(np.log2(2 * n)))
    spec = np.fft.rfft(x, size)
    ac = np.fft.irfft(spec * np.conj(spec), size)[: max_lag + 1]
    return ac / np.maximum(n - np.arange(max_lag + 1), 1)


def _best_lag(ac: np.ndarray, lags: np.ndarray, weight: np.ndarray) -> float | None:
    """Weighted argmax over candidate lags with parabolic refinement; None if no positive peak."""
    scores = ac[lags] * weight
    if scores.size == 0 or scores.max() <= 0:
        return None
    k = int(np.argmax(scores))
    lag = float(lags[k])
    if 0 < k < lags.size - 1:
        a, b, c = ac[lags[k] - 1], ac[lags[k]], ac[lags[k] + 1]
        denom = a - 2 * b + c
        if denom < 0:
            lag += float(np.clip(0.5 * (a - c) / denom, -0.5, 0.5))
    return lag


def estimate_period(env: np.ndarray, rate: float) -> float | None:
    """Global beat period in samples of ``env`` (rate in Hz), or None for a signal without pulse."""
    min_lag = max(2, int(np.floor(60.0 * rate / MAX_BPM)))
    max_lag = min(env.shape[0] - 2, int(np.ceil(60.0 * rate / MIN_BPM)))
    if max_lag <= min_lag:
        return None
    ac = _autocorrelation(env, max_lag)
    lags = np.arange(min_lag, max_lag + 1)
    bpm = 60.0 * rate / lags
    prior = np.exp(-0.5 * (np.log2(bpm / PRIOR_BPM) / PRIOR_OCTAVES) ** 2)
    return _best_lag(ac, lags, prior)


def local_periods(env: np.ndarray, rate: float, period: float) -> np.ndarray:
    """Per-sample beat period (samples), following tempo changes around the global ``period``."""
    n = env.shape[0]
    win = int(LOCAL_WINDOW_S * rate)
    hop = max(1, int(LOCAL_HOP_S * rate))
    if n <= win:
        return np.full(n, period)
    lo = max(2, int(np.floor(period / MAX_LOCAL_RATIO)))
    hi = int(np.ceil(period * MAX_LOCAL_RATIO))
    lags = np.arange(lo, min(hi, win - 2) + 1)
    # A gentle pull toward the global tempo keeps quiet windows from wandering.
    weight = np.exp(-0.5 * (np.log2(lags / period) / 0.5) ** 2)
    centres, values = [], []
    for start in range(0, n - win + 1, hop):
        ac = _autocorrelation(env[start:start + win], int(lags[-1]) + 1)
        lag = _best_lag(ac, lags, weight)
        centres.append(start + win / 2)
        values.append(period if lag is None else lag)
    values = np.asarray(values)
    if values.size >= 3:
        padded = np.concatenate([values[:1], values, values[-1:]])
        values = np.median(np.lib.stride_tricks.sliding_window_view(padded, 3), axis=1)
    return np.interp(np.arange(n), np.asarray(centres), values)


def _dp_beats(score: np.ndarray, periods: np.ndarray) -> np.ndarray:
    n = score.shape[0]
    cumulative = np.zeros(n)
    backlink = np.full(n, -1, dtype=np.int64)
    for t in range(n):
        p = periods[t]
        lo = max(0, t - int(round(2 * p)))
        hi = t - int(round(p / 2))
        if hi < lo or hi < 0:
            cumulative[t] = score[t]
            continue
        prev = np.arange(lo, hi + 1)
        candidates = cumulative[prev] - TIGHTNESS * np.log((t - prev) / p) ** 2
        k = int(np.argmax(candidates))
        if candidates[k] > 0:
            cumulative[t] = score[t] + candidates[k]
            backlink[t] = prev[k]
        else:
            cumulative[t] = score[t]
    # The last beat: the latest local maximum of the cumulative score that is clearly a beat.
    is_max = np.zeros(n, dtype=bool)
    is_max[1:-1] = (cumulative[1:-1] >= cumulative[:-2]) & (cumulative[1:-1] >= cumulative[2:])
    if n > 1:
        is_max[-1] = cumulative[-1] >= cumulative[-2]
    maxima = np.flatnonzero(is_max)
    if maxima.size == 0:
        return np.zeros(0, dtype=np.int64)
    threshold = 0.5 * np.median(cumulative[maxima])
    last = int(maxima[cumulative[maxima] >= threshold][-1])
    beats = [last]
    while backlink[beats[-1]] >= 0:
        beats.append(int(backlink[beats[-1]]))
    return np.asarray(beats[::-1], dtype=np.int64)


def _trim_weak_ends(beats: np.ndarray, score: np.ndarray) -> np.ndarray:
    """Drop beats at either end whose onset strength is below half the RMS strength of all beats."""
    if beats.size == 0:
        return beats
    strength = score[beats]
    threshold = 0.5 * np.sqrt(np.mean(strength ** 2))
    strong = np.flatnonzero(strength >= threshold)
    if strong.size == 0:
        return beats[:0]
    return beats[strong[0]:strong[-1] + 1]


def track_beats(env: np.ndarray, rate: float) -> np.ndarray:
    """Beat positions (sample indices into ``env``, ascending) of an onset envelope.

    Args:
        env: (N,) non-negative onset strength.
        rate: samples per second of ``env``.
    Returns:
        int64 (n_beats,); empty for an envelope without a pulse.
    """
    env = np.asarray(env, dtype=np.float64)
    if env.shape[0] < 4 or not env.any():
        return np.zeros(0, dtype=np.int64)
    period = estimate_period(env, rate)
    if period is None:
        return np.zeros(0, dtype=np.int64)
    periods = local_periods(env, rate, period)
    # Smooth with a window ~ 1/32 period wide (as in Ellis 2007) and normalise the scale.
    width = max(1.0, period / 32.0)
    taps = np.exp(-0.5 * (np.arange(-int(4 * width), int(4 * width) + 1) / width) ** 2)
    score = np.convolve(env, taps, mode="same")
    score = score / (score.std() + 1e-12)
    beats = _dp_beats(score, periods)
    return _trim_weak_ends(beats, score)
