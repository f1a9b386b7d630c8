"""VRM 0.x export writes, with the numpy mesh writer (addon/blender/vrm0_mesh_writer.py), the very file the
VRM Add-on's own per-vertex writer writes: byte for byte on the demo avatar at several details (with a second,
MToon material whose shape key normals are off, and a rigid accessory on a bone with an empty material slot and
a weld that merges vertices differently in one shape key; at detail 3 a modifier that changes the body's weights),
on a vertex weighted under float epsilon (below the rig check, which refuses it), and on every third-party avatar
of `../shared/corpus` that exports to VRM 0.x. The writer takes the weights the rig check read, unless a modifier
may have changed them. Another add-on version writes with its own writer.
"""

from __future__ import annotations

import dataclasses
import json
import shutil
import struct
from pathlib import Path
from typing import Any

import bpy  # before addon.blender: bmesh and mathutils exist only after it
import pytest

from addon.blender import (
    avatar_import,
    demo_avatar,
    rig_check,
    rig_reader,
    vrm0_mesh_writer,
    vrm_addon_exporter,
    vrm_export,
)
from addon.core.presets import get_preset
from tests.conftest import ROOT

pytestmark = pytest.mark.slow  # the add-on's own writer takes tens of seconds per avatar

SHARED = ROOT.parent / "shared" / "corpus"
CORPUS = sorted(p.name for p in SHARED.glob("*") if p.suffix in {".vrm", ".glb", ".fbx"}) if SHARED.is_dir() else []
VRM0 = dataclasses.replace(get_preset("vrm0-legacy"), thumbnail=False)


def _chunks(path: Path) -> tuple[dict[str, Any], bytes]:
    data = path.read_bytes()
    size = struct.unpack_from("<I", data, 12)[0]
    return json.loads(data[20 : 20 + size]), data[28 + size :]


def _accessor_bytes(document: dict[str, Any], binary: bytes, index: int) -> bytes:
    accessor = document["accessors"][index]
    view = document["bufferViews"][accessor["bufferView"]]
    start = view.get("byteOffset", 0) + accessor.get("byteOffset", 0)
    return binary[start : start + view["byteLength"]]


def _assert_same_file(ours: Path, addons: Path) -> None:
    """The two files are equal; when not, the first difference named: the JSON, an accessor, or the layout."""
    document, binary = _chunks(ours)
    expected_document, expected_binary = _chunks(addons)
    assert len(document["accessors"]) == len(expected_document["accessors"])
    for index, accessor in enumerate(expected_document["accessors"]):
        got = _accessor_bytes(document, binary, index)
        assert got == _accessor_bytes(expected_document, expected_binary, index), f"accessor {index}: {accessor}"
    assert document == expected_document
    assert ours.read_bytes() == addons.read_bytes()


def _both_writers(
    out: Path, monkeypatch: pytest.MonkeyPatch, armature: str | None = None
) -> tuple[Path, Path, list[str], list[str]]:
    """The scene exported to VRM 0.x with our mesh writer, then with the add-on's; the objects whose mesh our
    writer wrote, and those whose weights it read again (not taking the rig check's)."""
    written: list[str] = []
    reread: list[str] = []
    write, read = vrm0_mesh_writer._Call.write, rig_reader.dense_weights

    def counted(call: vrm0_mesh_writer._Call) -> int | None:
        written.append(call.obj.name)

        def reading(mesh: bpy.types.Mesh, names: list[str]) -> Any:
            reread.append(call.obj.name)
            return read(mesh, names)

        with monkeypatch.context() as reads:
            reads.setattr(rig_reader, "dense_weights", reading)
            return write(call)

    with monkeypatch.context() as patched:
        patched.setattr(vrm0_mesh_writer._Call, "write", counted)
        ours = vrm_export.export_vrm(out / "ours.vrm", VRM0, armature_name=armature).path
    with monkeypatch.context() as patched:
        patched.setattr(vrm0_mesh_writer, "replacement", lambda _addon, original, _checked: original)
        addons = vrm_export.export_vrm(out / "addon.vrm", VRM0, armature_name=armature).path
    return ours, addons, written, reread


