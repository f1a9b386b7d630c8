"""Every fault, built into the demo avatar: the exact finding ids, and each safe fix removing its finding
without adding another."""

from __future__ import annotations

import dataclasses
import math
from typing import Any

import bpy
import numpy as np
import pytest

from addon.blender import context, rig_check, vrm_addon
from addon.core.presets import get_preset
from tests import rigs

WEB = get_preset("companions-web")


@pytest.fixture
def avatar(blender, demo_blend):
    bpy.ops.wm.open_mainfile(filepath=str(demo_blend))
    return bpy.data.objects["Avatar"], bpy.data.objects["AvatarBody"]


def _ids(preset=WEB, armature=None):
    return sorted(rig_check.check_rig(armature, preset).ids())


def _fixed(finding_id):
    """Fixes one finding the way the sidebar's Fix button does; returns the ids left."""
    return sorted(rig_check.fix_finding(finding_id, None, WEB).ids())


def _world_lowest(body):
    co = np.empty(len(body.data.vertices) * 3)
    body.data.vertices.foreach_get("co", co)
    m = np.array(body.matrix_world)
    return float((co.reshape(-1, 3) @ m[:3, :3].T + m[:3, 3])[:, 2].min())


def test_the_demo_avatar_is_clean_for_companions_web(avatar):
    report = rig_check.check_rig(None, WEB)
    assert report.ok and report.findings == [] and report.armature == "Avatar"
    assert report.stats["bones"] == 54 and report.stats["shape_keys"] == 13 and report.stats["textures"] == 1
    assert report.to_json()["stats"]["max_texture_size"] == 1024


def test_no_armature(empty_scene):
    bpy.ops.mesh.primitive_cube_add()
    report = rig_check.check_rig(None, WEB)
    assert report.ids() == ["no_armature"] and not report.ok and report.armature is None


def test_multiple_armatures_names_the_rivals_and_checks_the_one_with_the_body(avatar):
    extra = bpy.data.objects.new("Prop", bpy.data.armatures.new("PropRig"))
    context.scene().collection.objects.link(extra)
    # An armature that drives no geometry (a Rigify metarig, a widget rig) is no rival: nothing to say.
    assert _ids() == []
    bpy.ops.mesh.primitive_cube_add()
    cube: Any = context.view_layer().objects.active
    cube.parent = extra
    report = rig_check.check_rig(None, WEB)
    assert report.ids() == ["multiple_armatures"] and report.armature == "Avatar"
    assert set(report.findings[0].objects) == {"Avatar", "Prop"}
    assert _ids(armature="Avatar") == []  # chosen explicitly: nothing to warn about


def test_the_armature_that_carries_the_body_is_checked_not_the_one_with_a_mapping(avatar):
    armature, _ = avatar
    metarig = bpy.data.objects.new("metarig", armature.data.copy())
    context.scene().collection.objects.link(metarig)
    vrm_addon.map_humanoid(metarig, {"hips": "Hips"})
    rigs.clear_mapping(armature)
    report = rig_check.check_rig(None, WEB)
    assert report.armature == "Avatar" and report.ok and report.ids() == ["mapping_not_stored"]


def test_a_bone_cleared_by_hand_is_found_again_and_stored_by_its_fix(avatar):
    armature, _ = avatar
    armature.data.vrm_addon_extension.vrm1.humanoid.human_bones.left_hand.node.bone_uuid = ""
    report = rig_check.check_rig(None, WEB)
    assert report.ok and report.ids() == ["mapping_not_stored"] and report.auto_mapped == ["leftHand"]
    assert report.mapping["leftHand"] == "Hand.L" and "leftHand=Hand.L" in report.findings[0].message
    assert _fixed("mapping_not_stored") == []
    assert vrm_addon.humanoid_mapping(armature)["leftHand"] == "Hand.L"


def _delete_bone(armature, name):
    """Removes a bone, its children hanging from its parent (as an artist's rig without it would)."""
    context.view_layer().objects.active = armature
    bpy.ops.object.mode_set(mode="EDIT")
    bones = armature.data.edit_bones
    bone = bones[name]
    for child in bone.children:
        child.parent = bone.parent
    bones.remove(bone)
    bpy.ops.object.mode_set(mode="OBJECT")


