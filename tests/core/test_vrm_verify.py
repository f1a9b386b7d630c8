"""The export's read-back verification, on real files: real exports and third-party VRMs pass; the same
files altered the way a broken export would leave them (what three-vrm would show wrong) are refused, each
with its reason."""

from __future__ import annotations

import json
import struct
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import pytest

from addon.core.vrm.verify import verify_vrm
from tests import session_cache
from tests.conftest import ROOT

SHARED_CORPUS = ROOT.parent / "shared" / "corpus"
THIRD_PARTY = ("vrm0_godette.vrm", "vrm1_debug_robot.vrm")

Document = dict[str, Any]


def _shared(name: str) -> bytes:
    path = SHARED_CORPUS / name
    if not path.is_file():
        pytest.skip(f"the third-party corpus is not at {SHARED_CORPUS} (see tests/corpus/SOURCES.md)")
    return path.read_bytes()


def _export(blend: Path, factory: pytest.TempPathFactory, preset: str) -> bytes:
    out, done = session_cache.demo_export(factory, blend, preset)
    assert done.code == 0, done.stderr
    return out.read_bytes()


@pytest.fixture(scope="module")
def demo_vrm1(demo_blend: Path, tmp_path_factory: pytest.TempPathFactory) -> bytes:
    """The demo avatar exported by `forge.py export` with companions-web-uncompressed: the tests below
    alter its bytes where they lie."""
    return _export(demo_blend, tmp_path_factory, "companions-web-uncompressed")


@pytest.fixture(scope="module")
def demo_web(demo_blend: Path, tmp_path_factory: pytest.TempPathFactory) -> bytes:
    """The same with companions-web: geometry quantized and meshopt-compressed."""
    return _export(demo_blend, tmp_path_factory, "companions-web")


def _split(data: bytes) -> tuple[Document, bytearray]:
    json_length = struct.unpack_from("<I", data, 12)[0]
    document = json.loads(data[20 : 20 + json_length])
    return document, bytearray(data[20 + json_length + 8 :])


def _join(document: Document, binary: bytearray) -> bytes:
    text = json.dumps(document).encode()
    text += b" " * (-len(text) % 4)
    total = 12 + 8 + len(text) + 8 + len(binary)
    return (
        struct.pack("<4sII", b"glTF", 2, total)
        + struct.pack("<II", len(text), 0x4E4F534A)
        + text
        + struct.pack("<II", len(binary), 0x004E4942)
        + bytes(binary)
    )


def altered(data: bytes, change: Callable[[Document, bytearray], None]) -> bytes:
    """`data` (a GLB) with its JSON and BIN changed in place by `change`."""
    document, binary = _split(data)
    change(document, binary)
    return _join(document, binary)


def _roots(document: Document) -> list[Document]:
    return [document["nodes"][n] for n in document["scenes"][document.get("scene", 0)]["nodes"]]


def _bone_node(document: Document, bone: str) -> int:
    return int(document["extensions"]["VRMC_vrm"]["humanoid"]["humanBones"][bone]["node"])


def scale_roots(factor: tuple[float, float, float]) -> Callable[[Document, bytearray], None]:
    def change(document: Document, _binary: bytearray) -> None:
        for node in _roots(document):
            node["scale"] = [s * f for s, f in zip(node.get("scale", [1, 1, 1]), factor, strict=True)]
            node["translation"] = [t * f for t, f in zip(node.get("translation", [0, 0, 0]), factor, strict=True)]

    return change


def lift_roots(document: Document, _binary: bytearray) -> None:
    for node in _roots(document):
        x, y, z = node.get("translation", [0, 0, 0])
        node["translation"] = [x, y + 1.0, z]


def unparent_left_leg(document: Document, _binary: bytearray) -> None:
    """The left thigh moved out of the hips to the scene's root."""
    leg = _bone_node(document, "leftUpperLeg")
    for node in document["nodes"]:
        if leg in node.get("children", []):
            node["children"].remove(leg)
    document["scenes"][document.get("scene", 0)]["nodes"].append(leg)


def unmap_left_foot(document: Document, _binary: bytearray) -> None:
    del document["extensions"]["VRMC_vrm"]["humanoid"]["humanBones"]["leftFoot"]


def _scaling(factor: float, about: list[float]) -> npt.NDArray[np.float64]:
    """A uniform scale by `factor` about the point `about`."""
    matrix = np.diag([factor, factor, factor, 1.0])
    matrix[:3, 3] = np.array(about) * (1.0 - factor)
    return matrix


