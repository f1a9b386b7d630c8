"""The fixes, one per fixable finding id. Each changes only the objects and vertices its finding names and
says what it did in one line; the operators wrap each in one undo step, `forge.py check --fix` runs them in
the registry's fix order (core/rig/finding_kinds.py) until nothing fixable is left.

Safe fixes keep every vertex and bone where it is in the rest pose (grounding moves the whole avatar as
one); structural ones (checks.Finding.structural) change the skeleton and run only when asked for.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from typing import Literal

import bpy
import mathutils
import numpy as np

from ..core.errors import OperationError
from ..core.presets import DEFAULT_TARGET_HEIGHT_M, Preset
from ..core.rig import bone_mapping, checks, finding_kinds, skinning, weight_fixes
from ..core.rig.findings import Finding
from ..core.rig.model import ArmatureInfo, BoolArray, FloatArray, IntArray
from . import action_rebase, console, context, modifiers, rig_reader, vrm_addon


class FixFailedError(OperationError, RuntimeError):
    """A fix could not run (Blender refused it); the message is one line for the user."""


def _object(name: str) -> bpy.types.Object:
    if name not in bpy.data.objects:
        raise LookupError(f"no object '{name}'")
    return bpy.data.objects[name]


def _meshes(finding: Finding, *, once_per_data: bool) -> list[bpy.types.Object]:
    """The finding's meshes; with `once_per_data`, one object per mesh datablock (for fixes of what lives in
    the data, such as weights, which objects sharing it share)."""
    seen: set[str] = set()
    found = []
    for obj in map(_object, finding.objects):
        if obj.type != "MESH" or obj.data is None or (once_per_data and obj.data.name in seen):
            continue
        seen.add(obj.data.name)
        found.append(obj)
    return found


def auto_map(armature: bpy.types.Object, spec_version: str = "1.0") -> dict[str, str]:
    """Writes every VRM bone the check finds automatically into the VRM Add-on; the artist's own stay.
    Returns what it added."""
    solved = checks.effective_mapping(_checked_armature(armature), spec_version)
    added = {vrm: solved.mapping[vrm] for vrm in solved.auto}
    vrm_addon.map_humanoid(armature, added)
    return added


@contextlib.contextmanager
def in_mode(armature: bpy.types.Object, mode: Literal["EDIT", "POSE"]) -> Iterator[bpy.types.Armature]:
    """The armature active in `mode` (EDIT, POSE) for the block; back to object mode and the previously
    active object afterwards. Yields its armature data."""
    view_layer = context.view_layer()
    active = view_layer.objects.active
    view_layer.objects.active = armature
    bpy.ops.object.mode_set(mode=mode)
    try:
        data = armature.data
        assert isinstance(data, bpy.types.Armature)
        yield data
    finally:
        bpy.ops.object.mode_set(mode="OBJECT")
        view_layer.objects.active = active


def _checked_armature(armature: bpy.types.Object) -> ArmatureInfo:
    """The armature as the check reads it (with the bones that carry geometry, which the mapper weighs)."""
    info = rig_reader.read_rig(armature.name).armature
    assert info is not None
    return info


def insert_bones(armature: bpy.types.Object, added: list[bone_mapping.NewBone]) -> str:
    """Adds each bone under its parent, unconnected, rolled like it; no vertex group names it, so it
    deforms nothing itself and nothing moves in the rest pose."""
    with in_mode(armature, "EDIT") as data:
        bones = data.edit_bones
        for new in added:
            bone = bones.new(new.name)
            bone.head, bone.tail = new.head, new.tail
            bone.parent = bones[new.parent]
            bone.use_connect, bone.use_deform = False, True
            bone.align_roll(bones[new.parent].z_axis)
    shown = ", ".join(f"'{b.name}' at the end of '{b.parent}'" for b in added)
    return f"inserted {shown} in '{armature.name}'"


def reparent_bones(armature: bpy.types.Object, plan: dict[str, str]) -> str:
    """Hangs each bone of `plan` from its new parent, unconnected: rest positions (and so every vertex in
    the rest pose) stay where they are."""
    with in_mode(armature, "EDIT") as data:
        bones = data.edit_bones
        for bone, parent in plan.items():
            bones[bone].use_connect = False
            bones[bone].parent = bones[parent]
    shown = [f"'{b}' under '{p}'" for b, p in plan.items()]
    more = f" and {len(shown) - 8} more" if len(shown) > 8 else ""
    return f"reparented {', '.join(shown[:8])}{more} in '{armature.name}'"


def add_armature_modifier(mesh: bpy.types.Object, armature: bpy.types.Object) -> str:
    if mesh.parent == armature and mesh.parent_type == "BONE":
        return f"left '{mesh.name}' alone: it is parented to a bone (an Armature modifier would move it twice)"
    modifier = mesh.modifiers.new("Armature", "ARMATURE")
    assert isinstance(modifier, bpy.types.ArmatureModifier)
    modifier.object = armature
    # First in the stack: skinning works on the rest mesh, before mirror or subdivision change it.
    mesh.modifiers.move(len(mesh.modifiers) - 1, 0)
    return f"added an Armature modifier for '{armature.name}' to '{mesh.name}'"


@contextlib.contextmanager
def _rest_pose() -> Iterator[None]:
    """Every armature in its rest position: transforms are applied and compared where the rest pose is."""
    armatures = [a for a in bpy.data.armatures if a.pose_position != "REST"]
    for data in armatures:
        data.pose_position = "REST"
    context.view_layer().update()
    try:
        yield
    finally:
        for data in armatures:
            data.pose_position = "POSE"
        context.view_layer().update()


def apply_transforms(objects: list[bpy.types.Object]) -> str:
    """Applies rotation and scale, parents first. Every child (bone-parented parts too, which Blender's own
    apply moves) is put back where it was in the world; a shared mesh gets its own copy first. An armature's
    bones grow or shrink with it: its actions are re-based, so they play as they did."""
    said = [f"applied rotation and scale on {', '.join(o.name for o in objects)}"]
    with _rest_pose():
        for obj in sorted(objects, key=_depth):
            if obj.type != "ARMATURE":
                _apply_transform(obj)
                continue
            with action_rebase.kept(obj) as rebased:
                _apply_transform(obj)
            said += rebased
    return "; ".join(said)


def _apply_transform(obj: bpy.types.Object) -> None:
    view_layer = context.view_layer()
    children = [c for c in bpy.data.objects if c.parent == obj]
    placed = {c.name: c.matrix_world.copy() for c in children}
    for other in view_layer.objects:
        if other is not None:
            other.select_set(False)
    obj.select_set(True)
    view_layer.objects.active = obj
    bpy.ops.object.transform_apply(location=False, rotation=True, scale=True, isolate_users=True)
    view_layer.update()
    for child in children:
        child.matrix_world = placed[child.name]
    view_layer.update()


def _depth(obj: bpy.types.Object) -> int:
    depth, parent = 0, obj.parent
    while parent is not None:
        depth, parent = depth + 1, parent.parent
    return depth


def _write_rows(
    mesh: bpy.types.Object, rows: IntArray, group_index: IntArray, new: FloatArray, deform: BoolArray
) -> None:
    """Writes new deform weights for the given vertices: a 0 removes the vertex from that group.

    Groups that are no deform bone's (masks, cloth pins) are left alone: their slots read as 0 here.
    """
    groups = mesh.vertex_groups
    for row, vertex in enumerate(rows.tolist()):
        for slot, g in enumerate(group_index[vertex].tolist()):
            if g < 0 or not deform[g]:
                continue
            w = float(new[row, slot])
            if w > 0.0:
                groups[g].add([vertex], w, "REPLACE")
            else:
                groups[g].remove([vertex])


def _deform_weights(mesh: bpy.types.Object, armature: bpy.types.Object) -> tuple[IntArray, FloatArray, BoolArray]:
    info = rig_reader.mesh_info(mesh)
    arm = rig_reader.armature_info(armature)
    return info.group_index, checks.deform_weights(info, arm), checks.deform_groups(info, arm)


def limit_influences(mesh: bpy.types.Object, armature: bpy.types.Object) -> str:
    index, weights, deform = _deform_weights(mesh, armature)
    rows, new = weight_fixes.limited(weights)
    _write_rows(mesh, rows, index, new, deform)
    return f"kept the 4 strongest influences on {len(rows)} vertices of '{mesh.name}'"


def normalize_weights(mesh: bpy.types.Object, armature: bpy.types.Object) -> str:
    index, weights, deform = _deform_weights(mesh, armature)
    rows, new = weight_fixes.normalized(weights, checks.WEIGHT_TOLERANCE)
    _write_rows(mesh, rows, index, new, deform)
    return f"normalized the weights of {len(rows)} vertices of '{mesh.name}'"


def weight_to_nearest_bone(mesh: bpy.types.Object, armature: bpy.types.Object) -> str:
    """Gives each vertex without deform weight fully to the nearest deform bone (by bone segment)."""
    info = rig_reader.mesh_info(mesh)
    arm = rig_reader.armature_info(armature)
    lonely = np.nonzero(weight_fixes.unweighted(checks.deform_weights(info, arm), checks.WEIGHT_TOLERANCE))[0]
    deform = np.nonzero(arm.bones.deform)[0]
    if not len(lonely) or not len(deform):
        return f"no vertex of '{mesh.name}' to weight"
    points = info.transform.to_world(info.positions[lonely])
    heads = arm.transform.to_world(arm.bones.heads[deform])
    tails = arm.transform.to_world(arm.bones.tails[deform])
    nearest = skinning.segment_distances(points, heads, tails).argmin(axis=1)
    for b in np.unique(nearest).tolist():
        name = arm.bones.names[deform[b]]
        group = mesh.vertex_groups.get(name) or mesh.vertex_groups.new(name=name)
        group.add(lonely[nearest == b].tolist(), 1.0, "REPLACE")
    return f"weighted {len(lonely)} vertices of '{mesh.name}' to their nearest bone"


def ground(armature: bpy.types.Object) -> str:
    """Moves the avatar (armature and its meshes together) so its lowest point rests on z=0."""
    model = rig_reader.read_rig(armature.name)
    assert model.armature is not None
    low = checks.lowest_point(model, model.armature, checks.effective_mapping(model.armature).mapping)
    if low is None:
        return "nothing to ground"
    _transform_avatar(armature, mathutils.Matrix.Translation((0.0, 0.0, -low)))
    return f"moved '{armature.name}' and its meshes {-low:+.3f} m onto the ground"


def _transform_avatar(armature: bpy.types.Object, transform: mathutils.Matrix) -> None:
    """Applies a world transform to the avatar as one: the armature and its meshes that do not already
    follow it (each top object moved in world space, whatever its own parent)."""
    movers = [armature, *(o for o in rig_reader.avatar_meshes(armature) if not rig_reader.descends_from(o, armature))]
    for obj in movers:
        if obj.parent is None or obj.parent not in movers:
            obj.matrix_world = transform @ obj.matrix_world
    context.view_layer().update()


def scale_avatar(armature: bpy.types.Object, factor: float, to: str = "a person's size") -> str:
    """Scales the avatar (armature and its meshes as one) about the world origin; the scale is then applied
    by the unapplied_transforms fix, so only units change, never the shape."""
    _transform_avatar(armature, mathutils.Matrix.Scale(factor, 4))
    return f"scaled '{armature.name}' and its meshes by {factor:.4g} to {to}"


def _scale_to_metres(_finding: Finding, armature: bpy.types.Object, preset: Preset | None) -> str:
    model = rig_reader.read_rig(armature.name)
    assert model.armature is not None
    mapping = checks.effective_mapping(model.armature).mapping
    target = preset.target_height_m if preset else DEFAULT_TARGET_HEIGHT_M
    fix = checks.units_fix(model, model.armature, mapping, target)
    if fix is None:
        raise FixFailedError(f"'{armature.name}' has no size to scale")
    return scale_avatar(armature, *fix)


def _deformed(mesh: bpy.types.Object, armature: bpy.types.Object) -> list[FloatArray]:
    """The mesh's basis and each shape key (alone, at full strength) as the armature deforms them now, in
    the mesh's own space; FixFailedError when a modifier before the armature changes the vertices."""
    data = mesh.data
    assert isinstance(data, bpy.types.Mesh)
    keys = len(data.shape_keys.key_blocks) if data.shape_keys is not None else 0
    others = [m for m in mesh.modifiers if not (m.type == "ARMATURE" and getattr(m, "object", None) == armature)]
    only, active = mesh.show_only_shape_key, mesh.active_shape_key_index
    out: list[FloatArray] = []
    with modifiers.switched_off(others):
        try:
            mesh.show_only_shape_key = True
            for k in range(max(1, keys)):
                mesh.active_shape_key_index = k
                evaluated = mesh.evaluated_get(bpy.context.evaluated_depsgraph_get()).data
                assert isinstance(evaluated, bpy.types.Mesh)
                if len(evaluated.vertices) != len(data.vertices):
                    raise FixFailedError(f"'{mesh.name}' changes its vertices before it is deformed")
                co = np.empty(len(evaluated.vertices) * 3)
                evaluated.vertices.foreach_get("co", co)
                out.append(co)
        finally:
            mesh.show_only_shape_key, mesh.active_shape_key_index = only, active
    return out


