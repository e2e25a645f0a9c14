import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from motionscore.server.analysis.metrics import beat_scores
from motionscore.shared.synthetic_dance import beat_times, static_motion, synthetic_dance
from motionscore.shared.motion import Motion, load_motion
from motionscore.shared.tempo_map import coarse_tempo
from motionscore.shared.rhythm import (ACCENT_LATENCY_S, RHYTHM_FPS, directogram, envelope_from_directogram,
                                       extract_rhythm, pick_onsets_compat, resample, tempo_cues)


@pytest.mark.parametrize("genre", ["HO", "BR", "JB", "KR", "LO", "MH", "PO", "WA", "JS", "LH"])
@pytest.mark.parametrize("bpm", [80, 100, 120, 140, 160])
def test_kinematic_beats_find_steady_accents(genre, bpm):
    accents = beat_times(20.0, bpm)
    rhythm = extract_rhythm(synthetic_dance(accents, 20.0, fps=30, genre=genre, seed=bpm))
    kinematic = rhythm.kinematic_beat_times
    assert beat_scores(kinematic, accents, tolerance=0.1).f1 >= 0.9
    assert 60 / np.median(np.diff(kinematic)) == pytest.approx(bpm, rel=0.05)
    # The map is steady at the accents' tempo or, outside the genre's usual range, its half or
    # double (a 160 BPM pulse in a genre danced at 80-130 is heard at 80); its beats sit on accents.
    assert len(rhythm.tempo_map.segments) == 1
    assert min(abs(rhythm.tempo_bpm * r / bpm - 1) for r in (1, 2, 0.5)) <= 0.01
    # The music's beat comes ACCENT_LATENCY_S before the movement stops (as measured on real dances);
    # the coarser of the two grids lies on the finer: every accent on a beat, or every beat on one.
    scores = beat_scores(rhythm.beat_times, accents - ACCENT_LATENCY_S, tolerance=0.1)
    assert (scores.bhs if rhythm.tempo_bpm > bpm * 1.5 else scores.bcs) >= 0.9


@pytest.mark.parametrize("genre, bounces", [("HO", True), ("BR", True), ("WA", False), ("JB", False)])
def test_the_bounce_is_an_independent_cue_only_when_the_hips_move(genre, bounces):
    """A dancer whose hips stay still (only keypoint jitter) gets no say for the 'bounce'; the
    synthetic waltz at 140 BPM was heard at 84 BPM when its jitter counted as a measurement."""
    motion = synthetic_dance(beat_times(20.0, 140), 20.0, fps=30, genre=genre, seed=140)
    keypoints, weights = resample(motion.keypoints, motion.weights(), motion.fps)
    direct = envelope_from_directogram(directogram(keypoints, weights))
    cues, onset, independent = tempo_cues(keypoints, weights, motion.names, direct)
    assert len(cues) == 4 and onset.shape == cues[0].shape
    assert independent == int(bounces)
    # No hips, no bounce cue.
    keep = [i for i, name in enumerate(motion.names) if "hip" not in str(name)]
    cues, _, independent = tempo_cues(keypoints[:, keep], weights[:, keep], [motion.names[i] for i in keep], direct)
    assert len(cues) == 3 and independent == 0


@pytest.mark.parametrize("genre", ["HO", "KR", "JB"])
@pytest.mark.parametrize("change", [[(0, 90), (10, 130)], [(0, 140), (12, 100)]])
def test_kinematic_beats_follow_a_tempo_change(genre, change):
    accents = beat_times(24.0, change)
    rhythm = extract_rhythm(synthetic_dance(accents, 24.0, fps=30, genre=genre, seed=1))
    for beats, lead in ((rhythm.kinematic_beat_times, 0.0), (rhythm.beat_times, ACCENT_LATENCY_S)):
        assert beat_scores(beats, accents - lead, tolerance=0.1).f1 >= 0.9
        # Both tempi are present: the beats after the change follow the new tempo.
        late = np.diff(beats[beats > change[1][0] + 3])
        assert 60 / np.median(late) == pytest.approx(change[1][1], rel=0.05)
    assert [round(s.bpm) for s in rhythm.tempo_map.segments] == [change[0][1], change[1][1]]


@pytest.mark.parametrize("fps", [24.0, 29.97, 50.0, 60.0, 120.0])
def test_any_frame_rate(fps):
    accents = beat_times(12.0, 110)
    rhythm = extract_rhythm(synthetic_dance(accents, 12.0, fps=fps, genre="HO", seed=2))
    assert beat_scores(rhythm.beat_times, accents - ACCENT_LATENCY_S, tolerance=0.1).f1 >= 0.9
    expected = int(np.floor((round(12.0 * fps) - 1) * RHYTHM_FPS / fps)) + 1 - 2
    assert rhythm.binary.shape == rhythm.envelope.shape == (expected,)


