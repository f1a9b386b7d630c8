"""The rig checks, on plain data: every finding id the sidebar, `forge.py check` and the exporter act on.

Each check returns findings with a stable id, a severity, a message naming the bones, objects or vertex
counts involved, and whether a safe fix exists (blender/rig_fixes.py holds the fixes, one per id).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable

import numpy as np

from ..presets import DEFAULT_TARGET_HEIGHT_M, Preset
from ..vrm import expressions
from . import bone_mapping, humanoid
from .finding_kinds import FIXABLE, Severity
from .findings import CheckReport, Finding
from .model import ArmatureInfo, BoolArray, FloatArray, MaterialInfo, MeshInfo, RigModel

T_POSE_TOLERANCE_DEG = 15.0
UPRIGHT_TOLERANCE_DEG = 45.0
PERSON_SIZE = (0.3, 3.0)  # metres: an avatar's largest extent (its height, or its arm span in a T-pose)
# Metres from the head bone to the feet bones: what a viewer framed for people shows whole (the export's
# verification wants the same of the VRM); a chibi of 1.1 m is a person's size, a doll of 0.375 m is not.
HEAD_TO_FEET = (0.5, 2.5)
PERSON_HEIGHT = 1.7  # metres: of the units that fit, the one landing nearest this
# Units a model is authored in, as metres per unit: tried in this order, each family only when none before fits.
UNITS: tuple[tuple[tuple[float, str], ...], ...] = (
    ((0.001, "millimetres"), (0.01, "centimetres"), (0.1, "decimetres"),
     *((10.0**k, f"units of {10.0**k:g} m") for k in (-4, 1, 2, 3, 4))),
    ((0.0254, "inches"), (0.3048, "feet")),
)  # fmt: skip
GROUND_SHARE = 0.1  # grounding further than this share of the avatar's size says so
FACING_TOLERANCE_DEG = 45.0
GROUND_TOLERANCE = 0.005  # metres
CENTER_TOLERANCE = 0.05  # metres
WEIGHT_TOLERANCE = 1e-3
TRANSPARENT_ALPHA = 1e-3  # at most this alpha, a material is fully transparent (a cutoff is never this low)
TRANSFORM_TOLERANCE = 1e-4
VISEMES = ("aa", "ih", "ou", "ee", "oh")
EXPRESSIONS = ("happy", "angry", "sad", "relaxed", "surprised")
# A needs-parent rule of the VRM specification: these optional bones are only valid with their parent mapped.
NEEDS_PARENT: dict[str, str] = {
    "upperChest": "chest",
    **{
        vrm: parent
        for vrm, parent in humanoid.PARENT.items()
        if parent is not None
        and any(f in vrm for f in ("Thumb", "Index", "Middle", "Ring", "Little"))
        and not parent.endswith("Hand")
    },
}


def _finding(id_: str, severity: Severity, message: str, objects: Iterable[str] = ()) -> Finding:
    return Finding(id_, severity, message, id_ in FIXABLE, tuple(objects))


def _names(items: Iterable[str], limit: int = 6) -> str:
    items = list(items)
    shown = ", ".join(items[:limit])
    return shown + (f" and {len(items) - limit} more" if len(items) > limit else "")


def valid_mapping(armature: ArmatureInfo) -> dict[str, str]:
    """The VRM Add-on's mapping, only the entries naming a bone this armature has."""
    return {vrm: name for vrm, name in armature.mapping.items() if name in armature.bones.index}


def effective_mapping(armature: ArmatureInfo, spec_version: str = "1.0") -> bone_mapping.MappingResult:
    """What the export will use: the bones set by hand, and auto-map for the ones not set."""
    required = humanoid.required_bones(spec_version)
    return bone_mapping.solve(armature.bones, valid_mapping(armature), required, armature.carrying)


def carrying_bones(meshes: Iterable[MeshInfo], armature: ArmatureInfo) -> frozenset[str]:
    """The bones of `armature` that carry geometry: weighted in a mesh it deforms, or holding a rigid part
    (directly or through other objects, such as an empty with the part under it)."""
    found: set[str] = set()
    for mesh in meshes:
        if is_skinned_to(mesh, armature):
            used = np.unique(mesh.group_index[mesh.group_weight > 0.0]).tolist()
            found.update(mesh.group_names[g] for g in used if mesh.group_names[g] in armature.bones.index)
        elif mesh.carried_by is not None and mesh.carried_by[0] == armature.name:
            found.add(mesh.carried_by[1])
    return frozenset(found)


# --- structure -------------------------------------------------------------------------------------------