def bind_after(transform: npt.NDArray[np.float64]) -> Callable[[Document, bytearray], None]:
    """Every skin's inverse bind matrices followed by `transform` of the mesh: IBM · transform."""

    def change(document: Document, binary: bytearray) -> None:
        for skin in document["skins"]:
            accessor = document["accessors"][skin["inverseBindMatrices"]]
            view = document["bufferViews"][accessor["bufferView"]]
            offset = view.get("byteOffset", 0) + accessor.get("byteOffset", 0)
            count = accessor["count"]
            # Stored column-major: read row-major, each is the transpose, and (IBM · T)^T = T^T · IBM^T.
            stored = np.frombuffer(binary, "<f4", count * 16, offset).reshape(count, 4, 4)
            binary[offset : offset + count * 64] = (transform.T @ stored).astype("<f4").tobytes()

    return change


def test_real_exports_and_third_party_vrms_pass(demo_vrm1, demo_web):
    for name, data in [("demo", demo_vrm1), ("demo, compressed", demo_web), *((n, _shared(n)) for n in THIRD_PARTY)]:
        verification = verify_vrm(data)
        assert verification.problems == [], name
        assert verification.height is not None and 0.5 < verification.height < 2.5, name
    demo = verify_vrm(demo_vrm1)
    assert demo.mesh_height == pytest.approx(1.73, abs=0.05) and demo.mesh_bottom == pytest.approx(0, abs=0.01)
    # The compressed file is measured on its decoded geometry: the same avatar within a tenth of a millimetre.
    web = verify_vrm(demo_web)
    assert web.mesh_height == pytest.approx(demo.mesh_height, abs=1e-4)
    assert web.mesh_bottom == pytest.approx(demo.mesh_bottom, abs=1e-4)


def _problems(data: bytes) -> str:
    verification = verify_vrm(data)
    assert not verification.ok
    assert all("\n" not in p for p in verification.problems)
    return "\n".join(verification.problems)


def test_a_skeleton_scaled_down_to_centimetres_is_refused(demo_vrm1):
    problems = _problems(altered(demo_vrm1, scale_roots((0.01, 0.01, 0.01))))
    assert "the skeleton's head is 0.0142 m above its feet, not a person's 0.5 to 2.5 m" in problems


def test_issue_22s_tiny_skeleton_inside_full_size_meshes_is_refused(demo_vrm1):
    """The file the issue found: the skeleton shrunk 100 times about the hips (1.5 cm tall, floating at hip
    height), its inverse binds made to match, so that the meshes still show 1.7 m tall on the ground."""

    def change(document: Document, binary: bytearray) -> None:
        hips = document["nodes"][_bone_node(document, "hips")]
        assert hips in _roots(document), "the demo's hips are a root of the scene: its transform is the world's"
        hips["scale"] = [0.01, 0.01, 0.01]
        bind_after(_scaling(100.0, hips["translation"]))(document, binary)

    altered_file = altered(demo_vrm1, change)
    problems = _problems(altered_file)
    assert "the skeleton's head is 0.0142 m above its feet" in problems
    assert "the skeleton is 0.0158 m tall but its meshes are 1.72 m" in problems
    verification = verify_vrm(altered_file)
    # The body is where it was: as in the unaltered file (the written T-pose lifts the demo's soles 3 mm).
    assert verification.mesh_bottom == pytest.approx(verify_vrm(demo_vrm1).mesh_bottom, abs=0.001)


def test_an_avatar_a_metre_above_the_floor_is_refused(demo_vrm1):
    problems = _problems(altered(demo_vrm1, lift_roots))
    assert "the meshes' lowest point is at y 1 m, not on the ground" in problems
    assert "floating above the floor" in problems


def test_an_avatar_mirrored_in_x_is_refused(demo_vrm1):
    problems = _problems(altered(demo_vrm1, scale_roots((-1.0, 1.0, 1.0))))
    assert "VRM 1.0 puts the left hand at +x" in problems


def test_a_vrm0_avatar_mirrored_in_x_is_refused():
    problems = _problems(altered(_shared("vrm0_godette.vrm"), scale_roots((-1.0, 1.0, 1.0))))
    assert "VRM 0.x puts the left hand at -x" in problems


def test_a_leg_outside_the_hips_is_refused(demo_vrm1):
    problems = _problems(altered(demo_vrm1, unparent_left_leg))
    assert "humanoid bones outside their VRM parent in the node tree: leftUpperLeg (not under hips)" in problems


