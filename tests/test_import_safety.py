"""An untrusted model at import (convert, the sidebar, the socket, batch all end in import_avatar): it reads
no file outside its own folder, runs none of its Python, then or later, and allocates nothing past what it
holds. The secrets here are files beside the models' folder, as a user's keys are beside their downloads.
"""

from __future__ import annotations

import json
import os
import resource
import shutil
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import bpy  # before addon.blender: bmesh and mathutils exist only after it
import pytest

from addon.blender import avatar_import
from addon.core.models.refs import MAX_VERTICES
from tests.conftest import FORGE, QUICK, run_forge
from tests.server.serving import Serving
from tests.test_convert import _set_glb_json
from tests.test_vrm_export import open_demo

pytestmark = pytest.mark.slow  # module fixtures that export and convert for tens of seconds


@dataclass(frozen=True)
class Models:
    folder: Path  # the models' own folder
    private: Path  # beside it: what no model may read
    secret_bin: Path
    secret_png: Path


def _gltf_json(path: Path, change: Any) -> None:
    document = json.loads(path.read_text())
    change(document)
    path.write_text(json.dumps(document))


@pytest.fixture(scope="module")
def models(blender: Any, demo_blend: Path, tmp_path_factory: pytest.TempPathFactory) -> Models:
    """The demo avatar as a .gltf with its .bin and textures beside it, and models whose URIs reach out."""
    root = tmp_path_factory.mktemp("downloads")
    folder, private = root / "models", root / "private"
    folder.mkdir()
    private.mkdir()
    open_demo(demo_blend)
    good = folder / "Good.gltf"
    assert bpy.ops.export_scene.gltf(filepath=str(good), export_format="GLTF_SEPARATE") == {"FINISHED"}
    assert bpy.ops.export_scene.gltf(filepath=str(private / "Plain.glb"), export_format="GLB") == {"FINISHED"}
    document = json.loads(good.read_text())
    bin_name, png_name = document["buffers"][0]["uri"], document["images"][0]["uri"]
    # The secrets are valid data for the model: an import that read them would succeed, unseen.
    secret_bin, secret_png = private / "secret.bin", private / "secret.png"
    shutil.copyfile(folder / bin_name, secret_bin)
    shutil.copyfile(folder / png_name, secret_png)
    (folder / "link.bin").symlink_to(secret_bin)
    buffer_uris = {"Abs": str(secret_bin), "FileUri": secret_bin.as_uri(), "Climb": "../private/secret.bin",
                   "Percent": "%2E%2E/private/secret.bin", "Link": "link.bin"}  # fmt: skip
    for name, uri in buffer_uris.items():
        shutil.copyfile(good, folder / f"{name}.gltf")
        _gltf_json(folder / f"{name}.gltf", lambda d, uri=uri: d["buffers"][0].update(uri=uri))
    shutil.copyfile(good, folder / "Image.gltf")
    _gltf_json(folder / "Image.gltf", lambda d: d["images"][0].update(uri=str(secret_png)))

    def external_image(d: dict[str, Any]) -> None:
        d["images"][0] = {"uri": str(secret_png), "mimeType": "image/png"}

    for name in ("External.glb", "ExternalVrm.vrm"):
        shutil.copyfile(private / "Plain.glb", folder / name)
        _set_glb_json(folder / name, external_image)
    return Models(folder, private, secret_bin, secret_png)


REFUSED = {
    "Abs.gltf": "buffer 0 URI '{bin}' is an absolute path",
    "FileUri.gltf": "buffer 0 URI 'file://{bin}' has a scheme",
    "Climb.gltf": "buffer 0 URI '../private/secret.bin' climbs out with '..'",
    "Percent.gltf": "buffer 0 URI '%2E%2E/private/secret.bin' climbs out with '..'",
    "Link.gltf": "buffer 0 URI 'link.bin' leads outside the model's folder through a link",
    "Image.gltf": "image 0 URI '{png}' is an absolute path",
    "External.glb": "image 0 URI '{png}' is an absolute path",
    "ExternalVrm.vrm": "image 0 URI '{png}' is an absolute path",
}


