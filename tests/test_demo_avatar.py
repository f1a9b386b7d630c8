"""The demo avatar, built in-process with the real bpy and the VRM Add-on."""

from __future__ import annotations

from typing import Any

import bpy
import numpy as np
import pytest

from addon.blender import demo_avatar, render, vrm_addon
from addon.core.demo import look as demo_look
from addon.core.demo import rig as demo_rig
from addon.core.rig import humanoid
from tests import rigs


@pytest.fixture(scope="module")
def avatar(blender):
    bpy.ops.wm.read_homefile(use_empty=True)
    return demo_avatar.build_demo_avatar(1)


def _weights(body):
    """Per vertex: {group name: weight}, read the slow way (fine at 10k vertices)."""
    names = {g.index: g.name for g in body.vertex_groups}
    return [{names[g.group]: g.weight for g in v.groups if g.weight > 0} for v in body.data.vertices]


def test_detail_one_is_about_ten_thousand_vertices(avatar):
    assert 8_000 <= len(avatar.body.data.vertices) <= 12_000


def test_every_vertex_is_weighted_normalized_with_at_most_four_influences(avatar):
    weights = _weights(avatar.body)
    assert all(1 <= len(w) <= 4 for w in weights)
    sums = np.array([sum(w.values()) for w in weights])
    assert np.abs(sums - 1.0).max() < 1e-5
    bones = {b.name for b in avatar.armature.data.bones}
    assert {name for w in weights for name in w} <= bones


def test_body_is_skinned_to_the_armature(avatar):
    modifiers = [m for m in avatar.body.modifiers if m.type == "ARMATURE"]
    assert len(modifiers) == 1 and modifiers[0].object == avatar.armature
    assert avatar.body.parent == avatar.armature


def test_stands_on_the_ground_facing_minus_y(avatar):
    co = np.empty(len(avatar.body.data.vertices) * 3)
    avatar.body.data.vertices.foreach_get("co", co)
    co = co.reshape(-1, 3)
    assert abs(co[:, 2].min()) < 1e-5
    assert 1.6 < co[:, 2].max() < 1.85
    bones = avatar.armature.data.bones
    assert bones["Toes.L"].tail_local[1] < bones["Foot.L"].head_local[1]
    assert bones["Hand.L"].tail_local[0] > 0.7 and bones["Hand.R"].tail_local[0] < -0.7


def test_has_every_expression_shape_key_and_each_moves_something(avatar):
    keys = avatar.body.data.shape_keys.key_blocks
    assert [k.name for k in keys][1:] == list(demo_look.SHAPE_KEYS)
    basis = np.empty(len(keys[0].data) * 3)
    keys[0].data.foreach_get("co", basis)
    for key in list(keys)[1:]:
        co = np.empty_like(basis)
        key.data.foreach_get("co", co)
        assert np.abs(co - basis).max() > 1e-3, key.name


@pytest.mark.smoke
def test_the_avatar_is_built_at_rest_with_no_expression_applied(avatar):
    """Blender 5.0+ creates shape keys at value 1.0: left so, every expression shows at once."""
    keys = avatar.body.data.shape_keys.key_blocks
    assert {k.name: k.value for k in keys} == dict.fromkeys(["Basis", *demo_look.SHAPE_KEYS], 0.0)
    basis = np.empty(len(keys[0].data) * 3)
    keys[0].data.foreach_get("co", basis)
    evaluated = avatar.body.evaluated_get(bpy.context.evaluated_depsgraph_get()).data
    shown = np.empty(len(evaluated.vertices) * 3)
    evaluated.vertices.foreach_get("co", shown)
    assert np.abs(shown - basis).max() < 1e-5


def test_one_material_with_a_packed_image_texture(avatar):
    materials = avatar.body.data.materials
    assert len(materials) == 1
    images = [n.image for n in materials[0].node_tree.nodes if n.type == "TEX_IMAGE"]
    assert len(images) == 1 and images[0].packed_file is not None
    assert tuple(images[0].size) == (1024, 1024)
    assert avatar.body.data.uv_layers.active is not None


