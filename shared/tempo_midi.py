"""Tempo maps as Standard MIDI Files: written for composers, read from their DAWs.

Film and game composers import an animation's tempo, meter and sync points as a MIDI tempo track.
:func:`write_tempo_map` writes the map so that every beat of it is a whole MIDI beat (quarter
note): set-tempo events beat by beat, time signatures at the bars (a pickup bar first when the
map starts before its first bar), a marker at each hit with its name. :func:`read_tempo_map`
reads a composer's tempo track back into a map: beats at every quarter note, bars from the time
signatures, markers named ``hit...`` as hits; past its last event it keeps its last tempo.

mido (pure Python) reads and writes the bytes; it is imported only here, when a MIDI file is used.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from .tempo_map import TempoMap, TempoSegment

#: Ticks per MIDI beat (quarter note) in files we write.
PPQ = 960
#: Longest map read from a file (seconds), as for motions.
MAX_MAP_S = 600.0
#: The marker at the map's first beat when a lead-in comes before it: beats before it are the
#: lead-in, which reading drops again (other tools show it as a plain marker).
FIRST_BEAT_MARKER = "first beat"
#: Largest MIDI file read (bytes): a tempo map is a few kilobytes.
MAX_MIDI_BYTES = 8 * 1024 * 1024


class MidiMapError(ValueError):
    """A MIDI file that cannot be a tempo map; one line saying why."""


def beat_clock(beats: np.ndarray, duration: float) -> tuple[np.ndarray, int]:
    """(time in s of every whole MIDI beat from 0 until past ``duration``, pickup beats).

    The map's first beat is MIDI beat ``pickup``: the lead-in before it is split into as many
    beats as fit its first interval (none when the map starts at 0).
    """
    beats = np.asarray(beats, dtype=np.float64)
    first_interval = beats[1] - beats[0]
    pickup = 0 if beats[0] < 1e-3 else max(1, int(round(beats[0] / first_interval)))
    lead = np.arange(pickup) * (beats[0] / pickup) if pickup else np.zeros(0)
    last_interval = beats[-1] - beats[-2]
    tail = beats[-1] + last_interval * np.arange(1, max(1, int(np.ceil((duration - beats[-1]) / last_interval)) + 1) + 1)
    return np.concatenate([lead, beats, tail]), pickup


#: Note tracks of a synth take's parts: (General MIDI channel, 0-based; program or None).
PART_CHANNELS = {"drums": (9, None), "bass": (0, 33), "chords": (1, 89)}


def write_tempo_map(path: str | Path, tempo_map: TempoMap, hit_names=(), title: str = "motionscore tempo map",
                    parts: dict | None = None) -> Path:
    """Write ``tempo_map`` as an SMF of type 1 (the tempo track first) and return the path.

    ``hit_names``: a name per hit (default "hit 1", "hit 2", ...). ``parts``: what a synth take
    played, part -> [(start s, length s, MIDI pitches, gain)], one note track each (drums on
    General MIDI channel 10). Needs at least two beats.
    """
    import mido

    beats = np.asarray(tempo_map.beats, dtype=np.float64)
    if beats.size < 2:
        raise MidiMapError("the tempo map has fewer than two beats: no tempo to write (give a tempo)")
    clock, pickup = beat_clock(beats, tempo_map.duration)
    events: list[tuple[int, int, object]] = []  # (tick, order, message): tempo before signature before marker
    written = 0.0  # seconds the tempo events so far put at the current beat; rounding is carried
    last_tempo = None
    for k in range(clock.size - 1):
        # Microseconds per beat, the rounding carried over: beat k + 1 lands within 0.5 us of its time.
        tempo = int(round((clock[k + 1] - written) * 1e6))
        tempo = max(1, min(tempo, 0xFFFFFF))
        if tempo != last_tempo:
            events.append((k * PPQ, 0, mido.MetaMessage("set_tempo", tempo=tempo)))
            last_tempo = tempo
        written += tempo / 1e6
    bar_starts = [pickup + int(d) for d in tempo_map.downbeats] or [pickup]
    starts = ([0] if bar_starts[0] > 0 else []) + bar_starts
    lengths = [b - a for a, b in zip(starts, starts[1:])] + [tempo_map.meter]
    previous = None
    for start, length in zip(starts, lengths):
        if length != previous and 1 <= length <= 255:
            events.append((start * PPQ, 1, mido.MetaMessage("time_signature", numerator=length, denominator=4)))
            previous = length
    if pickup:
        events.append((pickup * PPQ, 2, mido.MetaMessage("marker", text=FIRST_BEAT_MARKER)))
    names = list(hit_names) + [f"hit {i + 1}" for i in range(len(hit_names), len(tempo_map.hits))]
    for hit, name in zip(tempo_map.hits, names):
        events.append((int(round(seconds_to_ticks(clock, float(hit)))), 2, mido.MetaMessage("marker", text=str(name))))
    events.sort(key=lambda e: (e[0], e[1]))
    track = mido.MidiTrack([mido.MetaMessage("track_name", name=title)])
    now = 0
    for tick, _, message in events:
        track.append(message.copy(time=tick - now))
        now = tick
    end = int(round(seconds_to_ticks(clock, tempo_map.duration)))
    track.append(mido.MetaMessage("end_of_track", time=max(0, end - now)))
    midi = mido.MidiFile(type=1, ticks_per_beat=PPQ)
    midi.tracks.append(track)
    for part, notes in (parts or {}).items():
        midi.tracks.append(_note_track(mido, part, notes, clock))
    path = Path(path)
    midi.save(str(path))
    return path


def _note_track(mido, part: str, notes, clock: np.ndarray):
    """One part's notes as a track on its General MIDI channel, velocities from the notes' gains."""
    channel, program = PART_CHANNELS.get(part, (2, None))
    loudest = max((gain for *_, gain in notes), default=1.0) or 1.0
    events = []
    for start, length, pitches, gain in notes:
        if start < 0 or start >= clock[-1]:
            continue
        on = int(round(seconds_to_ticks(clock, start)))
        off = max(on + 1, int(round(seconds_to_ticks(clock, min(start + length, clock[-1])))))
        velocity = int(np.clip(round(127 * gain / loudest), 1, 127))
        for pitch in pitches:
            events.append((on, 1, mido.Message("note_on", channel=channel, note=int(pitch), velocity=velocity)))
            events.append((off, 0, mido.Message("note_off", channel=channel, note=int(pitch), velocity=0)))
    events.sort(key=lambda e: (e[0], e[1]))  # a note ends before the next one on its key starts
    track = mido.MidiTrack([mido.MetaMessage("track_name", name=part)])
    if program is not None:
        track.append(mido.Message("program_change", channel=channel, program=program))
    now = 0
    for tick, _, message in events:
        track.append(message.copy(time=tick - now))
        now = tick
    return track


def map_from_record(record: dict, duration: float) -> TempoMap:
    """The TempoMap of a take's metadata record (``TempoMap.to_dict``)."""
    segments = tuple(TempoSegment(s["start_s"], s["end_s"], s["bpm"]) for s in record.get("segments", []))
    return TempoMap(np.asarray(record["beats_s"], dtype=np.float64), np.asarray(record.get("downbeats", []), dtype=np.int64),
                    int(record.get("meter", 4)), segments, np.asarray(record.get("hits_s", []), dtype=np.float64), duration)


