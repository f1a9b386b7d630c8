"""Rigs as other tools export them, fixed without damage: every vertex and bone stays where it was in the
rest pose (tests/invariants.py), every instance of a finding is fixed in one run, rigid parts stay rigid,
and a skeleton that is not a VRM humanoid is restructured only when asked for."""

from __future__ import annotations

import dataclasses
import json
import struct
from typing import Any

import bpy
import mathutils
import numpy as np
import pytest

from addon.blender import context, rig_check, vrm_export
from addon.core.presets import get_preset
from tests import invariants, rigs
from tests.console_lines import fd1_text

WEB = get_preset("companions-web")
TOLERANCE = 1e-5  # metres


@pytest.fixture
def avatar(blender, demo_blend):
    bpy.ops.wm.open_mainfile(filepath=str(demo_blend))
    return bpy.data.objects["Avatar"], bpy.data.objects["AvatarBody"]


def _edit(armature, change):
    context.view_layer().objects.active = armature
    bpy.ops.object.mode_set(mode="EDIT")
    change(armature.data.edit_bones)
    bpy.ops.object.mode_set(mode="OBJECT")


def _parent_to_bone(obj, armature, bone):
    """Parents like Ctrl+P > Bone: the part keeps its place (a bone parent sits at the bone's tail)."""
    pose_bone = armature.pose.bones[bone]
    tail = mathutils.Matrix.Translation((0.0, pose_bone.length, 0.0))
    obj.parent, obj.parent_type, obj.parent_bone = armature, "BONE", bone
    obj.matrix_parent_inverse = (armature.matrix_world @ pose_bone.matrix @ tail).inverted()
    context.view_layer().update()


def _plate(name, location, mesh=None):
    """A small box: a robot's plate, or a helmet. With `mesh`, it shares that mesh datablock."""
    if mesh is None:
        bpy.ops.mesh.primitive_cube_add(size=0.08, location=location)
        obj: Any = context.view_layer().objects.active
    else:
        obj = bpy.data.objects.new(name, mesh)
        context.scene().collection.objects.link(obj)
        obj.location = location
    obj.name = name
    context.view_layer().update()
    return obj


def _in_centimetres_at_scale_100(armature, body):
    """The armature object scaled 100 over bones and skin in centimetres/100, as FBX2glTF writes them."""

    armature.data.transform(mathutils.Matrix.Scale(0.01, 4))
    armature.update_tag(refresh={"DATA"})  # the pose is rebuilt from the new rest on the next update
    armature.scale = (100.0, 100.0, 100.0)
    body.data.transform(mathutils.Matrix.Scale(0.01, 4), shape_keys=True)
    context.view_layer().update()


def test_scale_100_with_bone_parented_parts_sharing_a_mesh_is_applied_without_moving_anything(avatar):
    armature, body = avatar
    _in_centimetres_at_scale_100(armature, body)
    helmet = _plate("Helmet", (0.0, 0.0, 1.62))
    gauntlet = _plate("Gauntlet", (0.7, 0.0, 1.4), mesh=helmet.data)  # one mesh datablock, two parts
    _parent_to_bone(helmet, armature, "Head")
    _parent_to_bone(gauntlet, armature, "Hand.L")
    context.view_layer().update()
    before = invariants.snapshot()

    report = rig_check.check_rig(None, WEB)
    assert "unapplied_transforms" in report.ids() and "missing_armature_modifier" not in report.ids()
    fixed = rig_check.check_rig(None, WEB, fix="safe")

    assert fixed.ok and "unapplied_transforms" not in fixed.ids() and "fix_failed" not in fixed.ids(), fixed.findings
    assert tuple(armature.scale) == pytest.approx((1, 1, 1)) and tuple(body.scale) == pytest.approx((1, 1, 1))
    assert max(invariants.moved(before, invariants.snapshot()).values()) < TOLERANCE
    assert helmet.parent_bone == "Head" and gauntlet.parent_bone == "Hand.L"
    assert not [m for o in (helmet, gauntlet) for m in o.modifiers]  # rigid parts stay rigid


