import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from motionscore.server.generation.backbones import GenerationRequest, UnknownBackboneError, load_backbone
from motionscore.server.generation.backbones.base import Cancelled
from motionscore.shared.synth.arrangement import beat_grid, choose_genre
from motionscore.server.analysis.metrics import beat_scores, track_music_beats
from motionscore.shared.synthetic_dance import beat_times, static_motion, synthetic_dance
from motionscore.shared.synth.styles import STYLES
from motionscore.shared.genres import BALLROOM, GENRE_CODES, GENRE_METER, GENRE_NAMES, GENRE_TEMPO_RANGE
from motionscore.shared.rhythm import extract_rhythm

SR = 22050


def generate(motion, genre=None, seed=0, sr=SR, progress=None):
    request = GenerationRequest(rhythm=extract_rhythm(motion), duration=motion.duration, sample_rate=sr,
                                genre=genre, seed=seed)
    backbone = load_backbone("synth")
    return backbone.generate(request, progress) if progress else backbone.generate(request)


@pytest.mark.slow
@pytest.mark.parametrize("genre", GENRE_CODES)
@pytest.mark.parametrize("bpm", [80, 100, 120, 140, 160])
def test_music_beats_follow_the_motion(genre, bpm):
    accents = beat_times(20.0, bpm)
    motion = synthetic_dance(accents, 20.0, genre=genre, seed=3)
    out = generate(motion, genre=genre, seed=1)
    _, music_beats = track_music_beats(out.audio, out.sample_rate)
    # The music is on the tempo map; the map is at the accents' tempo inside the genre's usual
    # range, else at its half or double (see test_rhythm): then the coarser of music and accents
    # still lies on the finer (every music beat on an accent, or every accent on a music beat).
    map_beats = extract_rhythm(motion).beat_times
    assert beat_scores(music_beats, map_beats, 0.2).f1 >= 0.8
    scores = beat_scores(music_beats, accents, 0.2)
    ratio = map_beats.size / accents.size
    assert (scores.f1 if abs(ratio - 1) < 0.1 else scores.bhs if ratio > 1 else scores.bcs) >= 0.8


def test_follows_a_tempo_change():
    accents = beat_times(30.0, [(0, 95), (15, 135)])
    out = generate(synthetic_dance(accents, 30.0, genre="PO", seed=5), genre="PO")
    _, music_beats = track_music_beats(out.audio, out.sample_rate)
    assert beat_scores(music_beats, accents, 0.2).f1 >= 0.8


@pytest.mark.parametrize("sr", [22050, 44100, 48000])
@pytest.mark.parametrize("frames, fps", [(241, 24.0), (300, 29.97), (77, 30.0), (2, 30.0)])
def test_exact_length(sr, frames, fps):
    motion = synthetic_dance(beat_times(frames / fps, 120), frames / fps, fps=fps)
    assert motion.num_frames == frames
    out = generate(motion, sr=sr)
    assert out.audio.shape == (round(frames / fps * sr),) and out.audio.dtype == np.float32
    assert np.abs(out.audio).max() <= 1.0


def test_deterministic_for_a_seed_and_varied_across_seeds():
    motion = synthetic_dance(beat_times(6, 110), 6, genre="HO")
    a, b, c = generate(motion, seed=4), generate(motion, seed=4), generate(motion, seed=5)
    np.testing.assert_array_equal(a.audio, b.audio)
    assert not np.array_equal(a.audio, c.audio)


def test_genres_sound_different():
    motion = synthetic_dance(beat_times(6, 110), 6)
    takes = {g: generate(motion, genre=g, seed=0).audio for g in GENRE_NAMES}
    assert set(takes) == set(STYLES)  # every genre a user may name has a synth style
    for g in takes:
        for h in takes:
            if g < h:
                assert not np.allclose(takes[g], takes[h], atol=1e-3), (g, h)


