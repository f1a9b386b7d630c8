"""VRM export, proven on the real consumers: every file is loaded by three + @pixiv/three-vrm and checked
by the Khronos glTF validator (tests/node), and re-imported by the VRM Add-on.

Each file is exported once per module; the consumers run once over all of them.
"""

from __future__ import annotations

import dataclasses
import errno
import hashlib
import io
import json
import math
import stat
import struct
import subprocess
from pathlib import Path
from typing import Any

import bpy  # before addon.blender: bmesh and mathutils exist only after it
import mathutils
import numpy as np
import pytest
from PIL import Image

from addon.blender import context, demo_avatar, posed_ground, rig_check, rig_fixes, vrm_addon, vrm_export
from addon.core.errors import BadOutputError
from addon.core.presets import VRM1_LICENSE_URL, Preset, get_preset
from addon.core.rig.checks import GROUND_TOLERANCE
from addon.core.rig.model import FloatArray
from addon.core.vrm import webpack
from addon.core.vrm.inspect import glb_document
from tests import rigs, thumbnails
from tests.conftest import ROOT, ForgeRun, run_forge

pytestmark = pytest.mark.slow  # module fixtures that export, convert or re-import for tens of seconds

NODE_DIR = ROOT / "tests" / "node"
DEMO_EXPRESSIONS = {"aa", "ih", "ou", "ee", "oh", "blink", "blinkLeft", "blinkRight",
                    "happy", "angry", "sad", "relaxed", "surprised"}  # fmt: skip


def consumers(files: list[Path]) -> dict[str, dict[str, Any]]:
    """three-vrm's and the validator's view of each file, by path."""
    if not (NODE_DIR / "node_modules" / "@pixiv" / "three-vrm").is_dir():
        pytest.fail("the VRM consumers are not installed: run `make node` (npm ci in tests/node)")
    command = ["node", "vrm_summary.mjs", *map(str, files)]
    done = subprocess.run(command, cwd=NODE_DIR, capture_output=True, text=True, timeout=120, check=False)
    if not done.stdout.strip():
        pytest.fail(f"vrm_summary.mjs printed nothing (exit {done.returncode}): {done.stderr[-2000:]}")
    summaries = json.loads(done.stdout)
    return {s["file"]: s for s in summaries}


# Demo shape key -> the name each convention gives it; keys a convention has no name for get an unrelated one.
VRCHAT_KEYS = {"aa": "vrc.v_aa", "ih": "vrc.v_ih", "ou": "vrc.v_ou", "ee": "vrc.v_e", "oh": "vrc.v_oh",
               "blink": "vrc.blink", "blinkLeft": "Blink_L", "blinkRight": "Blink_R", "happy": "Smile",
               "angry": "Angry", "sad": "Sad", "relaxed": "Relaxed", "surprised": "Surprised"}  # fmt: skip
VROID_KEYS = {"aa": "Fcl_MTH_A", "ih": "Fcl_MTH_I", "ou": "Fcl_MTH_U", "ee": "Fcl_MTH_E", "oh": "Fcl_MTH_O",
              "blink": "Fcl_EYE_Close", "blinkLeft": "Fcl_EYE_Close_L", "blinkRight": "Fcl_EYE_Close_R",
              "happy": "Fcl_ALL_Joy", "angry": "Fcl_ALL_Angry", "sad": "Fcl_ALL_Sorrow", "relaxed": "Fcl_ALL_Fun",
              "surprised": "Fcl_ALL_Surprised"}  # fmt: skip
ARKIT_KEYS = {"aa": "jawOpen", "ih": "mouthSmileLeft", "ou": "mouthFunnel", "ee": "mouthStretchLeft",
              "oh": "mouthPucker", "blink": "browInnerUp", "blinkLeft": "eyeBlinkLeft", "blinkRight": "eyeBlinkRight",
              "happy": "mouthSmileRight", "angry": "browDownLeft", "sad": "mouthFrownLeft", "relaxed": "cheekPuff",
              "surprised": "eyeWideLeft"}  # fmt: skip