def test_a_model_whose_uris_reach_outside_its_folder_is_refused_naming_the_uri_and_nothing_is_written(
    models, user_resources, tmp_path
):
    out = tmp_path / "out"
    out.mkdir()
    named = [models.folder / name for name in REFUSED] + [models.folder / "Good.gltf"]
    done = run_forge("convert", *named, "--out", out, "--preset", QUICK, "--json", user_resources=user_resources)
    assert done.code == 1, done.stderr[-3000:]
    entries = {Path(e["input"]).name: e for e in done.json()["models"]}
    for name, message in REFUSED.items():
        expected = message.format(bin=models.secret_bin, png=models.secret_png)
        error = entries[name]["error"]
        assert error.startswith(f"{name}: {expected}") and "\n" not in error, error
        assert "only data: URIs and files inside its own folder" in error
        assert entries[name]["import"] is None
    assert sorted(p.name for p in out.iterdir()) == ["Good.vrm"]  # the good one, with its siblings, converts
    assert entries["Good.gltf"]["ok"] and entries["Good.gltf"]["import"]["removed"] == []
    # Refused from their bytes, before any Blender: only the good one had a process of its own (which says
    # "converting 1/1 <name>" itself).
    assert [line for line in done.stderr.splitlines() if "converting 1/1 " in line] == [
        "forge: converting 1/1 Good.gltf"
    ]


def _secret_png_image() -> list[str]:
    return [i.name for i in bpy.data.images if Path(bpy.path.abspath(i.filepath)).name == "secret.png"]


@pytest.fixture
def auto_run_scripts(blender: Any) -> Iterator[None]:
    """This Blender with "Auto Run Python Scripts" on, as artists turn it on for rigs with drivers."""
    filepaths: Any = bpy.context.preferences.filepaths  # type: ignore[union-attr]
    filepaths.use_scripts_auto_execute = True
    yield
    filepaths.use_scripts_auto_execute = False


def test_an_fbx_texture_on_a_file_outside_the_folder_is_dropped_and_reported(models, demo_blend, tmp_path):
    open_demo(demo_blend)
    body: Any = bpy.data.objects["AvatarBody"]
    nodes = body.material_slots[0].material.node_tree.nodes
    node = next(n for n in nodes if n.type == "TEX_IMAGE")
    node.image = bpy.data.images.load(str(models.secret_png))  # a file on disk, not packed
    fbx = tmp_path / "Textured.fbx"
    # Its path written relative to the .fbx: `../downloads/private/secret.png`, which Blender's importer reads.
    assert bpy.ops.export_scene.fbx(filepath=str(fbx), path_mode="RELATIVE", embed_textures=False) == {"FINISHED"}
    assert b"../" in fbx.read_bytes() and b"private/secret.png" in fbx.read_bytes()
    bpy.ops.wm.read_homefile(use_empty=True)
    result = avatar_import.import_avatar(fbx)
    assert result.armature is not None
    assert any(f"({models.secret_png}): outside the model's folder" in line for line in result.removed)
    assert _secret_png_image() == []


@dataclass(frozen=True)
class Planted:
    blend: Path
    markers: list[Path]  # what the file's Python would write when it runs

    def ran(self) -> list[str]:
        return [m.name for m in self.markers if m.exists()]


def _plant_scripts(demo_blend: Path, folder: Path, name: str, secret_png: Path | None = None) -> Planted:
    """The demo avatar with Python that leaves evidence: a driver on the armature and one on a shape key
    (full expressions, not Blender's simple ones), and a registered text block the armature refers to (so
    appending the armature brings it)."""
    open_demo(demo_blend)
    markers = [folder / f"{name}-{what}.ran" for what in ("driver", "shape-key", "text")]
    armature: Any = bpy.data.objects["Avatar"]
    body: Any = bpy.data.objects["AvatarBody"]
    armature["probe"] = 0.0
    targets = [
        (armature, '["probe"]'),
        (body.data.shape_keys, f'key_blocks["{body.data.shape_keys.key_blocks[1].name}"].value'),
    ]
    for (owner, path), marker in zip(targets, markers, strict=False):
        driver = owner.driver_add(path).driver
        driver.type = "SCRIPTED"
        driver.expression = f"__import__('pathlib').Path({str(marker)!r}).write_text('ran') and 0.0"
        assert not driver.is_simple_expression
    text = bpy.data.texts.new("rig_ui.py")
    text.write(f"import pathlib\npathlib.Path({str(markers[2])!r}).write_text('ran')\n")
    text.use_module = True
    armature["ui_script"] = text
    if secret_png is not None:
        nodes = body.material_slots[0].material.node_tree.nodes
        next(n for n in nodes if n.type == "TEX_IMAGE").image = bpy.data.images.load(str(secret_png))
    blend = folder / f"{name}.blend"
    bpy.ops.wm.save_as_mainfile(filepath=str(blend), copy=True)
    bpy.ops.wm.read_homefile(use_empty=True)
    return Planted(blend, markers)