def apply_pose_as_rest(armature: bpy.types.Object) -> str:
    """Makes the current pose the rest pose: each skinned mesh (basis and every shape key) takes the shape
    the pose gives it, then the armature's rest takes the pose, so the avatar looks as it did; its actions
    are re-based onto the new rest, so they play as they did."""
    with action_rebase.kept(armature) as rebased:
        done = _pose_as_rest(armature)
    return "; ".join([done, *rebased])


def _pose_as_rest(armature: bpy.types.Object) -> str:
    skinned = [o for o in rig_reader.avatar_meshes(armature) if rig_reader.deformed_by(o, armature)]
    shapes = {o.name: _deformed(o, armature) for o in skinned}  # all read before anything is written
    for obj in skinned:
        data = obj.data
        assert isinstance(data, bpy.types.Mesh)
        found = shapes[obj.name]
        data.vertices.foreach_set("co", found[0])
        if data.shape_keys is not None:
            for key, co in zip(data.shape_keys.key_blocks, found, strict=True):
                key.points.foreach_set("co", co)
        data.update()
    with in_mode(armature, "POSE"):
        bpy.ops.pose.armature_apply(selected=False)
    context.view_layer().update()
    names = ", ".join(o.name for o in skinned) or "no mesh"
    return f"applied the current pose of '{armature.name}' as its rest pose ({names} and their shape keys follow)"


