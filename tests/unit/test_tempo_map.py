"""The musical tempo map: steady where the motion is, changes only where it clearly does, hits caught."""

from __future__ import annotations

import importlib
import json
from dataclasses import replace

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from motionscore.server.analysis.metrics import beat_scores
from motionscore.shared.synthetic_dance import beat_times, static_motion, synthetic_dance
from motionscore.shared.rhythm import ACCENT_LATENCY_S, extract_rhythm
from motionscore.shared.tempo_map import (ALTERNATIVES, DEFAULT_CONFIG, TempoEvidence, TempoMap, TempoSegment,
                                          alternatives_text, bpm_grid, catch_hits, coarse_tempo, detect_meter,
                                          estimate_tempo_map, partition, strong_accents, tempo_prior,
                                          three_four_evidence)
from motionscore.shared.tempo_map.salience import _agreement
from tests.kit.dances import two_pulse_dance
from tests.kit.scripts import load_benchmark

ACCENT_PULL = DEFAULT_CONFIG.accent_pull
ALTERNATIVE_LEAST = DEFAULT_CONFIG.alternative_least
ALTERNATIVE_SEPARATION = DEFAULT_CONFIG.alternative_separation
METER_MIN_BEATS = DEFAULT_CONFIG.meter_min_beats
THREE_FOUR_MARGIN = DEFAULT_CONFIG.three_four_margin
THREE_FOUR_HYPOTHESIS_MARGIN = DEFAULT_CONFIG.three_four_hypothesis_margin


@settings(max_examples=12, deadline=None)
@given(bpm=st.floats(82, 128), phase=st.floats(0.0, 0.6), seconds=st.floats(16, 40), seed=st.integers(0, 50),
       genre=st.sampled_from(["BR", "KR", "MH", "PO", "JS"]))
def test_steady_input_gives_one_constant_tempo(bpm, phase, seconds, seed, genre):
    accents = beat_times(seconds, bpm, phase=phase)
    motion = synthetic_dance(accents, seconds, genre=genre, seed=seed)
    rhythm = extract_rhythm(motion)
    tempo_map = rhythm.tempo_map
    assert len(tempo_map.segments) == 1
    intervals = np.diff(rhythm.beat_times)
    assert intervals.std() / intervals.mean() < 1e-9  # exactly steady: no beat-by-beat wobble
    assert tempo_map.tempo_bpm == pytest.approx(bpm, rel=0.01)
    assert beat_scores(rhythm.beat_times, accents - ACCENT_LATENCY_S, 0.07).f1 >= 0.9
    assert np.all((rhythm.beat_times >= 0) & (rhythm.beat_times < motion.duration))
    # Bars: every 4th beat (4/4 unless the motion says otherwise), indices inside the beats.
    assert np.all(np.diff(tempo_map.downbeats) == tempo_map.meter)


@settings(max_examples=60, deadline=None)
@given(bpm=st.floats(60, 180), offset=st.floats(0, 0.5), duration=st.floats(8, 120),
       hits=st.lists(st.floats(0, 1), min_size=1, max_size=6))
def test_hits_are_always_caught_and_beats_stay_ordered(bpm, offset, duration, hits):
    period = 60 / bpm
    beats = offset + period * np.arange(int((duration - offset) / period) + 1)
    beats = beats[beats < duration]
    times = np.unique(np.round(np.asarray(hits) * duration * 0.999, 3))
    out = catch_hits(beats, times, duration)
    for hit in times:
        assert np.min(np.abs(out - hit)) < 1e-9
    assert np.all(np.diff(out) > 0)
    assert np.all((out >= 0) & (out < duration))
    # Between two hits the beats are evenly spaced: the tempo bends as little as possible.
    for a, b in zip(times[:-1], times[1:]):
        inside = out[(out >= a - 1e-9) & (out <= b + 1e-9)]
        if inside.size >= 3:
            gaps = np.diff(inside)
            assert gaps.max() - gaps.min() < 1e-6


@pytest.mark.parametrize("phase", [0.3, 0.58])  # 0.58: moving the grid adds a beat at the start
def test_hits_off_the_grid_bend_the_map_and_the_music_catches_them(phase):
    accents = beat_times(20.0, 100, phase=phase)
    motion = synthetic_dance(accents, 20.0, genre="MH", seed=4)
    plain = extract_rhythm(motion)
    # Two hits between beats of the steady grid (a third and two thirds of the way to the next).
    i, j = np.searchsorted(plain.beat_times, [5.0, 12.7])
    hits = (plain.beat_times[i] + 0.2, plain.beat_times[j] + 0.4)
    assert min(np.min(np.abs(plain.beat_times - h)) for h in hits) > 0.15
    rhythm = extract_rhythm(motion, hits=hits)
    assert rhythm.tempo_map.hits_caught(1 / 30) == 2
    assert "2/2 hits caught" in rhythm.tempo_map.summary()
    # Bars stay on the same beats: catching hits moves beats (here by at most 0.4 s) but never
    # re-counts the bar, which a wrong count would show as a bar line a whole beat (0.6 s) away.
    bars = rhythm.tempo_map.bar_times
    for bar in plain.tempo_map.bar_times:
        assert np.min(np.abs(bars - bar)) <= 0.41
    # Away from the hits the map keeps its tempo.
    before = np.diff(rhythm.beat_times[rhythm.beat_times < hits[0] - 0.5])
    assert 60 / before.mean() == pytest.approx(plain.tempo_bpm, rel=1e-6)