def test_a_required_bone_without_its_mapping_is_refused(demo_vrm1):
    problems = _problems(altered(demo_vrm1, unmap_left_foot))
    assert "required humanoid bones not mapped: leftFoot" in problems


def test_inverse_binds_at_another_scale_are_refused(demo_vrm1):
    problems = _problems(altered(demo_vrm1, bind_after(_scaling(100.0, [0.0, 0.0, 0.0]))))
    assert "the skeleton is 1.58 m tall but its meshes are 172 m" in problems


def test_an_upside_down_avatar_is_refused():
    problems = _problems(altered(_shared("vrm1_debug_robot.vrm"), scale_roots((1.0, -1.0, -1.0))))
    assert "the skeleton does not stand upright" in problems


def test_verification_json_names_what_it_measured(demo_vrm1):
    data = verify_vrm(demo_vrm1).to_json()
    assert data["ok"] is True and data["problems"] == [] and data["spec_version"] == "1.0"
    assert data["height"] == pytest.approx(1.415, abs=0.01) and data["ms"] >= 0


def test_a_malformed_file_is_refused_with_a_reason_never_a_crash(demo_vrm1):
    truncated = verify_vrm(demo_vrm1[:1000]).problems
    assert truncated == [f"GLB header says {len(demo_vrm1)} bytes, file has 1000 (truncated or padded)"]

    def bad_node(document: Document, _binary: bytearray) -> None:
        document["nodes"][_bone_node(document, "head")]["translation"] = ["up", 0, 0]

    problems = _problems(altered(demo_vrm1, bad_node))
    assert problems.startswith("malformed node, skin or accessor (ValueError")


def fully_transparent(document: Document, _binary: bytearray) -> None:
    """Every material as Blender's FBX importer leaves a file whose transparency it misreads: alpha 0, masked."""
    for material in document["materials"]:
        material.setdefault("pbrMetallicRoughness", {})["baseColorFactor"] = [0.8, 0.8, 0.8, 0.0]
        material["alphaMode"] = "MASK"


def test_meshes_whose_every_material_is_fully_transparent_are_refused(demo_vrm1):
    problems = _problems(altered(demo_vrm1, fully_transparent))
    named = "meshes that would draw nothing, every material fully transparent: 'AvatarBody' (material 'AvatarMaterial'"
    assert f"{named} alpha 0 below its cutoff 0.5 (MASK))" in problems

    def blended_to_nothing(document: Document, binary: bytearray) -> None:
        fully_transparent(document, binary)
        for material in document["materials"]:
            material["alphaMode"] = "BLEND"

    assert "alpha 0 (BLEND)" in _problems(altered(demo_vrm1, blended_to_nothing))


def test_partly_transparent_and_opaque_materials_pass(demo_vrm1):
    """Glass or lace at alpha 0.3 draws; so does a cutout at its cutoff, and alpha 0 on an OPAQUE material
    (alpha ignored)."""

    def partial(mode: str, alpha: float) -> Callable[[Document, bytearray], None]:
        def change(document: Document, binary: bytearray) -> None:
            fully_transparent(document, binary)
            for material in document["materials"]:
                material["alphaMode"] = mode
                material["pbrMetallicRoughness"]["baseColorFactor"][3] = alpha
                material["alphaCutoff"] = 0.3

        return change

    for mode, alpha in [("BLEND", 0.3), ("MASK", 0.3), ("OPAQUE", 0.0)]:
        assert verify_vrm(altered(demo_vrm1, partial(mode, alpha))).problems == [], mode


def test_a_vrm0_mtoon_material_fully_transparent_is_refused():
    """VRM 0.x: three-vrm draws a MToon material by its properties (`_Color`'s alpha, blend keywords), not by
    the glTF material's (Godette's are glTF shaders: made MToon here, its glTF materials left opaque)."""
    godette = _shared("vrm0_godette.vrm")

    def mtoon_transparent(document: Document, _binary: bytearray) -> None:
        for properties in document["extensions"]["VRM"]["materialProperties"]:
            properties["shader"] = "VRM/MToon"
            properties.setdefault("vectorProperties", {})["_Color"] = [1.0, 1.0, 1.0, 0.0]
            properties.setdefault("keywordMap", {})["_ALPHABLEND_ON"] = True

    problems = _problems(altered(godette, mtoon_transparent))
    assert "meshes that would draw nothing, every material fully transparent: '" in problems
    assert "alpha 0 (BLEND)" in problems
