"""The motionscore Blender extension (bpy glue only; never imports torch).

Not built yet: the add-on ("Score this animation") is the next milestone. Its protocol client
already exists in :mod:`motionscore.shared.client` and will be bundled inside the extension.
"""