def test_user_tempo_and_meter_are_obeyed():
    accents = beat_times(20.0, 100)
    motion = synthetic_dance(accents, 20.0, genre="HO", seed=1)
    rhythm = extract_rhythm(motion, tempo_bpm=137.0, meter=3)
    assert rhythm.tempo_bpm == pytest.approx(137.0)
    assert np.allclose(np.diff(rhythm.beat_times), 60 / 137.0)
    assert rhythm.tempo_map.meter == 3 and np.all(np.diff(rhythm.tempo_map.downbeats) == 3)
    # A tempo for a motion that does not move still gives a grid (the user asked for it).
    still = extract_rhythm(static_motion(150), tempo_bpm=120.0)
    assert still.beat_times.size >= 9 and np.allclose(np.diff(still.beat_times), 0.5)


def _rise_and_fall(motion, beats: np.ndarray, beats_per_bar: int, depth_px: float = 18.0, first: int = 0):
    """``motion`` with the body above the ankles rising and falling once per bar of
    ``beats_per_bar`` beats, lowest on the bars' first beats (``beats[first::beats_per_bar]``)."""
    t = np.arange(motion.num_frames) / motion.fps
    bar = (np.interp(t, beats, np.arange(beats.size), left=np.nan, right=np.nan) - first) / beats_per_bar
    lowered = depth_px * np.cos(2 * np.pi * np.nan_to_num(bar))  # image y grows downwards
    keypoints = motion.keypoints.copy()
    body = [i for i, name in enumerate(motion.names) if "ankle" not in str(name)]
    keypoints[:, body, 1] += lowered[:, None].astype(np.float32)
    return replace(motion, keypoints=keypoints)


@settings(max_examples=8, deadline=None)
@given(bpm=st.floats(80, 130), first=st.integers(0, 2), seed=st.integers(0, 20))
def test_a_waltz_rise_and_fall_gives_three_four_bars_on_its_lowest_beats(bpm, first, seed):
    """Arms hitting every beat, the body lowest every third beat: 3/4, bars on the low beats; the
    same dancer rising every second or fourth beat stays in 4/4, and the user's meter wins."""
    seconds = 24.0
    beats = beat_times(seconds, bpm)
    arms = synthetic_dance(beats, seconds, genre="WA", seed=seed)  # hips still: no bounce of its own
    waltz = extract_rhythm(_rise_and_fall(arms, beats, 3, first=first))
    tempo_map = waltz.tempo_map
    assert tempo_map.tempo_bpm == pytest.approx(bpm, rel=0.02)
    assert tempo_map.meter == 3 and np.all(np.diff(tempo_map.downbeats) == 3)
    low = beats[first::3] - ACCENT_LATENCY_S
    assert beat_scores(tempo_map.beats[tempo_map.downbeats], low, 0.1).f1 >= 0.9
    assert extract_rhythm(_rise_and_fall(arms, beats, 3, first=first), meter=4).tempo_map.meter == 4
    for other in (2, 4):
        assert extract_rhythm(_rise_and_fall(arms, beats, other, first=first)).tempo_map.meter == 4
    assert extract_rhythm(arms).tempo_map.meter == 4


def test_detect_meter_needs_a_clear_and_long_enough_three_beat_repeat():
    rate, period = 60.0, 36.0  # 100 BPM
    t = np.arange(int(30 * rate)) / rate
    beats = np.arange(0.3, 30, period / rate)
    bar = lambda k: np.cos(2 * np.pi * (t - 0.3) * rate / (k * period))  # noqa: E731
    assert detect_meter(bar(3), rate, beats) == 3
    assert detect_meter(bar(2), rate, beats) == 4 and detect_meter(bar(4), rate, beats) == 4
    assert detect_meter(bar(1), rate, beats) == 4  # a bounce on every beat repeats every 2 and 4
    assert detect_meter(np.random.default_rng(0).normal(size=t.size), rate, beats) == 4
    assert detect_meter(None, rate, beats) == 4
    assert detect_meter(bar(3), rate, beats[:METER_MIN_BEATS - 1]) == 4  # too short to tell
    # A 3/4 half buried in a bounce on every other beat: enough for the map's own tempo, not for
    # one found as if in 3/4 (THREE_FOUR_HYPOTHESIS_MARGIN).
    mixed = bar(3) + 0.55 * bar(2)
    evidence = three_four_evidence(mixed, period)
    assert THREE_FOUR_MARGIN <= evidence < THREE_FOUR_HYPOTHESIS_MARGIN
    assert detect_meter(mixed, rate, beats) == 3
    assert detect_meter(mixed, rate, beats, THREE_FOUR_HYPOTHESIS_MARGIN) == 4