def test_vrm0_targets_also_require_chest_and_neck(avatar):
    armature, _ = avatar
    _delete_bone(armature, "Neck")
    assert rig_check.check_rig(None, WEB).ok  # VRM 1.0 needs no neck (its weights are left over: warnings)
    report = rig_check.check_rig(None, get_preset("vrm0-legacy"))
    assert report.ids()[0] == "missing_required_bone"
    assert "neck: no bone found under 'UpperChest'" in report.findings[0].message


def test_bad_hierarchy_swapped_arm_bones(avatar):
    armature, _ = avatar
    vrm_addon.map_humanoid(armature, {"leftUpperArm": "LowerArm.L", "leftLowerArm": "UpperArm.L"})
    report = rig_check.check_rig(None, WEB)
    assert report.ids() == ["bad_hierarchy"] and "leftLowerArm" in report.findings[0].message


def test_bad_hierarchy_upper_chest_needs_chest(avatar):
    armature, _ = avatar
    _delete_bone(armature, "Chest")
    report = rig_check.check_rig(None, WEB)
    assert report.errors()[0].id == "bad_hierarchy" and len(report.errors()) == 1
    assert "upperChest ('UpperChest') needs chest mapped" in report.errors()[0].message


def _edit(armature, change):
    context.view_layer().objects.active = armature
    bpy.ops.object.mode_set(mode="EDIT")
    change(armature.data.edit_bones)
    bpy.ops.object.mode_set(mode="OBJECT")


def test_not_t_pose_when_an_arm_hangs(avatar):
    armature, _ = avatar

    def lower_arm(bones):
        bones["UpperArm.L"].tail.z -= 0.2

    _edit(armature, lower_arm)
    report = rig_check.check_rig(None, WEB)
    assert report.ids() == ["not_t_pose"] and "leftUpperArm" in report.findings[0].message


def test_an_armature_in_edit_mode_is_checked_as_edited(avatar):
    armature, _ = avatar
    context.view_layer().objects.active = armature
    bpy.ops.object.mode_set(mode="EDIT")
    data: Any = armature.data
    data.edit_bones["UpperArm.R"].tail.z += 0.25
    assert _ids() == ["not_t_pose"] and armature.mode == "EDIT"
    bpy.ops.object.mode_set(mode="OBJECT")


def test_wrong_facing(avatar):
    armature, body = avatar
    armature.rotation_euler.z = math.pi
    for obj in (armature, body):
        context.view_layer().objects.active = obj
        for other in context.view_layer().objects:
            other.select_set(other == obj)
        bpy.ops.object.transform_apply(location=False, rotation=True, scale=False)
    report = rig_check.check_rig(None, WEB)
    assert report.ids() == ["wrong_facing"] and report.findings[0].severity == "error"


def test_not_grounded_is_grounded(avatar):
    armature, body = avatar
    armature.location.z = 0.3
    assert _ids() == ["not_grounded"]
    assert _fixed("not_grounded") == []
    context.view_layer().update()
    assert abs(_world_lowest(body)) < 1e-4


def test_off_center(avatar):
    armature, _ = avatar
    armature.location.x = 0.5
    assert _ids() == ["off_center"]


def test_unapplied_scale_is_applied_and_the_body_stays_where_it_was(avatar):
    armature, body = avatar
    armature.scale = (1.5, 1.5, 1.5)  # within a person's size: no wrong_units
    context.view_layer().update()
    top = body.matrix_world @ body.data.vertices[0].co
    report = rig_check.check_rig(None, WEB)
    assert report.ids() == ["unapplied_transforms"] and report.findings[0].objects == ("Avatar", "AvatarBody")
    assert _fixed("unapplied_transforms") == []
    assert tuple(armature.scale) == (1.0, 1.0, 1.0)
    assert (body.matrix_world @ body.data.vertices[0].co - top).length < 1e-4


def test_negative_scale(avatar):
    _, body = avatar
    body.scale.x = -1.0
    report = rig_check.check_rig(None, WEB)
    assert report.ids() == ["negative_scale"] and report.findings[0].objects == ("AvatarBody",)
    assert not report.ok


def test_unweighted_vertices_go_to_the_nearest_bone(avatar):
    _, body = avatar
    lonely = list(range(100, 150))
    for group in body.vertex_groups:
        group.remove(lonely)
    report = rig_check.check_rig(None, WEB)
    assert report.ids() == ["unweighted_vertices"] and "50 of" in report.findings[0].message
    assert _fixed("unweighted_vertices") == []
    assert all(len(body.data.vertices[i].groups) == 1 for i in lonely)


