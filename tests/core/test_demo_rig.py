from addon.core.demo import rig as demo_rig
from addon.core.rig import humanoid


def test_demo_maps_every_required_bone_for_both_vrm_versions_plus_the_optional_ones_asked_for():
    mapping = demo_rig.vrm_mapping()
    assert set(mapping) >= humanoid.REQUIRED_VRM0
    for bone in ("upperChest", "leftShoulder", "rightShoulder", "leftEye", "rightEye", "leftToes", "rightToes"):
        assert bone in mapping
    fingers = [b for b in mapping if any(f in b for f in ("Thumb", "Index", "Middle", "Ring", "Little"))]
    assert len(fingers) == 30
    assert len(set(mapping.values())) == len(mapping)


def test_bone_parents_agree_with_the_vrm_hierarchy():
    bones = {b.name: b for b in demo_rig.demo_bones()}
    mapping = demo_rig.vrm_mapping()
    by_vrm = {v: k for k, v in mapping.items()}
    for vrm_bone, name in mapping.items():
        expected = humanoid.mapped_parent(vrm_bone, set(mapping))
        parent = bones[name].parent
        assert (by_vrm[parent] if parent else None) == expected, vrm_bone


def test_t_pose_facing_minus_y_with_the_left_side_on_plus_x():
    bones = {b.vrm: b for b in demo_rig.demo_bones() if b.vrm}
    for side, sign in (("left", 1), ("right", -1)):
        arm = bones[f"{side}UpperArm"]
        assert arm.head[2] == arm.tail[2]  # horizontal
        assert sign * (arm.tail[0] - arm.head[0]) > 0.2  # pointing outwards
        leg = bones[f"{side}UpperLeg"]
        assert leg.head[0] == leg.tail[0] and leg.head[1] == leg.tail[1]  # vertical
        assert sign * leg.head[0] > 0
        toes = bones[f"{side}Toes"]
        assert toes.tail[1] < toes.head[1]  # feet point at -Y
    assert bones["leftEye"].head[1] < 0


def test_parents_come_before_children():
    seen: set[str] = set()
    for bone in demo_rig.demo_bones():
        assert bone.parent is None or bone.parent in seen
        seen.add(bone.name)
