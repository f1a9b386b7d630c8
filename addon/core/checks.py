"""The rig checks, on plain data: every finding id the sidebar, `forge.py check` and the exporter act on.

Each check returns findings with a stable id, a severity, a message naming the bones, objects or vertex
counts involved, and whether a safe fix exists (blender/rig_fixes.py holds the fixes, one per id).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable

import numpy as np

from . import bone_mapping, expressions, humanoid
from .findings import CheckReport, Finding, Severity
from .presets import Preset
from .rig_model import ArmatureInfo, BoolArray, FloatArray, MeshInfo, RigModel

# Fix ids: the finding each fix removes. Everything else is reported, never changed automatically.
FIXABLE: frozenset[str] = frozenset(
    {
        "missing_required_bone",
        "not_grounded",
        "unapplied_transforms",
        "unweighted_vertices",
        "weights_not_normalized",
        "too_many_influences",
        "missing_armature_modifier",
    }
)
T_POSE_TOLERANCE_DEG = 15.0
FACING_TOLERANCE_DEG = 45.0
GROUND_TOLERANCE = 0.005  # metres
CENTER_TOLERANCE = 0.05  # metres
WEIGHT_TOLERANCE = 1e-3
TRANSFORM_TOLERANCE = 1e-4
VISEMES = ("aa", "ih", "ou", "ee", "oh")
EXPRESSIONS = ("happy", "angry", "sad", "relaxed", "surprised")
# Upper-case: shape-key names other tools use for the same expression (VRoid's Fcl_MTH_A, VRChat's vrc.v_aa).
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


# --- structure -------------------------------------------------------------------------------------------


def check_mapping(armature: ArmatureInfo, spec_version: str) -> list[Finding]:
    mapping = valid_mapping(armature)
    findings: list[Finding] = []
    required = [b for b in humanoid.HUMAN_BONES if b in humanoid.required_bones(spec_version)]
    missing = [b for b in required if b not in mapping]
    if missing:
        proposal = bone_mapping.propose_mapping(armature.bones, mapping)
        stale = [f"{b} -> '{armature.mapping[b]}'" for b in missing if armature.mapping.get(b)]
        found = [b for b in missing if b in proposal]
        message = f"{len(missing)} required VRM bone(s) not mapped on '{armature.name}': {_names(missing)}"
        if stale:
            message += f" (mapped to bones that do not exist: {_names(stale)})"
        if found:
            message += f"; auto-map finds {_names(f'{b}={proposal[b]}' for b in found)}"
        findings.append(
            Finding("missing_required_bone", "error", message, len(found) == len(missing), (armature.name,))
        )
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


# --- pose and placement ------------------------------------------------------------------------------------


def _bone_world(armature: ArmatureInfo, name: str) -> tuple[FloatArray, FloatArray]:
    i = armature.bones.index[name]
    ends = armature.transform.to_world(np.stack([armature.bones.heads[i], armature.bones.tails[i]]))
    return ends[0], ends[1]


def _angle_from_horizontal(head: FloatArray, tail: FloatArray) -> float:
    d = tail - head
    length = float(np.linalg.norm(d))
    return 0.0 if length < 1e-9 else math.degrees(math.asin(min(1.0, abs(float(d[2])) / length)))


def check_pose(model: RigModel, armature: ArmatureInfo) -> list[Finding]:
    mapping = valid_mapping(armature)
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
    findings.extend(_placement(model, armature, mapping))
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


def lowest_point(model: RigModel, armature: ArmatureInfo) -> float | None:
    """The lowest z of the avatar in the world: its meshes, else its foot and toe bones."""
    lows = [float(m.transform.to_world(m.positions)[:, 2].min()) for m in model.meshes if len(m.positions)]
    if lows:
        return min(lows)
    mapping = valid_mapping(armature)
    ends = [z for vrm in ("leftFoot", "rightFoot", "leftToes", "rightToes") if vrm in mapping
            for z in (float(p[2]) for p in _bone_world(armature, mapping[vrm]))]  # fmt: skip
    return min(ends) if ends else None


def _placement(model: RigModel, armature: ArmatureInfo, mapping: dict[str, str]) -> list[Finding]:
    findings: list[Finding] = []
    low = lowest_point(model, armature)
    if low is not None and abs(low) > GROUND_TOLERANCE:
        findings.append(
            _finding(
                "not_grounded",
                "warning",
                f"the lowest point of '{armature.name}' and its meshes is at z={low:.3f} m, not on the ground (z=0)",
                (armature.name, *(m.name for m in model.meshes)),
            )
        )
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


def check_transforms(model: RigModel, armature: ArmatureInfo) -> list[Finding]:
    objects = [(armature.name, armature.transform), *((m.name, m.transform) for m in model.meshes)]
    negative = [name for name, t in objects if min(t.scale) < 0.0]
    unapplied: list[str] = []
    for name, t in objects:
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
        children = [m.name for m in model.meshes if m.parent in names and m.name not in names]
        message = f"rotation or scale not applied on {_names(unapplied)}"
        if children:
            message += f"; applied together with the child meshes {_names(children)}"
        findings.append(_finding("unapplied_transforms", "warning", message, names + children))
    return findings


# --- skinning --------------------------------------------------------------------------------------------


def deform_groups(mesh: MeshInfo, armature: ArmatureInfo) -> BoolArray:
    """Per vertex group (and one False more, for the padding index -1): named after a deform bone?"""
    return np.array(
        [name in armature.bones.index and bool(armature.bones.deform[armature.bones.index[name]])
         for name in mesh.group_names] + [False],
        dtype=bool,
    )  # fmt: skip


def deform_weights(mesh: MeshInfo, armature: ArmatureInfo) -> FloatArray:
    """(N, K) weights counting only groups named after a deform bone of the armature."""
    return np.where(deform_groups(mesh, armature)[mesh.group_index], mesh.group_weight, 0.0)


def is_skinned_to(mesh: MeshInfo, armature: ArmatureInfo) -> bool:
    return armature.name in mesh.armature_modifiers


def check_skinning(model: RigModel, armature: ArmatureInfo) -> list[Finding]:
    findings: list[Finding] = []
    for mesh in model.meshes:
        bone_groups = [g for g in mesh.group_names if g in armature.bones.index]
        if not is_skinned_to(mesh, armature):
            if bone_groups or mesh.parent == armature.name:
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


# --- expressions -----------------------------------------------------------------------------------------


def _expression_names(model: RigModel) -> set[str]:
    """Lower-cased VRM expressions the rig has: bound in the VRM Add-on, or a shape key the exporter maps."""
    names = set(model.bound_expressions)
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
    if len(model.armature_names) > 1 and not model.user_chose_armature:
        others = [n for n in model.armature_names if n != armature.name]
        message = f"{len(model.armature_names)} armatures in the scene; checked '{armature.name}', not {_names(others)}"
        findings.append(_finding("multiple_armatures", "warning", message, model.armature_names))
    steps: list[Callable[[], list[Finding]]] = [
        lambda: check_mapping(armature, spec),
        lambda: check_pose(model, armature),
        lambda: check_transforms(model, armature),
        lambda: check_skinning(model, armature),
        lambda: check_expressions(model),
    ]
    if preset is not None:
        steps.append(lambda: check_budgets(model, stats, preset))
    for step in steps:
        findings.extend(step())
    return CheckReport.from_findings(armature.name, valid_mapping(armature), findings, stats)