def check_mapping(armature: ArmatureInfo, spec_version: str, solved: bone_mapping.MappingResult) -> list[Finding]:
    mapping = solved.mapping
    findings: list[Finding] = []
    if solved.reasons:
        findings.append(_missing_bones(armature, spec_version, solved))
    elif solved.auto:
        message = (
            f"{len(solved.auto)} VRM bone(s) of '{armature.name}' found automatically "
            f"({_names(f'{b}={mapping[b]}' for b in solved.auto)}); the export writes them into the VRM Add-on"
        )
        findings.append(_finding("mapping_not_stored", "info", message, (armature.name,)))
    stale = [f"{b} -> '{name}'" for b, name in armature.mapping.items() if name and name not in armature.bones.index]
    if stale:
        message = f"the VRM mapping of '{armature.name}' names bones that do not exist: {_names(stale)}"
        findings.append(_finding("stale_mapping", "warning", message, (armature.name,)))
    by_bone: dict[str, list[str]] = {}
    for vrm, name in mapping.items():
        by_bone.setdefault(name, []).append(vrm)
    for name, vrms in by_bone.items():
        if len(vrms) > 1:
            findings.append(
                _finding(
                    "duplicate_mapping",
                    "error",
                    f"bone '{name}' of '{armature.name}' is mapped to {len(vrms)} VRM bones: {', '.join(vrms)}",
                    (armature.name,),
                )
            )
    findings.extend(_hierarchy(armature, mapping))
    return findings


def _missing_bones(armature: ArmatureInfo, spec_version: str, solved: bone_mapping.MappingResult) -> Finding:
    """The required bones that cannot be mapped, each with its root cause; with the skeleton change that
    would mend them when one exists (a structural fix)."""
    required = humanoid.required_bones(spec_version)
    missing = [b for b in humanoid.HUMAN_BONES if b in required and b not in solved.mapping]
    causes = "; ".join(f"{vrm}: {why}" for vrm, why in solved.reasons.items())
    below = [b for b in missing if b not in solved.reasons]
    message = f"'{armature.name}' lacks required VRM bone(s): {causes}"
    if below:
        message += f" (so {', '.join(below)} cannot be mapped either)"
    plan = restructure_plan(armature, spec_version)
    if plan:
        message += f"; structural fix: {plan.describe()} (no vertex moves in the rest pose)"
    return Finding("missing_required_bone", "error", message, bool(plan), (armature.name,))


def restructure_plan(armature: ArmatureInfo, spec_version: str) -> bone_mapping.Restructure | None:
    """The bones the structural fix of missing_required_bone adds and reparents (None when nothing mends the rig)."""
    required = humanoid.required_bones(spec_version)
    return bone_mapping.restructure(armature.bones, valid_mapping(armature), required, armature.carrying)


def _hierarchy(armature: ArmatureInfo, mapping: dict[str, str]) -> list[Finding]:
    problems: list[str] = []
    mapped = frozenset(mapping)
    for vrm in humanoid.HUMAN_BONES:
        if vrm not in mapping:
            continue
        needed = NEEDS_PARENT.get(vrm)
        if needed is not None and needed not in mapping:
            problems.append(f"{vrm} ('{mapping[vrm]}') needs {needed} mapped")
            continue
        parent = humanoid.mapped_parent(vrm, mapped)
        if parent is not None and not armature.bones.is_ancestor(mapping[parent], mapping[vrm]):
            problems.append(f"{vrm} ('{mapping[vrm]}') is not a descendant of {parent} ('{mapping[parent]}')")
    if not problems:
        return []
    return [
        _finding(
            "bad_hierarchy",
            "error",
            f"{len(problems)} VRM bone(s) of '{armature.name}' break the humanoid hierarchy: {_names(problems, 4)}",
            (armature.name,),
        )
    ]


def idle_bones(armature: ArmatureInfo, mapping: dict[str, str]) -> list[str]:
    """Bones that neither they nor any bone below them carry geometry or are mapped: IK and pole targets,
    rig helpers. They deform nothing and carry nothing, so a VRM's skin does not need them. Empty when it is
    not known what the bones carry."""
    if not armature.carrying:
        return []
    bones = armature.bones
    needed = [name in armature.carrying for name in bones.names]
    for name in mapping.values():
        needed[bones.index[name]] = True
    for i in reversed(range(len(bones))):  # children after parents: a needed bone makes its parent needed
        if needed[i] and bones.parents[i] >= 0:
            needed[bones.parents[i]] = True
    return [name for name, keep in zip(bones.names, needed, strict=True) if not keep]


# --- pose and placement ------------------------------------------------------------------------------------