# tests/rigs.py convention -> (shape key names, the expressions those keys must give, preset); with the demo
# avatar's CLI export, both spec versions are covered (VRM 0.x is the slow writer: once is enough).
CONVENTIONS: dict[str, tuple[dict[str, str], set[str], str]] = {
    "mixamo": (VRCHAT_KEYS, DEMO_EXPRESSIONS, "companions-web"),
    "vroid": (VROID_KEYS, DEMO_EXPRESSIONS, "vrm0-legacy"),
    "unreal": (ARKIT_KEYS, {"aa", "ou", "oh", "blinkLeft", "blinkRight"}, "companions-web-lite"),
    "rigify": (VRCHAT_KEYS, DEMO_EXPRESSIONS, "companions-web"),
}


def open_demo(blend: Path) -> demo_avatar.DemoAvatar:
    """The session's demo avatar, opened fresh (much faster than building it again)."""
    bpy.ops.wm.open_mainfile(filepath=str(blend))
    return demo_avatar.DemoAvatar(bpy.data.objects["Avatar"], bpy.data.objects["AvatarBody"])


def _convention_rig(blend: Path, convention: str, shape_keys: dict[str, str]) -> bpy.types.Object:
    """A rig as it arrives from another tool (tests/rigs.py: bones renamed, VRM mapping empty), its shape keys
    renamed too, after the rig check's safe fixes mapped it, as the artist does before exporting."""
    avatar = rigs.build_rig(convention, blend)
    mesh: Any = avatar.body.data
    for key in mesh.shape_keys.key_blocks[1:]:
        key.name = shape_keys[key.name]
    assert rig_check.check_rig(fix=True).ok
    return avatar.armature


def _quick(preset: Preset) -> Preset:
    """The preset without its thumbnail render (the CLI exports cover the thumbnail)."""
    return dataclasses.replace(preset, thumbnail=False)


@dataclasses.dataclass
class Exported:
    label: str
    path: Path
    spec_version: str
    mapping: dict[str, str]  # VRM 1.0 bone -> Blender bone, as the add-on held it before the export
    expressions: set[str]
    meta: dict[str, Any]
    reimported: dict[str, str] = dataclasses.field(default_factory=dict)


@pytest.fixture(scope="module")
def cli_export(demo_blend: Path, tmp_path_factory: pytest.TempPathFactory) -> ForgeRun:
    """The demo avatar exported by `forge.py export` with companions-web (thumbnail on, meta overridden)."""
    out = tmp_path_factory.mktemp("cli-export") / "Companion-A.vrm"
    meta = ["--name", "Companion A", "--author", "Ada Artist", "--version", "2.1"]
    return run_forge("export", "--blend", demo_blend, "--preset", "companions-web", "--out", out, *meta, "--json")


@pytest.fixture(scope="module")
def exports(
    blender: Any, demo_blend: Path, cli_export: ForgeRun, tmp_path_factory: pytest.TempPathFactory
) -> list[Exported]:
    """Every file this module checks: the CLI's, then the naming conventions' in-process, each re-imported."""
    folder = tmp_path_factory.mktemp("export")
    found: list[Exported] = []
    avatar = open_demo(demo_blend)
    demo_mapping = vrm_addon.humanoid_mapping(avatar.armature)
    meta = {"name": "Companion A", "authors": ["Ada Artist"], "version": "2.1"}
    assert cli_export.code == 0, cli_export.stderr
    cli_path = Path(cli_export.json()["path"])
    found.append(Exported("cli-companions-web", cli_path, "1.0", demo_mapping, DEMO_EXPRESSIONS, meta))
    for convention, (shape_keys, expected, preset) in CONVENTIONS.items():
        armature = _convention_rig(demo_blend, convention, shape_keys)
        mapping = rigs.expected_mapping(convention)
        rig_meta = {"name": convention, "authors": ["Rig Tester"], "version": "1"}
        overrides = {"name": convention, "author": "Rig Tester", "version": "1"}
        path = folder / f"{convention}-{preset}.vrm"
        # The VRM 0.x export keeps its thumbnail: the CLI's export covers VRM 1.0's.
        chosen = get_preset(preset) if preset == "vrm0-legacy" else _quick(get_preset(preset))
        vrm_export.export_vrm(path, chosen, armature_name=armature.name, meta_overrides=overrides)
        found.append(Exported(f"{convention}-{preset}", path, chosen.spec_version, mapping, expected, rig_meta))
    for exported in found:
        exported.reimported = _reimport(exported.path, exported.spec_version)
    return found