def test_vrm_humanoid_mapping_is_written_into_the_vrm_addon(avatar):
    mapping = vrm_addon.humanoid_mapping(avatar.armature)
    assert set(mapping) >= humanoid.REQUIRED_VRM0
    assert mapping["leftUpperArm"] == "UpperArm.L"
    assert mapping["rightThumbMetacarpal"] == "Thumb1.R"


def test_the_vrm_addon_exports_it(avatar, tmp_path):
    out = tmp_path / "demo.vrm"
    result = bpy.ops.export_scene.vrm(filepath=str(out), armature_object_name=avatar.armature.name)
    assert result == {"FINISHED"}
    assert out.read_bytes()[:4] == b"glTF"


def test_detail_out_of_range_is_refused(blender):
    with pytest.raises(ValueError, match="detail"):
        demo_avatar.build_demo_avatar(0)


def test_mapping_stored_in_a_few_passes_is_what_the_addons_setter_stores(avatar):
    """map_humanoid stores what the add-on's bone name setter stores bone by bone, and computes every bone's
    candidates once instead of once per bone (and, from a freshly imported rig's empty cache, recursively):
    on a fresh rig and over another mapping, the add-on then holds what its setter leaves, names, UUIDs,
    candidates and its validation's verdict alike."""
    mapping = demo_rig.vrm_mapping()
    rigs.fresh_humanoid(avatar.armature)
    human_bones = avatar.armature.data.vrm_addon_extension.vrm1.humanoid.human_bones
    for vrm_bone, name in mapping.items():
        getattr(human_bones, humanoid.snake_case(vrm_bone)).node.bone_name = name  # the add-on's own way
    by_setter = rigs.held_humanoid(avatar.armature)
    assert by_setter["errors"] == [] and by_setter["own uuids"]

    rigs.fresh_humanoid(avatar.armature)
    vrm_addon.map_humanoid(avatar.armature, mapping)
    assert rigs.held_humanoid(avatar.armature) == by_setter

    human_bones.head.node.bone_name = "Neck"  # the candidates the add-on holds are now another mapping's
    vrm_addon.map_humanoid(avatar.armature, mapping)
    assert rigs.held_humanoid(avatar.armature) == by_setter

    rigs.fresh_humanoid(avatar.armature)
    vrm_addon.map_humanoid(avatar.armature, {"hips": "Hips", "spine": "Spine", "head": "NoSuchBone"})
    assert vrm_addon.humanoid_mapping(avatar.armature) == {"hips": "Hips", "spine": "Spine"}
    vrm_addon.map_humanoid(avatar.armature, mapping)
    assert vrm_addon.humanoid_mapping(avatar.armature) == mapping


# Blender 5.0 renamed EEVEE Next back to EEVEE.
_EEVEE = "BLENDER_EEVEE" if bpy.app.version >= (5, 0, 0) else "BLENDER_EEVEE_NEXT"


@pytest.mark.parametrize("engine", ["workbench", "cycles"])
def test_rendering_leaves_every_scene_setting_as_it_was(avatar, tmp_path, engine):
    """Thumbnails and previews render through render_still; the artist's scene must not change."""
    scene: Any = bpy.context.scene
    shading = scene.display.shading
    shading.light, shading.color_type = "FLAT", "SINGLE"
    scene.render.engine, scene.render.resolution_x, scene.render.filepath = _EEVEE, 1234, "//mine"
    world, camera = scene.world, scene.camera

    def settings():
        return (shading.light, shading.color_type, scene.render.engine, scene.render.resolution_x,
                scene.render.filepath, scene.render.image_settings.file_format, scene.world, scene.camera,
                scene.cycles.samples, scene.display.render_aa, len(bpy.data.objects), len(bpy.data.worlds))  # fmt: skip

    before = settings()
    out = render.render_still(tmp_path / "shot.png", 48, 48, engine=engine, fxaa=True)
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert settings() == before and scene.world is world and scene.camera is camera
