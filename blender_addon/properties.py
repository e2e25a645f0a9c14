"""Per-scene settings and state of the add-on (``scene.motionscore``)."""

import bpy
from bpy.props import BoolProperty, EnumProperty, FloatProperty, FloatVectorProperty, IntProperty, StringProperty

from .mapping import PRESET_NAMES
from .shared.genres import BALLROOM, GENRES
from .shared.tempo_map import ALTERNATIVES

GENRE_ITEMS = [("AUTO", "Automatic", "Let the server choose (the motion's tempo decides)")] + [
    (code, name, f"AIST++ genre {code}") for code, name in GENRES] + [
    (code, name, f"Ballroom, {lo:g}-{hi:g} BPM in {meter}/4: the tempo map's range and meter")
    for code, name, (lo, hi), meter in BALLROOM]
PRESET_ITEMS = [("AUTO", "Automatic", "Detect the rig's naming"),
                ("DEFORM", "Deform bones", "Use every deform bone (any rig)")] + [
    (name, name.title(), f"{name.title()} bone names") for name in PRESET_NAMES]


class MotionScoreSettings(bpy.types.PropertyGroup):
    genre: EnumProperty(name="Genre", items=GENRE_ITEMS, default="AUTO")
    prompt: StringProperty(name="Prompt", description="Free text that steers the music (ML backbones)", default="")
    seed: IntProperty(name="Seed", min=0, default=0, description="Same seed, same motion: same music")
    engine: EnumProperty(name="Engine", default="AUTO", items=[
        ("AUTO", "Automatic", "The server when one answers, otherwise the built-in engine"),
        ("BUILTIN", "Built-in", "Make the synth's music inside Blender: no server, no downloads"),
        ("SERVER", "Server", "Always use the motionscore server (ML backbones, beat metrics)")])
    backbone: StringProperty(name="Backbone", default="",
                             description="Backbone the server must run (empty: whatever it runs)")
    variations: IntProperty(name="Variations", min=1, max=8, default=1,
                            description="Takes to make, with seeds seed, seed+1, ...")
    beat_lock: EnumProperty(name="Beat lock", default="AUTO", items=[
        ("AUTO", "Automatic", "On for the ML backbones, off for synth (already on the beat)"),
        ("ON", "On", "Time-warp the music onto the motion's beats (at most 8 % locally)"),
        ("OFF", "Off", "Keep the music as generated")])
    tempo: FloatProperty(name="Tempo", min=0.0, max=300.0, default=0.0, precision=1,
                         description="BPM the next take must use (0: estimate it from the motion)")
    meter: EnumProperty(name="Meter", default="AUTO", items=[
        ("AUTO", "Automatic", "A ballroom genre's meter; else 3/4 where the body's rise and fall repeats "
                              "every three beats, else 4/4"),
        ("4", "4/4", "Four beats per bar"), ("3", "3/4", "Three beats per bar")])
    stems: BoolProperty(name="Stems", default=False,
                        description="Synth takes: each part (drums, bass, chords) on its own channel, grouped "
                                    "with the take in a meta strip (the parts sum to the take)")
    beat_markers: BoolProperty(name="Beat markers", default=False,
                               description="Also mark every beat on the timeline, not only the bars")
    bone_preset: EnumProperty(name="Bones", items=PRESET_ITEMS, default="AUTO")
    bone_mapping: StringProperty(name="Bone mapping", default="",
                                 description='JSON overrides, e.g. {"left_wrist": "hand.L"}')
    # State shown in the panel
    running: BoolProperty(default=False, options={"SKIP_SAVE"})
    progress: FloatProperty(default=0.0, min=0.0, max=1.0, subtype="FACTOR", options={"SKIP_SAVE"})
    stage: StringProperty(default="", options={"SKIP_SAVE"})
    last_error: StringProperty(default="")
    last_alignment: FloatProperty(default=-1.0)
    last_file: StringProperty(default="", subtype="FILE_PATH")
    last_map: StringProperty(default="", description="The last take's tempo map in one line")
    last_tempo: FloatProperty(default=0.0, description="The last take's tempo (BPM)")
    last_take_record: StringProperty(default="", description="The last take's record (JSON), for batch jobs")
    last_map_record: StringProperty(default="", description="The last take's tempo map (JSON), for the MIDI export")
    tempo_map_file: StringProperty(name="Tempo map", default="", subtype="FILE_PATH",
                                   description="A composer's MIDI tempo map the next takes follow instead of the "
                                               "motion's (Load tempo map...)")
    last_alternatives: FloatVectorProperty(size=ALTERNATIVES, default=(0.0,) * ALTERNATIVES,
                                           description="Other tempi the last take's motion also fits (BPM; 0: none)")


CLASSES = (MotionScoreSettings,)


def register() -> None:
    for cls in CLASSES:
        bpy.utils.register_class(cls)
    bpy.types.Scene.motionscore = bpy.props.PointerProperty(type=MotionScoreSettings)


def unregister() -> None:
    del bpy.types.Scene.motionscore
    for cls in reversed(CLASSES):
        bpy.utils.unregister_class(cls)