@pytest.fixture(scope="module")
def planted_file(blender: Any, demo_blend: Path, models: Models, tmp_path_factory: pytest.TempPathFactory) -> Planted:
    return _plant_scripts(demo_blend, tmp_path_factory.mktemp("planted"), "Driven", models.secret_png)


@pytest.fixture
def planted(planted_file: Planted) -> Planted:
    """The planted file with no evidence yet: each test sees only what its own run left."""
    for marker in planted_file.markers:
        marker.unlink(missing_ok=True)
    return planted_file


def test_a_blend_appended_with_auto_run_on_runs_none_of_its_python_then_or_later(
    planted, models, auto_run_scripts, tmp_path
):
    # Linked data is re-read from its library whenever the file opens: a link to a file outside is one more.
    plain = _plain_blend(tmp_path)
    bpy.ops.wm.open_mainfile(filepath=str(planted.blend), use_scripts=False)
    libraries: Any = bpy.data.libraries
    with libraries.load(str(plain), link=True) as (_source, target):
        target.objects = ["Cube"]
    bpy.context.scene.collection.objects.link(target.objects[0])  # type: ignore[union-attr]
    linking = tmp_path / "Linking.blend"
    bpy.ops.wm.save_as_mainfile(filepath=str(linking), copy=True)
    bpy.ops.wm.read_homefile(use_empty=True)
    result = avatar_import.import_avatar(linking)
    bpy.context.view_layer.update()  # type: ignore[union-attr]  # what export and every redraw do: evaluates drivers
    assert bpy.context.preferences.filepaths.use_scripts_auto_execute  # type: ignore[union-attr]  # as it was
    assert planted.ran() == []
    assert not [t.name for t in bpy.data.texts if t.use_module]
    assert len(bpy.data.libraries) == 0 and "Cube" not in bpy.data.objects
    removed = "\n".join(result.removed)
    for expected in ("text 'rig_ui.py': registered to run as Python", "driver Avatar.[\"probe\"]: a Python expression",
                     "key_blocks[", "library 'Plain.blend'", "secret.png): outside the model's folder"):  # fmt: skip
        assert expected in removed, removed
    assert _secret_png_image() == []
    assert result.armature == "Avatar"


def _plain_blend(folder: Path) -> Path:
    """A .blend with a cube, outside the model's folder."""
    bpy.ops.wm.read_homefile(use_empty=True)
    bpy.ops.mesh.primitive_cube_add()
    path = folder / "elsewhere" / "Plain.blend"
    path.parent.mkdir()
    bpy.ops.wm.save_as_mainfile(filepath=str(path), copy=True)
    return path


def test_convert_of_a_blend_with_auto_run_on_runs_none_of_its_python_and_says_what_it_removed(
    planted, user_resources, tmp_path
):
    out = tmp_path / "Driven.vrm"
    done = run_forge("convert", planted.blend, "--out", out, "--preset", QUICK, "--json",
                     user_resources=user_resources, auto_run_scripts=True)  # fmt: skip
    assert done.code == 0, done.stderr[-3000:]
    assert planted.ran() == []
    removed = done.json()["models"][0]["import"]["removed"]
    assert sum(line.startswith("driver ") for line in removed) == 2 and any("rig_ui.py" in r for r in removed)
    assert out.read_bytes()[:4] == b"glTF"


def test_the_socket_with_execute_code_denied_imports_a_blend_without_running_its_python(planted):
    with Serving("--execute-code", "deny", auto_run_scripts=True) as server:
        client = server.client()
        result = client.result("avatar_import", path=str(planted.blend))
        assert any("rig_ui.py" in line for line in result["removed"])
        client.result("avatar_check_rig")  # reads the evaluated rig
        client.result("get_scene_info")
    assert planted.ran() == []


