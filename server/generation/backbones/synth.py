"""`synth`: the procedural temp-track generator (:mod:`motionscore.shared.synth`) as a backbone.

The music itself is made in ``shared/``, which the Blender add-on's built-in engine calls too: this
adapter only fits it to the backbone interface, so a server take and a built-in take of the same
request are bit-identical.
"""

from __future__ import annotations

from motionscore.shared.synth import render

from .base import Backbone, Generation, GenerationRequest, ProgressFn, no_progress


class SynthBackbone(Backbone):
    """Procedural temp-track backbone: no weights, mono, already on the map's beats."""

    name = "synth"

    def __init__(self, **_ignored) -> None:
        pass

    @property
    def model_id(self) -> str:
        return "procedural"

    def generate(self, request: GenerationRequest, progress: ProgressFn = no_progress) -> Generation:
        take = render(request.rhythm, request.duration, request.sample_rate, genre=request.genre,
                      seed=request.seed, prompt=request.prompt, progress=progress)
        return Generation(audio=take.audio, sample_rate=request.sample_rate, genre=take.genre, notes=take.notes,
                          info=take.info)
