"""Timeline markers: the user's sync points in, the music's bars (and beats) out.

The user's markers are never changed. Markers whose name starts with ``hit`` (any case: "hit",
"Hit punch") inside the scored range are sync points the music must put a beat on. After a take
the add-on writes its own markers, named ``ms bar N`` (and ``ms beat N.K`` when asked), removing
only the previous ``ms `` markers: one set of markers per scene, always the latest take's.
"""

from __future__ import annotations

HIT_PREFIX = "hit"
OURS_PREFIX = "ms "


def is_hit(name: str) -> bool:
    return name.strip().lower().startswith(HIT_PREFIX)


def user_hits(scene, frame_start: int, frame_end: int, fps: float) -> list[float]:
    """Seconds from the range's first frame of every ``hit`` marker inside [frame_start, frame_end]."""
    frames = sorted(m.frame for m in scene.timeline_markers
                    if is_hit(m.name) and frame_start <= m.frame <= frame_end)
    return [(frame - frame_start) / fps for frame in frames]


def place_map_markers(scene, tempo_map: dict, frame_start: int, fps: float, beats: bool = False) -> int:
    """Replace our markers with the bars (and beats) of ``tempo_map`` (the take's metadata form:
    ``beats_s``, ``downbeats``, ``meter``). Returns how many markers were written."""
    markers = scene.timeline_markers
    for marker in [m for m in markers if m.name.startswith(OURS_PREFIX)]:
        markers.remove(marker)
    times = tempo_map.get("beats_s", []) if tempo_map else []
    downbeats = set(tempo_map.get("downbeats", [])) if tempo_map else set()
    written, bar, beat_in_bar = 0, 0, 0
    for index, t in enumerate(times):
        if index in downbeats:
            bar, beat_in_bar = bar + 1, 1
        else:
            beat_in_bar += 1
        frame = frame_start + int(round(t * fps))
        if index in downbeats:
            markers.new(f"{OURS_PREFIX}bar {bar}", frame=frame)
            written += 1
        elif beats and bar:
            markers.new(f"{OURS_PREFIX}beat {bar}.{beat_in_bar}", frame=frame)
            written += 1
    return written
