"""A musical tempo map from the motion: steady beats, bars and tempo segments, catching the hits.

A film composer scoring a cut does not follow every frame: they choose a tempo (or a tempo map that
changes only at clear points) that catches the important hits and keep the beat steady between
them. This module does that with the motion's cue envelopes (pure numpy, runs in Blender):

1. **Tempo** (:func:`tempo_salience`): for each cue (whole-body deceleration, feet deceleration,
   the hips' vertical bounce) the Fourier tempogram times the autocorrelation at the same period
   (the two err in opposite octaves, so their product peaks at the beat, Peeters 2007), each
   normalised and summed, weighted by how well it agrees with the others (:func:`_agreement`; the
   bounce, measured from position where the others come from speed, is not outvoted); the
   salience of the half and double tempo is added (a metrical family votes together; in a bar of
   three known beforehand, the bounce's at a third of the tempo: a waltz rises and falls once a
   bar), weighted by a prior over the usual dance range (:func:`tempo_prior`: a log-normal bell
   without a genre, the genre's range, flat inside, with one). The musical octave
   inside the family follows the prior. The next strongest peaks outside the chosen family are
   kept as the map's ``alternatives``: what to try when the map sounds wrong.
2. **Fine tempo and phase** (:func:`fit_grid`): a steady grid is fitted to the onset envelope
   over the whole span, period in 0.1 % steps and phase in sub-frame steps: a 1 % tempo error
   drifts a whole beat within a minute at 120 BPM, so the tempo is measured over the longest
   steady stretch, not beat by beat.
3. **Segments**: local tempi in 12 s windows (searched within the global tempo's family) are
   partitioned into pieces of constant tempo with a penalty per change, so the map changes tempo
   only where the motion clearly does; each piece is refitted, and a new piece starts a new bar.
4. **Meter and downbeats** (:func:`detect_meter`): the user's meter, else 3/4 where the hips'
   height clearly repeats every three beats rather than every two or four (a waltz's rise and
   fall), at the tempo found without a meter or at the one found as if in 3/4, else 4/4; the
   downbeat is the bar position with the strongest accents, in 3/4 the one where the hips are
   lowest.
5. **Hits**: user sync points (seconds) are caught exactly: the nearest beat moves onto each hit
   and the beats between two hits are evenly respaced (the tempo bends as little as possible,
   constant between hits); before the first and after the last hit the grid keeps its tempo.
   Without a user's hit nearby, the motion's most prominent accents (:func:`strong_accents`: a
   jump's landing, a stamp) act as soft hits: the nearest beat moves halfway onto each.

Times are seconds from the motion's first frame; envelopes are sampled at ``rate`` Hz with sample
``i`` at ``(i + 1) / rate`` seconds (see :mod:`.rhythm`).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from .tempo import MAX_BPM, MIN_BPM, _autocorrelation

#: Tempo grid for the salience, in steps of 0.25 %.
BPM_STEP = 1.0025
#: Prior over the musical octave when no genre is known: centre (BPM) and width (octaves, 1 sigma).
PRIOR_BPM = 110.0
PRIOR_OCTAVES = 0.5
#: Outside a genre's tempo range the prior falls off with this width (octaves, 1 sigma), so clear
#: evidence outside the range still wins.
GENRE_TAIL_OCTAVES = 0.25
#: Least weight of a cue whose tempo evidence disagrees with all the others.
MIN_AGREEMENT = 0.1
#: Fine fit: periods within +-FIT_SPAN of the coarse tempo in FIT_STEP steps; phases in 1/4 frame.
FIT_SPAN = 0.06
FIT_STEP = 0.001
#: After the spectral estimate, the grid's tempo is refitted within +-FINE_SPAN on the accents.
FINE_SPAN = 0.02
PHASE_STEP = 0.25
#: Onset-strength smoothing for the grid fit (seconds, Gaussian sigma).
FIT_SMOOTHING_S = 0.035
#: Local tempo: window and hop (seconds); local tempi are searched within this ratio of the global.
LOCAL_WINDOW_S = 8.0
LOCAL_HOP_S = 2.0
LOCAL_RATIO = 1.41
#: Segmentation: cost of a tempo change, in squared log-tempo units; per-window deviations are
#: capped at OUTLIER (log units) so one odd window cannot force a change.
CHANGE_PENALTY = 0.015
OUTLIER = 0.25
#: A tempo change is kept only if the pieces' own grids beat one steady grid by this factor.
CHANGE_GAIN = 1.25
#: Minimum length of a tempo segment, in local windows' hops.
MIN_SEGMENT_HOPS = 3
#: Alternative tempi (:meth:`TempoEvidence.alternatives`): at most ALTERNATIVES peaks of the tempo
#: evidence at least ALTERNATIVE_LEAST of the best, each at least ALTERNATIVE_SEPARATION (relative)
#: from the map's tempo, its double and half and from each other. On the 29 real clips in
#: ../shared/data/real the song's tempo is the map's or one of these on 97 % (the map's alone: 90 %);
#: on 6, 10 and 16 s excerpts 66 %, 69 % and 79 % (47 %, 42 %, 57 %), 1.1-1.4 alternatives a take.
ALTERNATIVES = 2
ALTERNATIVE_LEAST = 0.5
ALTERNATIVE_SEPARATION = 0.04
METERS = (3, 4)
DEFAULT_METER = 4
#: 3/4 from the motion (:func:`detect_meter`): the bounce's autocorrelation three beats apart must
#: exceed the larger of those two and four beats apart by THREE_FOUR_MARGIN, over at least
#: METER_MIN_BEATS beats (each lag searched within METER_LAG_TOLERANCE). Measured on the real dances
#: in ../shared/data/real: the two waltzes 0.70 and 0.77; the 18 clips in 4/4 of 24 beats or more
#: (AIST++, cha-cha, rumba, tango) at most -0.05. On excerpts (``bench_realtempo.py --excerpts``)
#: none of the 67 in 4/4 of 16-20 s passes and 4 of the 10 waltz excerpts do; shorter excerpts
#: stay 4/4 rather than risk a false 3/4.
THREE_FOUR_MARGIN = 0.4
#: With no meter given the map is also estimated as if in 3/4 (the hips' bar then votes for the
#: beat, :func:`tempo_evidence`) and kept where the bounce repeats every three of its beats by this
#: margin: more than THREE_FOUR_MARGIN because that map's tempo was chosen partly by the bounce's
#: own period. Measured on the 43 ballroom captures of benchmarks/import_dance_with_melody.py, none
#: named: the 30 waltzes score at least 0.54, the 13 others at most 0.14; of their 16 and 20 s
#: excerpts (bench_realtempo.py --no-genre --excerpts 16,20) 2 of 67 and 2 of 51 in 4/4 get 3/4
#: (5 and 5 with a margin of 0.4), and 34 of 88 and 54 of 64 waltz excerpts; the 18 clips in 4/4
#: of ../shared/data/real score at most 0.32.
THREE_FOUR_HYPOTHESIS_MARGIN = 0.5
METER_MIN_BEATS = 24
METER_LAG_TOLERANCE = 0.04
#: Soft hits (:func:`strong_accents`): a beat's accent is the envelope's maximum within
#: ACCENT_REACH of a period of it; one at least ACCENT_PROMINENCE times the median beat's accent is a
#: hit (the strongest in each ACCENT_SPACING_BEATS beats), and its beat moves ACCENT_PULL of the way
#: onto it. On the 29 real clips this moved the map's AIST++ grid share 79.5 -> 81.6 % and its
#: ballroom F1 0.785 -> 0.790 at 0.2 s, 0.430 -> 0.406 at 70 ms.
ACCENT_PROMINENCE = 2.0
ACCENT_SPACING_BEATS = 8
ACCENT_REACH = 0.25
ACCENT_PULL = 0.5


def alternatives_text(alternatives) -> str:
    """"119.7 or 128.4 BPM" for the map's alternative tempi (BPM); "" without any."""
    values = [f"{float(b):g}" for b in alternatives]
    if not values:
        return ""
    return (", ".join(values[:-1]) + " or " + values[-1] if len(values) > 1 else values[0]) + " BPM"


