"""Ask Blender to redraw areas whose panels show a job's progress (main thread only)."""

import bpy


def tag_redraw(*area_types: str) -> None:
    """Tag every open area of these types (e.g. "VIEW_3D", "PREFERENCES") for a redraw."""
    wm = bpy.context.window_manager
    if wm is None:
        return
    for window in wm.windows:
        for area in window.screen.areas:
            if area.type in area_types:
                area.tag_redraw()
