import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from motionscore.shared import limits
from motionscore.shared.genres import (BALLROOM, GENRE_CODES, GENRE_METER, GENRE_NAMES, GENRE_TEMPO_RANGE,
                                      UnknownGenreError, parse_genre, tempo_note)
from motionscore.shared.motion import COCO17, Motion, MotionError, load_motion, save_motion


def make(frames=30, joints=17, fps=30.0, **kw):
    return Motion(keypoints=np.random.default_rng(0).normal(500, 50, (frames, joints, 2)), fps=fps, **kw)


def test_roundtrip(tmp_path):
    m = make(confidence=np.full((30, 17), 0.5), joint_names=COCO17, frame_size=(1920, 1080), genre="house")
    save_motion(m, tmp_path / "m.npz")
    back = load_motion(tmp_path / "m.npz")
    np.testing.assert_array_equal(back.keypoints, m.keypoints)
    np.testing.assert_array_equal(back.confidence, m.confidence)
    assert back.fps == 30.0 and back.joint_names == COCO17 and back.frame_size == (1920, 1080)
    assert back.genre == "HO" and back.duration == 1.0


def test_defaults_to_coco_names():
    assert make().names == COCO17
    assert make(joints=3).names == ("joint_0", "joint_1", "joint_2")


@pytest.mark.parametrize("bad, message", [
    (dict(keypoints=np.full((10, 17, 2), np.nan)), "NaN"),
    (dict(keypoints=np.full((10, 17, 2), np.inf)), "NaN or infinite"),
    (dict(keypoints=np.zeros((10, 17, 3))), "shape"),
    (dict(keypoints=np.zeros((10, 17))), "shape"),
    (dict(keypoints=np.zeros((0, 17, 2))), "at least 2 frames"),
    (dict(keypoints=np.zeros((1, 17, 2))), "at least 2 frames"),
    (dict(fps=0), "fps"),
    (dict(fps=-30), "fps"),
    (dict(fps=1e6), "fps"),
    (dict(fps=float("nan")), "fps"),
    (dict(keypoints=np.zeros((10, limits.MAX_JOINTS + 1, 2))), "too many joints"),
    (dict(keypoints=np.zeros((10, 17, 2)), genre="polka"), "valid genres"),
    (dict(keypoints=np.zeros((10, 17, 2)), confidence=np.ones((10, 16))), "confidence"),
    (dict(keypoints=np.zeros((10, 17, 2)), confidence=np.full((10, 17), 2.0)), "confidence"),
    (dict(keypoints=np.zeros((10, 17, 2)), joint_names=("a",)), "joint names"),
])
def test_invalid_motions_are_refused(bad, message):
    kw = dict(keypoints=np.zeros((10, 17, 2)), fps=30.0)
    kw.update(bad)
    with pytest.raises(MotionError, match=message):
        Motion(**kw)


def test_too_many_frames_and_too_long():
    with pytest.raises(MotionError, match="too many frames"):
        Motion(keypoints=np.zeros((limits.MAX_FRAMES + 1, 1, 2), np.float32), fps=1000)
    with pytest.raises(MotionError, match="too long"):
        Motion(keypoints=np.zeros((int(limits.MAX_DURATION_S) + 10, 1, 2), np.float32), fps=1)


def test_corrupt_and_wrong_files(tmp_path):
    (tmp_path / "junk.npz").write_bytes(b"not a zip at all")
    with pytest.raises(MotionError, match="not a readable motion"):
        load_motion(tmp_path / "junk.npz")
    with pytest.raises(MotionError, match="no such file"):
        load_motion(tmp_path / "missing.npz")
    np.savez(tmp_path / "nokp.npz", fps=30.0)
    with pytest.raises(MotionError, match="no 'keypoints'"):
        load_motion(tmp_path / "nokp.npz")
    np.savez(tmp_path / "obj.npz", keypoints=np.array([object()], dtype=object), fps=30.0)
    with pytest.raises(MotionError):
        load_motion(tmp_path / "obj.npz")


def test_genre_parsing():
    assert parse_genre("gBR") == "BR" and parse_genre("LA-style Hip-hop") == "LH"
    assert parse_genre("auto") is None and parse_genre(None) is None
    assert [parse_genre(c) for c in GENRE_CODES] == list(GENRE_CODES)
    with pytest.raises(UnknownGenreError, match="Waack.*Waltz"):
        parse_genre("polka")


def test_ballroom_dances_are_genres_with_a_tempo_range_and_meter():
    assert [parse_genre(t) for t in ("waltz", "Cha-Cha-Cha", "cha-cha", "Viennese Waltz", "paso doble", "TG")] == \
        ["WZ", "CC", "CC", "VW", "PD", "TG"]
    assert not set(GENRE_CODES) & {code for code, *_ in BALLROOM}  # the encoder's vocabulary stays AIST++
    for code, name, (lo, hi), meter in BALLROOM:
        assert GENRE_NAMES[code] == name and GENRE_TEMPO_RANGE[code] == (lo, hi) and 80 <= lo < hi <= 210
        assert GENRE_METER[code] == meter
    assert {code for code, meter in GENRE_METER.items() if meter == 3} == {"VW", "WZ"}
    assert not set(GENRE_METER) & set(GENRE_CODES)  # AIST++: the motion decides


def test_a_tempo_that_does_not_suit_the_genre_named_is_said():
    assert tempo_note("TG", 97.63) == "98 BPM is slow for Tango (124-132 BPM)"
    assert tempo_note("BR", 60.0) == "60 BPM is slow for Break (80-130 BPM); x2 is 120 BPM"
    assert tempo_note("WZ", 175.0) == "175 BPM is fast for Waltz (84-90 BPM); x1/2 is 88 BPM"
    # Inside the range, or within its 5 % slack, or with no genre or tempo: nothing to say.
    assert tempo_note("TG", 128.0) == tempo_note("RB", 98.26) == tempo_note("TG", 132.0 * 1.049) == ""
    assert tempo_note(None, 97.0) == tempo_note("TG", None) == tempo_note("TG", 0.0) == ""
    assert tempo_note("TG", 132.0 * 1.051).startswith("139 BPM is fast for Tango")


@settings(max_examples=30, deadline=None)
@given(frames=st.integers(2, 200), joints=st.integers(1, 40), fps=st.floats(1, 240))
def test_any_valid_shape_roundtrips(tmp_path_factory, frames, joints, fps):
    m = make(frames=frames, joints=joints, fps=fps)
    path = tmp_path_factory.mktemp("m") / "m.npz"
    save_motion(m, path)
    back = load_motion(path)
    assert back.keypoints.shape == (frames, joints, 2) and back.fps == pytest.approx(fps)


def test_frames_cuts_a_part_of_the_motion_with_its_confidence():
    kp = np.arange(10 * 17 * 2, dtype=np.float32).reshape(10, 17, 2)
    conf = np.linspace(0, 1, 170, dtype=np.float32).reshape(10, 17)
    m = Motion(kp, 30.0, conf, genre="HO", frame_size=(640, 480))
    part = m.frames(3, 7)
    assert part.num_frames == 4 and part.duration == pytest.approx(4 / 30)
    assert np.array_equal(part.keypoints, kp[3:7]) and np.array_equal(part.confidence, conf[3:7])
    assert part.genre == "HO" and part.frame_size == (640, 480) and part.fps == 30.0
    part.keypoints[0, 0, 0] = -1.0  # a copy: the original is untouched
    assert m.keypoints[3, 0, 0] == kp[3, 0, 0]
