"""Avatars from other tools in, VRM out: the import (each format, as the sidebar, the socket and convert use
it) and `forge.py convert` run as a user runs it, its files proven on the real consumers (three-vrm and the
Khronos validator). The inputs are made here with Blender's own exporters and `forge.py export`.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import shutil
import struct
from pathlib import Path
from typing import Any

import bpy  # before addon.blender: bmesh and mathutils exist only after it
import pytest

from addon.blender import avatar_import, vrm_export
from addon.core.presets import get_preset
from addon.socket_server import avatar_commands
from addon.socket_server.config import ServerConfig
from tests import blend_fields
from tests.conftest import QUICK, run_forge
from tests.console_lines import chatter, strays
from tests.server.serving import Serving
from tests.test_vrm_export import consumers, open_demo

pytestmark = pytest.mark.slow  # module fixtures that export, convert or re-import for tens of seconds

DEMO_BONES = 54


def _set_glb_json(path: Path, change: Any) -> None:
    """Rewrites a GLB's JSON chunk through `change(document)` (padding and lengths kept valid)."""
    data = path.read_bytes()
    size = struct.unpack_from("<I", data, 12)[0]
    document = json.loads(data[20 : 20 + size])
    change(document)
    text = json.dumps(document).encode()
    text += b" " * (-len(text) % 4)
    rest = data[20 + size :]
    header = struct.pack("<4sII", b"glTF", 2, 12 + 8 + len(text) + len(rest))
    path.write_bytes(header + struct.pack("<II", len(text), 0x4E4F534A) + text + rest)


@dataclasses.dataclass
class Inputs:
    blend: Path
    glb: Path
    fbx: Path
    vrm: Path
    vrm0_no_derivatives: Path
    no_armature: Path
    truncated: Path
    text_as_fbx: Path


@pytest.fixture(scope="module")
def inputs(blender: Any, demo_blend: Path, user_resources: Path, tmp_path_factory: pytest.TempPathFactory) -> Inputs:
    """The demo avatar in every format, made by Blender's exporters and `forge.py export`, and broken files."""
    folder = tmp_path_factory.mktemp("inputs")
    made = Inputs(*(folder / name for name in ("Avatar.blend", "Gltf.glb", "Fbx.fbx", "Vrm.vrm", "Legacy.vrm",
                                                "Cube.glb", "Truncated.glb", "Notes.fbx")))  # fmt: skip
    shutil.copyfile(demo_blend, made.blend)
    avatar = open_demo(demo_blend)
    # Blender's default adds a leaf bone at each chain's end, as many tools do: the import must keep them.
    assert bpy.ops.export_scene.fbx(filepath=str(made.fbx), add_leaf_bones=True) == {"FINISHED"}
    avatar.armature.location.z = 0.25  # floating: a safe fix (grounding) for convert to report
    assert bpy.ops.export_scene.gltf(filepath=str(made.glb), export_format="GLB") == {"FINISHED"}
    avatar.armature.location.z = 0.0
    legacy = dataclasses.replace(get_preset("vrm0-legacy"), thumbnail=False)
    vrm_export.export_vrm(made.vrm0_no_derivatives, legacy)
    # A licence that forbids derivatives: the VRM Add-on's importer asks for a confirmation on it.
    _set_glb_json(made.vrm0_no_derivatives, lambda d: d["extensions"]["VRM"]["meta"].update(licenseName="CC_BY_ND"))
    bpy.ops.wm.read_homefile(use_empty=True)
    bpy.ops.mesh.primitive_cube_add()
    assert bpy.ops.export_scene.gltf(filepath=str(made.no_armature), export_format="GLB") == {"FINISHED"}
    made.truncated.write_bytes(made.glb.read_bytes()[:5000])
    made.text_as_fbx.write_text("shopping list: bread, milk\n")
    meta = ["--name", "Vrm Avatar", "--author", "Vera Author", "--version", "3"]
    done = run_forge("export", "--blend", demo_blend, "--preset", QUICK, "--out", made.vrm, *meta,
                     user_resources=user_resources)  # fmt: skip
    assert done.code == 0, done.stderr
    return made


def _armature_bones(name: str) -> set[str]:
    return {b.name for b in bpy.data.objects[name].data.bones}  # type: ignore[union-attr]


