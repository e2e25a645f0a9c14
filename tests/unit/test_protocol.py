import msgpack
import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from motionscore.shared import limits
from motionscore.shared import protocol as P
from motionscore.shared.motion import Motion
from motionscore.shared.options import OptionsError, ScoreOptions


def motion(frames=20, joints=17):
    return Motion(keypoints=np.random.default_rng(0).normal(size=(frames, joints, 2)), fps=30.0,
                  confidence=np.ones((frames, joints)), genre="PO")


def test_score_request_roundtrip():
    m, o = motion(), ScoreOptions(genre="house", prompt="on a piano", seed=7)
    decoded = P.decode(P.encode(P.score_request("job-1", m, o)))
    assert decoded["v"] == P.PROTOCOL_VERSION and decoded["type"] == P.SCORE and decoded["id"] == "job-1"
    back = P.motion_from_wire(decoded["motion"])
    np.testing.assert_array_equal(back.keypoints, m.keypoints)
    assert back.genre == "PO" and P.options_from_wire(decoded["options"]) == o


@settings(max_examples=50, deadline=None)
@given(shape=st.lists(st.integers(0, 6), min_size=0, max_size=3),
       dtype=st.sampled_from([np.float32, np.float64, np.int16, np.int32, np.uint8]))
def test_arrays_roundtrip(shape, dtype):
    arr = (np.arange(int(np.prod(shape)) if shape else 1) % 100).astype(dtype).reshape(tuple(shape))
    wire = msgpack.unpackb(msgpack.packb(P.encode_array(arr)))
    back = P.decode_array(wire, "a", 10_000)
    assert back.dtype == arr.dtype and back.shape == arr.shape and np.array_equal(back, arr)


@pytest.mark.parametrize("raw, code", [
    (b"\xc1garbage", P.E_BAD_MESSAGE),
    (msgpack.packb([1, 2, 3]), P.E_BAD_MESSAGE),
    (msgpack.packb({"type": "ping"}), P.E_UNSUPPORTED_VERSION),
    (msgpack.packb({"v": 99, "type": "ping"}), P.E_UNSUPPORTED_VERSION),
    (msgpack.packb({"v": 1}), P.E_BAD_MESSAGE),
    (msgpack.packb({"v": 1, "type": "ping", "id": 5}), P.E_BAD_MESSAGE),
    (msgpack.packb({"v": 1, "type": "ping", "id": "x" * 65}), P.E_BAD_MESSAGE),
    (msgpack.packb({1: 2}), P.E_BAD_MESSAGE),
    (msgpack.packb(msgpack.ExtType(1, b"x")), P.E_BAD_MESSAGE),
])
def test_malformed_messages(raw, code):
    with pytest.raises(P.ProtocolError) as err:
        P.decode(raw)
    assert err.value.code == code


def test_size_limit_checked_first():
    with pytest.raises(P.ProtocolError) as err:
        P.decode(b"\x00" * 101, max_bytes=100)
    assert err.value.code == P.E_TOO_LARGE


@pytest.mark.parametrize("wire, fragment", [
    ({"dtype": "|O", "shape": [1], "data": b"x"}, "not allowed"),
    ({"dtype": "<f4", "shape": [2], "data": b"\x00" * 4}, "needs 8"),
    ({"dtype": "<f4", "shape": [-1], "data": b""}, "non-negative"),
    ({"dtype": "<f4", "shape": [10 ** 9], "data": b""}, "exceed the limit"),
    ({"dtype": "<f4", "shape": [1]}, "exactly dtype"),
])
def test_bad_arrays(wire, fragment):
    with pytest.raises(P.ProtocolError, match=fragment):
        P.decode_array(wire, "keypoints", 1_000_000)


def test_bad_motions_get_bad_motion():
    good = P.motion_to_wire(motion())
    cases = [
        {**good, "fps": -1.0},
        {**good, "fps": "30"},
        {**good, "keypoints": P.encode_array(np.full((10, 17, 2), np.nan, np.float32))},
        {**good, "keypoints": P.encode_array(np.zeros((1, 17, 2), np.float32)), "confidence": None},
        {**good, "evil": 1},
        {"fps": 30.0},
        "not a map",
    ]
    for wire in cases:
        with pytest.raises(P.ProtocolError) as err:
            P.motion_from_wire(wire)
        assert err.value.code == P.E_BAD_MOTION


def test_options_validation():
    with pytest.raises(OptionsError, match="valid genres"):
        ScoreOptions(genre="polka")
    for bad in [dict(seed=-1), dict(seed=2 ** 32), dict(seed=True), dict(sample_rate=100), dict(guidance=float("nan")),
                dict(prompt="x" * (limits.MAX_PROMPT_CHARS + 1)), dict(rhythm_mode="x"), dict(negative_motion="yes")]:
        with pytest.raises(OptionsError):
            ScoreOptions(**bad)
    with pytest.raises(P.ProtocolError, match="unknown option"):
        P.options_from_wire({"sede": 3})