def test_a_still_shot_with_hits_gets_a_grid_that_catches_them():
    rhythm = extract_rhythm(static_motion(180), hits=(1.3, 4.45))
    assert rhythm.tempo_map is not None and rhythm.tempo_map.hits_caught(1 / 30) == 2
    assert extract_rhythm(static_motion(180)).tempo_map is None  # nothing to follow, nothing asked


def test_hits_too_close_together_are_refused_in_one_line():
    from motionscore.shared.options import OptionsError, ScoreOptions

    with pytest.raises(OptionsError, match="closer than 0.1 s"):
        ScoreOptions(hits=(1.0, 1.04))
    assert ScoreOptions(hits=(2.0, 1.0)).hits == (1.0, 2.0)


def test_a_dance_that_speeds_up_gets_a_map_that_does_too():
    # 90 -> 130 BPM in steps of 10 BPM every 12 s: the map's tempo rises, bar by bar, never wobbles.
    steps = [(12.0 * k, 90.0 + 10 * k) for k in range(5)]
    accents = beat_times(60.0, steps)
    rhythm = extract_rhythm(synthetic_dance(accents, 60.0, genre="PO", seed=3))
    tempi = [s.bpm for s in rhythm.tempo_map.segments]
    assert len(tempi) >= 3 and all(b > a for a, b in zip(tempi, tempi[1:]))
    assert tempi[0] == pytest.approx(90, rel=0.04) and tempi[-1] == pytest.approx(130, rel=0.04)
    assert beat_scores(rhythm.beat_times, accents - ACCENT_LATENCY_S, 0.1).f1 >= 0.8


def test_a_genres_tempo_range_is_flat_inside_and_falls_off_outside():
    bpms = np.array([60.0, 75.0, 80.0, 95.0, 120.0, 130.0, 150.0, 200.0])
    prior = tempo_prior(bpms, (80.0, 130.0))
    inside = (bpms >= 80) & (bpms <= 130)
    assert np.all(prior[inside] == 1.0)  # 120 BPM Street Jazz is as likely as 95 BPM
    assert np.all(prior[~inside] < 1.0) and prior[0] < prior[1] and prior[-1] < prior[-2]
    assert tempo_prior(np.array([110.0]), None)[0] == 1.0  # no genre: the bell around 110


def test_a_named_ballroom_dance_sets_the_meter_and_the_musical_octave():
    """A four-square dancer at 87 BPM named a waltz gets 3/4 bars (the user's meter still wins); the
    same steps at 102 BPM are quickstep at 204 BPM and rumba at 102 (the dance's WDSF tempo)."""
    steps = synthetic_dance(beat_times(16.0, 87), 16.0, genre="HO", seed=1)
    assert extract_rhythm(steps).tempo_map.meter == 4
    waltz = extract_rhythm(steps, genre="WZ").tempo_map
    assert waltz.meter == 3 and np.all(np.diff(waltz.downbeats) == 3)
    assert waltz.tempo_bpm == pytest.approx(87, rel=0.01)
    assert extract_rhythm(replace(steps, genre="waltz")).tempo_map.meter == 3  # the motion's own genre
    assert extract_rhythm(steps, genre="WZ", meter=4).tempo_map.meter == 4
    faster = synthetic_dance(beat_times(16.0, 102), 16.0, genre="HO", seed=1)
    assert extract_rhythm(faster, genre="QS").tempo_bpm == pytest.approx(204, rel=0.01)
    assert extract_rhythm(faster, genre="RB").tempo_bpm == pytest.approx(102, rel=0.01)


def _pulse_envelope(rate: float, seconds: float, beats: np.ndarray, heights: np.ndarray) -> np.ndarray:
    """An onset envelope (N,) with a narrow bump of the given height at each beat time (s)."""
    t = (np.arange(int(seconds * rate)) + 1.0) / rate
    env = np.zeros_like(t)
    for b, h in zip(beats, heights):
        env += h * np.exp(-0.5 * ((t - b) / 0.02) ** 2)
    return env


def test_a_prominent_accent_off_the_grid_pulls_its_beat_halfway():
    rate, seconds, period = 60.0, 24.0, 0.6
    beats = 0.3 + period * np.arange(40)
    accents = beats.copy()
    accents[20] += 0.08  # a stamp 80 ms late, five times the others
    heights = np.ones(beats.size)
    heights[20] = 5.0
    env = _pulse_envelope(rate, seconds, accents, heights)
    tempo_map = estimate_tempo_map([env], env, rate, seconds)
    assert tempo_map.accents.size == 1
    nearest = tempo_map.beats[np.argmin(np.abs(tempo_map.beats - accents[20]))]
    assert nearest - beats[20] == pytest.approx(ACCENT_PULL * 0.08, abs=1.5 / rate)
    # The rest stays a steady grid: the tempo bends by at most the pull spread over the beats.
    intervals = np.diff(tempo_map.beats)
    assert intervals.std() / intervals.mean() < 0.01
    assert tempo_map.to_dict()["accents_s"] == [round(float(a), 4) for a in tempo_map.accents]
    # Without soft hits, or with the user's tempo, the grid ignores it.
    plain = estimate_tempo_map([env], env, rate, seconds, soft_hits=False)
    assert plain.accents.size == 0 and np.ptp(np.diff(plain.beats)) < 1e-9
    assert estimate_tempo_map([env], env, rate, seconds, tempo_bpm=100.0).accents.size == 0


