"""Reads a written .vrm back from its bytes and checks what a consumer (three-vrm) would see.

The export's last line of defence: a file that loads but shows a 1.5 cm skeleton floating inside 1.7 m
meshes, an avatar a metre above the floor or one facing backwards must never be handed out. It reads the
glTF JSON, the rigid meshes' POSITION min/max, the skins' inverse bind matrices and the skinned meshes'
positions, joints and weights.

What it checks, beyond vrm_inspect's structure (required bones mapped, licence, buffers that fit):
- each mapped humanoid bone's node lies under its VRM parent's node (posing moves children with parents);
- the skeleton in world space (node TRS or matrix, from the scene's roots): head a person's height above
  the feet, upright (head above neck above hips above knees above feet), facing the specification's way
  (VRM 1.0: the left hand at +x, the model facing +z; VRM 0.x: at -x);
- the meshes as a loader places them: a skinned vertex v shows at the weighted sum of its joints'
  jointWorld · inverseBind · v, a rigid one at its node's world transform; their lowest point on the ground
  (not above it; below it only as far as the ankles stay above), their height in proportion to the
  skeleton's, and the skeleton's joints inside them. A rigid mesh is bounded by its accessor's min/max; a
  skinned one is skinned vertex by vertex (its pose need not be its bind pose: the export writes a T-pose
  whose straightened legs move the feet), about 0.1 s per 100k vertices;
- every mesh draws something: a mesh all of whose primitives' materials are fully transparent (alpha 0 when
  blended, below the cutoff when masked) shows nothing in three-vrm, as an importer that read a material's
  transparency wrongly leaves it (see _invisible_meshes).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any, Final

import numpy as np
import numpy.typing as npt

from ..rig.humanoid import HUMAN_BONES, VRM0_NAME, mapped_parent
from . import webpack
from .accessors import node_matrix
from .inspect import Glb, VrmLimits, inspect_glb

Matrix = npt.NDArray[np.float64]

HEIGHT_RANGE: Final = (0.5, 2.5)  # metres: the head joint above the feet, for a person-sized avatar
GROUND_TOLERANCE: Final = 0.05  # metres: how far the meshes' lowest point may be from y = 0
# The meshes' height over the skeleton's (lowest to highest humanoid joint): about 1.2 for a person,
# 1.6 for a big-headed chibi; a skeleton left at another scale than its meshes is off by far more.
MESH_OVER_SKELETON: Final = (0.9, 4.0)
# How far outside the meshes' bounds a joint may lie, as a share of the meshes' height.
JOINT_MARGIN: Final = 0.1
_NAMED_AT_MOST: Final = 4
_V1_NAME: Final = {v0: v1 for v1, v0 in VRM0_NAME.items()}  # a VRM 0.x file's thumb names, in VRM 1.0's
# (upper, lower) joints of a standing avatar: the first is above the second.
_UPRIGHT: Final = (
    ("head", "neck"),
    ("neck", "hips"),
    ("hips", "leftLowerLeg"),
    ("hips", "rightLowerLeg"),
    ("leftLowerLeg", "leftFoot"),
    ("rightLowerLeg", "rightFoot"),
)
_MAT4_FLOAT: Final = (5126, "MAT4")
# glTF component types this reads as vertex data (little-endian), and how a normalized one is scaled to 0..1.
_COMPONENT_DTYPES: Final = {5121: "<u1", 5123: "<u2", 5125: "<u4", 5126: "<f4"}
_NORMALIZED_MAX: Final = {5121: 255.0, 5123: 65535.0}
_VECTOR_SIZES: Final = {"VEC3": 3, "VEC4": 4}


@dataclass
class Verification:
    """What a consumer would see of the file; ok when nothing would be wrong."""

    spec_version: str | None = None
    height: float | None = None  # metres: the head joint above the lower foot joint
    mesh_height: float | None = None  # metres: the meshes' bounds, as loaded
    mesh_bottom: float | None = None  # metres: the meshes' lowest point (the ground is y = 0)
    problems: list[str] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        return not self.problems

    def to_json(self) -> dict[str, Any]:
        def metres(value: float | None) -> float | None:
            return None if value is None else round(value, 4)

        return {
            "ok": self.ok,
            "problems": self.problems,
            "spec_version": self.spec_version,
            "height": metres(self.height),
            "mesh_height": metres(self.mesh_height),
            "mesh_bottom": metres(self.mesh_bottom),
            "ms": round(self.seconds * 1000, 2),
        }


def verify_vrm(data: bytes, limits: VrmLimits | None = None) -> Verification:
    """Checks a .vrm's bytes as a consumer would load them; the problems say what it would show wrong."""
    started = time.perf_counter()
    report, glb = inspect_glb(data, limits)
    result = Verification(spec_version=report.spec_version, problems=list(report.problems))
    if glb is not None and webpack.is_compressed(data):
        # A web preset's file: its geometry is checked as a loader with the decoder reads it.
        try:
            _report, glb = inspect_glb(webpack.decoded(data), limits)
        except (webpack.MeshoptMissingError, ValueError, KeyError, IndexError, TypeError) as exc:
            result.problems.append(f"compressed geometry (EXT_meshopt_compression) not read: {str(exc)[:200]}")
            glb = None
    if glb is not None and report.spec_version is not None:
        try:
            _check_scene(glb, report.spec_version, result)
        except (TypeError, ValueError, KeyError, IndexError, AttributeError) as exc:
            # A value of an unexpected type or size deep in the file: a broken file, never a crash.
            result.problems.append(f"malformed node, skin or accessor ({type(exc).__name__}: {str(exc)[:200]})")
    result.seconds = time.perf_counter() - started
    return result


