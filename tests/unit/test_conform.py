"""Conforming songs (and takes) onto the tempo map: the time map, the render, bad input, the CLI."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from motionscore.server.conform.conform import conform_audio
from motionscore.server.conform.song import SongError, read_song
from motionscore.server.analysis.metrics import TRACKING_SR
from motionscore.server.conform.song_beats import HOP, TRACKER_LAG_S, SongBeats, regularise, rejoin_grid, track_song
from motionscore.server.conform.timemap import MIN_BEAT_GAP_S, ConformError, plan_conform
from motionscore.server.generation.beatlock import beats_map
from motionscore.shared.tempo_map import TempoMap, TempoSegment
from tests.kit.songs import CHORD_HZ, attacks, bridge_song, drum_song, write_song

SR = 22050


def steady_song(bpm: float, beats: int, meter: int = 4, jitter: float = 0.0, seed: int = 0) -> SongBeats:
    rng = np.random.default_rng(seed)
    times = 0.3 + np.arange(beats) * 60.0 / bpm + rng.uniform(-jitter, jitter, beats) * 60.0 / bpm
    return SongBeats(np.sort(times), np.arange(1, beats, meter), meter, bpm)


def map_of(beats: np.ndarray, duration: float, meter: int = 4, hits=()) -> TempoMap:
    return TempoMap(beats, np.arange(0, beats.size, meter), meter, (TempoSegment(0.0, duration, 100.0),),
                    np.asarray(hits, float), duration)


@settings(max_examples=80, deadline=None)
@given(song_bpm=st.floats(70, 150), ratio=st.floats(0.85, 1.15), change=st.floats(0.9, 1.1),
       first=st.floats(0.0, 0.6), jitter=st.floats(0.0, 0.03), hit_beats=st.sets(st.integers(2, 30), max_size=4),
       hit_offset=st.floats(-0.35, 0.35), seed=st.integers(0, 50))
def test_the_time_map_is_monotone_exact_and_catches_every_hit(song_bpm, ratio, change, first, jitter, hit_beats,
                                                             hit_offset, seed):
    map_period = 60.0 / (song_bpm / ratio)
    periods = np.where(np.arange(40) < 16, map_period, map_period * change)
    beats = first * map_period + np.r_[0.0, np.cumsum(periods[:-1])]
    duration = float(beats[-1] + 0.7 * periods[-1])
    hit_list = sorted(beats[k] + hit_offset * map_period for k in hit_beats if not any(
        abs(k - j) == 1 for j in hit_beats))  # no two hits on neighbouring beats
    song = steady_song(song_bpm, 200, jitter=jitter, seed=seed)
    plan = plan_conform(song, 200 * 60 / song_bpm + 1, beats, np.arange(0, 40, 4), duration, hits=hit_list,
                        force=True)
    outs = np.array([(s.out_start, s.out_end) for s in plan.segments])
    assert outs[0, 0] == 0.0 and outs[-1, 1] == pytest.approx(duration)
    np.testing.assert_allclose(outs[1:, 0], outs[:-1, 1])          # no gap, no overlap
    assert np.all(np.diff(outs[:, 0]) > 0)                           # the map's beats stay in order
    assert all(s.in_end > s.in_start for s in plan.segments)         # the song plays forwards
    assert np.all(np.diff(plan.beats) >= MIN_BEAT_GAP_S - 1e-9)
    for hit in hit_list:                                              # every hit has a beat on it
        assert np.min(np.abs(plan.beats - hit)) < 1e-9
    assert plan.hits_caught == len(hit_list)
    assert plan.octave == 1.0 and plan.ratio == pytest.approx(60 / song_bpm / np.median(np.diff(plan.beats)), rel=0.05)
    song_times = plan.to_output(song.beats)                           # the song's beats land on the map
    on_map = [np.min(np.abs(song_times - b)) for b in plan.beats[1:-1]]
    assert np.median(on_map) < 1e-6


def test_the_octave_is_chosen_for_the_least_stretch():
    song = steady_song(170, 300)
    beats = 0.2 + np.arange(30) * 60 / 88.0
    plan = plan_conform(song, 300 * 60 / 170 + 1, beats, np.arange(0, 30, 4), beats[-1] + 0.5)
    assert plan.octave == 2.0 and plan.ratio == pytest.approx(2 * 88 / 170, rel=0.01)


def test_a_stretch_beyond_the_bounds_needs_force():
    song = steady_song(100, 200)                      # 0.6 s beats under a 140 BPM map: x1.40 (x0.70 an octave down)
    beats = 0.2 + np.arange(30) * 60 / 140.0
    with pytest.raises(ConformError, match=r"x1\.40 its speed.*--force"):
        plan_conform(song, 130.0, beats, np.arange(0, 30, 4), beats[-1] + 0.5)
    assert plan_conform(song, 130.0, beats, np.arange(0, 30, 4), beats[-1] + 0.5, force=True).ratio > 1.33


def test_a_short_song_says_how_much_is_missing_and_loops_by_bars_on_request():
    song = steady_song(120, 20)                       # 10 s of song
    beats = 0.25 + np.arange(60) * 0.5                # a 30 s shot at the same tempo
    with pytest.raises(ConformError, match=r"too short for the shot.*--loop"):
        plan_conform(song, 10.5, beats, np.arange(0, 60, 4), 30.0)
    plan = plan_conform(song, 10.5, beats, np.arange(0, 60, 4), 30.0, loop=True)
    assert plan.loops >= 2 and plan.segments[-1].out_end == 30.0
    jumps = [b for a, b in zip(plan.segments, plan.segments[1:]) if abs(a.in_end - b.in_start) > 1e-9]
    song_down = set(np.round(song.beats[song.downbeats], 6))
    assert jumps and all(round(j.in_start, 6) in song_down for j in jumps)  # back to a bar's first beat


def test_regularise_restores_a_skipped_beat_and_drops_a_double():
    beats = np.r_[np.arange(10) * 0.5, 5.5, 5.52, np.arange(12, 20) * 0.5]   # 5.0 missing, 5.52 doubled
    fixed = regularise(beats)
    np.testing.assert_allclose(np.diff(fixed), 0.5, atol=0.03)


def tracker_beats(period: float, count: int, frame: float, jitter: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """(a steady grid of ``count`` beats, the same beats as a tracker reports them: on its frames
    of ``frame`` s, with up to ``jitter`` s of noise)."""
    rng = np.random.default_rng(seed)
    grid = 0.3 + period * np.arange(count)
    return grid, np.round((grid + rng.uniform(-jitter, jitter, count)) / frame) * frame


def kicks_at(times: np.ndarray) -> np.ndarray:
    """A low-frequency onset envelope at the tracker's frames with a kick at each of ``times`` (s)."""
    low = np.full(int(times.max() * TRACKING_SR / HOP) + 50, 0.1)
    low[np.round(times * TRACKING_SR / HOP).astype(int)] = 1.0
    return low


