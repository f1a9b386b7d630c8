"""auto_rig(): bare meshes in the scene become a rigged humanoid. The CLI's `convert --rig`, the sidebar's
Auto-rig button, the socket's `avatar_auto_rig` and the MCP tool `auto_rig` all call it."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import bpy
import mathutils
import numpy as np

from ...core.autorig import MeshPart, NotHumanoidError, RigPlan, UnusableMeshError, place
from ...core.errors import OperationError
from .. import console, context, vrm_addon
from . import build, read, shells, weights
from .timing import Timings

Planner = Callable[[Sequence[MeshPart], str], RigPlan]


class AutoRigError(OperationError, ValueError):
    """Nothing to rig (no meshes, or every mesh already driven by an armature), or a rig replaced that also
    drives meshes left out; one line for the user."""


@dataclass
class AutoRigResult:
    armature: str
    bones: list[str]
    mapping: dict[str, str]
    bindings: list[weights.Binding]
    replaced: list[str]
    height: float
    seconds: dict[str, float] = field(default_factory=dict)
    cpu_seconds: dict[str, float] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    @property
    def fallbacks(self) -> list[str]:
        return [f"{b.mesh}: {b.how}" for b in self.bindings if b.how in ("proxy", "nearest")]

    def summary(self) -> str:
        hows = ", ".join(f"{b.mesh} {b.how}" for b in self.bindings)
        return f"rigged {len(self.bindings)} mesh(es) with {len(self.bones)} bones in '{self.armature}' ({hows})"

    def to_json(self) -> dict[str, Any]:
        return {
            "armature": self.armature,
            "bones": list(self.bones),
            "mapping": dict(self.mapping),
            "parts": [b.to_json() for b in self.bindings],
            "fallbacks": self.fallbacks,
            "replaced_armatures": list(self.replaced),
            "height": self.height,
            "seconds": {k: round(v, 3) for k, v in self.seconds.items()},
            "cpu_seconds": {k: round(v, 3) for k, v in self.cpu_seconds.items()},
            "notes": list(self.notes),
        }


def driven(obj: bpy.types.Object) -> bool:
    """The mesh follows an armature already (an Armature modifier with one, or a bone parent)."""
    return bool(build.armatures_of([obj]))


def _refuse_leaving_behind(meshes: list[bpy.types.Object]) -> None:
    """Replacing the rig deletes the armatures: a mesh they also drive outside `meshes` (the clothes when only
    the body is selected) would be left bare where it stood, so that is refused, naming it."""
    chosen = set(meshes)
    for armature in sorted(build.armatures_of(meshes), key=lambda a: a.name):
        others = [o.name for o in context.scene().objects if o.type == "MESH" and o not in chosen
                  and armature in build.armatures_of([o])]  # fmt: skip
        if others:
            them = "it" if len(others) == 1 else "them"
            raise AutoRigError(f"'{armature.name}' also drives {', '.join(sorted(others))}: rig {them} too, "
                               f"or {them} would be left without an armature")  # fmt: skip


# Bone heat prints a warning per failed solve and the voxel proxy's operators print their own lines: held
# back, the warnings once each on stderr (a convert --verbose, around it, shows everything).
@console.quiet(verbose=False)
def auto_rig(
    mesh_names: Sequence[str] | None = None,
    *,
    replace: bool = False,
    spec_version: str = "1.0",
    planner: Planner | None = None,
) -> AutoRigResult:
    """Rigs the named meshes (None: every mesh in the scene no armature drives; with `replace`, every mesh,
    their armatures discarded) as one humanoid. Raises NotHumanoidError ("not a standing humanoid: " and the
    planner's one-line reason; UnusableMeshError, a mesh with no shape to read, says so itself) and
    AutoRigError; on either, the scene is as it was. `planner` places the skeleton (core's plan_rig unless
    given: the harness measures the rest of the pipeline against an artist's skeleton with its own)."""
    scene_meshes = [o for o in context.scene().objects if o.type == "MESH"]
    if mesh_names is None:
        meshes = scene_meshes if replace else [o for o in scene_meshes if not driven(o)]
    else:
        missing = [n for n in mesh_names if n not in bpy.data.objects or bpy.data.objects[n].type != "MESH"]
        if missing:
            raise AutoRigError(f"not a mesh in this scene: {', '.join(missing)}")
        meshes = [bpy.data.objects[n] for n in dict.fromkeys(mesh_names)]
    if not meshes:
        raise AutoRigError("no mesh to rig: every mesh here is driven by an armature (replace its rig instead)")
    rigged = [o.name for o in meshes if driven(o)]
    if rigged and not replace:
        raise AutoRigError(f"already driven by an armature: {', '.join(rigged)} (replace its rig instead)")
    if replace:
        _refuse_leaving_behind(meshes)
    if context.view_layer().objects.active is not None and bpy.context.mode != "OBJECT":
        bpy.ops.object.mode_set(mode="OBJECT")
    seconds = Timings()
    with seconds.stage("read"):
        parts = read.read_parts(meshes)
    with seconds.stage("plan"):
        try:  # NotHumanoidError here leaves the scene untouched
            plan = (planner or place.plan_rig)(parts, spec_version)
        except UnusableMeshError:  # its reason says what the mesh is itself
            raise
        except NotHumanoidError as exc:  # the one line every caller shows: convert, the sidebar, the socket
            raise NotHumanoidError(f"not a standing humanoid: {exc}") from None
    with seconds.stage("build"):
        replaced = build.discard_armatures(meshes) if replace else []
        frame = mathutils.Matrix(plan.to_rig_frame)
        build.apply_frame(meshes, frame)
        collection = meshes[0].users_collection[0] if meshes[0].users_collection else context.scene().collection
        armature = build.build_armature(plan, collection)
        m = np.array(plan.to_rig_frame, dtype=np.float64)
        in_frame = {p.name: MeshPart(p.name, p.vertices @ m[:3, :3].T + m[:3, 3], p.triangles) for p in parts}
    with seconds.stage("weights"):
        kit = shells.bind_if_kit_bashed(meshes, in_frame, armature, plan)
    bound = {b.mesh for b in kit}
    bindings = kit + weights.bind([m for m in meshes if m.name not in bound], in_frame, armature, plan, seconds)
    mapping = {b.name: build.bone_name(b.name) for b in plan.bones}
    with seconds.stage("mapping"):
        if vrm_addon.is_enabled():
            vrm_addon.map_humanoid(armature, mapping)
    notes = list(plan.notes)
    notes += [f"{b.mesh}: bone heat left {b.heat_unweighted} of {b.vertices} vertices "
              f"({b.empty_shells} whole shells) without weight; used its {b.how} weights instead"
              for b in bindings if b.how in ("proxy", "nearest")]  # fmt: skip
    notes += [f"{b.mesh}: {b.transferred} vertices of shells bone heat left bare (or weighed only for far bones) "
              "took the voxel proxy's weights, or their nearest allowed bone's where it gave them none or would "
              f"only repeat the mesh's own heat ({b.filled} filled in)"
              for b in bindings if b.how == "heat" and b.transferred]  # fmt: skip
    return AutoRigResult(
        armature.name,
        [bone.name for bone in armature.data.bones],  # type: ignore[union-attr]
        mapping,
        bindings,
        replaced,
        plan.height,
        seconds.wall,
        seconds.cpu,
        notes,
    )