def _second_material(avatar: demo_avatar.DemoAvatar) -> None:
    """The upper half of the body in an MToon material that exports no shape key normals."""
    mesh = avatar.body.data
    assert isinstance(mesh, bpy.types.Mesh)
    material = bpy.data.materials.new("Upper")
    mtoon1 = material.vrm_addon_extension.mtoon1
    mtoon1.enabled = True
    mtoon1.export_shape_key_normals = False
    mesh.materials.append(material)
    top = max(v.co.z for v in mesh.vertices)
    for polygon in mesh.polygons:
        if polygon.center.z > top / 2:
            polygon.material_index = 1


def _weights_edited(avatar: demo_avatar.DemoAvatar) -> None:
    """A modifier after the armature's that takes the square root of the body's weights in one group (one
    that shares vertices with another): the file's weights are no longer those the rig check read."""
    mesh = avatar.body.data
    assert isinstance(mesh, bpy.types.Mesh)
    shared = next(vertex for vertex in mesh.vertices if len(vertex.groups) > 1 and vertex.groups[0].weight < 1)
    edit = avatar.body.modifiers.new("Weights", "VERTEX_WEIGHT_EDIT")
    assert isinstance(edit, bpy.types.VertexWeightEditModifier)
    edit.vertex_group = avatar.body.vertex_groups[shared.groups[0].group].name
    edit.falloff_type = "ROOT"


def _accessory(avatar: demo_avatar.DemoAvatar) -> bpy.types.Object:
    """A rigid hat on the head bone: a grid whose Weld modifier merges its three middle rows, except in the
    shape key that pulls them apart (another vertex count for that key), and whose material slot is empty."""
    bpy.ops.mesh.primitive_grid_add(x_subdivisions=4, y_subdivisions=4, size=0.2)
    hat = bpy.context.active_object
    assert hat is not None and isinstance(hat.data, bpy.types.Mesh)
    hat.name = "Hat"
    head = avatar.armature.data.bones["Head"]  # type: ignore[union-attr]
    hat.location = avatar.armature.matrix_world @ head.tail_local
    hat.parent, hat.parent_type, hat.parent_bone = avatar.armature, "BONE", "Head"
    hat.matrix_world.translation = avatar.armature.matrix_world @ head.tail_local
    middle = [vertex for vertex in hat.data.vertices if abs(vertex.co.y) < 0.06]
    assert middle
    for vertex in middle:
        vertex.co.y *= 0.001  # the three middle rows, a hair apart: the weld merges them
    hat.shape_key_add(name="Basis")
    apart = hat.shape_key_add(name="Apart", from_mix=False)
    for vertex in middle:
        apart.data[vertex.index].co.y = vertex.co.y * 1000
    hat.modifiers.new("Weld", "WELD").merge_threshold = 0.001
    hat.data.materials.append(None)
    return hat