def on_grid(beats: np.ndarray, grid: np.ndarray, tolerance: float) -> bool:
    """Every grid beat has one of ``beats`` within ``tolerance`` s, and the counts agree."""
    return beats.size == grid.size and bool(np.all(np.min(np.abs(beats[:, None] - grid[None]), axis=0) <= tolerance))


@settings(max_examples=60, deadline=None)
@given(period=st.floats(0.3, 1.0), count=st.integers(60, 160), start=st.floats(0.15, 0.5),
       length=st.floats(0.15, 0.4), ramp=st.integers(1, 4), back=st.sampled_from([0.0, 1.0]),
       frame=st.sampled_from([0.0, 512 / 22050]), seed=st.integers(0, 99))
def test_a_passage_tracked_on_the_off_beat_is_put_back_on_the_grid(period, count, start, length, ramp, back, frame,
                                                                   seed):
    grid, beats = tracker_beats(period, count, frame or 1e-9, 0.005, seed)
    first = int(start * count)
    last = first + max(12, int(length * count))
    # The tracker moves half a beat late over `ramp` beats, and after the passage moves on by
    # another half (losing a beat, back == 1) or back (back == 0), as a DP tracker does.
    shift = np.zeros(count)
    shift[first:] = 0.5 * np.minimum(np.arange(count - first) + 1, ramp) / ramp
    shift[last:] += (back - 0.5) * np.minimum(np.arange(count - last) + 1, ramp) / ramp
    moved = beats + shift * period
    if back:  # a beat lost: past the passage each beat stands for the next grid beat; none past the end
        moved = moved[:-1]
    inside = (grid >= moved[0] - 0.03) & (grid <= moved[-1] + 0.03)
    assert on_grid(rejoin_grid(moved, kicks_at(grid)), grid[inside], 0.03)


@settings(max_examples=40, deadline=None)
@given(period=st.floats(0.3, 1.0), count=st.integers(40, 160), move=st.floats(0.3, 0.6), at=st.floats(0.2, 0.8),
       drift=st.floats(-0.08, 0.08), seed=st.integers(0, 99))
def test_a_single_move_or_a_drift_is_the_songs_own_timing_and_stays(period, count, move, at, drift, seed):
    # A played song slowing for a few beats, or drifting through the song, is never "corrected".
    grid, beats = tracker_beats(period, count, 1e-9, 0.005, seed)
    beats = beats + period * drift * np.linspace(0.0, 1.0, count) ** 2
    i = int(at * count)
    beats[i:] += period * move * np.minimum(np.arange(count - i) + 1, 4) / 4
    np.testing.assert_allclose(rejoin_grid(beats, kicks_at(beats)), beats)


