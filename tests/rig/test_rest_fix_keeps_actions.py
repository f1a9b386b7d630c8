"""A fix that changes the rest pose (or applies the armature object's scale, which resizes its bones) re-bases
the armature's actions: every bone and vertex is posed at each frame as before the fix, for the action the
armature plays, one in an NLA strip and one no object plays."""

from __future__ import annotations

import math
from typing import Any

import bpy
import mathutils
import numpy as np
import pytest

from addon.blender import context, rig_fixes
from addon.core.rig.findings import Finding

ACTIONS = ("Walk", "Idle", "Wave")  # played, in a muted NLA strip, no object's
FRAMES = range(1, 21)
BONES = {  # head, tail, parent, connected
    "Hips": ((0.0, 0.0, 1.0), (0.0, 0.0, 1.2), None, False),
    "Spine": ((0.0, 0.0, 1.2), (0.0, 0.0, 1.5), "Hips", True),
    "Head": ((0.0, 0.0, 1.5), (0.0, 0.0, 1.75), "Spine", True),
    "Arm": ((0.1, 0.0, 1.45), (0.5, 0.05, 1.4), "Spine", False),
    "Leg": ((0.1, 0.0, 0.95), (0.1, 0.02, 0.1), "Hips", False),
}


def _turn(angle, axis):
    return mathutils.Quaternion(axis, math.radians(angle))


def _key(bone, path, frame, value):
    setattr(bone, path, value)
    bone.keyframe_insert(path, frame=frame)


def _keyed(rig, name, keys, root, size):
    """A new action of `rig` with `keys(pose bones, root's turn, root's size)` keyed; returns it, unassigned."""
    rig.animation_data.action = bpy.data.actions.new(name)
    keys(rig.pose.bones, root, size)
    action = rig.animation_data.action
    rig.animation_data.action = None
    return action


def _walk(bones, root, _size):
    for frame, move in ((1, (0.0, 0.0, 0.0)), (10, (0.05, 0.1, 0.0)), (20, (0.0, 0.02, 0.03))):
        _key(bones["Hips"], "location", frame, move)
    for frame, angle in ((1, 0), (8, 25), (20, -15)):
        _key(bones["Hips"], "rotation_quaternion", frame, tuple(root @ _turn(angle, (0.3, 0.2, 1.0))))
    for frame, angles in ((1, (0.0, 0.0, 0.0)), (12, (0.3, -0.2, 0.4)), (20, (-0.2, 0.1, 0.0))):
        _key(bones["Spine"], "rotation_euler", frame, angles)
    for frame, angle in ((1, 0), (5, 10), (15, 70)):
        _key(bones["Arm"], "rotation_quaternion", frame, tuple(_turn(angle, (0.0, 0.4, 1.0))))
    for frame, size in ((1, 1.0), (20, 1.3)):
        _key(bones["Arm"], "scale", frame, (size, size, size))
    for frame, nod in ((3, 0.0), (17, 0.6)):
        _key(bones["Head"], "rotation_axis_angle", frame, (nod, 1.0, 0.0, 0.0))
    for frame, move in ((1, (0.0, 0.0, 0.0)), (10, (0.0, 0.05, 0.02))):
        _key(bones["Leg"], "location", frame, move)


def _idle(bones, root, _size):
    for frame, angle in ((1, 0), (10, 40), (20, 5)):
        _key(bones["Arm"], "rotation_quaternion", frame, tuple(_turn(angle, (1.0, 0.0, 0.2))))
    for frame, angles in ((1, (0.0, 0.0, 0.0)), (15, (0.1, 0.0, -0.3))):
        _key(bones["Spine"], "rotation_euler", frame, angles)
    for frame, angle in ((1, 0), (10, 8)):  # breathing: the root sways, the legs shift
        _key(bones["Hips"], "rotation_quaternion", frame, tuple(root @ _turn(angle, (1.0, 0.0, 0.0))))
    for frame, move in ((1, (0.0, 0.0, 0.0)), (15, (0.0, 0.03, 0.0))):
        _key(bones["Leg"], "location", frame, move)


def _wave(bones, root, size):
    for frame, stretch in ((1, 1.0), (8, 0.7), (20, 1.2)):
        _key(bones["Leg"], "scale", frame, (1.0, stretch, 1.0))
    for frame in (1, 12):  # the root's size keyed as the pose holds it, as FBX takes key every channel
        _key(bones["Hips"], "scale", frame, (size, size, size))
    for frame, angle in ((1, 0), (12, -30)):
        _key(bones["Hips"], "rotation_quaternion", frame, tuple(root @ _turn(angle, (0.0, 1.0, 0.0))))


