"""The built-in engine (shared/builtin.py): the server's synth take, bit for bit, behind the
client's verbs, with what it cannot do said in one line."""

import time

import numpy as np
import pytest

from motionscore.server.generation.backbones import load_backbone
from motionscore.server.generation.pipeline import score_motion
from motionscore.shared.synthetic_dance import beat_times, static_motion, synthetic_dance
from motionscore.shared.builtin import NOT_MEASURED, BuiltinEngine, score_builtin, take_parts
from motionscore.shared.client import JobResult
from motionscore.shared.synth.arrangement import PARTS
from motionscore.shared.client import ServerError
from motionscore.shared.options import ScoreOptions

SR = 22050


@pytest.fixture(scope="module")
def dance():
    return synthetic_dance(beat_times(12.0, 112), 12.0, genre="HO", seed=4)


@pytest.mark.parametrize("options", [
    ScoreOptions(seed=3, sample_rate=SR),
    ScoreOptions(seed=9, sample_rate=SR, genre="WZ", hits=(2.5, 7.0)),
    ScoreOptions(seed=1, sample_rate=48_000, tempo_bpm=97.0, meter=3, prompt="with congas"),
    ScoreOptions(seed=2, sample_rate=SR, genre="tango", negative_motion=True),
])
def test_a_builtin_take_is_the_servers_synth_take(dance, options):
    built_in = score_builtin(dance, options)
    server = score_motion(dance, options, load_backbone("synth"))
    assert built_in.audio.dtype == np.float32 and np.array_equal(built_in.audio, server.audio.astype(np.float32))
    assert built_in.audio.shape == (int(round(dance.duration * options.sample_rate)),)
    meta, reference = built_in.metadata, server.metadata
    # Everything but what only the server measures or knows is the same record.
    for key in set(reference) - {"metrics", "server_version", "compute_s"}:
        expected = reference[key]
        if key == "notes":
            expected = expected + [NOT_MEASURED]
        assert meta[key] == expected, key
    assert meta["engine"] == "built-in" and meta["metrics"] is None and meta["beat_lock"] is False


def test_a_static_motion_and_a_beat_lock_request_are_said(dance):
    still = score_builtin(static_motion(96, 24.0), ScoreOptions(sample_rate=SR))
    assert any("does not move" in n for n in still.metadata["notes"]) and still.audio.shape == (4 * SR,)
    locked = score_builtin(dance, ScoreOptions(sample_rate=SR, beat_lock=True))
    assert any(n.startswith("beat lock needs a server") for n in locked.metadata["notes"])


@pytest.mark.parametrize("options, code, words", [
    (ScoreOptions(backbone="musicgen"), "wrong_backbone", "backbone musicgen needs a motionscore server"),
    (ScoreOptions(channels="stereo"), "bad_options", "the built-in synth makes mono audio"),
    (ScoreOptions(hits=(30.0,)), "bad_options", "outside the motion"),
])
def test_requests_it_cannot_make_are_refused_in_one_line(dance, options, code, words):
    with pytest.raises(ServerError) as caught:
        score_builtin(dance, options)
    assert caught.value.code == code and words in caught.value.message and "\n" not in caught.value.message


def test_the_engine_speaks_the_clients_verbs(dance):
    with BuiltinEngine() as engine:
        first = engine.submit(dance, ScoreOptions(seed=1, sample_rate=SR))
        refused = engine.submit(dance, ScoreOptions(backbone="riffusion"))
        deadline = time.monotonic() + 60
        while not all(s.done for s in engine.jobs.values()) and time.monotonic() < deadline:
            engine.poll(0.0)
            time.sleep(0.01)
        state = engine.jobs[first]
        assert state.result is not None and state.fraction == 1.0 and state.error is None
        assert np.array_equal(state.result.audio, score_builtin(dance, ScoreOptions(seed=1, sample_rate=SR)).audio)
        assert engine.jobs[refused].error.code == "wrong_backbone"
        seen = []
        result = engine.score(dance, ScoreOptions(seed=1, sample_rate=SR), on_progress=lambda f, s: seen.append(f))
        assert np.array_equal(result.audio, state.result.audio) and seen[0] == 0.0 and seen[-1] == 1.0
        assert seen == sorted(seen) and any(0.05 < f < 0.9 for f in seen)


def test_cancel_stops_a_take_between_beats():
    long = synthetic_dance(beat_times(240.0, 100), 240.0, genre="PO", seed=1)
    engine = BuiltinEngine()
    job = engine.submit(long, ScoreOptions(sample_rate=48_000))
    queued = engine.submit(long, ScoreOptions(sample_rate=48_000, seed=1))
    deadline = time.monotonic() + 60
    while engine.jobs[job].fraction <= 0.1 and time.monotonic() < deadline:
        time.sleep(0.005)
    engine.cancel(job)
    engine.close()  # the queued job too
    while not (engine.jobs[job].done and engine.jobs[queued].done) and time.monotonic() < deadline:
        time.sleep(0.01)
    for job_id in (job, queued):
        state = engine.jobs[job_id]
        assert state.result is None and state.error.code == "cancelled"


def test_a_synth_takes_parts_are_rendered_again_and_checked_against_it(dance):
    """take_parts gives the parts of exactly this take (they sum to it), and nothing for a take that
    has no parts or that the render does not reproduce."""
    options = ScoreOptions(seed=5, sample_rate=SR, genre="WZ", hits=(3.0,))
    take = score_builtin(dance, options)
    parts = take_parts(take, options, dance)
    assert tuple(parts.stems) == PARTS and set(parts.events) == set(PARTS)
    assert all(stem.shape == take.audio.shape and stem.dtype == np.float32 for stem in parts.stems.values())
    assert np.max(np.abs(np.sum(list(parts.stems.values()), axis=0) - take.audio)) < 1e-5
    assert all(parts.events[part] for part in PARTS)
    meta = take.metadata
    for other in (JobResult(take.audio, SR, {**meta, "backbone": "musicgen"}),
                  JobResult(take.audio, SR, {**meta, "beat_lock": True}),
                  JobResult(np.stack([take.audio, take.audio], axis=1), SR, meta),
                  JobResult(np.nextafter(take.audio, 1.0), SR, meta)):
        assert take_parts(other, options, dance) is None
    assert take_parts(take, ScoreOptions(seed=6, sample_rate=SR, genre="WZ", hits=(3.0,)), dance) is None
