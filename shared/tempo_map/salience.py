"""Step 1: the tempo. The pulse evidence of the motion's cues at each tempo, and the tempo it
points to.

For each cue (whole-body deceleration, feet deceleration, the hips' vertical bounce) the Fourier
tempogram times the autocorrelation at the same period (the two err in opposite octaves, so their
product peaks at the beat, Peeters 2007), each normalised and summed, weighted by how well it agrees
with the others (:func:`_agreement`; the bounce, measured from position where the others come from
speed, is not outvoted); the salience of the half and double tempo is added (a metrical family
votes together; in a bar of three known beforehand, the bounce's at a third of the tempo: a waltz
rises and falls once a bar), weighted by a prior over the usual dance range (:func:`tempo_prior`).
The next strongest peaks outside the chosen family are the map's ``alternatives``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..tempo import MAX_BPM, MIN_BPM, _autocorrelation
from .config import DEFAULT_CONFIG, TempoMapConfig


def smooth(signal: np.ndarray, sigma: float) -> np.ndarray:
    """Gaussian smoothing (sigma in samples), edges padded with the edge values."""
    if sigma <= 0 or signal.size == 0:
        return signal.astype(np.float64)
    taps = np.exp(-0.5 * (np.arange(-int(4 * sigma), int(4 * sigma) + 1) / sigma) ** 2)
    padded = np.pad(signal.astype(np.float64), taps.size // 2, mode="edge")
    return np.convolve(padded, taps / taps.sum(), mode="valid")


def bpm_grid(lo: float = MIN_BPM, hi: float = MAX_BPM, config: TempoMapConfig = DEFAULT_CONFIG) -> np.ndarray:
    """Log-spaced tempi from ``lo`` to ``hi`` BPM in ``config.bpm_step`` ratios."""
    return lo * config.bpm_step ** np.arange(int(np.log(hi / lo) / np.log(config.bpm_step)) + 1)


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


def tempo_prior(bpms: np.ndarray, tempo_range: tuple[float, float] | None,
                config: TempoMapConfig = DEFAULT_CONFIG) -> np.ndarray:
    """Prior over the musical octave, (len(bpms),) in (0, 1].

    Without a genre: log-normal around ``prior_bpm``. With a genre's range (lo, hi) BPM: flat inside
    the range and log-normal tails (``genre_tail_octaves``) outside, because every tempo in a genre's
    range is as likely as any other (AIST++ spreads its music evenly over 80-130 BPM); a bell
    centred on the range pulls a real dance at the range's edge into its middle (the figures are in
    docs/tempo-map.md).
    """
    if tempo_range is None:
        return np.exp(-0.5 * (np.log2(bpms / config.prior_bpm) / config.prior_octaves) ** 2)
    lo, hi = tempo_range
    outside = np.log2(np.maximum(lo / bpms, bpms / hi).clip(1.0, None))
    return np.exp(-0.5 * (outside / config.genre_tail_octaves) ** 2)


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

    def alternatives(self, chosen: float, config: TempoMapConfig = DEFAULT_CONFIG) -> tuple[float, ...]:
        """Other tempi (BPM) the evidence also supports, strongest first: peaks of the score at
        least ``least`` times the highest, none within ``separation`` (relative) of ``chosen``,
        of another alternative, or of their double or half (x2 and x1/2 are a button away); at most
        ``count`` (``config.alternatives``, ``alternative_least``, ``alternative_separation``)."""
        count, least, separation = config.alternatives, config.alternative_least, config.alternative_separation
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
                   meter: int | None = None, config: TempoMapConfig = DEFAULT_CONFIG) -> TempoEvidence:
    """The pulse evidence over all cues at each tempo in [lo, hi] BPM (see :class:`TempoEvidence`).

    Each cue's salience plus that of its double and half (a metrical family votes together), the
    cues weighted by how well they agree (:func:`_agreement`; the last ``independent`` cues are
    measured independently of the others), times the octave prior (:func:`tempo_prior`).

    ``meter`` = 3 (the user's, a waltz's by its genre, or the 3/4 try of :func:`estimate_tempo_map`):
    the independent cue (the hips' height) also votes with its family at a third of each tempo,
    the bar's. A waltz's hips rise and fall
    once a bar, which as a pulse of its own is 2:3 of the beat (its double) and says nothing at the
    beat itself; letting the bar vote puts real waltzes on their songs' tempo where they were at
    a related one (docs/tempo-map.md has the figures).
    """
    bpms = bpm_grid(lo, hi, config)
    # So that the family terms (and in 3/4 the bar's) see beyond the search range.
    wide = bpm_grid(lo / (3.1 if meter == 3 else 2.1), hi * 2.1, config)
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
    family = sum(w * f for w, f in zip(_agreement(families, independent, config), families))
    # A pulse, its double and its half vote together; the prior picks the octave. Real dances move
    # at several metrical levels (steps at the beat, bounces at half of it), so the strongest pulse
    # of its own is often a half or double of the music's tempo, and the usual dance range decides.
    return TempoEvidence(bpms, family * tempo_prior(bpms, tempo_range, config), evidence, peaks)


def coarse_tempo(cues: list[np.ndarray], rate: float, tempo_range: tuple[float, float] | None = None,
                 lo: float = MIN_BPM, hi: float = MAX_BPM, independent: int = 0, meter: int | None = None,
                 config: TempoMapConfig = DEFAULT_CONFIG) -> float | None:
    """The tempo (BPM) with the most pulse evidence over all cues, octave chosen by the prior,
    refined to 0.05 % on the same evidence (:func:`tempo_evidence`, :meth:`TempoEvidence.best`)."""
    return tempo_evidence(cues, rate, tempo_range, lo, hi, independent, meter, config).best()


def _agreement(curves: list[np.ndarray], independent: int = 0, config: TempoMapConfig = DEFAULT_CONFIG
               ) -> list[float]:
    """A weight per cue: the correlation of its tempo evidence with the other cues' (at least
    ``min_agreement``), so that one cue telling a different story (a limb moving at its own rate)
    cannot outvote the others.

    The last ``independent`` curves come from a different measurement than the rest (the hips'
    height, where the others are all joint speeds): the speed cues agree with each other because
    they share their input, not because they are right, so their majority does not lower an
    independent cue's weight; it gets the best weight any cue has (on real dances the bounce is
    often the one cue that is right: docs/tempo-map.md has the figures).
    """
    if len(curves) < 3:
        return [1.0] * len(curves)
    total = sum(curves)
    weights = []
    for curve in curves:
        rest = total - curve
        if curve.std() == 0 or rest.std() == 0:
            weights.append(config.min_agreement)
            continue
        weights.append(max(config.min_agreement, float(np.corrcoef(curve, rest)[0, 1])))
    if independent:
        weights[-independent:] = [max(weights)] * independent
    return weights
