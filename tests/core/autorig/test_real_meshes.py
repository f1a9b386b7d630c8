"""plan_rig on real avatars' bare meshes against where their artists put the joints.

A session fixture imports each avatar with Blender (in a subprocess, so this process stays free of bpy),
dumps its meshes in their rest shape, in world coordinates, and the artist's joint of each VRM humanoid bone
(rest_dumps.py: once per session, test_generated_meshes.py fuses the same dumps); the tests hand only the
meshes to plan_rig. The issue's goal per model: over the required bones, the median
distance to the artist's joint at most 2% of the height and the worst at most 8%.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.core.autorig import artists
from tests.core.autorig.artists import Joints
from tests.core.autorig.rest_dumps import Spec, rest_dumps

pytestmark = pytest.mark.slow  # the session fixture imports fourteen avatars with Blender, about a minute

ROOT = Path(__file__).resolve().parents[3]
CORPUS = ROOT.parent / "shared" / "corpus"
BUILT = ROOT / "out" / "corpus"
MODELS = {
    "glb_quaternius_women_casual": CORPUS / "glb_quaternius_women_casual.glb",
    "fbx_quaternius_female_casual": CORPUS / "fbx_quaternius_female_casual.fbx",
    "fbx_seedsan_univrm": CORPUS / "fbx_seedsan_univrm.fbx",
    "vrm0_godette": CORPUS / "vrm0_godette.vrm",
    "apose_centimetres": BUILT / "univrm" / "apose_centimetres.fbx",
    "classic_names": BUILT / "blender_fbx" / "classic_names.fbx",
    "ik_game_character": BUILT / "fbx2gltf" / "ik_game_character.glb",
    "visemes": BUILT / "vrchat" / "visemes.fbx",
    "rigify_basic_human": BUILT / "rigify" / "rigify_basic_human.blend",
    "chibi": BUILT / "fbx2gltf" / "chibi.glb",
    "basic_humanoid": BUILT / "vrm_addon" / "basic_humanoid.blend",
    "vrm0_expressions": BUILT / "vrm_addon" / "vrm0_expressions.vrm",
    "mixamo_centimetres": BUILT / "web" / "mixamo_centimetres.glb",
    "rpm_centimetre_joint": BUILT / "web" / "rpm_centimetre_joint.glb",
}


@pytest.fixture(scope="session")
def dumps(tmp_path_factory: pytest.TempPathFactory) -> dict[Spec, Path]:
    present: list[Spec] = [(path, None) for path in MODELS.values() if path.is_file()]
    if not present:
        pytest.skip(f"no corpus avatars in {CORPUS} or {BUILT}")
    return rest_dumps(tmp_path_factory, present)


def offsets(name: str, dumps: dict[Spec, Path]) -> Joints:
    """The model's plan against its artist's joints, planned once for this module's three checks."""
    if not MODELS[name].is_file():
        pytest.skip(f"{MODELS[name]} is absent")
    return artists.dump_offsets(dumps[MODELS[name], None])


def joint_errors(name: str, dumps: dict[Spec, Path]) -> dict[str, float]:
    return artists.errors(offsets(name, dumps))


# Where the goal is not met yet, and why (the test fails as soon as it is met, so the mark goes).
SHORT = {
    "fbx_quaternius_female_casual": "the artist's hips and spine sit at the thighs' joints, 4-6% of the height "
    "from ours (the hips 4.6% further back)",
}


@pytest.mark.parametrize(
    "name",
    artists.marked(MODELS, SHORT),
)
def test_joints_are_near_the_artists(name: str, dumps: dict[Spec, Path]) -> None:
    artists.assert_meets_goals(joint_errors(name, dumps))


@pytest.mark.parametrize("name", list(MODELS))
def test_the_front_and_sides_are_the_artists(name: str, dumps: dict[Spec, Path]) -> None:
    """Left is the artist's left, and no joint is off by a whole limb (the worst within 12% of the height)."""
    err = joint_errors(name, dumps)
    assert max(err.values()) <= 0.12, {k: f"{v:.1%}" for k, v in err.items()}


@pytest.mark.parametrize("name", list(MODELS))
def test_the_spine_and_thighs_are_as_deep_in_the_body_as_the_artists(name: str, dumps: dict[Spec, Path]) -> None:
    """Front to back, the spine, neck, head and the thighs' joints lie within 2% of the height of the artist's:
    what hangs off the back (a backpack, a robot arm's mount) or beside a leg (a strap) does not pull them
    behind the body, nor the chin and the mouth's inside the head's joint to the front. (The hips are left
    out: artists put them up to 4.5% apart in depth from the thighs' joints.)"""
    depth = {bone: float(d[1]) for bone, d in offsets(name, dumps).items()}
    far = {
        bone: f"{v:+.1%}"
        for bone, v in depth.items()
        if bone in {"spine", "neck", "head", "leftUpperLeg", "rightUpperLeg"} and abs(v) > 0.02
    }
    assert not far, far


REAL = ["glb_quaternius_women_casual", "fbx_quaternius_female_casual", "fbx_seedsan_univrm", "vrm0_godette"]


def test_the_wrists_sit_at_the_hands_roots_as_artists_put_them(dumps: dict[Spec, Path]) -> None:
    """On the avatars artists made, the hand's joint lies past the forearm's narrowest cut, where the hand begins
    to widen: within 1.8% of the height of the artist's (both hands' mean: the artists' own left and right
    differ by up to 1.3%) on each, 1% on average; at the narrowest cut they were 1.5%, 0.9%, 0.3% and 2.0% off
    (1.2% on average), toward the elbow."""
    hands = {name: joint_errors(name, dumps) for name in REAL}
    err = {name: (e["leftHand"] + e["rightHand"]) / 2 for name, e in hands.items()}
    report = {k: f"{v:.2%}" for k, v in err.items()}
    assert max(err.values()) <= 0.018, report
    assert sum(err.values()) / len(err) <= 0.01, report
