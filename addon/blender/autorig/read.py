"""Meshes in the scene -> the core's MeshParts: each mesh's rest shape (its own vertices, before any
modifier, which is what skinning deforms) in world coordinates, with its triangles."""

from __future__ import annotations

import bpy
import numpy as np

from ...core.autorig import MeshPart
from ...core.rig.model import FloatArray
from .. import context


def world_matrix(obj: bpy.types.Object) -> FloatArray:
    return np.array(obj.matrix_world, dtype=np.float64)


def read_part(obj: bpy.types.Object) -> MeshPart:
    mesh = obj.data
    assert isinstance(mesh, bpy.types.Mesh)
    co = np.empty(len(mesh.vertices) * 3)
    mesh.vertices.foreach_get("co", co)
    mesh.calc_loop_triangles()
    triangles = np.empty(len(mesh.loop_triangles) * 3, dtype=np.int64)
    mesh.loop_triangles.foreach_get("vertices", triangles)
    m = world_matrix(obj)
    return MeshPart(obj.name, co.reshape(-1, 3) @ m[:3, :3].T + m[:3, 3], triangles.reshape(-1, 3))


def read_parts(objects: list[bpy.types.Object]) -> list[MeshPart]:
    """The parts, in the order given; every armature must be in its rest position (see build.discard_armatures)."""
    context.view_layer().update()
    return [read_part(obj) for obj in objects]
