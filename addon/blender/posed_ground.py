"""The avatar kept on the ground in the pose the export writes.

The VRM Add-on writes its automatic T-pose into the file: it straightens the arms and the legs. An avatar
whose rest pose has bent knees (a game rig) grows taller in it, and its feet go below the floor: three-vrm
shows it sunk into the ground although its rest pose stood on it. While the T-pose is set up, the export
lifts (or lowers) the skeleton's root bones by what the pose moved the meshes' lowest point, so the file's
meshes rest where the rest pose's did, and puts the pose back afterwards. An avatar whose T-pose leaves its
lowest point where it was, within the rig check's ground tolerance (legs already straight), is not moved
at all: its file is the same.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Sequence

import bpy
import mathutils
import numpy as np

from ..core.rig.checks import GROUND_TOLERANCE
from . import context

# A pose that moves the lowest point less than the rig check's own ground tolerance leaves the avatar on the
# ground by the check's measure: its file is written as the add-on poses it (the demo avatar's feet rise
# 2.7 mm in the add-on's T-pose).
_UNMOVED = GROUND_TOLERANCE


def lowest_point(meshes: Sequence[bpy.types.Object], moved: dict[str, mathutils.Matrix] | None = None) -> float | None:
    """The meshes' lowest world z as Blender evaluates them now, or None; `moved` puts some of them
    elsewhere first (a world transform by name)."""
    depsgraph = bpy.context.evaluated_depsgraph_get()
    low: float | None = None
    for obj in meshes:
        evaluated = obj.evaluated_get(depsgraph)
        mesh = evaluated.to_mesh()
        try:
            if not len(mesh.vertices):
                continue
            local = np.empty(len(mesh.vertices) * 3, dtype=np.float64)
            mesh.vertices.foreach_get("co", local)
            placed = (moved or {}).get(obj.name, mathutils.Matrix.Identity(4)) @ evaluated.matrix_world
            world = np.array(placed, dtype=np.float64)
            z = local.reshape(-1, 3) @ world[2, :3] + world[2, 3]
            low = float(z.min()) if low is None else min(low, float(z.min()))
        finally:
            evaluated.to_mesh_clear()
    return low


def rest_lowest_point(armature: bpy.types.Object, meshes: Sequence[bpy.types.Object]) -> float | None:
    """The meshes' lowest point in the armature's rest pose, read while their armature modifiers are off
    (a skinned mesh then shows its rest shape), whatever the pose: an object hanging from a bone (or below
    one that does) is carried from the bone's pose back to its rest. The pose itself is not touched."""
    pose = armature.pose
    assert pose is not None, "an armature object has a pose"
    moved: dict[str, mathutils.Matrix] = {}
    for obj in meshes:
        holder = obj
        while holder.parent is not None and not (holder.parent == armature and holder.parent_type == "BONE"):
            holder = holder.parent
        if holder.parent == armature and holder.parent_bone in pose.bones:
            bone = pose.bones[holder.parent_bone]
            tail = mathutils.Matrix.Translation((0.0, bone.bone.length, 0.0))
            rest = armature.matrix_world @ bone.bone.matrix_local @ tail
            posed = armature.matrix_world @ bone.matrix @ tail
            moved[obj.name] = rest @ posed.inverted()
    return lowest_point(meshes, moved)


@contextlib.contextmanager
def kept_on_ground(
    armature: bpy.types.Object, meshes: Sequence[bpy.types.Object], rest_bottom: float | None
) -> Iterator[None]:
    """The avatar, as now posed, moved up or down so its lowest point is `rest_bottom` again (rest_lowest_point);
    the pose is back as it was afterwards."""
    posed_bottom = lowest_point(meshes)
    if rest_bottom is None or posed_bottom is None or abs(rest_bottom - posed_bottom) < _UNMOVED:
        yield
        return
    # The root bones, not the objects: the pose is what the add-on writes into the file's nodes, every
    # deforming bone and bone-parented mesh follows a root, and the objects stay where the user put them.
    lift = mathutils.Vector((0.0, 0.0, rest_bottom - posed_bottom))
    along = armature.matrix_world.to_3x3().inverted() @ lift  # the armature's own axes
    pose = armature.pose
    assert pose is not None, "an armature object has a pose"
    roots = [b for b in pose.bones if b.parent is None]
    posed = [(b, b.matrix_basis.copy()) for b in roots]
    for bone in roots:
        bone.matrix = mathutils.Matrix.Translation(along) @ bone.matrix
    context.view_layer().update()
    try:
        yield
    finally:
        for bone, basis in posed:
            bone.matrix_basis = basis
        context.view_layer().update()