def _list(data: dict[str, Any], key: str) -> list[Any]:
    value = data.get(key)
    return value if isinstance(value, list) else []


@dataclass(frozen=True)
class _Scene:
    world: dict[int, Matrix]  # every node the scene shows -> its world transform
    parent: dict[int, int]  # node -> its parent, for the nodes that have one


def _scene(document: dict[str, Any]) -> _Scene:
    nodes = _list(document, "nodes")
    scenes = _list(document, "scenes")
    scene = scenes[document.get("scene", 0)]
    world: dict[int, Matrix] = {}
    parent: dict[int, int] = {}
    pending: list[tuple[int, Matrix, int | None]] = [(int(n), np.eye(4), None) for n in _list(scene, "nodes")]
    while pending:
        index, above, up = pending.pop()
        if index in world:
            continue  # a node listed twice (or a cycle): a loader shows it once
        world[index] = above @ node_matrix(nodes[index])
        if up is not None:
            parent[index] = up
        pending.extend((int(c), world[index], index) for c in _list(nodes[index], "children"))
    return _Scene(world, parent)


def _humanoid(document: dict[str, Any], spec_version: str) -> dict[str, int]:
    """VRM 1.0 bone name -> node, for the bones mapped to a node (vrm_inspect reports the others)."""
    extensions = document.get("extensions", {})
    if spec_version == "1.0":
        bones = extensions["VRMC_vrm"].get("humanoid", {}).get("humanBones", {})
        pairs = [(name, entry.get("node")) for name, entry in bones.items() if isinstance(entry, dict)]
    else:
        entries = _list(extensions["VRM"].get("humanoid", {}), "humanBones")
        named = [(str(e.get("bone")), e.get("node")) for e in entries if isinstance(e, dict)]
        pairs = [(_V1_NAME.get(name, name), node) for name, node in named]
    return {str(name): node for name, node in pairs if isinstance(node, int) and not isinstance(node, bool)}


def _named(items: list[str]) -> str:
    more = f" (and {len(items) - _NAMED_AT_MOST} more)" if len(items) > _NAMED_AT_MOST else ""
    return ", ".join(items[:_NAMED_AT_MOST]) + more


def _check_chain(bones: dict[str, int], scene: _Scene, result: Verification) -> None:
    """Each bone's node under its VRM parent's node: three-vrm poses a child by posing its parents."""
    mapped = frozenset(bones)
    torn = []
    for bone, node in bones.items():
        up = mapped_parent(bone, mapped) if bone in HUMAN_BONES else None
        if up is None or node not in scene.world:
            continue  # an unknown bone, the root, or one vrm_inspect reports as pointing at no node
        ancestor = scene.parent.get(node)
        while ancestor is not None and ancestor != bones[up]:
            ancestor = scene.parent.get(ancestor)
        if ancestor is None:
            torn.append(f"{bone} (not under {up})")
    if torn:
        result.problems.append(
            f"humanoid bones outside their VRM parent in the node tree: {_named(torn)}; "
            "posing the avatar would tear them off"
        )