def _bone_world(armature: ArmatureInfo, name: str) -> tuple[FloatArray, FloatArray]:
    i = armature.bones.index[name]
    ends = armature.transform.to_world(np.stack([armature.bones.heads[i], armature.bones.tails[i]]))
    return ends[0], ends[1]


def _angle_from_horizontal(head: FloatArray, tail: FloatArray) -> float:
    d = tail - head
    length = float(np.linalg.norm(d))
    return 0.0 if length < 1e-9 else math.degrees(math.asin(min(1.0, abs(float(d[2])) / length)))


def check_pose(
    model: RigModel, armature: ArmatureInfo, mapping: dict[str, str], *, pose_scaled: bool = False
) -> list[Finding]:
    findings: list[Finding] = []
    off: list[str] = []
    for vrm in ("leftUpperArm", "leftLowerArm", "rightUpperArm", "rightLowerArm"):
        if vrm in mapping:
            angle = _angle_from_horizontal(*_bone_world(armature, mapping[vrm]))
            if angle > T_POSE_TOLERANCE_DEG:
                off.append(f"{vrm} '{mapping[vrm]}' {angle:.0f}° from horizontal")
    for vrm in ("leftUpperLeg", "leftLowerLeg", "rightUpperLeg", "rightLowerLeg"):
        if vrm in mapping:
            angle = 90.0 - _angle_from_horizontal(*_bone_world(armature, mapping[vrm]))
            if angle > T_POSE_TOLERANCE_DEG:
                off.append(f"{vrm} '{mapping[vrm]}' {angle:.0f}° from vertical")
    if off:
        findings.append(
            _finding(
                "not_t_pose",
                "warning",
                f"'{armature.name}' is not in a T-pose (tolerance {T_POSE_TOLERANCE_DEG:.0f}°): {_names(off, 4)}",
                (armature.name,),
            )
        )
    findings.extend(_facing(armature, mapping))
    findings.extend(_placement(model, armature, mapping, pose_scaled=pose_scaled))
    return findings


def _facing(armature: ArmatureInfo, mapping: dict[str, str]) -> list[Finding]:
    for left, right in (("leftUpperArm", "rightUpperArm"), ("leftUpperLeg", "rightUpperLeg")):
        if left in mapping and right in mapping:
            across = _bone_world(armature, mapping[left])[0] - _bone_world(armature, mapping[right])[0]
            forward = np.cross(across, (0.0, 0.0, 1.0))
            norm = float(np.linalg.norm(forward))
            if norm < 1e-9:
                return []
            cos = float(forward[1]) / norm * -1.0
            if cos < math.cos(math.radians(FACING_TOLERANCE_DEG)):
                heading = math.degrees(math.atan2(float(forward[0]), -float(forward[1])))
                message = f"'{armature.name}' faces {heading:+.0f}° away from -Y; a VRM must face -Y in Blender"
                return [_finding("wrong_facing", "error", message, (armature.name,))]
            return []
    return []


def lowest_point(model: RigModel, armature: ArmatureInfo, mapping: dict[str, str]) -> float | None:
    """The lowest z of the avatar in the world: its meshes, else its foot and toe bones."""
    lows = [float(m.transform.to_world(m.positions)[:, 2].min()) for m in model.meshes if len(m.positions)]
    if lows:
        return min(lows)
    ends = [z for vrm in ("leftFoot", "rightFoot", "leftToes", "rightToes") if vrm in mapping
            for z in (float(p[2]) for p in _bone_world(armature, mapping[vrm]))]  # fmt: skip
    return min(ends) if ends else None


def _placement(model: RigModel, armature: ArmatureInfo, mapping: dict[str, str], *, pose_scaled: bool) -> list[Finding]:
    findings: list[Finding] = []
    low = lowest_point(model, armature, mapping)
    if low is not None and abs(low) > GROUND_TOLERANCE:
        message = f"the lowest point of '{armature.name}' and its meshes is at z={low:.3f} m, not on the ground (z=0)"
        size = avatar_extent(model, armature)
        if size and abs(low) > GROUND_SHARE * size:
            message += f"; grounding moves it {abs(low) / size:.0%} of its size: check its units and origin first"
        if pose_scaled:  # measured in the rest pose, which is not where the pose shows it
            message += "; its pose scales it as you see it: the scaled_pose fix comes first"
        objects = (armature.name, *(m.name for m in model.meshes))
        findings.append(Finding("not_grounded", "warning", message, not pose_scaled, objects))
    if "hips" in mapping:
        head, _ = _bone_world(armature, mapping["hips"])
        if math.hypot(float(head[0]), float(head[1])) > CENTER_TOLERANCE:
            findings.append(
                _finding(
                    "off_center",
                    "warning",
                    f"hips '{mapping['hips']}' stand at x={head[0]:.3f}, y={head[1]:.3f} m, not over the origin",
                    (armature.name,),
                )
            )
    return findings