def _reimport(path: Path, spec_version: str) -> dict[str, str]:
    """The humanoid mapping the VRM Add-on's importer reads back from the file. Blender's glTF importer does
    not read meshopt geometry: a web preset's file is read with its geometry decoded (still quantized, its
    textures still WebP: both of which the importer reads)."""
    bpy.ops.wm.read_homefile(use_empty=True)
    data = path.read_bytes()
    if webpack.is_compressed(data):
        path = path.with_name(f"{path.stem}.decoded.vrm")
        path.write_bytes(webpack.decoded(data))
    result = bpy.ops.import_scene.vrm(filepath=str(path), use_addon_preferences=False)
    assert result == {"FINISHED"}, f"the VRM Add-on could not import {path.name}"
    armature = next(o for o in bpy.data.objects if o.type == "ARMATURE")
    if spec_version == "1.0":
        return vrm_addon.humanoid_mapping(armature)
    return vrm_addon.humanoid_mapping_vrm0(armature)


@pytest.fixture(scope="module")
def summaries(exports: list[Exported]) -> dict[str, dict[str, Any]]:
    return consumers([e.path for e in exports])


@pytest.mark.smoke
def test_cli_json_describes_the_file_it_wrote(cli_export):
    assert cli_export.code == 0, cli_export.stderr
    data = cli_export.json()
    path = Path(data["path"])
    assert data["exported"] is True and data["preset"] == "companions-web"
    assert path.read_bytes()[:4] == b"glTF"
    assert data["bytes"] == path.stat().st_size
    assert data["sha256"] == hashlib.sha256(path.read_bytes()).hexdigest()
    assert data["spec_version"] == "1.0"
    assert data["stats"]["triangles"] > 1000 and data["stats"]["file_size_mb"] > 0 and data["seconds"] > 0
    assert [f for f in data["findings"] if f["severity"] == "error"] == []
    assert set(data["expressions"]) == DEMO_EXPRESSIONS
    # Readable like any file the user saves (a temp file's 0600 would make it private).
    assert path.stat().st_mode & stat.S_IRGRP
    # Written under a temp name and renamed: nothing else is left behind.
    assert [p.name for p in path.parent.iterdir()] == ["Companion-A.vrm"]


@pytest.mark.smoke
def test_three_vrm_loads_every_export_and_the_validator_finds_no_errors(exports, summaries):
    for exported in exports:
        summary = summaries[str(exported.path)]
        assert "error" not in summary, f"{exported.label}: three-vrm failed: {summary.get('error')}"
        assert summary["validator"]["errors"] == 0, (exported.label, summary["validator"]["error_messages"])


def test_three_vrm_sees_the_meta(exports, summaries):
    for exported in exports:
        meta = summaries[str(exported.path)]["meta"]
        assert meta["metaVersion"] == ("1" if exported.spec_version == "1.0" else "0"), exported.label
        assert meta["name"] == exported.meta["name"], exported.label
        assert meta["authors"] == exported.meta["authors"], exported.label
        assert meta["version"] == exported.meta["version"], exported.label
        if exported.spec_version == "1.0":
            assert meta["licenseUrl"] == VRM1_LICENSE_URL, exported.label
        else:  # the shipped presets forbid redistribution, which VRM 0.x names itself
            assert meta["licenseName"] == "Redistribution_Prohibited", exported.label


def test_three_vrm_maps_every_humanoid_bone(exports, summaries):
    for exported in exports:
        assert summaries[str(exported.path)]["humanBones"] == exported.mapping, exported.label


def test_three_vrm_finds_the_expressions(exports, summaries):
    for exported in exports:
        names = set(summaries[str(exported.path)]["expressions"])
        assert exported.expressions <= names, (exported.label, exported.expressions - names)


def test_vrm1_exports_face_plus_z(exports, summaries):
    for exported in (e for e in exports if e.spec_version == "1.0"):
        summary = summaries[str(exported.path)]
        # VRM 1.0 models face +Z: the avatar's left hand is on +X.
        assert summary["leftHand"][0] > 0.2, exported.label
        assert summary["head"][1] > 1.0, exported.label


def test_the_vrm_addon_reimports_the_same_humanoid_mapping(exports):
    for exported in exports:
        assert exported.reimported == exported.mapping, exported.label


def test_thumbnail_is_rendered_into_the_meta_when_the_preset_asks(exports, summaries):
    # The CLI's VRM 1.0 export and VRoid's VRM 0.x one render it; the others are exported without.
    with_thumbnail = {"cli-companions-web", "vroid-vrm0-legacy"}
    for exported in exports:
        assert summaries[str(exported.path)]["thumbnail"] is (exported.label in with_thumbnail), exported.label


