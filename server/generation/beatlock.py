"""Beat lock: time-warp generated music so its beats land on the motion's kinematic beats.

1. Track the music's beats; pair them one-to-one with kinematic beats (within half a beat).
2. Build a monotonic piecewise-linear time map through those pairs and the two ends (so the total
   length never changes), dropping pairs that would need a local stretch beyond ``max_stretch``.
3. Render it segment by segment between anchors: each segment starts with its beat's attack
   kept intact (so drum transients are not smeared), and only the rest of the segment is
   time-stretched with librosa's phase vocoder to the target length (pitch unchanged). The output
   has exactly the input's sample count.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from motionscore.server.analysis.metrics import track_music_beats
from motionscore.server.generation.audio_io import mono_mix

MAX_STRETCH = 0.08


@dataclass
class BeatLockResult:
    audio: np.ndarray
    anchors: int          # beat pairs the warp goes through (0: the input was kept)
    max_stretch: float    # largest local stretch used (0.05 = 5 %)
    f1_before: float | None = None
    f1_after: float | None = None


def time_map(music_beats: np.ndarray, kinematic_beats: np.ndarray, duration: float,
             max_stretch: float = MAX_STRETCH) -> tuple[np.ndarray, np.ndarray]:
    """(output times, input times) of a monotonic map with 0 -> 0 and duration -> duration whose
    local slope stays within [1/(1+s), 1+s].

    Kinematic beats are walked in order; each looks for its music beat where the current tempo
    ratio predicts it (so a steady tempo difference, which makes a naive nearest-beat pairing
    skip beats, is followed), within a third of a beat.
    """
    kin = np.sort(np.asarray(kinematic_beats, float))
    music = np.sort(np.asarray(music_beats, float))
    lo, hi = 1.0 / (1.0 + max_stretch), 1.0 + max_stretch
    out, inp = [0.0], [0.0]
    if kin.size >= 2 and music.size >= 2:
        ratio = float(np.clip(np.median(np.diff(music)) / np.median(np.diff(kin)), lo, hi))
        window = np.median(np.diff(kin)) / 3
        for k in kin:
            if not 0.0 < k < duration:
                continue
            # Until the first anchor, a music beat must lie near the kinematic beat itself.
            guess = inp[-1] + (k - out[-1]) * ratio if len(out) > 1 else k
            m = music[np.argmin(np.abs(music - guess))]
            if abs(m - guess) > window or not (m > inp[-1] and m < duration):
                continue
            slope = (m - inp[-1]) / max(k - out[-1], 1e-9)
            if lo <= slope <= hi:
                out.append(float(k))
                inp.append(float(m))
                if len(out) > 2:
                    ratio = float(np.clip(0.7 * ratio + 0.3 * slope, lo, hi))
    # The last segment must reach (duration, duration) within bounds too: drop anchors until it does.
    while len(out) > 1:
        slope = (duration - inp[-1]) / max(duration - out[-1], 1e-9)
        if lo <= slope <= hi:
            break
        out.pop()
        inp.pop()
    out.append(duration)
    inp.append(duration)
    return np.array(out), np.array(inp)


#: Kept untouched at the start of every segment: the beat's attack.
ATTACK_S = 0.04
#: Short fades at segment joins, against clicks.
JOIN_FADE_S = 0.003


def _stretch_to(segment: np.ndarray, length: int, attack: int) -> np.ndarray:
    """``segment`` to exactly ``length`` samples: attack kept, the rest phase-vocoded."""
    import librosa

    if length <= 0:
        return np.zeros(0, np.float32)
    attack = min(attack, segment.size // 2, length // 2)
    head, tail = segment[:attack], segment[attack:]
    want = length - attack
    if tail.size == 0:
        body = np.zeros(want, np.float32)
    elif tail.size == want:
        body = tail
    else:
        body = librosa.effects.time_stretch(tail, rate=tail.size / want, n_fft=1024, hop_length=256)
        body = np.pad(body[:want], (0, max(0, want - body.size)))
    return np.concatenate([head, body]).astype(np.float32)


def beat_lock(audio: np.ndarray, sample_rate: int, kinematic_beats: np.ndarray,
              max_stretch: float = MAX_STRETCH, keep_if_worse: bool = True) -> BeatLockResult:
    """Warp ``audio`` (n,) or (n, channels) so its beats fall on ``kinematic_beats`` (s); output has
    the input's shape. Beats are tracked on the channels' mix and every channel is warped alike.

    With ``keep_if_worse`` the warped take is re-tracked and the input is returned unchanged when
    the beat F1 against the motion did not improve (music without a clear beat can get worse:
    measured by benchmarks/bench_beatlock.py)."""
    audio = np.asarray(audio, dtype=np.float32)
    mix = mono_mix(audio)
    n = mix.size
    duration = n / sample_rate
    _, music_beats = track_music_beats(mix, sample_rate)
    out_t, in_t = time_map(music_beats, kinematic_beats, duration, max_stretch)
    if out_t.size <= 2:
        return BeatLockResult(audio.copy(), 0, 0.0)
    out_idx = np.round(out_t * sample_rate).astype(int)
    in_idx = np.round(in_t * sample_rate).astype(int)
    out_idx[-1] = in_idx[-1] = n
    attack = int(ATTACK_S * sample_rate)
    fade = max(1, int(JOIN_FADE_S * sample_rate))

    def warp(channel: np.ndarray) -> np.ndarray:
        pieces = []
        for j in range(out_idx.size - 1):
            piece = _stretch_to(channel[in_idx[j]:in_idx[j + 1]], out_idx[j + 1] - out_idx[j], attack)
            if piece.size > 2 * fade and j + 1 < out_idx.size - 1:
                piece[-fade:] *= np.linspace(1.0, 0.0, fade)
            pieces.append(piece)
        warped = np.concatenate(pieces)[:n]
        return np.pad(warped, (0, n - warped.size))

    warped = warp(audio) if audio.ndim == 1 else np.stack([warp(audio[:, c]) for c in range(audio.shape[1])], axis=1)
    slopes = np.diff(in_t) / np.diff(out_t)
    peak = np.abs(warped).max()
    if peak > 1.0:
        warped = warped / peak
    result = BeatLockResult(warped.astype(np.float32), int(out_t.size - 2), float(np.max(np.abs(slopes - 1.0))))
    if keep_if_worse:
        from motionscore.server.analysis.metrics import beat_scores

        result.f1_before = beat_scores(music_beats, kinematic_beats).f1
        result.f1_after = beat_scores(track_music_beats(mono_mix(result.audio), sample_rate)[1], kinematic_beats).f1
        if result.f1_after <= result.f1_before:
            return BeatLockResult(audio.copy(), 0, 0.0, result.f1_before, result.f1_after)
    return result
