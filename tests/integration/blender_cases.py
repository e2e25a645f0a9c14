"""Blender scenarios run in a fresh process with the PyPI bpy module (background mode).

Usage: python tests/integration/blender_cases.py CASE JSON_ARGS -> prints one JSON line "RESULT {...}".
Kept out of the pytest process: bpy is a whole Blender, and each case wants a clean one.
"""

from __future__ import annotations

import json
import math
import os
import sys
import tempfile


def build_rig_scene(frames=(1, 120), fps=24, fps_base=1.0, camera=True, names="metarig"):
    """A scene from scratch: a 13-bone human rig dancing at 120 BPM, a camera looking at it."""
    import bpy

    bpy.ops.wm.read_factory_settings(use_empty=True)
    scene = bpy.context.scene
    arm = bpy.data.armatures.new("Rig")
    obj = bpy.data.objects.new("Rig", arm)
    scene.collection.objects.link(obj)
    bpy.context.view_layer.objects.active = obj
    bpy.ops.object.mode_set(mode="EDIT")

    def bone(name, head, tail, parent=None):
        b = arm.edit_bones.new(name)
        b.head, b.tail = head, tail
        if parent:
            b.parent = arm.edit_bones[parent]

    head_name = "spine.006" if names == "metarig" else "mixamorig:Head"
    part = {"metarig": {"upper_arm": "upper_arm.{s}", "forearm": "forearm.{s}", "hand": "hand.{s}",
                        "thigh": "thigh.{s}", "shin": "shin.{s}", "foot": "foot.{s}"},
            "mixamo": {"upper_arm": "mixamorig:{S}Arm", "forearm": "mixamorig:{S}ForeArm", "hand": "mixamorig:{S}Hand",
                       "thigh": "mixamorig:{S}UpLeg", "shin": "mixamorig:{S}Leg", "foot": "mixamorig:{S}Foot"}}[names]
    bone("spine", (0, 0, 1), (0, 0, 1.4))
    bone(head_name, (0, 0, 1.5), (0, 0, 1.75), "spine")
    for s, side, x in (("L", "Left", 0.2), ("R", "Right", -0.2)):
        f = {k: v.format(s=s, S=side) for k, v in part.items()}
        bone(f["upper_arm"], (x, 0, 1.4), (2 * x, 0, 1.2), "spine")
        bone(f["forearm"], (2 * x, 0, 1.2), (3 * x, 0, 1.0), f["upper_arm"])
        bone(f["hand"], (3 * x, 0, 1.0), (3.3 * x, 0, 0.9), f["forearm"])
        bone(f["thigh"], (x / 2, 0, 1.0), (x / 2, 0, 0.55), "spine")
        bone(f["shin"], (x / 2, 0, 0.55), (x / 2, 0, 0.1), f["thigh"])
        bone(f["foot"], (x / 2, 0, 0.1), (x / 2, -0.15, 0.0), f["shin"])
    bpy.ops.object.mode_set(mode="POSE")
    scene.render.fps, scene.render.fps_base = fps, fps_base
    scene.frame_start, scene.frame_end = frames
    rate = fps / fps_base
    forearms = [b for b in obj.pose.bones if "forearm" in b.name.lower()]
    for frame in range(frames[0], frames[1] + 1):
        t = (frame - frames[0]) / rate
        beat = (t * 2) % 1.0  # 120 BPM: each move speeds up and stops dead on the beat
        sign = 1 if int(t * 2) % 2 else -1
        for pb in forearms:
            pb.rotation_mode = "XYZ"
            pb.rotation_euler = (0, 0, 1.2 * beat ** 2 * sign)
            pb.keyframe_insert("rotation_euler", frame=frame)
        spine = obj.pose.bones["spine"]
        spine.location = (0, 0, -0.1 * beat ** 2)
        spine.keyframe_insert("location", frame=frame)
    bpy.ops.object.mode_set(mode="OBJECT")
    if camera:
        cam = bpy.data.objects.new("Cam", bpy.data.cameras.new("Cam"))
        scene.collection.objects.link(cam)
        cam.location = (0, -6, 1)
        cam.rotation_euler = (math.radians(90), 0, 0)
        scene.camera = cam
    bpy.context.view_layer.update()
    return scene, obj


