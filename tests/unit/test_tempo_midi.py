"""Tempo maps as MIDI files: written so that a second reader finds every beat on a whole MIDI beat,
read back the same, read from another tool's file to drive a take, and bad files refused."""

from __future__ import annotations

import json
import struct

import numpy as np
import pytest

from motionscore.shared.tempo_map import TempoMap, TempoSegment
from motionscore.shared.tempo_midi import MidiMapError, read_tempo_map, write_tempo_map


def read_smf(path) -> dict:
    """A second, independent Standard MIDI File reader (only the standard and struct): the header,
    and every tempo, time signature and marker event of every track with its absolute tick."""
    data = open(path, "rb").read()
    assert data[:4] == b"MThd"
    length, kind, tracks, division = struct.unpack(">IHHH", data[4:14])
    pos, events = 8 + length, []
    for _ in range(tracks):
        assert data[pos:pos + 4] == b"MTrk"
        end = pos + 8 + struct.unpack(">I", data[pos + 4:pos + 8])[0]
        pos, tick, status = pos + 8, 0, None

        def varint():
            nonlocal pos
            value = 0
            while True:
                byte = data[pos]
                pos += 1
                value = (value << 7) | (byte & 0x7F)
                if byte < 0x80:
                    return value

        while pos < end:
            tick += varint()
            if data[pos] == 0xFF:
                kind_byte, pos = data[pos + 1], pos + 2
                size = varint()
                body, pos = data[pos:pos + size], pos + size
                if kind_byte == 0x51:
                    events.append(("tempo", tick, int.from_bytes(body, "big")))
                elif kind_byte == 0x58:
                    events.append(("signature", tick, (body[0], 2 ** body[1])))
                elif kind_byte == 0x06:
                    events.append(("marker", tick, body.decode()))
            elif data[pos] in (0xF0, 0xF7):
                pos += 1
                pos += varint()
            else:
                if data[pos] & 0x80:
                    status, pos = data[pos], pos + 1
                if status & 0xF0 == 0x90 and data[pos + 1] > 0:
                    events.append(("note", tick, (status & 0x0F, data[pos])))
                pos += 1 if status & 0xF0 in (0xC0, 0xD0) else 2
        pos = end
    return {"type": kind, "tracks": tracks, "ppq": division, "events": events}


def tick_seconds(smf: dict, ticks: np.ndarray) -> np.ndarray:
    tempos = sorted((t, v) for k, t, v in smf["events"] if k == "tempo")
    out = []
    for target in ticks:
        seconds, tick, us = 0.0, 0, 500_000
        for at, value in tempos:
            if at >= target:
                break
            seconds += (at - tick) * us / 1e6 / smf["ppq"]
            tick, us = at, value
        out.append(seconds + (target - tick) * us / 1e6 / smf["ppq"])
    return np.asarray(out)


def a_map(meter=3, first=0.31, seconds=20.0, hits=(4.2, 9.77)):
    """A map with a pickup, a tempo change and hits caught, like the motions' maps."""
    periods = np.where(np.arange(60) < 12, 0.68, 0.6)
    beats = first + np.r_[0.0, np.cumsum(periods)]
    beats = beats[beats < seconds]
    for hit in hits:
        beats[np.argmin(np.abs(beats - hit))] = hit
    downbeats = np.arange(1, beats.size, meter)  # one pickup beat of the map before its first bar
    return TempoMap(beats, downbeats, meter, (TempoSegment(0.0, seconds, 88.0),), np.asarray(hits), seconds)


@pytest.mark.parametrize("meter", [3, 4])
def test_every_beat_of_the_map_is_a_whole_midi_beat_for_a_second_reader(tmp_path, meter):
    tempo_map = a_map(meter)
    path = write_tempo_map(tmp_path / "map.mid", tempo_map, ["punch", "door slam"])
    smf = read_smf(path)
    assert smf["type"] == 1 and smf["ppq"] > 0
    ppq = smf["ppq"]
    whole = tick_seconds(smf, np.arange(0, 200) * ppq)
    index = [int(np.argmin(np.abs(whole - b))) for b in tempo_map.beats]
    assert max(np.min(np.abs(whole - b)) for b in tempo_map.beats) < 0.001
    assert np.all(np.diff(index) == 1)                             # consecutive beats: one MIDI beat apart
    signatures = [(t, v) for k, t, v in smf["events"] if k == "signature"]
    bar_tick = (index[0] + 1) * ppq                                # the map's first bar (after its pickup beat)
    assert (bar_tick, (meter, 4)) in signatures
    assert signatures[0][0] == 0                                   # a pickup bar before it
    markers = {v: t for k, t, v in smf["events"] if k == "marker"}
    hit_ticks = tick_seconds(smf, np.array([markers["punch"], markers["door slam"]]))
    np.testing.assert_allclose(hit_ticks, tempo_map.hits, atol=0.005)