@pytest.mark.parametrize("kind", ["glb", "fbx", "vrm", "blend"])
def test_each_format_imports_the_avatar_with_every_bone_and_its_body(empty_scene, inputs, kind):
    path: Path = getattr(inputs, kind)
    result = avatar_import.import_avatar(path)
    assert result.path == path and result.format == kind
    assert result.armature is not None and bpy.data.objects[result.armature].type == "ARMATURE"
    assert set(result.objects) == {o.name for o in bpy.data.objects}  # the scene was empty
    bodies = [bpy.data.objects[n] for n in result.objects if n.startswith("AvatarBody")]
    assert len(bodies) == 1 and len(bodies[0].data.vertices) > 8_000  # type: ignore[union-attr]
    bones = _armature_bones(result.armature)
    if kind == "fbx":
        leaves = {b for b in bones if b.endswith("_end")}
        assert len(bones) == DEMO_BONES + len(leaves) and len(leaves) >= 5  # no bone dropped, leaves kept
    else:
        assert len(bones) == DEMO_BONES
    assert result.to_json() == {"path": str(path), "format": kind, "armature": result.armature,
                                "objects": result.objects, "meta": result.meta, "removed": [],
                                "unplayed": []}  # fmt: skip


def test_the_vrm_meta_is_what_the_file_says(empty_scene, inputs):
    meta = avatar_import.import_avatar(inputs.vrm).meta
    assert meta["specVersion"] == "1.0"
    assert (meta["name"], meta["authors"], meta["version"]) == ("Vrm Avatar", ["Vera Author"], "3")
    assert avatar_import.import_avatar(inputs.glb).meta == {}  # a plain glTF has none


@pytest.mark.parametrize("kind", ["fbx", "blend"])
def test_an_fbx_or_blend_names_the_export_after_its_file_and_invents_no_author(empty_scene, inputs, kind, tmp_path):
    result = avatar_import.import_avatar(getattr(inputs, kind))
    stem = getattr(inputs, kind).stem
    assert result.meta == {"title": stem}  # Blender writes no FBX document author; a .blend has none
    out = tmp_path / "Other-name.vrm"
    preset = dataclasses.replace(get_preset("companions-web"), thumbnail=False)
    vrm_export.export_vrm(out, preset, armature_name=result.armature)
    meta = consumers([out])[str(out)]["meta"]
    assert meta["name"] == stem and meta["authors"] == list(preset.meta.authors)


def test_a_vrm0_whose_licence_needs_confirmation_imports_without_any_setting(empty_scene, inputs, monkeypatch):
    monkeypatch.delenv("BLENDER_VRM_AUTOMATIC_LICENSE_CONFIRMATION", raising=False)
    result = avatar_import.import_avatar(inputs.vrm0_no_derivatives)
    assert result.armature is not None and result.meta["specVersion"] == "0.x"
    assert result.meta["licenseName"] == "CC_BY_ND"  # reported, for the user to respect
    assert "BLENDER_VRM_AUTOMATIC_LICENSE_CONFIRMATION" not in os.environ  # set for that one call only


def test_a_blend_keeps_what_its_file_hid_and_its_armature_is_the_one_that_drives_the_body(
    blender, demo_blend, tmp_path
):
    """As a Rigify file arrives: a hidden metarig beside the rig, widget shapes in an excluded collection."""
    open_demo(demo_blend)
    metarig = bpy.data.objects.new("metarig", bpy.data.armatures.new("metarig"))
    scene: Any = bpy.context.scene
    scene.collection.objects.link(metarig)
    widgets = bpy.data.collections.new("WGTS_rig")
    scene.collection.children.link(widgets)
    widgets.objects.link(bpy.data.objects.new("WGT-hips", bpy.data.meshes.new("WGT-hips")))
    metarig.hide_set(True)
    bpy.context.view_layer.layer_collection.children["WGTS_rig"].exclude = True  # type: ignore[union-attr]
    path = tmp_path / "Rigged.blend"
    bpy.ops.wm.save_as_mainfile(filepath=str(path), copy=True)
    bpy.ops.wm.read_homefile(use_empty=True)
    result = avatar_import.import_avatar(path)
    assert result.armature == "Avatar" and {"metarig", "WGT-hips", "AvatarBody"} <= set(result.objects)
    visible = {o.name for o in bpy.data.objects if o.visible_get()}
    assert {"Avatar", "AvatarBody"} <= visible and not {"metarig", "WGT-hips"} & visible
    assert len(bpy.data.scenes) == 1  # the file's scene is not left behind