def _check_skeleton(joints: dict[str, npt.NDArray[np.float64]], spec_version: str, result: Verification) -> None:
    feet = [joints[f] for f in ("leftFoot", "rightFoot") if f in joints]
    if "head" in joints and feet:
        result.height = float(joints["head"][1] - min(f[1] for f in feet))
        low, high = HEIGHT_RANGE
        if not low <= result.height <= high:
            result.problems.append(
                f"the skeleton's head is {result.height:.3g} m above its feet, not a person's {low:g} to {high:g} m: "
                "three-vrm would show it at that size (an unapplied bone or armature scale?)"
            )
    wrong = [
        f"{upper} (y {joints[upper][1]:.3g}) not above {lower} (y {joints[lower][1]:.3g})"
        for upper, lower in _UPRIGHT
        if upper in joints and lower in joints and joints[upper][1] <= joints[lower][1]
    ]
    if wrong:
        result.problems.append(f"the skeleton does not stand upright: {_named(wrong)}")
    if "leftHand" in joints and "rightHand" in joints:
        left, right = float(joints["leftHand"][0]), float(joints["rightHand"][0])
        if spec_version == "1.0" and left <= right:
            result.problems.append(
                f"the left hand is at x {left:.3g}, the right at x {right:.3g}: VRM 1.0 puts the left hand at +x "
                "(the model facing +z); the avatar would show mirrored or facing backwards"
            )
        elif spec_version != "1.0" and left >= right:
            result.problems.append(
                f"the left hand is at x {left:.3g}, the right at x {right:.3g}: VRM 0.x puts the left hand at -x "
                "(the model facing -z); the avatar would show mirrored or facing backwards"
            )


def _inverse_binds(glb: Glb, skin: dict[str, Any], count: int) -> npt.NDArray[np.float64] | None:
    """A skin's inverse bind matrices (row-major, one per joint); identities without the accessor, None for
    a layout this does not read (sparse or not float)."""
    if "inverseBindMatrices" not in skin:
        return np.broadcast_to(np.eye(4), (count, 4, 4))
    accessor = _list(glb.document, "accessors")[skin["inverseBindMatrices"]]
    if (accessor.get("componentType"), accessor.get("type")) != _MAT4_FLOAT or "sparse" in accessor:
        return None
    view = _list(glb.document, "bufferViews")[accessor["bufferView"]]
    offset = int(view.get("byteOffset", 0)) + int(accessor.get("byteOffset", 0))
    stride = int(view.get("byteStride") or 64)
    values: npt.NDArray[np.float32] = np.ndarray(
        (count, 16), dtype="<f4", buffer=glb.bin, offset=offset, strides=(stride, 4)
    )
    return values.reshape(count, 4, 4).transpose(0, 2, 1).astype(np.float64)


def _box_corners(accessor: dict[str, Any]) -> npt.NDArray[np.float64] | None:
    low, high = accessor.get("min"), accessor.get("max")
    if not (isinstance(low, list) and isinstance(high, list) and len(low) == len(high) == 3):
        return None
    xs, ys, zs = zip(low, high, strict=True)
    return np.array([[x, y, z, 1.0] for x in xs for y in ys for z in zs], dtype=np.float64)


def _mesh_bounds(glb: Glb, scene: _Scene) -> tuple[Matrix, Matrix] | None:
    """The lowest and highest corner of every mesh as a loader places it in its bind pose, or None."""
    document = glb.document
    nodes, meshes = _list(document, "nodes"), _list(document, "meshes")
    accessors, skins = _list(document, "accessors"), _list(document, "skins")
    lows, highs = [], []
    for index, world in scene.world.items():
        node = nodes[index]
        if "mesh" not in node:
            continue
        if "skin" in node:
            skin = skins[node["skin"]]
            joints = [int(j) for j in _list(skin, "joints")]
            binds = _inverse_binds(glb, skin, len(joints))
            if binds is None or not joints or any(j not in scene.world for j in joints):
                continue
            # Each joint's jointWorld · inverseBind: one and the same matrix for a mesh that sits on its
            # skeleton. Each joint places the whole box; the median over joints keeps one odd joint out.
            places = np.stack([scene.world[j] for j in joints]) @ binds
        else:
            places = world[np.newaxis]
        for primitive in _list(meshes[node["mesh"]], "primitives"):
            skinned = _skinned_positions(glb, primitive, places) if "skin" in node else None
            if skinned is not None:
                lows.append(skinned.min(axis=0))
                highs.append(skinned.max(axis=0))
                continue
            position = primitive.get("attributes", {}).get("POSITION")
            corners = _box_corners(accessors[position]) if isinstance(position, int) else None
            if corners is None:
                continue
            placed = corners @ places.transpose(0, 2, 1)  # (joints, 8 corners, 4)
            lows.append(np.median(placed[:, :, :3].min(axis=1), axis=0))
            highs.append(np.median(placed[:, :, :3].max(axis=1), axis=0))
    if not lows:
        return None
    return np.min(lows, axis=0), np.max(highs, axis=0)