def test_export_then_import_gives_the_same_beats_bars_and_hits(tmp_path):
    tempo_map = a_map(3)
    back = read_tempo_map(write_tempo_map(tmp_path / "map.mid", tempo_map), tempo_map.duration)
    n = tempo_map.beats.size
    np.testing.assert_allclose(back.beats[:n], tempo_map.beats, atol=0.001)
    assert back.meter == 3 and list(back.downbeats[:len(tempo_map.downbeats)]) == list(tempo_map.downbeats)
    np.testing.assert_allclose(back.hits, tempo_map.hits, atol=0.005)


def another_tools_map(path, bars_at_100=8):
    """What a DAW exports: 4/4, 100 BPM, then 125 BPM after 8 bars, written with mido directly."""
    import mido

    midi = mido.MidiFile(type=1, ticks_per_beat=480)
    track = mido.MidiTrack([mido.MetaMessage("time_signature", numerator=4, denominator=4),
                            mido.MetaMessage("set_tempo", tempo=mido.bpm2tempo(100)),
                            mido.MetaMessage("set_tempo", tempo=mido.bpm2tempo(125), time=480 * 4 * bars_at_100),
                            mido.MetaMessage("marker", text="hit: the door", time=480 * 2)])
    midi.tracks.append(track)
    midi.tracks.append(mido.MidiTrack([mido.Message("note_on", note=60, velocity=90, time=0),
                                       mido.Message("note_off", note=60, time=480)]))
    midi.save(str(path))
    grid = np.r_[np.arange(32) * 0.6, 32 * 0.6 + np.arange(40) * 0.48]
    return grid


def test_a_composers_map_drives_the_take(tmp_path, capsys):
    from motionscore.server.analysis.metrics import beat_scores, track_music_beats
    from motionscore.server.cli import main
    from motionscore.shared.motion import save_motion
    from motionscore.shared.synthetic_dance import beat_times, synthetic_dance

    grid = another_tools_map(tmp_path / "daw.mid")
    motion = tmp_path / "dance.npz"
    save_motion(synthetic_dance(beat_times(30.0, 112), 30.0, seed=3), motion)
    take = tmp_path / "take.wav"
    assert main(["score", str(motion), "-o", str(take), "-q", "--json", "--tempo-map", str(tmp_path / "daw.mid"),
                 "--sample-rate", "22050"]) == 0
    meta = json.loads(capsys.readouterr().out)
    np.testing.assert_allclose(meta["tempo_map"]["beats_s"], grid[grid < 30.0], atol=0.001)
    assert meta["tempo_map"]["hits_s"] == [pytest.approx(32 * 0.6 + 2 * 0.48, abs=0.001)]   # the marker hit...
    import soundfile as sf

    audio, rate = sf.read(str(take))
    # librosa's tracker holds one tempo per piece under 40 s: each tempo is tracked on its own.
    change = int(32 * 0.6 * rate)
    tracked = np.r_[track_music_beats(audio[:change], rate)[1], change / rate + track_music_beats(audio[change:], rate)[1]]
    assert beat_scores(tracked, grid[grid < 30.0], 0.07).f1 >= 0.9


def test_a_short_map_continues_at_its_last_tempo():
    import tempfile
    from pathlib import Path

    path = Path(tempfile.mkdtemp()) / "short.mid"
    another_tools_map(path)
    tempo_map = read_tempo_map(path, 60.0)
    assert tempo_map.beats[-1] > 59.0
    np.testing.assert_allclose(np.diff(tempo_map.beats[-10:]), 0.48, atol=1e-6)


def _bad_midis(tmp_path):
    import mido

    no_tempo = mido.MidiFile(type=1)
    no_tempo.tracks.append(mido.MidiTrack([mido.Message("note_on", note=60, time=0)]))
    no_tempo.save(str(tmp_path / "no_tempo.mid"))
    two = mido.MidiFile(type=2)
    two.tracks.append(mido.MidiTrack([mido.MetaMessage("set_tempo", tempo=500000)]))
    two.save(str(tmp_path / "type2.mid"))
    (tmp_path / "garbage.mid").write_bytes(b"MThd\x00\x00\x00\x06\x00\x01\x00\x01" + b"\xff" * 40)
    good = tmp_path / "good.mid"
    another_tools_map(good)
    (tmp_path / "truncated.mid").write_bytes(good.read_bytes()[:30])
    (tmp_path / "text.mid").write_text("tempo 120 please")
    return [("no_tempo.mid", "no tempo track"), ("type2.mid", "type-2"), ("garbage.mid", "not a readable MIDI"),
            ("truncated.mid", "not a readable MIDI"), ("text.mid", "not a readable MIDI"), ("missing.mid", "no such file")]


def test_every_bad_midi_file_ends_in_one_line(tmp_path, capsys):
    from motionscore.server.cli import main
    from motionscore.shared.motion import save_motion
    from motionscore.shared.synthetic_dance import beat_times, synthetic_dance

    motion = tmp_path / "dance.npz"
    save_motion(synthetic_dance(beat_times(4.0, 112), 4.0, seed=3), motion)
    for name, words in _bad_midis(tmp_path):
        out = tmp_path / f"{name}.wav"
        assert main(["score", str(motion), "-o", str(out), "-q", "--tempo-map", str(tmp_path / name)]) == 2, name
        err = capsys.readouterr().err.strip()
        assert err.startswith("motionscore: error: --tempo-map") and "\n" not in err and words in err, err
        assert not out.exists()
        with pytest.raises(MidiMapError, match=words):
            read_tempo_map(tmp_path / name, 4.0)


