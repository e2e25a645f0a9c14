"""Which bone stands for which COCO-17 keypoint: presets for common rigs plus user overrides.

Pure Python (no bpy) so it can be unit-tested anywhere. A keypoint is a point along a bone:
``(bone_name, t)`` with ``t`` = 0 at the bone's head and 1 at its tail.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from .shared.motion import COCO17

#: (COCO joint, role) -> role is the body part; each preset names the bone for every role.
_ROLES = {
    "nose": ("head", 0.5), "left_eye": ("head", 0.6), "right_eye": ("head", 0.6),
    "left_ear": ("head", 0.45), "right_ear": ("head", 0.45),
    "left_shoulder": ("upper_arm_l", 0.0), "right_shoulder": ("upper_arm_r", 0.0),
    "left_elbow": ("forearm_l", 0.0), "right_elbow": ("forearm_r", 0.0),
    "left_wrist": ("hand_l", 0.0), "right_wrist": ("hand_r", 0.0),
    "left_hip": ("thigh_l", 0.0), "right_hip": ("thigh_r", 0.0),
    "left_knee": ("shin_l", 0.0), "right_knee": ("shin_r", 0.0),
    "left_ankle": ("foot_l", 0.0), "right_ankle": ("foot_r", 0.0),
}


def _sided(pattern: str) -> dict[str, str]:
    return {"_l": pattern.format(L="L", Left="Left", l="l"), "_r": pattern.format(L="R", Left="Right", l="r")}


def _preset(head: str, **parts: str) -> dict[str, tuple[str, ...]]:
    """role -> candidate bone names (several spellings allowed per role)."""
    table: dict[str, list[str]] = {"head": [h for h in head.split("|")]}
    for part, patterns in parts.items():
        for pattern in patterns.split("|"):
            for side, name in _sided(pattern).items():
                table.setdefault(part + side, []).append(name)
    return {role: tuple(names) for role, names in table.items()}


PRESETS: dict[str, dict[str, tuple[str, ...]]] = {
    # Blender's human meta-rig (Rigify's input).
    "METARIG": _preset("spine.006|head", upper_arm="upper_arm.{L}", forearm="forearm.{L}", hand="hand.{L}",
                       thigh="thigh.{L}", shin="shin.{L}", foot="foot.{L}"),
    # A generated Rigify rig: its deform bones follow the skin.
    "RIGIFY": _preset("DEF-spine.006|DEF-head", upper_arm="DEF-upper_arm.{L}", forearm="DEF-forearm.{L}",
                      hand="DEF-hand.{L}", thigh="DEF-thigh.{L}", shin="DEF-shin.{L}", foot="DEF-foot.{L}"),
    # Mixamo (any "mixamorig*:" prefix is stripped before matching).
    "MIXAMO": _preset("Head", upper_arm="{Left}Arm", forearm="{Left}ForeArm", hand="{Left}Hand",
                      thigh="{Left}UpLeg", shin="{Left}Leg", foot="{Left}Foot"),
    # Names Blender's BVH importer keeps from common BVH files (CMU style, Bandai Namco style).
    "BVH": _preset("Head|head", upper_arm="{Left}Arm|UpperArm_{L}|{Left}Shoulder", forearm="{Left}ForeArm|LowerArm_{L}",
                   hand="{Left}Hand|Hand_{L}", thigh="{Left}UpLeg|UpperLeg_{L}|{Left}Hip", shin="{Left}Leg|LowerLeg_{L}|{Left}Knee",
                   foot="{Left}Foot|Foot_{L}|{Left}Ankle"),
}
PRESET_NAMES = tuple(PRESETS)
#: A preset is used when at least this many of its 13 roles resolve to bones of the rig.
MIN_MATCHED_ROLES = 9


def normalise(name: str) -> str:
    """Bone-name key: drop a namespace prefix ("mixamorig1:"), case-insensitive."""
    return name.rsplit(":", 1)[-1].lower()


@dataclass(frozen=True)
class BoneMapping:
    """How to read keypoints from a rig.

    Attributes:
        preset: the preset used, "DEFORM" (fallback: every deform bone's head), or "CUSTOM".
        points: one (bone_name, t) per keypoint, in keypoint order.
        joint_names: keypoint names (COCO-17 names, or bone names for the DEFORM fallback).
        missing: COCO joints no bone was found for (their keypoint repeats the nearest role's).
    """

    preset: str
    points: tuple[tuple[str, float], ...]
    joint_names: tuple[str, ...]
    missing: tuple[str, ...] = ()


class MappingError(ValueError):
    """An unusable custom mapping (bad JSON, unknown joint or bone)."""


def parse_custom(text: str, bones: list[str]) -> dict[str, str]:
    """Parse a user's JSON mapping ``{"left_wrist": "hand_L", ...}``; every name is checked."""
    if not text.strip():
        return {}
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise MappingError(f"bone mapping is not valid JSON: {exc.msg} (line {exc.lineno})") from None
    if not isinstance(data, dict):
        raise MappingError('bone mapping must be a JSON object like {"left_wrist": "hand.L"}')
    known = set(bones)
    for joint, bone in data.items():
        if joint not in COCO17:
            raise MappingError(f"bone mapping: {joint!r} is not a COCO-17 joint ({', '.join(COCO17)})")
        if not isinstance(bone, str) or bone not in known:
            raise MappingError(f"bone mapping: the rig has no bone {bone!r} (for {joint})")
    return data


def _resolve(preset: dict[str, tuple[str, ...]], bones: list[str]) -> dict[str, str]:
    by_key = {}
    for bone in bones:
        by_key.setdefault(normalise(bone), bone)
    found = {}
    for role, candidates in preset.items():
        for candidate in candidates:
            bone = by_key.get(normalise(candidate))
            if bone is not None:
                found[role] = bone
                break
    return found


def build_mapping(bones: list[str], deform_bones: list[str], preset: str = "AUTO", custom: str = "",
                  max_joints: int = 128) -> BoneMapping:
    """Choose keypoints for a rig.

    Args:
        bones: all bone names of the armature; deform_bones: those with use_deform.
        preset: "AUTO" (best-matching preset, else DEFORM), a name from PRESET_NAMES, or "DEFORM".
        custom: optional JSON overrides {coco_joint: bone}.
    Raises:
        MappingError: a named preset that matches too little of the rig, or a bad custom mapping.
    """
    overrides = parse_custom(custom, bones)
    if preset == "AUTO":
        scored = sorted(((len(_resolve(PRESETS[name], bones)), name) for name in PRESET_NAMES), reverse=True)
        best_count, best = scored[0]
        chosen = best if best_count >= MIN_MATCHED_ROLES else "DEFORM"
    else:
        chosen = preset
    if chosen == "DEFORM" and not overrides:
        names = (deform_bones or bones)[:max_joints]
        if not names:
            raise MappingError("the armature has no bones")
        return BoneMapping("DEFORM", tuple((b, 0.0) for b in names), tuple(names))
    if chosen not in PRESETS and chosen != "DEFORM":
        raise MappingError(f"unknown bone preset {chosen!r}; choose AUTO, DEFORM or one of {', '.join(PRESET_NAMES)}")
    roles = _resolve(PRESETS[chosen], bones) if chosen in PRESETS else {}
    if chosen in PRESETS and len(roles) < MIN_MATCHED_ROLES and not overrides:
        raise MappingError(f"preset {chosen} matches only {len(roles)} of 13 body parts of this rig; "
                           f"use AUTO or a custom mapping")
    points, missing = [], []
    for joint in COCO17:
        role, t = _ROLES[joint]
        if joint in overrides:
            points.append((overrides[joint], t if role == "head" else 0.0))
        elif role in roles:
            points.append((roles[role], t))
        else:
            missing.append(joint)
            points.append(None)
    resolved = [p for p in points if p is not None]
    if not resolved:
        raise MappingError("no keypoint could be mapped to a bone")
    # A missing keypoint repeats a resolved one: the motion keeps 17 joints, the rhythm its weights.
    points = [p if p is not None else resolved[0] for p in points]
    return BoneMapping("CUSTOM" if overrides else chosen, tuple(points), COCO17, tuple(missing))
