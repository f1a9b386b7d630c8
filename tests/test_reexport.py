"""A model made by someone else, re-exported: its author's meta and expressions survive, as three-vrm and
the file's own JSON show them (never read back through the code that wrote them).

The sources (tests/authored.py) are made and exported by the VRM Add-on itself and imported with its
importer, as an artist gets them; each is exported once per module by export_vrm, VRM 1.0 and 0.x.
"""

from __future__ import annotations

import dataclasses
import io
import json
import struct
from pathlib import Path
from typing import Any

import bpy  # before addon.blender
import pytest
from PIL import Image

from addon.blender import rig_check, vrm_export
from addon.core.presets import VRM1_LICENSE_URL, Preset, get_preset
from tests import authored
from tests.conftest import run_forge
from tests.test_vrm_export import consumers

pytestmark = pytest.mark.slow  # module fixtures that export, convert or re-import for tens of seconds

FOUND_BY_THE_CHECK = {"missing_visemes", "missing_blink", "missing_expressions"}


def _gltf(path: Path) -> dict[str, Any]:
    data = path.read_bytes()
    length = struct.unpack_from("<I", data, 12)[0]
    parsed: dict[str, Any] = json.loads(data[20 : 20 + length])
    return parsed


def _image_size(path: Path, index: int) -> tuple[int, int]:
    """An embedded image's size, whatever its format (a web preset writes the thumbnail as JPEG)."""
    data = path.read_bytes()
    gltf = _gltf(path)
    binary = 20 + struct.unpack_from("<I", data, 12)[0] + 8
    view = gltf["bufferViews"][gltf["images"][index]["bufferView"]]
    start = binary + view.get("byteOffset", 0)
    with Image.open(io.BytesIO(data[start : start + view["byteLength"]])) as picture:
        width, height = picture.size
    return width, height


@dataclasses.dataclass
class Reexport:
    path: Path
    result: vrm_export.ExportResult
    checked_before: dict[str, str]  # the rig check's findings on the model before export: id -> message


def _reexport(blend: Path, preset: Preset, out: Path) -> Reexport:
    bpy.ops.wm.open_mainfile(filepath=str(blend))
    before = rig_check.check_rig(None, preset, fix=True)  # the artist's safe fixes (the mapping)
    assert before.ok, [f.message for f in before.findings]
    return Reexport(out, vrm_export.export_vrm(out, preset), {f.id: f.message for f in before.findings})