def test_midi_beside_the_take_and_the_map_from_rhythm(tmp_path, capsys):
    from motionscore.server.cli import main

    take, midi = tmp_path / "take.wav", tmp_path / "take.mid"
    hits = tmp_path / "hits.txt"
    hits.write_text("5.2 the punch\n9.1 landing\n")
    assert main(["score", "examples/dance.npz", "-o", str(take), "-q", "--hits-file", str(hits),
                 "--midi", str(midi), "--sample-rate", "16000"]) == 0
    markers = [v for k, _, v in read_smf(midi)["events"] if k == "marker"]
    assert {"the punch", "landing"} <= set(markers)
    assert main(["rhythm", "examples/dance.npz", "--midi", str(midi)]) == 2          # never overwritten
    assert "exists" in capsys.readouterr().err
    assert main(["rhythm", "examples/dance.npz", "--midi", str(tmp_path / "map.txt")]) == 2
    assert main(["rhythm", "examples/dance.npz", "--midi", str(tmp_path / "map.mid"), "--json"]) == 0
    beats = json.loads(capsys.readouterr().out)["tempo_map"]["beats_s"]
    back = read_tempo_map(tmp_path / "map.mid", 16.0)
    np.testing.assert_allclose(back.beats[:len(beats)], beats, atol=0.001)


def test_a_given_map_travels_in_the_options():
    from motionscore.shared.options import OptionsError, ScoreOptions

    options = ScoreOptions(map_beats=(0.5, 1.0, 1.5), map_downbeats=(0,))
    assert ScoreOptions.from_dict(options.to_dict()) == options
    for bad in [dict(map_beats=(1.0,)), dict(map_beats=(1.0, 0.5)), dict(map_beats=(0.5, float("nan"))),
                dict(map_beats=(0.5, 1.0), map_downbeats=(2,)), dict(map_downbeats=(0,))]:
        with pytest.raises(OptionsError):
            ScoreOptions(**bad)


def test_synth_stems_are_the_takes_length_and_sum_to_it(tmp_path, capsys):
    import soundfile as sf

    from motionscore.server.cli import main

    take = tmp_path / "take.wav"
    assert main(["score", "examples/dance.npz", "-o", str(take), "-q", "--stems", str(tmp_path),
                 "--sample-rate", "16000"]) == 0
    mix, rate = sf.read(str(take), dtype="int16")
    stems = [sf.read(str(tmp_path / f"take_{part}.wav"), dtype="int16")[0] for part in ("drums", "bass", "chords")]
    assert all(stem.shape == mix.shape for stem in stems) and rate == 16000
    residual = np.abs(sum(stem.astype(np.int32) for stem in stems) - mix.astype(np.int32))
    assert residual.max() <= 2                                         # 16-bit rounding of three files
    assert all(np.abs(stem).max() > 100 for stem in stems)             # each part plays
    capsys.readouterr()
    for extra, words in [(["--server", "tcp://127.0.0.1:9"], "add --backbone synth"), (["--backbone", "musicgen"], "only synth takes"),
                         (["--beat-lock"], "drop --beat-lock")]:
        assert main(["score", "examples/dance.npz", "-o", str(tmp_path / "x.wav"), "-q", "--stems", str(tmp_path),
                     *extra]) == 2
        assert words in capsys.readouterr().err
    assert main(["score", "examples/dance.npz", "-o", str(tmp_path / "y.wav"), "-q", "--stems",
                 str(tmp_path / "nowhere")]) == 2
    (tmp_path / "z_drums.wav").write_bytes(b"mine")
    assert main(["score", "examples/dance.npz", "-o", str(tmp_path / "z.wav"), "-q", "--stems", str(tmp_path)]) == 2
    assert (tmp_path / "z_drums.wav").read_bytes() == b"mine" and not (tmp_path / "z.wav").exists()


def test_a_synth_takes_midi_has_a_track_per_part_with_the_kicks_on_the_beats(tmp_path):
    from motionscore.server.cli import main

    midi = tmp_path / "take.mid"
    assert main(["score", "examples/dance.npz", "-o", str(tmp_path / "take.wav"), "-q", "--json", "--midi", str(midi),
                 "--sample-rate", "16000"]) == 0
    smf = read_smf(midi)
    assert smf["tracks"] == 4                                          # tempo, drums, bass, chords
    notes = [v for k, _, v in smf["events"] if k == "note"]
    assert {c for c, _ in notes} == {9, 0, 1}                          # drums on GM channel 10
    kicks = sorted(t for k, t, v in smf["events"] if k == "note" and v == (9, 36))
    first = next(t for k, t, v in smf["events"] if k == "marker" and v == "first beat")
    beat_ticks = range(first, kicks[-1] + 1, smf["ppq"])
    assert set(beat_ticks) <= set(kicks)                               # a kick on every beat of the map