def apply_pose_scale_as_rest(armature: bpy.types.Object) -> str:
    """Makes the pose's scale and moves part of the rest pose: the pose's rotations are set aside, what is
    left applied as the rest pose (meshes and shape keys follow), then the rotations put back, so the avatar
    looks as it did. With a uniform scale per bone, a turn before or after it is the same; only a vertex
    blending a scaled or moved bone with a turned one can shift a little (blended skinning does not compose).
    An importer's scaled pose has no turns: there it is exact. Its actions are re-based onto the new rest."""
    with action_rebase.kept(armature) as rebased:
        done = _pose_scale_as_rest(armature)
    return "; ".join([done, *rebased])


def _pose_scale_as_rest(armature: bpy.types.Object) -> str:
    pose = armature.pose
    assert pose is not None
    turns = {b.name: (b.rotation_quaternion.copy(), b.rotation_euler.copy(), tuple(b.rotation_axis_angle))
             for b in pose.bones}  # fmt: skip
    for bone in pose.bones:
        bone.rotation_quaternion, bone.rotation_euler = (1.0, 0.0, 0.0, 0.0), (0.0, 0.0, 0.0)
        bone.rotation_axis_angle = (0.0, 0.0, 1.0, 0.0)
    context.view_layer().update()
    done = _pose_as_rest(armature)
    for bone in pose.bones:
        bone.rotation_quaternion, bone.rotation_euler, bone.rotation_axis_angle = turns[bone.name]
    context.view_layer().update()
    return done.replace("the current pose", "the scale and moves of the pose", 1)


