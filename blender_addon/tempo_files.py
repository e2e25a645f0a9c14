"""The tempo map as MIDI in Blender: export the last take's map for a composer, load a composer's.

The files are read and written by :mod:`.shared.tempo_midi` (mido, a pure-Python wheel the extension
bundles), so built-in takes do this as well as server takes.
"""

from __future__ import annotations

import json
import os

import bpy

from .markers import is_hit
from .sampling import frame_range, scene_fps


def given_map_options(settings, duration: float) -> dict:
    """The options of the loaded tempo map over ``duration`` s (empty when none is loaded).

    Raises ValueError with one line for a file that cannot be a tempo map."""
    if not settings.tempo_map_file:
        return {}
    from .shared.tempo_midi import MidiMapError, read_tempo_map

    try:
        given = read_tempo_map(bpy.path.abspath(settings.tempo_map_file), duration,
                               None if settings.meter == "AUTO" else int(settings.meter))
    except MidiMapError as exc:
        raise ValueError(f"tempo map {exc}") from None
    return {"map_beats": tuple(float(b) for b in given.beats), "map_downbeats": tuple(int(d) for d in given.downbeats),
            "meter": given.meter, "hits": tuple(float(h) for h in given.hits)}


def hit_marker_names(scene, hits_s, frame_start: int) -> list[str]:
    """The names of the ``hit`` markers at the take's hits (s from its first frame), else "hit N"."""
    fps = scene_fps(scene)
    names = []
    for i, t in enumerate(hits_s):
        frame = frame_start + t * fps
        near = [m for m in scene.timeline_markers if is_hit(m.name) and abs(m.frame - frame) <= 0.51]
        names.append(near[0].name if near else f"hit {i + 1}")
    return names


def midi_path_for(take_path: str) -> str:
    """The MIDI file beside a take: the same name, .mid."""
    return os.path.splitext(take_path)[0] + ".mid"


class MOTIONSCORE_OT_export_tempo_map(bpy.types.Operator):
    """Write the last take's tempo map as a MIDI file beside it (tempo track, bars, hit markers)"""

    bl_idname = "motionscore.export_tempo_map"
    bl_label = "Export tempo map (MIDI)"

    @classmethod
    def poll(cls, context):
        settings = context.scene.motionscore
        return bool(settings.last_map_record and settings.last_file)

    def execute(self, context):
        from .shared.tempo_midi import MidiMapError, map_from_record, write_tempo_map

        settings = context.scene.motionscore
        record = json.loads(settings.last_map_record)
        path = midi_path_for(bpy.path.abspath(settings.last_file))
        if os.path.exists(path):
            self.report({"ERROR"}, f"motionscore: {path} exists; nothing was overwritten")
            return {"CANCELLED"}
        tempo_map = map_from_record(record, float(record["duration_s"]))
        frame_start = int(record.get("frame_start", frame_range(context.scene)[0]))
        try:
            write_tempo_map(path, tempo_map, hit_marker_names(context.scene, tempo_map.hits, frame_start))
        except (MidiMapError, OSError) as exc:
            self.report({"ERROR"}, f"motionscore: {exc}")
            return {"CANCELLED"}
        self.report({"INFO"}, f"motionscore: wrote {path}")
        return {"FINISHED"}


class MOTIONSCORE_OT_load_tempo_map(bpy.types.Operator):
    """Use a composer's MIDI tempo map (tempo, bars, hit markers) for the next takes"""

    bl_idname = "motionscore.load_tempo_map"
    bl_label = "Load tempo map..."

    filepath: bpy.props.StringProperty(name="MIDI file", subtype="FILE_PATH", options={"SKIP_SAVE"})
    filter_glob: bpy.props.StringProperty(default="*.mid;*.midi", options={"HIDDEN"})

    def invoke(self, context, event):  # noqa: ARG002 - Blender's signature
        context.window_manager.fileselect_add(self)
        return {"RUNNING_MODAL"}

    def execute(self, context):
        from .shared.tempo_midi import MidiMapError, read_tempo_map

        scene = context.scene
        first, last = frame_range(scene)
        try:
            given = read_tempo_map(bpy.path.abspath(self.filepath), (last - first + 1) / scene_fps(scene))
        except MidiMapError as exc:
            scene.motionscore.last_error = f"tempo map {exc}"
            self.report({"ERROR"}, f"motionscore: tempo map {exc}")
            return {"CANCELLED"}
        scene.motionscore.tempo_map_file = self.filepath
        scene.motionscore.last_error = ""
        self.report({"INFO"}, f"motionscore: the next takes follow {os.path.basename(self.filepath)}: {given.summary()}")
        return {"FINISHED"}


class MOTIONSCORE_OT_clear_tempo_map(bpy.types.Operator):
    """Make the next takes follow the motion's own tempo map again"""

    bl_idname = "motionscore.clear_tempo_map"
    bl_label = "Use the motion's tempo map"

    def execute(self, context):
        context.scene.motionscore.tempo_map_file = ""
        return {"FINISHED"}


CLASSES = (MOTIONSCORE_OT_export_tempo_map, MOTIONSCORE_OT_load_tempo_map, MOTIONSCORE_OT_clear_tempo_map)