def install(zip_path):
    import addon_utils
    import bpy

    result = bpy.ops.extensions.package_install_files(filepath=zip_path, repo="user_default", enable_on_install=True)
    assert result == {"FINISHED"}, result
    addon_utils.enable("bl_ext.user_default.motionscore", default_set=True)
    assert hasattr(bpy.types, "MOTIONSCORE_OT_score_animation")


def strips_info(scene, strips=None):
    """The top-level strips (or ``strips``); a meta strip's own strips under "parts"."""
    import bpy

    editor = scene.sequence_editor
    out = []
    for s in (strips if strips is not None else editor.strips if editor else []):
        info = {"name": s.name, "type": s.type, "channel": s.channel, "start": s.frame_final_start,
                "end": s.frame_final_end, "duration": s.frame_final_duration, "mute": s.mute,
                "props": {k: (v if isinstance(v, (int, float, str)) else str(v)) for k, v in s.items()}}
        if s.type == "META":
            info["parts"] = strips_info(scene, s.strips)
            info["path"] = bpy.path.abspath(s["motionscore_mix"])
        else:
            info["path"] = bpy.path.abspath(s.sound.filepath)
        info["file"] = os.path.exists(info["path"])
        out.append(info)
    return out


#: What Blender does not ship, and the server package: the built-in engine must never import them.
BLOCKED_FOR_BUILTIN = ("torch", "librosa", "scipy", "soundfile", "motionscore.server")


class _Blocker:
    """An import hook that refuses ``names`` (and their submodules), as a stock Blender would."""

    def __init__(self, names):
        self.names = tuple(names)
        self.refused = []

    def find_spec(self, name, path=None, target=None):  # noqa: ARG002 - the finder protocol
        if any(name == n or name.startswith(n + ".") for n in self.names):
            self.refused.append(name)
            raise ImportError(f"{name} is blocked: Blender does not ship it")
        return None


def case_builtin(args):
    """Built-in takes with torch/librosa/scipy/soundfile/motionscore.server (and, when asked, the
    extension's own pyzmq and msgpack wheels) unimportable, nothing listening at the address."""
    import time

    blocker = _Blocker(BLOCKED_FOR_BUILTIN + tuple(args.get("also_block", ())))
    sys.meta_path.insert(0, blocker)
    for name in list(sys.modules):
        if any(name == n or name.startswith(n + ".") for n in blocker.names):
            del sys.modules[name]
    import bpy

    install(args["zip"])
    os.environ["MOTIONSCORE_SERVER"] = args["server"]
    scene, _ = build_rig_scene(frames=tuple(args.get("frames", (1, 120))))
    install(args["zip"])
    for name, frame in args.get("markers", []):
        scene.timeline_markers.new(name, frame=frame)
    settings = scene.motionscore
    settings.engine = args.get("engine", "AUTO")
    settings.variations = args.get("variations", 1)
    settings.seed = args.get("seed", 0)
    settings.genre = args.get("genre", "AUTO")
    settings.backbone = args.get("backbone", "")
    settings.tempo = args.get("tempo", 0.0)
    settings.meter = args.get("meter", "AUTO")
    settings.beat_markers = bool(args.get("beat_markers", False))
    settings.stems = bool(args.get("stems", False))
    if args.get("blend"):
        bpy.ops.wm.save_as_mainfile(filepath=args["blend"])
    started = time.perf_counter()
    try:
        run = sorted(bpy.ops.motionscore.score_animation(mode=args.get("mode", "AUTO")))
    except RuntimeError as exc:
        run = ["RuntimeError", str(exc)]
    seconds = time.perf_counter() - started
    loaded = sorted(n for n in sys.modules if any(n == b or n.startswith(b + ".") for b in blocker.names))
    return {"run": run, "seconds": seconds, "error": settings.last_error, "strips": strips_info(scene),
            "markers": sorted([m.name, m.frame] for m in scene.timeline_markers), "summary": settings.last_map,
            "fps": scene.render.fps / scene.render.fps_base, "frame_start": scene.frame_start,
            "loaded_blocked": loaded, "refused": sorted(set(blocker.refused)),
            "alignment": settings.last_alignment}