def test_sequence_length_matches_the_paper():
    # A 5.12 s clip at 60 Hz is 305 frames and gives a 303-sample rhythm sequence.
    motion = synthetic_dance(beat_times(5.12, 120), 305 / 60, fps=60, seed=0)
    rhythm = extract_rhythm(motion)
    assert motion.num_frames == 305 and rhythm.binary.shape == (303,)
    assert rhythm.binary.dtype == np.uint8 and set(np.unique(rhythm.binary)) <= {0, 1}
    assert 0 <= rhythm.envelope.min() and rhythm.envelope.max() == pytest.approx(1.0)


def test_direction_bins_default_vs_compat():
    # One joint moving at 37 degrees: default bin = floor(37 / 18) = 2; compat bin = 37 % 10 = 7.
    angle = np.radians(37.0)
    kp = np.stack([np.cos(angle) * np.arange(3), np.sin(angle) * np.arange(3)], axis=-1)[:, None, :]
    w = np.ones(kp.shape[:2])
    assert np.flatnonzero(directogram(kp, w).sum(0)).tolist() == [2]
    assert np.flatnonzero(directogram(kp, w, mode="compat").sum(0)).tolist() == [7]
    # Opposite directions fold together into [0, 180).
    assert np.array_equal(directogram(kp, w), directogram(kp[::-1].copy(), w))


def test_compat_peak_picking_is_pinned():
    env = np.array([0, 1, 0, 0, 0, 0, 0, 0.5, 0.6, 0, 0, 0, 0, 0, 0, 0, 0.9, 0.9, 0, 0, 0, 0, 0, 0, 1.0])
    out = pick_onsets_compat(env)
    # 1: the max of env[1:7]; 8 beats 7 (forward window); 16 and 17 are consecutive peaks -> only
    # 17 survives; the final sample (1.0) is never a peak.
    assert np.flatnonzero(out).tolist() == [1, 8, 17]


def _reference_compat_sequence(keypoints: np.ndarray) -> np.ndarray:
    """The original code's rhythm sequence, written from shared/reference/method.md alone (loops, no
    shared code): velocity; per joint |v| into bin floor(angle in degrees) % 10 of the angle folded
    into [0, 180); positive time difference summed over bins; divided by its maximum; sample i a
    peak when it is the maximum of the six samples from i and beats the mean of the four from i by
    0.1 x the mean envelope, computed where the six samples exist; of consecutive peaks the last."""
    frames, joints, _ = keypoints.shape
    direct = np.zeros((frames - 1, 10))
    for t in range(frames - 1):
        for j in range(joints):
            vx, vy = keypoints[t + 1, j] - keypoints[t, j]
            angle = np.degrees(np.arctan2(vy, vx)) % 180.0
            direct[t, int(np.floor(angle)) % 10] += np.hypot(vx, vy)
    env = np.array([sum(max(direct[t + 1, k] - direct[t, k], 0.0) for k in range(10)) for t in range(frames - 2)])
    env = env / env.max()
    peaks = np.zeros(env.size, dtype=np.uint8)
    for i in range(env.size - 5):
        if env[i] == env[i:i + 6].max() and env[i] - env[i:i + 4].mean() > 0.1 * env.mean():
            peaks[i] = 1
    for i in range(env.size - 1):
        if peaks[i] and peaks[i + 1]:
            peaks[i] = 0
    return peaks


@settings(max_examples=40, deadline=None)
@given(frames=st.integers(12, 320), joints=st.integers(1, 17), seed=st.integers(0, 10_000))
def test_compat_mode_equals_the_original_algorithm(frames, joints, seed):
    kp = np.random.default_rng(seed).normal(0, 50, (frames, joints, 2)).cumsum(axis=0)
    ours = extract_rhythm(Motion(keypoints=kp, fps=RHYTHM_FPS), mode="compat").binary
    np.testing.assert_array_equal(ours, _reference_compat_sequence(kp))
    assert not ours[-5:].any()


