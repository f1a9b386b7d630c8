"""Every kind of finding the rig check and the export report, in one registry: its id, severity, whether a
fix exists (and whether that fix is structural), the order the fixes run in, and one line for the user.

The fixes (blender/rig_fixes.py) register against these ids, the check marks a finding fixable from here,
and the rig check page's findings table is generated from it (`python build.py findings-table`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final, Literal

Severity = Literal["error", "warning", "info"]
FixKind = Literal["safe", "structural"]


@dataclass(frozen=True)
class FindingKind:
    id: str
    severity: str  # as the user reads it: "error", "warning", "info", or when it depends, on what
    doc: str  # what the fix does, or "— (why it has none)"
    fix: FixKind | None = None
    order: int | None = None  # fixable kinds: the fixes run lowest first (later fixes see what earlier changed)


def _kinds(*kinds: FindingKind) -> dict[str, FindingKind]:
    return {kind.id: kind for kind in kinds}


_MISSING_REQUIRED_BONE = (
    "structural, when one exists: reparent the bones that hang outside their chain (legs from a root bone, a foot "
    "from an IK bone, a game rig's foot beside the pole targets under the root) under their VRM parent, a bone only "
    "when it or a bone below it carries geometry (when what they carry is known: an IK control carries nothing and "
    "stays); where a forearm's palms, fingers and thumb branch straight off it (no hand bone), insert a hand bone at "
    "the wrist (named like the forearm: `LowerArmL` → `HandL`) and move them under it, the fingers then mapped below "
    "it. The new bone has no weights: it deforms nothing itself, and posing it turns the palms and fingers with what "
    "they carry (the vertices the author weighted to the forearm stay with it). No vertex moves in the rest pose; "
    "the armature's actions are [re-based](#actions-survive-a-new-rest-pose) so the moved bones play as they did"
)
_WRONG_UNITS = (
    "scale the avatar about the origin to a person's size (0.3–3 m across, its head 0.5–2.5 m from its feet: an "
    "avatar in centimetres stands 170 m tall, a chibi 3.75 m tall is a giant and at a tenth of that a doll): by the "
    "unit it was authored in, a power of ten first (millimetres, centimetres…), then inches or feet; when no unit "
    "fits, to the preset's `target_height_m` (its largest extent), proportions kept; the message and the fix line "
    "say which. Shape unchanged, then grounded. Waits for `scaled_pose` when the pose scales the avatar"
)
_SCALED_POSE = (
    "structural: the pose scales bones (or moves a deform bone below a mapped bone), so what you see is not the rest "
    "pose, and the export would write that scale into the VRM skeleton (its T-pose only turns bones). A glTF whose "
    "root joint has node scale 0.01 (a centimetre web avatar) imports so: a rest pose 100× too big shown through a "
    "0.01 pose-bone scale. The fix applies the pose's scale and moves as the rest pose, meshes and every shape key "
    "following, the pose's rotations kept: the avatar stays where you see it, now at its size in the rest pose too; "
    "the armature's actions are [re-based](#actions-survive-a-new-rest-pose)"
)
_NOT_GROUNDED = (
    "ground the model (moves the armature and its meshes so the lowest point is at z=0; the message says when that "
    "is more than a tenth of its size); waits for `scaled_pose` when the pose scales the avatar. The export's "
    "[verification](vrm-export.md) refuses a file whose meshes float more than 5 cm above the floor, or sink with "
    "the ankles under it"
)
_EXPRESSIONS = (
    "— (aa ih ou ee oh; blink; happy angry sad relaxed surprised: a shape key the export binds by its name, or an "
    "expression already bound in the VRM Add-on, VRM 1.0 or a VRM 0.x blend shape group)"
)
_TRANSPARENT_MATERIAL = (
    "make each fully transparent material of the avatar's meshes (alpha 0 with no texture feeding it: Blender's "
    "FBX importer makes them, see below) opaque: Alpha 1, render method dithered (Blender 4.2+ has no opaque "
    "blend mode left); an MToon material: base colour alpha 1, alpha mode OPAQUE. The fix line names the "
    "materials. A material whose alpha comes from a texture, or is partial (glass, lace at 0.3), is left alone"
)
_BUDGET = "— (the file size is an estimate)"

# In the order the findings table lists them (structure, pose and placement, skinning, expressions, budgets).
KINDS: Final[dict[str, FindingKind]] = _kinds(
    FindingKind("missing_required_bone", "error", _MISSING_REQUIRED_BONE, "structural", 1),
    FindingKind(
        "mapping_not_stored",
        "info",
        "store the automatically found bones in the VRM Add-on (the export does this too)",
        "safe",
        0,
    ),
    FindingKind(
        "stale_mapping", "warning", "— (the VRM mapping names bones the armature does not have; they are mapped anew)"
    ),
    FindingKind("duplicate_mapping", "error", "— (pick the right bone in the mapping editor)"),
    FindingKind(
        "bad_hierarchy",
        "error",
        "— (a bone you mapped is not under its VRM parent, or upperChest without chest, a finger joint without the "
        "one before)",
    ),
    FindingKind("no_armature", "error", "—"),
    FindingKind(
        "multiple_armatures",
        "warning",
        "— (several armatures deform or carry meshes; the one with most geometry is checked; `--armature` picks one)",
    ),
    FindingKind("wrong_units", "error", _WRONG_UNITS, "safe", 5),
    FindingKind("scaled_pose", "error", _SCALED_POSE, "structural", 4),
    FindingKind(
        "rest_pose_not_upright",
        "error",
        "structural, when the current pose stands: apply the current pose as the rest pose, meshes and every shape "
        "key following it, the armature's actions [re-based](#actions-survive-a-new-rest-pose); refused with the "
        "reason otherwise",
        "structural",
        3,
    ),
    FindingKind("not_t_pose", "warning", "— (arms more than 15° off horizontal, legs off vertical)"),
    FindingKind("wrong_facing", "error", "— (must face -Y in Blender)"),
    FindingKind("not_grounded", "warning", _NOT_GROUNDED, "safe", 11),
    FindingKind("off_center", "warning", "— (hips more than 5 cm from the origin)"),
    FindingKind(
        "unapplied_transforms",
        "warning",
        "apply rotation and scale, parents first; every child, bone-parented parts included, stays where it was; a "
        "mesh shared by several objects gets its own copy first; an armature's actions are "
        "[re-based](#actions-survive-a-new-rest-pose) to its bones' new size",
        "safe",
        7,
    ),
    FindingKind("negative_scale", "error", "— (the VRM Add-on refuses it)"),
    FindingKind("unweighted_vertices", "error", "give each to the nearest deform bone", "safe", 10),
    FindingKind("weights_not_normalized", "warning", "normalize those vertices", "safe", 9),
    FindingKind(
        "too_many_influences",
        "warning",
        "keep the strongest 4, rescaled (the exporter would drop the rest silently)",
        "safe",
        8,
    ),
    FindingKind("weights_on_non_deform_bones", "warning", "—"),
    FindingKind("vertex_groups_without_bones", "info", "—"),
    FindingKind(
        "missing_armature_modifier",
        "error",
        "add an Armature modifier (first in the stack); never to a mesh parented to a bone",
        "safe",
        6,
    ),
    FindingKind("fix_failed", "warning", "— (Blender refused a fix; the message says which and why)"),
    FindingKind(
        "object_bone_name_clash",
        "error for VRM 0.x, info for 1.0",
        "rename the mesh to `<name>_mesh` (the VRM Add-on refuses a VRM 0.x with a mesh and a bone of one name)",
        "safe",
        2,
    ),
    FindingKind("transparent_material", "error", _TRANSPARENT_MATERIAL, "safe", 12),
    FindingKind("missing_visemes", "warning", _EXPRESSIONS),
    FindingKind("missing_blink", "warning", _EXPRESSIONS),
    FindingKind("missing_expressions", "warning", _EXPRESSIONS),
    *(
        FindingKind(f"over_budget_{budget}", "warning", _BUDGET)
        for budget in ("triangles", "materials", "bones", "texture_size", "textures", "file_size")
    ),
    FindingKind(
        "meta_license_differs",
        "warning",
        "— (the preset's licence differs from the model's: the model's is kept; see [the meta](vrm-export.md))",
    ),
    FindingKind(
        "web_packing_skipped",
        "warning",
        "— (the preset's web packing, or part of it, was left out: the verified file is written as it was; see "
        "[web delivery](web-delivery.md))",
    ),
    # The clip check's, before a VRM Animation export (see animations-and-serving.md): each refuses the clip.
    FindingKind(
        "humanoid_unmapped",
        "error",
        "— (clip check: the VRM 1.0 required bones must be mapped; `check --fix` maps them)",
    ),
    FindingKind("no_action", "error", "— (clip check: nothing to export)"),
    FindingKind(
        "bad_frame_range",
        "error",
        "— (clip check: fewer than 2 frames, an end before the start, or more than 36000 frames)",
    ),
    FindingKind("bad_frame_rate", "error", "— (clip check: outside 1–240 fps)"),
    FindingKind("scale_keys", "error", "— (clip check: a VRM Animation has no scale, the clip would play differently)"),
    FindingKind("nothing_animated", "error", "— (clip check: the action keys no humanoid bone's rotation)"),
    FindingKind(
        "expression_binds_dropped",
        "warning",
        "— (material binds VRM 1.0 cannot hold, such as numbers like `_Cutoff`; see [VRM export](vrm-export.md))",
    ),
)

FIXABLE: Final[frozenset[str]] = frozenset(k.id for k in KINDS.values() if k.fix is not None)
FIX_ORDER: Final[tuple[str, ...]] = tuple(
    k.id for k in sorted((k for k in KINDS.values() if k.order is not None), key=lambda k: k.order or 0)
)


def kind(id_: str) -> FindingKind:
    """The registered kind of this id; a finding of an unregistered kind is a bug of ours (KeyError)."""
    try:
        return KINDS[id_]
    except KeyError:
        raise KeyError(f"'{id_}' is not a registered finding kind (core/rig/finding_kinds.py)") from None


def findings_table() -> str:
    """The findings table of the rig check page: one row per kind, neighbours of one severity and one line
    joined into one row."""
    rows: list[tuple[list[str], str, str]] = []
    for k in KINDS.values():
        if rows and rows[-1][1:] == (k.severity, k.doc):
            rows[-1][0].append(k.id)
        else:
            rows.append(([k.id], k.severity, k.doc))
    lines = ["| id | severity | fix |", "|---|---|---|"]
    lines += [f"| {', '.join(f'`{i}`' for i in ids)} | {severity} | {doc} |" for ids, severity, doc in rows]
    return "\n".join(lines) + "\n"