@settings(max_examples=30, deadline=None)
@given(bpm=st.floats(70, 160), spread=st.floats(0.0, 0.6), seed=st.integers(0, 1000))
def test_accents_of_a_steady_pulse_are_never_soft_hits(bpm, spread, seed):
    """Accents that vary by less than the prominence factor (here up to 1.6x) pull nothing."""
    rng = np.random.default_rng(seed)
    period = 60.0 / bpm
    beats = 0.2 + period * np.arange(int(20.0 / period))
    heights = 1.0 + spread * rng.random(beats.size)
    env = _pulse_envelope(60.0, 20.5, beats, heights)
    assert strong_accents(env, 60.0, beats).size == 0


def test_partition_keeps_steady_values_in_one_piece_and_splits_a_clear_change():
    rng = np.random.default_rng(0)
    steady = np.log(100) + rng.normal(0, 0.02, 30)
    steady[[7, 19]] += 0.3  # two odd windows
    assert partition(steady) == [0]
    change = np.concatenate([np.full(10, np.log(90)), np.full(10, np.log(130))])
    assert partition(change) == [0, 10]


def test_window_and_dict_round_trip_the_map():
    beats = 0.5 + 0.5 * np.arange(20)
    tempo_map = TempoMap(beats, np.arange(0, 20, 4), 4, (TempoSegment(0.5, 10.0, 120.0),), np.array([2.5]), 10.0)
    part = tempo_map.window(2.0, 6.0)
    assert part.beats[0] == pytest.approx(0.0) and part.beats.size == 8 and part.duration == pytest.approx(4.0)
    assert list(part.hits) == [0.5]
    data = tempo_map.to_dict()
    assert data["tempo_bpm"] == 120.0 and data["hits_caught"] == 1 and data["downbeats"] == [0, 4, 8, 12, 16]
    assert data["summary"] == "120 BPM, 4/4, steady, 1/1 hits caught"


def test_the_bounce_is_not_outvoted_by_speed_cues_that_share_their_input():
    """Three joint-speed cues, each with a limb's own rate (100, 140, 142 BPM) over the dancer's
    120 BPM, and the hips' clean bounce at 120: counted as one more vote, the bounce disagrees with
    the majority and loses (141 BPM, as on real Street Jazz camera views); as an independent
    measurement it keeps its weight and the 120 BPM wins."""
    rate, seconds = 60.0, 30.0
    t = np.arange(int(seconds * rate)) / rate

    def pulses(bpm):
        return sum(np.exp(-0.5 * ((t - b) / 0.03) ** 2) for b in np.arange(0.2, seconds, 60 / bpm))

    rng = np.random.default_rng(0)
    speed = [pulses(own) + 0.55 * pulses(120) + 0.1 * rng.random(t.size) for own in (100, 140, 142)]
    bounce = np.sin(2 * np.pi * 2.0 * t)
    assert coarse_tempo(speed + [bounce], rate, (80, 130), independent=1) == pytest.approx(120, rel=0.01)
    assert coarse_tempo(speed + [bounce], rate, (80, 130)) == pytest.approx(141, rel=0.02)
    families = [np.abs(np.sin(np.linspace(0, k, 50))) for k in (3, 3.1, 3.2, 9)]
    plain, independent = _agreement(families), _agreement(families, 1)
    assert independent[:3] == plain[:3] and independent[3] == max(plain) > plain[3]


