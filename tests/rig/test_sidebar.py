"""The Rig panel's operators, run as the artist's buttons run them (registered from the extension)."""

from __future__ import annotations

from typing import Any

import bpy
import pytest


def _state() -> Any:
    """The last check, as the Rig panel shows it."""
    window_manager: Any = bpy.context.window_manager
    return window_manager.avatar_forge_rig


def test_check_then_fix_one_then_fix_all_from_the_sidebar(blender, demo_blend):
    bpy.ops.wm.open_mainfile(filepath=str(demo_blend))
    avatar, body = bpy.data.objects["Avatar"], bpy.data.objects["AvatarBody"]
    avatar.location.z = 0.4
    body.modifiers.remove(body.modifiers["Armature"])
    state = _state()

    assert bpy.ops.avatar_forge.check_rig() == {"FINISHED"}
    assert state.checked and not state.ok and state.armature == "Avatar"
    assert sorted(f.finding_id for f in state.findings) == ["missing_armature_modifier", "not_grounded"]
    assert all(f.fixable for f in state.findings) and state.findings[0].severity == "error"

    assert bpy.ops.avatar_forge.fix_rig_finding(finding_id="not_grounded") == {"FINISHED"}
    assert [f.finding_id for f in state.findings] == ["missing_armature_modifier"]
    assert abs(avatar.location.z) < 1e-4

    assert bpy.ops.avatar_forge.fix_rig_all() == {"FINISHED"}
    assert state.ok and len(state.findings) == 0
    assert body.modifiers[0].object == avatar


def test_fixing_a_finding_that_is_not_there_is_refused(blender, demo_blend):
    bpy.ops.wm.open_mainfile(filepath=str(demo_blend))
    with pytest.raises(RuntimeError, match="no finding 'not_grounded' to fix"):
        bpy.ops.avatar_forge.fix_rig_finding(finding_id="not_grounded")


def test_auto_map_button_maps_a_renamed_rig(blender, demo_blend):
    from tests import rigs

    avatar = rigs.build_rig("vroid", demo_blend)
    assert bpy.ops.avatar_forge.auto_map_bones() == {"FINISHED"}
    state = _state()
    assert state.ok and state.mapped == 54
    data: Any = avatar.armature.data
    human_bones = data.vrm_addon_extension.vrm1.humanoid.human_bones
    assert human_bones.left_upper_arm.node.bone_name == "J_Bip_L_UpperArm"


def test_auto_rig_button_rigs_the_selected_mesh_anew_and_checks_it(blender, demo_blend):
    bpy.ops.wm.open_mainfile(filepath=str(demo_blend))
    for obj in bpy.data.objects:
        obj.select_set(False)
    with pytest.raises(RuntimeError, match="select the meshes to rig"):
        bpy.ops.avatar_forge.auto_rig()
    bpy.data.objects["AvatarBody"].select_set(True)
    with pytest.raises(RuntimeError, match="already driven by an armature: AvatarBody"):
        bpy.ops.avatar_forge.auto_rig()
    assert bpy.ops.avatar_forge.auto_rig(replace=True) == {"FINISHED"}
    state = _state()
    assert "Avatar" not in bpy.data.objects and state.checked and state.armature in bpy.data.objects
    assert bpy.data.objects["AvatarBody"].modifiers[0].object.name == state.armature
    assert state.mapped >= 15 and "missing_required_bone" not in {f.finding_id for f in state.findings}


def test_replacing_the_rig_of_one_mesh_of_several_it_drives_is_refused_naming_the_others(blender, demo_blend):
    # An artist selects the body alone and replaces its rig: the armature would go, and the clothes it also
    # drives would be left behind, bare and out of place.
    bpy.ops.wm.open_mainfile(filepath=str(demo_blend))
    body = bpy.data.objects["AvatarBody"]
    shirt = body.copy()
    shirt.name = "AvatarShirt"
    body.users_collection[0].objects.link(shirt)
    for obj in bpy.data.objects:
        obj.select_set(obj == body)
    with pytest.raises(RuntimeError, match="'Avatar' also drives AvatarShirt: rig it too"):
        bpy.ops.avatar_forge.auto_rig(replace=True)
    assert "Avatar" in bpy.data.objects and shirt.modifiers[0].object.name == "Avatar"
    shirt.select_set(True)
    assert bpy.ops.avatar_forge.auto_rig(replace=True) == {"FINISHED"}
    assert "Avatar" not in bpy.data.objects and shirt.modifiers[0].object == body.modifiers[0].object


def test_auto_rigging_a_table_says_it_is_not_a_standing_humanoid(blender, empty_scene):
    # The sidebar (and the socket) show the same line as convert, not the bare reason ("no two legs").
    bpy.ops.mesh.primitive_cube_add(size=1, location=(0, 0, 0.8), scale=(1.2, 0.7, 0.05))
    for x in (-0.5, 0.5):
        for y in (-0.3, 0.3):
            bpy.ops.mesh.primitive_cube_add(size=1, location=(x, y, 0.4), scale=(0.06, 0.06, 0.8))
    for obj in bpy.data.objects:
        obj.select_set(True)
    with pytest.raises(RuntimeError, match="not a standing humanoid: "):
        bpy.ops.avatar_forge.auto_rig()
    assert [o.type for o in bpy.data.objects] == ["MESH"] * 5