def case_pull(args):
    """Download weights from the preferences, through the server environment's `models pull`."""
    import importlib
    import time

    import bpy

    build_rig_scene(frames=(1, 24))
    install(args["zip"])
    prefs = bpy.context.preferences.addons["bl_ext.user_default.motionscore"].preferences
    prefs.server_python = args.get("server_python", "")
    pull = importlib.import_module("bl_ext.user_default.motionscore.model_pull")
    try:
        status = sorted(bpy.ops.motionscore.pull_weights(backbone=args["backbone"], mode=args.get("mode", "AUTO")))
    except RuntimeError as exc:
        status = ["RuntimeError", str(exc)]
    progress = []
    deadline = time.monotonic() + 120.0
    while args.get("mode") == "ASYNC" and pull.poll_pull() is not None and time.monotonic() < deadline:
        progress.append(round(prefs.pull_progress, 3))
        time.sleep(0.05)
    return {"status": status, "running": prefs.pull_running, "progress": prefs.pull_progress,
            "stage": prefs.pull_stage, "error": prefs.pull_error, "progress_seen": sorted(set(progress))}


def case_score(args):
    import bpy

    install(args["zip"])
    os.environ["MOTIONSCORE_SERVER"] = args["server"]
    frames = tuple(args.get("frames", (1, 120)))
    scene, _ = build_rig_scene(frames=frames, fps=args.get("fps", 24), fps_base=args.get("fps_base", 1.0),
                               camera=args.get("camera", True), names=args.get("names", "metarig"))
    install(args["zip"])  # factory settings reset the add-ons
    if "timeout" in args:
        bpy.context.preferences.addons["bl_ext.user_default.motionscore"].preferences.timeout = args["timeout"]
    if args.get("blend"):
        bpy.ops.wm.save_as_mainfile(filepath=args["blend"])
    scene.motionscore.seed = 5
    scene.motionscore.prompt = "with congas"
    scene.motionscore.engine = args.get("engine", "SERVER")
    scene.motionscore.variations = args.get("variations", 1)
    if args.get("preview"):
        scene.use_preview_range = True
        scene.frame_preview_start, scene.frame_preview_end = args["preview"]
    runs = []
    for _ in range(args.get("runs", 1)):
        try:
            runs.append(sorted(bpy.ops.motionscore.score_animation()))
        except RuntimeError as exc:  # Blender turns an operator's ERROR report into this, for scripts
            runs.append(["RuntimeError", str(exc)])
    return {"runs": runs, "strips": strips_info(scene), "error": scene.motionscore.last_error,
            "fps": scene.render.fps / scene.render.fps_base, "range": [scene.frame_start, scene.frame_end]}


def case_async(args):
    """The UI path: submit, then pump the timer callback by hand (timers never run headless), with
    the server or (``engine`` BUILTIN) the built-in engine's worker thread."""
    import importlib
    import time

    import bpy

    install(args["zip"])
    os.environ["MOTIONSCORE_SERVER"] = args["server"]
    scene, _ = build_rig_scene(frames=tuple(args.get("frames", (1, 96))))
    install(args["zip"])
    scene.motionscore.engine = args.get("engine", "AUTO")
    ops = importlib.import_module("bl_ext.user_default.motionscore.operators")
    assert bpy.ops.motionscore.score_animation(mode="ASYNC") == {"FINISHED"}
    # Only the timer callback (main thread, pumped below) ends a job, so a job still marked running
    # here proves the operator returned without waiting for the server, however slow the machine.
    running_at_return = bool(scene.motionscore.running)
    progress, polls = [], 0
    deadline = time.monotonic() + 120.0  # a loaded CI machine can be slow; never hang forever
    while ops.poll_active() is not None and time.monotonic() < deadline:
        polls += 1
        progress.append(scene.motionscore.progress)
        if args.get("cancel_after") and polls == args["cancel_after"]:
            bpy.ops.motionscore.cancel()
        time.sleep(0.01)
    return {"running_at_return": running_at_return, "running": scene.motionscore.running, "polls": polls,
            "progress_seen": sorted(set(round(p, 2) for p in progress)), "error": scene.motionscore.last_error,
            "strips": strips_info(scene)}


