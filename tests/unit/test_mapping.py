import pytest

from motionscore.blender_addon.mapping import MappingError, PRESETS, build_mapping, normalise
from motionscore.shared.motion import COCO17

METARIG = ["spine", "spine.006"] + [f"{p}.{s}" for p in ("upper_arm", "forearm", "hand", "thigh", "shin", "foot")
                                     for s in "LR"]
MIXAMO = ["mixamorig:Hips", "mixamorig:Head"] + [f"mixamorig:{s}{p}" for p in ("Arm", "ForeArm", "Hand", "UpLeg", "Leg", "Foot")
                                                  for s in ("Left", "Right")]
RIGIFY = ["root", "DEF-spine.006"] + [f"DEF-{p}.{s}" for p in ("upper_arm", "forearm", "hand", "thigh", "shin", "foot")
                                      for s in "LR"] + [f"ORG-{p}.L" for p in ("upper_arm", "hand")]
BANDAI = ["joint_Root", "Hips", "Spine", "Chest", "Neck", "Head", "Shoulder_L", "UpperArm_L", "LowerArm_L", "Hand_L",
          "Shoulder_R", "UpperArm_R", "LowerArm_R", "Hand_R", "UpperLeg_L", "LowerLeg_L", "Foot_L", "Toes_L",
          "UpperLeg_R", "LowerLeg_R", "Foot_R", "Toes_R"]
CMU = ["Hips", "Head", "LeftArm", "LeftForeArm", "LeftHand", "RightArm", "RightForeArm", "RightHand",
       "LeftUpLeg", "LeftLeg", "LeftFoot", "RightUpLeg", "RightLeg", "RightFoot"]


@pytest.mark.parametrize("bones, preset, wrist", [
    (METARIG, "METARIG", "hand.L"), (MIXAMO, "MIXAMO", "mixamorig:LeftHand"), (RIGIFY, "RIGIFY", "DEF-hand.L"),
    (BANDAI, "BVH", "Hand_L"), (CMU, "MIXAMO", "LeftHand"),
])
def test_presets_are_detected(bones, preset, wrist):
    mapping = build_mapping(bones, bones)
    assert mapping.preset == preset and mapping.joint_names == COCO17 and not mapping.missing
    assert mapping.points[COCO17.index("left_wrist")] == (wrist, 0.0)
    assert mapping.points[COCO17.index("right_shoulder")][0].lower().endswith(("upper_arm.r", "rightarm", "upperarm_r"))


def test_unknown_rig_falls_back_to_deform_bones():
    bones = [f"Bone.{i:03d}" for i in range(30)]
    mapping = build_mapping(bones, bones[:20])
    assert mapping.preset == "DEFORM" and len(mapping.points) == 20 and mapping.joint_names == tuple(bones[:20])


def test_custom_overrides_and_errors():
    mapping = build_mapping(METARIG, METARIG, custom='{"left_wrist": "forearm.L"}')
    assert mapping.preset == "CUSTOM" and mapping.points[COCO17.index("left_wrist")] == ("forearm.L", 0.0)
    with pytest.raises(MappingError, match="not valid JSON"):
        build_mapping(METARIG, METARIG, custom="{left")
    with pytest.raises(MappingError, match="no bone 'nope'"):
        build_mapping(METARIG, METARIG, custom='{"left_wrist": "nope"}')
    with pytest.raises(MappingError, match="not a COCO-17 joint"):
        build_mapping(METARIG, METARIG, custom='{"tail": "hand.L"}')
    with pytest.raises(MappingError, match="matches only"):
        build_mapping(["a", "b"], ["a"], preset="MIXAMO")


def test_partial_rig_marks_missing_joints():
    bones = [b for b in METARIG if not b.startswith(("hand", "foot"))]
    mapping = build_mapping(bones, bones, preset="METARIG")
    assert set(mapping.missing) == {"left_wrist", "right_wrist", "left_ankle", "right_ankle"}
    assert len(mapping.points) == 17


def test_names_normalise():
    assert normalise("mixamorig1:LeftHand") == "lefthand" and set(PRESETS) >= {"METARIG", "RIGIFY", "MIXAMO", "BVH"}