def test_a_skinned_mesh_also_parented_to_a_bone_keeps_its_weight_checks(avatar):
    # Skinned (its Armature modifier) and parented to the hips bone too: a skin, not a rigid part.
    armature, body = avatar
    placed = body.matrix_world.copy()
    body.parent, body.parent_type, body.parent_bone = armature, "BONE", "Hips"
    body.matrix_world = placed
    lonely = list(range(100, 150))
    for group in body.vertex_groups:
        group.remove(lonely)
    report = rig_check.check_rig(None, WEB)
    assert (
        "unweighted_vertices" in report.ids()
        and "50 of" in report.findings[report.ids().index("unweighted_vertices")].message
    )


def test_the_armature_modifier_the_fix_adds_comes_first_in_the_stack(avatar):
    # Skinning works on the rest mesh: after a subdivision it would deform vertices no weight was painted on.
    _, body = avatar
    for modifier in [m for m in body.modifiers if m.type == "ARMATURE"]:
        body.modifiers.remove(modifier)
    body.modifiers.new("Subdivision", "SUBSURF")
    assert "missing_armature_modifier" in _ids()
    assert "missing_armature_modifier" not in _fixed("missing_armature_modifier")
    assert [m.type for m in body.modifiers] == ["ARMATURE", "SUBSURF"]


def test_weight_fixes_leave_groups_of_no_deform_bone_alone(avatar):
    """A mask or cloth-pin group on the same vertices keeps its weights through both weight fixes."""
    armature, body = avatar
    crowded = [i for i, v in enumerate(body.data.vertices) if len(v.groups) == 4][:10]
    light = [i for i, v in enumerate(body.data.vertices) if len(v.groups) <= 2][:10]
    assert len(crowded) == 10 and len(light) == 10
    pin = body.vertex_groups.new(name="ClothPin")
    pin.add(crowded + light, 0.7, "REPLACE")
    for i in crowded:
        taken = {g.group for g in body.data.vertices[i].groups}
        extra = next(g for g in body.vertex_groups if g.index not in taken and g.name in armature.data.bones)
        extra.add([i], 0.3, "REPLACE")  # a fifth deform influence
    for i in light:
        for g in body.data.vertices[i].groups:
            if body.vertex_groups[g.group].name in armature.data.bones:
                g.weight *= 0.5  # deform weights that add up to 0.5
    ids = rig_check.check_rig(None, WEB).ids()
    assert "too_many_influences" in ids and "weights_not_normalized" in ids  # both fixes below really run
    rig_check.fix_finding("too_many_influences", None, WEB)
    rig_check.fix_finding("weights_not_normalized", None, WEB)
    ids = rig_check.check_rig(None, WEB).ids()
    assert "too_many_influences" not in ids and "weights_not_normalized" not in ids
    assert [round(pin.weight(i), 6) for i in crowded + light] == [0.7] * 20


def test_weights_not_normalized(avatar):
    _, body = avatar
    for i in range(30):
        for element in body.data.vertices[i].groups:
            element.weight *= 0.5
    report = rig_check.check_rig(None, WEB)
    assert report.ids() == ["weights_not_normalized"] and "30 vertices" in report.findings[0].message
    assert _fixed("weights_not_normalized") == []
    sums = [sum(g.weight for g in body.data.vertices[i].groups) for i in range(30)]
    assert np.allclose(sums, 1.0, atol=1e-5)


def test_too_many_influences_keeps_the_strongest_four(avatar):
    _, body = avatar
    crowded = [i for i, v in enumerate(body.data.vertices) if len(v.groups) == 4][:20]
    for i in crowded:
        for element in body.data.vertices[i].groups:
            element.weight *= 0.9
        strongest = max(body.data.vertices[i].groups, key=lambda g: g.weight).group
        taken = {g.group for g in body.data.vertices[i].groups}
        free = [g for g in body.vertex_groups if g.index not in taken][:2]
        for group in free:
            group.add([i], 0.05, "REPLACE")
        body[f"strongest_{i}"] = strongest
    report = rig_check.check_rig(None, WEB)
    assert report.ids() == ["too_many_influences"] and "20 vertices" in report.findings[0].message
    assert _fixed("too_many_influences") == []
    for i in crowded:
        groups = body.data.vertices[i].groups
        assert len(groups) == 4 and abs(sum(g.weight for g in groups) - 1.0) < 1e-5
        assert max(groups, key=lambda g: g.weight).group == body[f"strongest_{i}"]


