"""A kit-bashed body (a robot of rigid parts, a figure of separate boxes) bound as it moves: each separate
shell of its meshes wholly to one bone (core.autorig.rigid decides), instead of skin weights that would
stretch a rigid part across a joint."""

from __future__ import annotations

import bpy
import numpy as np

from ...core.autorig import MeshPart, RigPlan, rigid
from .build import bone_name
from .weights import Binding, attach, write_weights


def bind_if_kit_bashed(
    meshes: list[bpy.types.Object], parts: dict[str, MeshPart], armature: bpy.types.Object, plan: RigPlan
) -> list[Binding]:
    """Binds the meshes (but the plan's whole-mesh rigid parts) shell by shell when together they make a
    kit-bashed body, and returns how; [] (nothing done) for a soft body. `parts` are the meshes in the rig
    frame, by name."""
    chosen = [m for m in meshes if m.name not in plan.rigid and len(parts[m.name].vertices)]
    if not chosen:
        return []
    names = [b.name for b in plan.bones]
    heads = np.array([b.head for b in plan.bones], dtype=np.float64)
    tails = np.array([b.tail for b in plan.bones], dtype=np.float64)
    sides = np.array([1 if n.startswith("left") else -1 if n.startswith("right") else 0 for n in names])
    labels = [rigid.pieces(parts[m.name].vertices, parts[m.name].triangles) for m in chosen]
    offsets = np.cumsum([0, *(len(x) for x in labels[:-1])])
    every = np.concatenate([parts[m.name].vertices for m in chosen])
    together = np.concatenate([x + o for x, o in zip(labels, offsets, strict=True)])
    if not rigid.kit_bashed(every, together, height=plan.height):
        return []
    bones = [bone_name(n) for n in names]
    # All meshes at once: a part's fasteners may be another mesh's (a head's bolts, a belt's studs).
    followed = rigid.shell_bones(every, together, heads, tails, sides, height=plan.height)
    parents = np.array([names.index(b.parent) if b.parent in names else -1 for b in plan.bones])
    weights = rigid.shell_weights(every, together, followed, heads, tails, parents=parents)
    out = []
    for obj, start, shell in zip(chosen, offsets, labels, strict=True):
        obj.vertex_groups.clear()
        write_weights(obj, bones, weights[start : start + len(shell)])
        attach(obj, armature)
        out.append(Binding(obj.name, "shells", len(shell)))
    return out