def rename_clashing(mesh: bpy.types.Object, armature: bpy.types.Object) -> str:
    """Renames a mesh named like a bone to `<name>_mesh` (numbered when taken); the VRM Add-on refers to
    meshes by pointer, so its expression binds follow the rename."""
    bones = armature.data.bones  # type: ignore[union-attr]
    old = mesh.name
    base = candidate = f"{old}_mesh"
    number = 1
    while candidate in bpy.data.objects or candidate in bones:
        candidate, number = f"{base}{number}", number + 1
    mesh.name = candidate
    return f"renamed the mesh object '{old}' to '{candidate}' (a bone of '{armature.name}' is called '{old}')"


def make_opaque(finding: Finding, _armature: bpy.types.Object, _preset: Preset | None) -> str:
    """Makes each fully transparent material of the finding's meshes opaque (the check's judgement, read
    anew): Alpha 1, drawn dithered (not blended), or an MToon material's base colour alpha 1 and mode OPAQUE. A
    material shared by several meshes is changed once; partial or textured alpha is never touched."""
    materials = {m.name: m for obj in _meshes(finding, once_per_data=True) for m in obj.data.materials if m}  # type: ignore[union-attr]
    changed = []
    for name, material in sorted(materials.items()):
        if not checks.fully_transparent(rig_reader.material_info(material)):
            continue
        mtoon, bsdf = rig_reader.mtoon_of(material), rig_reader.principled_surface(material)
        if mtoon is not None:
            mtoon.pbr_metallic_roughness.base_color_factor[3] = 1.0
            mtoon.alpha_mode = "OPAQUE"
        elif bsdf is not None:
            bsdf.inputs["Alpha"].default_value = 1.0
        # Blender 4.2+ has no opaque blend mode left (blend_method reads HASHED): dithered at alpha 1 is opaque.
        material.surface_render_method = "DITHERED"
        changed.append(name)
    return f"made {len(changed)} fully transparent material(s) opaque: {', '.join(changed) or 'none'}"


