"""The safe fixes, one per fixable finding id. Each changes only the objects and vertices its finding names;
the operators wrap each in one undo step, `forge.py check --fix` runs them in FIX_ORDER."""

from __future__ import annotations

from collections.abc import Callable

import bpy
import numpy as np

from ..core import bone_mapping, checks, humanoid, skinning, weight_fixes
from ..core.findings import Finding
from ..core.rig_model import BoolArray, FloatArray, IntArray
from . import context, rig_reader, vrm_addon

# Mapping first (other checks read it), transforms before anything measured in the world, grounding last.
FIX_ORDER: tuple[str, ...] = (
    "missing_required_bone",
    "object_bone_name_clash",
    "missing_armature_modifier",
    "unapplied_transforms",
    "too_many_influences",
    "weights_not_normalized",
    "unweighted_vertices",
    "not_grounded",
)


def _object(name: str) -> bpy.types.Object:
    if name not in bpy.data.objects:
        raise LookupError(f"no object '{name}'")
    return bpy.data.objects[name]


def _meshes(finding: Finding) -> list[bpy.types.Object]:
    return [o for o in map(_object, finding.objects) if o.type == "MESH"]


def auto_map(armature: bpy.types.Object) -> dict[str, str]:
    """Maps every VRM bone it can find and the artist has not mapped; returns what it added."""
    info = rig_reader.armature_info(armature)
    current = checks.valid_mapping(info)
    proposal = bone_mapping.propose_mapping(info.bones, current)
    if not proposal.keys() >= humanoid.REQUIRED_VRM0 and vrm_addon.is_enabled():
        # Names we do not know: the VRM Add-on's own tables may (slow, so only when ours fall short).
        proposal = bone_mapping.propose_mapping(info.bones, current, rig_reader.addon_suggestion(armature))
    added = {vrm: name for vrm, name in proposal.items() if vrm not in current}
    vrm_addon.map_humanoid(armature, added)
    return added


def add_armature_modifier(mesh: bpy.types.Object, armature: bpy.types.Object) -> None:
    modifier = mesh.modifiers.new("Armature", "ARMATURE")
    assert isinstance(modifier, bpy.types.ArmatureModifier)
    modifier.object = armature
    # First in the stack: skinning works on the rest mesh, before mirror or subdivision change it.
    mesh.modifiers.move(len(mesh.modifiers) - 1, 0)


def apply_transforms(objects: list[bpy.types.Object]) -> None:
    """Applies rotation and scale (parents first; Blender keeps the children where they are)."""
    view_layer = context.view_layer()
    for obj in sorted(objects, key=_depth):
        for other in view_layer.objects:
            if other is not None:
                other.select_set(False)
        obj.select_set(True)
        view_layer.objects.active = obj
        bpy.ops.object.transform_apply(location=False, rotation=True, scale=True)


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


def limit_influences(mesh: bpy.types.Object, armature: bpy.types.Object) -> int:
    index, weights, deform = _deform_weights(mesh, armature)
    rows, new = weight_fixes.limited(weights)
    _write_rows(mesh, rows, index, new, deform)
    return len(rows)


def normalize_weights(mesh: bpy.types.Object, armature: bpy.types.Object) -> int:
    index, weights, deform = _deform_weights(mesh, armature)
    rows, new = weight_fixes.normalized(weights, checks.WEIGHT_TOLERANCE)
    _write_rows(mesh, rows, index, new, deform)
    return len(rows)


def weight_to_nearest_bone(mesh: bpy.types.Object, armature: bpy.types.Object) -> int:
    """Gives each vertex without deform weight fully to the nearest deform bone (by bone segment)."""
    info = rig_reader.mesh_info(mesh)
    arm = rig_reader.armature_info(armature)
    lonely = np.nonzero(weight_fixes.unweighted(checks.deform_weights(info, arm), checks.WEIGHT_TOLERANCE))[0]
    deform = np.nonzero(arm.bones.deform)[0]
    if not len(lonely) or not len(deform):
        return 0
    points = info.transform.to_world(info.positions[lonely])
    heads = arm.transform.to_world(arm.bones.heads[deform])
    tails = arm.transform.to_world(arm.bones.tails[deform])
    nearest = skinning.segment_distances(points, heads, tails).argmin(axis=1)
    for b in np.unique(nearest).tolist():
        name = arm.bones.names[deform[b]]
        group = mesh.vertex_groups.get(name) or mesh.vertex_groups.new(name=name)
        group.add(lonely[nearest == b].tolist(), 1.0, "REPLACE")
    return len(lonely)


def ground(armature: bpy.types.Object) -> float:
    """Moves the avatar (armature and its meshes together) so its lowest point rests on z=0."""
    model = rig_reader.read_rig(armature.name)
    assert model.armature is not None
    low = checks.lowest_point(model, model.armature)
    if low is None:
        return 0.0
    movers = [armature, *(o for o in rig_reader.avatar_meshes(armature) if not _descends_from(o, armature))]
    for obj in movers:
        if obj.parent is None or obj.parent not in movers:
            obj.location.z -= low
    context.view_layer().update()
    return -low


def _descends_from(obj: bpy.types.Object, ancestor: bpy.types.Object) -> bool:
    parent = obj.parent
    while parent is not None:
        if parent == ancestor:
            return True
        parent = parent.parent
    return False


def rename_clashing(mesh: bpy.types.Object, armature: bpy.types.Object) -> str:
    """Renames a mesh named like a bone to `<name>_mesh` (numbered when taken); the VRM Add-on refers to
    meshes by pointer, so its expression binds follow the rename. Returns the new name."""
    bones = armature.data.bones  # type: ignore[union-attr]
    base = candidate = f"{mesh.name}_mesh"
    number = 1
    while candidate in bpy.data.objects or candidate in bones:
        candidate, number = f"{base}{number}", number + 1
    mesh.name = candidate
    return candidate


def _per_mesh(
    fix: Callable[[bpy.types.Object, bpy.types.Object], object],
) -> Callable[[Finding, bpy.types.Object], None]:
    def run(finding: Finding, armature: bpy.types.Object) -> None:
        for mesh in _meshes(finding):
            fix(mesh, armature)

    return run


FIXES: dict[str, Callable[[Finding, bpy.types.Object], object]] = {
    "missing_required_bone": lambda _finding, armature: auto_map(armature),
    "missing_armature_modifier": _per_mesh(add_armature_modifier),
    "object_bone_name_clash": _per_mesh(rename_clashing),
    "unapplied_transforms": lambda finding, _armature: apply_transforms(list(map(_object, finding.objects))),
    "too_many_influences": _per_mesh(limit_influences),
    "weights_not_normalized": _per_mesh(normalize_weights),
    "unweighted_vertices": _per_mesh(weight_to_nearest_bone),
    "not_grounded": lambda _finding, armature: ground(armature),
}


def apply_fix(finding: Finding, armature_name: str) -> None:
    """Runs the fix for one finding of a report on `armature_name`; raises KeyError when it has none."""
    if not finding.fixable:
        raise KeyError(f"finding '{finding.id}' has no safe fix")
    if context.view_layer().objects.active is not None and bpy.context.mode != "OBJECT":
        bpy.ops.object.mode_set(mode="OBJECT")
    FIXES[finding.id](finding, _object(armature_name))