def case_fit_song(args):
    """Fit a song file onto the rig's beats through the server; the take lands as a strip with markers."""
    import bpy
    import numpy as np
    import soundfile as sf

    install(args["zip"])
    os.environ["MOTIONSCORE_SERVER"] = args["server"]
    scene, _ = build_rig_scene(frames=(1, 24 * 8))
    install(args["zip"])
    scene.motionscore.engine = args.get("engine", "AUTO")
    rate = 44100
    t = np.arange(int(args.get("song_s", 12.0) * rate)) / rate
    song = 0.1 * np.sin(2 * np.pi * 220 * t)
    for beat in np.arange(0.2, t[-1] - 0.2, 60 / 126):
        i = int(beat * rate)
        song[i:i + 2000] += np.sin(2 * np.pi * 60 * np.arange(2000) / rate) * np.exp(-np.arange(2000) / 400)
    path = os.path.join(tempfile.mkdtemp(), "my song.flac")
    sf.write(path, song, rate)
    try:
        status = sorted(bpy.ops.motionscore.fit_song(filepath=path, loop=args.get("loop", False)))
    except RuntimeError as exc:
        status = ["RuntimeError", str(exc)]
    return {"status": status, "error": scene.motionscore.last_error, "strips": strips_info(scene),
            "markers": len(scene.timeline_markers), "map": scene.motionscore.last_map}


def case_midi(args):
    """Built-in takes: export the take's tempo map as MIDI, then load a composer's map for the next take."""
    import mido
    import bpy

    install(args["zip"])
    scene, _ = build_rig_scene(frames=(1, 24 * 10))
    install(args["zip"])
    folder = tempfile.mkdtemp()
    bpy.ops.wm.save_as_mainfile(filepath=os.path.join(folder, "shot.blend"))
    scene = bpy.context.scene
    scene.motionscore.engine = "BUILTIN"
    scene.timeline_markers.new("hit punch", frame=1 + 24 * 4)
    assert bpy.ops.motionscore.score_animation() == {"FINISHED"}
    assert bpy.ops.motionscore.export_tempo_map() == {"FINISHED"}
    exported = os.path.splitext(bpy.path.abspath(scene.motionscore.last_file))[0] + ".mid"
    markers = [m.text for m in mido.MidiFile(exported).tracks[0] if m.type == "marker"]
    again = bpy.ops.motionscore.export_tempo_map.poll() and "exists"
    try:
        bpy.ops.motionscore.export_tempo_map()
    except RuntimeError as exc:
        again = str(exc)
    composer = os.path.join(folder, "composer.mid")
    midi = mido.MidiFile(type=1, ticks_per_beat=480)
    midi.tracks.append(mido.MidiTrack([mido.MetaMessage("time_signature", numerator=3, denominator=4),
                                       mido.MetaMessage("set_tempo", tempo=mido.bpm2tempo(90))]))
    midi.save(composer)
    assert bpy.ops.motionscore.load_tempo_map(filepath=composer) == {"FINISHED"}
    assert bpy.ops.motionscore.score_animation() == {"FINISHED"}
    loaded_map = scene.motionscore.last_map
    bpy.ops.motionscore.clear_tempo_map()
    return {"exported": os.path.exists(exported), "markers": markers, "again": again, "loaded_map": loaded_map,
            "cleared": scene.motionscore.tempo_map_file, "strips": len(strips_info(scene))}


def case_autostart(args):
    """Preferences ask for a local server: the operator starts one and scores through it."""
    import importlib

    import bpy

    build_rig_scene(frames=(1, 48))
    install(args["zip"])
    prefs = bpy.context.preferences.addons["bl_ext.user_default.motionscore"].preferences
    prefs.server_address, prefs.auto_start, prefs.server_python = args["address"], True, sys.executable
    ops = importlib.import_module("bl_ext.user_default.motionscore.operators")
    try:
        status = sorted(bpy.ops.motionscore.score_animation())
    finally:
        if ops.started_server is not None:
            ops.started_server.terminate()
            ops.started_server.wait(10)
    return {"status": status, "started": ops.started_server is not None, "strips": strips_info(bpy.context.scene)}


class _OperatorProperties:
    """Stands in for the properties a layout's operator() returns: only the operator's own ones."""

    def __init__(self, operator, idname, log):
        object.__setattr__(self, "_names", set(operator.get_rna_type().properties.keys()))
        object.__setattr__(self, "_idname", idname)
        object.__setattr__(self, "_log", log)

    def __setattr__(self, name, value):
        assert name in self._names, f"{self._idname} has no property {name}"
        self._log.append(("operator_property", self._idname, name, value))


