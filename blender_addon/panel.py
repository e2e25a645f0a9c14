"""The "Motion Score" sidebar tab in the Video Sequencer and the 3D View."""

from __future__ import annotations

import bpy


class _MotionScorePanel:
    bl_region_type = "UI"
    bl_category = "Motion Score"
    bl_label = "Motion Score"

    def draw(self, context):
        layout = self.layout
        settings = context.scene.motionscore
        col = layout.column()
        col.enabled = not settings.running
        col.prop(settings, "genre")
        col.prop(settings, "prompt")
        row = col.row(align=True)
        row.prop(settings, "seed")
        row.prop(settings, "variations")
        col.prop(settings, "engine")
        col.prop(settings, "backbone")
        col.prop(settings, "beat_lock")
        row = col.row(align=True)
        row.prop(settings, "tempo")
        row.operator("motionscore.scale_tempo", text="x2").factor = 2.0
        row.operator("motionscore.scale_tempo", text="x1/2").factor = 0.5
        row = col.row(align=True)
        row.prop(settings, "meter", text="")
        row.prop(settings, "beat_markers")
        row.prop(settings, "stems")
        row = col.row(align=True)
        if settings.tempo_map_file:
            row.label(text=f"Map: {bpy.path.basename(settings.tempo_map_file)}", icon="FILE_SOUND")
            row.operator("motionscore.clear_tempo_map", text="", icon="X")
        else:
            row.operator("motionscore.load_tempo_map", icon="FILEBROWSER")
        col.prop(settings, "bone_preset")
        if settings.bone_preset != "DEFORM":
            col.prop(settings, "bone_mapping")
        if settings.running:
            layout.progress(factor=settings.progress, type="BAR", text=settings.stage or "working")
            layout.operator("motionscore.cancel", icon="CANCEL")
        else:
            layout.operator("motionscore.score_animation", icon="SOUND")
            layout.operator("motionscore.fit_song", icon="FILE_SOUND")
        if settings.last_alignment >= 0:
            layout.label(text=f"Last take: alignment {settings.last_alignment:.2f}", icon="CHECKMARK")
        if settings.last_map:
            layout.label(text=settings.last_map, icon="TIME")
            layout.operator("motionscore.export_tempo_map", icon="EXPORT")
            alternatives = [bpm for bpm in settings.last_alternatives if bpm > 0]
            if alternatives and not settings.running:
                row = layout.row(align=True)
                row.label(text="Also fits:")
                for bpm in alternatives:
                    row.operator("motionscore.use_tempo", text=f"{bpm:g} BPM").bpm = bpm
        if settings.last_error:
            box = layout.box()
            box.alert = True
            box.label(text=settings.last_error, icon="ERROR")


class MOTIONSCORE_PT_sequencer(_MotionScorePanel, bpy.types.Panel):
    bl_space_type = "SEQUENCE_EDITOR"
    bl_idname = "MOTIONSCORE_PT_sequencer"


class MOTIONSCORE_PT_view3d(_MotionScorePanel, bpy.types.Panel):
    bl_space_type = "VIEW_3D"
    bl_idname = "MOTIONSCORE_PT_view3d"


CLASSES = (MOTIONSCORE_PT_sequencer, MOTIONSCORE_PT_view3d)
