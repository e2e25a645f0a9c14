"""Pure Python + numpy code shared by the Blender add-on and the inference server.

Nothing here imports bpy, torch or zmq; only :mod:`.protocol` imports msgpack (bundled with the
add-on). Modules import each other relatively so the package also works when it is copied inside
the Blender extension.
"""

#: The project's version (pyproject.toml and the extension manifest say the same; a test checks).
__version__ = "0.1.0"
