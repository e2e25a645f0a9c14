import mir_eval
import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from motionscore.server.analysis.metrics import alignment_score, beat_scores, count_matches, score_take, tempo_difference
from tests.kit.songs import click_track

times = st.lists(st.floats(0, 60, allow_nan=False), max_size=60).map(lambda xs: np.unique(np.round(xs, 3)))


@settings(max_examples=300, deadline=None)
@given(est=times, ref=times, tol=st.sampled_from([0.07, 0.1, 0.2]))
def test_matching_equals_mir_eval(est, ref, tol):
    assert count_matches(est, ref, tol) == len(mir_eval.util.match_events(ref, est, tol))
    ours = beat_scores(est, ref, tol)
    if est.size and ref.size:
        assert ours.f1 == pytest.approx(mir_eval.beat.f_measure(ref, est, f_measure_threshold=tol))
    assert 0 <= ours.bcs <= 1 and 0 <= ours.bhs <= 1


def test_scores_by_hand():
    s = beat_scores([1.0, 2.0, 3.05, 9.0], [1.1, 2.0, 3.0], 0.2)
    assert (s.matched, s.bcs, s.bhs) == (3, 0.75, 1.0)
    assert s.f1 == pytest.approx(2 * 0.75 / 1.75)
    assert beat_scores([], [1.0]).f1 == 0.0


def test_alignment_score():
    kin = np.arange(1, 20) * 0.5
    assert alignment_score(kin, kin) == pytest.approx(1.0)
    assert alignment_score(kin, kin + 0.1) == pytest.approx(np.exp(-0.5))
    assert alignment_score(kin, kin + 0.25) < 0.1
    assert alignment_score([], kin) is None
    assert alignment_score(kin, []) == 0.0
    assert alignment_score([5.0], [1.0, 5.02, 9.0]) == pytest.approx(np.exp(-0.02 ** 2 / 0.02))


def test_tempo_difference():
    assert tempo_difference(120, 118.5) == 1.5 and tempo_difference(None, 120) is None


def test_score_take_on_click_tracks():
    beats = np.arange(0.5, 20, 0.5)
    good = score_take(beats, 120.0, click_track(beats, duration=20), 22050)
    assert good.f1 > 0.9 and good.alignment > 0.8 and good.tempo_difference_bpm < 3
    shifted = score_take(beats, 120.0, click_track(beats + 0.25, duration=20), 22050)
    assert shifted.f1 < 0.2 and shifted.alignment < 0.1


@pytest.mark.parametrize("bpm", [87.1, 100.7])
def test_long_pieces_tracked_in_windows_have_no_double_beat_at_a_seam(bpm):
    """Pieces over 40 s are tracked in overlapping 30 s windows; two windows used to each put a
    beat next to the seam (23 ms apart on these kick trains), a beat that is not in the music."""
    from motionscore.server.analysis.metrics import track_music_beats
    from motionscore.shared.synth.voices import kick

    sr, rng = 22050, np.random.default_rng(0)
    beats = np.arange(0.4, 75.0, 60.0 / bpm)
    audio, hit = np.zeros(int(75 * sr), np.float32), kick(sr, rng)
    for b in beats:
        i = int(round(b * sr))
        audio[i:i + hit.size] += hit[: audio.size - i]
    _, tracked = track_music_beats(audio, sr)
    intervals = np.diff(tracked)
    assert intervals.min() > 0.5 * np.median(intervals)
    assert beat_scores(tracked, beats, 0.07).f1 > 0.95
