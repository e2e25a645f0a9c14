"""The synth, the default music of both engines: a procedural temp track on the tempo map.

:mod:`.arrangement` arranges a style onto the map's beats and bars, :mod:`.styles` holds the genres'
patterns, :mod:`.voices` the instruments. Pure numpy: it runs inside Blender's own Python.
"""

from .arrangement import SynthTake, choose_genre, num_samples, render

__all__ = ["SynthTake", "choose_genre", "num_samples", "render"]