@dataclass(frozen=True)
class TempoSegment:
    """A stretch of constant tempo: [start_s, end_s) at ``bpm``; its first beat starts a bar."""

    start_s: float
    end_s: float
    bpm: float

    def to_dict(self) -> dict:
        return {"start_s": round(self.start_s, 4), "end_s": round(self.end_s, 4), "bpm": round(self.bpm, 3)}


@dataclass(frozen=True)
class TempoMap:
    """The music's beats for a motion.

    Attributes:
        beats: float64 (n,), beat times in seconds, ascending, within [0, duration).
        downbeats: int64 (m,), indices into ``beats`` of each bar's first beat.
        meter: beats per bar (3 or 4).
        segments: the tempo segments, in order, covering the beats.
        hits: float64 (h,), the user's sync points in seconds (caught: a beat sits on each).
        duration: the motion's length in seconds.
        accents: float64 (a,), where the motion's prominent accents pulled a beat (soft hits), s.
        alternatives: other tempi (BPM) the motion's pulse also supports, strongest first, none
            near the map's tempo, its double or half: what to try with a tempo override when the
            map sounds wrong (:meth:`TempoEvidence.alternatives`; empty with the user's tempo).
    """

    beats: np.ndarray
    downbeats: np.ndarray
    meter: int
    segments: tuple[TempoSegment, ...]
    hits: np.ndarray = field(default_factory=lambda: np.zeros(0))
    duration: float = 0.0
    accents: np.ndarray = field(default_factory=lambda: np.zeros(0))
    alternatives: tuple[float, ...] = ()

    @property
    def tempo_bpm(self) -> float | None:
        """The main tempo: that of the longest segment (None without beats)."""
        if not self.segments:
            return None
        return max(self.segments, key=lambda s: s.end_s - s.start_s).bpm

    @property
    def bar_times(self) -> np.ndarray:
        return self.beats[self.downbeats] if self.beats.size else np.zeros(0)

    def hits_caught(self, tolerance_s: float) -> int:
        """How many hits have a beat within ``tolerance_s`` seconds."""
        if not self.hits.size or not self.beats.size:
            return 0
        return int(sum(np.min(np.abs(self.beats - h)) <= tolerance_s for h in self.hits))

    def summary(self, tolerance_s: float = 1 / 30) -> str:
        """One line: "112 BPM, 4/4, 2 tempo changes, 2/2 hits caught"."""
        if self.tempo_bpm is None:
            return "no steady beat"
        changes = len(self.segments) - 1
        text = f"{self.tempo_bpm:.0f} BPM, {self.meter}/4"
        text += f", {changes} tempo change{'s' if changes != 1 else ''}" if changes else ", steady"
        if self.hits.size:
            text += f", {self.hits_caught(tolerance_s)}/{self.hits.size} hits caught"
        return text

    def window(self, start: float, end: float) -> "TempoMap":
        """The part in [start, end) seconds with times relative to ``start``."""
        keep = (self.beats >= start) & (self.beats < end)
        index = np.flatnonzero(keep)
        first = int(index[0]) if index.size else 0
        downbeats = np.asarray([d - first for d in self.downbeats if keep[d]], dtype=np.int64)
        segments = tuple(TempoSegment(max(s.start_s, start) - start, min(s.end_s, end) - start, s.bpm)
                         for s in self.segments if s.end_s > start and s.start_s < end)
        hits = self.hits[(self.hits >= start) & (self.hits < end)] - start
        accents = self.accents[(self.accents >= start) & (self.accents < end)] - start
        return TempoMap(self.beats[keep] - start, downbeats, self.meter, segments, hits,
                        max(0.0, min(end, self.duration) - start), accents, self.alternatives)

    def to_dict(self) -> dict:
        """Plain types for metadata and the protocol."""
        return {"tempo_bpm": None if self.tempo_bpm is None else round(self.tempo_bpm, 3), "meter": self.meter,
                "beats_s": [round(float(t), 4) for t in self.beats],
                "downbeats": [int(i) for i in self.downbeats],
                "segments": [s.to_dict() for s in self.segments],
                "hits_s": [round(float(h), 4) for h in self.hits],
                "hits_caught": self.hits_caught(1 / 30),
                "accents_s": [round(float(a), 4) for a in self.accents],
                "alternatives_bpm": [float(b) for b in self.alternatives], "summary": self.summary()}


