"""plan_rig on meshes as AI generators (Hyper3D Rodin, Tripo, Meshy, TripoSR) and scans hand a body over: one
watertight shell (clothes, hair, eyes and skin fused, fingers fused into mittens), tens of thousands of
triangles, any facing and units, arms down in an A-pose. Made from real avatars' bare meshes
(tests/corpus/generated.py: voxel-remeshed at 0.7% of the height, decimated to 40k triangles), and measured
against where their artists put the joints, as test_real_meshes.py does for the meshes as the artists made
them. The issue's goal per model: over the required bones, the median distance to the artist's joint at most
2% of the height and the worst at most 8%.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

from addon.core.autorig import MeshPart, plan_rig
from addon.core.rig.model import FloatArray
from tests.core.autorig import artists
from tests.core.autorig.figures import turn_z
from tests.core.autorig.rest_dumps import Spec, rest_dumps, stem

pytestmark = pytest.mark.slow  # the module fixture remeshes five avatars with Blender (imported once per session)

ROOT = Path(__file__).resolve().parents[3]
CORPUS = ROOT.parent / "shared" / "corpus"
BUILT = ROOT / "out" / "corpus"
VOXEL, TRIANGLES = 0.007, 40_000  # as tests/corpus/generated.py
# name -> (model, the arms' angle below horizontal the artist's rig lowers them to, or None: as modelled)
MODELS: dict[str, Spec] = {
    "quaternius": (CORPUS / "glb_quaternius_women_casual.glb", None),
    "quaternius A-pose": (CORPUS / "glb_quaternius_women_casual.glb", 45.0),
    "godette": (CORPUS / "vrm0_godette.vrm", None),
    "seedsan": (CORPUS / "fbx_seedsan_univrm.fbx", None),
    "rigify_basic_human": (BUILT / "rigify" / "rigify_basic_human.blend", None),
    "vrm0_expressions": (BUILT / "vrm_addon" / "vrm0_expressions.vrm", None),
}


@pytest.fixture(scope="module")
def fused(tmp_path_factory: pytest.TempPathFactory) -> Path:
    present = [spec for spec in MODELS.values() if spec[0].is_file()]
    if not present:
        pytest.skip(f"no corpus avatars in {CORPUS} or {BUILT}")
    # The meshes as made, dumped once per session (test_real_meshes.py plans on the same dumps).
    dumps = rest_dumps(tmp_path_factory, present)
    script = Path(__file__).with_name("dump_fused.py")
    out = tmp_path_factory.mktemp("autorig-fused")
    return artists.run_dump(script, out, str(VOXEL), str(TRIANGLES), *map(str, dumps.values()))


def _dump(fused: Path, name: str) -> Path:
    spec = MODELS[name]
    if not spec[0].is_file():
        pytest.skip(f"{spec[0]} is absent")
    return fused / f"{stem(spec)}.npz"


def load(fused: Path, name: str) -> tuple[list[MeshPart], artists.Joints]:
    return artists.read_dump(_dump(fused, name))


def offsets(fused: Path, name: str) -> artists.Joints:
    """The model's plan against its artist's joints, planned once for this module's checks of it."""
    return artists.dump_offsets(_dump(fused, name))


# Where the goal is not met yet, and why (the test fails as soon as it is met, so the mark goes).
SHORT: dict[str, str] = {}


def test_a_prop_fused_to_one_side_is_left_out_not_rigged_as_a_limb(fused: Path) -> None:
    """Seed-san's robot arm on her back, fused to her, reaches out past her left hand: read as her left arm,
    that arm's joints lay a third of the height from the right's mirror, and she was refused. Her body is
    read from its own span (her right arm is where the first reading had it): both hands within 2% of the
    height of her artist's, and the plan says the prop was left out (as made, the robot arm is a mesh of its
    own, left out as a prop)."""
    plan = plan_rig(load(fused, "seedsan")[0])
    assert "a prop fused to the body left out: the arms read within the body's own span, as the right arm" in plan.notes
    err = artists.errors(offsets(fused, "seedsan"))  # the plan the test below checks too, made once
    assert err["leftHand"] <= 0.02 and err["rightHand"] <= 0.02, err


@pytest.mark.parametrize(
    "name",
    artists.marked(MODELS, SHORT),
)
def test_a_generator_mesh_rigs_near_the_artists_joints(name: str, fused: Path) -> None:
    artists.assert_meets_goals(artists.errors(offsets(fused, name)))


def test_a_mitten_gets_no_finger_bones(fused: Path) -> None:
    """At 0.7% of the height the remesh fuses the fingers: the hands get no finger bones, rather than fingers
    read from folds."""
    plan = plan_rig(load(fused, "quaternius")[0])
    assert not [b.name for b in plan.bones if "Proximal" in b.name or "Metacarpal" in b.name]
    assert "fingers fused: no finger bones" in plan.notes


def test_a_generator_mesh_turned_and_in_centimetres_rigs_the_same(fused: Path) -> None:
    """Generators hand over any facing and any units: the same mesh turned 130° about the vertical, 100 times
    bigger and moved off the origin gets the same joints in the rig frame (within 0.5% of the height)."""
    parts, artist = load(fused, "quaternius A-pose")
    m = turn_z(130.0, 100.0)
    m[:3, 3] = (3.0, -2.0, 50.0)

    def move(p: FloatArray) -> FloatArray:
        return np.asarray(p @ m[:3, :3].T + m[:3, 3], dtype=np.float64)

    turned = [MeshPart(p.name, move(p.vertices), p.triangles) for p in parts]
    before = {b.name: np.array(b.head) for b in plan_rig(parts).bones}
    plan = plan_rig(turned)
    after = {b.name: np.array(b.head) for b in plan.bones}
    assert before.keys() == after.keys()
    moved = {k: float(np.linalg.norm(after[k] - before[k])) / plan.height for k in before}
    assert max(moved.values()) <= 0.005, {k: f"{v:.2%}" for k, v in moved.items() if v > 0.005}
    assert any(note.startswith("scaled ×0.01") for note in plan.notes), plan.notes
    # And still near the artist's joints, turned and scaled with it.
    err = artists.joint_errors(turned, {k: move(v) for k, v in artist.items()})
    assert np.median(list(err.values())) <= 0.02 and max(err.values()) <= 0.08, err
    assert math.isclose(plan.height, plan_rig(parts).height, rel_tol=1e-6)


@pytest.mark.parametrize("name", list(MODELS))
def test_what_is_fused_on_the_back_does_not_pull_the_spine_behind_the_body(name: str, fused: Path) -> None:
    """Front to back, the spine, neck, head and the thighs' joints lie within 3% of the height of the artist's:
    hair, a backpack or a hood fused on behind the body (one loop with it in every cut) is not read as the
    body's depth (before: Godette's spine 5.0% and head 5.1% behind)."""
    depth = {bone: float(d[1]) for bone, d in offsets(fused, name).items()}
    far = {
        bone: f"{v:+.1%}"
        for bone, v in depth.items()
        if bone in {"spine", "neck", "head", "leftUpperLeg", "rightUpperLeg"} and abs(v) > 0.03
    }
    assert not far, far
