"""The motionscore inference server, backbones, metrics and command line (never imports bpy)."""

__version__ = "0.1.0"
