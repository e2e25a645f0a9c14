"""The motionscore inference server (never imports bpy), in packages by role: serving, generation,
model, training, evaluation, packaging; ``cli`` is the command line on top."""

__version__ = "0.1.0"
