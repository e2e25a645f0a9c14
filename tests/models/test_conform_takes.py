"""Beat lock is conforming, on a tiny MusicGen take rendered off the map's tempo."""

import pytest

pytest.importorskip("audiocraft")

SR = 22050


def test_a_tiny_musicgen_take_off_tempo_comes_closer_to_the_map():
    from motionscore.server.analysis.metrics import beat_scores, track_music_beats
    from motionscore.server.generation.backbones import GenerationRequest, load_backbone
    from motionscore.server.generation.beatlock import beat_lock
    from motionscore.shared.rhythm import extract_rhythm
    from motionscore.shared.synthetic_dance import beat_times, synthetic_dance

    musicgen = load_backbone("musicgen", model="tiny", device="cpu")
    target = extract_rhythm(synthetic_dance(beat_times(10.0, 120), 10.0, seed=5)).beat_times
    wrong = extract_rhythm(synthetic_dance(beat_times(10.0, 120 * 0.85), 10.0, seed=5))
    take = musicgen.generate(GenerationRequest(rhythm=wrong, duration=10.0, sample_rate=SR, seed=1)).audio
    locked = beat_lock(take, SR, target)
    before = beat_scores(track_music_beats(take, SR)[1], target, 0.07).f1
    after = beat_scores(track_music_beats(locked.audio, SR)[1], target, 0.07).f1
    assert locked.audio.shape == take.shape and (locked.anchors == 0 or after > before)
    assert after >= before
