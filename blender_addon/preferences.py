"""Add-on preferences: where the server is, how long to wait, and auto-starting a local one."""

import os

import bpy
from bpy.props import BoolProperty, FloatProperty, StringProperty

from .shared.client import ADDRESS_ENV, CLIENT_KEY_ENV, DEFAULT_ADDRESS, SERVER_KEY_ENV

ADDON_ID = __package__


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
        row = layout.row()
        row.enabled = self.auto_start
        row.prop(self, "server_python")


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