def test_rigid_parts_are_valid_vrm_parts_counted_in_the_budget(avatar):
    armature, body = avatar
    plates = [_plate(f"Plate{i}", (0.0, -0.1, 1.0 + 0.1 * i)) for i in range(3)]
    for plate in plates:
        _parent_to_bone(plate, armature, "Spine")
    report = rig_check.check_rig(None, WEB)
    assert report.ok and report.findings == [], report.findings
    assert report.stats["vertices"] == len(body.data.vertices) + 3 * 8
    fixed = rig_check.check_rig(None, WEB, fix="safe")
    assert fixed.fixes == [] and not [m for p in plates for m in p.modifiers]


def test_every_instance_of_a_finding_is_fixed_in_one_run(avatar):
    armature, body = avatar
    parts = []
    for i in range(3):
        part = body.copy()
        part.data = body.data.copy()
        part.name = f"Part{i}"
        part.modifiers.remove(part.modifiers["Armature"])
        context.scene().collection.objects.link(part)
        parts.append(part)
    report = rig_check.check_rig(None, WEB)
    assert report.ids().count("missing_armature_modifier") == 3
    fixed = rig_check.check_rig(None, WEB, fix="safe")
    assert "missing_armature_modifier" not in fixed.ids()
    assert all(p.modifiers[0].object == armature for p in parts)
    assert len(fixed.fixes) == 3 and all("added an Armature modifier" in line for line in fixed.fixes)


def test_meshes_sharing_mesh_data_are_fixed_without_a_traceback(avatar):
    armature, body = avatar
    twin = bpy.data.objects.new("BodyTwin", body.data)  # the same mesh datablock
    context.scene().collection.objects.link(twin)
    twin.parent = armature
    twin.modifiers.new("Armature", "ARMATURE").object = armature
    twin.scale = (1.0, 1.0, 1.0)
    body.scale = (1.5, 1.5, 1.5)
    body.location.z = 0.0
    context.view_layer().update()
    before = invariants.snapshot()
    fixed = rig_check.check_rig(None, WEB, fix="safe")
    assert "fix_failed" not in fixed.ids() and "unapplied_transforms" not in fixed.ids(), fixed.findings
    after = invariants.snapshot()
    moves = invariants.moved(before, after, offset=after.vertices["BodyTwin"][0] - before.vertices["BodyTwin"][0])
    assert moves["AvatarBody"] < TOLERANCE and moves["BodyTwin"] < TOLERANCE


def _legs_from_root(armature):
    def change(bones):
        root = bones.new("Root")
        root.head, root.tail = (0, 0, 0), (0, 0.1, 0)
        bones["Hips"].parent = root
        for side in ("L", "R"):
            bones[f"UpperLeg.{side}"].use_connect = False
            bones[f"UpperLeg.{side}"].parent = root

    _edit(armature, change)
    rigs.clear_mapping(armature)


def test_legs_hanging_from_the_root_are_refused_with_the_cause_and_restructured_only_when_asked(avatar):
    armature, _ = avatar
    _legs_from_root(armature)
    report = rig_check.check_rig(None, WEB)
    missing = next(f for f in report.findings if f.id == "missing_required_bone")
    assert "leftUpperLeg: 'UpperLeg.L' hangs from 'Root', not from the hips bone 'Hips'" in missing.message
    assert missing.fix == "structural" and "reparent 'UpperLeg.L' under 'Hips'" in missing.message

    safe = rig_check.check_rig(None, WEB, fix="safe")
    assert "missing_required_bone" in safe.ids() and armature.data.bones["UpperLeg.L"].parent.name == "Root"

    before = invariants.snapshot()
    fixed = rig_check.check_rig(None, WEB, fix="all")
    assert fixed.ok, fixed.findings
    assert armature.data.bones["UpperLeg.L"].parent.name == "Hips"
    assert fixed.mapping["leftUpperLeg"] == "UpperLeg.L" and fixed.mapping["hips"] == "Hips"
    assert max(invariants.moved(before, invariants.snapshot()).values()) < 1e-6
    assert any("reparented 'UpperLeg.L' under 'Hips'" in line for line in fixed.fixes)


