"""Meshes as AI generators (Hyper3D Rodin, Tripo, Meshy, TripoSR) and scans hand a body over, made from a real
body's meshes: one watertight shell (clothes, hair, eyes and skin fused; fingers closer than a voxel fused
into a mitten; an arm touching the torso joined to it), tens of thousands of triangles, no skeleton."""

from __future__ import annotations

import bpy
import numpy as np

from addon.blender import context
from tests.corpus.primitives import join_meshes

VOXEL = 0.007  # the voxel remesh's size, a share of the height (generators' shells read as 0.5-1%)
TRIANGLES = 40_000  # decimated to about this many (generators hand over 20k-200k)


def fuse(voxel: float = VOXEL, triangles: int = TRIANGLES) -> bpy.types.Object:
    """Every mesh of the scene joined into one object, voxel-remeshed at `voxel` times its height and
    decimated to about `triangles` triangles; returns it."""
    joined = join_meshes()
    bpy.ops.object.transform_apply(location=False, rotation=True, scale=True)
    mesh = joined.data
    assert isinstance(mesh, bpy.types.Mesh)
    co = np.empty(len(mesh.vertices) * 3)
    mesh.vertices.foreach_get("co", co)
    remesh = joined.modifiers.new("Remesh", "REMESH")
    assert isinstance(remesh, bpy.types.RemeshModifier)
    remesh.mode, remesh.voxel_size = "VOXEL", voxel * float(np.ptp(co.reshape(-1, 3)[:, 2]))
    bpy.ops.object.modifier_apply(modifier=remesh.name)
    mesh = joined.data
    assert isinstance(mesh, bpy.types.Mesh)
    mesh.calc_loop_triangles()
    if len(mesh.loop_triangles) > triangles:
        decimate = joined.modifiers.new("Decimate", "DECIMATE")
        assert isinstance(decimate, bpy.types.DecimateModifier)
        decimate.ratio = triangles / len(mesh.loop_triangles)
        bpy.ops.object.modifier_apply(modifier=decimate.name)
    # Smooth, as generators hand a body over: flat faces would be written with a vertex per corner.
    bpy.ops.object.shade_smooth()
    context.view_layer().update()
    return joined
