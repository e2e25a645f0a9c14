"""Packaging: building the Blender extension zip (add-on, shared/ and bundled wheels)."""
