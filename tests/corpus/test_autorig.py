"""The auto-rig measured against the artists (tests/corpus/autorig_harness.py), as a user runs it: each rigged
third-party humanoid loses its skeleton, the bare mesh goes through `forge.py convert --rig auto --fix all`,
and three-vrm compares its joints with the artist's skeleton placed on the same bare mesh and converted the
same way, its posed surface with the artist's rig. (test_autorig_primitives.py rigs humanoids built here.)
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from addon.blender import vrm_addon
from addon.core.autorig import rigid
from addon.core.presets import get_preset
from addon.core.vrm import accessors, glb, webpack
from tests import thumbnails
from tests.conftest import run_forge
from tests.console_lines import chatter
from tests.corpus import autorig_harness as harness
from tests.corpus.conftest import SHARED_PRESET
from tests.corpus.conftest import stripped as strip_once
from tests.session_cache import Converted
from tests.test_vrm_export import consumers

pytestmark = pytest.mark.slow  # each model is stripped, converted twice and loaded in node: tens of seconds

PRESET = SHARED_PRESET  # the artists' own rigs are converted with it once per session (tests/corpus/conftest.py)
# The goals, as fractions of the avatar's height.
GOALS = {"joint_median": 0.02, "joint_worst": 0.08, "surface": 0.01}
# Goals a model does not meet yet, and why (bench/bench_autorig.py has the figures). Each is reported as an
# expected failure, and fails the test the day the model meets it, so this list only ever shrinks.
PLACEMENT = (
    "the automatic placement (addon/core/autorig) is off the artist's joints where artists disagree and no "
    "geometry tells which: hips at the thighs' joints or at the waist (up to 10% of the height apart), upper "
    "arms at 0.66 or 1.33 of the chest's half width, knees at 0.47 or 0.61 of the leg, foot joints at the sole "
    "or the ankle; any one of those pairs at the artist's would meet the median (docs/auto-rig-accuracy.md)"
)
# The surface's share that is not placement: the artist's own skeleton placed on the bare mesh and converted
# like the auto-rig (the reference) already differs from the artist's rig by this much after the test pose.
PROXY = "; with the artist's own skeleton placed the surface is already {}% off: {}"
SHORT: dict[tuple[str, str], str] = {
    ("vrm0_godette.vrm", "surface"): PLACEMENT
    + PROXY.format(
        0.6,
        "its skirt and sleeves on bone heat (0.4%), and the artist's file keeps its knees 2.4 cm in front of "
        "the line from hip to ankle where the VRM 1.0 T-pose straightens the legs seen from the side, so the "
        "test pose bends them from other rests; the rest is the placement's, nearly all the upper arms' (3.8% "
        "off: with the artist's upper arms placed the surface is 0.84%)",
    ),
}


def _meets(name: str, found: dict[str, Any], goal: str) -> None:
    value, limit = found[goal], GOALS[goal]
    short = SHORT.get((name, goal))
    if short is None:
        assert value <= limit, f"{name}: {goal} {value:.4f} > {limit} ({found['joints']})"
    elif value <= limit:
        pytest.fail(f"{name} now meets {goal} ({value:.4f} <= {limit}): take it off SHORT")
    else:
        pytest.xfail(f"{name}: {goal} {value:.4f} > {limit}: {short}")


@pytest.fixture(scope="module", params=[*harness.ARTISTS, *harness.ROBOTS])
def measured(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """One artist's avatar stripped, auto-rigged and converted, beside the artist's own rig converted and the
    artist's skeleton placed on the bare mesh and converted like the auto-rig (the joints' reference)."""
    name = request.param
    if not harness.SHARED_CORPUS.is_dir():
        pytest.skip(f"the third-party corpus is not at {harness.SHARED_CORPUS} (see tests/corpus/SOURCES.md)")
    vrm_addon.ensure_enabled()
    folder = tmp_path_factory.mktemp(Path(name).stem)
    stripped = strip_once(tmp_path_factory, harness.SHARED_CORPUS / name)
    auto, reference = folder / "auto.vrm", folder / "reference.vrm"
    oracle = harness.oracle_convert(stripped, reference, get_preset(PRESET))
    assert oracle["ok"], oracle["error"]
    rigged = run_forge("convert", stripped.bare, "--out", auto, "--preset", PRESET, "--fix", "all", "--rig", "auto",
                       "--json", timeout=900)  # fmt: skip
    # The artist's own rig, converted with PRESET and --fix all once per session (test_shared_corpus.py checks
    # the same files); asked for last, so another worker converting them meanwhile is not waited for.
    converted: Converted = request.getfixturevalue("shared_converted")
    done = converted.models()[name]
    assert done["ok"], done["error"]
    artist = Path(done["out"])
    found = harness.compare(auto, artist, reference) if rigged.code == 0 else None
    return {"name": name, "rigged": rigged, "auto": auto, "artist": artist, "found": found}


def test_the_auto_rig_says_only_blenders_warnings_each_once(measured: dict[str, Any]) -> None:
    # Bone heat fails on some of these bodies (the auto-rig falls back to its proxy): Blender's "Warning: Bone
    # Heat Weighting: failed to find solution for one or more bones" reaches stderr once, however often a solve
    # failed; the importer's and exporters' INFO lines not at all.
    said = [line for line in measured["rigged"].stderr.splitlines() if line.strip()]
    assert chatter(measured["rigged"].stderr) == [], said
    assert [line for line in said if said.count(line) > 1] == [], said


def test_every_bare_artist_mesh_rigs_into_a_vrm_three_vrm_loads(measured: dict[str, Any]) -> None:
    assert measured["rigged"].code == 0, measured["rigged"].stdout + measured["rigged"].stderr[-2000:]
    summary = consumers([measured["auto"]])[str(measured["auto"])]
    assert "error" not in summary, summary.get("error")
    assert summary["validator"]["errors"] == 0, summary["validator"]
    at = {bone: p[1] for bone, p in summary["positions"].items()}  # three-vrm: y up
    for side in ("left", "right"):  # plausible anatomy: no leg bone of no length
        assert at["head"] > at["hips"] > at[f"{side}UpperLeg"] > at[f"{side}LowerLeg"] > at[f"{side}Foot"], at


def test_the_rendered_thumbnails_frame_the_avatar(measured: dict[str, Any]) -> None:
    """The thumbnail convert renders (a VRM brings its author's, kept as it is) shows the converted avatar
    whole and in the middle: the frame follows the posed meshes, not their rest shape's boxes."""
    assert measured["rigged"].code == 0, measured["rigged"].stdout + measured["rigged"].stderr[-2000:]
    rendered = [measured["auto"]] + ([] if measured["name"].endswith(".vrm") else [measured["artist"]])
    for vrm in rendered:
        thumbnails.assert_shows_the_avatar(thumbnails.thumbnail_pixels(vrm))


@pytest.mark.parametrize("goal", ["joint_median", "joint_worst", "surface"])
def test_the_rig_is_the_artists(measured: dict[str, Any], goal: str) -> None:
    """Joints within 2% of the height (median) and 8% (worst) of the artist's, and after one test pose the
    surface within 1% of the height of where the artist's rig puts it."""
    assert measured["found"] is not None, measured["rigged"].stdout
    _meets(measured["name"], measured["found"], goal)


def _pieces_and_joints(vrm: Path) -> list[tuple[set[int], float]]:
    """Per separate piece of each skinned primitive of the file (triangles joined where they share a place): the
    joints any of its vertices has weight on, and the least share of a vertex's weight on its main joint."""
    document, binary = glb.read(webpack.decoded(vrm.read_bytes()))
    out = []
    for mesh in document["meshes"]:
        for primitive in mesh["primitives"]:
            attributes = primitive["attributes"]
            if "WEIGHTS_0" not in attributes:
                continue
            weights = accessors.accessor_array(document, binary, attributes["WEIGHTS_0"]).astype(np.float64)
            joints = accessors.accessor_array(document, binary, attributes["JOINTS_0"])
            points = accessors.accessor_array(document, binary, attributes["POSITION"]).astype(np.float64)
            triangles = accessors.accessor_array(document, binary, primitive["indices"]).reshape(-1, 3).astype(np.int64)
            share = weights.max(axis=1) / weights.sum(axis=1)
            labels = rigid.pieces(points, triangles)
            out += [
                (
                    {int(j) for j in joints[labels == root][weights[labels == root] > 0]},
                    float(share[labels == root].min()),
                )
                for root in np.unique(labels)
            ]
    return out


@pytest.mark.parametrize("measured", harness.ROBOTS, indirect=True)
def test_each_rigid_part_of_a_robot_moves_wholly_with_one_bone(measured: dict[str, Any]) -> None:
    """In the robot's VRM, every separate piece of every mesh follows one joint with all its weight, but a part
    moulded across a joint (RobotExpressive's forearm-and-fist parts, the wrist inside them), which bends there
    between the two joints: no rigid part is stretched across two bones."""
    assert measured["rigged"].code == 0, measured["rigged"].stdout + measured["rigged"].stderr[-2000:]
    rig = measured["rigged"].json()["models"][0]["rig"]
    assert {p["how"] for p in rig["parts"]} <= {"shells", "rigid"}, rig["parts"]
    pieces = _pieces_and_joints(measured["auto"])
    whole = [joints for joints, share in pieces if len(joints) == 1 and share > 0.999]
    bent = [joints for joints, _ in pieces if len(joints) == 2]
    assert len(whole) >= 20 and len(whole) + len(bent) == len(pieces), pieces
    assert 2 <= len(bent) <= 4, bent  # the fists (and the soles, across the toes' joints)


def _bones_of_parts(vrm: Path) -> dict[str, set[str]]:
    """Per skinned mesh object of the file (by its node's name), the bones its vertices' main weights are on."""
    document, binary = glb.read(webpack.decoded(vrm.read_bytes()))
    nodes = document["nodes"]
    out: dict[str, set[str]] = {}
    for node in (n for n in nodes if "mesh" in n and "skin" in n):
        joints = document["skins"][node["skin"]]["joints"]
        for primitive in document["meshes"][node["mesh"]]["primitives"]:
            weights = accessors.accessor_array(document, binary, primitive["attributes"]["WEIGHTS_0"])
            index = accessors.accessor_array(document, binary, primitive["attributes"]["JOINTS_0"])
            main = index[np.arange(len(index)), weights.argmax(axis=1)]
            out.setdefault(node["name"], set()).update(nodes[joints[int(j)]]["name"] for j in np.unique(main))
    return out


@pytest.mark.parametrize("measured", harness.ROBOTS, indirect=True)
def test_a_robot_faces_its_front_with_its_left_on_the_artists_left(measured: dict[str, Any]) -> None:
    """No robot is rigged facing backwards: each part the artist named for a side (`Hand.L`, `ArmL`,
    `LowerLegR_1`) follows a bone of that side or the middle, never the other side's (a robot rigged facing
    backwards, its left and right swapped, has them all on the other side). The debug robot has no
    feet nor face (axis markers) and is refused (below); a body like it that is rigged faces the file's front
    and says so (tests/core/autorig/test_place.py); RobotExpressive's feet and face show it."""
    assert measured["rigged"].code == 0, measured["rigged"].stdout + measured["rigged"].stderr[-2000:]
    notes = measured["rigged"].json()["models"][0]["rig"]["notes"]
    sided = {}
    for name, bones in _bones_of_parts(measured["auto"]).items():
        side = re.search(r"\.?([LR])(_\d+)?(_mesh)?$", name)  # the export names a bone's namesake `_mesh`
        if side is not None:
            sided[name] = bones
            other = ".R" if side.group(1) == "L" else ".L"
            assert not any(bone.endswith(other) for bone in bones), (name, bones)
    assert len(sided) >= 10, sided
    assert any(note.startswith("front: −Y found from") for note in notes), notes


@pytest.mark.parametrize("name", list(harness.REFUSED))
def test_a_bare_mesh_no_cut_reads_as_limbs_is_refused_with_its_reason(
    name: str, tmp_path_factory: pytest.TempPathFactory, tmp_path: Path
) -> None:
    """Rather than a skeleton 12-18% of the height off its parts (the debug robot before), a body whose left
    and right do not mirror is refused: one line with the reason, exit 1, nothing written, the input as it was."""
    if not harness.SHARED_CORPUS.is_dir():
        pytest.skip(f"the third-party corpus is not at {harness.SHARED_CORPUS} (see tests/corpus/SOURCES.md)")
    bare = strip_once(tmp_path_factory, harness.SHARED_CORPUS / name).bare
    before = bare.read_bytes()
    out = tmp_path / "auto.vrm"
    done = run_forge("convert", bare, "--out", out, "--preset", PRESET, "--fix", "all", "--rig", "auto")
    assert done.code == 1, done.stdout + done.stderr[-2000:]
    failed = [line for line in (done.stdout + done.stderr).splitlines() if line.startswith("FAILED")]
    assert len(failed) == 1 and harness.REFUSED[name] in failed[0], done.stdout + done.stderr[-2000:]
    assert not out.exists() and bare.read_bytes() == before