def test_importing_adds_to_the_scene_and_names_only_what_it_added(blender, inputs, demo_blend):
    open_demo(demo_blend)
    there = {o.name for o in bpy.data.objects}
    result = avatar_import.import_avatar(inputs.glb)
    assert not set(result.objects) & there and {o.name for o in bpy.data.objects} == there | set(result.objects)
    assert result.armature not in there


@pytest.mark.parametrize(
    ("kind", "message"),
    [
        ("truncated", "Truncated.glb: GLB header says"),
        ("text_as_fbx", "Notes.fbx: not a binary FBX file"),
        ("no_armature", "Cube.glb: no armature in it (mesh): not a rigged avatar (bare meshes: --rig auto rigs them)"),
    ],
)
def test_a_broken_file_fails_with_one_line_and_leaves_the_scene_as_it_was(blender, inputs, demo_blend, kind, message):
    open_demo(demo_blend)
    objects, collections = {o.name for o in bpy.data.objects}, {c.name for c in bpy.data.collections}
    with pytest.raises(avatar_import.ImportFailedError) as failed:
        avatar_import.import_avatar(getattr(inputs, kind))
    assert str(failed.value).startswith(message) and "\n" not in str(failed.value)
    assert {o.name for o in bpy.data.objects} == objects and {c.name for c in bpy.data.collections} == collections


def test_the_sidebar_and_the_socket_bring_a_bare_mesh_in_for_the_auto_rig(blender, inputs):
    """What a generator hands over has no armature: the sidebar's Import and the socket's avatar_import (the MCP
    tool's) bring it in, the sidebar with its meshes selected for the Auto-rig button, where convert alone
    refuses it (above)."""
    bpy.ops.wm.read_homefile(use_empty=True)
    bpy.ops.object.empty_add()  # something else in the scene, selected: it is left out of the selection
    assert bpy.ops.avatar_forge.import_avatar(filepath=str(inputs.no_armature)) == {"FINISHED"}
    meshes = [o for o in bpy.data.objects if o.type == "MESH"]
    assert meshes and {o.name for o in bpy.context.selected_objects} == {o.name for o in meshes}
    assert bpy.context.active_object in meshes
    bpy.ops.wm.read_homefile(use_empty=True)
    imported = avatar_commands.routed("avatar_import")({"path": str(inputs.no_armature)}, ServerConfig())
    assert imported["armature"] is None and imported["objects"] == [o.name for o in bpy.data.objects]


def test_a_path_that_is_not_a_model_file_is_refused_before_reading(empty_scene, tmp_path):
    notes = tmp_path / "notes.txt"
    notes.write_text("x")
    with pytest.raises(ValueError, match=r"notes.txt is not a model file: Avatar Forge imports \.vrm, \.glb"):
        avatar_import.import_avatar(notes)
    with pytest.raises(avatar_import.ImportFailedError, match=r"missing\.fbx: no such file"):
        avatar_import.import_avatar(tmp_path / "missing.fbx")


def test_the_sidebar_button_imports_as_one_undo_step_and_shows_the_check(blender, inputs):
    bpy.ops.wm.read_homefile(use_empty=True)
    window_manager: Any = bpy.context.window_manager
    state = window_manager.avatar_forge_rig
    state.checked, state.armature = False, ""
    state.findings.clear()
    assert bpy.ops.avatar_forge.import_avatar(filepath=str(inputs.fbx)) == {"FINISHED"}
    armature = next(o.name for o in bpy.data.objects if o.type == "ARMATURE")
    # The Rig panel shows the imported rig's findings at once, as its Check button would.
    shown = sorted(f.finding_id for f in state.findings)
    assert state.checked and state.armature == armature and "mapping_not_stored" in shown
    assert bpy.ops.avatar_forge.check_rig() == {"FINISHED"}
    assert sorted(f.finding_id for f in state.findings) == shown
    with pytest.raises(RuntimeError, match=r"Notes\.fbx: not a binary FBX file"):
        bpy.ops.avatar_forge.import_avatar(filepath=str(inputs.text_as_fbx))


# --- forge.py convert ---------------------------------------------------------------------------------------


def _fingerprint(folder: Path) -> dict[str, tuple[str, int]]:
    """Every file in a folder and its subfolders: sha256 and mtime (ns), to prove convert never writes its inputs."""
    files = (p for p in folder.rglob("*") if p.is_file())
    return {
        str(p.relative_to(folder)): (hashlib.sha256(p.read_bytes()).hexdigest(), p.stat().st_mtime_ns) for p in files
    }