@settings(max_examples=40, deadline=None)
@given(period=st.floats(0.3, 1.0), count=st.integers(60, 160), move=st.floats(0.35, 0.65), at=st.floats(0.2, 0.5),
       length=st.integers(12, 30), seed=st.integers(0, 99))
def test_rubato_that_catches_up_again_stays_where_the_kicks_are(period, count, move, at, length, seed):
    # A song that falls half a beat behind and catches up moves its phase like an off-beat
    # excursion, but its kicks stay on the tracked beats: nothing is moved.
    _, beats = tracker_beats(period, count, 1e-9, 0.005, seed)
    i = int(at * count)
    shift = np.zeros(count)
    shift[i:] = move * np.minimum(np.arange(count - i) + 1, 4) / 4
    shift[i + length:] -= move * np.minimum(np.arange(count - i - length) + 1, 4) / 4
    played = beats + period * shift
    np.testing.assert_allclose(rejoin_grid(played, kicks_at(played)), played)


def test_a_syncopated_bridge_keeps_the_song_on_its_beat():
    # Loud hi-hats on the off-beats for 20 s pull librosa's tracker onto them; the song's beats
    # must come back on the kicks, or the conform puts the off-beat on the map for that passage.
    audio, kicks = bridge_song(120.0, 60.0, SR, bridge=(20.0, 40.0), hat_gain=4.0)
    beats = track_song(audio, SR, 4, prior_bpm=120.0).beats + TRACKER_LAG_S
    inside = (kicks >= beats[0] - 0.05) & (kicks <= beats[-1] + 0.05)
    assert on_grid(beats, kicks[inside], 0.07)


def test_a_stereo_song_lands_on_the_map_exactly_with_its_pitch_and_channels():
    audio, _ = drum_song(120, 24.0, SR)
    duration = 15.0
    beats = 0.4 + np.arange(int(14.4 / 0.56)) * 0.56                  # 107 BPM: x1.12
    result = conform_audio(audio, SR, map_of(beats, duration), name="drums")
    assert result.audio.shape == (2, int(round(duration * SR)))
    assert result.plan.ratio == pytest.approx(0.5 / 0.56, rel=0.01)         # the song slowed down
    inside = beats[(beats > 0.5) & (beats < duration - 1.2)]
    error = np.abs(attacks(result.audio, SR, inside) - inside)
    assert not np.isnan(error).any()
    assert np.median(error) < 0.015 and error.max() < 0.06           # the tracker's ~23 ms frames; MIREX allows 70

    left, right = result.audio
    assert np.corrcoef(left, right)[0, 1] < 0.99                     # the channels stay distinct
    spectrum = np.abs(np.fft.rfft(left[SR:9 * SR]))
    freqs = np.fft.rfftfreq(8 * SR, 1 / SR)

    def energy(hz):
        return spectrum[np.abs(freqs - hz) < 2.0].sum()

    for hz in CHORD_HZ:            # pitch kept: the chord is where it was, not where resampling would put it
        assert energy(hz) > 5 * energy(hz * result.plan.ratio)


@pytest.mark.parametrize("suffix", [".wav", ".flac", ".ogg", ".mp3"])
def test_every_format_reads_at_the_asked_rate(tmp_path, suffix):
    audio, _ = drum_song(100, 4.0, 44100)
    song = read_song(write_song(tmp_path / f"s{suffix}", audio, 44100), 22050)
    assert song.audio.shape[0] == 2 and song.sample_rate == 22050
    assert abs(song.audio.shape[1] - 4.0 * 22050) < 0.06 * 22050     # mp3 frames pad the end a little


def _bad_songs(tmp_path):
    import soundfile as sf

    text = tmp_path / "notes.mp3"
    text.write_text("not audio at all\n" * 100)
    empty = tmp_path / "empty.wav"
    empty.write_bytes(b"")
    silent = write_song(tmp_path / "silent.wav", np.zeros((1, 5 * SR), np.float32), SR)
    tiny = write_song(tmp_path / "tiny.wav", drum_song(120, 0.1, SR)[0], SR)
    hours = tmp_path / "hours.wav"
    with sf.SoundFile(str(hours), "w", 1000, 1, subtype="PCM_U8") as handle:   # 7 MB for two hours at 1 kHz
        for _ in range(120):
            handle.write(np.zeros(60 * 1000, np.int16))
    big = tmp_path / "big.mp3"
    big.write_bytes(np.random.default_rng(0).integers(0, 255, 40 * 2**20, dtype=np.uint8).tobytes())
    t = np.arange(8 * SR) / SR
    drone = write_song(tmp_path / "drone.wav", (0.3 * np.sin(2 * np.pi * 220 * t))[None].astype(np.float32), SR)
    return [(text, "not an audio file"), (empty, "empty"), (silent, "silent"), (tiny, "too short"),
            (hours, "120 minutes.*over the 20-minute limit"), (big, "40 MB is over the 32 MB limit"),
            (drone, "no steady beat")]


