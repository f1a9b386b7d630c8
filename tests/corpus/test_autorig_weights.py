"""The auto-rig's weight guarantees, on real bare meshes: each rigged third-party avatar (`../shared/corpus`)
and built-corpus model stripped of its skeleton as tests/corpus/autorig_harness.py does (once per session:
test_autorig.py strips the same avatars), and a never-rigged humanoid built from primitives with separate
eyes, teeth and glasses. After `auto_rig`, on every mesh:

- every vertex follows at most 4 bones, with weights adding up to 1 (none left unweighted);
- nothing bleeds across the body: no vertex on one side of the mid-plane follows a bone of the other side,
  a hand (or finger) never moves the hips' vertices, a thigh never the other leg;
- eyes, teeth and glasses ride rigidly on one bone each (eyes on their eye bones, the rest on the head), and
  posing that bone carries them without bending them;
- hard parts below the neck do too: a knee pad, a shell of the body's own mesh, and an armour plate on the
  forearm, a mesh of its own, stay unbent when the legs, spine and arms are posed.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import bpy
import numpy as np
import pytest

from addon.blender import autorig, avatar_import, context, rig_reader, vrm_addon
from addon.blender.autorig import read
from addon.blender.autorig import weights as bind_weights
from addon.core.autorig import weights as decide
from addon.core.rig.model import FloatArray, IntArray
from addon.core.rig.skinning import segment_distances
from tests.console_lines import fd1_text
from tests.corpus import autorig_harness as harness
from tests.corpus import primitives
from tests.corpus.conftest import stripped

pytestmark = pytest.mark.slow  # each model is stripped, imported and rigged in this process: seconds each

# Built-corpus models (out/corpus) whose meshes are a humanoid's surface, stripped like the artists' avatars.
# (web/mixamo_centimetres.glb and fbx2gltf/chibi.glb, bare, are refused by the placement today: "no left arm
# beside the torso", "no two legs".)
BUILT = ("univrm/apose_centimetres.fbx",)
PRIMITIVE = "primitive humanoid with eyes, teeth, glasses, a knee pad and an armour plate"
# Beyond this distance from the mid-plane (a fraction of the height) a vertex is on one side.
SIDE = 0.02
HANDS = ("Hand", "Thumb", "Index", "Middle", "Ring", "Little")


@dataclass(frozen=True)
class Rigged:
    model: str
    result: autorig.AutoRigResult
    weights: dict[str, FloatArray]  # mesh -> (N, B) over result.bones
    points: dict[str, FloatArray]  # mesh -> (N, 3) in the rig frame
    heads: FloatArray
    tails: FloatArray
    printed: str  # what the auto-rig wrote to stdout


def _bare(model: str, corpus_dir: Path | None, factory: pytest.TempPathFactory) -> Path:
    if model == PRIMITIVE:
        return primitives.write_glb(primitives.padded, factory.mktemp("bare") / "blocky.glb", primitives.hard_parts)
    source = harness.SHARED_CORPUS / model if corpus_dir is None else corpus_dir / model
    if not source.is_file():
        pytest.skip(f"{source} is absent (the third-party corpus: see tests/corpus/SOURCES.md)")
    return stripped(factory, source).bare


@pytest.fixture(scope="module", params=[*harness.ARTISTS, *BUILT, PRIMITIVE])
def rigged(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Rigged:
    model: str = request.param
    vrm_addon.ensure_enabled()
    corpus_dir = request.getfixturevalue("corpus") if model in BUILT else None
    bare = _bare(model, corpus_dir, tmp_path_factory)
    bpy.ops.wm.read_homefile(use_empty=True)
    avatar_import.import_avatar(bare, bare_ok=True)
    with fd1_text() as printed:
        result = autorig.auto_rig()
    armature = bpy.data.objects[result.armature]
    bones = armature.data.bones  # type: ignore[union-attr]
    weights, points = {}, {}
    for binding in result.bindings:
        obj = bpy.data.objects[binding.mesh]
        assert isinstance(obj.data, bpy.types.Mesh)
        weights[binding.mesh] = rig_reader.dense_weights(obj.data, result.bones).astype(np.float64)
        points[binding.mesh] = read.read_part(obj).vertices
    heads = np.array([bones[b].head_local for b in result.bones])  # the armature sits at the origin
    tails = np.array([bones[b].tail_local for b in result.bones])
    return Rigged(model, result, weights, points, heads, tails, printed[0])


def _columns(rigged: Rigged, wanted: tuple[str, ...] | None = None, side: str = "") -> list[int]:
    return [i for i, b in enumerate(rigged.result.bones)
            if (wanted is None or b.split(".")[0].startswith(wanted)) and b.endswith(side)]  # fmt: skip


def test_the_auto_rig_prints_nothing_on_stdout(rigged: Rigged) -> None:
    # The sidebar's and the socket's auto-rig too: bone heat's "Warning: Bone Heat Weighting: failed to find
    # solution for one or more bones" (the Seed-san body) and the voxel proxy's operators print on stdout
    # themselves; the auto-rig holds that back and passes the warnings to stderr, once each.
    assert rigged.printed == ""


def test_every_vertex_follows_at_most_four_bones_with_weights_adding_up_to_one(rigged: Rigged) -> None:
    for mesh, weights in rigged.weights.items():
        total = weights.sum(axis=1)
        assert (total > 0).all(), f"{rigged.model}: {mesh}: {(total == 0).sum()} vertices follow no bone"
        spread = f"{total.min()}..{total.max()}"
        assert np.allclose(total, 1.0, atol=2e-3), f"{rigged.model}: {mesh}: weights add up to {spread}"
        influences = (weights > 0).sum(axis=1)
        assert influences.max() <= 4, f"{rigged.model}: {mesh}: a vertex follows {influences.max()} bones"


def test_no_weight_crosses_the_mid_plane(rigged: Rigged) -> None:
    margin = SIDE * rigged.result.height
    left, right = _columns(rigged, side=".L"), _columns(rigged, side=".R")
    for mesh, weights in rigged.weights.items():
        x = rigged.points[mesh][:, 0]
        assert weights[x > margin][:, right].sum() == 0, f"{rigged.model}: {mesh}: its left follows a right bone"
        assert weights[x < -margin][:, left].sum() == 0, f"{rigged.model}: {mesh}: its right follows a left bone"


def test_a_hand_never_moves_the_hips_nor_a_thigh_the_other_leg(rigged: Rigged) -> None:
    bones = rigged.result.bones
    hands = _columns(rigged, HANDS)
    legs = {s: _columns(rigged, ("UpperLeg", "LowerLeg", "Foot", "Toes"), s) for s in (".L", ".R")}
    thigh = {s: bones.index(f"UpperLeg{s}") for s in (".L", ".R")}
    checked = 0
    for mesh, weights in rigged.weights.items():
        nearest = segment_distances(rigged.points[mesh], rigged.heads, rigged.tails).argmin(axis=1)
        hips = nearest == bones.index("Hips")
        assert weights[hips][:, hands].sum() == 0, f"{rigged.model}: {mesh}: a hand moves the hips"
        for side, other in ((".L", ".R"), (".R", ".L")):
            leg = np.isin(nearest, legs[side])
            crossing = weights[leg][:, thigh[other]].sum()
            assert crossing == 0, f"{rigged.model}: {mesh}: UpperLeg{other} moves the other leg"
            checked += int(leg.sum())
        checked += int(hips.sum())
    assert checked > 0, f"{rigged.model}: no vertex near the hips or legs to check"


def test_a_mesh_keeps_its_own_bone_heat_unless_heat_gave_it_nothing(rigged: Rigged) -> None:
    """A mesh counts as bound by the voxel proxy only when bone heat left all of it bare. Shells heat leaves
    bare (the eyes' and brows' shells in front of Godette's face, straps lying on her body) take the proxy's
    weights, and a shell hanging off the body (her backpack, which saw only the neck) rides on the bone
    nearest its middle, while the rest of the mesh keeps its own bone heat."""
    for binding in rigged.result.bindings:
        if binding.how == "proxy":
            assert binding.heat_unweighted == binding.vertices, f"{rigged.model}: {binding}"


@pytest.mark.parametrize("rigged", [PRIMITIVE], indirect=True)  # the corpus avatars have no separate ones
def test_eyes_teeth_and_glasses_ride_rigidly_on_one_bone(rigged: Rigged) -> None:
    how = {b.mesh: (b.how, b.bone) for b in rigged.result.bindings}
    assert {m: how[m] for m in primitives.FACE_PARTS} == {m: ("rigid", b) for m, b in primitives.FACE_PARTS.items()}
    for mesh, bone in primitives.FACE_PARTS.items():
        weights = rigged.weights[mesh]
        assert (weights[:, rigged.result.bones.index(bone)] == 1.0).all(), f"{mesh}: not wholly on {bone}"
    # Turning the head carries them along unbent: every distance within each part is kept.
    armature = bpy.data.objects[rigged.result.armature]
    head = armature.pose.bones["Head"]  # type: ignore[union-attr]
    head.rotation_mode = "XYZ"
    head.rotation_euler = (math.radians(20), 0.0, math.radians(35))
    depsgraph = bpy.context.evaluated_depsgraph_get()
    depsgraph.update()
    try:
        for mesh in primitives.FACE_PARTS:
            rest = rigged.points[mesh]
            posed_mesh = bpy.data.objects[mesh].evaluated_get(depsgraph).data
            assert isinstance(posed_mesh, bpy.types.Mesh)
            posed = np.empty(len(posed_mesh.vertices) * 3)
            posed_mesh.vertices.foreach_get("co", posed)
            posed = posed.reshape(-1, 3)
            assert np.abs(posed - rest).max() > 0.005, f"{mesh} did not follow the head"
            spans = [np.linalg.norm(p[:, None] - p[None], axis=2) for p in (rest, posed)]
            assert np.allclose(spans[0], spans[1], atol=1e-5), f"{mesh} bent as the head turned"
    finally:
        head.rotation_euler = (0.0, 0.0, 0.0)
        context.view_layer().update()


def _posed(rigged: Rigged, mesh: str, pose: dict[str, tuple[float, float, float]]) -> FloatArray:
    """The mesh's vertices with the bones turned by `pose` (XYZ Euler degrees), the pose cleared after."""
    armature = bpy.data.objects[rigged.result.armature]
    bones = armature.pose.bones  # type: ignore[union-attr]
    for name, angles in pose.items():
        bones[name].rotation_mode = "XYZ"
        bones[name].rotation_euler = tuple(math.radians(a) for a in angles)
    depsgraph = bpy.context.evaluated_depsgraph_get()
    depsgraph.update()
    try:
        posed_mesh = bpy.data.objects[mesh].evaluated_get(depsgraph).data
        assert isinstance(posed_mesh, bpy.types.Mesh)
        posed = np.empty(len(posed_mesh.vertices) * 3)
        posed_mesh.vertices.foreach_get("co", posed)
        return posed.reshape(-1, 3)
    finally:
        for name in pose:
            bones[name].rotation_euler = (0.0, 0.0, 0.0)
        context.view_layer().update()


@pytest.mark.parametrize("rigged", [PRIMITIVE], indirect=True)
def test_hard_parts_below_the_neck_ride_rigidly_on_one_bone(rigged: Rigged) -> None:
    how = {b.mesh: (b.how, b.bone) for b in rigged.result.bindings}
    assert {m: how[m] for m in primitives.HARD_PARTS} == {m: ("rigid", b) for m, b in primitives.HARD_PARTS.items()}
    body = next(b.mesh for b in rigged.result.bindings if b.how != "rigid")
    points = rigged.points[body]
    centre, size = np.array(primitives.PAD_CENTER), np.array(primitives.PAD_SIZE)
    # The pad's vertices: the body's frontmost there, as built (the rig frame moved the feet to z=0 and the
    # mid-plane to x=0, and may have moved the figure along y).
    at = (np.abs(points[:, [0, 2]] - centre[[0, 2]]) <= size[[0, 2]] / 2 + 1e-3).all(axis=1)
    pad = np.nonzero(at & (points[:, 1] <= points[at, 1].min() + size[1] + 1e-3))[0]
    assert len(pad) >= 8, f"the knee pad's vertices are not where it was built: {len(pad)} found"
    followed = rigged.weights[body][pad]
    assert (followed[:, rigged.result.bones.index("LowerLeg.L")] == 1.0).all(), (
        f"the knee pad bends with the skin around it: {followed.max(axis=0)}"
    )
    # Walking, bending a knee, turning and bending an elbow carry both along unbent: every distance within each kept.
    pose = {"UpperLeg.L": (-40.0, 0.0, 0.0), "LowerLeg.L": (60.0, 0.0, 0.0), "UpperLeg.R": (30.0, 0.0, 0.0),
            "Spine": (10.0, 0.0, 20.0), "LowerArm.L": (0.0, 0.0, 60.0)}  # fmt: skip
    parts = [(body, pad), *((m, np.arange(len(rigged.points[m]))) for m in primitives.HARD_PARTS)]
    for mesh, rows in parts:
        rest, posed = rigged.points[mesh][rows], _posed(rigged, mesh, pose)[rows]
        assert np.abs(posed - rest).max() > 0.005, f"{mesh}: the hard part did not follow its bone"
        spans = [np.linalg.norm(p[:, None] - p[None], axis=2) for p in (rest, posed)]
        assert np.allclose(spans[0], spans[1], atol=1e-5), f"{mesh}: the hard part bent as the body moved"


def _tube_with_a_strap_and_a_speck() -> tuple[FloatArray, IntArray, int, int]:
    """A tube of radius 0.1 around the z axis from 0 to 1 (normals outward); a speck of the tube's own shell,
    a fan 0.1 mm across half a millimetre outside it, joined to it by one triangle; and a strap of 4 vertices
    lying on it at radius 0.11: (points, triangles, the speck's first vertex, the strap's first vertex)."""
    around, along = 16, 6
    angle = np.linspace(0.0, 2 * np.pi, around, endpoint=False)
    z = np.linspace(0.0, 1.0, along)
    tube = np.stack([np.tile(0.1 * np.cos(angle), along), np.tile(0.1 * np.sin(angle), along), np.repeat(z, around)], 1)
    faces = []
    for j in range(along - 1):
        for i in range(around):
            a, b = j * around + i, j * around + (i + 1) % around
            faces += [(a, b, b + around), (a, b + around, a + around)]
    middle = np.pi / around  # the middle of the tube's first face, where it lies nearest the axis
    out, side = np.array([np.cos(middle), np.sin(middle), 0.0]), np.array([-np.sin(middle), np.cos(middle), 0.0])
    centre = (0.1 * np.cos(middle) + 0.0005) * out + [0.0, 0.0, 0.5]
    speck = [centre] + [
        centre + 5e-5 * (np.cos(t) * np.array([0.0, 0.0, 1.0]) + np.sin(t) * side) for t in (0, 2.1, 4.2)
    ]
    k = len(tube)
    faces += [(k, k + 1, k + 2), (k, k + 2, k + 3), (k, k + 3, k + 1), (2 * around, k + 2, k + 1)]
    strap = np.array([[0.11 * np.cos(t), 0.11 * np.sin(t), h] for h in (0.45, 0.55) for t in (-0.4, -0.1)])
    s = k + len(speck)
    faces += [(s, s + 1, s + 3), (s, s + 3, s + 2)]
    return np.concatenate([tube, speck, strap]), np.array(faces, dtype=np.int64), k, s


def test_bone_heat_solves_a_mesh_without_what_gives_its_solve_no_equation() -> None:
    """A strap lying on the skin sees its bone only through the skin: bone heat puts no heat into it, its
    linear system is singular there, and the factorisation may fail for the whole mesh (Godette's body with
    the automatic skeleton). A speck of geometry collapsed to a fraction of a millimetre (Seed-san's head)
    has no area in bone heat's Laplacian: where it does not see its bone either, its row is empty and the
    solve always fails. The mesh is solved again without the shells that see no bone, told apart as bone
    heat tests sight, and without the specks' triangles; the strap takes the skin's weights afterwards."""
    bpy.ops.wm.read_homefile(use_empty=True)
    points, faces, speck, strap = _tube_with_a_strap_and_a_speck()
    weld = decide.welded(points, faces, height=1.0)
    heads, tails = np.array([[0.0, 0.0, 0.0]]), np.array([[0.0, 0.0, 1.0]])
    vertices, ends = decide.heat_rays(weld, heads, tails)
    blind = decide.blind(weld, bind_weights._sees(weld.points, weld.faces, vertices, ends), vertices)
    assert blind[weld.index[strap:]].all() and not blind[weld.index[:strap]].any()
    assert decide.flat(weld.points, weld.faces).sum() == 3  # the speck's own triangles, not the one joining it
    armature = bpy.data.armatures.new("Armature")
    rig = bpy.data.objects.new("Armature", armature)
    context.scene().collection.objects.link(rig)
    context.view_layer().objects.active = rig
    bpy.ops.object.mode_set(mode="EDIT")
    bone = armature.edit_bones.new("Bone")
    bone.head, bone.tail = (0.0, 0.0, 0.0), (0.0, 0.0, 1.0)
    bpy.ops.object.mode_set(mode="OBJECT")
    heat = bind_weights.welded_heat({"Tube": weld}, rig, ["Bone"], heads, tails)["Tube"]
    assert (heat[:speck, 0] > 0.5).all(), "the tube lost its bone heat"