def test_rendered_thumbnail_shows_the_avatar_from_the_front(cli_export):
    """The thumbnail (rendered in one Workbench pass smoothed by FXAA) is a 1024 px square picture of the
    avatar: a figure over most of the frame's height, in its middle, shaded and textured, on an even
    background."""
    picture = thumbnails.thumbnail_pixels(Path(cli_export.json()["path"]))
    assert picture.shape == (1024, 1024, 3)
    thumbnails.assert_shows_the_avatar(picture)


def _vrm(armature: bpy.types.Object) -> Any:
    """The VRM Add-on's data on an armature (the stubs do not know it)."""
    data: Any = armature.data
    return data.vrm_addon_extension


def _texture(material: Any) -> Any:
    return next(n.image for n in material.node_tree.nodes if n.type == "TEX_IMAGE")


def _glb_images(path: Path) -> list[tuple[int, int]]:
    """(width, height) of each image embedded in a .glb/.vrm (PNG, JPEG or a web preset's WebP)."""
    data = path.read_bytes()
    json_length = struct.unpack_from("<I", data, 12)[0]
    gltf = json.loads(data[20 : 20 + json_length])
    binary = 20 + json_length + 8
    sizes = []
    for image in gltf.get("images", []):
        view = gltf["bufferViews"][image["bufferView"]]
        start = binary + view.get("byteOffset", 0)
        with Image.open(io.BytesIO(data[start : start + view["byteLength"]])) as picture:
            assert picture.format in ("PNG", "JPEG", "WEBP"), image.get("mimeType")
            sizes.append(picture.size)
    return sizes


def test_textures_are_downscaled_only_in_the_exported_copy(blender, demo_blend, tmp_path):
    avatar = open_demo(demo_blend)
    material = avatar.body.material_slots[0].material
    image = _texture(material)
    image.scale(2048, 2048)
    image.pack()
    blend = tmp_path / "Artist.blend"
    bpy.ops.wm.save_as_mainfile(filepath=str(blend), copy=True)
    saved = blend.read_bytes()
    before = np.empty(2048 * 2048 * 4, dtype=np.float32)
    image.pixels.foreach_get(before)
    packed = bytes(image.packed_file.data)

    out = tmp_path / "lite.vrm"
    vrm_export.export_vrm(out, _quick(get_preset("companions-web-lite")))

    assert _glb_images(out) == [(1024, 1024)]
    assert tuple(image.size) == (2048, 2048) and image.name == "AvatarTexture"
    after = np.empty_like(before)
    image.pixels.foreach_get(after)
    assert np.array_equal(before, after)
    assert bytes(image.packed_file.data) == packed
    assert _texture(material) == image
    assert [i.name for i in bpy.data.images if i.name != "Render Result"] == ["AvatarTexture"]
    assert blend.read_bytes() == saved


def test_an_avatar_on_bent_knees_exports_standing_on_the_ground(blender, demo_blend, tmp_path):
    # A game rig's rest pose: knees bent forward, grounded as it stands. The export writes the VRM Add-on's
    # T-pose, legs straight: the feet must not go below the floor with them.
    avatar = open_demo(demo_blend)
    for side in ("L", "R"):
        for bone, degrees in ((f"UpperLeg.{side}", -30.0), (f"LowerLeg.{side}", 60.0)):
            pose_bone = avatar.armature.pose.bones[bone]  # type: ignore[union-attr]
            pose_bone.rotation_mode = "XYZ"
            pose_bone.rotation_euler = (math.radians(degrees), 0.0, 0.0)
    context.view_layer().update()
    rig_fixes.apply_pose_as_rest(avatar.armature)
    rig_fixes.ground(avatar.armature)
    meshes = [avatar.body]
    standing = posed_ground.lowest_point(meshes)
    assert standing is not None and abs(standing) < 1e-4
    placed = avatar.armature.matrix_world.copy()

    result = vrm_export.export_vrm(tmp_path / "bent.vrm", _quick(get_preset("companions-web-lite")))

    assert result.verification.mesh_bottom is not None
    assert abs(result.verification.mesh_bottom) <= GROUND_TOLERANCE
    loaded = consumers([result.path])[str(result.path)]
    assert "error" not in loaded and abs(loaded["meshBounds"]["min"][1]) <= GROUND_TOLERANCE  # three-vrm's floor
    assert avatar.armature.matrix_world == placed and posed_ground.lowest_point(meshes) == standing