def avatar_extent(model: RigModel, armature: ArmatureInfo) -> float | None:
    """The avatar's largest world extent in metres: its meshes' bounding box, else its bones'."""
    clouds = [m.transform.to_world(m.positions) for m in model.meshes if len(m.positions)]
    if not clouds and len(armature.bones):
        clouds = [armature.transform.to_world(np.concatenate([armature.bones.heads, armature.bones.tails]))]
    if not clouds:
        return None
    points = np.concatenate(clouds)
    return float((points.max(axis=0) - points.min(axis=0)).max())


def head_to_feet(armature: ArmatureInfo, mapping: dict[str, str]) -> float | None:
    """World metres from the head bone to the middle of the foot bones (None without them): the span a
    viewer measures, whichever way the rest pose lies."""
    feet = [_bone_world(armature, mapping[f])[0] for f in ("leftFoot", "rightFoot") if f in mapping]
    if "head" not in mapping or not feet:
        return None
    return float(np.linalg.norm(_bone_world(armature, mapping["head"])[0] - np.mean(feet, axis=0)))


def person_sized(extent: float, span: float | None) -> bool:
    low, high = PERSON_SIZE
    return low <= extent <= high and (span is None or HEAD_TO_FEET[0] <= span <= HEAD_TO_FEET[1])


def units_factor(extent: float, span: float | None = None) -> tuple[float, str] | None:
    """The unit an avatar this big (largest extent, head-to-feet span) was authored in, as (metres per unit,
    its name): the one making it a person's size, nearest 1.7 m; powers of ten before inches and feet. None
    when it is a person's size already, or no unit makes it one."""
    if extent <= 0.0 or person_sized(extent, span):
        return None
    for family in UNITS:
        fits = [(f, name) for f, name in family if person_sized(extent * f, None if span is None else span * f)]
        if fits:
            return min(fits, key=lambda u: abs(math.log10(extent * u[0] / PERSON_HEIGHT)))
    return None


def units_fix(
    model: RigModel, armature: ArmatureInfo, mapping: dict[str, str], target_height: float
) -> tuple[float, str] | None:
    """The scale the wrong_units fix gives the avatar and why, in words for its message: the unit it was
    authored in, else `target_height` for its largest extent, proportions kept. None when it is a person's
    size (or has no size)."""
    extent = avatar_extent(model, armature)
    span = head_to_feet(armature, mapping)
    if not extent or person_sized(extent, span):
        return None
    unit = units_factor(extent, span)
    if unit is not None:
        return unit[0], f"a person's size (its units read as {unit[1]})"
    reason = "no unit (power of ten, inches, feet) makes it a person's size"
    return target_height / extent, f"the preset's target height of {target_height:g} m, proportions kept: {reason}"


def check_units(
    model: RigModel, armature: ArmatureInfo, mapping: dict[str, str], target_height: float, *, pose_scaled: bool
) -> list[Finding]:
    """An avatar far outside a person's size was authored in other units (centimetres, say), or at a size no
    unit explains (a chibi 3.75 m tall)."""
    extent = avatar_extent(model, armature)
    span = head_to_feet(armature, mapping)
    if extent is None or extent <= 0.0 or person_sized(extent, span):
        return []
    low, high = PERSON_SIZE
    message = f"'{armature.name}' is {extent:.3g} m tall or wide"
    if span is not None:
        message += f", its head {span:.3g} m from its feet"
    message += (
        f": not a person's size ({low:g} to {high:g} m, the head {HEAD_TO_FEET[0]:g} to {HEAD_TO_FEET[1]:g} m "
        "from the feet)"
    )
    fix = units_fix(model, armature, mapping, target_height)
    if pose_scaled:
        message += "; its pose scales it as you see it: the scaled_pose fix comes first"
    elif fix is not None:
        message += f"; the fix scales it by {fix[0]:.4g} about the origin to {fix[1]}, shape unchanged"
    objects = (armature.name, *(m.name for m in model.meshes))
    return [Finding("wrong_units", "error", message, fix is not None and not pose_scaled, objects)]


def _bone_label(scale: FloatArray) -> str:
    if float(np.ptp(scale)) <= TRANSFORM_TOLERANCE:
        return f"scale {float(scale[0]):.3g}"
    return "scale (" + ", ".join(f"{float(v):.3g}" for v in scale) + ")"


