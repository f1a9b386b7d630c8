from addon.core.rig import humanoid


def test_vrm1_requires_the_fifteen_bones_and_vrm0_adds_chest_and_neck():
    assert len(humanoid.REQUIRED_VRM1) == 15
    assert humanoid.required_bones("0.x") - humanoid.required_bones("1.0") == {"chest", "neck"}
    assert humanoid.required_bones("1.0") <= set(humanoid.HUMAN_BONES)


def test_every_parent_is_a_bone_listed_before_its_child():
    seen: set[str] = set()
    for bone in humanoid.HUMAN_BONES:
        parent = humanoid.PARENT[bone]
        assert parent is None or parent in seen, bone
        seen.add(bone)
    assert len(humanoid.HUMAN_BONES) == 55


def test_mapped_parent_skips_unmapped_optional_bones():
    mapped = {"hips", "spine", "head", "neck", "leftUpperArm"}
    assert humanoid.mapped_parent("head", mapped) == "neck"
    assert humanoid.mapped_parent("neck", mapped) == "spine"  # no upperChest, no chest
    assert humanoid.mapped_parent("leftUpperArm", mapped) == "spine"  # no shoulder
    assert humanoid.mapped_parent("hips", mapped) is None


def test_snake_case_matches_the_vrm_addon_property_names():
    assert humanoid.snake_case("leftThumbMetacarpal") == "left_thumb_metacarpal"
    assert humanoid.snake_case("upperChest") == "upper_chest"
    assert humanoid.snake_case("hips") == "hips"