def _joint(document: dict[str, Any], bone: str) -> FloatArray:
    """A humanoid bone's joint in a VRM 1.0 file, in the file's space: its node's transforms composed."""
    nodes = document["nodes"]
    parent = {child: i for i, node in enumerate(nodes) for child in node.get("children", [])}
    chain = [document["extensions"]["VRMC_vrm"]["humanoid"]["humanBones"][bone]["node"]]
    while chain[-1] in parent:
        chain.append(parent[chain[-1]])
    world = mathutils.Matrix.Identity(4)
    for node in (nodes[i] for i in reversed(chain)):
        x, y, z, w = node.get("rotation", [0.0, 0.0, 0.0, 1.0])
        local = mathutils.Matrix.LocRotScale(
            mathutils.Vector(node.get("translation", [0.0, 0.0, 0.0])),
            mathutils.Quaternion((w, x, y, z)),
            mathutils.Vector(node.get("scale", [1.0, 1.0, 1.0])),
        )
        world = world @ local
    return np.array(world.translation)


def test_legs_modelled_apart_stay_apart_in_the_t_pose(blender, demo_blend, tmp_path):
    # VRM's T-pose is the model's relaxed stance, straight from the side, arms out: the VRM Add-on's own
    # T-pose points the legs straight down, which closed legs the artist modelled apart.
    avatar = open_demo(demo_blend)
    for side, sign in (("L", -1.0), ("R", 1.0)):
        pose_bone = avatar.armature.pose.bones[f"UpperLeg.{side}"]  # type: ignore[union-attr]
        pose_bone.rotation_mode = "XYZ"
        pose_bone.rotation_euler = (0.0, 0.0, sign * math.radians(8.0))
    context.view_layer().update()
    rig_fixes.apply_pose_as_rest(avatar.armature)
    rig_fixes.ground(avatar.armature)
    bones = avatar.armature.data.bones  # type: ignore[union-attr]
    apart = {b: abs(bones[f"{b}.L"].head_local.x - bones[f"{b}.R"].head_local.x) for b in ("LowerLeg", "Foot")}
    assert apart["Foot"] > apart["LowerLeg"] > abs(bones["UpperLeg.L"].head_local.x - bones["UpperLeg.R"].head_local.x)

    result = vrm_export.export_vrm(tmp_path / "apart.vrm", _quick(get_preset("companions-web-lite")))

    document = glb_document(result.path.read_bytes())
    for bone, width in (("LowerLeg", apart["LowerLeg"]), ("Foot", apart["Foot"])):
        left, right = _joint(document, f"left{bone}"), _joint(document, f"right{bone}")
        assert abs(abs(left[0] - right[0]) - width) < 1e-3, (
            f"{bone}: {abs(left[0] - right[0]):.4f} apart, not {width:.4f}"
        )


def test_expressions_bound_by_hand_are_kept(blender, demo_blend, tmp_path):
    avatar = open_demo(demo_blend)
    blink = _vrm(avatar.armature).vrm1.expressions.preset.blink
    bind = blink.morph_target_binds.add()
    bind.node.mesh_object_name, bind.index = avatar.body.name, "happy"  # the artist's own choice

    vrm_export.export_vrm(tmp_path / "a.vrm", _quick(get_preset("companions-web")))

    # Read from the file itself, not through the function that bound them: each preset expression's morph
    # target binds, by the target names the glTF mesh carries.
    document = glb_document((tmp_path / "a.vrm").read_bytes())
    preset = document["extensions"]["VRMC_vrm"]["expressions"]["preset"]

    def bound(expression: str) -> list[str]:
        names = []
        for bind in preset.get(expression, {}).get("morphTargetBinds", []):
            mesh = document["meshes"][document["nodes"][bind["node"]]["mesh"]]
            names.append(mesh["extras"]["targetNames"][bind["index"]])
        return names

    assert bound("blink") == ["happy"]
    assert bound("blinkLeft") == ["blinkLeft"] and bound("aa") == ["aa"]
    assert [b.index for b in blink.morph_target_binds] == ["happy"]