def _apply_all(objects):
    for obj in objects:
        for other in context.view_layer().objects:
            other.select_set(False)
        obj.select_set(True)
        context.view_layer().objects.active = obj
        bpy.ops.object.transform_apply(location=False, rotation=True, scale=True)


def test_an_avatar_authored_in_centimetres_is_scaled_to_metres_and_grounded(avatar):
    armature, body = avatar
    armature.scale = (100.0, 100.0, 100.0)
    context.view_layer().update()
    _apply_all([armature, body])  # as a glTF in centimetres arrives: 172 m tall, scale 1
    armature.location.z = -40.0
    context.view_layer().update()
    before = invariants.snapshot()
    report = rig_check.check_rig(None, WEB)
    units = next(f for f in report.findings if f.id == "wrong_units")
    assert units.severity == "error" and units.fix == "safe" and "by 0.01" in units.message
    grounding = next(f for f in report.findings if f.id == "not_grounded")
    assert "of its size: check its units and origin first" in grounding.message

    fixed = rig_check.check_rig(None, WEB, fix="safe")
    assert fixed.ok and "wrong_units" not in fixed.ids() and "not_grounded" not in fixed.ids(), fixed.findings
    after = invariants.snapshot()
    body_after, body_before = after.vertices["AvatarBody"], before.vertices["AvatarBody"] * 0.01
    offset = body_after - body_before
    assert abs(offset - offset[0]).max() < TOLERANCE  # scaled by 0.01 and moved as one: shape unchanged
    assert body_after[:, 2].min() == pytest.approx(0.0, abs=1e-4)
    assert 1.5 < body_after[:, 2].max() < 1.9  # a person's height, on the ground
    assert fixed.fixes[0].startswith("scaled 'Avatar' and its meshes by 0.01")


def test_a_doll_no_unit_explains_is_scaled_to_the_presets_target_height(avatar):
    armature, body = avatar
    armature.scale = (0.3, 0.3, 0.3)  # 0.52 m: a tenth or a hundredth of any unit is no person either
    context.view_layer().update()
    _apply_all([armature, body])
    before = invariants.snapshot().vertices["AvatarBody"]
    units = next(f for f in rig_check.check_rig(None, WEB).findings if f.id == "wrong_units")
    assert units.fixable and "to the preset's target height of 1.6 m, proportions kept" in units.message

    fixed = rig_check.check_rig(None, WEB, fix="safe")
    assert fixed.ok and "wrong_units" not in fixed.ids(), fixed.findings
    assert "to the preset's target height of 1.6 m, proportions kept" in fixed.fixes[0]
    after = invariants.snapshot().vertices["AvatarBody"]
    k = 1.6 / float((before.max(axis=0) - before.min(axis=0)).max())
    offset = after - before * k
    assert abs(offset - offset[0]).max() < TOLERANCE  # scaled about the origin and grounded: shape unchanged
    assert float((after.max(axis=0) - after.min(axis=0)).max()) == pytest.approx(1.6, abs=1e-5)


