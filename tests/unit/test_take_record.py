"""The take's typed record (shared/take_record.py): the wire form round-trips, unknown keys survive,
a record missing what it must have is one line."""

import json

import pytest

from motionscore.shared.builtin import score_builtin
from motionscore.shared.options import ScoreOptions
from motionscore.shared.synthetic_dance import beat_times, synthetic_dance
from motionscore.shared.take_record import OPTIONAL_KEYS, TakeMetrics, TakeRecord, TakeRecordError


@pytest.fixture(scope="module")
def built_in_take():
    motion = synthetic_dance(beat_times(8.0, 110), 8.0, genre="PO", seed=1)
    return score_builtin(motion, ScoreOptions(seed=2, sample_rate=16_000))


def test_a_built_in_takes_record_reads_and_writes_back_the_same_wire_form(built_in_take):
    wire = built_in_take.metadata
    take = TakeRecord.from_wire(wire)
    assert take.built_in and take.metrics is None and take.alignment is None
    assert take.backbone == "synth" and take.sample_rate == 16_000 and take.num_samples == 8 * 16_000
    assert take.map_summary.startswith("110 BPM") and take.map_summary == wire["tempo_map"]["summary"]
    assert set(take.extra) == {"version", "compute_s"}  # what the record does not type is kept as is
    assert take.to_wire() == wire
    assert TakeRecord.from_wire(json.loads(json.dumps(wire))) == take  # through JSON (the batch job's line)


def test_metrics_and_optional_keys_round_trip():
    metrics = TakeMetrics(music_tempo_bpm=120.0, motion_tempo_bpm=None, tempo_difference_bpm=None, music_beats=3,
                          kinematic_beats=0, music_beats_s=[0.5, 1.0, 1.5], alignment=None, bcs=0.0, bhs=0.0, f1=0.0,
                          tolerance_s=0.2)
    take = TakeRecord(duration_s=2.0, num_samples=64_000, sample_rate=32_000, channels=2, frames=48, fps=24.0,
                      genre=None, prompt="brass", seed=4, backbone="stableaudio", model_id="tiny",
                      rhythm_mode="default", negative_motion=True, beat_lock=True, kinematic_beats_s=[], beats_s=[],
                      tempo_map=None, metrics=metrics, notes=["n"], backbone_info={"steps": 8}, engine="ray",
                      replica="r1", extra={"batch_size": 2})
    wire = take.to_wire()
    assert wire["metrics"]["music_beats_s"] == [0.5, 1.0, 1.5] and wire["batch_size"] == 2 and wire["replica"] == "r1"
    assert TakeRecord.from_wire(wire) == take and take.map_summary == "" and not take.built_in
    plain = TakeRecord(**{**take.__dict__, "engine": None, "replica": None, "extra": {}}).to_wire()
    assert not set(OPTIONAL_KEYS) & set(plain)  # optional keys appear only when set


@pytest.mark.parametrize("wire, words", [
    ({"tempo_map": {}, "metrics": None}, "the take's record has no backbone"),
    ([1, 2], "a take record is a dict, not list"),
])
def test_what_is_not_a_takes_record_is_one_line(built_in_take, wire, words):
    with pytest.raises(TakeRecordError, match=words):
        TakeRecord.from_wire(wire)


def test_metrics_missing_a_key_are_refused(built_in_take):
    wire = dict(built_in_take.metadata, metrics={"f1": 1.0})
    with pytest.raises(TakeRecordError, match="take metrics"):
        TakeRecord.from_wire(wire)