def test_a_rig_with_errors_is_refused_and_nothing_is_written(blender, demo_blend, tmp_path):
    avatar = open_demo(demo_blend)
    avatar.body.scale.x = -1.0  # an error the VRM Add-on would also refuse

    with pytest.raises(vrm_export.ExportRefusedError) as refused:
        vrm_export.export_vrm(tmp_path / "a.vrm", _quick(get_preset("companions-web")))

    assert not refused.value.report.ok
    assert list(tmp_path.iterdir()) == []
    # The same through the CLI: exit 1, the findings in the JSON, still nothing written.
    blend = tmp_path / "broken.blend"
    bpy.ops.wm.save_as_mainfile(filepath=str(blend), copy=True)
    out = tmp_path / "a.vrm"
    result = run_forge("export", "--blend", blend, "--preset", "companions-web", "--out", out, "--json")
    assert result.code == 1, result.stderr
    data = result.json()
    assert data["exported"] is False and any(f["severity"] == "error" for f in data["findings"])
    assert sorted(p.name for p in tmp_path.iterdir()) == ["broken.blend"]


def test_an_existing_file_is_never_replaced_unless_asked(blender, demo_blend, tmp_path):
    open_demo(demo_blend)
    out = tmp_path / "a.vrm"
    out.write_bytes(b"precious")
    with pytest.raises(FileExistsError):
        vrm_export.export_vrm(out, _quick(get_preset("companions-web")))
    assert out.read_bytes() == b"precious"
    vrm_export.export_vrm(out, _quick(get_preset("companions-web")), overwrite=True)
    assert out.read_bytes()[:4] == b"glTF"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.vrm"]


def test_a_long_name_is_written_and_a_folder_that_takes_no_file_is_refused_in_one_line(
    blender, demo_blend, tmp_path, monkeypatch
):
    open_demo(demo_blend)
    # 250 characters fit the file system; the scratch file made beside it must fit too.
    long = tmp_path / f"{'a' * 246}.vrm"
    vrm_export.export_vrm(long, _quick(get_preset("companions-web")))
    assert sorted(p.name for p in tmp_path.iterdir()) == [long.name]

    # A read-only folder (as the OS answers it for a user; root writes anywhere): one line, nothing written.
    def read_only(*args: object, **kwargs: object) -> None:
        raise PermissionError(errno.EACCES, "Permission denied")

    monkeypatch.setattr(vrm_export.tempfile, "mkstemp", read_only)
    with pytest.raises(BadOutputError, match=f"^cannot write in {tmp_path}: Permission denied$"):
        vrm_export.export_vrm(tmp_path / "b.vrm", _quick(get_preset("companions-web")))
    assert sorted(p.name for p in tmp_path.iterdir()) == [long.name]


def test_the_sidebar_button_exports_with_the_scene_settings_and_reports(blender, demo_blend, tmp_path):
    open_demo(demo_blend)
    settings = context.scene().avatar_forge_export
    settings.preset = "companions-web-lite"
    settings.filepath = str(tmp_path / "button.vrm")
    settings.vrm_name = "Button"
    assert bpy.ops.avatar_forge.export_vrm() == {"FINISHED"}
    result: Any = bpy.context.window_manager
    result = result.avatar_forge_export_result
    assert result.exported and Path(result.path) == tmp_path / "button.vrm"
    assert result.size_mb > 0.1 and result.triangles > 1000
    summary = consumers([tmp_path / "button.vrm"])[str(tmp_path / "button.vrm")]
    assert summary["meta"]["name"] == "Button" and summary["validator"]["errors"] == 0


def test_cli_refuses_bad_input_with_one_line_and_writes_nothing(demo_blend, tmp_path):
    keep = tmp_path / "keep.vrm"
    keep.write_bytes(b"precious")
    for args, message, opened in (
        (["--preset", "no-such", "--out", tmp_path / "x.vrm"], "unknown preset", False),
        (["--preset", "companions-web", "--out", keep], "exists", False),
        (["--preset", "companions-web", "--out", tmp_path / "x.glb"], "must end in .vrm", False),
        (["--preset", "companions-web", "--out", tmp_path / "x.vrm", "--armature", "Nobody"], "no armature", True),
    ):
        result = run_forge("export", "--blend", demo_blend, *args, "--verbose")
        assert result.code == 2, result.stderr
        assert "Traceback" not in result.stderr
        assert message in result.stderr.strip().splitlines()[-1]
        # A bad argument is refused before Blender reads the file (at once); only the armature needs it.
        # (Blender's own "Read blend" line is shown with --verbose only.)
        assert ("Read blend" in result.stdout) == opened, result.stdout
    assert keep.read_bytes() == b"precious"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["keep.vrm"]


