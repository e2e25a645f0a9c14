"""Putting the steps together: the tempo map of a motion from its cue envelopes."""

from __future__ import annotations

import numpy as np

from .config import DEFAULT_CONFIG, METERS, TempoMapConfig
from .grid import fit_grid
from .hits import catch_hits_counted, strong_accents
from .meter import _downbeat_offset, _downbeats, _lowest_hips_offset, detect_meter
from .model import TempoMap, TempoSegment
from .salience import smooth, tempo_evidence
from .segments import _confirmed_pieces, _local_tempi, partition


def estimate_tempo_map(cues: list[np.ndarray], onset_env: np.ndarray, rate: float, duration: float,
                       tempo_range: tuple[float, float] | None = None, hits=(), tempo_bpm: float | None = None,
                       meter: int | None = None, latency_s: float = 0.0, soft_hits: bool = True,
                       independent: int = 0, meter_cue: np.ndarray | None = None,
                       config: TempoMapConfig = DEFAULT_CONFIG) -> TempoMap | None:
    """The tempo map of a motion (see the package docstring).

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
            map's beats by ``config.three_four_hypothesis_margin`` (see there).
        latency_s: accents come this long after the beat; the beats are placed that much earlier.
        soft_hits: let the motion's prominent accents pull the grid (not with ``tempo_bpm``).
        independent: the last this many cues are measured independently of the others (the hips'
            height among joint speeds), so the others' majority does not outvote them.
        meter_cue: (N,) the hips' vertical bounce at ``rate`` Hz, to tell 3/4 from 4/4, or None.
        config: the tuned parameters (:class:`TempoMapConfig`).
    Returns:
        the map, or None when the motion has no pulse (and no tempo was given).
    """
    args = (cues, onset_env, rate, duration, tempo_range, hits, tempo_bpm)
    options = dict(latency_s=latency_s, soft_hits=soft_hits, independent=independent, meter_cue=meter_cue,
                   config=config)
    found = _map_in_meter(*args, meter=meter, **options)
    if found is None or meter is not None or tempo_bpm is not None or not independent or meter_cue is None:
        return found
    # A waltz's tempo is found best knowing it is one (its bar then votes for its beat), which the
    # map cannot know before it has a tempo: try 3/4 and keep it where the motion confirms it.
    three = _map_in_meter(*args, meter=3, **options)
    margin = config.three_four_hypothesis_margin
    if three is not None and detect_meter(meter_cue, rate, three.beats, margin, config) == 3:
        return three
    return found


def _map_in_meter(cues: list[np.ndarray], onset_env: np.ndarray, rate: float, duration: float,
                  tempo_range: tuple[float, float] | None = None, hits=(), tempo_bpm: float | None = None,
                  meter: int | None = None, latency_s: float = 0.0, soft_hits: bool = True,
                  independent: int = 0, meter_cue: np.ndarray | None = None,
                  config: TempoMapConfig = DEFAULT_CONFIG) -> TempoMap | None:
    """:func:`estimate_tempo_map` with ``meter`` as given (None: detected after the tempo)."""
    env = smooth(np.clip(np.asarray(onset_env, dtype=np.float64), 0.0, None), config.fit_smoothing_s * rate)
    n = env.size
    if n < 4 or (tempo_bpm is None and not env.any()):
        return None
    if tempo_bpm is not None:
        pieces = [(0, n, float(tempo_bpm), 0.0)]
    else:
        evidence = tempo_evidence(cues, rate, tempo_range, independent=independent, meter=meter, config=config)
        bpm = evidence.best()
        if bpm is None:
            return None
        if config.fine_span:
            bpm, _, _ = fit_grid(env, rate, bpm, config.fine_span, config=config)
        centres, local = _local_tempi(cues, env, rate, bpm, independent, meter, config)
        starts = partition(np.log(local), config) if local.size else [0]
        if not local.size:
            local = np.full(1, bpm)
        bounds = [0] + [int(round(centres[s] - config.local_hop_s * rate / 2)) for s in starts[1:]] + [n]
        levels = [float(np.exp(np.median(np.log(local[s:e])))) for s, e in zip(starts, starts[1:] + [local.size])]
        pieces = _confirmed_pieces(env, rate, bpm, bounds, levels, config)
    beats, segments = [], []
    for lo, hi, level, span in pieces:
        seg_bpm, phase, _ = fit_grid(env, rate, level, span, lo, hi, config)
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
    # A waltz's accents can repeat every four beats as much as every three; its hips' rise and fall
    # is what shows the bar (``three_four_margin``).
    meter = int(meter) if meter in METERS else detect_meter(meter_cue, rate, beats, config=config)
    # A waltz's bar is its rise and fall, lowest on the downbeat; its strongest accents can fall on
    # the second or third beat.
    if meter == 3 and meter_cue is not None:
        offset = _lowest_hips_offset(meter_cue, rate, beats, meter)
    else:
        offset = _downbeat_offset(env, rate, beats + latency_s, meter)
    hits = np.sort(np.asarray(hits, dtype=np.float64).reshape(-1))
    hits = hits[(hits >= 0.0) & (hits < duration)]
    accents = np.zeros(0)
    if soft_hits and tempo_bpm is None:
        accents = strong_accents(env, rate, beats, latency_s, config)
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
    alternatives = evidence.alternatives(main, config) if tempo_bpm is None else ()
    return TempoMap(beats, downbeats, meter, tuple(segments), hits, duration, accents, alternatives)