def test_every_bad_song_ends_in_one_line_and_writes_nothing(tmp_path, capsys):
    from motionscore.server.cli import main
    from motionscore.shared.motion import save_motion
    from motionscore.shared.synthetic_dance import beat_times, synthetic_dance

    motion = tmp_path / "dance.npz"
    save_motion(synthetic_dance(beat_times(6.0, 110), 6.0, seed=1), motion)
    for path, reason in _bad_songs(tmp_path):
        out = tmp_path / f"{path.stem}-take.wav"
        assert main(["conform", str(motion), str(path), "-o", str(out), "-q"]) == 2, path.name
        err = capsys.readouterr().err.strip()
        assert err.startswith("motionscore: error:") and "\n" not in err and "Traceback" not in err
        assert __import__("re").search(reason, err), err
        assert not out.exists()
    with pytest.raises(SongError, match="no such file"):
        read_song(tmp_path / "missing.wav", SR)


def test_the_cli_conforms_a_song_and_loops_it_on_request(tmp_path, capsys):
    import json

    import soundfile as sf

    from motionscore.server.cli import main
    from motionscore.shared.motion import save_motion
    from motionscore.shared.synthetic_dance import beat_times, synthetic_dance

    motion = tmp_path / "dance.npz"
    save_motion(synthetic_dance(beat_times(12.0, 112), 12.0, seed=2), motion)
    song = write_song(tmp_path / "song.flac", drum_song(124, 8.0, 44100)[0], 44100)
    out = tmp_path / "take.wav"
    assert main(["conform", str(motion), str(song), "-o", str(out), "-q"]) == 2
    assert "too short" in capsys.readouterr().err and not out.exists()
    assert main(["conform", str(motion), str(song), "-o", str(out), "-q", "--loop", "--json", "--hits", "5.1"]) == 0
    meta = json.loads(capsys.readouterr().out)
    info = sf.info(str(out))
    assert info.frames == int(round(12.0 * 48000)) and info.channels == 2
    assert meta["backbone"] == "conform" and meta["conform"]["loops"] >= 1
    assert meta["conform"]["hits_caught"] == 1 and meta["tempo_map"]["hits_s"] == [5.1]
    assert meta["conform"]["ratio"] == pytest.approx(meta["tempo_map"]["tempo_bpm"] / 124, rel=0.04)
    assert main(["conform", str(motion), str(song), "-o", str(out), "-q", "--loop"]) == 2   # never overwritten
    assert "exists" in capsys.readouterr().err


@pytest.mark.parametrize("off", [0.85, 0.7])
def test_a_synth_take_made_off_tempo_is_conformed_onto_the_map(off):
    from motionscore.server.analysis.metrics import beat_scores, track_music_beats
    from motionscore.server.generation.backbones import GenerationRequest, load_backbone
    from motionscore.server.generation.beatlock import beat_lock
    from motionscore.shared.rhythm import extract_rhythm
    from motionscore.shared.synthetic_dance import beat_times, synthetic_dance

    rhythm = extract_rhythm(synthetic_dance(beat_times(16.0, 112), 16.0, seed=4))
    wrong = extract_rhythm(synthetic_dance(beat_times(16.0, 112 * off), 16.0, seed=4), tempo_bpm=112 * off)
    take = load_backbone("synth").generate(GenerationRequest(rhythm=wrong, duration=16.0, sample_rate=SR)).audio
    target = rhythm.beat_times
    before = beat_scores(track_music_beats(take, SR)[1], target, 0.07).f1
    locked = beat_lock(take, SR, target)
    after = beat_scores(track_music_beats(locked.audio, SR)[1], target, 0.07).f1
    assert locked.audio.shape == take.shape
    assert before < 0.6 and after >= 0.9, (before, after)
    assert locked.ratio == pytest.approx(1 / off, rel=0.05)               # a beat stays a beat


def test_beats_map_keeps_the_beats_inside_the_take():
    tempo_map = beats_map(np.array([-0.1, 0.5, 1.0, 3.2]), 3.0)
    np.testing.assert_array_equal(tempo_map.beats, [0.5, 1.0])