class _Recorder:
    """Stands in for a UILayout: checks every property and operator the panel draws exists."""

    def __init__(self, log):
        self.log = log
        self.enabled = self.alert = True

    def _sub(self, *a, **k):
        return _Recorder(self.log)

    column = row = box = _sub

    def prop(self, data, name, **kw):
        assert hasattr(data, name), name
        self.log.append(("prop", name))

    def operator(self, idname, **kw):
        module, name = idname.split(".")
        import bpy

        assert hasattr(bpy.types, f"{module.upper()}_OT_{name}"), idname
        self.log.append(("operator", idname))
        return _OperatorProperties(getattr(getattr(bpy.ops, module), name), idname, self.log)

    def label(self, text="", **kw):
        self.log.append(("label", text))

    def progress(self, factor=0.0, type="BAR", text=""):
        self.log.append(("progress", round(factor, 2), text))


def case_panel(args):
    import types

    import bpy

    build_rig_scene()
    install(args["zip"])
    settings = bpy.context.scene.motionscore
    logs = {}
    for state in ("idle", "running", "error", "alternatives"):
        settings.running = state == "running"
        settings.progress, settings.stage = (0.4, "generating") if state == "running" else (0.0, "")
        settings.last_error = "no motionscore server answered" if state == "error" else ""
        # After a take whose motion also fits two other tempi.
        settings.last_map = "113 BPM, 4/4, steady" if state == "alternatives" else ""
        settings.last_alternatives = (119.7, 128.4) if state == "alternatives" else (0.0, 0.0)
        log = []
        panel = types.SimpleNamespace(layout=_Recorder(log))
        bpy.types.MOTIONSCORE_PT_view3d.draw(panel, bpy.context)
        logs[state] = log
    return {name: [list(entry) for entry in log] for name, log in logs.items()}


def case_save_scene(args):
    import bpy

    build_rig_scene()
    bpy.ops.wm.save_as_mainfile(filepath=args["blend"])
    return {"saved": args["blend"]}


def case_projection(args):
    """Our numpy projection against Blender's world_to_camera_view for many camera settings."""
    import bpy
    import numpy as np
    from bpy_extras.object_utils import world_to_camera_view

    from motionscore.blender_addon.projection import project

    scene, obj = build_rig_scene()
    cam = scene.camera
    rng = np.random.default_rng(0)
    points = rng.uniform([-2, -2, -1], [2, 3, 3], (200, 3))
    worst = 0.0
    settings = [dict(), dict(type="ORTHO", ortho_scale=5.0), dict(shift_x=0.2, shift_y=-0.1),
                dict(sensor_fit="VERTICAL"), dict(lens=18.0), dict(pixel=(2.0, 1.0)), dict(res=(720, 1280)),
                dict(percentage=50)]
    for s in settings:
        cam.data.type = s.get("type", "PERSP")
        cam.data.ortho_scale = s.get("ortho_scale", 6.0)
        cam.data.shift_x, cam.data.shift_y = s.get("shift_x", 0.0), s.get("shift_y", 0.0)
        cam.data.sensor_fit = s.get("sensor_fit", "AUTO")
        cam.data.lens = s.get("lens", 50.0)
        scene.render.pixel_aspect_x, scene.render.pixel_aspect_y = s.get("pixel", (1.0, 1.0))
        scene.render.resolution_x, scene.render.resolution_y = s.get("res", (1920, 1080))
        scene.render.resolution_percentage = s.get("percentage", 100)
        cam.rotation_euler = (math.radians(80), 0.1, 0.2)
        bpy.context.view_layer.update()
        depsgraph = bpy.context.evaluated_depsgraph_get()
        w = scene.render.resolution_x * scene.render.resolution_percentage / 100
        h = scene.render.resolution_y * scene.render.resolution_percentage / 100
        view = np.array(cam.matrix_world.inverted())[None]
        proj = np.array(cam.calc_matrix_camera(depsgraph, x=scene.render.resolution_x, y=scene.render.resolution_y,
                                               scale_x=scene.render.pixel_aspect_x,
                                               scale_y=scene.render.pixel_aspect_y))[None]
        pixels, conf = project(points[None], view, proj, w, h)
        for p, px, c in zip(points, pixels[0], conf[0]):
            ref = world_to_camera_view(scene, cam, __import__("mathutils").Vector(p))
            if ref.z <= 0:
                assert c == 0.0, (s, p)
                continue
            expected = np.array([ref.x * w, (1 - ref.y) * h])
            worst = max(worst, float(np.abs(px - expected).max() / max(w, h)))
            inside = 0 <= ref.x <= 1 and 0 <= ref.y <= 1
            assert (c == 1.0) == inside, (s, p, c, ref)
    return {"worst_relative_error": worst}