def test_presets_lists_shipped_and_user_presets(tmp_path):
    user = tmp_path / "user"
    folder = user / "config" / "avatar_forge" / "presets"
    folder.mkdir(parents=True)
    shipped = (ROOT / "addon" / "presets" / "companions-web.toml").read_text()
    (folder / "kiosk.toml").write_text(shipped.replace('name = "companions-web"', 'name = "kiosk"'))
    result = run_forge("presets", "--json", user_resources=user)
    assert result.code == 0, result.stderr
    data = result.json()
    names = [p["name"] for p in data["presets"]]
    assert names == ["companions-web", "companions-web-lite", "companions-web-uncompressed", "kiosk", "vrm0-legacy"]
    assert Path(data["user_dir"]) == folder
    assert {p["name"]: p["spec_version"] for p in data["presets"]}["vrm0-legacy"] == "0.x"


def test_a_file_over_the_size_budget_is_kept_with_a_warning_naming_its_real_size(blender, demo_blend, tmp_path):
    open_demo(demo_blend)
    preset = _quick(get_preset("companions-web"))
    # The demo avatar's packed file is about 0.26 MB: the budget measures the written, packed file.
    tiny = dataclasses.replace(preset, budgets=dataclasses.replace(preset.budgets, file_size_mb=0.2))
    result = vrm_export.export_vrm(tmp_path / "big.vrm", tiny)
    assert (tmp_path / "big.vrm").stat().st_size == result.bytes > 0.2e6
    size = [f for f in result.findings if f.id == "over_budget_file_size"]
    # One finding, with the written file's size (the rig check's estimate is replaced, not repeated).
    assert len(size) == 1 and size[0].severity == "warning"
    assert f"{round(result.bytes / 1e6, 3):g} MB" in size[0].message


def _storage_root_with_a_published_file(tmp_path: Path) -> tuple[Path, Path, Path]:
    """A storage root holding exports/Dup-v1.vrm, and a link to its exports/ from outside it."""
    root = tmp_path / "storage-root"
    (root / "exports").mkdir(parents=True)
    published = root / "exports" / "Dup-v1.vrm"
    published.write_bytes(b"published, immutable")
    link = tmp_path / "looks-elsewhere"
    link.symlink_to(root / "exports")
    return root, published, link


def test_the_sidebar_export_never_writes_into_the_storage_root_even_when_asked_to_replace(
    blender, demo_blend, tmp_path
):
    root, published, link = _storage_root_with_a_published_file(tmp_path)
    open_demo(demo_blend)
    prefs: Any = bpy.context.preferences.addons[blender.__name__].preferences  # type: ignore[union-attr]
    saved = prefs.storage_root
    prefs.storage_root = str(root)
    settings = context.scene().avatar_forge_export
    settings.preset, settings.overwrite = "companions-web-lite", True
    try:
        for target in (published, link / "Dup-v1.vrm", link / "New.vrm"):
            settings.filepath = str(target)
            with pytest.raises(RuntimeError, match="where published files live: only publish writes there"):
                bpy.ops.avatar_forge.export_vrm()
    finally:
        prefs.storage_root = saved
    assert published.read_bytes() == b"published, immutable"
    assert sorted(p.name for p in (root / "exports").iterdir()) == ["Dup-v1.vrm"]


def test_cli_export_and_convert_never_write_into_the_storage_root_even_with_force(demo_blend, tmp_path, monkeypatch):
    root, published, link = _storage_root_with_a_published_file(tmp_path)
    monkeypatch.setenv("AVATAR_FORGE_STORAGE_ROOT", str(root))
    for out in (published, link / "Dup-v1.vrm"):
        run = run_forge("export", "--blend", demo_blend, "--preset", "companions-web-lite", "--out", out, "--force")
        assert run.code == 2, run.stderr
        assert run.stderr.strip().splitlines()[-1].startswith("forge: error: ")
        assert "where published files live" in run.stderr
    model = tmp_path / "Dup-v1.glb"
    model.write_bytes(b"never read: refused before any work")
    for out in (root / "exports", link):
        run = run_forge("convert", model, "--out", out, "--preset", "companions-web-lite", "--force")
        assert run.code == 2, run.stderr
        assert "where published files live" in run.stderr.strip().splitlines()[-1]
    assert published.read_bytes() == b"published, immutable"
    assert sorted(p.name for p in (root / "exports").iterdir()) == ["Dup-v1.vrm"]