def test_a_pose_that_scales_or_moves_bones_is_named_and_applied_as_rest_only_when_asked(avatar):
    armature, _ = avatar
    pose = armature.pose.bones
    pose["Hips"].location = (0.0, 0.3, 0.0)  # the export's T-pose clears the first mapped bone's move
    context.view_layer().update()
    assert "scaled_pose" not in rig_check.check_rig(None, WEB).ids()
    pose["Hips"].location = (0.0, 0.0, 0.0)
    pose["UpperLeg.L"].location = (0.0, 0.02, 0.0)  # not connected: its move is a move
    pose["Head"].scale = (1.5, 1.5, 1.5)
    pose["LowerArm.L"].rotation_quaternion = (0.9239, 0.0, 0.3827, 0.0)  # a turn stays a turn
    context.view_layer().update()
    report = rig_check.check_rig(None, WEB)
    posed = next(f for f in report.findings if f.id == "scaled_pose")
    assert posed.severity == "error" and posed.fix == "structural" and posed.objects == ("Avatar",)
    assert "'UpperLeg.L' (moved 0.02 units)" in posed.message and "'Head' (scale 1.5)" in posed.message
    assert "Hips" not in posed.message and "LowerArm" not in posed.message
    assert "scaled_pose" in rig_check.check_rig(None, WEB, fix="safe").ids()

    seen = invariants.shown()
    fixed = rig_check.check_rig(None, WEB, fix="all")
    assert "scaled_pose" not in fixed.ids() and "fix_failed" not in fixed.ids(), fixed.findings
    now = invariants.shown()
    # The avatar stays where it is seen, up to grounding (the moved leg reached below z=0): one move up.
    ground = now.vertices["AvatarBody"][0] - seen.vertices["AvatarBody"][0]
    assert abs(ground[:2]).max() < TOLERANCE and ground[2] > 0.0
    assert max(invariants.moved(seen, now, ground).values()) < TOLERANCE
    assert tuple(pose["Head"].scale) == (1.0, 1.0, 1.0) and tuple(pose["UpperLeg.L"].location) == (0.0, 0.0, 0.0)
    assert pose["LowerArm.L"].rotation_quaternion[2] == pytest.approx(0.3827)  # still posed, not rest


@pytest.mark.parametrize("constrained", [False, True], ids=["plain", "constrained"])
def test_a_fix_that_changes_the_rest_says_which_actions_it_re_based_and_nothing_on_stdout(avatar, capsys, constrained):
    armature, _ = avatar
    head = armature.pose.bones["Head"]
    armature.animation_data_create().action = bpy.data.actions.new("Wave")
    for frame, angle in ((1, 0.0), (10, 0.4)):
        head.rotation_quaternion = mathutils.Quaternion((0.0, 0.0, 1.0), angle)
        head.keyframe_insert("rotation_quaternion", frame=frame)
    head.scale = (1.5, 1.5, 1.5)
    if constrained:  # a constraint poses the head too: its keys alone no longer say how it plays
        head.constraints.new("COPY_ROTATION").target = armature
    context.view_layer().update()
    with fd1_text() as printed:
        fixed = rig_check.check_rig(None, WEB, fix="all")
    assert "scaled_pose" not in fixed.ids()
    assert printed == [""]  # `check --fix` prints its report there
    line = next(f for f in fixed.fixes if "as its rest pose" in f)
    assert "re-based 1 action(s) to the new rest pose: Wave" in line
    warned = [line for line in capsys.readouterr().err.splitlines() if "Actions on this armature" in line]
    # Blender's warning is true only where the re-base may not hold: said once on stderr, and in the line.
    assert ("may make them play differently" in line) == constrained
    assert warned == (
        [
            "Warning: Actions on this armature will be destroyed by this new rest pose as the transforms stored "
            "are relative to the old rest pose"
        ]
        if constrained
        else []
    )


def _posed_world(obj):
    evaluated = obj.evaluated_get(bpy.context.evaluated_depsgraph_get()).data
    co = [obj.matrix_world @ v.co for v in evaluated.vertices]
    return [tuple(c) for c in co]


def _lying_in_rest_standing_in_pose(armature, body):
    """MakeHuman through Blender's FBX importer: the rest pose lies flat, the upright figure is only posed."""
    lie = mathutils.Matrix.Rotation(-1.5707963, 4, "X")
    context.view_layer().objects.active = armature
    bpy.ops.object.mode_set(mode="EDIT")
    armature.data.edit_bones[0].parent = None
    armature.data.transform(lie)
    bpy.ops.object.mode_set(mode="OBJECT")
    body.data.transform(lie, shape_keys=True)
    hips = armature.pose.bones["Hips"]
    pivot = armature.data.bones["Hips"].head_local.copy()
    stand = mathutils.Matrix.Translation(pivot) @ lie.inverted() @ mathutils.Matrix.Translation(-pivot)
    hips.matrix = stand @ hips.matrix
    context.view_layer().update()