def smooth(signal: np.ndarray, sigma: float) -> np.ndarray:
    """Gaussian smoothing (sigma in samples), edges padded with the edge values."""
    if sigma <= 0 or signal.size == 0:
        return signal.astype(np.float64)
    taps = np.exp(-0.5 * (np.arange(-int(4 * sigma), int(4 * sigma) + 1) / sigma) ** 2)
    padded = np.pad(signal.astype(np.float64), taps.size // 2, mode="edge")
    return np.convolve(padded, taps / taps.sum(), mode="valid")


def bpm_grid(lo: float = MIN_BPM, hi: float = MAX_BPM) -> np.ndarray:
    """Log-spaced tempi from ``lo`` to ``hi`` BPM in BPM_STEP ratios."""
    return lo * BPM_STEP ** np.arange(int(np.log(hi / lo) / np.log(BPM_STEP)) + 1)


class PulseEvidence:
    """The pulse evidence of one signal (N,) at any tempo down to ``min_bpm``, computed once.

    Fourier tempogram magnitude (zero-padded FFT, interpolated) times the positive normalised
    autocorrelation at the beat period: the first is high at the tempo's multiples, the second at
    its fractions, so the product is high at the tempo itself.
    """

    def __init__(self, signal: np.ndarray, rate: float, min_bpm: float):
        x = np.asarray(signal, dtype=np.float64)
        x = x - x.mean()
        n = x.size
        self.rate = rate
        self.empty = n < 8 or not np.any(x)
        if self.empty:
            return
        size = 1 << int(np.ceil(np.log2(max(4 * n, 1 << 14))))
        self.spectrum = np.abs(np.fft.rfft(x, size))
        self.freqs = np.fft.rfftfreq(size, 1.0 / rate)
        ac = _autocorrelation(x, min(n - 2, int(np.ceil(60.0 * rate / min_bpm)) + 1))
        self.ac = ac / ac[0] if ac[0] > 0 else ac

    def __call__(self, bpms: np.ndarray) -> np.ndarray:
        """Raw (not normalised) evidence at each tempo of ``bpms``; zeros for a flat signal."""
        if self.empty:
            return np.zeros(bpms.size)
        fourier = np.interp(bpms / 60.0, self.freqs, self.spectrum)
        lags = 60.0 * self.rate / bpms
        acf = np.clip(np.interp(lags, np.arange(self.ac.size), self.ac, right=0.0), 0.0, None)
        return fourier * acf


def tempo_salience(signal: np.ndarray, rate: float, bpms: np.ndarray, normalise: bool = True) -> np.ndarray:
    """Pulse salience (:class:`PulseEvidence`) of ``signal`` (N,) at each tempo of ``bpms``, in
    [0, 1] when ``normalise``."""
    product = PulseEvidence(signal, rate, float(np.min(bpms)))(bpms)
    peak = product.max()
    return product / peak if normalise and peak > 0 else product


def family_salience(salience: np.ndarray, bpms: np.ndarray) -> np.ndarray:
    """Salience plus that of the double and half tempo (a metrical family votes together)."""
    log_bpm = np.log(bpms)
    at = lambda b: np.interp(np.log(b), log_bpm, salience, left=0.0, right=0.0)  # noqa: E731
    return salience + at(bpms * 2.0) + at(bpms / 2.0)


def tempo_prior(bpms: np.ndarray, tempo_range: tuple[float, float] | None) -> np.ndarray:
    """Prior over the musical octave, (len(bpms),) in (0, 1].

    Without a genre: log-normal around PRIOR_BPM. With a genre's range (lo, hi) BPM: flat inside
    the range and log-normal tails (GENRE_TAIL_OCTAVES) outside, because every tempo in a genre's
    range is as likely as any other (AIST++ spreads its music evenly over 80-130 BPM). Measured on
    the real 120 BPM Street Jazz freestyle: a bell centred on the range put 6 of its 9 camera
    views at 91-113 BPM, the flat range 4 (110-140 BPM).
    """
    if tempo_range is None:
        return np.exp(-0.5 * (np.log2(bpms / PRIOR_BPM) / PRIOR_OCTAVES) ** 2)
    lo, hi = tempo_range
    outside = np.log2(np.maximum(lo / bpms, bpms / hi).clip(1.0, None))
    return np.exp(-0.5 * (outside / GENRE_TAIL_OCTAVES) ** 2)


@dataclass(frozen=True)
class TempoEvidence:
    """The pulse evidence of a motion's cues over the tempo grid (see :func:`tempo_evidence`).

    Attributes:
        bpms: (K,) the tempo grid, BPM (log-spaced, :func:`bpm_grid`).
        score: (K,) family salience (agreement-weighted over the cues) times the octave prior.
        evidence: per cue, its :class:`PulseEvidence`; ``peaks`` its raw maximum, to normalise.
    """

    bpms: np.ndarray
    score: np.ndarray
    evidence: list
    peaks: list

    def best(self) -> float | None:
        """The tempo (BPM) with the highest score, refined to 0.05 % on the cues' raw evidence
        (the whole span's spectrum resolves tempo finely); None when no cue has a pulse."""
        if not np.any(self.score):
            return None
        best = float(self.bpms[int(np.argmax(self.score))])
        fine = best * (1.0 + np.arange(-0.004, 0.0041, 0.0005))
        total = sum(e(fine) / p for e, p in zip(self.evidence, self.peaks))
        return float(fine[int(np.argmax(total))])

    def alternatives(self, chosen: float, count: int = ALTERNATIVES, least: float = ALTERNATIVE_LEAST,
                     separation: float = ALTERNATIVE_SEPARATION) -> tuple[float, ...]:
        """Other tempi (BPM) the evidence also supports, strongest first: peaks of the score at
        least ``least`` times the highest, none within ``separation`` (relative) of ``chosen``,
        of another alternative, or of their double or half (x2 and x1/2 are a button away)."""
        score = self.score
        if not np.any(score) or score.size < 3:
            return ()
        inner = np.flatnonzero((score[1:-1] >= score[:-2]) & (score[1:-1] >= score[2:])) + 1
        kept, out = [float(chosen)], []
        for i in inner[np.argsort(-score[inner], kind="stable")]:
            if score[i] < least * score.max() or len(out) >= count:
                break
            bpm = round(float(self.bpms[i]), 1)  # as shown; the separation holds for what is shown
            if any(min(abs(np.log(bpm / (k * f))) for f in (0.5, 1.0, 2.0)) < separation for k in kept):
                continue
            kept.append(bpm)
            out.append(bpm)
        return tuple(out)


def tempo_evidence(cues: list[np.ndarray], rate: float, tempo_range: tuple[float, float] | None = None,
                   lo: float = MIN_BPM, hi: float = MAX_BPM, independent: int = 0,
                   meter: int | None = None) -> TempoEvidence:
    """The pulse evidence over all cues at each tempo in [lo, hi] BPM (see :class:`TempoEvidence`).

    Each cue's salience plus that of its double and half (a metrical family votes together), the
    cues weighted by how well they agree (:func:`_agreement`; the last ``independent`` cues are
    measured independently of the others), times the octave prior (:func:`tempo_prior`).

    ``meter`` = 3 (the user's, a waltz's by its genre, or the 3/4 try of :func:`estimate_tempo_map`):
    the independent cue (the hips' height) also votes with its family at a third of each tempo,
    the bar's. A waltz's hips rise and fall
    once a bar, which as a pulse of its own is 2:3 of the beat (its double) and says nothing at the
    beat itself. On the 43 ballroom captures of ``benchmarks/import_dance_with_melody.py``, each
    named by its dance, this took the map's tempo from 77 % to 81 % right (two waltzes moved from
    80 and 66 BPM to their songs' 87 and 97) and on their 6, 10 and 16 s excerpts from 31, 38 and
    48 % to 42, 55 and 60 %; the 29 clips of ../shared/data/real stayed at 90 %.
    """
    bpms = bpm_grid(lo, hi)
    # So that the family terms (and in 3/4 the bar's) see beyond the search range.
    wide = bpm_grid(lo / (3.1 if meter == 3 else 2.1), hi * 2.1)
    evidence = [PulseEvidence(cue, rate, float(wide[0])) for cue in cues]
    raw = [e(wide) for e in evidence]
    peaks = [r.max() if r.max() > 0 else 1.0 for r in raw]
    wide_families = [family_salience(r / p, wide) for r, p in zip(raw, peaks)]
    families = [np.interp(np.log(bpms), np.log(wide), f) for f in wide_families]
    if meter == 3 and independent:
        # The bar's pulse counts for the beat three times as fast (not as its own family member).
        for k in range(len(cues) - independent, len(cues)):
            bar = np.interp(np.log(bpms / 3.0), np.log(wide), wide_families[k], left=0.0, right=0.0)
            families[k] = families[k] + bar
    family = sum(w * f for w, f in zip(_agreement(families, independent), families))
    # A pulse, its double and its half vote together; the prior picks the octave. Real dances move
    # at several metrical levels (steps at the beat, bounces at half of it), so the strongest pulse
    # of its own is often a half or double of the music's tempo, and the usual dance range decides.
    return TempoEvidence(bpms, family * tempo_prior(bpms, tempo_range), evidence, peaks)


def coarse_tempo(cues: list[np.ndarray], rate: float, tempo_range: tuple[float, float] | None = None,
                 lo: float = MIN_BPM, hi: float = MAX_BPM, independent: int = 0, meter: int | None = None
                 ) -> float | None:
    """The tempo (BPM) with the most pulse evidence over all cues, octave chosen by the prior,
    refined to 0.05 % on the same evidence (:func:`tempo_evidence`, :meth:`TempoEvidence.best`)."""
    return tempo_evidence(cues, rate, tempo_range, lo, hi, independent, meter).best()


def _agreement(curves: list[np.ndarray], independent: int = 0) -> list[float]:
    """A weight per cue: the correlation of its tempo evidence with the other cues' (at least
    MIN_AGREEMENT), so that one cue telling a different story (a limb moving at its own rate)
    cannot outvote the others.

    The last ``independent`` curves come from a different measurement than the rest (the hips'
    height, where the others are all joint speeds): the speed cues agree with each other because
    they share their input, not because they are right, so their majority does not lower an
    independent cue's weight; it gets the best weight any cue has. Measured on the 9 camera views
    of the real Street Jazz freestyle: the hips' bounce found the 120 BPM in all 9, the speed cues
    in 4, and the agreement gave the bounce the least weight in 6.
    """
    if len(curves) < 3:
        return [1.0] * len(curves)
    total = sum(curves)
    weights = []
    for curve in curves:
        rest = total - curve
        if curve.std() == 0 or rest.std() == 0:
            weights.append(MIN_AGREEMENT)
            continue
        weights.append(max(MIN_AGREEMENT, float(np.corrcoef(curve, rest)[0, 1])))
    if independent:
        weights[-independent:] = [max(weights)] * independent
    return weights


def _grid_scores(env: np.ndarray, periods: np.ndarray, start: float, stop: float) -> tuple[np.ndarray, np.ndarray]:
    """For each period (samples), the best phase and the mean envelope on that grid over [start, stop)."""
    n = env.size
    best_score = np.full(periods.size, -np.inf)
    best_phase = np.zeros(periods.size)
    positions = np.arange(n, dtype=np.float64)
    for i, period in enumerate(periods):
        phases = start + np.arange(0.0, period, PHASE_STEP)
        count = int(np.floor((stop - 1 - phases[-1]) / period)) + 1
        if count < 2:
            continue
        grid = phases[:, None] + np.arange(count)[None, :] * period
        values = np.interp(grid, positions, env).mean(axis=1)
        k = int(np.argmax(values))
        if values[k] > best_score[i]:
            best_score[i], best_phase[i] = values[k], phases[k]
    return best_score, best_phase


def fit_grid(env: np.ndarray, rate: float, bpm: float, span: float = FIT_SPAN, start: int = 0,
             stop: int | None = None) -> tuple[float, float, float]:
    """The steady grid that best fits ``env`` over samples [start, stop) near ``bpm``.

    Returns (bpm, first beat's sample position (fractional, >= start), mean envelope on the grid).
    ``span`` = 0 fits the phase only, at exactly ``bpm``.
    """
    stop = env.size if stop is None else stop
    ratios = np.arange(-span, span + FIT_STEP / 2, FIT_STEP) if span > 0 else np.zeros(1)
    periods = 60.0 * rate / (bpm * (1.0 + ratios))
    scores, phases = _grid_scores(env, periods, float(start), float(stop))
    k = int(np.argmax(scores))
    if not np.isfinite(scores[k]):
        return bpm, float(start), 0.0
    return float(60.0 * rate / periods[k]), float(phases[k]), float(scores[k])


def _local_tempi(cues: list[np.ndarray], env: np.ndarray, rate: float, bpm: float, independent: int = 0,
                 meter: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """(window centres in samples, local tempo in BPM) in LOCAL_WINDOW_S windows, each searched
    within LOCAL_RATIO of ``bpm`` and refined on the onset envelope."""
    n = env.size
    win, hop = int(LOCAL_WINDOW_S * rate), int(LOCAL_HOP_S * rate)
    if n < win + hop:
        return np.zeros(0), np.zeros(0)
    centres, tempi = [], []
    for start in range(0, n - win + 1, hop):
        local = coarse_tempo([c[start:start + win] for c in cues], rate, None, bpm / LOCAL_RATIO, bpm * LOCAL_RATIO,
                             independent, meter)
        if local is None:
            local = bpm
        local, _, _ = fit_grid(env, rate, local, 0.03, start, start + win)
        centres.append(start + win / 2)
        tempi.append(local)
    return np.asarray(centres), np.asarray(tempi)


def partition(values: np.ndarray, penalty: float = CHANGE_PENALTY, min_length: int = MIN_SEGMENT_HOPS) -> list[int]:
    """Start indices of the pieces of constant level that best fit ``values`` (log tempi): optimal
    partitioning with squared deviations from each piece's median, capped at OUTLIER, and
    ``penalty`` per piece; pieces hold at least ``min_length`` values (or all of them)."""
    n = values.size
    if n == 0:
        return []
    best = np.full(n + 1, np.inf)
    best[0] = -penalty
    back = np.zeros(n + 1, dtype=np.int64)
    for end in range(1, n + 1):
        for start in range(0, end):
            if end - start < min_length and not (start == 0 and end == n):
                continue
            piece = values[start:end]
            cost = np.minimum((piece - np.median(piece)) ** 2, OUTLIER ** 2).sum()
            total = best[start] + penalty + cost
            if total < best[end]:
                best[end], back[end] = total, start
    if not np.isfinite(best[n]):
        return [0]
    starts, end = [], n
    while end > 0:
        starts.append(int(back[end]))
        end = int(back[end])
    return starts[::-1]


def _confirmed_pieces(env: np.ndarray, rate: float, bpm: float, bounds: list[int], levels: list[float]
                      ) -> list[tuple[int, int, float, float]]:
    """Keep a tempo change only where it explains the accents clearly better than one steady grid.

    Real dances performed to one steady song often have stretches whose local pulse is a related
    tempo (steps at 3/2 or 4/3 of the beat); a real change of tempo is one a steady grid at either
    tempo cannot follow. Each proposed change between neighbouring pieces is kept when the two
    pieces' own grids score CHANGE_GAIN times the best steady grid over both (at either piece's
    tempo). Returns (start, stop, bpm, refit span) per piece, in samples.
    """
    if len(levels) <= 1:
        return [(0, env.size, bpm, 0.0)]
    pieces = [(bounds[i], bounds[i + 1], levels[i]) for i in range(len(levels))]
    merged = True
    while merged and len(pieces) > 1:
        merged = False
        for i in range(len(pieces) - 1):
            (a0, a1, la), (b0, b1, lb) = pieces[i], pieces[i + 1]
            split = ((a1 - a0) * fit_grid(env, rate, la, 0.02, a0, a1)[2]
                     + (b1 - b0) * fit_grid(env, rate, lb, 0.02, b0, b1)[2]) / (b1 - a0)
            steady = max(fit_grid(env, rate, level, 0.02, a0, b1)[2] for level in (la, lb, bpm))
            if split < CHANGE_GAIN * steady:
                longer = la if a1 - a0 >= b1 - b0 else lb
                pieces[i:i + 2] = [(a0, b1, longer)]
                merged = True
                break
    if len(pieces) == 1:
        return [(0, env.size, bpm, 0.0)]
    return [(p0, p1, level, FIT_SPAN / 2) for p0, p1, level in pieces]


def three_four_evidence(bounce: np.ndarray, period: float) -> float:
    """How much more ``bounce`` (N,) repeats three beats apart than two or four beats apart:
    autocorrelation at 3 periods minus the larger of those at 2 and 4 (each the best within
    METER_LAG_TOLERANCE of its lag); ``period`` in samples. NaN when the signal is too short or flat."""
    x = np.asarray(bounce, dtype=np.float64)
    top = int(np.ceil(4 * period * (1 + METER_LAG_TOLERANCE))) + 1
    if period <= 0 or x.size <= top + 1:
        return float("nan")
    ac = _autocorrelation(x, top)
    if ac[0] <= 0:
        return float("nan")
    ac = ac / ac[0]
    stretch = np.linspace(1 - METER_LAG_TOLERANCE, 1 + METER_LAG_TOLERANCE, 9)
    at = lambda beats: float(np.interp(beats * period * stretch, np.arange(ac.size), ac).max())  # noqa: E731
    return at(3) - max(at(2), at(4))


def detect_meter(bounce: np.ndarray | None, rate: float, beats: np.ndarray,
                 margin: float = THREE_FOUR_MARGIN) -> int:
    """3 where the hips' height (``bounce`` (N,) at ``rate`` Hz, sample ``i`` at ``(i + 1) / rate``
    s) clearly repeats every three of the map's ``beats`` (seconds) rather than every two or four,
    as a waltz's rise and fall does; else DEFAULT_METER. A dancer bouncing on every beat or every
    other beat repeats every two and four beats too, so those do not look like 3/4."""
    if bounce is None or beats.size < METER_MIN_BEATS:
        return DEFAULT_METER
    evidence = three_four_evidence(bounce, float(np.median(np.diff(beats))) * rate)
    return 3 if evidence >= margin else DEFAULT_METER


def _downbeat_offset(env: np.ndarray, rate: float, beats: np.ndarray, meter: int) -> int:
    """Index of the first downbeat: the beat position in the bar whose accents are strongest."""
    if beats.size < 2 * meter:
        return 0
    return _strongest_position(np.interp(beats * rate - 1.0, np.arange(env.size), smooth(env, 0.06 * rate)), meter)


def _strongest_position(per_beat: np.ndarray, meter: int) -> int:
    """The position in the bar (0..meter-1, counted from beat 0) where ``per_beat`` (one value per
    beat) is largest on average."""
    return int(np.argmax([per_beat[r::meter].mean() for r in range(meter)]))


def _lowest_hips_offset(bounce: np.ndarray, rate: float, beats: np.ndarray, meter: int) -> int:
    """Index of the first downbeat: the beat position in the bar where the hips are lowest, on
    average over each beat's span (beat +- half a period, so a beat's own dip does not count).

    ``bounce`` (N,) is the hips' detrended image height (pixels grow downwards: lowest = largest)
    at ``rate`` Hz, sample ``i`` at ``(i + 1) / rate`` s; ``beats`` in seconds.
    """
    if beats.size < 2 * meter:
        return 0
    half = 0.5 * float(np.median(np.diff(beats))) * rate
    sums = np.concatenate([[0.0], np.cumsum(np.asarray(bounce, dtype=np.float64))])
    lo = np.clip(np.round(beats * rate - 1.0 - half).astype(int), 0, bounce.size)
    hi = np.clip(np.round(beats * rate - 1.0 + half).astype(int), 0, bounce.size)
    return _strongest_position((sums[hi] - sums[lo]) / np.maximum(hi - lo, 1), meter)


def strong_accents(env: np.ndarray, rate: float, beats: np.ndarray, latency_s: float = 0.0) -> np.ndarray:
    """The motion's own hits (seconds, ascending): where its most prominent accents pull the grid.

    Args:
        env: (N,) smoothed onset strength, sample ``i`` at ``(i + 1) / rate`` s.
        beats: (n,) the steady grid's beats in seconds.
        latency_s: accents come this long after their beat.
    Each beat's accent is the envelope's maximum within ACCENT_REACH of a period of it. An accent
    at least ACCENT_PROMINENCE times the median beat's is a hit; the strongest in each
    ACCENT_SPACING_BEATS-beat stretch is kept, and its beat is pulled ACCENT_PULL of the way to it
    (a soft hit: the tempo bends a little, the grid never re-phases). A steady pulse (every accent
    alike) has none.
    """
    if beats.size < 4 or env.size < 3:
        return np.zeros(0)
    period = float(np.median(np.diff(beats)))
    reach = int(np.ceil(ACCENT_REACH * period * rate))
    centres = np.round((beats + latency_s) * rate - 1.0).astype(np.int64)
    lo, hi = np.clip(centres - reach, 0, env.size - 1), np.clip(centres + reach + 1, 1, env.size)
    places = [int(a + np.argmax(env[a:b])) if b > a else int(a) for a, b in zip(lo, hi)]
    strength = env[places]
    typical = float(np.median(strength))
    if typical <= 0:
        return np.zeros(0)
    order = [i for i in np.argsort(strength)[::-1] if strength[i] >= ACCENT_PROMINENCE * typical]
    chosen: list[int] = []
    for i in order:
        if all(abs(i - j) >= ACCENT_SPACING_BEATS for j in chosen):
            chosen.append(int(i))
    pulled = [beats[i] + ACCENT_PULL * ((places[i] + 1.0) / rate - latency_s - beats[i]) for i in sorted(chosen)]
    return np.asarray(pulled, dtype=np.float64)


def catch_hits(beats: np.ndarray, hits: np.ndarray, duration: float) -> np.ndarray:
    """See :func:`catch_hits_counted`; the moved beats only."""
    return catch_hits_counted(beats, hits, duration)[0]


def catch_hits_counted(beats: np.ndarray, hits: np.ndarray, duration: float) -> tuple[np.ndarray, int]:
    """Beats moved so that one sits exactly on each hit, respaced evenly between hits.

    The nearest beat (by index along the grid) is assigned to each hit in time order, each hit a
    later beat than the one before; beats between two hits are evenly spaced, beats before the
    first and after the last hit keep their intervals and move with it. Beats that end up outside
    [0, duration) are dropped and the grid is extended to keep covering the span.
    """
    hits = np.sort(np.asarray(hits, dtype=np.float64))
    if hits.size == 0 or beats.size < 2:
        return beats, 0
    period_before = float(beats[1] - beats[0])
    period_after = float(beats[-1] - beats[-2])
    # Extend the grid far enough on both sides that every hit has neighbours.
    lead = int(np.ceil(max(0.0, beats[0] - hits[0]) / period_before)) + 2
    tail = int(np.ceil(max(0.0, hits[-1] - beats[-1]) / period_after)) + 2
    grid = np.concatenate([beats[0] - period_before * np.arange(lead, 0, -1), beats,
                           beats[-1] + period_after * np.arange(1, tail + 1)])
    anchors: list[tuple[int, float]] = []
    for hit in hits:
        index = int(np.argmin(np.abs(grid - hit)))
        if anchors and index <= anchors[-1][0]:
            index = anchors[-1][0] + 1
        anchors.append((index, float(hit)))
    out = grid.copy()
    first_index, first_hit = anchors[0]
    out[:first_index + 1] = grid[:first_index + 1] + (first_hit - grid[first_index])
    for (i0, t0), (i1, t1) in zip(anchors[:-1], anchors[1:]):
        out[i0:i1 + 1] = np.linspace(t0, t1, i1 - i0 + 1)
    last_index, last_hit = anchors[-1]
    out[last_index:] = grid[last_index:] + (last_hit - grid[last_index])
    # Keep the span covered after the shift, then cut to [0, duration).
    origin = lead
    while out[0] > period_before:
        out = np.concatenate([[out[0] - period_before], out])
        origin += 1
    while out[-1] < duration - period_after:
        out = np.concatenate([out, [out[-1] + period_after]])
    keep = (out >= 0.0) & (out < duration)
    return out[keep], origin - int(np.count_nonzero(~keep[:origin]))


def estimate_tempo_map(cues: list[np.ndarray], onset_env: np.ndarray, rate: float, duration: float,
                       tempo_range: tuple[float, float] | None = None, hits=(), tempo_bpm: float | None = None,
                       meter: int | None = None, latency_s: float = 0.0, fine_span: float = FINE_SPAN,
                       soft_hits: bool = True, independent: int = 0,
                       meter_cue: np.ndarray | None = None) -> TempoMap | None:
    """The tempo map of a motion (see the module docstring).

    Args:
        cues: periodic cue signals (each (N,), at ``rate`` Hz) for the tempo estimate.
        onset_env: (N,) non-negative onset strength (accents) for the grid's phase and the meter.
        rate: samples per second; sample ``i`` is at ``(i + 1) / rate`` s.
        duration: the motion's length in seconds.
        tempo_range: the genre's usual tempo range (BPM) for the octave prior, or None.
        hits: sync points in seconds that a beat must land on.
        tempo_bpm: the user's tempo: no estimate, one steady segment at exactly this tempo.
        meter: 3 or 4, the user's or the genre's; a 3 given here also lets the hips' rise and
            fall vote for the tempo as the bar's pulse (:func:`tempo_evidence`). None: from the
            motion. The map is estimated without a meter and its meter detected
            (:func:`detect_meter` on ``meter_cue``, 4/4 without one); then, with an independent
            bounce, once more as if in 3/4, kept where the bounce repeats every three of that
            map's beats by THREE_FOUR_HYPOTHESIS_MARGIN (see there).
        latency_s: accents come this long after the beat; the beats are placed that much earlier.
        fine_span: relative range of the grid refit around the spectral tempo (0: none).
        soft_hits: let the motion's prominent accents pull the grid (not with ``tempo_bpm``).
        independent: the last this many cues are measured independently of the others (the hips'
            height among joint speeds), so the others' majority does not outvote them.
        meter_cue: (N,) the hips' vertical bounce at ``rate`` Hz, to tell 3/4 from 4/4, or None.
    Returns:
        the map, or None when the motion has no pulse (and no tempo was given).
    """
    args = (cues, onset_env, rate, duration, tempo_range, hits, tempo_bpm)
    options = dict(latency_s=latency_s, fine_span=fine_span, soft_hits=soft_hits, independent=independent,
                   meter_cue=meter_cue)
    found = _map_in_meter(*args, meter=meter, **options)
    if found is None or meter is not None or tempo_bpm is not None or not independent or meter_cue is None:
        return found
    # A waltz's tempo is found best knowing it is one (its bar then votes for its beat), which the
    # map cannot know before it has a tempo: try 3/4 and keep it where the motion confirms it.
    three = _map_in_meter(*args, meter=3, **options)
    if three is not None and detect_meter(meter_cue, rate, three.beats, THREE_FOUR_HYPOTHESIS_MARGIN) == 3:
        return three
    return found


def _map_in_meter(cues: list[np.ndarray], onset_env: np.ndarray, rate: float, duration: float,
                  tempo_range: tuple[float, float] | None = None, hits=(), tempo_bpm: float | None = None,
                  meter: int | None = None, latency_s: float = 0.0, fine_span: float = FINE_SPAN,
                  soft_hits: bool = True, independent: int = 0,
                  meter_cue: np.ndarray | None = None) -> TempoMap | None:
    """:func:`estimate_tempo_map` with ``meter`` as given (None: detected after the tempo)."""
    env = smooth(np.clip(np.asarray(onset_env, dtype=np.float64), 0.0, None), FIT_SMOOTHING_S * rate)
    n = env.size
    if n < 4 or (tempo_bpm is None and not env.any()):
        return None
    if tempo_bpm is not None:
        pieces = [(0, n, float(tempo_bpm), 0.0)]
    else:
        evidence = tempo_evidence(cues, rate, tempo_range, independent=independent, meter=meter)
        bpm = evidence.best()
        if bpm is None:
            return None
        if fine_span:
            bpm, _, _ = fit_grid(env, rate, bpm, fine_span)
        centres, local = _local_tempi(cues, env, rate, bpm, independent, meter)
        starts = partition(np.log(local)) if local.size else [0]
        if not local.size:
            local = np.full(1, bpm)
        bounds = [0] + [int(round(centres[s] - LOCAL_HOP_S * rate / 2)) for s in starts[1:]] + [n]
        levels = [float(np.exp(np.median(np.log(local[s:e])))) for s, e in zip(starts, starts[1:] + [local.size])]
        pieces = _confirmed_pieces(env, rate, bpm, bounds, levels)
    beats, segments = [], []
    for lo, hi, level, span in pieces:
        seg_bpm, phase, _ = fit_grid(env, rate, level, span, lo, hi)
        period = 60.0 * rate / seg_bpm
        times = (phase + 1.0 + period * np.arange(int(np.floor((hi - 1 - phase) / period)) + 1)) / rate - latency_s
        if beats and times.size:
            times = times[times > beats[-1] + 0.6 * period / rate]
        if times.size == 0:
            continue
        if not beats:  # extend the first segment back to the start of the motion
            times = np.concatenate([times[0] - period / rate * np.arange(int(times[0] * rate / period), 0, -1), times])
        segments.append(TempoSegment(max(0.0, float(times[0])), float(hi / rate) if hi < n else duration, seg_bpm))
        beats.extend(times.tolist())
    if not beats:
        return None
    beats = np.asarray(beats)
    last_period = 60.0 / segments[-1].bpm
    while beats[-1] + last_period < duration:
        beats = np.append(beats, beats[-1] + last_period)
    beats = beats[(beats >= 0.0) & (beats < duration)]
    # The accents of the two real waltzes repeat every four beats as much as every three; their
    # hips' rise and fall is what shows the bar (see THREE_FOUR_MARGIN).
    meter = int(meter) if meter in METERS else detect_meter(meter_cue, rate, beats)
    # A waltz's bar is its rise and fall, lowest on the downbeat: on both real waltzes this puts
    # the bars on the downbeats madmom finds in their songs, where the strongest accents fell on
    # the second or third beat.
    if meter == 3 and meter_cue is not None:
        offset = _lowest_hips_offset(meter_cue, rate, beats, meter)
    else:
        offset = _downbeat_offset(env, rate, beats + latency_s, meter)
    hits = np.sort(np.asarray(hits, dtype=np.float64).reshape(-1))
    hits = hits[(hits >= 0.0) & (hits < duration)]
    accents = np.zeros(0)
    if soft_hits and tempo_bpm is None:
        accents = strong_accents(env, rate, beats, latency_s)
        period = 60.0 / segments[0].bpm
        # A user's hit decides its own neighbourhood.
        far = np.asarray([not hits.size or float(np.min(np.abs(hits - a))) > 2 * period for a in accents], dtype=bool)
        accents = accents[far & (accents >= 0.0) & (accents < duration)]
    targets = np.sort(np.concatenate([hits, accents]))
    if targets.size:
        beats, origin = catch_hits_counted(beats, targets, duration)
        offset += origin  # the bar goes on counting from the same beat
    downbeats = _downbeats(beats, segments, meter, offset)
    main = max(segments, key=lambda s: s.end_s - s.start_s).bpm
    alternatives = evidence.alternatives(main) if tempo_bpm is None else ()
    return TempoMap(beats, downbeats, meter, tuple(segments), hits, duration, accents, alternatives)


def _downbeats(beats: np.ndarray, segments: list[TempoSegment], meter: int, offset: int) -> np.ndarray:
    """Bar starts: every ``meter``-th beat from ``offset`` in the first segment; each later segment
    starts a new bar at its first beat."""
    marks = []
    starts = [float(s.start_s) for s in segments[1:]]
    bar_origin = offset % meter
    for i, t in enumerate(beats):
        if starts and t >= starts[0] - 1e-6:
            bar_origin = i
            starts = [s for s in starts if s > t + 1e-6]
        if (i - bar_origin) % meter == 0:
            marks.append(i)
    return np.asarray(marks, dtype=np.int64)
