"""The bulk read of vertex-group weights (Geometry Nodes) against the slow exact read, on the demo body."""

from __future__ import annotations

import bpy
import numpy as np

from addon.blender import rig_reader


def test_weights_read_through_geometry_nodes_equal_a_pass_over_every_vertex(blender, demo_blend):
    bpy.ops.wm.open_mainfile(filepath=str(demo_blend))
    body = bpy.data.objects["AvatarBody"]
    mesh = body.data
    assert isinstance(mesh, bpy.types.Mesh)
    body.vertex_groups["Hand.L"].add([0, 1], 0.0, "REPLACE")  # members with weight 0: no influence
    body.vertex_groups.new(name="Empty")
    names = [g.name for g in body.vertex_groups]
    objects_before, trees_before = len(bpy.data.objects), len(bpy.data.node_groups)

    dense = rig_reader.dense_weights(mesh, names)

    slow = np.zeros((len(mesh.vertices), len(names)), dtype=np.float32)
    for vertex in mesh.vertices:
        for element in vertex.groups:
            slow[vertex.index, element.group] = element.weight
    assert dense.shape == slow.shape and np.array_equal(dense, slow)
    assert not dense[:, names.index("Empty")].any()
    # The throwaway object and node tree are gone again.
    assert (len(bpy.data.objects), len(bpy.data.node_groups)) == (objects_before, trees_before)
    assert mesh.users == 1