def test_a_rest_pose_lying_flat_gets_its_standing_pose_applied_only_when_asked(avatar):
    armature, body = avatar
    _lying_in_rest_standing_in_pose(armature, body)
    keys = body.data.shape_keys.key_blocks
    delta_before = max((keys["aa"].data[i].co - keys[0].data[i].co).length for i in range(len(keys[0].data)))
    body.active_shape_key_index = 3  # the artist's shape key panel, which the fix reads each key through
    looks = _posed_world(body)
    report = rig_check.check_rig(None, WEB)
    upright = next(f for f in report.findings if f.id == "rest_pose_not_upright")
    assert upright.fix == "structural" and "its current pose stands" in upright.message
    assert "rest_pose_not_upright" in rig_check.check_rig(None, WEB, fix="safe").ids()

    fixed = rig_check.check_rig(None, WEB, fix="all")
    assert "rest_pose_not_upright" not in fixed.ids() and "fix_failed" not in fixed.ids(), fixed.findings
    rest = invariants.snapshot().vertices["AvatarBody"]
    shift = rest - np.array(looks)  # the new rest pose is the old look, grounded afterwards (one offset)
    assert abs(shift - shift[0]).max() < 1e-4 and abs(shift[0][:2]).max() < 1e-6
    keys = body.data.shape_keys.key_blocks
    assert len(keys) == 14
    delta_after = max((keys["aa"].data[i].co - keys[0].data[i].co).length for i in range(len(keys[0].data)))
    assert delta_after == pytest.approx(delta_before, rel=1e-4)
    assert body.active_shape_key_index == 3 and not body.show_only_shape_key  # the panel as it was
    assert armature.data.pose_position == "POSE"


def test_applying_a_meshs_scale_leaves_the_avatar_posed_as_it_was_seen(avatar):
    armature, body = avatar
    armature.pose.bones["LowerArm.L"].rotation_quaternion = (0.9239, 0.0, 0.3827, 0.0)
    body.data.transform(mathutils.Matrix.Scale(1 / 1.5, 4))
    body.scale = (1.5, 1.5, 1.5)
    context.view_layer().update()
    seen = invariants.shown()
    assert "unapplied_transforms" in rig_check.check_rig(None, WEB).ids()

    fixed = rig_check.check_rig(None, WEB, fix="safe")
    assert "unapplied_transforms" not in fixed.ids(), fixed.findings
    assert tuple(body.scale) == pytest.approx((1, 1, 1)) and armature.data.pose_position == "POSE"
    assert max(invariants.moved(seen, invariants.shown()).values()) < TOLERANCE


def test_a_figure_lying_in_both_rest_and_pose_is_refused_with_the_reason(avatar):
    armature, body = avatar
    _lying_in_rest_standing_in_pose(armature, body)
    armature.pose.bones["Hips"].matrix_basis = mathutils.Matrix.Identity(4)
    context.view_layer().update()
    report = rig_check.check_rig(None, WEB, fix="all")
    upright = next(f for f in report.findings if f.id == "rest_pose_not_upright")
    assert not upright.fixable and "does not stand either" in upright.message


def _cap_on_an_unparented_body(armature, body, name):
    """The body unparented from the armature (it keeps its Armature modifier) and a skinned cap parented
    to the body, as a kitbashed avatar arrives: neither mesh descends from the armature."""
    placed = body.matrix_world.copy()
    body.parent = None
    body.matrix_world = placed
    cap = _plate(name, (0.0, 0.0, 1.75))
    cap.vertex_groups.new(name="Head").add(list(range(len(cap.data.vertices))), 1.0, "REPLACE")
    cap.modifiers.new("Armature", "ARMATURE").object = armature
    cap.parent = body
    cap.matrix_parent_inverse = body.matrix_world.inverted()
    context.view_layer().update()
    return cap


# Named to be listed before and after its parent: moved before the parent, a child is moved again with it.
_CAP_NAMES = pytest.mark.parametrize("cap_name", ["Accessory", "Cap"])


