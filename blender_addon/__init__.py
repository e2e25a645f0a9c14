"""motionscore for Blender: "Score this animation" turns an armature's motion into music on the
Video Sequencer, with the built-in engine or through a motionscore server. bpy glue only: this
package never imports torch.
"""

from __future__ import annotations


def register() -> None:
    import bpy

    from . import model_pull, operators, panel, preferences, properties, tempo_files

    properties.register()
    for cls in preferences.CLASSES + operators.CLASSES + tempo_files.CLASSES + model_pull.CLASSES + panel.CLASSES:
        bpy.utils.register_class(cls)


def unregister() -> None:
    import bpy

    from . import model_pull, operators, panel, preferences, properties, tempo_files

    operators.shutdown()
    model_pull.shutdown()
    for cls in reversed(preferences.CLASSES + operators.CLASSES + tempo_files.CLASSES + model_pull.CLASSES + panel.CLASSES):
        bpy.utils.unregister_class(cls)
    properties.unregister()