@pytest.mark.parametrize("seed", range(3))
def test_in_three_four_the_hips_rise_and_fall_once_a_bar_vote_for_the_beat(seed):
    """A waltz at 87 BPM whose kinetic and feet cues step at 80 (as on the real capture
    DANCE_W_10) and whose directogram and hips' rise and fall (once a bar: 29 BPM) show the 87:
    as a pulse of its own the bounce says nothing about 87 (80 wins); with the meter known to be
    3/4 its bar votes for three times its tempo, the beat (87 wins), with or without the Waltz's
    tempo range; with no meter known the map finds both the 3/4 and the 87."""
    rate, seconds = 60.0, 40.0
    t = np.arange(int(seconds * rate)) / rate

    def pulses(bpm):
        return sum(np.exp(-0.5 * ((t - b) / 0.03) ** 2) for b in np.arange(0.2, seconds, 60 / bpm))

    rng = np.random.default_rng(seed)
    speed = [0.5 * pulses(87) + pulses(own) + 0.1 * rng.random(t.size) for own in (80, 87, 80)]
    bounce = np.cos(2 * np.pi * (87 / 180) * t) + 0.05 * rng.standard_normal(t.size)
    for tempo_range in ((84, 90), None):
        assert coarse_tempo(speed + [bounce], rate, tempo_range, independent=1) == pytest.approx(80, rel=0.01)
        assert coarse_tempo(speed + [bounce], rate, tempo_range, independent=1, meter=3) == pytest.approx(87, rel=0.01)
    # Only a measurement of its own (the hips' height, not a joint speed) is read as the bar.
    assert coarse_tempo(speed + [bounce], rate, (84, 90), meter=3) == coarse_tempo(speed + [bounce], rate, (84, 90))
    # The map passes a known meter on to its tempo (a Waltz named, or the user's --meter 3).
    onset = speed[0] + speed[2]
    for meter, tempo in ((3, 87), (4, 80)):
        tempo_map = estimate_tempo_map(speed + [bounce], onset, rate, seconds, (84, 90), meter=meter, independent=1,
                                       meter_cue=bounce)
        assert tempo_map.meter == meter and tempo_map.tempo_bpm == pytest.approx(tempo, rel=0.01)
    # With no meter given the map also tries 3/4 and keeps it: the bounce repeats every three of
    # the beats found that way.
    tempo_map = estimate_tempo_map(speed + [bounce], onset, rate, seconds, (84, 90), independent=1, meter_cue=bounce)
    assert tempo_map.meter == 3 and tempo_map.tempo_bpm == pytest.approx(87, rel=0.01)
    # Hips that rise and fall every two beats stay in 4/4 at the speed cues' tempo.
    two = np.cos(2 * np.pi * (80 / 120) * t) + 0.05 * rng.standard_normal(t.size)
    tempo_map = estimate_tempo_map(speed + [two], onset, rate, seconds, (84, 90), independent=1, meter_cue=two)
    assert tempo_map.meter == 4 and tempo_map.tempo_bpm == pytest.approx(80, rel=0.01)


@pytest.mark.parametrize("seed", range(3))
def test_a_second_pulse_is_offered_as_an_alternative_tempo(seed):
    tempo_map = extract_rhythm(two_pulse_dance(seed)).tempo_map
    assert tempo_map.tempo_bpm == pytest.approx(110, rel=0.01)
    assert tempo_map.alternatives and tempo_map.alternatives[0] == pytest.approx(80, rel=0.01)
    assert tempo_map.to_dict()["alternatives_bpm"] == list(tempo_map.alternatives)
    assert tempo_map.window(2.0, 10.0).alternatives == tempo_map.alternatives
    # With the user's tempo the user has chosen: nothing to offer.
    assert extract_rhythm(two_pulse_dance(seed), tempo_bpm=80.0).tempo_map.alternatives == ()


@pytest.mark.parametrize("genre", ["HO", "KR", "JB", "BR"])
@pytest.mark.parametrize("bpm", [90, 100, 120])
def test_a_steady_dance_has_no_alternative_tempo(genre, bpm):
    """One clear pulse: no buttons to confuse the user with."""
    tempo_map = extract_rhythm(synthetic_dance(beat_times(12.0, bpm), 12.0, fps=30, genre=genre, seed=bpm)).tempo_map
    assert tempo_map.alternatives == ()


@settings(max_examples=60, deadline=None)
@given(seed=st.integers(0, 10_000), chosen=st.floats(40.0, 240.0), width=st.floats(0.005, 0.2))
def test_alternatives_are_distinct_strong_peaks(seed, chosen, width):
    """Whatever the evidence: at most ALTERNATIVES, strongest first, each a peak of at least
    ALTERNATIVE_LEAST of the best, none near the map's tempo, another alternative, or their x2, x1/2."""
    bpms = bpm_grid()
    rng = np.random.default_rng(seed)
    centres = rng.uniform(np.log(40), np.log(240), 6)
    score = sum(rng.uniform(0.1, 1.0) * np.exp(-0.5 * ((np.log(bpms) - c) / width) ** 2) for c in centres)
    alternatives = TempoEvidence(bpms, score, [], []).alternatives(chosen)
    assert len(alternatives) <= ALTERNATIVES
    # Each alternative is a peak of the grid, rounded to 0.1 BPM: read the score at that peak.
    peaks = [i for i in range(1, bpms.size - 1) if score[i] >= score[i - 1] and score[i] >= score[i + 1]]
    values = [max(float(score[i]) for i in peaks if round(float(bpms[i]), 1) == b) for b in alternatives]
    assert all(a >= b - 1e-9 for a, b in zip(values, values[1:]))
    assert all(v >= ALTERNATIVE_LEAST * score.max() * (1 - 1e-9) for v in values)
    kept = [chosen, *alternatives]
    for i, a in enumerate(kept):
        for b in kept[i + 1:]:
            assert min(abs(np.log(a / (b * f))) for f in (0.5, 1, 2)) >= ALTERNATIVE_SEPARATION
    assert TempoEvidence(bpms, np.zeros_like(bpms), [], []).alternatives(chosen) == ()