def seconds_to_ticks(clock: np.ndarray, seconds: float) -> float:
    """Ticks of a time (s) on a beat clock (whole beats at ``clock``), linear within a beat."""
    k = int(np.clip(np.searchsorted(clock, seconds, side="right") - 1, 0, clock.size - 2))
    return (k + (seconds - clock[k]) / (clock[k + 1] - clock[k])) * PPQ


def read_tempo_map(path: str | Path, duration: float, meter: int | None = None) -> TempoMap:
    """A composer's tempo map over ``duration`` s: a beat at every quarter note, bars from the time
    signatures (``meter`` overrides the beats per bar), hits from markers named ``hit...``.

    Raises MidiMapError (one line) for a missing, corrupt or type-2 file or one without tempo.
    """
    import mido

    path = Path(path)
    if not path.is_file():
        raise MidiMapError(f"{path}: no such file")
    if path.stat().st_size > MAX_MIDI_BYTES:
        raise MidiMapError(f"{path.name}: {path.stat().st_size / 2**20:.0f} MB is too large for a tempo map")
    try:
        midi = mido.MidiFile(str(path), clip=True)
    except Exception as exc:  # mido raises OSError, EOFError, ValueError, KeyError by defect
        raise MidiMapError(f"{path.name}: not a readable MIDI file ({type(exc).__name__}: "
                           f"{(str(exc).splitlines() or [''])[0]})") from None
    if midi.type == 2:
        raise MidiMapError(f"{path.name}: a type-2 MIDI file holds independent sequences, not one tempo map; "
                           f"export type 1 or 0")
    ppq = midi.ticks_per_beat
    if not ppq or ppq <= 0:
        raise MidiMapError(f"{path.name}: SMPTE time division is not supported; export with ticks per beat")
    tempos, signatures, hits, first_beat = [], [], [], 0
    for track in midi.tracks:
        tick = 0
        for message in track:
            tick += message.time
            if message.type == "set_tempo":
                tempos.append((tick, message.tempo))
            elif message.type == "time_signature":
                signatures.append((tick, message.numerator, message.denominator))
            elif message.type == "marker" and message.text.strip().lower().startswith("hit"):
                hits.append(tick)
            elif message.type == "marker" and message.text.strip() == FIRST_BEAT_MARKER:
                first_beat = tick
    if not tempos:
        raise MidiMapError(f"{path.name}: no tempo track (no set-tempo event); export the tempo map with it")
    tempos.sort()
    change_ticks = np.array([t for t, _ in tempos], dtype=np.float64)
    change_us = np.array([u for _, u in tempos], dtype=np.float64)
    if change_ticks[0] > 0:  # before the first event MIDI's default, 120 BPM
        change_ticks, change_us = np.r_[0.0, change_ticks], np.r_[500_000.0, change_us]
    seconds_at = np.r_[0.0, np.cumsum(np.diff(change_ticks) * change_us[:-1] / 1e6 / ppq)]

    def to_seconds(ticks):
        ticks = np.asarray(ticks, dtype=np.float64)
        k = np.clip(np.searchsorted(change_ticks, ticks, side="right") - 1, 0, change_ticks.size - 1)
        return seconds_at[k] + (ticks - change_ticks[k]) * change_us[k] / 1e6 / ppq

    horizon = min(duration, MAX_MAP_S)
    quarter_ticks, beats = [], []
    k = 0
    while True:
        t = float(to_seconds(k * ppq))
        if t >= horizon:
            break
        quarter_ticks.append(k * ppq)
        beats.append(t)
        k += 1
    beats = np.asarray(beats)
    if beats.size < 2:
        raise MidiMapError(f"{path.name}: fewer than two beats inside the shot's {duration:g} s")
    signatures.sort()
    if not signatures or signatures[0][0] > 0:
        signatures.insert(0, (0, 4, 4))
    downbeats, bar_lengths = [], []
    for i, (tick, numerator, denominator) in enumerate(signatures):
        length = max(1, int(round(numerator * 4 / denominator)))  # in quarter notes
        end = signatures[i + 1][0] if i + 1 < len(signatures) else quarter_ticks[-1] + ppq
        bars = range(int(round(tick / ppq)), int(np.ceil(end / ppq)), length)
        downbeats.extend(bars)
        bar_lengths.extend([length] * len(bars))
    lead = int(round(first_beat / ppq))  # beats before the map's first: a lead-in we wrote
    downbeats = np.asarray(sorted(d - lead for d in set(downbeats) if lead <= d < beats.size), dtype=np.int64)
    beats = beats[lead:]
    main = max(set(bar_lengths), key=bar_lengths.count)
    meter = meter or (3 if main == 3 else 4)
    segments = []
    for i, (tick, us) in enumerate(zip(change_ticks, change_us)):
        begin = float(to_seconds(tick))
        end = float(to_seconds(change_ticks[i + 1])) if i + 1 < change_ticks.size else duration
        if begin < duration and end > begin:
            segments.append(TempoSegment(begin, min(end, duration), 60e6 / us))
    hit_times = np.asarray(sorted(float(to_seconds(t)) for t in hits if to_seconds(t) < duration))
    return TempoMap(beats, downbeats, meter, tuple(segments), hit_times, duration)
