"""Rhythm extraction from 2D keypoints (Li et al. 2024, sec. 3.2; the LORIS rhythm code).

Pipeline, all at ``RHYTHM_FPS`` (60 Hz):

1. resample keypoints (T, J, 2) from the motion's fps to 60 Hz -> (T60, J, 2): linearly for the
   onset sequence, Catmull-Rom for the tempo map's cues (see :func:`resample`);
2. velocity: first difference over time -> (T60-1, J, 2);
3. directogram: per joint, speed |v| summed into K direction bins of the angle folded into
   [0, 180) degrees, weighted by joint confidence -> (T60-1, K);
4. envelope: positive part of the directogram's time difference summed over bins -> (T60-2,),
   normalised by its maximum; sample ``i`` sits at ``(i + 1) / 60`` seconds;
5. onsets: local maxima of the envelope -> binary rhythm sequence (T60-2,), the encoders' input;
6. kinematic beats: a tempo-following beat tracker (:mod:`.tempo`) on the *kinetic* envelope,
   the positive deceleration of the total joint speed (movement stopping, the AIST++ notion of a
   kinematic beat), in seconds. They follow every wobble of the dancer, so music does not follow
   them directly: they are kept as ``kinematic_beat_times``;
7. the musical tempo map (:mod:`.tempo_map`): steady beats, bars and tempo segments estimated
   from the motion's cues (whole-body and feet deceleration, the hips' vertical bounce, the
   directogram envelope), catching the user's hits. ``beat_times`` and ``tempo_bpm`` are the
   map's: every backbone's music, beat lock and the metrics follow the map.

``mode="compat"`` reproduces the original public code for its released encoder: angle bin
``floor(deg) % 10`` (the last digit of the angle), forward-looking peak windows, only the last of
consecutive peaks kept, the final sample never a peak, no confidence weighting. Everything else
uses ``mode="default"``: 18-degree sectors and centred windows.

A motion that does not move (envelope maximum below ``STATIC_TOLERANCE`` of the keypoints'
extent) gives a defined result: an all-zero envelope and sequence, no onsets, no beats and no
tempo (``Rhythm.is_static``).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import numpy as np

from .genres import GENRE_METER, GENRE_TEMPO_RANGE
from .motion import Motion
from .tempo import track_beats
from .tempo_map import TempoMap, estimate_tempo_map, smooth

RHYTHM_FPS = 60.0
NUM_DIRECTION_BINS = 10
MODES = ("default", "compat")
#: Envelope maxima below this fraction of the keypoints' spatial extent count as no movement.
STATIC_TOLERANCE = 1e-6
#: Default-mode peak picking: a peak is the maximum within +-PEAK_HALF_WINDOW samples (50 ms) and
#: exceeds the mean over +-MEAN_HALF_WINDOW samples (100 ms) by PEAK_DELTA x the envelope's mean.
PEAK_HALF_WINDOW = 3
MEAN_HALF_WINDOW = 6
PEAK_DELTA = 0.1
#: Compat mode: the original's forward windows span six samples, so the last five never peak.
COMPAT_TAIL = 5
#: Gaussian smoothing (samples at 60 Hz) of the joint speed before the kinetic envelope.
KINETIC_SMOOTHING = 2.0
#: Accents (movement stopping) come this long after the musical beat: measured on the ballroom
#: dances in ../shared/data/real/paired, whose feet stop 55-250 ms (median 130 ms) after the song's
#: beats; with 0.1 s the map's beats land on the songs' beats (F1 at 70 ms 0.43 vs 0.25 without).
ACCENT_LATENCY_S = 0.1
#: Tempo of the grid for a motion without a pulse that has hits to catch (no genre given).
STILL_TEMPO_BPM = 120.0
#: Detrending window (seconds) for the vertical bounce cue.
BOUNCE_DETREND_S = 0.5
#: The bounce counts as a measurement of its own (not outvoted by the speed cues) only when the
#: hips move vertically by at least this fraction of the figure's height (std after detrending):
#: below it the "bounce" is keypoint jitter (a synthetic dancer whose hips stay still: 0.03 %);
#: all 29 real clips in ../shared/data/real bounce by 1.2 % or more.
BOUNCE_MIN_FRACTION = 0.005


@dataclass(frozen=True)
class Rhythm:
    """The rhythm of one motion.

    Attributes:
        envelope: float32 (N,), positive directogram acceleration normalised to [0, 1], sample
            ``i`` at ``(i + 1) / fps`` seconds; N = T60 - 2.
        binary: uint8 (N,), 1 at onsets (the rhythm sequence fed to the encoders).
        onset_times: float64 (n_onsets,), seconds from the motion's first frame.
        beat_times: float64 (n_beats,), the music's beats in seconds: the tempo map's beats.
        tempo_bpm: the map's main tempo, None without beats.
        duration: the motion's length in seconds (frames / motion fps).
        fps: sample rate of ``envelope``/``binary`` (60 Hz).
        mode: ``"default"`` or ``"compat"``.
        tempo_map: the musical tempo map (None for a motion without a pulse).
        kinematic_beat_times: float64, the beat tracker's beats on the kinetic envelope (seconds),
            which follow every kinematic beat.
    """

    envelope: np.ndarray
    binary: np.ndarray
    onset_times: np.ndarray
    beat_times: np.ndarray
    tempo_bpm: float | None
    duration: float
    fps: float = RHYTHM_FPS
    mode: str = "default"
    tempo_map: TempoMap | None = None
    kinematic_beat_times: np.ndarray = field(default_factory=lambda: np.zeros(0))

    @property
    def is_static(self) -> bool:
        return not bool(self.envelope.any())

    def sample_times(self) -> np.ndarray:
        """Time in seconds of each envelope sample, (N,)."""
        return (np.arange(self.envelope.shape[0]) + 1.0) / self.fps

    def following_kinematic_beats(self) -> "Rhythm":
        """This rhythm with the beat tracker's beats as its beats and no tempo map: beats exactly
        where the movement stops. The synthetic worlds render their music this way (their dancers
        stop exactly on the music's beats, by construction) and the learning proof measures
        against it, so both stay what they were before the tempo map."""
        beats = self.kinematic_beat_times
        tempo = float(60.0 / np.median(np.diff(beats))) if beats.size >= 2 else None
        return replace(self, beat_times=beats, tempo_bpm=tempo, tempo_map=None)

    def window(self, start: float, end: float) -> "Rhythm":
        """The part of this rhythm in [start, end) seconds, with times relative to ``start``.

        Used to condition long shots window by window. The sub-sequence keeps the 60 Hz sampling;
        the window's tempo is that of its part of the tempo map.
        """
        times = self.sample_times()
        keep = (times >= start) & (times < end)
        beats = self.beat_times[(self.beat_times >= start) & (self.beat_times < end)] - start
        kinematic = self.kinematic_beat_times
        kinematic = kinematic[(kinematic >= start) & (kinematic < end)] - start
        onsets = self.onset_times[(self.onset_times >= start) & (self.onset_times < end)] - start
        tempo_map = self.tempo_map.window(start, end) if self.tempo_map is not None else None
        tempo = tempo_map.tempo_bpm if tempo_map is not None and tempo_map.tempo_bpm else self.tempo_bpm
        return Rhythm(envelope=self.envelope[keep], binary=self.binary[keep], onset_times=onsets,
                      beat_times=beats, tempo_bpm=tempo, duration=max(0.0, min(end, self.duration) - start),
                      fps=self.fps, mode=self.mode, tempo_map=tempo_map, kinematic_beat_times=kinematic)


def resample(keypoints: np.ndarray, weights: np.ndarray, fps: float, target_fps: float = RHYTHM_FPS,
             catmull_rom: bool = True):
    """Resampling in time: Catmull-Rom (cubic, C1) for the keypoints (linear with ``catmull_rom=False``),
    linear for the weights.

    Every cue downstream is a time difference of speed or direction (an acceleration). A linear
    interpolant bends only at the source frames, so its acceleration is an impulse train at the
    source frame rate that lands on a repeating pattern of 60 Hz samples: 12 Hz at 24 fps, 5 Hz
    at 25 fps. Its subharmonics (720/k and 300/k BPM) then read as tempo: on the 24 real AIST++
    clips of ../shared/data/real taken down to 24 fps, the directogram cue's tempo sat on one of
    them in 20 of 24 clips (3 with this interpolant: chance, as often as the hips' bounce). Where a joint is
    untrusted (weight 0) at any of a segment's four control frames, that segment stays linear, so
    an untracked frame's coordinates do not leak further than before.

    Args:
        keypoints: (T, J, 2) at ``fps``; frame t at t / fps seconds.
        weights: (T, J) per-joint confidence.
    Returns:
        (keypoints (T', J, 2) float64, weights (T', J) float64) at ``target_fps``, covering
        [0, (T-1)/fps] seconds: T' = floor((T-1) * target_fps / fps) + 1; exact at source frames.
    """
    frames = keypoints.shape[0]
    if fps == target_fps or frames < 2:
        return keypoints.astype(np.float64), weights.astype(np.float64)
    count = int(np.floor((frames - 1) * target_fps / fps + 1e-9)) + 1
    src = np.arange(count) * (fps / target_fps)
    i0 = np.minimum(np.floor(src).astype(np.int64), frames - 2)
    t = (src - i0)[:, None]
    kp = keypoints.astype(np.float64)
    w = weights.astype(np.float64)
    out_w = w[i0] * (1 - t) + w[i0 + 1] * t
    # Control frames i0-1 .. i0+2, the ends extended linearly (end tangent = the end segment's).
    padded = np.concatenate([2 * kp[:1] - kp[1:2], kp, 2 * kp[-1:] - kp[-2:-1]])
    p0, p1, p2, p3 = padded[i0], padded[i0 + 1], padded[i0 + 2], padded[i0 + 3]
    tt = t[..., None]
    linear = p1 * (1 - tt) + p2 * tt
    if not catmull_rom:
        return linear, out_w
    cubic = p1 + 0.5 * tt * ((p2 - p0) + tt * ((2 * p0 - 5 * p1 + 4 * p2 - p3) + tt * (3 * (p1 - p2) + p3 - p0)))
    padded_w = np.concatenate([w[:1], w, w[-1:]])
    trusted = np.minimum.reduce([padded_w[i0], padded_w[i0 + 1], padded_w[i0 + 2], padded_w[i0 + 3]]) > 0
    return np.where(trusted[..., None], cubic, linear), out_w


def directogram(keypoints: np.ndarray, weights: np.ndarray, bins: int = NUM_DIRECTION_BINS,
                mode: str = "default") -> np.ndarray:
    """Speed summed per direction bin.

    Args:
        keypoints: (T, J, 2) at a fixed rate.
        weights: (T, J) confidence; a velocity is weighted by the smaller confidence of its two
            frames (ignored in compat mode, as in the original code).
    Returns:
        (T-1, bins) float64, units of keypoints per frame.
    """
    vel = np.diff(keypoints, axis=0)
    speed = np.hypot(vel[..., 0], vel[..., 1])
    degrees = np.degrees(np.arctan2(vel[..., 1], vel[..., 0])) % 180.0
    if mode == "compat":
        idx = np.floor(degrees).astype(np.int64) % 10
        if bins != 10:
            raise ValueError("compat mode has exactly 10 bins")
    else:
        idx = np.minimum((degrees * (bins / 180.0)).astype(np.int64), bins - 1)
        speed = speed * np.minimum(weights[1:], weights[:-1])
    steps = vel.shape[0]
    flat = (np.arange(steps)[:, None] * bins + idx).reshape(-1)
    return np.bincount(flat, weights=speed.reshape(-1), minlength=steps * bins).reshape(steps, bins)


def envelope_from_directogram(direct: np.ndarray) -> np.ndarray:
    """Positive acceleration summed over bins, (T-2,) float64, not normalised."""
    return np.clip(np.diff(direct, axis=0), 0.0, None).sum(axis=1)


def kinetic_envelope(keypoints: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """Positive deceleration of the total confidence-weighted joint speed, (T-2,) float64.

    Args:
        keypoints: (T, J, 2) at 60 Hz; weights: (T, J).
    Sample ``i`` sits at ``(i + 1) / 60`` s, like :func:`envelope_from_directogram`. The speed is
    smoothed with a Gaussian of ``KINETIC_SMOOTHING`` samples first: differentiating twice
    amplifies keypoint jitter.
    """
    vel = np.diff(keypoints, axis=0)
    speed = (np.hypot(vel[..., 0], vel[..., 1]) * np.minimum(weights[1:], weights[:-1])).sum(axis=1)
    sigma = KINETIC_SMOOTHING
    taps = np.exp(-0.5 * (np.arange(-int(4 * sigma), int(4 * sigma) + 1) / sigma) ** 2)
    padded = np.pad(speed, taps.size // 2, mode="edge")
    smooth = np.convolve(padded, taps / taps.sum(), mode="valid")
    return np.clip(-np.diff(smooth), 0.0, None)


def tempo_cues(keypoints: np.ndarray, weights: np.ndarray, joint_names, directogram_env: np.ndarray
               ) -> tuple[list[np.ndarray], np.ndarray, int]:
    """The tempo map's inputs from keypoints at 60 Hz: (cues, onset envelope, independent).

    Cues (each (T-2,), normalised): the kinetic envelope, the directogram envelope, and with COCO
    joint names the feet's deceleration and the hips' vertical bounce (detrended). The onset
    envelope (T-2,) (accents, for the grid's phase) is the kinetic plus the feet's deceleration
    envelope. ``independent`` is 1 when the last cue is the bounce (measured from the hips' height,
    not from joint speeds like the others) and the hips really move (BOUNCE_MIN_FRACTION), else 0.
    """
    names = {str(n): i for i, n in enumerate(joint_names)}

    def unit(x: np.ndarray) -> np.ndarray:
        peak = float(np.max(np.abs(x))) if x.size else 0.0
        return x / peak if peak > 0 else x

    kinetic = unit(kinetic_envelope(keypoints, weights))
    cues = [kinetic, unit(directogram_env)]
    independent = 0
    onset = kinetic
    ankles = [names[n] for n in ("left_ankle", "right_ankle") if n in names]
    if ankles:
        feet = unit(kinetic_envelope(keypoints[:, ankles], weights[:, ankles]))
        cues.append(feet)
        onset = kinetic + feet
    hips = [names[n] for n in ("left_hip", "right_hip") if n in names]
    if hips:
        height = keypoints[1:-1, hips, 1].mean(axis=1)
        bounce = height - smooth(height, BOUNCE_DETREND_S * RHYTHM_FPS)
        cues.append(unit(bounce))
        seen = weights > 0
        top = np.where(seen, keypoints[..., 1], -np.inf).max(axis=1)
        bottom = np.where(seen, keypoints[..., 1], np.inf).min(axis=1)
        heights = (top - bottom)[seen.sum(axis=1) >= 2]
        figure = float(np.median(heights)) if heights.size else 0.0
        if figure > 0 and bounce.std() >= BOUNCE_MIN_FRACTION * figure:
            independent = 1
    return cues, onset, independent


def _sliding(values: np.ndarray, before: int, after: int, fill: float, reducer) -> np.ndarray:
    padded = np.concatenate([np.full(before, fill), values, np.full(after, fill)])
    windows = np.lib.stride_tricks.sliding_window_view(padded, before + after + 1)
    return reducer(windows, axis=1)


def _centred_mean(values: np.ndarray, half: int) -> np.ndarray:
    """Mean over [i-half, i+half] clipped to the array (edges average fewer samples)."""
    csum = np.concatenate([[0.0], np.cumsum(values)])
    idx = np.arange(values.shape[0])
    lo = np.maximum(idx - half, 0)
    hi = np.minimum(idx + half + 1, values.shape[0])
    return (csum[hi] - csum[lo]) / (hi - lo)


def pick_onsets(env: np.ndarray) -> np.ndarray:
    """Default peak picking with centred windows. env: (N,) in [0, 1]. Returns uint8 (N,)."""
    n = env.shape[0]
    out = np.zeros(n, dtype=np.uint8)
    if n == 0 or not env.any():
        return out
    local_max = _sliding(env, PEAK_HALF_WINDOW, PEAK_HALF_WINDOW, -np.inf, np.max)
    local_mean = _centred_mean(env, MEAN_HALF_WINDOW)
    candidate = (env == local_max) & (env > 0) & (env >= local_mean + PEAK_DELTA * env.mean())
    # A flat-topped peak counts once, at its first sample; then keep peaks at least a window apart.
    last = -PEAK_HALF_WINDOW - 1
    for i in np.flatnonzero(candidate):
        if i - last > PEAK_HALF_WINDOW:
            out[i] = 1
            last = i
    return out


def pick_onsets_compat(env: np.ndarray) -> np.ndarray:
    """The original code's peak picking (forward-looking windows). env: (N,). Returns uint8 (N,).

    Sample i is a peak when it is the maximum of env[i:i+6] and exceeds the mean of env[i:i+4] by
    more than 0.1 x mean(env); of consecutive peaks only the last survives. The original computes
    its windows only where all six samples exist and zero-pads the result, so the last
    COMPAT_TAIL samples are never onsets (the final one included).
    """
    n = env.shape[0]
    out = np.zeros(n, dtype=np.uint8)
    if n <= COMPAT_TAIL or not env.any():
        return out
    threshold = 0.1 * env.mean()
    windows = np.lib.stride_tricks.sliding_window_view(env, COMPAT_TAIL + 1)  # (n - 5, 6): env[i:i+6]
    fwd_max = windows.max(axis=1)
    fwd_mean = windows[:, :4].mean(axis=1)
    head = env[:n - COMPAT_TAIL]
    peaks = (head == fwd_max) & (head - fwd_mean > threshold)
    out[:n - COMPAT_TAIL][peaks] = 1
    consecutive = (out[:-1] == 1) & (out[1:] == 1)
    out[:-1][consecutive] = 0
    return out


def extract_rhythm(motion: Motion, mode: str = "default", hits=(), tempo_bpm: float | None = None,
                   meter: int | None = None, genre: str | None = None) -> Rhythm:
    """Rhythm of a motion (see the module docstring). Pure numpy; any length and joint count.

    ``hits`` (seconds), ``tempo_bpm`` (the user's tempo, no estimate) and ``meter`` (3 or 4) go to
    the tempo map; ``genre`` (a code; default the motion's) sets its tempo prior and, for a
    ballroom dance, the meter (3 for the waltzes, 4 for the others) unless ``meter`` is given.
    """
    if mode not in MODES:
        raise ValueError(f"unknown rhythm mode {mode!r}; choose one of {', '.join(MODES)}")
    # The onset sequence (the encoders' input) keeps the linear resampling it always had: on the
    # real 30 fps AIST++ dances its periodicity names the music's tempo in 26 of 90 windows that
    # way and in 20 with Catmull-Rom (chance 16.3, tests/models/test_encoders.py). The tempo map's cues
    # need Catmull-Rom (see resample).
    keypoints, weights = resample(motion.keypoints, motion.weights(), motion.fps, catmull_rom=False)
    if keypoints.shape[0] < 3:
        empty = np.zeros(0, dtype=np.float32)
        return Rhythm(empty, empty.astype(np.uint8), np.zeros(0), np.zeros(0), None, motion.duration, mode=mode)
    raw = envelope_from_directogram(directogram(keypoints, weights, mode=mode))
    extent = float(np.ptp(keypoints.reshape(-1, 2), axis=0).max()) if keypoints.size else 0.0
    peak = float(raw.max()) if raw.size else 0.0
    if peak <= STATIC_TOLERANCE * max(extent, 1e-12):
        env = np.zeros_like(raw)
    else:
        env = raw / peak
    binary = pick_onsets_compat(env) if mode == "compat" else pick_onsets(env)
    times = (np.arange(env.shape[0]) + 1.0) / RHYTHM_FPS
    kinetic = kinetic_envelope(keypoints, weights)
    moving = bool(env.any() and kinetic.any())
    beats = track_beats(kinetic, RHYTHM_FPS) if moving else np.zeros(0, dtype=np.int64)
    kinematic_times = times[beats] if beats.size else np.zeros(0)
    tempo_map = None
    if not moving and tempo_bpm is None and len(hits):
        # No pulse to follow, but hits to catch: a steady grid at the genre's usual tempo does.
        low, high = GENRE_TEMPO_RANGE.get(genre or motion.genre, (STILL_TEMPO_BPM, STILL_TEMPO_BPM))
        tempo_bpm = float(np.sqrt(low * high))
    if moving or tempo_bpm is not None:
        # The map reads the default-mode directogram: compat mode's angle bins are a quirk of the
        # released encoder's input, not a better cue.
        if motion.fps == RHYTHM_FPS:  # nothing was resampled: the onset sequence's input is the same
            smooth_keypoints, smooth_weights = keypoints, weights
            direct = raw if mode == "default" else envelope_from_directogram(directogram(keypoints, weights))
        else:
            smooth_keypoints, smooth_weights = resample(motion.keypoints, motion.weights(), motion.fps)
            direct = envelope_from_directogram(directogram(smooth_keypoints, smooth_weights))
        cues, onset, independent = tempo_cues(smooth_keypoints, smooth_weights, motion.names, direct)
        genre = genre or motion.genre
        if meter is None:
            meter = GENRE_METER.get(genre)
        tempo_map = estimate_tempo_map(cues, onset, RHYTHM_FPS, motion.duration, GENRE_TEMPO_RANGE.get(genre),
                                       hits=hits, tempo_bpm=tempo_bpm, meter=meter, latency_s=ACCENT_LATENCY_S,
                                       independent=independent, meter_cue=cues[-1] if independent else None)
    beat_times = tempo_map.beats if tempo_map is not None else np.zeros(0)
    return Rhythm(
        envelope=env.astype(np.float32),
        binary=binary,
        onset_times=times[binary.astype(bool)],
        beat_times=beat_times,
        tempo_bpm=tempo_map.tempo_bpm if tempo_map is not None else None,
        duration=motion.duration,
        mode=mode,
        tempo_map=tempo_map,
        kinematic_beat_times=kinematic_times,
    )