@pytest.mark.realdata
def test_compat_mode_equals_the_original_on_real_clips(real_data):
    """305-frame, 60 fps windows (the paper's clips) of the real AIST++ dances, onset for onset."""
    from motionscore.server.data.real_clips import load_real_clips
    from motionscore.shared.rhythm import resample

    clips = [c for c in load_real_clips(real_data) if c.kind != "paired"]
    compared = 0
    for clip in clips:
        kp, _ = resample(clip.motion.keypoints, clip.motion.weights(), clip.motion.fps)
        for start in range(0, kp.shape[0] - 305 + 1, 610):
            # Both read the same float32 keypoints a Motion stores: on float64 ones a near tie
            # between two peaks could fall the other way.
            window = Motion(keypoints=kp[start:start + 305], fps=RHYTHM_FPS)
            ours = extract_rhythm(window, mode="compat").binary
            assert ours.size == 303
            np.testing.assert_array_equal(ours, _reference_compat_sequence(window.keypoints.astype(np.float64)),
                                          err_msg=f"{clip.name}@{start}")
            compared += 1
    assert compared >= 40


def test_compat_mode_differs_and_ignores_confidence():
    motion = synthetic_dance(beat_times(8, 120), 8, fps=60, seed=3)
    default, compat = extract_rhythm(motion), extract_rhythm(motion, mode="compat")
    assert compat.mode == "compat" and not np.array_equal(default.binary, compat.binary)
    half = Motion(keypoints=motion.keypoints, fps=60, confidence=np.full(motion.keypoints.shape[:2], 0.5))
    np.testing.assert_array_equal(extract_rhythm(half, mode="compat").binary, compat.binary)


def test_confidence_weighting_ignores_untrusted_joints():
    motion = synthetic_dance(beat_times(10, 100), 10, fps=30, seed=4)
    kp = motion.keypoints.copy()
    conf = np.ones(kp.shape[:2], np.float32)
    kp[:, 0] += np.random.default_rng(0).normal(0, 300, kp[:, 0].shape)  # a wildly jittering nose
    conf[:, 0] = 0.0
    noisy = extract_rhythm(Motion(keypoints=kp, fps=30, confidence=conf))
    clean = extract_rhythm(Motion(keypoints=np.delete(motion.keypoints, 0, axis=1), fps=30))
    np.testing.assert_allclose(noisy.envelope, clean.envelope, atol=1e-5)


def test_static_motion_has_a_defined_result():
    rhythm = extract_rhythm(static_motion())
    assert rhythm.is_static and rhythm.tempo_bpm is None
    assert rhythm.binary.sum() == 0 and rhythm.beat_times.size == 0 and rhythm.onset_times.size == 0
    assert not np.isnan(rhythm.envelope).any()
    assert extract_rhythm(static_motion(), mode="compat").is_static


def test_tiny_motions():
    two = extract_rhythm(Motion(keypoints=np.zeros((2, 1, 2)), fps=30))
    assert two.binary.size == 1 and two.is_static
    one_joint = Motion(keypoints=np.cumsum(np.random.default_rng(1).normal(size=(90, 1, 2)), 0), fps=30)
    assert extract_rhythm(one_joint).envelope.shape == (177,)


def test_resample_is_exact_at_source_frames_and_smooth_between():
    kp = np.random.default_rng(0).normal(size=(31, 4, 2))
    out, w = resample(kp, np.ones((31, 4)), 30.0)
    np.testing.assert_allclose(out[::2], kp)
    # Catmull-Rom halfway between frames 1 and 2: (-p0 + 9 p1 + 9 p2 - p3) / 16.
    np.testing.assert_allclose(out[3], (-kp[0] + 9 * kp[1] + 9 * kp[2] - kp[3]) / 16)
    # The onset sequence's linear resampling: the mean of the two frames.
    linear, _ = resample(kp, np.ones((31, 4)), 30.0, catmull_rom=False)
    np.testing.assert_allclose(linear[::2], kp)
    np.testing.assert_allclose(linear[1::2], (kp[:-1] + kp[1:]) / 2)
    # A straight, steady path stays exactly that (the ends are extended linearly).
    line = np.linspace(0.0, 1.0, 20)[:, None, None] * np.ones((1, 3, 2))
    out, _ = resample(line, np.ones((20, 3)), 24.0)
    np.testing.assert_allclose(out[:, 0, 0], np.arange(out.shape[0]) / RHYTHM_FPS * 24.0 / 19.0, atol=1e-12)


def test_resample_keeps_an_untracked_frame_local():
    """Segments with an untrusted control frame stay linear: frame 10's garbage coordinates move
    only the samples between frames 9 and 11, as with linear interpolation."""
    kp = np.zeros((21, 1, 2))
    weights = np.ones((21, 1))
    kp[10], weights[10] = 1000.0, 0.0
    out, out_w = resample(kp, weights, 30.0)
    moved = np.flatnonzero(np.abs(out[:, 0, 0]) > 0)
    np.testing.assert_array_equal(moved, [19, 20, 21])
    assert out_w[20, 0] == 0.0 and out_w[19, 0] == out_w[21, 0] == 0.5