def test_weights_on_non_deform_bones(avatar):
    armature, body = avatar

    def add_prop(bones):
        prop = bones.new("Prop")
        prop.head, prop.tail, prop.use_deform = (0.3, 0, 1), (0.3, 0, 1.1), False

    _edit(armature, add_prop)
    body.vertex_groups.new(name="Prop").add(list(range(10)), 0.3, "REPLACE")
    report = rig_check.check_rig(None, WEB)
    assert report.ids() == ["weights_on_non_deform_bones"] and "Prop" in report.findings[0].message


def test_vertex_groups_without_bones_is_only_information(avatar):
    _, body = avatar
    body.vertex_groups.new(name="Freckles").add([0, 1, 2], 1.0, "REPLACE")
    report = rig_check.check_rig(None, WEB)
    assert report.ids() == ["vertex_groups_without_bones"] and report.ok
    assert report.findings[0].severity == "info" and "Freckles" in report.findings[0].message


def test_missing_armature_modifier_is_added(avatar):
    armature, body = avatar
    body.modifiers.remove(body.modifiers["Armature"])
    report = rig_check.check_rig(None, WEB)
    assert report.ids() == ["missing_armature_modifier"] and report.findings[0].objects == ("AvatarBody",)
    assert _fixed("missing_armature_modifier") == []
    assert body.modifiers[0].type == "ARMATURE" and body.modifiers[0].object == armature


def test_missing_expressions_are_warnings(avatar):
    _, body = avatar
    for name in ("aa", "blink", "blinkLeft", "happy", "sad"):
        body.shape_key_remove(body.data.shape_keys.key_blocks[name])
    report = rig_check.check_rig(None, WEB)
    assert sorted(report.ids()) == ["missing_blink", "missing_expressions", "missing_visemes"]
    assert report.ok
    messages = {f.id: f.message for f in report.findings}
    assert "aa" in messages["missing_visemes"] and "happy, sad" in messages["missing_expressions"]


def test_expression_keys_in_other_conventions_count_as_present(avatar):
    """The check knows every name the exporter maps: VRoid, VRChat and ARKit keys are not 'missing'."""
    _, body = avatar
    keys = body.data.shape_keys.key_blocks
    renamed = {"aa": "Fcl_MTH_A", "ih": "vrc.v_ih", "ou": "mouthFunnel", "ee": "vrc.v_e", "oh": "Fcl_MTH_O",
               "blink": "eyeBlink_both", "blinkLeft": "eyeBlinkLeft", "blinkRight": "eyeBlinkRight",
               "happy": "Fcl_ALL_Joy", "sad": "Fcl_ALL_Sorrow", "relaxed": "Fcl_ALL_Fun"}  # fmt: skip
    for old, new in renamed.items():
        keys[old].name = new
    assert "missing_visemes" not in _ids() and "missing_expressions" not in _ids()
    keys["Fcl_MTH_A"].name = "mouth shape 1"  # means nothing to either
    assert _ids() == ["missing_visemes"]


def test_budgets_of_the_target(avatar):
    assert _ids(get_preset("companions-web-lite")) == ["over_budget_triangles"]
    tiny = dataclasses.replace(
        WEB,
        budgets=dataclasses.replace(
            WEB.budgets, triangles=100, materials=0, bones=10, texture_size=512, textures=0, file_size_mb=0.1
        ),
    )
    assert _ids(tiny) == [
        "over_budget_bones",
        "over_budget_file_size",
        "over_budget_materials",
        "over_budget_texture_size",
        "over_budget_textures",
        "over_budget_triangles",
    ]


def test_fix_all_repairs_a_broken_import(blender, demo_blend):
    avatar = rigs.build_rig("mixamo", demo_blend)
    avatar.armature.location.z = 0.2
    avatar.armature.scale = (1.5, 1.5, 1.5)
    avatar.body.modifiers.remove(avatar.body.modifiers["Armature"])
    before = rig_check.check_rig(None, WEB)
    assert sorted(before.ids()) == ["mapping_not_stored", "missing_armature_modifier", "not_grounded",
                                    "unapplied_transforms"]  # fmt: skip
    after = rig_check.check_rig(None, WEB, fix=True)
    assert after.ok and after.findings == [], after.findings
    assert after.mapping == rigs.expected_mapping("mixamo")