@_CAP_NAMES
def test_a_mesh_parented_to_an_unparented_mesh_is_grounded_once(avatar, cap_name):
    armature, body = avatar
    _cap_on_an_unparented_body(armature, body, cap_name)
    for obj in (armature, body):
        obj.location.z += 0.3
    context.view_layer().update()
    before = invariants.snapshot()
    assert "not_grounded" in rig_check.check_rig(None, WEB).ids()

    fixed = rig_check.check_rig(None, WEB, fix="safe")
    assert "not_grounded" not in fixed.ids(), fixed.findings
    down = np.array([0.0, 0.0, -0.3])
    assert max(invariants.moved(before, invariants.snapshot(), down).values()) < TOLERANCE


@_CAP_NAMES
def test_a_mesh_parented_to_an_unparented_mesh_is_scaled_once(avatar, cap_name):
    armature, body = avatar
    cap = _cap_on_an_unparented_body(armature, body, cap_name)
    for obj in (armature, body):  # the cap follows the body
        obj.matrix_world = mathutils.Matrix.Scale(100.0, 4) @ obj.matrix_world
    context.view_layer().update()
    _apply_all([armature, body, cap])  # 172 m tall at scale 1: authored in centimetres
    before = invariants.snapshot()
    assert "wrong_units" in rig_check.check_rig(None, WEB).ids()

    fixed = rig_check.check_rig(None, WEB, fix="safe")
    assert "wrong_units" not in fixed.ids(), fixed.findings
    after = invariants.snapshot()
    for name in ("AvatarBody", cap_name):
        offset = after.vertices[name] - before.vertices[name] * 0.01
        assert abs(offset - offset[0]).max() < TOLERANCE, name  # scaled by 0.01 once, moved as one


def test_a_fix_that_leaves_its_finding_is_not_run_again(avatar, tmp_path):
    # A prop linked from a library: Blender leaves its scale as it is, so the scale fix cannot clear it.
    prop = _plate("Prop", (0.3, 0.0, 1.0))
    prop.scale = (1.5, 1.5, 1.5)
    prop.vertex_groups.new(name="Hips").add(list(range(len(prop.data.vertices))), 1.0, "REPLACE")
    bpy.data.libraries.write(str(tmp_path / "props.blend"), {prop})
    bpy.data.objects.remove(prop)
    with bpy.data.libraries.load(str(tmp_path / "props.blend"), link=True) as (_, linked):
        linked.objects = ["Prop"]
    context.scene().collection.objects.link(linked.objects[0])
    context.view_layer().update()

    fixed = rig_check.check_rig(None, WEB, fix="safe")
    assert "unapplied_transforms" in fixed.ids()
    assert [f for f in fixed.fixes if "Prop" in f] == [
        "added an Armature modifier for 'Avatar' to 'Prop'",
        "applied rotation and scale on Prop",
    ]


def test_unweighted_vertices_go_to_the_nearest_deform_bone_not_a_nearer_ik_bone(avatar):
    armature, body = avatar
    world = np.array([body.matrix_world @ v.co for v in body.data.vertices])
    left = np.nonzero(world[:, 0] > 0.0)[0]
    lonely = left[np.argsort(world[left, 2])[:10]].tolist()  # the left sole
    for group in body.vertex_groups:
        group.remove(lonely)
    heel = world[lonely].mean(axis=0)
    local = armature.matrix_world.inverted()

    def add_ik_bone(bones):
        bone = bones.new("MCH-foot_ik.L")  # Rigify's IK helper, lying right through the soles
        bone.head, bone.tail = local @ mathutils.Vector(heel), local @ mathutils.Vector(heel + (0.0, 0.1, 0.0))
        bone.use_deform = False

    _edit(armature, add_ik_bone)
    assert "unweighted_vertices" in rig_check.check_rig(None, WEB).ids()

    fixed = rig_check.check_rig(None, WEB, fix="safe")
    assert "unweighted_vertices" not in fixed.ids(), fixed.findings
    assert "MCH-foot_ik.L" not in body.vertex_groups
    for v in lonely:
        groups = {body.vertex_groups[g.group].name: g.weight for g in body.data.vertices[v].groups}
        assert groups and all(armature.data.bones[name].use_deform for name in groups), groups


