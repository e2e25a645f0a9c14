"""The motionscore inference server (never imports bpy), in packages by role: serving, generation,
model, training, evaluation, packaging; ``cli`` is the command line on top."""

from motionscore.shared import __version__

__all__ = ["__version__"]