def _skinned_positions(
    glb: Glb, primitive: dict[str, Any], places: npt.NDArray[np.float64]
) -> npt.NDArray[np.float64] | None:
    """The primitive's vertices as a loader skins them (`places`: each joint's jointWorld · inverseBind), or
    None for a layout this does not read (then its box is placed as a whole)."""
    attributes = primitive.get("attributes", {})
    positions = _vertex_data(glb, attributes.get("POSITION"), 3)
    if positions is None or not len(positions):
        return None
    rows = places[:, :3].reshape(len(places), 12)  # each joint's placement, its last row (0 0 0 1) left out
    blended = np.zeros((len(positions), 12))  # each vertex's weighted sum of its joints' placements
    sets = 0
    while f"JOINTS_{sets}" in attributes:
        joints = _vertex_data(glb, attributes.get(f"JOINTS_{sets}"), 4, weights=False)
        weights = _vertex_data(glb, attributes.get(f"WEIGHTS_{sets}"), 4)
        if joints is None or weights is None or len(joints) != len(positions) or len(weights) != len(positions):
            return None
        index = joints.astype(np.intp)
        if index.max(initial=0) >= len(places):
            return None
        for k in range(4):
            blended += weights[:, k : k + 1] * rows[index[:, k]]
        sets += 1
    if not sets:
        return None
    matrices = blended.reshape(-1, 3, 4)
    result: npt.NDArray[np.float64] = np.einsum("nij,nj->ni", matrices[:, :, :3], positions) + matrices[:, :, 3]
    return result


def _vertex_data(glb: Glb, accessor_index: Any, size: int, *, weights: bool = True) -> npt.NDArray[np.float64] | None:
    """A vertex attribute's values (count, size), normalized integers scaled to 0..1 when `weights`; None for
    a layout this does not read (sparse, no buffer view, another type)."""
    accessors = _list(glb.document, "accessors")
    if not isinstance(accessor_index, int) or not 0 <= accessor_index < len(accessors):
        return None
    accessor = accessors[accessor_index]
    component = accessor.get("componentType")
    if _VECTOR_SIZES.get(accessor.get("type")) != size or component not in _COMPONENT_DTYPES:
        return None
    if "sparse" in accessor or "bufferView" not in accessor:
        return None
    view = _list(glb.document, "bufferViews")[accessor["bufferView"]]
    dtype = np.dtype(_COMPONENT_DTYPES[component])
    count = int(accessor.get("count", 0))
    offset = int(view.get("byteOffset", 0)) + int(accessor.get("byteOffset", 0))
    stride = int(view.get("byteStride") or dtype.itemsize * size)
    values: npt.NDArray[Any] = np.ndarray(
        (count, size), dtype=dtype, buffer=glb.bin, offset=offset, strides=(stride, dtype.itemsize)
    )
    result: npt.NDArray[np.float64] = values.astype(np.float64)
    if weights and accessor.get("normalized") and component in _NORMALIZED_MAX:
        result /= _NORMALIZED_MAX[component]
    return result


def _check_meshes(glb: Glb, scene: _Scene, joints: dict[str, Matrix], result: Verification) -> None:
    bounds = _mesh_bounds(glb, scene)
    if bounds is None:
        result.problems.append("no mesh to show: the avatar would be invisible")
        return
    low, high = bounds
    result.mesh_bottom, result.mesh_height = float(low[1]), float(high[1] - low[1])
    ankles = [float(joints[f][1]) for f in ("leftFoot", "rightFoot") if f in joints]
    # Below the floor, only a sunk avatar has its ankles too: a trailing cloth or a debug gizmo may reach
    # under y 0 while the feet stand on it.
    sunk = result.mesh_bottom < -GROUND_TOLERANCE and bool(ankles) and min(ankles) < 0.0
    if result.mesh_bottom > GROUND_TOLERANCE or sunk:
        where = "floating above" if result.mesh_bottom > 0 else "sunk into"
        result.problems.append(
            f"the meshes' lowest point is at y {result.mesh_bottom:.3g} m, not on the ground (y 0, within "
            f"{GROUND_TOLERANCE * 100:g} cm): three-vrm would show the avatar {where} the floor"
        )
    if not joints:
        return
    heights = [float(p[1]) for p in joints.values()]
    skeleton = max(heights) - min(heights)
    ratio_low, ratio_high = MESH_OVER_SKELETON
    if not ratio_low * skeleton <= result.mesh_height <= ratio_high * skeleton:
        result.problems.append(
            f"the skeleton is {skeleton:.3g} m tall but its meshes are {result.mesh_height:.3g} m: the file would "
            f"show a skeleton at another scale than its body, and posing would tear the body apart "
            "(an unapplied bone scale, or inverse bind matrices at another scale?)"
        )
        return  # the joints are outside meshes of another size, of course
    margin = JOINT_MARGIN * result.mesh_height
    outside = [bone for bone, p in joints.items() if np.any(p < low - margin) or np.any(p > high + margin)]
    if outside:
        result.problems.append(
            f"humanoid joints outside the meshes they move: {_named(sorted(outside))} "
            f"(meshes from y {low[1]:.3g} to {high[1]:.3g} m): the skeleton and its body are apart"
        )