def _game_rig_feet(armature):
    """Feet hanging from a `Root` bone beside IK pole targets (each with an importer's `_end` marker empty)."""

    def change(bones):
        root = bones.new("Root")
        root.head, root.tail = (0, 0, 0), (0, 0.1, 0)
        bones["Hips"].parent = root
        for side, x in (("L", 0.1), ("R", -0.1)):
            bones[f"Foot.{side}"].use_connect = False
            bones[f"Foot.{side}"].parent = root
            pole = bones.new(f"PoleTarget.{side}")
            pole.head, pole.tail, pole.parent = (x, -0.5, 0.5), (x, -0.6, 0.5), root

    _edit(armature, change)
    rigs.clear_mapping(armature)
    for side in ("L", "R"):
        marker = bpy.data.objects.new(f"PoleTarget.{side}_end", None)
        context.scene().collection.objects.link(marker)
        _parent_to_bone(marker, armature, f"PoleTarget.{side}")


def test_feet_hanging_from_the_root_beside_ik_poles_go_under_the_shins_and_the_poles_stay_out_of_the_file(
    avatar, tmp_path
):
    armature, _ = avatar
    _game_rig_feet(armature)
    boot = _plate("Boot", (0.1, -0.05, 0.05))
    _parent_to_bone(boot, armature, "Foot.L")  # a rigid part on the foot: it is a body part
    marker = bpy.data.objects["PoleTarget.L_end"]
    placed = marker.matrix_world.copy()
    report = rig_check.check_rig(None, WEB)
    missing = next(f for f in report.findings if f.id == "missing_required_bone")
    assert "leftFoot: 'Foot.L' hangs from 'Root', not from leftLowerLeg 'LowerLeg.L'" in missing.message
    before = invariants.snapshot()
    fixed = rig_check.check_rig(None, WEB, fix="all")
    assert fixed.ok, fixed.findings
    assert armature.data.bones["Foot.L"].parent.name == "LowerLeg.L"
    assert armature.data.bones["PoleTarget.L"].parent.name == "Root"  # a control: left where it was
    assert fixed.mapping["leftFoot"] == "Foot.L" and boot.parent_bone == "Foot.L"
    assert max(invariants.moved(before, invariants.snapshot()).values()) < 1e-6

    out = tmp_path / "Feet.vrm"
    vrm_export.export_vrm(out, dataclasses.replace(WEB, thumbnail=False))
    document = _gltf_json(out)
    names = [n.get("name", "") for n in document["nodes"]]
    joints = {names[j] for skin in document["skins"] for j in skin["joints"]}
    assert "Foot.L" in joints and not [n for n in names if n.startswith("PoleTarget")]
    # The scene is as it was: the poles still deform (as before) and their markers hang where they hung.
    assert armature.data.bones["PoleTarget.L"].use_deform
    assert marker.parent == armature and marker.parent_bone == "PoleTarget.L"
    assert np.allclose(np.array(marker.matrix_world), np.array(placed), atol=1e-6)


def _gltf_json(path):
    data = path.read_bytes()
    size = struct.unpack_from("<I", data, 12)[0]
    return json.loads(data[20 : 20 + size])


def _without_hand_bones(armature, body):
    """Each hand bone removed, its fingers (the thumb too) hanging straight off the forearm, its weights the
    forearm's: a game rig's hand."""
    groups = body.vertex_groups
    for side in ("L", "R"):
        hand, forearm = groups[f"Hand.{side}"], groups[f"LowerArm.{side}"]
        for vertex in body.data.vertices:
            weight = next((g.weight for g in vertex.groups if g.group == hand.index), 0.0)
            if weight > 0.0:
                forearm.add([vertex.index], weight, "ADD")
        groups.remove(hand)

    def change(bones):
        for side in ("L", "R"):
            for child in list(bones[f"Hand.{side}"].children):
                child.use_connect = False
                child.parent = bones[f"LowerArm.{side}"]
            bones.remove(bones[f"Hand.{side}"])

    _edit(armature, change)
    rigs.clear_mapping(armature)