@pytest.mark.parametrize("detail", [1, 3])
def test_the_demo_avatar_exports_to_vrm0_byte_for_byte_as_the_addons_writer(
    empty_scene: Any, detail: int, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    avatar = demo_avatar.build_demo_avatar(detail)
    _second_material(avatar)
    hat = _accessory(avatar)
    if detail == 3:
        _weights_edited(avatar)
    ours, addons, written, reread = _both_writers(tmp_path, monkeypatch)
    assert sorted(written) == sorted([avatar.body.name, hat.name])
    document, _ = _chunks(ours)
    primitives = [p for mesh in document["meshes"] for p in mesh["primitives"]]
    assert len(primitives) >= 3 and any("targets" in p for p in primitives)
    assert any("NORMAL" not in t for p in primitives for t in p.get("targets", []))  # MToon: normals off
    _assert_same_file(ours, addons)
    # The body's weights were the rig check's, except where a modifier changes them (the hat has none).
    assert reread == ([avatar.body.name] if detail == 3 else [])


def test_a_vertex_weighted_under_float_epsilon_is_bound_to_the_hips_as_the_addon_binds_it(
    empty_scene: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The rig check refuses such a vertex: the writers are called below it, on the scene the export set up."""
    avatar = demo_avatar.build_demo_avatar(1)
    vrm_export.export_vrm(tmp_path / "first.vrm", VRM0)  # applies the preset: VRM 0.x, its humanoid
    mesh = avatar.body.data
    assert isinstance(mesh, bpy.types.Mesh)
    for element in mesh.vertices[0].groups:
        element.weight = 1e-20
    found = vrm_addon_exporter.internals()
    assert found is not None
    flags = {"export_invisibles": False, "export_only_selections": False, "export_all_influences": False}
    ours = vrm_addon_exporter.export(found, avatar.armature, "0.x", flags, {})
    with monkeypatch.context() as patched:
        patched.setattr(vrm0_mesh_writer, "replacement", lambda _addon, original, _checked: original)
        addons = vrm_addon_exporter.export(found, avatar.armature, "0.x", flags, {})
    assert ours is not None and addons is not None
    (tmp_path / "ours.vrm").write_bytes(ours)
    (tmp_path / "addon.vrm").write_bytes(addons)
    _assert_same_file(tmp_path / "ours.vrm", tmp_path / "addon.vrm")


@pytest.mark.parametrize("name", CORPUS)
def test_every_corpus_avatar_exports_to_vrm0_byte_for_byte_as_the_addons_writer(
    empty_scene: Any, name: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    model = tmp_path / name
    shutil.copy2(SHARED / name, model)  # importers never get the chance to write beside the original
    imported = avatar_import.import_avatar(model)
    rig_check.check_rig(imported.armature, VRM0, fix="all")
    ours, addons, written, _reread = _both_writers(tmp_path, monkeypatch, imported.armature)
    assert written
    _assert_same_file(ours, addons)


def test_another_addon_version_writes_vrm0_with_its_own_writer(
    empty_scene: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    demo_avatar.build_demo_avatar(1)
    found = vrm_addon_exporter.internals()
    assert found is not None
    vrm0_module = vrm_addon_exporter.sys.modules[found.export_scene.Vrm0Exporter.__module__]
    monkeypatch.delattr(vrm0_module, "generate_evaluated_mesh")  # a version whose writer reads meshes otherwise
    assert vrm_addon_exporter.internals() is None
    monkeypatch.undo()
    monkeypatch.setattr(vrm_addon_exporter, "PINNED_VERSION", (0, 0, 0))
    used: list[bool] = []
    monkeypatch.setattr(vrm0_mesh_writer, "replacement", lambda *_args: used.append(True))
    result = vrm_export.export_vrm(tmp_path / "other.vrm", VRM0)
    assert used == [] and result.verification.ok and result.spec_version == "0.x"


def test_weights_the_rig_check_read_before_the_mesh_lost_a_vertex_are_not_used(
    empty_scene: Any, tmp_path: Path
) -> None:
    """The writer takes the rig check's weights only for a mesh that still has the vertices and groups it read:
    with a read made before a vertex was deleted, it writes what it writes without one."""
    avatar = demo_avatar.build_demo_avatar(1)
    report, model = rig_check.check_and_read(None, VRM0)
    vrm_export.apply_preset(avatar.armature, VRM0, {}, report.mapping, fallback_name="avatar")
    import bmesh  # here: it exists only once bpy is loaded

    mesh = avatar.body.data
    assert isinstance(mesh, bpy.types.Mesh)
    edit = bmesh.new()
    edit.from_mesh(mesh)
    edit.verts.ensure_lookup_table()
    bmesh.ops.delete(edit, geom=[edit.verts[0]], context="VERTS")
    edit.to_mesh(mesh)
    edit.free()
    found = vrm_addon_exporter.internals()
    assert found is not None
    flags = {"export_invisibles": False, "export_only_selections": False, "export_all_influences": False}
    stale = vrm_addon_exporter.export(found, avatar.armature, "0.x", flags, {}, checked=model.meshes)
    fresh = vrm_addon_exporter.export(found, avatar.armature, "0.x", flags, {})
    assert stale is not None and stale == fresh