@dataclasses.dataclass
class Batch:
    source: Path
    out: Path
    before: dict[str, tuple[str, int]]
    after: dict[str, tuple[str, int]]
    code: int
    stderr: str
    report: dict[str, Any]


@pytest.fixture(scope="module")
def batch(inputs: Inputs, user_resources: Path, tmp_path_factory: pytest.TempPathFactory) -> Batch:
    """A folder of three good models and two broken files, converted with --fix safe --json."""
    source, out = tmp_path_factory.mktemp("batch"), tmp_path_factory.mktemp("converted")
    for path in (inputs.glb, inputs.fbx, inputs.vrm, inputs.truncated, inputs.text_as_fbx):
        shutil.copy2(path, source / path.name)
    (source / "README.txt").write_text("not a model: skipped")
    before = _fingerprint(source)
    done = run_forge("convert", source, "--out", out, "--preset", QUICK, "--fix", "safe", "--json",
                     user_resources=user_resources, timeout=600)  # fmt: skip
    return Batch(source, out, before, _fingerprint(source), done.code, done.stderr, done.json())


def test_a_folder_converts_every_model_in_order_and_the_broken_ones_fail_alone(batch):
    assert batch.code == 1, batch.stderr  # some failed
    assert "Traceback" not in batch.stderr
    assert chatter(batch.stderr) == []  # each model's process passes on its warnings only, not the importers' INFO
    models = batch.report["models"]
    assert [Path(m["input"]).name for m in models] == ["Fbx.fbx", "Gltf.glb", "Notes.fbx", "Truncated.glb", "Vrm.vrm"]
    ok = {Path(m["input"]).name: m["ok"] for m in models}
    assert ok == {"Fbx.fbx": True, "Gltf.glb": True, "Notes.fbx": False, "Truncated.glb": False, "Vrm.vrm": True}
    assert sorted(p.name for p in batch.out.iterdir()) == ["Fbx.vrm", "Gltf.vrm", "Vrm.vrm"]
    assert batch.report["summary"] == "3 of 5 model(s) converted, 2 failed" and batch.report["ok"] is False
    failed = {Path(m["input"]).name: m["error"] for m in models if not m["ok"]}
    assert failed["Notes.fbx"].startswith("Notes.fbx: not a binary FBX file") and "\n" not in failed["Notes.fbx"]
    assert failed["Truncated.glb"].startswith("Truncated.glb: GLB header says") and "\n" not in failed["Truncated.glb"]
    # Each model has a process of its own (which says "converting 1/1 <name>" too), but a file that is no model
    # fails at once, without one: a folder of broken files starts no Blender for them.
    assert "forge: converting 1/1 Fbx.fbx" in batch.stderr
    assert "converting 1/1 Notes.fbx" not in batch.stderr and "converting 1/1 Truncated.glb" not in batch.stderr


def test_the_inputs_are_never_written(batch):
    assert batch.after == batch.before  # same files, same bytes, same mtimes: nothing added beside them either


def test_the_report_says_findings_before_and_after_the_fixes_and_the_export(batch):
    for model in (m for m in batch.report["models"] if m["ok"]):
        assert model["import"]["path"] == model["input"] and model["import"]["armature"]
        before, after, export = model["before"], model["after"], model["export"]
        assert before["armature"] == after["armature"] == model["import"]["armature"]
        assert after["ok"] is True and export["exported"] is True and export["path"] == model["out"]
        cleared = {(f["id"], tuple(f["objects"])) for f in model["fixed"]}
        assert cleared <= {(f["id"], tuple(f["objects"])) for f in before["findings"] if f["fixable"]}
        assert not cleared & {(f["id"], tuple(f["objects"])) for f in after["findings"]}
        data = Path(model["out"]).read_bytes()
        assert export["sha256"] == hashlib.sha256(data).hexdigest() and export["bytes"] == len(data)
    gltf = next(m for m in batch.report["models"] if m["input"].endswith("Gltf.glb"))
    # Blender's glTF export carries no VRM mapping: the check finds it, the safe fixes store it, the report says so.
    assert "mapping_not_stored" in {f["id"] for f in gltf["fixed"]} and gltf["before"]["auto_mapped"]
    assert "not_grounded" in {f["id"] for f in gltf["fixed"]}  # it floated 25 cm: grounded in the copy only
    assert "not_grounded" in {f["id"] for f in gltf["before"]["findings"]}