@pytest.mark.parametrize("code", [code for code, *_ in BALLROOM])
def test_a_ballroom_dance_is_played_on_the_map_in_its_meter(code):
    """Named, a ballroom dance gets music at its tempo (the dance's range picks the octave), in its
    meter (3/4 for the waltzes), in its style, on the map's beats."""
    low, high = GENRE_TEMPO_RANGE[code]
    bpm = (low + high) / 2
    motion = synthetic_dance(beat_times(12.0, bpm), 12.0, seed=2)
    rhythm = extract_rhythm(motion, genre=code)
    assert rhythm.tempo_bpm == pytest.approx(bpm, rel=0.01) and rhythm.tempo_map.meter == GENRE_METER.get(code, 4)
    out = load_backbone("synth").generate(GenerationRequest(rhythm=rhythm, duration=motion.duration, sample_rate=SR,
                                                            genre=code, seed=0))
    assert out.genre == code
    _, music_beats = track_music_beats(out.audio, out.sample_rate)
    scores = beat_scores(music_beats, rhythm.beat_times, 0.2)
    # librosa may hear the fastest dances (quickstep, jive, Viennese waltz) in half time: then
    # every beat it hears is still one of the map's.
    assert max(scores.f1, scores.bcs if bpm > 160 else 0.0) >= 0.8, scores


def test_static_motion_gets_steady_music():
    out = generate(static_motion(frames=150), genre="HO")
    assert out.audio.shape == (round(5 * SR),) and np.abs(out.audio).max() > 0.1
    assert any("no kinematic beats" in note for note in out.notes)


def test_automatic_genre_is_reported():
    out = generate(synthetic_dance(beat_times(4, 122), 4), genre=None)
    assert out.genre in GENRE_CODES and any("automatically" in n for n in out.notes)
    assert choose_genre(122, 0) == "HO" and choose_genre(244, 0) == "HO"


def test_a_map_in_three_four_plays_as_a_waltz_when_no_genre_is_named():
    assert choose_genre(87, 0, meter=3) == "WZ" and choose_genre(177, 0, meter=3) == "VW"
    assert choose_genre(None, 5, meter=3) == "WZ" and choose_genre(87, 0, meter=4) != "WZ"
    motion = synthetic_dance(beat_times(8, 87), 8)
    rhythm = extract_rhythm(motion, meter=3)
    out = load_backbone("synth").generate(GenerationRequest(rhythm=rhythm, duration=motion.duration, sample_rate=SR))
    assert out.genre == "WZ" and "genre chosen automatically: Waltz" in out.notes


def test_beat_grid_extends_at_the_edges():
    grid, downbeat = beat_grid(np.array([1.0, 1.5, 2.0, 2.6]), 4.0, 120)
    assert grid[0] <= 0 and grid[-1] >= 4.0 and grid[downbeat] == 1.0
    np.testing.assert_allclose(np.diff(grid[:downbeat + 1]), 0.5)
    np.testing.assert_allclose(np.diff(grid[-3:]), 0.6)


def test_cancel_between_steps():
    def progress(fraction, stage):
        if fraction > 0.2:
            raise Cancelled("stop")
    with pytest.raises(Cancelled):
        generate(synthetic_dance(beat_times(20, 120), 20), progress=progress)


def test_unknown_backbone():
    with pytest.raises(UnknownBackboneError, match="synth"):
        load_backbone("nope")


@settings(max_examples=60, deadline=None)
@given(freq=st.floats(30.0, 4000.0), harmonics=st.integers(1, 40), sr=st.sampled_from([16000, 22050, 32000, 48000]))
def test_table_sawtooth_matches_the_additive_one(freq, harmonics, sr):
    """The wavetable sawtooth equals the sum of its partials (same count, below Nyquist) to 1e-3."""
    from motionscore.shared.synth.voices import _saw

    n = 4000
    t = np.arange(n) / sr
    k = np.arange(1, max(1, min(harmonics, int((sr / 2) / freq))) + 1)
    additive = (np.sin(2 * np.pi * freq * np.outer(t, k)) / k).sum(axis=1) * (2 / np.pi)
    assert np.abs(_saw(freq, n, sr, harmonics) - additive).max() < 1e-3