def _alpha_shown(material: dict[str, Any], v0_properties: Any) -> tuple[str, float, float] | None:
    """(alpha mode, alpha, cutoff) a loader draws the material with: the glTF material's, or for VRM 0.x the
    MToon or Unlit properties that three-vrm puts in its place (keywords or shader name, `_Color`, `_Cutoff`);
    None when the material draws whatever its alpha (OPAQUE)."""
    if isinstance(v0_properties, dict) and (
        v0_properties.get("shader") == "VRM/MToon" or str(v0_properties.get("shader", "")).startswith("VRM/Unlit")
    ):
        shader = str(v0_properties["shader"])
        keywords = v0_properties.get("keywordMap") or {}
        floats = v0_properties.get("floatProperties") or {}
        if shader == "VRM/MToon":
            blend, cut = bool(keywords.get("_ALPHABLEND_ON")), bool(keywords.get("_ALPHATEST_ON"))
        else:
            blend, cut = shader in ("VRM/UnlitTransparent", "VRM/UnlitTransparentZWrite"), shader == "VRM/UnlitCutout"
        mode = "BLEND" if blend else "MASK" if cut else "OPAQUE"
        color = (v0_properties.get("vectorProperties") or {}).get("_Color") or [1.0, 1.0, 1.0, 1.0]
        alpha, cutoff = float(color[3]), float(floats.get("_Cutoff", 0.5))
    else:
        mode = str(material.get("alphaMode", "OPAQUE"))
        factor = material.get("pbrMetallicRoughness", {}).get("baseColorFactor") or [1.0, 1.0, 1.0, 1.0]
        alpha, cutoff = float(factor[3]), float(material.get("alphaCutoff", 0.5))
    return None if mode not in ("BLEND", "MASK") else (mode, alpha, cutoff)


def _invisible_meshes(document: dict[str, Any], scene: _Scene) -> list[str]:
    """The scene's meshes that draw nothing, each with why: every primitive's material fully transparent.

    A fragment's alpha is the material's factor times its base colour texture's and its vertex colour's alpha,
    each at most 1: a texture cannot raise it, so the factor alone decides. MToon (VRM 1.0) takes alpha mode,
    factor and cutoff from the glTF material; three-vrm discards a masked fragment below the cutoff.
    """
    materials, meshes, nodes = _list(document, "materials"), _list(document, "meshes"), _list(document, "nodes")
    v0 = _list(document.get("extensions", {}).get("VRM", {}), "materialProperties")
    found = []
    for index in sorted(scene.world):
        node = nodes[index]
        if "mesh" not in node:
            continue
        mesh = meshes[node["mesh"]]
        reasons = []
        for primitive in _list(mesh, "primitives"):
            number = primitive.get("material")
            if not isinstance(number, int):
                break  # the default material: opaque
            shown = _alpha_shown(materials[number], v0[number] if number < len(v0) else None)
            if shown is None:
                break
            mode, alpha, cutoff = shown
            if (mode == "BLEND" and alpha > 0.0) or (mode == "MASK" and alpha >= cutoff):
                break
            name = materials[number].get("name", number)
            below = "" if mode == "BLEND" else f" below its cutoff {cutoff:g}"
            reasons.append(f"material '{name}' alpha {alpha:g}{below} ({mode})")
        else:
            if reasons:
                found.append(f"'{node.get('name', mesh.get('name', index))}' ({_named(list(dict.fromkeys(reasons)))})")
    return found


def _check_scene(glb: Glb, spec_version: str, result: Verification) -> None:
    scene = _scene(glb.document)
    invisible = _invisible_meshes(glb.document, scene)
    if invisible:
        result.problems.append(
            f"meshes that would draw nothing, every material fully transparent: {_named(invisible)}; "
            "three-vrm would show them invisible (an importer's misread transparency?)"
        )
    bones = _humanoid(glb.document, spec_version)
    _check_chain(bones, scene, result)
    joints = {bone: scene.world[node][:3, 3] for bone, node in bones.items() if node in scene.world}
    _check_skeleton(joints, spec_version, result)
    _check_meshes(glb, scene, joints, result)