def test_three_vrm_loads_every_converted_file_and_the_validator_finds_no_errors(batch):
    files = sorted(batch.out.iterdir())
    summaries = consumers(files)
    for path in files:
        summary = summaries[str(path)]
        assert "error" not in summary, summary.get("error")
        assert summary["validator"]["errors"] == 0, summary["validator"]["error_messages"]
        assert {"hips", "head", "leftHand", "rightFoot"} <= set(summary["humanBones"])
        assert summary["leftHand"][0] > 0.3 and summary["head"][1] > 1.2  # VRM 1.0: left hand at +x; head up
    assert summaries[str(batch.out / "Vrm.vrm")]["meta"]["name"] == "Vrm Avatar"


@pytest.mark.parametrize("kind", ["blend", "glb", "fbx"])
def test_one_model_to_a_named_file_prints_what_it_did_and_nothing_else(inputs, user_resources, tmp_path, kind):
    model: Path = getattr(inputs, kind)
    out = tmp_path / "Mine.vrm"
    before = _fingerprint(model.parent)
    done = run_forge("convert", model, "--out", out, "--preset", QUICK, "--fix", "all",
                     user_resources=user_resources)  # fmt: skip
    assert done.code == 0, done.stderr
    # stdout is the report alone: the glTF importer's INFO line per node, the FBX importer's version and
    # Blender's other chatter stay off it (and off stderr), its warnings reach stderr once each.
    assert strays(done) == [], done.stdout + done.stderr
    lines = done.stdout.splitlines()
    assert lines[-1] == "1 of 1 model(s) converted, 0 failed" and len(lines) == 2, lines
    assert lines[0].startswith(f"converted {model.name} -> {out} (") and "findings" in lines[0]
    assert out.read_bytes()[:4] == b"glTF"
    assert _fingerprint(model.parent) == before  # no Avatar.blend1 either


@pytest.mark.parametrize(
    ("case", "message"),
    [
        ("exists", "Gltf.vrm exists; pass --force to replace it"),
        ("input", "is an input: converting would overwrite it"),
        ("two-to-one-file", "is one file but there are 2 models: give a folder"),
        ("same-stem", "Gltf.fbx and Gltf.glb would both be written to Gltf.vrm"),
        ("not-a-model", "notes.txt is not a model file"),
        ("empty-folder", "no model files (.vrm, .glb, .gltf, .fbx, .blend) in this folder"),
        ("no-out-folder", "is neither a .vrm file nor an existing folder"),
        ("bad-fix", "argument --fix: invalid choice"),
        ("file-where-a-subfolder-goes", "sub is a file: the VRMs of the models below it cannot be written there"),
    ],
)
def test_bad_usage_exits_2_with_one_line_and_touches_nothing(inputs, user_resources, tmp_path, case, message):
    models, out = tmp_path / "models", tmp_path / "out"
    models.mkdir()
    out.mkdir()
    glb = models / "Gltf.glb"
    shutil.copy2(inputs.glb, glb)
    extra: list[str | Path] = []
    args: list[str | Path] = [glb]
    if case == "exists":
        (out / "Gltf.vrm").write_bytes(b"precious")
    elif case == "input":
        shutil.copy2(inputs.vrm, models / "Gltf.vrm")
        args, out = [models], models
        extra = ["--force"]  # not even with --force
    elif case == "two-to-one-file":
        shutil.copy2(inputs.fbx, models / "Other.fbx")
        args, out = [models], tmp_path / "one.vrm"
    elif case == "same-stem":
        shutil.copy2(inputs.fbx, models / "Gltf.fbx")
        args = [models]
    elif case == "not-a-model":
        (models / "notes.txt").write_text("x")
        args = [glb, models / "notes.txt"]
    elif case == "empty-folder":
        (tmp_path / "empty").mkdir()
        args = [tmp_path / "empty"]
    elif case == "no-out-folder":
        out = tmp_path / "nowhere"
    elif case == "bad-fix":
        extra = ["--fix", "everything"]
    elif case == "file-where-a-subfolder-goes":
        (models / "sub").mkdir()
        shutil.copy2(inputs.glb, models / "sub" / "Deeper.glb")
        (out / "sub").write_bytes(b"precious")
        args, extra = [models], ["--recursive"]
    before = {p: _fingerprint(p) for p in (models, tmp_path / "out")}
    # What the paths alone decide is refused before Blender loads (in a process where bpy cannot be imported);
    # an output's place needs Blender's preferences (the storage root).
    before_blender = case not in {"exists", "same-stem", "file-where-a-subfolder-goes"}
    done = run_forge("convert", *args, "--out", out, "--preset", QUICK, *extra, user_resources=user_resources,
                     without_bpy=before_blender)  # fmt: skip
    assert done.code == 2, done.stderr
    assert "Traceback" not in done.stderr and message in done.stderr.strip().splitlines()[-1]
    assert {p: _fingerprint(p) for p in before} == before


