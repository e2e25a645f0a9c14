"""Read a scene's animation as a Motion: bones sampled per frame, projected through the camera.

Main thread only (bpy). Everything the sampler changes (current frame, armature modifiers of
deformed meshes) is restored before it returns, also on error.
"""

from __future__ import annotations

from contextlib import contextmanager
from dataclasses import dataclass, field

import numpy as np

from .mapping import BoneMapping, build_mapping
from .projection import front_view, project
from .shared import limits
from .shared.motion import Motion


class SamplingError(Exception):
    """The scene cannot be scored as it is (no armature, empty range...): a one-line message."""


@dataclass
class SceneMotion:
    motion: Motion
    frame_start: int
    frame_end: int  # inclusive
    fps: float
    armatures: list[str]
    warnings: list[str] = field(default_factory=list)


def scene_fps(scene) -> float:
    return scene.render.fps / scene.render.fps_base


def frame_range(scene) -> tuple[int, int]:
    """(first, last) frame, inclusive: the preview range when it is on, else the scene range."""
    if scene.use_preview_range:
        return scene.frame_preview_start, scene.frame_preview_end
    return scene.frame_start, scene.frame_end


def output_size(scene) -> tuple[int, int]:
    scale = scene.render.resolution_percentage / 100.0
    return max(1, round(scene.render.resolution_x * scale)), max(1, round(scene.render.resolution_y * scale))


def _camera_sees(scene, obj) -> bool:
    cam = scene.camera
    if cam is None:
        return True
    from bpy_extras.object_utils import world_to_camera_view

    for bone in obj.pose.bones:
        co = world_to_camera_view(scene, cam, obj.matrix_world @ bone.head)
        if co.z > 0 and 0 <= co.x <= 1 and 0 <= co.y <= 1:
            return True
    return False


def choose_armatures(context) -> list:
    """Selected armatures, else every armature the camera sees at the current frame."""
    selected = [o for o in context.selected_objects if o.type == "ARMATURE"]
    if selected:
        return selected
    scene = context.scene
    context.view_layer.update()  # world matrices of objects changed by scripts are stale until then
    return [o for o in scene.objects if o.type == "ARMATURE" and o.visible_get() and _camera_sees(scene, o)]


@contextmanager
def _fast_sampling(scene, armatures):
    """Switch off the viewport armature modifiers of meshes deformed by ``armatures`` (bone
    positions do not depend on them, skinning is the slow part) and restore everything after."""
    muted = []
    targets = set(armatures)
    for obj in scene.objects:
        if obj.type != "MESH":
            continue
        for mod in obj.modifiers:
            if mod.type == "ARMATURE" and mod.object in targets and mod.show_viewport:
                mod.show_viewport = False
                muted.append(mod)
    current = scene.frame_current, scene.frame_subframe
    try:
        yield
    finally:
        for mod in muted:
            mod.show_viewport = True
        scene.frame_set(current[0], subframe=current[1])


def _bone_points(obj, mapping: BoneMapping) -> tuple[np.ndarray, np.ndarray]:
    """Index and weight arrays to turn heads/tails of all pose bones into the mapping's points."""
    names = [b.name for b in obj.pose.bones]
    index = {n: i for i, n in enumerate(names)}
    bone_idx = np.array([index[b] for b, _ in mapping.points], dtype=np.int64)
    t = np.array([t for _, t in mapping.points], dtype=np.float64)
    return bone_idx, t


def sample_scene(context, preset: str = "AUTO", custom_mapping: str = "") -> SceneMotion:
    """Sample the chosen armatures over the frame range and project them to 2D keypoints.

    Raises:
        SamplingError: no armature, no frames, too long, or an unusable bone mapping.
    """
    from .mapping import MappingError

    scene = context.scene
    armatures = choose_armatures(context)
    if not armatures:
        raise SamplingError("no armature to score: select one, or put one in the camera's view")
    first, last = frame_range(scene)
    frames = last - first + 1
    fps = scene_fps(scene)
    if frames < limits.MIN_FRAMES:
        raise SamplingError(f"the frame range {first}-{last} is too short to score")
    if frames / fps > limits.MAX_DURATION_S:
        raise SamplingError(f"the frame range lasts {frames / fps:.0f} s; the limit is {limits.MAX_DURATION_S:g} s")
    warnings: list[str] = []
    plans = []
    for obj in armatures:
        bones = [b.name for b in obj.data.bones]
        deform = [b.name for b in obj.data.bones if b.use_deform]
        try:
            mapping = build_mapping(bones, deform, preset=preset, custom=custom_mapping)
        except MappingError as exc:
            raise SamplingError(f"{obj.name}: {exc}") from None
        if mapping.preset == "DEFORM":
            warnings.append(f"{obj.name}: no known rig naming, using its {len(mapping.points)} deform bones")
        plans.append((obj, mapping, *_bone_points(obj, mapping)))

    total = sum(len(m.points) for _, m, _, _ in plans)
    if total > limits.MAX_JOINTS:
        raise SamplingError(f"{total} keypoints exceed the limit of {limits.MAX_JOINTS}; select fewer armatures")
    world = np.zeros((frames, total, 3))
    views = np.zeros((frames, 4, 4))
    projs = np.zeros((frames, 4, 4))
    cam = scene.camera
    width, height = output_size(scene)
    depsgraph = context.evaluated_depsgraph_get()
    with _fast_sampling(scene, [p[0] for p in plans]):
        for k, frame in enumerate(range(first, last + 1)):
            scene.frame_set(frame)
            column = 0
            for obj, mapping, bone_idx, t in plans:
                count = len(obj.pose.bones)
                heads = np.empty(count * 3)
                tails = np.empty(count * 3)
                obj.pose.bones.foreach_get("head", heads)
                obj.pose.bones.foreach_get("tail", tails)
                heads, tails = heads.reshape(-1, 3), tails.reshape(-1, 3)
                local = heads[bone_idx] * (1 - t[:, None]) + tails[bone_idx] * t[:, None]
                matrix = np.array(obj.matrix_world)
                world[k, column:column + len(t)] = local @ matrix[:3, :3].T + matrix[:3, 3]
                column += len(t)
            if cam is not None:
                views[k] = np.array(cam.matrix_world.inverted())
                projs[k] = np.array(cam.calc_matrix_camera(
                    depsgraph, x=scene.render.resolution_x, y=scene.render.resolution_y,
                    scale_x=scene.render.pixel_aspect_x, scale_y=scene.render.pixel_aspect_y))
    if cam is None:
        flat = world.reshape(-1, 3)
        view, proj = front_view(flat.min(axis=0), flat.max(axis=0), aspect=width / height)
        views[:], projs[:] = view, proj
        warnings.append("the scene has no camera: scored from a default front view")
    pixels, confidence = project(world, views, projs, width, height)
    names: list[str] = []
    column = 0
    for obj, mapping, _, t in plans:
        prefix = f"{obj.name}:" if len(plans) > 1 else ""
        names.extend(prefix + n for n in mapping.joint_names)
        for joint in mapping.missing:
            confidence[:, column + mapping.joint_names.index(joint)] = 0.0
        column += len(t)
    if not confidence.any():
        raise SamplingError("no bone is visible to the camera in the frame range")
    motion = Motion(keypoints=pixels, fps=fps, confidence=confidence, joint_names=tuple(names),
                    frame_size=(width, height))
    return SceneMotion(motion, first, last, fps, [o.name for o in armatures], warnings)