def _avatar(finding):
    """A small skeleton with a skinned point per bone's third (some blended between two bones) and the three
    actions, with what `finding` names: a rest lying flat that every action's root keys stand up (as
    MakeHuman's FBX arrives), a root scaled by the pose, no key (as a centimetre glTF arrives), or the
    armature object turned and scaled."""
    lying = finding == "rest_pose_not_upright"
    lie = mathutils.Matrix.Rotation(-math.pi / 2 if lying else 0.0, 4, "X")
    data = bpy.data.armatures.new("Rig")
    rig: Any = bpy.data.objects.new("Rig", data)
    context.scene().collection.objects.link(rig)
    context.view_layer().objects.active = rig
    bpy.ops.object.mode_set(mode="EDIT")
    for name, (head, tail, parent, connected) in BONES.items():
        bone = data.edit_bones.new(name)
        bone.head, bone.tail = head, tail
        if parent:
            bone.parent, bone.use_connect = data.edit_bones[parent], connected
    data.transform(lie)
    bpy.ops.object.mode_set(mode="OBJECT")
    points, groups = [], []
    for name, (head, tail, _, _) in BONES.items():
        for t in (0.2, 0.5, 0.8):
            points.append(tuple(h + t * (e - h) + 0.03 for h, e in zip(head, tail, strict=True)))
            groups.append({name: 1.0} if t < 0.8 else {name: 0.6, BONES[name][2] or "Spine": 0.4})
    mesh = bpy.data.meshes.new("Body")
    mesh.from_pydata(points, [], [])
    mesh.transform(lie)
    body = bpy.data.objects.new("Body", mesh)
    context.scene().collection.objects.link(body)
    body.parent = rig
    for index, weights in enumerate(groups):
        for name, weight in weights.items():
            (body.vertex_groups.get(name) or body.vertex_groups.new(name=name)).add([index], weight, "REPLACE")
    body.modifiers.new("Armature", "ARMATURE").object = rig
    rig.pose.bones["Spine"].rotation_mode = "XYZ"
    rig.pose.bones["Head"].rotation_mode = "AXIS_ANGLE"
    rig.animation_data_create()
    root, size = lie.to_quaternion().inverted(), 0.5 if finding == "scaled_pose" else 1.0
    walk, idle = _keyed(rig, "Walk", _walk, root, size), _keyed(rig, "Idle", _idle, root, size)
    _keyed(rig, "Wave", _wave, root, size).use_fake_user = True
    track = rig.animation_data.nla_tracks.new()
    track.strips.new("Idle", 1, idle)
    track.mute = True
    for pose_bone in rig.pose.bones:  # keying left the last keys' values in the bones: back to the rest
        pose_bone.matrix_basis = mathutils.Matrix.Identity(4)
    rig.animation_data.action = walk
    rig.pose.bones["Hips"].scale = (size, size, size)
    if finding == "unapplied_transforms":  # an importer's turned and scaled armature object
        rig.rotation_euler, rig.scale = (0.0, 0.0, 0.3), (2.5, 2.5, 2.5)
    context.scene().frame_set(1)
    return rig, body


def _posed(rig, body):
    """For each action: per frame, each bone's head and its axes' ends at its length, and each vertex, in the
    world (the pose's own values restored between actions, as each plays alone)."""
    stored = {b.name: (tuple(b.location), tuple(b.rotation_quaternion), tuple(b.rotation_euler),
                       tuple(b.rotation_axis_angle), tuple(b.scale)) for b in rig.pose.bones}  # fmt: skip
    playing = rig.animation_data.action

    def restore():
        for bone in rig.pose.bones:
            bone.location, bone.rotation_quaternion, bone.rotation_euler, bone.rotation_axis_angle, bone.scale = stored[
                bone.name
            ]

    seen = {}
    for name in ACTIONS:
        restore()
        rig.animation_data.action = bpy.data.actions[name]
        frames = []
        for frame in FRAMES:
            context.scene().frame_set(frame)
            ends = [
                rig.matrix_world @ b.matrix @ mathutils.Vector(v)
                for b in rig.pose.bones
                for v in ((0, 0, 0), (b.bone.length, 0, 0), (0, b.bone.length, 0), (0, 0, b.bone.length))
            ]
            evaluated = body.evaluated_get(bpy.context.evaluated_depsgraph_get()).data
            frames.append(np.array([*ends, *(body.matrix_world @ v.co for v in evaluated.vertices)]))
        seen[name] = np.array(frames)
    restore()
    rig.animation_data.action = playing
    context.scene().frame_set(1)
    return seen


@pytest.mark.parametrize("finding", ["scaled_pose", "rest_pose_not_upright", "unapplied_transforms"])
def test_a_rest_changing_fix_re_bases_every_action_so_each_plays_as_before(empty_scene, finding):
    rig, body = _avatar(finding)
    before = _posed(rig, body)
    height = float(np.ptp(before["Walk"][0][:, 2]))

    said = rig_fixes.apply_fix(Finding(finding, "error", "", True, ("Rig",)), "Rig")

    assert "re-based 3 action(s) to the new rest pose: Idle, Walk, Wave" in said, said
    after = _posed(rig, body)
    for name in ACTIONS:  # at every frame, keyed or in between
        moved = np.linalg.norm(after[name] - before[name], axis=2)
        assert moved.max() < 1e-4 * height, (name, moved.max(axis=1))
