"""The built corpus matches its manifest: every file imports into an empty scene with its own importer and
carries the armature, bones, meshes, keys, meta and size the manifest says (manifest.toml, SOURCES.md).

The `corpus` fixture runs build.py once per session (it skips models already built from the same inputs).
Set AVATAR_FORGE_CORPUS to use a corpus built elsewhere.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import bpy as _bpy  # noqa: F401  # before the blender fixture's addon_utils, which exists only after bpy
import pytest

from tests.corpus import build
from tests.corpus.conftest import MODELS, load, run_build

REQUIRED = (
    "hips", "spine", "head", "leftUpperLeg", "rightUpperLeg", "leftLowerLeg", "rightLowerLeg", "leftFoot",
    "rightFoot", "leftUpperArm", "rightUpperArm", "leftLowerArm", "rightLowerArm", "leftHand", "rightHand",
)  # fmt: skip


def carried_meshes(arm: Any) -> list[Any]:
    return [o for o in arm.children if o.type == "MESH"]


def vertical_extent(meshes: list[Any], depsgraph: Any = None) -> float:
    zs = []
    for obj in meshes:
        if depsgraph is None:
            zs += [(obj.matrix_world @ v.co).z for v in obj.data.vertices]
        else:
            evaluated = obj.evaluated_get(depsgraph)
            zs += [(evaluated.matrix_world @ v.co).z for v in evaluated.to_mesh().vertices]
    return float(max(zs) - min(zs))


def test_manifest_is_complete():
    for model in MODELS:
        assert model["format"] == model["path"].rsplit(".", 1)[1], model["path"]
        missing = [bone for bone in REQUIRED if bone not in model["mapping"]]
        assert not missing, f"{model['path']}: no expected bone for {missing}"
        assert model["classes"] and model["wrong"] and model["units"] in ("m", "cm")
    covered = {c for model in MODELS for c in model["classes"]}
    assert covered >= {
        "10.1-armature", "10.2-deform-only", "10.2-hierarchy", "10.2-names", "10.2-scale-free", "10.3-rigid-parts",
        "10.4-shared-mesh", "10.4-scaled-armature", "10.5-legs-from-root", "10.5-ik-feet", "10.6-meta",
        "16.1-expressions", "16.2-shape-key-names", "16.3-units", "16.4-lying-rest", "16.5-name-clash",
        "16.6-makehuman", "16.6-mixamo-no-prefix", "16.6-apose-scale-0.01", "22.1-pose-scale", "22.2-chibi",
    }  # fmt: skip


@pytest.mark.parametrize("model", MODELS, ids=[m["path"] for m in MODELS])
def test_file_matches_manifest(corpus: Path, empty_scene: Any, model: dict[str, Any]) -> None:
    bpy = empty_scene
    path = corpus / model["path"]
    assert path.is_file(), f"{path} not built"
    load(bpy, path)
    arm = bpy.data.objects.get(model["armature"])
    assert arm is not None and arm.type == "ARMATURE", f"no armature {model['armature']!r}"
    bones = arm.data.bones

    # The named armature carries the body: skinned meshes or bone-parented parts; the decoys carry nothing.
    body = carried_meshes(arm)
    assert body, "the armature carries no mesh"
    skinned = [o for o in body if any(m.type == "ARMATURE" and m.object == arm for m in o.modifiers)]
    rigid = [o for o in body if o.parent_type == "BONE"]
    assert skinned or rigid
    for name in model.get("decoys", ()):
        assert bpy.data.objects[name].type == "ARMATURE" and not carried_meshes(bpy.data.objects[name])

    expected = dict(model["mapping"])
    absent = sorted({b for b in expected.values() if b not in bones})
    assert not absent, f"mapped bones missing from {arm.name}: {absent}"
    for human, names in model.get("mapping_alternatives", {}).items():
        assert expected[human] in names and all(n in bones for n in names)
    assert not [b for b in model["never_map"] if b not in bones]
    assert not set(model["never_map"]) & set(expected.values())
    for prefix in model.get("never_map_prefixes", ()):
        assert any(b.name.startswith(prefix) for b in bones)
        assert not [b for b in expected.values() if b.startswith(prefix)]

    # Anatomy, scale-free: hips above knees above feet, head above neck, left hand on the +x side.
    def z(bone: str) -> float:
        return float((arm.matrix_world @ bones[expected[bone]].head_local).z)

    def x(bone: str) -> float:
        return float((arm.matrix_world @ bones[expected[bone]].head_local).x)

    if model["rest_upright"]:
        assert z("hips") > z("leftLowerLeg") > z("leftFoot")
        assert z("head") > z("spine") > z("hips")
        assert x("leftHand") > 0 > x("rightHand")

    height = vertical_extent(body)
    assert height == pytest.approx(model["height_m"], rel=0.02)
    if "posed_height_m" in model:
        posed = vertical_extent(body, bpy.context.evaluated_depsgraph_get())
        assert posed == pytest.approx(model["posed_height_m"], rel=0.02)

    for mesh_name, keys in model.get("shape_keys", {}).items():
        shape_keys = bpy.data.objects[mesh_name].data.shape_keys
        assert shape_keys is not None, mesh_name
        assert [k.name for k in shape_keys.key_blocks][1:] == keys
    for name in model.get("rigid_parts", ()):
        part = bpy.data.objects[name]
        assert part.parent == arm and part.parent_type == "BONE" and not part.modifiers
    for data_name, users in model.get("shared_mesh", {}).items():
        assert {bpy.data.objects[u].data.name for u in users} == {data_name}
    for name in model.get("object_bone_clash", ()):
        assert bpy.data.objects[name].type == "MESH" and name in bones

    # A mapping the file brings (set by the VRM Add-on) is the anatomist's; other files arrive unmapped.
    in_file = mapping_in_file(arm)
    if model.get("mapping_in_file", False):
        assert {bone: in_file.get(bone) for bone in REQUIRED} == {bone: expected[bone] for bone in REQUIRED}
        both = [bone for bone in expected if bone in in_file]
        assert {bone: in_file[bone] for bone in both} == {bone: expected[bone] for bone in both}
    else:
        assert in_file == {}
    if model["format"] == "vrm":
        check_vrm(arm, model)


def mapping_in_file(arm: Any) -> dict[str, str]:
    ext = arm.data.vrm_addon_extension
    if ext.spec_version == "0.0":
        return {h.bone: h.node.bone_name for h in ext.vrm0.humanoid.human_bones if h.node.bone_name}
    bones = ext.vrm1.humanoid.human_bones.human_bone_name_to_human_bone()
    return {name.value: prop.node.bone_name for name, prop in bones.items() if prop.node.bone_name}


def check_vrm(arm: Any, model: dict[str, Any]) -> None:
    ext = arm.data.vrm_addon_extension
    if ext.spec_version == "0.0":
        meta = ext.vrm0.meta
        assert {k: getattr(meta, k) for k in model["meta"]} == model["meta"]
        groups = {g.name: g for g in ext.vrm0.blend_shape_master.blend_shape_groups if g.binds}
        assert {n: g.preset_name for n, g in groups.items()} == model["expressions"]
        assert all(b.index == n for n, g in groups.items() for b in g.binds)
        spring = [b.bone_name for g in ext.vrm0.secondary_animation.bone_groups for b in g.bones]
        assert spring == model["spring_bones"]
    else:
        meta = ext.vrm1.meta
        read = {k: getattr(meta, k) for k in model["meta"]}
        read["authors"] = [a.value for a in meta.authors]
        read["references"] = [r.value for r in meta.references]
        assert read == model["meta"]
        bound = {
            name: [b.index for b in e.morph_target_binds]
            for name, e in ext.vrm1.expressions.all_name_to_expression_dict().items()
            if e.morph_target_binds
        }
        assert bound == {name: [key] for name, key in model["expressions"].items()}


def test_unknown_model_is_one_line_error(tmp_path: Path) -> None:
    done = run_build(tmp_path, "--only=no_such_model")
    assert done.returncode == 1
    known = ", ".join(m.key for m in build.MODELS)
    assert done.stderr.strip().splitlines() == [f"corpus: no model named no_such_model (known: {known})"]
    assert not list(tmp_path.iterdir())


def test_two_builders_of_one_folder_build_a_model_once(tmp_path: Path) -> None:
    """Two test workers (or `make corpus` beside a test run) building one folder: the second waits for the
    first and finds the model up to date, instead of deleting and rewriting the file the first is writing."""
    with ThreadPoolExecutor(2) as pool:
        done = list(pool.map(lambda _: run_build(tmp_path, "--only=makehuman"), range(2)))
    assert [d.returncode for d in done] == [0, 0], [d.stderr for d in done]
    assert sorted(d.stdout.count("corpus: built makehuman") for d in done) == [0, 1]
    assert (tmp_path / "makehuman" / "default_skeleton_lying.fbx").is_file()