def check_pose_scale(armature: ArmatureInfo, mapping: dict[str, str]) -> list[Finding]:
    """A pose that scales bones, or moves a deform bone the export's T-pose keeps moved, is not a rotation of
    the rest pose. Importers leave one: a glTF root joint of node scale 0.01 comes in as a rest pose 100x too
    big shown through a pose-bone scale of 0.01. The VRM Add-on's T-pose only turns bones (and clears the
    moves down to each chain's first mapped bone), so the export writes the rest of that pose into the VRM
    skeleton."""
    scale, location = armature.pose_scale, armature.pose_location
    if scale is None or location is None or not len(armature.bones):
        return []
    bones = armature.bones
    mapped = {bones.index[name] for name in mapping.values() if name in bones.index}
    ends = np.concatenate([bones.heads, bones.tails])
    size = max(float((ends.max(axis=0) - ends.min(axis=0)).max()), 1e-9)
    off: list[str] = []
    for i, name in enumerate(bones.names):
        what: list[str] = []
        if float(np.abs(scale[i] - 1.0).max()) > TRANSFORM_TOLERANCE:
            what.append(_bone_label(scale[i]))
        moved = float(np.linalg.norm(location[i]))
        if moved > TRANSFORM_TOLERANCE * size and bones.deform[i] and _below_mapped(bones.parents, i, mapped):
            what.append(f"moved {moved:.3g} units")
        if what:
            off.append(f"'{name}' ({', '.join(what)})")
    if not off:
        return []
    message = (
        f"the pose of '{armature.name}' scales or moves bones off its rest pose: {_names(off)}; you see the "
        "pose, and the export would write its scale and moves into the VRM skeleton (its T-pose only turns "
        "bones); structural fix: apply the pose's scale and moves as the rest pose, meshes and shape keys "
        "following, rotations kept posed"
    )
    return [Finding("scaled_pose", "error", message, True, (armature.name,))]


def _below_mapped(parents: list[int], i: int, mapped: set[int]) -> bool:
    """Whether a proper ancestor of bone i is mapped (the T-pose keeps such a bone's move)."""
    p = parents[i]
    while p >= 0:
        if p in mapped:
            return True
        p = parents[p]
    return False


def _up_angle(bottom: FloatArray, top: FloatArray) -> float:
    d = top - bottom
    length = float(np.linalg.norm(d))
    return 0.0 if length < 1e-12 else math.degrees(math.acos(max(-1.0, min(1.0, float(d[2]) / length))))


def check_upright(armature: ArmatureInfo, mapping: dict[str, str]) -> list[Finding]:
    """The rest pose must stand: hips below the head along +Z. A figure lying in its rest pose but standing
    in its current pose can have that pose applied as its rest pose (a structural fix)."""
    if "hips" not in mapping or "head" not in mapping:
        return []
    hips, head = armature.bones.index[mapping["hips"]], armature.bones.index[mapping["head"]]
    to_world = armature.transform.to_world
    rest = _up_angle(*to_world(armature.bones.heads[[hips, head]]))
    if rest <= UPRIGHT_TOLERANCE_DEG:
        return []
    message = f"the rest pose of '{armature.name}' does not stand upright: hips to head is {rest:.0f}° from +Z"
    posed = armature.posed_heads
    standing = posed is not None and _up_angle(*to_world(posed[[hips, head]])) <= UPRIGHT_TOLERANCE_DEG
    if standing:
        message += (
            "; its current pose stands: the fix applies the current pose as the rest pose "
            "(meshes and shape keys follow)"
        )
    else:
        message += "; its current pose does not stand either, so no fix can make it upright"
    return [Finding("rest_pose_not_upright", "error", message, standing, (armature.name,))]


def check_transforms(model: RigModel, armature: ArmatureInfo) -> list[Finding]:
    everything = [(armature.name, armature.transform), *((m.name, m.transform) for m in model.meshes)]
    negative = [name for name, t in everything if min(t.scale) < 0.0]
    # A rigid part's own rotation and scale under its bone are part of its placement, not a skinning hazard.
    meshes = [m for m in model.meshes if not is_rigid_part(m, armature)]
    unapplied: list[str] = []
    for name, t in [(armature.name, armature.transform), *((m.name, m.transform) for m in meshes)]:
        w = abs(t.rotation[0])
        rotated = 2.0 * math.degrees(math.acos(min(1.0, w))) > math.degrees(TRANSFORM_TOLERANCE)
        scaled = any(abs(abs(s) - 1.0) > TRANSFORM_TOLERANCE for s in t.scale)
        if name not in negative and (rotated or scaled):
            what = " and ".join(k for k, on in (("rotation", rotated), ("scale", scaled)) if on)
            unapplied.append(f"{name} ({what})")
    findings: list[Finding] = []
    if negative:
        findings.append(
            _finding(
                "negative_scale",
                "error",
                f"negative scale on {_names(negative)}: the VRM Add-on refuses to export it; "
                "mirror the mesh data instead",
                negative,
            )
        )
    if unapplied:
        names = [u.split(" (")[0] for u in unapplied]
        # Applying a parent's scale hands it to the children: they are applied with it.
        children = [m.name for m in meshes if m.parent in names and m.name not in names]
        message = f"rotation or scale not applied on {_names(unapplied)}"
        if children:
            message += f"; applied together with the child meshes {_names(children)}"
        findings.append(_finding("unapplied_transforms", "warning", message, names + children))
    return findings