def test_a_forearm_without_a_hand_bone_gets_one_at_the_wrist_that_moves_nothing(avatar):
    armature, body = avatar
    _without_hand_bones(armature, body)
    report = rig_check.check_rig(None, WEB)
    missing = next(f for f in report.findings if f.id == "missing_required_bone")
    assert "leftHand: no hand bone: 'Thumb1.L', 'Index1.L'" in missing.message
    assert missing.fix == "structural" and "insert 'Hand.L' at the end of 'LowerArm.L'" in missing.message
    before = invariants.snapshot()
    fixed = rig_check.check_rig(None, WEB, fix="all")
    assert fixed.ok, fixed.findings
    bones = armature.data.bones
    wrist = np.array(bones["LowerArm.L"].tail_local)
    assert np.allclose(np.array(bones["Hand.L"].head_local), wrist) and bones["Hand.L"].parent.name == "LowerArm.L"
    assert {b.name for b in bones["Hand.L"].children} == {
        f"{f}1.L" for f in ("Thumb", "Index", "Middle", "Ring", "Little")
    }
    assert fixed.mapping["leftHand"] == "Hand.L" and fixed.mapping["leftIndexProximal"] == "Index1.L"
    assert "Hand.L" not in body.vertex_groups  # it deforms nothing itself: posing it turns the fingers
    after = invariants.snapshot()
    after.bones = {k: v for k, v in after.bones.items() if k in before.bones}  # the new hand bones
    assert max(invariants.moved(before, after).values()) < 1e-6


def _played(armature, body, frames):
    """Per frame: each bone's head and tail and each vertex of the body, in the world."""
    seen = []
    for frame in frames:
        context.scene().frame_set(frame)
        bones = sorted(armature.pose.bones, key=lambda b: b.name)  # reparenting reorders them
        ends = [armature.matrix_world @ b.matrix @ mathutils.Vector(v) for b in bones
                for v in ((0.0, 0.0, 0.0), (0.0, b.bone.length, 0.0))]  # fmt: skip
        seen.append(np.array([*ends, *map(np.array, _posed_world(body))]))
    context.scene().frame_set(1)
    return np.array(seen)


def test_legs_hung_under_the_hips_walk_as_they_did(avatar):
    armature, body = avatar
    _legs_from_root(armature)
    pose = armature.pose.bones
    armature.animation_data_create().action = bpy.data.actions.new("Walk")
    for frame, sway, stride in ((1, 0.0, 0.0), (10, 0.3, 0.5), (20, -0.2, -0.4)):
        pose["Root"].location = (0.0, 0.0, 0.2 * stride)  # the whole walks forward
        pose["Hips"].rotation_quaternion = mathutils.Quaternion((0.0, 0.0, 1.0), sway)
        pose["Hips"].location = (0.0, 0.05 * sway, 0.0)
        pose["UpperLeg.L"].rotation_quaternion = mathutils.Quaternion((1.0, 0.0, 0.0), stride)
        for bone, path in (("Root", "location"), ("Hips", "rotation_quaternion"), ("Hips", "location"),
                           ("UpperLeg.L", "rotation_quaternion")):  # fmt: skip
            pose[bone].keyframe_insert(path, frame=frame)
    frames = range(1, 21)
    before = _played(armature, body, frames)

    fixed = rig_check.check_rig(None, WEB, fix="all")
    line = next(f for f in fixed.fixes if "reparented 'UpperLeg.L' under 'Hips'" in f)
    assert "re-based 1 action(s) to the new rest pose: Walk" in line, line
    moved = np.linalg.norm(_played(armature, body, frames) - before, axis=2).max(axis=1)
    height = float(np.ptp(before[0][:, 2]))
    keyed = [frames.index(f) for f in (1, 10, 20)]
    assert moved[keyed].max() < 1e-4 * height, moved  # unmoved, 16% of its height without the re-base
    assert moved.max() < 0.02 * height, moved  # between keys the legs' new curves interpolate: close