def test_a_folder_tree_converts_with_recursive_into_the_same_tree(inputs, user_resources, tmp_path):
    models, out = tmp_path / "models", tmp_path / "out"
    (models / "sub").mkdir(parents=True)
    out.mkdir()
    shutil.copy2(inputs.glb, models / "Gltf.glb")
    shutil.copy2(inputs.glb, models / "sub" / "Gltf.glb")  # one name twice: each keeps its own output
    fix = ["--fix", "safe"]  # it floats: grounded, or the export's verification refuses it
    flat = run_forge("convert", models, "--out", out, "--preset", QUICK, *fix, "--json", user_resources=user_resources)
    assert flat.code == 0, flat.stderr
    assert [Path(m["input"]).name for m in flat.json()["models"]] == ["Gltf.glb"]  # the top level only
    (out / "Gltf.vrm").unlink()
    done = run_forge("convert", models, "--out", out, "--preset", QUICK, *fix, "--recursive", "--json",
                     user_resources=user_resources)  # fmt: skip
    assert done.code == 0, done.stderr
    written = {Path(m["input"]).relative_to(models): Path(m["out"]).relative_to(out) for m in done.json()["models"]}
    assert written == {Path("Gltf.glb"): Path("Gltf.vrm"), Path("sub/Gltf.glb"): Path("sub/Gltf.vrm")}
    assert all((out / path).read_bytes()[:4] == b"glTF" for path in written.values())


# --- the socket's avatar_import -----------------------------------------------------------------------------


def test_the_socket_imports_a_model_even_with_execute_code_denied(inputs):
    with Serving("--execute-code", "deny") as server:
        client = server.client()
        result = client.result("avatar_import", path=str(inputs.glb))
        assert result["path"] == str(inputs.glb) and result["format"] == "glb" and result["meta"] == {}
        assert result["armature"] in result["objects"]
        scene = client.result("get_scene_info")
        assert {o["name"] for o in scene["objects"]} >= set(result["objects"])
        vrm = client.result("avatar_import", path=str(inputs.vrm))
        assert vrm["format"] == "vrm" and vrm["meta"]["name"] == "Vrm Avatar"
        for path, message in [
            (str(inputs.text_as_fbx), "Notes.fbx: not a binary FBX file"),
            ("notes/inventory.txt", "'path' must be an absolute path to a model file"),
            (str(inputs.glb.with_suffix(".txt")), "Gltf.txt is not a model file"),
        ]:
            reply = client.request("avatar_import", path=path)
            assert reply["status"] == "error" and message in reply["message"], reply
        assert client.request("avatar_import")["message"] == "'path' must be a non-empty string"
        assert len(client.result("get_scene_info")["objects"]) == len(scene["objects"]) + len(vrm["objects"])


def test_a_file_whose_names_are_not_utf8_fails_with_one_line(inputs, user_resources, tmp_path):
    # A corrupt .blend can hold a name bpy cannot decode: reading it raises deep in the rig check, which
    # surfaced as a traceback and "internal error" instead of the model's own one-line failure.
    data = blend_fields.uncompressed(inputs.blend.read_bytes())
    assert data.count(b"Hips\0") > 0
    corrupt = tmp_path / "Corrupt.blend"
    corrupt.write_bytes(data.replace(b"Hips\0", b"Hi\xff\xfe\0"))
    done = run_forge(
        "convert", corrupt, "--out", tmp_path / "out.vrm", "--preset", QUICK, user_resources=user_resources
    )
    assert done.code == 1, done.stderr
    assert "Corrupt.blend: a name in it is not valid UTF-8 text" in done.stdout
    assert "Traceback" not in done.stderr and not (tmp_path / "out.vrm").exists()