# --- skinning --------------------------------------------------------------------------------------------


def deform_groups(mesh: MeshInfo, armature: ArmatureInfo) -> BoolArray:
    """Per vertex group (and one False more, for the padding index -1): named after a deform bone?"""
    bones = armature.bones
    return mesh.group_mask({name for name, deform in zip(bones.names, bones.deform, strict=True) if deform})


def deform_weights(mesh: MeshInfo, armature: ArmatureInfo) -> FloatArray:
    """(N, K) weights counting only groups named after a deform bone of the armature."""
    return np.where(deform_groups(mesh, armature)[mesh.group_index], mesh.group_weight, 0.0)


def is_skinned_to(mesh: MeshInfo, armature: ArmatureInfo) -> bool:
    """Deformed by the armature: an Armature modifier, or Blender's armature parenting (which deforms alike)."""
    return armature.name in mesh.armature_modifiers or (mesh.parent == armature.name and mesh.parent_type == "ARMATURE")


def is_rigid_part(mesh: MeshInfo, armature: ArmatureInfo) -> bool:
    """A mesh parented to a bone moves with it, unskinned: a normal VRM part (a robot's plates, say)."""
    return mesh.parent == armature.name and mesh.parent_type == "BONE" and not is_skinned_to(mesh, armature)


def check_skinning(model: RigModel, armature: ArmatureInfo) -> list[Finding]:
    findings: list[Finding] = []
    for mesh in model.meshes:
        if is_rigid_part(mesh, armature):
            continue
        if not is_skinned_to(mesh, armature):
            # Groups named after bones mean it was meant to bend with them; without them it is a rigid part.
            if any(g in armature.bones.index for g in mesh.group_names):
                message = f"'{mesh.name}' is not deformed by '{armature.name}': it has no Armature modifier for it"
                findings.append(_finding("missing_armature_modifier", "error", message, (mesh.name,)))
            continue
        findings.extend(_weights(mesh, armature))
    return findings


def _weights(mesh: MeshInfo, armature: ArmatureInfo) -> list[Finding]:
    out: list[Finding] = []
    n = len(mesh.positions)
    weights = deform_weights(mesh, armature)
    total = weights.sum(axis=1) if weights.size else np.zeros(n)
    unweighted = int(np.count_nonzero(total <= WEIGHT_TOLERANCE))
    if unweighted:
        out.append(
            _finding(
                "unweighted_vertices",
                "error",
                f"{unweighted} of {n} vertices of '{mesh.name}' have no weight on a deform bone (they stay behind)",
                (mesh.name,),
            )
        )
    off = int(np.count_nonzero((total > WEIGHT_TOLERANCE) & (np.abs(total - 1.0) > WEIGHT_TOLERANCE)))
    if off:
        out.append(
            _finding(
                "weights_not_normalized",
                "warning",
                f"{off} vertices of '{mesh.name}' have weights that do not add up to 1",
                (mesh.name,),
            )
        )
    crowded = int(np.count_nonzero((weights > 0.0).sum(axis=1) > 4)) if weights.size else 0
    if crowded:
        out.append(
            _finding(
                "too_many_influences",
                "warning",
                f"{crowded} vertices of '{mesh.name}' have more than 4 bone influences (the exporter drops the rest)",
                (mesh.name,),
            )
        )
    used = np.unique(mesh.group_index[mesh.group_weight > 0.0])
    non_deform = [
        mesh.group_names[g]
        for g in used
        if mesh.group_names[g] in armature.bones.index
        and not armature.bones.deform[armature.bones.index[mesh.group_names[g]]]
    ]
    if non_deform:
        out.append(
            _finding(
                "weights_on_non_deform_bones",
                "warning",
                f"'{mesh.name}' has weights on bones that do not deform: {_names(non_deform)}",
                (mesh.name,),
            )
        )
    orphans = [g for g in mesh.group_names if g not in armature.bones.index]
    if orphans:
        out.append(
            _finding(
                "vertex_groups_without_bones",
                "info",
                f"'{mesh.name}' has {len(orphans)} vertex group(s) no bone of '{armature.name}' is named after: "
                f"{_names(orphans)}",
                (mesh.name,),
            )
        )
    return out


