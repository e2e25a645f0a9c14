"""Music backbones behind one interface (:mod:`.base`) and a registry to load them by name."""

from __future__ import annotations

import logging
from importlib import import_module

from .base import Backbone, Cancelled, Generation, GenerationRequest, ProgressFn, no_progress

# audiocraft imports xformers at module top; its prebuilt kernels never match a current torch and it
# warns about it on every start, but audiocraft's default 'torch' attention does not use them. Set
# here, in the package every backbone module sits in, so it holds before any of them imports audiocraft.
logging.getLogger("xformers").setLevel(logging.ERROR)


class _DropDeprecatedPipelineNotice(logging.Filter):
    """diffusers marks AudioLDMPipeline deprecated and says so on every load; it still works and
    is the AudioLDM backbone on purpose (README, Backbones), so the notice is noise to users."""

    def filter(self, record: logging.LogRecord) -> bool:
        return "has been deprecated and will not receive" not in record.getMessage()


logging.getLogger("diffusers.pipelines.pipeline_utils").addFilter(_DropDeprecatedPipelineNotice())

#: name -> "module:Class"; modules are imported only when asked for (the ML ones import torch).
REGISTRY: dict[str, str] = {
    "synth": "motionscore.server.generation.backbones.synth:SynthBackbone",
    "musicgen": "motionscore.server.generation.backbones.musicgen:MusicGenBackbone",
    "riffusion": "motionscore.server.generation.backbones.riffusion:RiffusionBackbone",
    "audioldm": "motionscore.server.generation.backbones.audioldm:AudioLDMBackbone",
    "stableaudio": "motionscore.server.generation.backbones.stableaudio:StableAudioBackbone",
}


class UnknownBackboneError(ValueError):
    """A backbone name that is not in the registry."""


def available_backbones() -> list[str]:
    return sorted(REGISTRY)


def load_backbone(name: str, **options) -> Backbone:
    """Instantiate a backbone by registry name; ``options`` go to its constructor."""
    try:
        target = REGISTRY[name]
    except KeyError:
        raise UnknownBackboneError(
            f"unknown backbone {name!r}; available: {', '.join(available_backbones())}") from None
    module_name, class_name = target.split(":")
    if name != "synth":
        from motionscore.server.model.weights import stay_offline

        stay_offline()  # weights come from the cache or a folder; `motionscore models pull` fetches them
    return getattr(import_module(module_name), class_name)(**options)


__all__ = ["Backbone", "Cancelled", "Generation", "GenerationRequest", "ProgressFn", "no_progress",
           "REGISTRY", "UnknownBackboneError", "available_backbones", "load_backbone"]