def test_batch_opening_a_planted_project_runs_none_of_its_python(blender, demo_blend, tmp_path):
    root, planted_in = tmp_path / "bucket", tmp_path / "projects"  # as `batch` fetches a bucket's project
    root.mkdir()
    planted_in.mkdir()
    project = _plant_scripts(demo_blend, planted_in, "Planted-v1")
    item = {"id": "Planted", "kind": "publish", "source": str(project.blend), "output": "Planted"}
    done = run_forge("batch-item", "--item", json.dumps(item), "--preset", "companions-web-lite", "--out", root,
                     "--settings", "s", "--json", auto_run_scripts=True)  # fmt: skip
    assert project.ran() == [], done.stderr[-2000:]
    assert done.code == 0, done.stdout[:1000]


# --- declared sizes -----------------------------------------------------------------------------------------


def _unbacked_positions(models: Models, folder: Path, name: str, count: int) -> Path:
    """The avatar as a .glb whose body's POSITION accessor declares `count` vertices of zeros (no buffer view)."""
    path = folder / name
    shutil.copyfile(models.private / "Plain.glb", path)

    def grow(document: dict[str, Any]) -> None:
        index = document["meshes"][0]["primitives"][0]["attributes"]["POSITION"]
        accessor = document["accessors"][index]
        accessor.pop("bufferView")
        accessor.update(count=count, min=[0, 0, 0], max=[0, 0, 0])

    _set_glb_json(path, grow)
    return path


def _limited(memory_bytes: int) -> None:
    resource.setrlimit(resource.RLIMIT_AS, (memory_bytes, memory_bytes))


def test_a_400_million_vertex_accessor_is_refused_in_one_line_before_allocating(models, user_resources, tmp_path):
    glb = _unbacked_positions(models, tmp_path, "Huge.glb", 400_000_000)
    assert glb.stat().st_size < 2_000_000
    out = tmp_path / "Huge.vrm"
    env = {**os.environ, "BLENDER_USER_RESOURCES": str(user_resources)}
    # Under a memory limit, as a pod runs: allocating what the file declares would end in a traceback.
    done = subprocess.run([sys.executable, str(FORGE), "convert", str(glb), "--out", str(out), "--preset", QUICK],
                          capture_output=True, text=True, env=env, timeout=300, check=False,
                          preexec_fn=lambda: _limited(3 * 1024**3))  # fmt: skip
    assert done.returncode == 1, done.stderr[-2000:]
    last = done.stdout.strip().splitlines()[-2]
    assert last.startswith("FAILED    Huge.glb: accessors ") and "run past their bufferView or are malformed" in last
    assert "Traceback" not in done.stdout + done.stderr and not out.exists()


def test_meshes_over_the_vertex_budget_are_refused_and_the_scene_is_as_it_was(empty_scene, models, tmp_path):
    # Each accessor within the per-accessor bound; all of them together past the budget.
    glb = _unbacked_positions(models, tmp_path, "Dense.glb", MAX_VERTICES + 1)
    with pytest.raises(avatar_import.ImportFailedError) as failed:
        avatar_import.import_avatar(glb)
    message = str(failed.value)
    assert message.startswith("Dense.glb: ") and "\n" not in message
    assert f"its meshes declare {MAX_VERTICES + 1:,} vertices, over the limit of {MAX_VERTICES:,}" in message
    assert len(bpy.data.objects) == 0


def test_a_buffer_declaring_more_than_its_file_holds_is_refused(empty_scene, models, tmp_path):
    folder = tmp_path / "short"
    shutil.copytree(models.folder, folder, ignore=shutil.ignore_patterns("*.gltf", "link.bin"))
    shutil.copyfile(models.folder / "Good.gltf", folder / "Short.gltf")
    document = json.loads((folder / "Short.gltf").read_text())
    (folder / document["buffers"][0]["uri"]).write_bytes(b"\0" * 64)
    with pytest.raises(avatar_import.ImportFailedError, match=r"^Short\.gltf: buffers 0 declare more bytes than"):
        avatar_import.import_avatar(folder / "Short.gltf")


def test_the_users_own_blend_given_with_dash_dash_blend_runs_its_python_only_as_their_preference_says(planted):
    """`--blend` names the user's own file: it opens as Blender opens it, so their rig's drivers work when
    they turned auto-run on, and nothing runs when they did not (Blender's default)."""
    done = run_forge("check", "--blend", planted.blend)
    assert done.code in (0, 1), done.stderr[-2000:]
    assert planted.ran() == []
    done = run_forge("check", "--blend", planted.blend, auto_run_scripts=True)
    assert done.code in (0, 1), done.stderr[-2000:]
    assert planted.ran() == ["Driven-driver.ran", "Driven-shape-key.ran", "Driven-text.ran"]