@pytest.mark.parametrize("fps", [24.0, 25.0, 30.0])
def test_no_tempo_from_the_frame_rate(fps):
    """A linear interpolant bends only at the source frames, so the directogram's acceleration
    had a pulse train on a repeating pattern of 60 Hz samples. With it, the 116 BPM dances here
    read 120 BPM at 24 fps (720/6: 3 of 20) and at 30 fps (1800/15: 4 of 20)."""
    wrong = []
    for bpm in (84, 96, 104, 116, 128):
        for genre in ("HO", "KR", "JB", "BR"):
            motion = synthetic_dance(beat_times(20.0, bpm), 20.0, fps=fps, genre=genre, seed=bpm)
            keypoints, weights = resample(motion.keypoints, motion.weights(), motion.fps)
            direct = envelope_from_directogram(directogram(keypoints, weights))
            tempo = coarse_tempo([tempo_cues(keypoints, weights, motion.names, direct)[0][1]], RHYTHM_FPS)
            if min(abs(tempo * f / bpm - 1) for f in (0.5, 1, 2)) > 0.02:
                wrong.append((genre, bpm, round(tempo, 1)))
    assert not wrong


@settings(max_examples=40, deadline=None)
@given(frames=st.integers(2, 400), joints=st.integers(1, 30), fps=st.sampled_from([12.0, 24.0, 30.0, 60.0, 100.0]),
       seed=st.integers(0, 1000), mode=st.sampled_from(["default", "compat"]))
def test_rhythm_invariants(frames, joints, fps, seed, mode):
    kp = np.random.default_rng(seed).normal(0, 100, (frames, joints, 2))
    rhythm = extract_rhythm(Motion(keypoints=kp, fps=fps), mode=mode)
    n = rhythm.envelope.size
    assert rhythm.binary.size == n and np.isfinite(rhythm.envelope).all()
    assert (rhythm.envelope >= 0).all() and (rhythm.envelope <= 1).all()
    assert np.all(np.diff(rhythm.beat_times) > 0)
    assert np.all((rhythm.beat_times >= 0) & (rhythm.beat_times <= rhythm.duration))
    np.testing.assert_allclose(rhythm.onset_times, (np.flatnonzero(rhythm.binary) + 1) / 60)
    # Scale invariance: only relative motion matters.
    scaled = extract_rhythm(Motion(keypoints=kp * 7.5 + 300, fps=fps), mode=mode)
    np.testing.assert_array_equal(scaled.binary, rhythm.binary)


@pytest.mark.realdata
def test_real_dances_at_film_frame_rates_get_no_tempo_from_the_frame_rate(real_data):
    """The 24 real AIST++ clips as a 24 fps capture would have them (``at_frame_rate``): with a
    linear resampler the directogram cue's tempo sat on a subharmonic of the 12 Hz sample pattern
    (720/k BPM) in 20 of 24; now in 3, by chance: the hips' bounce, a
    position that no resampler gives this pattern, sits on one in 5 (these tempi lie
    every 6-12 % across the dance range)."""
    from motionscore.server.data.real_clips import at_frame_rate, load_real_clips

    artefacts = [720.0 / k for k in range(3, 19)]
    on_artefact = []
    for clip in load_real_clips(real_data):
        if clip.kind == "paired":
            continue
        film = at_frame_rate(clip, 24.0).motion
        keypoints, weights = resample(film.keypoints, film.weights(), film.fps)
        direct = envelope_from_directogram(directogram(keypoints, weights))
        tempo = coarse_tempo([tempo_cues(keypoints, weights, film.names, direct)[0][1]], RHYTHM_FPS)
        if min(abs(tempo / a - 1) for a in artefacts) < 0.003:
            on_artefact.append((clip.name, round(tempo, 1)))
    assert len(on_artefact) <= 6, on_artefact


@pytest.mark.realdata
def test_real_aist_dances_tempo(real_data):
    """The tempo map's tempo against the tempo of each dance's music (x2 and x1/2 allowed)."""
    hits, report = 0, []
    for path in sorted((real_data / "aistpp2d").glob("*.npz")):
        motion = load_motion(path)
        rhythm = extract_rhythm(motion)
        bpm = motion.extras["music_bpm"]
        error = min(abs(rhythm.tempo_bpm * f / bpm - 1) for f in (0.5, 1, 2))
        hits += error <= 0.05
        report.append((path.name, bpm, round(rhythm.tempo_bpm, 1)))
    # Measured: 6 of 6 within 5 % with the tempo map (108.8/110, 115.0/115, 80.2/80, 90.0/90,
    # 80.1/80, 90.3/90); the kinematic beat tracker alone found 4 of 6.
    assert hits == 6, report