def check_name_clash(model: RigModel, armature: ArmatureInfo, spec_version: str) -> list[Finding]:
    """Meshes named like a bone: the VRM Add-on cancels a VRM 0.x export over it (glTF nodes of one name)."""
    clashes = [m.name for m in model.meshes if m.name in armature.bones.index]
    if not clashes:
        return []
    named = f"mesh object(s) named like a bone of '{armature.name}': {_names(clashes)}"
    if spec_version == "0.x":
        message = f"{named}: the VRM Add-on refuses to export VRM 0.x with a mesh and a bone of one name"
        return [_finding("object_bone_name_clash", "error", message, clashes)]
    message = f"{named}: fine for VRM 1.0, but a VRM 0.x export would be refused"
    return [_finding("object_bone_name_clash", "info", message, clashes)]


# --- materials -------------------------------------------------------------------------------------------


def fully_transparent(material: MaterialInfo) -> bool:
    """Draws nothing in a VRM consumer and nothing but its own value says so: alpha 0, not from a texture,
    not ignored by an opaque mode. Partial alpha (glass, lace) is a choice, never this."""
    return material.alpha <= TRANSPARENT_ALPHA and not material.textured and not material.opaque


def check_materials(model: RigModel) -> list[Finding]:
    """Fully transparent materials on the avatar's meshes: three-vrm would not draw what they cover."""
    clear = {m.name for m in model.materials if fully_transparent(m)}
    meshes = [m.name for m in model.meshes if clear.intersection(m.materials)]
    if not meshes:
        return []
    named = sorted(clear.intersection(n for m in model.meshes for n in m.materials))
    message = (
        f"fully transparent material(s) (alpha 0, no texture): {_names(named)} on {_names(meshes)}; a VRM viewer "
        "would draw nothing there (Blender's viewport and the thumbnail ignore material alpha)"
    )
    return [_finding("transparent_material", "error", message, meshes)]


# --- expressions -----------------------------------------------------------------------------------------


def _expression_names(model: RigModel) -> set[str]:
    """Lower-cased VRM expressions the rig has: bound in the VRM Add-on (a custom expression named like a
    preset, "Surprised" or "Joy", counts as it), or a shape key the exporter binds by its name."""
    names = set(model.bound_expressions)
    names.update(e for name in model.bound_expressions if (e := expressions.expression_for(name)) is not None)
    for mesh in model.meshes:
        names.update(e for key in mesh.shape_keys if (e := expressions.expression_for(key)) is not None)
    return {n.lower() for n in names}


def check_expressions(model: RigModel) -> list[Finding]:
    have = _expression_names(model)
    meshes = [m.name for m in model.meshes]
    findings: list[Finding] = []
    visemes = [v for v in VISEMES if v not in have]
    if visemes:
        message = f"no shape key or VRM expression for the visemes {', '.join(visemes)}: the mouth will not move"
        findings.append(_finding("missing_visemes", "warning", message, meshes))
    if "blink" not in have and not {"blinkleft", "blinkright"} <= have:
        findings.append(_finding("missing_blink", "warning", "no blink shape key or VRM expression", meshes))
    expressions = [e for e in EXPRESSIONS if e not in have]
    if expressions:
        message = f"no shape key or VRM expression for {', '.join(expressions)}"
        findings.append(_finding("missing_expressions", "warning", message, meshes))
    return findings


# --- budgets ---------------------------------------------------------------------------------------------


def statistics(model: RigModel) -> dict[str, int]:
    materials = {name for m in model.meshes for name in m.materials}
    return {
        "vertices": sum(len(m.positions) for m in model.meshes),
        "triangles": sum(m.triangles for m in model.meshes),
        "materials": len(materials),
        "bones": len(model.armature.bones) if model.armature else 0,
        "textures": len(model.textures),
        "max_texture_size": max((max(t.width, t.height) for t in model.textures), default=0),
        "shape_keys": len({k for m in model.meshes for k in m.shape_keys}),
    }


# A 1024² thumbnail render of an avatar, as PNG (the demo avatar's is 0.51 MB).
THUMBNAIL_BYTES = 500_000