def case_channels(args):
    scene, _ = build_rig_scene(camera=False)
    editor = scene.sequence_editor_create()
    strips = editor.strips if hasattr(editor, "strips") else editor.sequences
    strips.new_effect(name="a", type="COLOR", channel=1, frame_start=1, length=50)
    strips.new_effect(name="b", type="COLOR", channel=2, frame_start=40, length=50)
    strips.new_effect(name="c", type="COLOR", channel=3, frame_start=200, length=50)
    from motionscore.blender_addon.sequencer import free_channel

    return {"overlap_1_60": free_channel(editor, 1, 60), "after_100": free_channel(editor, 100, 150),
            "overlap_30_45": free_channel(editor, 30, 45)}


def case_place_results(args):
    """The add-on's handling of a take whose map has alternative tempi (and of one without)."""
    import types

    import bpy
    import numpy as np

    from motionscore.blender_addon.operators import _place_results
    from motionscore.blender_addon.sequencer import SequencerError
    from motionscore.shared.options import ScoreOptions
    from motionscore.shared.take_record import TakeMetrics, TakeRecord

    scene, _ = build_rig_scene()
    install(args["zip"])
    sampled = types.SimpleNamespace(frame_start=scene.frame_start, frame_end=scene.frame_end, motion=None)
    metrics = TakeMetrics(music_tempo_bpm=113.0, motion_tempo_bpm=112.7, tempo_difference_bpm=0.3, music_beats=4,
                          kinematic_beats=4, music_beats_s=[0.5, 1.03, 1.56, 2.1], alignment=0.9, bcs=0.9, bhs=0.9,
                          f1=0.9, tolerance_s=0.2)
    out = {}
    for name, alternatives in (("two", [119.7, 128.4]), ("none", [])):
        tempo_map = {"tempo_bpm": 112.7, "summary": "113 BPM, 4/4, steady", "beats_s": [0.5, 1.03, 1.56, 2.1],
                     "downbeats": [0], "alternatives_bpm": alternatives}
        if alternatives:  # a take whose map does not suit the genre named (scoring.finish's note)
            tempo_map["genre_note"] = "113 BPM is fast for Waltz (84-90 BPM)"
        record = TakeRecord(duration_s=1.0, num_samples=22050, sample_rate=22050, channels=1, frames=24, fps=24.0,
                            genre="WZ", prompt="", seed=0, backbone="musicgen", model_id="tiny", rhythm_mode="default",
                            negative_motion=False, beat_lock=True, kinematic_beats_s=[], beats_s=tempo_map["beats_s"],
                            tempo_map=tempo_map, metrics=metrics, notes=[], backbone_info={})
        result = types.SimpleNamespace(audio=np.zeros(22050, dtype=np.float32), sample_rate=22050,
                                       metadata=record.to_wire())
        reports = []
        _place_results(scene, [(result, ScoreOptions())], sampled,
                       lambda kind, text: reports.append(f"{','.join(sorted(kind))} {text}"))
        settings = scene.motionscore
        out[name] = {"last_alternatives": [round(b, 3) for b in settings.last_alternatives],
                     "last_tempo": settings.last_tempo, "reports": reports,
                     "last_take_backbone": json.loads(settings.last_take_record)["backbone"]}
    foreign = types.SimpleNamespace(audio=np.zeros(22050, dtype=np.float32), sample_rate=22050,
                                    metadata={"tempo_map": {}, "metrics": None})
    try:
        _place_results(scene, [(foreign, ScoreOptions())], sampled, lambda kind, text: None)
        out["foreign"] = "placed"
    except SequencerError as exc:
        out["foreign"] = str(exc)
    bpy.ops.motionscore.use_tempo(bpm=119.7)
    out["tempo_after_use"] = round(scene.motionscore.tempo, 3)
    return out


