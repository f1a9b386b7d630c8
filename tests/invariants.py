"""What a fix must not move: every vertex's world position and every bone's world rest position, taken in
the rest pose. `snapshot()` before a fix, `moved(before, snapshot())` after: the largest move in metres.
`shown()` is the same of what the artist sees (meshes as their modifiers deform them, bones in their pose),
for the fixes that change the rest pose under an unchanged look.

Needs bpy (import bpy before this module).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import bpy
import numpy as np

Points = dict[str, Any]  # name -> numpy array of world positions


@dataclass
class Snapshot:
    vertices: Points  # object name -> (N, 3) world positions
    bones: Points  # "armature/bone" -> (2, 3) world head and tail


def _world(points: Any, obj: Any) -> Any:
    """Object-space points (N, 3) in world space."""
    m = np.array(obj.matrix_world, dtype=np.float64)
    return points @ m[:3, :3].T + m[:3, 3]


def _coordinates(mesh: Any) -> Any:
    co = np.empty(len(mesh.vertices) * 3)
    mesh.vertices.foreach_get("co", co)
    return co.reshape(-1, 3)


def snapshot() -> Snapshot:
    """World positions in the rest pose of every mesh vertex (undeformed, shape-key basis) and bone end."""
    posed = [a for a in bpy.data.armatures if a.pose_position != "REST"]
    for data in posed:
        data.pose_position = "REST"
    view_layer: Any = bpy.context.view_layer
    view_layer.update()
    try:
        vertices: Points = {}
        bones: Points = {}
        scene: Any = bpy.context.scene
        for obj in scene.objects:
            if obj.type == "MESH":
                vertices[obj.name] = _world(_coordinates(obj.data), obj)
            elif obj.type == "ARMATURE":
                for bone in obj.data.bones:
                    ends = np.array([bone.head_local, bone.tail_local], dtype=np.float64)
                    bones[f"{obj.name}/{bone.name}"] = _world(ends, obj)
        return Snapshot(vertices, bones)
    finally:
        for data in posed:
            data.pose_position = "POSE"
        view_layer.update()


def shown() -> Snapshot:
    """World positions as the artist sees them: every mesh vertex as its modifiers deform it (armatures in
    their current pose), every bone's head and tail in its pose."""
    view_layer: Any = bpy.context.view_layer
    view_layer.update()
    depsgraph = bpy.context.evaluated_depsgraph_get()
    vertices: Points = {}
    bones: Points = {}
    scene: Any = bpy.context.scene
    for obj in scene.objects:
        if obj.type == "MESH":
            evaluated = obj.evaluated_get(depsgraph)
            vertices[obj.name] = _world(_coordinates(evaluated.to_mesh()), obj)
            evaluated.to_mesh_clear()
        elif obj.type == "ARMATURE":
            for bone in obj.pose.bones:
                ends = np.array([bone.head, bone.tail], dtype=np.float64)
                bones[f"{obj.name}/{bone.name}"] = _world(ends, obj)
    return Snapshot(vertices, bones)


def moved(before: Snapshot, after: Snapshot, offset: Any = None) -> dict[str, float]:
    """The largest world move of each object's vertices and of all bones, less a rigid `offset` applied
    to the whole avatar (grounding). Objects must keep their vertex counts."""
    shift = np.zeros(3) if offset is None else offset
    out: dict[str, float] = {}
    assert before.vertices.keys() == after.vertices.keys(), "objects came or went"
    for name, points in before.vertices.items():
        assert after.vertices[name].shape == points.shape, f"{name} changed its vertex count"
        out[name] = float(np.abs(after.vertices[name] - points - shift).max(initial=0.0))
    assert before.bones.keys() == after.bones.keys(), "bones came or went"
    out["bones"] = max((float(np.abs(after.bones[k] - v - shift).max()) for k, v in before.bones.items()), default=0.0)
    return out
