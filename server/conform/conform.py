"""Conforming audio onto a tempo map: track the beats, plan the time map, stretch, fade.

Used for a user's song (``motionscore conform``, the server's conform request) and for every
generated take (beat lock), so both land on the map the same way.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from motionscore.shared.progress import ProgressFn, no_progress
from motionscore.shared.tempo_map import TempoMap
from .song_beats import SongBeats, track_song
from .stretch import fade_ends, render
from .timemap import ConformPlan, plan_conform


@dataclass
class Conformed:
    """Conformed audio, float32 (channels, round(duration * sample_rate)), and how it was made."""

    audio: np.ndarray
    sample_rate: int
    plan: ConformPlan
    song: SongBeats

    def record(self, name: str) -> dict:
        """What the take's metadata keeps of the conform (seconds, BPM, ratios)."""
        return {"song": name, "song_tempo_bpm": round(self.song.tempo_bpm, 2), "song_beats": int(self.song.beats.size),
                **self.plan.record()}


def conform_audio(audio: np.ndarray, sample_rate: int, tempo_map: TempoMap, *, name: str = "song",
                  start_s: float | None = None, loop: bool = False, force: bool = False, bars: bool = True,
                  fade: bool = True, progress: ProgressFn = no_progress) -> Conformed:
    """Put ``audio`` (channels, n) float32 on ``tempo_map`` over its ``duration``.

    ``bars``/``start_s``/``loop``/``force``: see :func:`.timemap.plan_conform`. ``fade``: fade the
    ends (a song cut to the shot; a generated take already ends as it should). Raises SongError
    (no steady beat) or ConformError (the plan).
    """
    progress(0.0, "finding the song's beats")
    song = track_song(audio.mean(axis=0), sample_rate, tempo_map.meter, tempo_map.tempo_bpm, name)
    plan = plan_conform(song, audio.shape[1] / sample_rate, tempo_map.beats, tempo_map.downbeats,
                        tempo_map.duration, hits=tempo_map.hits, start_s=start_s, loop=loop, force=force,
                        bars=bars, name=name)
    num_samples = int(round(tempo_map.duration * sample_rate))
    out = render(audio, sample_rate, plan.segments, num_samples, lambda f, s: progress(0.1 + 0.85 * f, s))
    if fade:
        fade_ends(out, sample_rate)
    peak = float(np.abs(out).max()) if out.size else 0.0
    if peak > 1.0:  # crossfades of correlated material can add up past full scale
        out /= peak
    progress(1.0, "conformed")
    return Conformed(audio=out, sample_rate=sample_rate, plan=plan, song=song)
