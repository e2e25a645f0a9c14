"""Shots of any length (window by window for the ML backbones) and beat lock."""

import numpy as np
import pytest

from motionscore.server.generation.backbones import Cancelled, load_backbone
from motionscore.server.generation.beatlock import beat_lock
from motionscore.server.analysis.metrics import beat_scores, track_music_beats
from motionscore.server.generation.pipeline import score_motion
from motionscore.shared.synthetic_dance import beat_times, synthetic_dance
from motionscore.shared.options import ScoreOptions
from tests.kit.songs import click_track

THREE_MINUTES = [(0, 96), (60, 128), (120, 108)]


@pytest.fixture(scope="module")
def long_dance():
    accents = beat_times(180.0, THREE_MINUTES)
    return accents, synthetic_dance(accents, 180.0, fps=30, genre="PO", seed=4)


def test_synth_follows_three_minutes_with_two_tempo_changes(long_dance):
    accents, motion = long_dance
    stages = []
    result = score_motion(motion, ScoreOptions(sample_rate=22050), load_backbone("synth"),
                          lambda f, s: stages.append(f))
    assert result.audio.shape == (180 * 22050,)
    _, beats = track_music_beats(result.audio, 22050)
    assert beat_scores(beats, accents, 0.2).f1 >= 0.8
    for start in (0, 60, 120):  # not just the start: every minute, each at its own tempo
        sel = lambda x: x[(x >= start) & (x < start + 60)]  # noqa: E731
        assert beat_scores(sel(beats), sel(accents), 0.2).f1 >= 0.8, start
    assert len(stages) > 10 and stages[-1] == 1.0


@pytest.mark.slow
# Riffusion and AudioLDM share the window planner and the joins (backbones/windows.py); Riffusion's
# tiny model still pays Griffin-Lim at the published n_fft for every 5.12 s window, so it is given
# one minute (15 windows) and AudioLDM the whole three.
@pytest.mark.parametrize("name, seconds", [("musicgen", 180), ("riffusion", 60), ("audioldm", 180)])
def test_ml_backbones_score_minutes_in_one_request(name, seconds, long_dance):
    pytest.importorskip("torch")
    _, motion = long_dance
    motion = motion.frames(0, int(round(seconds * motion.fps)))
    stages = []
    backbone = load_backbone(name, model="tiny", device="cpu")
    result = score_motion(motion, ScoreOptions(sample_rate=16000, beat_lock=False), backbone,
                          lambda f, s: stages.append(s))
    assert result.audio.shape == (seconds * 16000,) and np.isfinite(result.audio).all()
    windows = {s.split(":")[0] for s in stages if s.startswith("window")}
    assert len(windows) >= 10  # progress per window
    assert any("windows" in n for n in result.metadata["notes"])


def test_cancel_between_windows():
    pytest.importorskip("torch")
    motion = synthetic_dance(beat_times(30, 120), 30.0, seed=1)

    def progress(fraction, stage):
        if stage.startswith("window 2"):
            raise Cancelled("stop")

    with pytest.raises(Cancelled):
        score_motion(motion, ScoreOptions(sample_rate=16000), load_backbone("audioldm", model="tiny", device="cpu"),
                     progress)


def test_beat_lock_fixes_a_click_track_of_the_wrong_tempo_and_phase():
    sr = 22050
    kinematic = np.arange(40) * 0.5 + 0.7                # the motion: 120 BPM
    wrong = np.arange(44) * 0.47 + 0.82                   # the music: 127.7 BPM, late
    audio = click_track(wrong, sr, 21.0)
    before = beat_scores(track_music_beats(audio, sr)[1], kinematic, 0.07).f1
    locked = beat_lock(audio, sr, kinematic)
    after = beat_scores(track_music_beats(locked.audio, sr)[1], kinematic, 0.07).f1
    assert locked.audio.shape == audio.shape and locked.anchors > 10
    assert before < 0.5 and after > 0.9 and locked.ratio == pytest.approx(0.47 / 0.5, abs=0.02)


def test_beat_lock_never_changes_the_length_or_makes_things_worse():
    sr = 16000
    rng = np.random.default_rng(0)
    for n in (sr // 2, 3 * sr + 7, 10 * sr + 1):
        noise = rng.normal(0, 0.1, n).astype(np.float32)
        locked = beat_lock(noise, sr, np.arange(0.3, n / sr, 0.45))
        assert locked.audio.shape == (n,)
        if locked.anchors == 0:
            np.testing.assert_array_equal(locked.audio, noise)