def case_hits(args):
    """A keyframed rig at 120 BPM with two 'hit' markers off its beat grid and a marker of the user's
    own; scored twice (the second take replaces the add-on's bar markers, never the user's)."""
    import bpy

    from motionscore.server.analysis.metrics import track_music_beats

    install(args["zip"])
    os.environ["MOTIONSCORE_SERVER"] = args["server"]
    scene, _ = build_rig_scene(frames=(1, 240), fps=24)
    install(args["zip"])
    for name, frame in args["markers"]:
        scene.timeline_markers.new(name, frame=frame)
    settings = scene.motionscore
    settings.beat_markers = bool(args.get("beat_markers", False))
    settings.genre = args.get("genre", "AUTO")
    runs, takes = [], []
    for _ in range(2):
        runs.append(sorted(bpy.ops.motionscore.score_animation()))
        strip = strips_info(scene)[-1]
        import soundfile as sf

        audio, rate = sf.read(strip["path"], dtype="float32")
        takes.append([float(b) for b in track_music_beats(audio, rate)[1]])
    before_scale = settings.tempo
    bpy.ops.motionscore.scale_tempo(factor=0.5)
    after_halving = settings.tempo
    bpy.ops.motionscore.use_tempo(bpm=121.5)
    return {"runs": runs, "music_beats": takes, "fps": 24, "frame_start": scene.frame_start,
            "markers": sorted([m.name, m.frame] for m in scene.timeline_markers),
            "summary": settings.last_map, "last_tempo": settings.last_tempo,
            "last_alternatives": list(settings.last_alternatives),
            "tempo_before": before_scale, "tempo_after_halving": after_halving, "tempo_used": settings.tempo}


def case_keyed(args):
    """Score through a keyed server with the key files set in the add-on's preferences."""
    import bpy

    install(args["zip"])
    os.environ["MOTIONSCORE_SERVER"] = args["server"]
    scene, _ = build_rig_scene()
    install(args["zip"])
    prefs = bpy.context.preferences.addons["bl_ext.user_default.motionscore"].preferences
    prefs.server_key, prefs.client_key = args.get("server_key", ""), args.get("client_key", "")
    prefs.timeout = 5.0
    try:
        run = sorted(bpy.ops.motionscore.score_animation())
    except RuntimeError as exc:
        run = ["RuntimeError", str(exc)]
    return {"run": run, "error": scene.motionscore.last_error, "strips": strips_info(scene)}


def case_no_audio(args):
    """A Blender without Audaspace: new_sound raises, as in the PyPI bpy 4.2 module."""
    import sys as _sys

    import bpy

    install(args["zip"])
    os.environ["MOTIONSCORE_SERVER"] = args["server"]
    scene, _ = build_rig_scene()
    install(args["zip"])
    scene.timeline_markers.new("hit", frame=30)
    sequencer = _sys.modules["bl_ext.user_default.motionscore.sequencer"]

    class NoAudio:
        def __init__(self, strips):
            self._strips = strips

        def new_sound(self, **kwargs):
            raise RuntimeError("Error: Blender compiled without Audaspace support")

        def __iter__(self):
            return iter(self._strips)

        def __getattr__(self, name):
            return getattr(self._strips, name)

    if args.get("no_editor") and scene.sequence_editor is not None:
        scene.sequence_editor_clear()
    editor_before = scene.sequence_editor is not None
    real = sequencer._strips
    sequencer._strips = lambda editor: NoAudio(real(editor))
    try:
        run = sorted(bpy.ops.motionscore.score_animation())
    except RuntimeError as exc:
        run = ["RuntimeError", str(exc)]
    folder = os.path.join(tempfile.gettempdir(), "motionscore")
    return {"run": run, "error": scene.motionscore.last_error, "editor_before": editor_before,
            "has_editor": scene.sequence_editor is not None, "strips": strips_info(scene),
            "markers": sorted([m.name, m.frame] for m in scene.timeline_markers),
            "wavs": sorted(os.path.join(folder, n) for n in os.listdir(folder)) if os.path.isdir(folder) else []}


def main():
    os.environ.setdefault("BLENDER_USER_RESOURCES", tempfile.mkdtemp(prefix="motionscore-blender-"))
    case, args = sys.argv[1], json.loads(sys.argv[2])
    result = globals()[f"case_{case}"](args)
    print("RESULT " + json.dumps(result))


if __name__ == "__main__":
    main()