@pytest.fixture(scope="module")
def sources(blender: Any, demo_blend: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("authored")
    made, imported = authored.authored_vrm0(demo_blend, folder)
    return {"vrm0-made": made, "vrm0": imported, "vrm1": authored.authored_vrm1(demo_blend, folder)}


@pytest.fixture(scope="module")
def reexports(sources: dict[str, Path], tmp_path_factory: pytest.TempPathFactory) -> dict[str, Reexport]:
    """The presets render a thumbnail only for a model without one: these keep their own (no render)."""
    folder = tmp_path_factory.mktemp("reexport")
    web, legacy = get_preset("companions-web"), get_preset("vrm0-legacy")
    return {
        "vrm0-as-1.0": _reexport(sources["vrm0"], web, folder / "vrm0-as-1.0.vrm"),
        "vrm0-made-as-1.0": _reexport(sources["vrm0-made"], web, folder / "vrm0-made-as-1.0.vrm"),
        "vrm0-as-0.x": _reexport(sources["vrm0"], legacy, folder / "vrm0-as-0.x.vrm"),
        "vrm1-as-1.0": _reexport(sources["vrm1"], web, folder / "vrm1-as-1.0.vrm"),
        "vrm1-as-0.x": _reexport(sources["vrm1"], legacy, folder / "vrm1-as-0.x.vrm"),
    }


@pytest.fixture(scope="module")
def summaries(reexports: dict[str, Reexport]) -> dict[str, dict[str, Any]]:
    found = consumers([r.path for r in reexports.values()])
    return {label: found[str(r.path)] for label, r in reexports.items()}


def test_three_vrm_loads_each_reexport_and_the_validator_finds_no_errors(summaries):
    for label, summary in summaries.items():
        assert "error" not in summary, (label, summary.get("error"))
        assert summary["validator"]["errors"] == 0, (label, summary["validator"]["error_messages"])


def test_a_vrm0_model_keeps_its_meta_in_vrm1(reexports, summaries):
    meta = summaries["vrm0-as-1.0"]["meta"]
    assert (meta["name"], meta["authors"], meta["version"]) == (authored.TITLE, [authored.AUTHOR], authored.VERSION)
    assert meta["licenseUrl"] == VRM1_LICENSE_URL
    written = _gltf(reexports["vrm0-as-1.0"].path)["extensions"]["VRMC_vrm"]["meta"]
    assert written["contactInformation"] == authored.CONTACT and written["references"] == [authored.REFERENCE]
    # CC BY, everyone, commercial use allowed: carried over, not the preset's "no redistribution".
    assert written["allowRedistribution"] is True and written["modification"] == "allowModificationRedistribution"
    assert written["avatarPermission"] == "everyone" and written["commercialUsage"] == "personalProfit"
    assert written["creditNotation"] == "required" and written["allowExcessivelyViolentUsage"] is True
    assert _image_size(reexports["vrm0-as-1.0"].path, written["thumbnailImage"]) == (64, 64)


def test_a_vrm1_model_keeps_its_meta_in_vrm0(reexports, summaries):
    meta = summaries["vrm1-as-0.x"]["meta"]
    assert (meta["name"], meta["version"]) == (authored.TITLE, authored.VERSION)
    assert meta["authors"] == [", ".join(authored.VRM1_AUTHORS)]  # VRM 0.x has one author string
    assert meta["licenseName"] == "Other" and meta["licenseUrl"] == authored.VRM1_META["other_license_url"]
    written = _gltf(reexports["vrm1-as-0.x"].path)["extensions"]["VRM"]["meta"]
    assert written["contactInformation"] == authored.CONTACT and written["reference"] == authored.REFERENCE
    assert written["allowedUserName"] == "Everyone" and written["commercialUssageName"] == "Allow"
    assert _image_size(reexports["vrm1-as-0.x"].path, written["texture"]) == (64, 64)


def test_a_vrm1_model_keeps_its_expressions_in_vrm0(reexports, summaries):
    groups = _gltf(reexports["vrm1-as-0.x"].path)["extensions"]["VRM"]["blendShapeMaster"]["blendShapeGroups"]
    bound = {(g["name"], g["presetName"]) for g in groups if g.get("binds")}
    assert {("aa", "a"), ("blink", "blink"), ("happy", "joy"), ("Smirk", "unknown")} <= bound
    assert {"aa", "blink", "happy", "Smirk"} <= set(summaries["vrm1-as-0.x"]["expressions"])


def test_a_license_the_preset_would_change_is_reported_not_rewritten(reexports):
    for label, reexport in reexports.items():
        [finding] = [f for f in reexport.result.findings if f.id == "meta_license_differs"]
        assert finding.severity == "warning" and authored.TITLE in finding.message, label


def test_a_vrm0_model_keeps_its_meta_in_vrm0(reexports, summaries):
    meta = summaries["vrm0-as-0.x"]["meta"]
    assert (meta["name"], meta["authors"], meta["version"]) == (authored.TITLE, [authored.AUTHOR], authored.VERSION)
    assert meta["licenseName"] == "CC_BY"
    written = _gltf(reexports["vrm0-as-0.x"].path)["extensions"]["VRM"]["meta"]
    assert written["contactInformation"] == authored.CONTACT and written["reference"] == authored.REFERENCE
    assert written["allowedUserName"] == "Everyone" and written["commercialUssageName"] == "Allow"
    assert written["violentUssageName"] == "Allow"
    assert _image_size(reexports["vrm0-as-0.x"].path, written["texture"]) == (64, 64)


def test_a_vrm1_model_keeps_every_meta_field(reexports, summaries):
    meta = summaries["vrm1-as-1.0"]["meta"]
    assert (meta["name"], meta["authors"], meta["version"]) == (authored.TITLE, authored.VRM1_AUTHORS, authored.VERSION)
    written = _gltf(reexports["vrm1-as-1.0"].path)["extensions"]["VRMC_vrm"]["meta"]
    assert written["copyrightInformation"] == authored.VRM1_META["copyright_information"]
    assert written["thirdPartyLicenses"] == authored.VRM1_META["third_party_licenses"]
    assert written["otherLicenseUrl"] == authored.VRM1_META["other_license_url"]
    assert written["contactInformation"] == authored.CONTACT and written["references"] == [authored.REFERENCE]
    assert written["commercialUsage"] == "corporation" and written["creditNotation"] == "unnecessary"
    assert written["allowRedistribution"] is True and written["avatarPermission"] == "everyone"
    assert _image_size(reexports["vrm1-as-1.0"].path, written["thumbnailImage"]) == (64, 64)


def _vrm1_expressions(path: Path) -> dict[str, dict[str, Any]]:
    found = _gltf(path)["extensions"]["VRMC_vrm"]["expressions"]
    return {**found.get("preset", {}), **found.get("custom", {})}


@pytest.mark.parametrize("label", ["vrm0-as-1.0", "vrm0-made-as-1.0"])
def test_every_bound_vrm0_group_becomes_a_vrm1_expression(reexports, summaries, label):
    # Imported (the VRM Add-on's importer binds VRM 1.0 too) or made in Blender (only the 0.x groups bound).
    reexport = reexports[label]
    assert set(summaries[label]["expressions"]) >= authored.VRM1_NAMES
    written = _vrm1_expressions(reexport.path)
    bound = {n for n, e in written.items() if e.get("morphTargetBinds") or e.get("materialColorBinds")}
    assert bound == authored.VRM1_NAMES
    assert {"Smirk", "Blush"} <= set(_gltf(reexport.path)["extensions"]["VRMC_vrm"]["expressions"]["custom"])
    assert [b["index"] for b in written["Smirk"]["morphTargetBinds"]] == [_key_index(reexport.path, "happy")]
    [colour] = written["Blush"]["materialColorBinds"]
    assert colour["type"] == "color" and colour["targetValue"] == pytest.approx([1.0, 0.4, 0.4, 1.0])
    assert set(reexport.result.expressions) == authored.VRM1_NAMES


def _key_index(path: Path, demo_key: str) -> int:
    """The morph target index of a demo shape key in the file (the exporter's target names)."""
    gltf = _gltf(path)
    names = next(m["extras"]["targetNames"] for m in gltf["meshes"] if "targetNames" in m.get("extras", {}))
    return int(names.index(authored.KEY_PREFIX + demo_key))


@pytest.mark.parametrize("label", ["vrm0-as-1.0", "vrm0-made-as-1.0"])
def test_a_material_bind_vrm1_cannot_hold_is_reported(reexports, label):
    [finding] = [f for f in reexports[label].result.findings if f.id == "expression_binds_dropped"]
    assert "_Cutoff" in finding.message and "'Blush'" in finding.message and "1 of the 2" in finding.message
    assert not [f for f in reexports["vrm0-as-0.x"].result.findings if f.id == "expression_binds_dropped"]


def test_a_vrm0_model_keeps_its_groups_in_vrm0(reexports, summaries):
    groups = _gltf(reexports["vrm0-as-0.x"].path)["extensions"]["VRM"]["blendShapeMaster"]["blendShapeGroups"]
    bound = {g["name"] for g in groups if g.get("binds") or g.get("materialValues")}
    assert bound == {name for name, _, _ in authored.VRM0_GROUPS}
    # three-vrm names the presets by their VRM 1.0 names and the custom groups by theirs.
    names = set(summaries["vrm0-as-0.x"]["expressions"])
    assert {"aa", "happy", "sad", "relaxed", "blinkLeft", "lookUp", "Surprised", "Smirk", "Blush"} <= names


def test_a_vrm1_model_keeps_its_own_expressions(reexports):
    written = _vrm1_expressions(reexports["vrm1-as-1.0"].path)
    binds = {name: [b["index"] for b in e.get("morphTargetBinds", [])] for name, e in written.items()}
    assert binds["Smirk"] and binds["aa"] and binds["blink"] and binds["happy"]


def test_the_check_counts_the_expressions_a_model_has_bound(reexports):
    # The models' shape keys follow no naming rule: only their bound expressions count, VRM 0.x or 1.0.
    for label in ("vrm0-as-1.0", "vrm0-made-as-1.0", "vrm0-as-0.x"):
        assert not FOUND_BY_THE_CHECK & set(reexports[label].checked_before), label
    # The VRM 1.0 model binds aa, blink and happy (and a custom Smirk): the rest is truly missing.
    found = reexports["vrm1-as-1.0"].checked_before
    assert "missing_blink" not in found
    assert found["missing_visemes"].endswith("visemes ih, ou, ee, oh: the mouth will not move")
    assert found["missing_expressions"].endswith("for angry, sad, relaxed, surprised")


def test_a_model_without_meta_is_named_after_its_file_never_a_placeholder(blender, demo_blend, tmp_path):
    bpy.ops.wm.open_mainfile(filepath=str(demo_blend))
    out = tmp_path / "Fresh-Face.vrm"
    vrm_export.export_vrm(out, dataclasses.replace(get_preset("companions-web"), thumbnail=False))
    meta = _gltf(out)["extensions"]["VRMC_vrm"]["meta"]
    assert meta["name"] == "Fresh-Face" and meta["authors"] == ["Avatar Forge"] and meta["version"] == "1"
    assert meta["allowRedistribution"] is False  # the preset's licence, for a model that has none


def test_name_author_and_version_replace_only_themselves(sources, tmp_path):
    bpy.ops.wm.open_mainfile(filepath=str(sources["vrm1"]))
    assert rig_check.check_rig(None, get_preset("companions-web"), fix=True).ok
    blend = tmp_path / "mapped.blend"
    bpy.ops.wm.save_as_mainfile(filepath=str(blend), copy=True)
    out = tmp_path / "renamed.vrm"
    meta = ["--name", "Kit", "--author", "Ada", "--version", "9"]
    done = run_forge("export", "--blend", blend, "--preset", "companions-web", "--out", out, *meta, "--json")
    assert done.code == 0, done.stderr
    summary = consumers([out])[str(out)]
    assert (summary["meta"]["name"], summary["meta"]["authors"], summary["meta"]["version"]) == ("Kit", ["Ada"], "9")
    written = _gltf(out)["extensions"]["VRMC_vrm"]["meta"]
    assert written["copyrightInformation"] == authored.VRM1_META["copyright_information"]
    assert written["allowRedistribution"] is True