# A fix: the finding, its armature and the preset checked against; says what it did in one line.
Fix = Callable[[Finding, bpy.types.Object, Preset | None], str]


def _per_mesh(fix: Callable[[bpy.types.Object, bpy.types.Object], str], *, once_per_data: bool = False) -> Fix:
    def run(finding: Finding, armature: bpy.types.Object, _preset: Preset | None) -> str:
        return "; ".join(fix(mesh, armature) for mesh in _meshes(finding, once_per_data=once_per_data))

    return run


def _restructure(_finding: Finding, armature: bpy.types.Object, _preset: Preset | None) -> str:
    plan = checks.restructure_plan(_checked_armature(armature), "1.0")
    if plan is None:
        raise FixFailedError(f"no change of the skeleton makes '{armature.name}' a VRM humanoid")
    with action_rebase.kept(armature) as rebased:
        done = [insert_bones(armature, plan.added)] if plan.added else []
        done.append(reparent_bones(armature, plan.reparent))
    return "; ".join([*done, *rebased])


def _store_mapping(_finding: Finding, armature: bpy.types.Object, _preset: Preset | None) -> str:
    added = auto_map(armature)
    return f"stored {len(added)} automatically found VRM bone(s) of '{armature.name}' in the VRM Add-on"


def _registered(fixes: dict[str, Fix]) -> dict[str, Fix]:
    """The fixes, each against a registered fixable kind (an unknown or unfixable id is a bug of ours)."""
    for id_ in fixes:
        if finding_kinds.kind(id_).fix is None:
            raise ValueError(f"a fix is registered for '{id_}', which the registry says has none")
    return fixes


FIXES: dict[str, Fix] = _registered(
    {
        "mapping_not_stored": _store_mapping,
        "missing_required_bone": _restructure,
        "rest_pose_not_upright": lambda _finding, armature, _preset: apply_pose_as_rest(armature),
        "scaled_pose": lambda _finding, armature, _preset: apply_pose_scale_as_rest(armature),
        "wrong_units": _scale_to_metres,
        "missing_armature_modifier": _per_mesh(add_armature_modifier),
        "object_bone_name_clash": _per_mesh(rename_clashing),
        "unapplied_transforms": lambda finding, _armature, _preset: apply_transforms(
            list(map(_object, finding.objects))
        ),
        "too_many_influences": _per_mesh(limit_influences, once_per_data=True),
        "weights_not_normalized": _per_mesh(normalize_weights, once_per_data=True),
        "unweighted_vertices": _per_mesh(weight_to_nearest_bone, once_per_data=True),
        "not_grounded": lambda _finding, armature, _preset: ground(armature),
        "transparent_material": make_opaque,
    }
)


@console.quiet(verbose=False)  # what Blender prints meanwhile: its warnings once each, on stderr
def apply_fix(finding: Finding, armature_name: str, preset: Preset | None = None) -> str:
    """Runs the fix for one finding of a report on `armature_name` (checked against `preset`) and says what
    it did; raises KeyError when it has none, FixFailedError (one line) when Blender refuses it."""
    if not finding.fixable:
        raise KeyError(f"finding '{finding.id}' has no fix")
    if context.view_layer().objects.active is not None and bpy.context.mode != "OBJECT":
        bpy.ops.object.mode_set(mode="OBJECT")
    try:
        return FIXES[finding.id](finding, _object(armature_name), preset)
    except (RuntimeError, ValueError, LookupError) as exc:
        if isinstance(exc, FixFailedError):
            raise
        reason = (str(exc).strip().splitlines() or [type(exc).__name__])[-1]
        raise FixFailedError(f"could not fix {finding.id} on {', '.join(finding.objects)}: {reason}") from None
