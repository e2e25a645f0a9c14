"""motionscore for Blender: "Score this animation" turns an armature's motion into music on the
Video Sequencer, through a local motionscore server. bpy glue only: this package never imports torch.
"""

from __future__ import annotations


def register() -> None:
    import bpy

    from . import operators, panel, preferences, properties

    properties.register()
    for cls in preferences.CLASSES + operators.CLASSES + panel.CLASSES:
        bpy.utils.register_class(cls)


def unregister() -> None:
    import bpy

    from . import operators, panel, preferences, properties

    operators.shutdown()
    for cls in reversed(preferences.CLASSES + operators.CLASSES + panel.CLASSES):
        bpy.utils.unregister_class(cls)
    properties.unregister()
