"""The third-party avatars (`../shared/corpus`, credits in its SOURCES.md) through `forge.py convert --fix all`
as a user runs it, all six in one call (the session's `shared_converted`, which test_autorig.py reads too),
each output proven on the real consumers: three-vrm loads it with every required bone in an anatomically
plausible place, a person's size, standing on the ground, every material drawn (none fully transparent);
the Khronos validator finds no error; an imported VRM's author and licence are kept; the inputs are byte for
byte as their authors published them afterwards; every mesh of a glTF, GLB or VRM sits where three.js puts
it in the source file.
"""

from __future__ import annotations

import hashlib
import json
import struct
from pathlib import Path
from typing import Any

import pytest

from addon.core.rig import checks, humanoid
from tests.corpus.conftest import SHARED, shared_sums
from tests.mesh_placement import misplaced, placements
from tests.session_cache import Converted
from tests.test_vrm_export import consumers

pytestmark = pytest.mark.slow  # one convert of six avatars: about a minute

REQUIRED = sorted(humanoid.REQUIRED_VRM1)


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _gltf_json(path: Path) -> dict[str, Any]:
    data = path.read_bytes()
    size = struct.unpack_from("<I", data, 12)[0]
    document: dict[str, Any] = json.loads(data[20 : 20 + size])
    return document


@pytest.fixture(scope="module")
def run(shared_converted: Converted) -> dict[str, Any]:
    inputs = shared_converted.inputs
    models = shared_converted.models()
    files = [Path(m["out"]) for m in models.values() if m["ok"]]
    pairs = [(inputs / name, Path(m["out"])) for name, m in models.items() if m["ok"] and name.endswith(GLTF_SUFFIXES)]
    return {
        "code": shared_converted.run.code,
        "inputs": inputs,
        "models": models,
        "loaded": consumers(files) if files else {},
        "placed": placements(pairs) if pairs else {},
    }


NAMES = sorted(shared_sums())
GLTF_SUFFIXES = (".glb", ".gltf", ".vrm")


def test_every_avatar_is_read(run: dict[str, Any]) -> None:
    assert sorted(run["models"]) == NAMES


@pytest.mark.parametrize("name", NAMES)
def test_each_avatar_converts(run: dict[str, Any], name: str) -> None:
    model = run["models"][name]
    assert model["ok"], model["error"] or [f["id"] for f in model["after"]["findings"] if f["severity"] == "error"]


def test_the_inputs_are_byte_for_byte_as_published(run: dict[str, Any]) -> None:
    sums = shared_sums()
    assert {name: _sha256(SHARED / name) for name in sums} == sums
    assert {name: _sha256(run["inputs"] / name) for name in sums} == sums  # convert only read its copies


@pytest.mark.parametrize("name", NAMES)
def test_three_vrm_loads_a_person_standing_on_the_ground(run: dict[str, Any], name: str) -> None:
    summary = run["loaded"][run["models"][name]["out"]]
    assert "error" not in summary, summary.get("error")
    assert summary["validator"]["errors"] == 0, summary["validator"]["error_messages"]
    # Visible: no material drawn as nothing (Blender's FBX importer left Quaternius' at alpha 0; the fix mends it).
    assert [m["material"] for m in summary["materials"] if not m["draws"]] == []
    assert set(summary["humanBones"]) >= set(REQUIRED)
    y = {bone: p[1] for bone, p in summary["positions"].items()}
    for side in ("left", "right"):
        assert y["hips"] > y[f"{side}LowerLeg"] > y[f"{side}Foot"]
        assert y[f"{side}Hand"] > y[f"{side}Foot"]
    assert y["head"] > y["spine"] >= y["hips"] - 1e-4  # a spine may start where the hips do (Godette's)
    assert summary["leftHand"][0] > 0  # VRM 1.0 faces +z: the character's left is +x
    feet = min(y["leftFoot"], y["rightFoot"])
    low, high = checks.PERSON_SIZE
    # On the ground, a person's size: a chibi or a small robot is `low` tall, its head bone lower still.
    assert -0.05 < feet < 0.3 and low / 2 < y["head"] < high


def test_godettes_author_and_licence_are_kept(run: dict[str, Any]) -> None:
    model = run["models"]["vrm0_godette.vrm"]
    assert run["loaded"][model["out"]]["meta"]["authors"] == ["SirRichard94"]
    meta = _gltf_json(Path(model["out"]))["extensions"]["VRMC_vrm"]["meta"]
    assert meta["authors"] == ["SirRichard94"]
    # CC_BY in VRM 0.x terms, in VRM 1.0's: credit required; use, changes and redistribution allowed.
    assert meta["creditNotation"] == "required" and meta["allowRedistribution"] is True
    assert meta["modification"] == "allowModificationRedistribution" and meta["avatarPermission"] == "everyone"
    assert meta["commercialUsage"] != "personalNonProfit" and meta["name"] == "Low-Poly Godette"


def test_a_robots_feet_and_hands_are_mended(run: dict[str, Any]) -> None:
    model = run["models"]["glb_robot_expressive.glb"]
    fixes = " ".join(model["after"]["fixes"])
    assert "reparented 'FootL' under 'LowerLegL'" in fixes and "'HandL' at the end of 'LowerArmL'" in fixes
    assert [f for f in model["after"]["findings"] if f["severity"] == "error"] == []  # the check passes
    mapping = model["after"]["mapping"]
    assert mapping["leftFoot"] == "FootL" and mapping["leftHand"] == "HandL"
    assert mapping["leftIndexProximal"] == "IndexL" and mapping["leftThumbMetacarpal"] == "ThumbL"


def test_the_robots_file_has_its_mended_bones_and_no_ik_pole_targets(run: dict[str, Any]) -> None:
    model = run["models"]["glb_robot_expressive.glb"]
    bones = run["loaded"][model["out"]]["humanBones"]
    assert bones["leftFoot"] == "FootL" and bones["leftHand"] == "HandL"
    assert bones["leftIndexProximal"] == "IndexL" and bones["leftThumbMetacarpal"] == "ThumbL"
    document = _gltf_json(Path(model["out"]))
    names = [n.get("name", "") for n in document["nodes"]]
    joints = {names[j] for skin in document.get("skins", []) for j in skin["joints"]}
    assert "FootL" in joints and "HandL" in joints
    assert not [n for n in names if n.startswith("PoleTarget")]  # IK pole targets deform and carry nothing


@pytest.mark.parametrize("name", [n for n in NAMES if n.endswith(GLTF_SUFFIXES)])
def test_every_part_sits_where_the_source_puts_it(run: dict[str, Any], name: str) -> None:
    # Blender's glTF importer once hung a robot's ten bone-carried parts off their bones: shoulders inside
    # the head, thighs pointing up, feet floating, while three.js shows the same file whole.
    placement = run["placed"][run["models"][name]["out"]]
    assert misplaced(placement) == {}
    assert placement["nodes"] and placement["only_source"] == []  # every part of the source is there