def test_alternatives_text():
    assert alternatives_text([]) == ""
    assert alternatives_text([80.0]) == "80 BPM"
    assert alternatives_text([119.7, 128.4]) == "119.7 or 128.4 BPM"


@pytest.mark.realdata
def test_real_dances_get_a_steady_map_at_the_songs_tempo(real_data):
    """Every real clip in ../shared/data/real (benchmarks/bench_realtempo.py prints the details):
    one steady segment on clips danced to one steady song, and the tempo right on most."""
    from motionscore.server.data.real_clips import load_real_clips

    from motionscore.server.analysis.metrics import grid_share, tempo_right

    clips = load_real_clips(real_data)
    assert len(clips) >= 20
    right, right_or_alternative, steady, on_grid, f1 = 0, 0, 0, [], []
    for clip in clips:
        rhythm = extract_rhythm(clip.motion)
        assert rhythm.tempo_map.meter == clip.true_meter, clip.name  # the waltzes in 3/4, the rest 4/4
        right += tempo_right(rhythm.tempo_bpm, clip.true_bpm)
        right_or_alternative += any(tempo_right(b, clip.true_bpm)
                                    for b in (rhythm.tempo_bpm, *rhythm.tempo_map.alternatives))
        steady += len(rhythm.tempo_map.segments) == 1
        if clip.reference_beats is None:
            on_grid.append(grid_share(rhythm.beat_times, clip.true_bpm))
        else:
            f1.append(beat_scores(rhythm.beat_times, clip.reference_beats[clip.reference_beats < clip.motion.duration],
                                  0.2).f1)
    # Measured at this commit: tempo right on 26 of 29 clips (90 %), all 29 maps steady, AIST++
    # beats on the dance's grid 85 %, ballroom F1 0.791 at 0.2 s (the issue asks 0.80); the map's
    # tempo or one of its alternatives right on 28 (all but the tango).
    assert right / len(clips) >= 0.85
    assert right_or_alternative >= len(clips) - 1
    assert steady == len(clips)
    assert np.mean(on_grid) >= 0.8
    assert np.mean(f1) >= 0.75


@pytest.mark.realdata
def test_real_dances_at_blender_frame_rates(real_data):
    """The 29 real clips as 24 and 25 fps captures (Blender's usual scene rates). Measured at this
    commit: tempo right on 79 % and 90 % (at 60 fps 90 %); with the linear resampler before
    (e2e9c3a), 76 % and 76 %."""
    from motionscore.server.analysis.metrics import tempo_right
    from motionscore.server.data.real_clips import at_frame_rate, load_real_clips

    clips = load_real_clips(real_data)
    for fps, least in ((24.0, 0.75), (25.0, 0.85)):
        right = [tempo_right(extract_rhythm(at_frame_rate(clip, fps).motion).tempo_bpm, clip.true_bpm)
                 for clip in clips]
        assert np.mean(right) >= least, (fps, np.mean(right))


def test_bench_realtempo_scores_a_folder_like_the_real_data_and_writes_the_takes(tmp_path, capsys):
    """benchmarks/bench_realtempo.py end to end on two synthetic clips laid out like
    ../shared/data/real (an aistpp2d dance with its tempo, a paired dance with its song's beats)."""
    from dataclasses import replace

    from motionscore.shared.motion import save_motion

    data = tmp_path / "real"
    (data / "aistpp2d").mkdir(parents=True)
    (data / "paired").mkdir()
    accents = beat_times(12.0, 100)
    save_motion(replace(synthetic_dance(accents, 12.0, genre="MH", seed=2), extras={"music_bpm": 100.0}),
                data / "aistpp2d" / "gMH_test.npz")
    song = beat_times(12.0, 120)
    save_motion(replace(synthetic_dance(song, 12.0, genre="", seed=3), genre=None), data / "paired" / "DANCE_X_1.npz")
    (data / "paired" / "DANCE_X_1.beats").write_text("".join(f"{t - ACCENT_LATENCY_S:.4f}\n" for t in song))
    takes = tmp_path / "takes"
    assert load_benchmark("bench_realtempo").main(["--data", str(data), "--write-audio", str(takes), "--excerpts", "6",
                                           "--frame-rates", "24,25"]) == 0
    out = capsys.readouterr().out
    assert "gMH_test" in out and "DANCE_X_1" in out and "music: tempo within 5 % on 100% of 2 clips" in out
    # Two 6 s excerpts of each 12 s clip, scored on the map alone.
    assert "map on 6 s excerpts (4): tempo within 5 % on 100%" in out
    # Both clips as 24 and 25 fps captures.
    assert "map on clips at 24 fps (2): tempo within 5 % on 100%" in out
    assert "map on clips at 25 fps (2): tempo within 5 % on 100%" in out
    for option, bad in (("--excerpts", "abc"), ("--excerpts", "0"), ("--frame-rates", "fast"),
                        ("--frame-rates", "5")):  # a usage error in one line, not a traceback
        with pytest.raises(SystemExit) as exit_:
            load_benchmark("bench_realtempo").main(["--data", str(data), option, bad])
        assert exit_.value.code == 2 and option in capsys.readouterr().err
    assert (takes / "gMH_test.wav").exists() and (takes / "gMH_test.bpm").read_text().strip() == "100"
    assert np.loadtxt(takes / "DANCE_X_1.beats").size == song.size
    # The independent-tracker benchmark needs Essentia or madmom, neither a dependency: without
    # one, one line and exit 2; with it, every take is scored.
    tracker = load_benchmark("bench_independent_tracker")
    for name, module in (("essentia", "essentia"), ("madmom", "madmom.features.beats")):
        try:
            importlib.import_module(module)
        except Exception:
            assert tracker.main([str(takes), "--tracker", name]) == 2
            assert f"{name} cannot be imported here" in capsys.readouterr().err
            assert tracker.main([str(takes), "--tracker", name, "--beats-json", str(tmp_path / "b.json")]) == 2
            assert not (tmp_path / "b.json").exists()
        else:
            assert tracker.main([str(takes), "--tracker", name]) == 0
            assert f"{name}: tempo within 5 % on" in capsys.readouterr().out
            # bench_conform --judge's way in: every take's beats, by file stem.
            assert tracker.main([str(takes), "--tracker", name, "--beats-json", str(tmp_path / "b.json")]) == 0
            assert set(json.loads((tmp_path / "b.json").read_text())) == {w.stem for w in takes.glob("*.wav")}


