"""Add-on preferences: where the server is, how long to wait, and auto-starting a local one."""

import os

import bpy
from bpy.props import BoolProperty, EnumProperty, FloatProperty, StringProperty

from .shared.client import ADDRESS_ENV, CLIENT_KEY_ENV, DEFAULT_ADDRESS, SERVER_KEY_ENV

ADDON_ID = __package__
#: The backbones whose weights the preferences can download (synth needs none).
PULL_BACKBONE_ITEMS = [("musicgen", "MusicGen", "facebook/musicgen-small and the t5-base text encoder"),
                       ("riffusion", "Riffusion", "riffusion/riffusion-model-v1"),
                       ("audioldm", "AudioLDM", "cvssp/audioldm-s-full-v2"),
                       ("stableaudio", "Stable Audio Open", "stabilityai/stable-audio-open-1.0 (gated: accept its "
                                                            "licence on the hub and log in first)")]


class MotionScorePreferences(bpy.types.AddonPreferences):
    bl_idname = ADDON_ID

    server_address: StringProperty(name="Server address", default=DEFAULT_ADDRESS,
                                   description=f"ZeroMQ address of the server (${ADDRESS_ENV} overrides it)")
    timeout: FloatProperty(name="Timeout (s)", default=10.0, min=1.0, max=600.0,
                           description="Give up when the server says nothing for this long")
    auto_start: BoolProperty(name="Start a local server", default=False,
                             description="Start `motionscore serve` when no server answers")
    server_key: StringProperty(name="Server key", subtype="FILE_PATH", default="",
                               description=f"A keyed server's public key, server.key (${SERVER_KEY_ENV} overrides it)")
    client_key: StringProperty(name="Client key", subtype="FILE_PATH", default="",
                               description=f"This machine's key pair, NAME.key_secret from `motionscore keys add` "
                                           f"(${CLIENT_KEY_ENV} overrides it)")
    server_python: StringProperty(name="Server Python", subtype="FILE_PATH", default="",
                                  description="Python of the environment that has motionscore installed "
                                              "(e.g. /path/to/motionscore/.venv/bin/python)")

    pull_backbone: EnumProperty(name="Backbone", items=PULL_BACKBONE_ITEMS, default="musicgen",
                                description="Whose model weights to download for a server on this computer")
    pull_running: BoolProperty(default=False, options={"SKIP_SAVE"})
    pull_progress: FloatProperty(default=0.0, min=0.0, max=1.0, subtype="FACTOR", options={"SKIP_SAVE"})
    pull_stage: StringProperty(default="", options={"SKIP_SAVE"})
    pull_error: StringProperty(default="", options={"SKIP_SAVE"})

    def draw(self, context):  # noqa: ARG002 - Blender's signature
        layout = self.layout
        layout.prop(self, "server_address")
        if os.environ.get(ADDRESS_ENV):
            layout.label(text=f"{ADDRESS_ENV} is set: {os.environ[ADDRESS_ENV]}", icon="INFO")
        layout.prop(self, "server_key")
        layout.prop(self, "client_key")
        for variable in (SERVER_KEY_ENV, CLIENT_KEY_ENV):
            if os.environ.get(variable):
                layout.label(text=f"{variable} is set: {os.environ[variable]}", icon="INFO")
        layout.prop(self, "timeout")
        layout.prop(self, "auto_start")
        layout.prop(self, "server_python")
        box = layout.box()
        box.label(text="Model weights for a server on this computer (ML backbones; synth needs none)")
        row = box.row()
        row.enabled = not self.pull_running and bool(self.server_python)
        row.prop(self, "pull_backbone", text="")
        row.operator("motionscore.pull_weights", icon="IMPORT").backbone = self.pull_backbone
        if self.pull_running:
            box.progress(factor=self.pull_progress, type="BAR", text=self.pull_stage or "downloading")
            box.operator("motionscore.cancel_pull", icon="CANCEL")
        elif self.pull_stage:
            box.label(text=self.pull_stage, icon="CHECKMARK")
        if self.pull_error:
            sub = box.row()
            sub.alert = True
            sub.label(text=self.pull_error, icon="ERROR")


def preferences(context=None):
    """The add-on's preferences, or None when it is not enabled as an add-on (e.g. in tests)."""
    context = context or bpy.context
    addon = context.preferences.addons.get(ADDON_ID)
    return addon.preferences if addon else None


def server_address(context=None) -> str:
    env = os.environ.get(ADDRESS_ENV)
    if env:
        return env
    prefs = preferences(context)
    return prefs.server_address if prefs else DEFAULT_ADDRESS


def key_files(context=None) -> tuple[str | None, str | None]:
    """(server public key, client key pair) files: the environment first, then the preferences."""
    prefs = preferences(context)
    out = []
    for variable, name in ((SERVER_KEY_ENV, "server_key"), (CLIENT_KEY_ENV, "client_key")):
        value = os.environ.get(variable) or (getattr(prefs, name) if prefs else "")
        out.append(bpy.path.abspath(value) if value else None)
    return out[0], out[1]


def request_timeout(context=None) -> float:
    prefs = preferences(context)
    return prefs.timeout if prefs else 10.0


CLASSES = (MotionScorePreferences,)
