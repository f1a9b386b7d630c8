"""convert reads the rig once before its fixes (it read it twice) and starts the export from the check its fixes
ended with (the export read it again): its report is still, finding for finding, what checking anew says,
before the fixes, after them, and at export; the written file passes the same verification. On third-party
avatars of `../shared/corpus` that need several fixes.

The Quaternius FBX is also the case of Blender's FBX importer making every material fully transparent (alpha
0, which three-vrm draws as nothing): its conversion shows the fix making them opaque, and the same scene
without that fix refused at export, by the rig check and, past it, by the file's verification.
"""

from __future__ import annotations

import dataclasses
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from addon.blender import avatar_import, rig_check, vrm_export
from addon.blender.convert import convert
from addon.core.presets import get_preset
from addon.core.vrm.verify import verify_vrm
from tests.conftest import ROOT
from tests.test_vrm_export import consumers

pytestmark = pytest.mark.slow  # each model is converted, then imported, checked, fixed and exported again

SHARED = ROOT.parent / "shared" / "corpus"
QUATERNIUS = "fbx_quaternius_female_casual.fbx"
MODELS = [QUATERNIUS, "glb_robot_expressive.glb"]
PRESET = dataclasses.replace(get_preset("companions-web"), thumbnail=False)
# Every material of the Quaternius FBX, as Blender's importer leaves them: Principled Alpha 0.
QUATERNIUS_MATERIALS = ["Eyes", "Hair", "HairBase", "Pants", "Shirt", "Shoes", "Skin", "Socks"]
Converted = tuple[Path, dict[str, Any]]  # the model's copy, convert's JSON


@pytest.fixture(scope="module")
def converted(blender: Any, tmp_path_factory: pytest.TempPathFactory) -> Callable[[str], Converted]:
    """Each model converted once for the module (`convert --fix all`), from a copy beside its output."""
    done: dict[str, Converted] = {}

    def get(name: str) -> Converted:
        if not (SHARED / name).is_file():
            pytest.skip(f"the shared corpus is not at {SHARED} (CI has it)")
        if name not in done:
            folder = tmp_path_factory.mktemp("convert")
            model = folder / name
            shutil.copy2(SHARED / name, model)  # importers never get the chance to write beside the original
            done[name] = model, convert(model, folder / "converted.vrm", PRESET, fix="all").to_json()
        return done[name]

    return get


def _findings(report: dict[str, Any]) -> list[dict[str, Any]]:
    return sorted(report["findings"], key=lambda f: (f["id"], f.get("objects", [])))


def _without_time(report: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in report.items() if k not in {"seconds", "ms"}}


@pytest.mark.parametrize("name", MODELS)
def test_convert_reports_what_checking_anew_finds_before_and_after_its_fixes_and_at_export(
    converted: Callable[[str], Converted], empty_scene: Any, name: str, tmp_path: Path
) -> None:
    model, entry = converted(name)
    preset = PRESET
    assert entry["ok"], entry["error"]
    assert entry["fixed"]  # the model needed fixes: the check after them is not the one before

    empty_scene.ops.wm.read_homefile(use_empty=True)
    armature = avatar_import.import_avatar(model, bind_pose=True).armature
    before = rig_check.check_rig(armature, preset)
    after = rig_check.check_rig(armature, preset, fix="all")
    assert _without_time(entry["before"]) == _without_time(before.to_json())
    assert _without_time(entry["after"]) == _without_time(after.to_json())
    (tmp_path / "anew").mkdir()  # the same file name: a model without one is named after it
    exported = vrm_export.export_vrm(tmp_path / "anew" / "converted.vrm", preset, armature_name=armature)
    assert _findings(entry["export"]) == _findings(exported.to_json())
    assert entry["export"]["stats"] == exported.stats
    assert _without_time(entry["export"]["verification"]) == _without_time(exported.verification.to_json())
    assert Path(entry["out"]).read_bytes() == exported.path.read_bytes()


def _alpha(bpy: Any, value: float) -> None:
    """Every material's Principled Alpha set to `value` (0: as Blender's FBX importer leaves this file's)."""
    for material in bpy.data.materials:
        if material.node_tree is not None and "Principled BSDF" in material.node_tree.nodes:
            material.node_tree.nodes["Principled BSDF"].inputs["Alpha"].default_value = value