def test_bar_positions_follow_the_maps_downbeats_and_a_new_segments_bar():
    from motionscore.shared.synth.arrangement import bar_positions

    # Grid beat 2 is the map's beat 0; bars of 3 start at map beats 1, 4, 7 and, after a tempo
    # change, 9 (the previous bar cut short).
    bars, beats_in_bar = bar_positions(12, 2, np.array([1, 4, 7, 9]), 3)
    assert bars.tolist() == [-1, -1, -1, 0, 0, 0, 1, 1, 1, 2, 2, 3]
    assert beats_in_bar.tolist() == [0, 1, 2, 0, 1, 2, 0, 1, 2, 0, 1, 0]
    bars, beats_in_bar = bar_positions(6, 0, None, 4)  # no map: bars from the first beat
    assert bars.tolist() == [0, 0, 0, 0, 1, 1] and beats_in_bar.tolist() == [0, 1, 2, 3, 0, 1]


@pytest.mark.parametrize("genre", ["JB", "BR", "HO"])
def test_the_music_plays_the_maps_bars_in_three_four(genre, monkeypatch):
    """In 3/4 the bass sounds only in the first beat of each of the map's bars and the chords on
    its second and third beats ("oom-pah-pah"), from the map's downbeats on (a pickup before the
    first); the take records its meter."""
    from motionscore.shared.synth import arrangement as synth

    struck = []
    for name in ("bass", "chord"):
        make = getattr(synth.voices, name)

        def tagged(*args, _make=make, _name=name, **kwargs):
            note = _make(*args, **kwargs)
            struck.append((_name, note))
            return note
        monkeypatch.setattr(synth.voices, name, tagged)
    played = []
    add = synth._Mixer.add
    monkeypatch.setattr(synth._Mixer, "add", lambda self, t, note, gain, *rest: (played.append((t, note)),
                                                                           add(self, t, note, gain, *rest)))
    accents = beat_times(24.0, 100)
    rhythm = extract_rhythm(synthetic_dance(accents, 24.0, genre="JB", seed=2), meter=3)
    request = GenerationRequest(rhythm=rhythm, duration=24.0, sample_rate=SR, genre=genre, seed=0)
    out = load_backbone("synth").generate(request)
    assert out.info["meter"] == 3
    kinds = {id(note): name for name, note in struck}
    beats, downbeats = rhythm.tempo_map.beats, rhythm.tempo_map.downbeats
    inside = (beats >= beats[downbeats[0]]) & (beats < beats[downbeats[-1]])
    position = np.full(beats.size, -1)
    for offset in range(3):
        position[np.clip(downbeats + offset, 0, beats.size - 1)] = offset
    period = 60.0 / rhythm.tempo_bpm
    chords = np.array([t for t, note in played if kinds.get(id(note)) == "chord"])
    basses = np.array([t for t, note in played if kinds.get(id(note)) == "bass"])
    for t in chords[(chords >= beats[downbeats[0]]) & (chords < beats[downbeats[-1]])]:
        nearest = int(np.argmin(np.abs(beats - t)))
        assert abs(beats[nearest] - t) < 1e-3 and position[nearest] in (1, 2)
    for k in np.flatnonzero(inside & (position > 0)):
        assert np.min(np.abs(chords - beats[k])) < 1e-3  # every "pah" is there
    # Before the first downbeat a pickup of plain kicks and hats: no bass, no chords.
    assert not np.any(chords < beats[downbeats[0]] - 1e-3) and not np.any(basses < beats[downbeats[0]] - 1e-3)
    for t in basses[(basses >= beats[downbeats[0]]) & (basses < beats[downbeats[-1]])]:
        bar_start = beats[downbeats][np.searchsorted(beats[downbeats], t + 1e-6) - 1]
        assert t - bar_start < period - 1e-3  # within the bar's first beat


def test_synthetic_dancers_refuse_a_genre_they_cannot_dance():
    with pytest.raises(ValueError, match=r"AIST\+\+ genres only.*'waltz'"):
        synthetic_dance(beat_times(4, 100), 4, genre="waltz")