def test_bench_realtempo_on_ballroom_dances_alone(tmp_path, capsys):
    """A data folder with ballroom pairs only (what import_dance_with_melody writes): the AIST++
    figures read "-", not nan."""
    from dataclasses import replace

    from motionscore.shared.motion import save_motion

    data = tmp_path / "dwm"
    (data / "paired").mkdir(parents=True)
    song = beat_times(12.0, 120)
    save_motion(replace(synthetic_dance(song, 12.0, genre="", seed=3), genre=None), data / "paired" / "DANCE_C_1.npz")
    (data / "paired" / "DANCE_C_1.beats").write_text("".join(f"{t - ACCENT_LATENCY_S:.4f}\n" for t in song))
    assert load_benchmark("bench_realtempo").main(["--data", str(data), "--ceiling"]) == 0
    captured = capsys.readouterr()
    assert "AIST++ beats on the grid -; ballroom F1 " in captured.out
    assert "ceiling at the map's tempo (1 clips): F1 1.000 at 0.2 s" in captured.out  # the map is the song's tempo
    assert "the map at the song's tempo, phased by the motion (1 clips): F1 1.000 at 0.2 s" in captured.out
    assert "map tempo noted as not suiting the clip's genre on 0 of 1 clips" in captured.out  # 120 BPM cha-cha
    assert "nan" not in captured.out and "Warning" not in captured.err


def test_the_song_tempo_figure_phases_the_map_by_the_motion_alone():
    """bench_realtempo --ceiling's other side: at the song's exact tempo the map's phase comes from
    the motion, not from the song: a dancer on the song's beats scores 1, one half a beat off the
    song (the accents on its off-beats) scores 0, and one drifting a beat against the song over the
    shot (1.5 % faster) lands one phase in its middle: on the song at 0.2 s, off it at 70 ms."""
    from motionscore.server.data.real_clips import RealClip

    module = load_benchmark("bench_realtempo")
    song = beat_times(40.0, 100)
    period = 60.0 / 100
    for accents, expected in ((song, (1.0, 1.0)), (song + period / 2, (0.0, 0.0)), (song / 1.015, (1.0, 0.0))):
        motion = synthetic_dance(accents[accents < 40.0], 40.0, seed=4)
        clip = RealClip("DANCE_C_1", "paired", motion, 100.0, song - ACCENT_LATENCY_S)
        *f1, offset = module.song_tempo_f1(clip, 100.0, song - ACCENT_LATENCY_S)
        assert f1 == pytest.approx(expected, abs=0.3 if expected == (1.0, 0.0) else 0.02)
        if expected != (1.0, 0.0):  # on the song's beats or on its off-beats (a drift has no one offset)
            assert abs(offset) == pytest.approx(0.5 if expected == (0.0, 0.0) else 0.0, abs=0.05)


def test_the_ceiling_picks_the_best_phase_and_reads_a_captures_own_tempo():
    """bench_realtempo --ceiling: a steady grid at the song's period scores 1 at its best phase, one
    1.5 % fast cannot; a capture whose body rises and falls once a bar at 88.3 BPM reads 88.3."""
    module = load_benchmark("bench_realtempo")
    song = np.arange(0.3, 60.0, 60 / 87.0)
    assert module.best_phase_f1(60 / 87.0, 60.0, song) == (1.0, 1.0)
    assert module.best_phase_f1(60 / 88.3, 60.0, song)[0] < 0.8
    fps = 25.0
    t = np.arange(int(60 * fps)) / fps
    joints = np.zeros((t.size, 4, 3))
    joints[:, :, 1] = 100.0 + 5.0 * np.cos(2 * np.pi * t * 88.3 / 180.0)[:, None]  # 3 beats a rise and fall
    assert module.capture_bar_bpm(joints, fps, 87.0) == pytest.approx(88.3, rel=0.002)