def test_the_fbx_importers_invisible_materials_are_made_opaque_and_never_exported_invisible(
    converted: Callable[[str], Converted], empty_scene: Any, tmp_path: Path
) -> None:
    model, entry = converted(QUATERNIUS)
    assert entry["ok"], entry["error"]
    (finding,) = [f for f in entry["before"]["findings"] if f["id"] == "transparent_material"]
    assert finding["severity"] == "error" and finding["fixable"] and finding["objects"] == ["Female"]
    assert "fully transparent material(s) (alpha 0, no texture): Eyes, Hair, HairBase" in finding["message"]
    assert "transparent_material" in [f["id"] for f in entry["fixed"]]
    made = f"made 8 fully transparent material(s) opaque: {', '.join(QUATERNIUS_MATERIALS)}"
    assert made in entry["after"]["fixes"]
    # The file draws in three-vrm: every material at full opacity, none discarded by its alpha test.
    written = Path(entry["out"])
    assert verify_vrm(written.read_bytes()).ok and entry["export"]["verification"]["ok"]
    drawn = consumers([written])[str(written)]
    assert sorted({m["material"] for m in drawn["materials"]}) == QUATERNIUS_MATERIALS
    assert all(m["draws"] and m["opacity"] == 1 and m["opacity"] > m["alphaTest"] for m in drawn["materials"])

    # Without that fix: the scene with every other fix made, its materials as the importer left them.
    bpy = empty_scene
    armature = avatar_import.import_avatar(model, bind_pose=True).armature
    rig_check.check_rig(armature, PRESET, fix="all")
    _alpha(bpy, 0.0)
    out = tmp_path / "Invisible.vrm"
    with pytest.raises(vrm_export.ExportRefusedError) as refused:
        vrm_export.export_vrm(out, PRESET, armature_name=armature)
    assert "transparent_material" in [f.id for f in refused.value.report.errors()]
    assert list(tmp_path.iterdir()) == []
    # And past a rig check made while they were opaque (as a bug between the check and the writer would):
    # the written file's own verification refuses it, naming the mesh and its materials; nothing is handed out.
    _alpha(bpy, 1.0)

    def progress(_fraction: float, what: str) -> None:
        if what == "writing the VRM":
            _alpha(bpy, 0.0)

    with pytest.raises(vrm_export.ExportRejectedError) as rejected:
        vrm_export.export_vrm(out, PRESET, armature_name=armature, progress=progress)
    named = "meshes that would draw nothing, every material fully transparent: 'Female' (material 'Skin' alpha 0"
    assert named in str(rejected.value)
    assert not out.exists() and rejected.value.rejected == tmp_path / "Invisible.rejected.vrm"


def test_a_partly_transparent_material_is_left_as_it_is(empty_scene: Any) -> None:
    """Glass or lace: alpha 0.3, or alpha from a texture, is the author's choice; the check and its fix leave
    it alone. The fully transparent ones beside them, Principled or the VRM Add-on's MToon, are made opaque."""
    bpy = empty_scene
    bpy.ops.object.armature_add()
    armature = bpy.context.object
    bpy.ops.mesh.primitive_cube_add(location=(0.0, 0.0, 0.5))
    cube = bpy.context.object
    cube.parent = armature
    cube.modifiers.new("Armature", "ARMATURE").object = armature
    looks = {}
    for name, alpha in [("Glass", 0.3), ("Lace", 0.0), ("Invisible", 0.0)]:
        material = bpy.data.materials.new(name)
        material.use_nodes = True
        bsdf = material.node_tree.nodes["Principled BSDF"]
        bsdf.inputs["Alpha"].default_value = alpha
        if name == "Lace":  # its alpha comes from a texture
            image = material.node_tree.nodes.new("ShaderNodeTexImage")
            material.node_tree.links.new(image.outputs["Alpha"], bsdf.inputs["Alpha"])
        cube.data.materials.append(material)
        looks[name] = bsdf.inputs["Alpha"]
    toons = {}
    for name, alpha in [("ToonGlass", 0.3), ("ToonInvisible", 0.0)]:
        material = bpy.data.materials.new(name)
        toon = toons[name] = material.vrm_addon_extension.mtoon1
        toon.enabled, toon.alpha_mode = True, "BLEND"
        toon.pbr_metallic_roughness.base_color_factor = (1.0, 1.0, 1.0, alpha)
        cube.data.materials.append(material)
    report = rig_check.check_rig(armature.name, None, fix="safe")
    assert "made 2 fully transparent material(s) opaque: Invisible, ToonInvisible" in report.fixes
    assert looks["Glass"].default_value == pytest.approx(0.3)
    assert looks["Lace"].default_value == 0.0 and looks["Lace"].is_linked
    assert looks["Invisible"].default_value == 1.0
    glass, invisible = toons["ToonGlass"], toons["ToonInvisible"]
    assert glass.alpha_mode == "BLEND" and glass.pbr_metallic_roughness.base_color_factor[3] == pytest.approx(0.3)
    assert invisible.alpha_mode == "OPAQUE" and invisible.pbr_metallic_roughness.base_color_factor[3] == 1.0
    assert "transparent_material" not in [f.id for f in report.findings]
