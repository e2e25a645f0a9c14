"""Sampling speed of the add-on: a 60-bone rig driving a ~50k-vertex skinned mesh over 1,800 frames.

Run:  .venv/bin/python benchmarks/bench_addon_sampling.py
Prints ms per frame with the deforming mesh's armature modifier muted during sampling (what the
add-on does) and, for comparison, with it left on.
"""

from __future__ import annotations

import math
import os
import tempfile
import time

os.environ.setdefault("BLENDER_USER_RESOURCES", tempfile.mkdtemp(prefix="motionscore-bench-"))

import bpy  # noqa: E402  (bmesh is importable only after bpy)
import bmesh  # noqa: E402
import numpy as np  # noqa: E402

from motionscore.blender_addon import sampling  # noqa: E402

BONES, FRAMES = 60, 1800


def build_scene():
    bpy.ops.wm.read_factory_settings(use_empty=True)
    scene = bpy.context.scene
    arm = bpy.data.armatures.new("Rig")
    rig = bpy.data.objects.new("Rig", arm)
    scene.collection.objects.link(rig)
    bpy.context.view_layer.objects.active = rig
    bpy.ops.object.mode_set(mode="EDIT")
    for i in range(BONES):  # a spine-like chain
        b = arm.edit_bones.new(f"Bone.{i:03d}")
        b.head, b.tail = (0, 0, i * 0.05), (0, 0, (i + 1) * 0.05)
        if i:
            b.parent = arm.edit_bones[f"Bone.{i - 1:03d}"]
    bpy.ops.object.mode_set(mode="POSE")
    for frame in range(1, FRAMES + 1, 10):
        for i, pb in enumerate(rig.pose.bones):
            pb.rotation_mode = "XYZ"
            pb.rotation_euler = (0.05 * math.sin(frame * 0.1 + i), 0.05 * math.cos(frame * 0.07 + i), 0)
            pb.keyframe_insert("rotation_euler", frame=frame)
    bpy.ops.object.mode_set(mode="OBJECT")
    mesh = bpy.data.meshes.new("Body")
    bm = bmesh.new()
    bmesh.ops.create_uvsphere(bm, u_segments=250, v_segments=200, radius=0.5)
    bm.to_mesh(mesh)
    bm.free()
    mesh.transform(np.diag([1, 1, 6, 1]).tolist())
    body = bpy.data.objects.new("Body", mesh)
    scene.collection.objects.link(body)
    z = np.array([v.co.z for v in mesh.vertices])
    bone_of = np.clip(((z + 3) / 6 * BONES).astype(int), 0, BONES - 1)
    groups = [body.vertex_groups.new(name=f"Bone.{i:03d}") for i in range(BONES)]
    for i, group in enumerate(groups):
        group.add([int(v) for v in np.flatnonzero(bone_of == i)], 1.0, "REPLACE")
    mod = body.modifiers.new("Armature", "ARMATURE")
    mod.object = rig
    cam = bpy.data.objects.new("Cam", bpy.data.cameras.new("Cam"))
    scene.collection.objects.link(cam)
    cam.location, cam.rotation_euler = (0, -12, 1.5), (math.radians(90), 0, 0)
    scene.camera = cam
    scene.frame_start, scene.frame_end = 1, FRAMES
    return scene, rig, body, len(mesh.vertices)


def main() -> None:
    scene, rig, body, vertices = build_scene()
    rig.select_set(True)
    start = time.perf_counter()
    sampled = sampling.sample_scene(bpy.context, preset="DEFORM")
    fast = (time.perf_counter() - start) / FRAMES * 1000
    assert body.modifiers["Armature"].show_viewport, "the modifier must be restored"
    # For comparison: the same sampling with the skinning left on.
    original = sampling._fast_sampling
    from contextlib import contextmanager

    @contextmanager
    def no_muting(scene_, armatures):
        current = scene_.frame_current
        yield
        scene_.frame_set(current)

    sampling._fast_sampling = no_muting
    start = time.perf_counter()
    sampling.sample_scene(bpy.context, preset="DEFORM")
    slow = (time.perf_counter() - start) / FRAMES * 1000
    sampling._fast_sampling = original
    print(f"sampling {BONES} bones over {FRAMES} frames, mesh of {vertices} vertices skinned by the rig:")
    print(f"  armature modifier muted while sampling (the add-on): {fast:.2f} ms/frame")
    print(f"  armature modifier left on (for comparison):          {slow:.2f} ms/frame")
    print(f"  keypoints: {sampled.motion.keypoints.shape}")


if __name__ == "__main__":
    main()