def test_import_dance_with_melody_writes_the_paired_layout(tmp_path, capsys):
    """benchmarks/import_dance_with_melody.py on a made-up capture in the public repository's
    layout: the same projection, offset and beat cut as ../shared/data/real/paired, gap fills
    counted, an LFS pointer skipped, nothing overwritten."""
    import json

    from motionscore.shared.motion import load_motion

    module = load_benchmark("import_dance_with_melody")
    rng = np.random.default_rng(0)
    frames = 250  # 10 s at 25 fps
    t = np.arange(frames) / 25.0
    skeletons = rng.normal(0.0, 20.0, (1, 23, 3)) + 5.0 * np.sin(2 * np.pi * 2.0 * t)[:, None, None] * rng.normal(
        1.0, 0.3, (1, 23, 3))
    fill = slice(100, 106)  # frames 100..105 on the straight line from frame 99 to frame 106
    skeletons[fill] = skeletons[99] + (skeletons[106] - skeletons[99]) * (np.arange(1, 7) / 7)[:, None, None]
    center = np.stack([np.linspace(0, 50, frames), np.full(frames, 90.0), np.zeros(frames)], axis=1)
    source = tmp_path / "src"
    dance = source / "DANCE_W_1"
    dance.mkdir(parents=True)
    (dance / "skeletons.json").write_text(json.dumps({"length": frames, "center": center.tolist(),
                                                      "skeletons": skeletons.tolist()}))
    (dance / "config.json").write_text(json.dumps({"start_position": 50, "end_position": 300}))
    (dance / "audio.mp3").write_bytes(b"\xff" * 1000)
    pointer = source / "DANCE_C_9"
    pointer.mkdir()
    (pointer / "skeletons.json").write_text(json.dumps({"length": frames, "center": center.tolist(),
                                                        "skeletons": skeletons.tolist()}))
    (pointer / "config.json").write_text("{}")
    (pointer / "audio.mp3").write_text("version https://git-lfs.github.com/spec/v1\n")
    song_beats = np.arange(0.5, 20.0, 0.5)  # the whole song's beats; the dance starts at 2 s
    out = tmp_path / "out" / "paired"
    out.mkdir(parents=True)
    line = module.convert(dance, out, track=lambda path: song_beats)
    assert "DANCE_W_1: 10.0 s from 2.00 s into the song, 20 beats" in line and "1 gap fills" in line
    motion = load_motion(out / "DANCE_W_1.npz")
    joints = np.load(out / "DANCE_W_1.joints3d.npy")
    assert motion.fps == 25.0 and motion.frame_size == (1920, 1080) and motion.extras["music_offset_s"] == 2.0
    np.testing.assert_allclose(joints, skeletons + center[:, None], atol=1e-4)
    np.testing.assert_allclose(motion.keypoints[:, 5, 0], 960 + 2.5 * joints[:, 3, 0], atol=1e-3)  # left shoulder
    np.testing.assert_allclose(motion.keypoints[:, 16, 1], 740 - 2.5 * joints[:, 18, 1], atol=1e-3)  # right ankle
    beats = np.loadtxt(out / "DANCE_W_1.beats")
    np.testing.assert_allclose(beats, song_beats[(song_beats >= 2.0) & (song_beats < 12.0)] - 2.0)
    assert module.gap_fills(joints) == [100]
    assert module.convert(pointer, out, track=lambda path: song_beats).startswith("DANCE_C_9: skipped, no audio.mp3")
    (out / "DANCE_W_1.beats").write_text("1.0\n")  # the user's file stays as it is
    assert module.convert(dance, out, track=lambda path: song_beats) == "DANCE_W_1: already there"
    assert (out / "DANCE_W_1.beats").read_text() == "1.0\n"
    assert module.main([str(tmp_path / "nothing"), str(tmp_path / "out")]) == 2
    assert "no DANCE_* folders" in capsys.readouterr().err
    assert module.main([str(source), str(tmp_path / "out"), "--names", "DANCE_W_1,DANCE_X_7"]) == 2
    assert "no folder DANCE_X_7" in capsys.readouterr().err
    broken = source / "DANCE_R_1"  # a cut-off download: one line, no traceback, nothing written
    broken.mkdir()
    (broken / "skeletons.json").write_text('{"length": 250, "center": [[0, 0, 0]' + " " * 300)
    (broken / "config.json").write_text('{"start_position": 0}')
    (broken / "audio.mp3").write_bytes(b"\xff" * 1000)
    assert module.convert(broken, out, track=lambda path: song_beats).startswith(
        "DANCE_R_1: skipped, unreadable skeletons.json or config.json (JSONDecodeError")
    assert not (out / "DANCE_R_1.npz").exists()