def estimate_file_size(model: RigModel, preset: Preset) -> int:
    """Bytes of the VRM the preset exports, roughly: vertex streams, indices, morph targets (sparse in
    VRM 1.0: an index and a value per moved vertex; dense in 0.x), textures at the preset's size, thumbnail."""
    size = THUMBNAIL_BYTES if preset.thumbnail else 0
    sparse = preset.spec_version == "1.0"
    normals = preset.export.morph_normals
    for mesh in model.meshes:
        n = len(mesh.positions)
        wide = n > 0xFFFF  # indices (triangle and sparse) are 32-bit past 65535 vertices
        # position + normal + uv (32 B), joints + weights (24 B); triangles as 16- or 32-bit indices.
        size += n * 56 + mesh.triangles * 3 * (4 if wide else 2)
        if sparse:
            # A moved vertex's position, and (where its shading changes, about as many) its normal.
            moved = sum(mesh.shape_key_moved) if mesh.shape_key_moved else len(mesh.shape_keys) * n
            size += moved * ((4 if wide else 2) + 12) * (2 if normals else 1)
        else:
            size += len(mesh.shape_keys) * n * 24
    for texture in model.textures:
        bytes_ = texture.bytes or texture.width * texture.height * 2
        side = max(texture.width, texture.height)
        if side > preset.max_texture_size:  # written downscaled: bytes follow the pixel count
            bytes_ = int(bytes_ * (preset.max_texture_size / side) ** 2)
        size += bytes_
    return size


def check_budgets(model: RigModel, stats: dict[str, int], preset: Preset) -> list[Finding]:
    b = preset.budgets
    meshes = [m.name for m in model.meshes]
    findings: list[Finding] = []

    def over(id_: str, what: str, value: float, limit: float, objects: list[str], *, unit: str = "") -> None:
        if value > limit:
            message = f"{what}: {value:g}{unit} over the '{preset.name}' budget of {limit:g}{unit}"
            findings.append(_finding(id_, "warning", message, objects))

    over("over_budget_triangles", "triangles", stats["triangles"], b.triangles, meshes)
    over("over_budget_materials", "materials", stats["materials"], b.materials, meshes)
    over("over_budget_bones", "bones", stats["bones"], b.bones, [model.armature.name] if model.armature else [])
    big = [t.name for t in model.textures if max(t.width, t.height) > b.texture_size]
    over("over_budget_texture_size", "largest texture", stats["max_texture_size"], b.texture_size, big, unit=" px")
    over("over_budget_textures", "textures", stats["textures"], b.textures, [t.name for t in model.textures])
    megabytes = round(estimate_file_size(model, preset) / 1e6, 1)
    over("over_budget_file_size", "estimated file size", megabytes, b.file_size_mb, meshes, unit=" MB")
    return findings


# --- all -------------------------------------------------------------------------------------------------


def run_checks(model: RigModel, preset: Preset | None = None) -> CheckReport:
    """Every check on a model read from Blender; `seconds` is left for the caller to fill in."""
    stats = statistics(model)
    spec = preset.spec_version if preset else "1.0"
    findings: list[Finding] = []
    armature = model.armature
    if armature is None:
        findings.append(_finding("no_armature", "error", "no armature in the scene: a VRM needs a humanoid rig"))
        return CheckReport.from_findings(None, {}, findings, stats)
    if model.rival_armatures and not model.user_chose_armature:
        others = model.rival_armatures
        message = (
            f"{len(others) + 1} armatures deform or carry meshes; checked '{armature.name}', not {_names(others)} "
            "(choose with --armature)"
        )
        findings.append(_finding("multiple_armatures", "warning", message, [armature.name, *others]))
    solved = effective_mapping(armature, spec)
    mapping = solved.mapping
    posed = check_pose_scale(armature, mapping)
    target = preset.target_height_m if preset else DEFAULT_TARGET_HEIGHT_M
    steps: list[Callable[[], list[Finding]]] = [
        lambda: check_mapping(armature, spec, solved),
        lambda: posed,
        lambda: check_units(model, armature, mapping, target, pose_scaled=bool(posed)),
        lambda: check_upright(armature, mapping),
        lambda: check_pose(model, armature, mapping, pose_scaled=bool(posed)),
        lambda: check_transforms(model, armature),
        lambda: check_skinning(model, armature),
        lambda: check_name_clash(model, armature, spec),
        lambda: check_materials(model),
        lambda: check_expressions(model),
    ]
    if preset is not None:
        steps.append(lambda: check_budgets(model, stats, preset))
    for step in steps:
        findings.extend(step())
    return CheckReport.from_findings(armature.name, mapping, findings, stats, solved.auto)
