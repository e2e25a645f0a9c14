"""A song's beats and bars, as the time map needs them: regular, one per beat, bars marked.

The beats come from librosa's dynamic-programming tracker, like the tracker that measures every
take, but steered to the pulse nearest the tempo map's tempo; then they are made regular (a beat the tracker skipped is put back between its neighbours, a doubled one
dropped), because the time map pairs the song's beats with the map's beats one by one and a
skipped beat would shift every later pair; a passage the tracker followed on the off-beat and then
left again is put back on the grid around it (:func:`rejoin_grid`). Bars: the beat phase whose beats carry the most
low-frequency onset energy (kick drum, bass) starts them.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from motionscore.server.analysis.metrics import TRACKING_SR
from .song import SongError

#: Fewest beats a song must have for a time map (two bars of 4/4).
MIN_BEATS = 8
#: Beats closer than this fraction of the median interval are doubles; gaps longer than
#: (1 + this) intervals get the missing beats back.
DOUBLE_FRACTION = 0.5
GAP_FRACTION = 0.5
#: Bars are found on onsets below this frequency (Hz): the kick and the bass mark the downbeat.
BAR_CUE_FMAX = 250.0
#: The tracker's beats come this long after the attacks they stand for (its onset envelope peaks
#: once an attack's energy has risen; results.md has the measurement). A conform moves the
#: attacks, so the beats are taken this much earlier.
TRACKER_LAG_S = 0.02
#: The broad prior that picks a song's dominant pulse (BPM, width in octaves), and how far (log
#: ratio) from its half or double the autocorrelation peak refining that level may lie.
DEFAULT_PRIOR_BPM = 120.0
DOMINANT_OCTAVES = 1.0
LEVEL_REACH = 0.04
#: How strongly the beat tracker holds the period (librosa's ``tightness``, default 100). A song keeps
#: its phase: a syncopated bass line or off-beat guitar must not pull the beats onto the "and" for a
#: few bars, which at the default it can. Much tighter and a played song's small tempo drift is no
#: longer followed (results.md has the measurement).
TRACKER_TIGHTNESS = 200.0
#: An excursion (:func:`rejoin_grid`): the tracked beats' phase moves by half a beat (give or take
#: HALF_BEAT_SLACK beats) within EXCURSION_WINDOW beats, and a later move brings it back onto the
#: grid it left (to within RETURN_SLACK beats). Smaller moves (a played song's drift) are left alone.
EXCURSION_WINDOW = 5
MIN_PHASE_MOVE = 0.3
HALF_BEAT_SLACK = 0.15
RETURN_SLACK = 0.2
#: Pulses considered (BPM), and the onset envelope's hop (librosa's default, samples).
MIN_SONG_BPM, MAX_SONG_BPM = 40.0, 240.0
HOP = 512
#: A song whose onset envelope (librosa's spectral flux of the dB mel spectrogram) stays below
#: this in 99 % of its frames has nothing that changes: a drone or a pad, no beat to follow.
MIN_ONSET_FLUX = 1.0
#: A steady beat stands out of the onset envelope: the mean onset strength at the beats must be
#: at least this multiple of the envelope's mean, or the song has no beat to follow.
MIN_BEAT_CONTRAST = 1.15


@dataclass(frozen=True)
class SongBeats:
    """Beats of a song.

    Attributes:
        beats: float64 (n,), seconds from the song's start, ascending, regular.
        downbeats: int64 (m,), indices into ``beats`` of each bar's first beat.
        meter: beats per bar.
        tempo_bpm: median tempo.
    """

    beats: np.ndarray
    downbeats: np.ndarray
    meter: int
    tempo_bpm: float

    @property
    def period(self) -> float:
        """Median beat interval, seconds."""
        return 60.0 / self.tempo_bpm


def regularise(beats: np.ndarray) -> np.ndarray:
    """Beats (s) with doubles removed and skipped beats put back, evenly between neighbours."""
    beats = np.sort(np.asarray(beats, dtype=np.float64))
    if beats.size < 3:
        return beats
    period = float(np.median(np.diff(beats)))
    kept = [beats[0]]
    for t in beats[1:]:
        if t - kept[-1] >= DOUBLE_FRACTION * period:
            kept.append(t)
    out = [kept[0]]
    for t in kept[1:]:
        gap = t - out[-1]
        missing = int(round(gap / period)) - 1
        if gap > (1 + GAP_FRACTION) * period and missing > 0:
            out.extend(out[-1] + gap * np.arange(1, missing + 1) / (missing + 1))
        out.append(t)
    return np.asarray(out)


def phase_moves(beats: np.ndarray) -> list[tuple[int, int, float]]:
    """Where the beats' phase moves against the song's straight grid.

    Args:
        beats: float64 (n,), seconds, ascending, one per beat (regularised).

    Returns:
        (first, last, move) per move: beats ``first..last-1`` are the transition, ``move`` is the
        phase after it less the phase before it, in beats (medians of four beats either side;
        the phase of a beat is its time against a grid at the ordinary beat interval).
    """
    # The grid's period is the mean of the ordinary intervals: the median is one whole number of
    # the tracker's frames (a 120 BPM song's beats alternate 21 and 22 frames), and a line through
    # all beats is tilted by the beat an excursion often costs, which blurs each move into the slope.
    intervals = np.diff(beats)
    typical = intervals[np.abs(intervals / np.median(intervals) - 1.0) < 0.1]
    period = float(typical.mean())
    phase = (beats - beats[0]) / period - np.arange(beats.size)
    moves, j = [], 0
    while j + EXCURSION_WINDOW < phase.size:
        change = phase[j + EXCURSION_WINDOW] - phase[j]
        if abs(change) < MIN_PHASE_MOVE:
            j += 1
            continue
        last = j + EXCURSION_WINDOW
        # A move spread over more beats than the window is followed to where it settles.
        while last + 1 < phase.size and np.sign(change) * (phase[last + 1] - phase[last]) > 0.05:
            last += 1
        before = float(np.median(phase[max(0, j - 3):j + 1]))
        after = float(np.median(phase[last:last + 4]))
        moves.append((j + 1, last, after - before))
        j = last
    return moves


def rejoin_grid(beats: np.ndarray, low: np.ndarray) -> np.ndarray:
    """Beats (s, (n,) ascending, regularised, the tracker's clock) with every off-beat excursion put
    back on the grid; ``low``: the low-frequency onset envelope at the tracker's frames.

    A tracker that holds its period can still be pulled onto the off-beat for a passage (a
    cha-cha's bridge whose hi-hats and guitar strokes sit on the "and"; the bass stays on the beat)
    and back once the accents return. Music does not leave its beat by half a beat and come back,
    so a passage between a half-beat move and a move back onto the grid it left is shifted by half
    a beat onto that grid, if the kick and bass agree (more low-frequency onset strength half a beat
    away than on the passage's beats: a song that slows and catches up again, rubato, moves the
    same way, and there the low end stays on the tracked beats); the beats of the two moves are
    dropped, and :func:`regularise` refills them evenly. A single move, or one that does not return,
    is left alone: it may be the song's own timing (a drummer slowing for a few bars).
    """
    if beats.size < 3 * EXCURSION_WINDOW:
        return beats
    moves = phase_moves(beats)
    if len(moves) < 2:
        return beats
    period = float(np.median(np.diff(beats)))
    out = beats.copy()
    k = 0
    while k + 1 < len(moves):
        (first, settled, move), (back_first, back_settled, back) = moves[k], moves[k + 1]
        half_beat = all(abs(abs(m) % 1.0 - 0.5) <= HALF_BEAT_SLACK for m in (move, back))
        returns = abs((move + back) - round(move + back)) <= RETURN_SLACK
        moved = beats[settled:back_first] - np.sign(move) * 0.5 * period
        if not (half_beat and returns and moved.size
                and low_strength(low, moved).mean() > low_strength(low, beats[settled:back_first]).mean()):
            k += 1
            continue
        out[settled:back_first] = moved
        out[first:settled] = np.nan
        out[back_first:back_settled] = np.nan
        k += 2  # the move back closes this excursion; it opens none
    return regularise(out[~np.isnan(out)])


def low_strength(low: np.ndarray, times: np.ndarray) -> np.ndarray:
    """Low-frequency onset strength (n,) at each of ``times`` (s, the tracker's clock): the strongest
    frame of ``low`` (the onset envelope below BAR_CUE_FMAX at the tracker's frames) within 50 ms,
    since the tracker's beat can sit a frame early or late."""
    import librosa

    frames = np.clip(librosa.time_to_frames(times, sr=TRACKING_SR), 0, low.size - 1)
    reach = max(1, int(0.05 * TRACKING_SR / HOP))
    return np.array([low[max(0, f - reach):f + reach + 1].max() for f in frames])


def bar_phase(low: np.ndarray, beats: np.ndarray, meter: int) -> int:
    """Index (0..meter-1) of the first downbeat: the phase whose beats carry the most low-frequency
    onset energy (``low``: the onset envelope below BAR_CUE_FMAX at the tracker's frames)."""
    if beats.size < 2 * meter:
        return 0
    strength = low_strength(low, beats)
    return int(np.argmax([strength[p::meter].mean() for p in range(meter)]))


def pulse_tempo(envelope: np.ndarray, target_bpm: float | None) -> float | None:
    """The song's beat (BPM) at the metrical level nearest ``target_bpm`` (the map's tempo).

    The dominant pulse is the peak of the onset envelope's autocorrelation that is strongest under
    a broad prior around 120 BPM; its half, itself or its double is taken, whichever lies nearest
    the target (a tracker's usual doubt is the octave), and refined to the autocorrelation peak
    there. Pulses in other ratios (a waltz's two-per-bar hemiola, a 3:2 cross-rhythm) are never
    chosen, however near the target. None without a pulse.
    """
    import librosa
    from scipy.signal import find_peaks

    curve = librosa.autocorrelate(envelope - envelope.mean())
    if curve.size < 3 or curve[0] <= 0:
        return None
    curve = curve / curve[0]
    frames_per_minute = 60.0 * TRACKING_SR / HOP
    with np.errstate(divide="ignore"):
        bpms = frames_per_minute / np.arange(curve.size, dtype=np.float64)
    peaks, _ = find_peaks(curve)
    peaks = peaks[(bpms[peaks] >= MIN_SONG_BPM) & (bpms[peaks] <= MAX_SONG_BPM) & (curve[peaks] > 0)]
    if peaks.size == 0:
        return None
    weight = curve[peaks] * np.exp(-0.5 * (np.log2(bpms[peaks] / DEFAULT_PRIOR_BPM) / DOMINANT_OCTAVES) ** 2)
    dominant = float(bpms[peaks[np.argmax(weight)]])
    level = dominant if target_bpm is None else min(
        (dominant * f for f in (0.5, 1.0, 2.0)), key=lambda bpm: abs(np.log(bpm / target_bpm)))
    near = peaks[np.abs(np.log(bpms[peaks] / level)) < LEVEL_REACH]
    if near.size == 0:
        return level
    best = int(near[np.argmax(curve[near])])
    left, mid, right = curve[best - 1], curve[best], curve[best + 1]
    bend = left - 2 * mid + right
    shift = 0.5 * (left - right) / bend if bend < 0 else 0.0
    return float(frames_per_minute / (best + shift))


def _beats_at(envelope: np.ndarray, low: np.ndarray, bpm: float) -> np.ndarray:
    """Regular beats (s, the tracker's clock) tracked on ``envelope`` at ``bpm``, off-beat
    excursions rejoined by the low-band onsets ``low`` (in every pass: a beat lost to an excursion
    would make the tempo refit from these beats too slow)."""
    import librosa

    _, beats = librosa.beat.beat_track(onset_envelope=envelope, sr=TRACKING_SR, bpm=bpm, units="time",
                                       tightness=TRACKER_TIGHTNESS)
    return rejoin_grid(regularise(np.asarray(beats, dtype=np.float64)), low)


def track_song(mix: np.ndarray, sample_rate: int, meter: int, prior_bpm: float | None = None,
               name: str = "song") -> SongBeats:
    """Beats and bars of a (n,) mono mix; SongError when it has no steady beat.

    A song has several pulses (beat, half bar, eighths); ``prior_bpm`` (the tempo map's) picks the
    octave of its dominant pulse nearest it (:func:`pulse_tempo`), so the song is stretched as little
    as possible. The tempo is then refined by
    a line through the beats (the tracker's own estimate is quantised to its ~23 ms frames, a few
    per cent at dance tempi) and the beats tracked again at that tempo.
    """
    import librosa

    y = librosa.resample(mix, orig_sr=sample_rate, target_sr=TRACKING_SR) if sample_rate != TRACKING_SR else mix
    envelope = librosa.onset.onset_strength(y=y, sr=TRACKING_SR)
    low = librosa.onset.onset_strength(y=y, sr=TRACKING_SR, fmax=BAR_CUE_FMAX, n_mels=32)
    if float(np.percentile(envelope, 99)) < MIN_ONSET_FLUX:
        raise SongError(f"{name}: no steady beat found (nothing in it changes: a drone or a held sound)")
    tempo = pulse_tempo(envelope, prior_bpm)
    # The beats follow the full-band onsets and the kick and bass equally: either alone puts some
    # songs' beats on their off-beats (hi-hats and guitar strokes, or a bass line's pickups).
    accents = envelope / max(float(envelope.std()), 1e-12) + low / max(float(low.std()), 1e-12)
    beats = _beats_at(accents, low, tempo) if tempo else np.zeros(0)
    if beats.size >= MIN_BEATS:
        period = float(np.polyfit(np.arange(beats.size), beats, 1)[0])
        beats = _beats_at(accents, low, 60.0 / period)
        period = float(np.polyfit(np.arange(beats.size), beats, 1)[0]) if beats.size >= 2 else period
    if beats.size < MIN_BEATS:
        raise SongError(f"{name}: no steady beat found ({beats.size} beats; at least {MIN_BEATS} are needed)")
    frames = np.clip(librosa.time_to_frames(beats, sr=TRACKING_SR), 0, envelope.size - 1)
    contrast = float(envelope[frames].mean() / max(float(envelope.mean()), 1e-12))
    if contrast < MIN_BEAT_CONTRAST:
        raise SongError(f"{name}: no steady beat found (the beats stand out of the onsets by x{contrast:.2f}, "
                        f"at least x{MIN_BEAT_CONTRAST:g} is needed)")
    beats = beats[beats >= TRACKER_LAG_S] - TRACKER_LAG_S
    phase = bar_phase(low, beats + TRACKER_LAG_S, meter)
    downbeats = np.arange(phase, beats.size, meter, dtype=np.int64)
    return SongBeats(beats=beats, downbeats=downbeats, meter=meter,
                     tempo_bpm=60.0 / period)
