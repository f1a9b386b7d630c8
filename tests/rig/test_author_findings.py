"""Findings about what the author named: shape keys in the conventions artists use, and mesh objects named
like bones (which the VRM Add-on refuses for VRM 0.x, saying so only through its own validation)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import bpy
import pytest

from addon.blender import rig_check, vrm_addon_exporter, vrm_export, vrm_target
from addon.core.presets import get_preset

WEB, LEGACY = get_preset("companions-web"), get_preset("vrm0-legacy")
EXPRESSION_FINDINGS = {"missing_visemes", "missing_blink", "missing_expressions"}


@pytest.fixture
def avatar(blender: Any, demo_blend: Path) -> tuple[bpy.types.Object, bpy.types.Object]:
    bpy.ops.wm.open_mainfile(filepath=str(demo_blend))
    return bpy.data.objects["Avatar"], bpy.data.objects["AvatarBody"]


def _rename_keys(body: bpy.types.Object, names: dict[str, str]) -> None:
    mesh: Any = body.data
    for key in mesh.shape_keys.key_blocks[1:]:
        key.name = names[key.name]


# Demo shape key -> the name each convention gives it.
CONVENTIONS = {
    "vrchat-folders": {"aa": "viseme/aa", "ih": "viseme/ih", "ou": "viseme/ou", "ee": "viseme/e", "oh": "viseme/oh",
                       "blink": "eye/blink", "blinkLeft": "eye/blink_l", "blinkRight": "eye/blink_r",
                       "happy": "face/happy", "angry": "face/angry", "sad": "face/sad", "relaxed": "face/fun",
                       "surprised": "face/surprised"},
    "univrm-sample": {"aa": "lip_a", "ih": "lip_i", "ou": "lip_u", "ee": "lip_e", "oh": "lip_o", "blink": "eye_close",
                      "blinkLeft": "eye_close_L", "blinkRight": "eye_close_R", "happy": "face_happy",
                      "angry": "face_angry", "sad": "face_sad", "relaxed": "face_fun", "surprised": "face_surprised"},
    "oculus-and-mth": {"aa": "viseme_aa", "ih": "viseme_I", "ou": "viseme_U", "ee": "MTH_E", "oh": "MTH_O",
                       "blink": "eyes_closed", "blinkLeft": "Blink_L", "blinkRight": "Blink_R", "happy": "Joy",
                       "angry": "Angry", "sad": "Sorrow", "relaxed": "Fun", "surprised": "Surprised"},
}  # fmt: skip


@pytest.mark.parametrize("convention", CONVENTIONS)
def test_shape_keys_artists_name_count_as_their_expressions(avatar, convention):
    _, body = avatar
    _rename_keys(body, CONVENTIONS[convention])
    found = {f.id for f in rig_check.check_rig(None, WEB).findings}
    assert not found & EXPRESSION_FINDINGS, found


def test_missing_visemes_names_only_the_ones_truly_missing(avatar):
    _, body = avatar
    _rename_keys(body, CONVENTIONS["univrm-sample"] | {"ih": "Wobble", "oh": "Squint"})
    messages = {f.id: f.message for f in rig_check.check_rig(None, WEB).findings}
    assert set(messages) & EXPRESSION_FINDINGS == {"missing_visemes"}
    assert "visemes ih, oh:" in messages["missing_visemes"]


def test_expressions_bound_in_vrm0_groups_count(avatar):
    armature, body = avatar
    _rename_keys(body, {k: f"Shape{i}" for i, k in enumerate(CONVENTIONS["univrm-sample"])})
    assert {f.id for f in rig_check.check_rig(None, WEB).findings} >= EXPRESSION_FINDINGS
    groups = armature.data.vrm_addon_extension.vrm0.blend_shape_master.blend_shape_groups
    for name, preset in (("A", "a"), ("I", "i"), ("U", "u"), ("E", "e"), ("O", "o"), ("Blink", "blink"),
                         ("Joy", "joy"), ("Angry", "angry"), ("Sorrow", "sorrow"), ("Fun", "fun"),
                         ("Surprised", "unknown")):  # fmt: skip
        group = groups.add()
        group.name, group.preset_name = name, preset
        bind = group.binds.add()
        bind.mesh.mesh_object_name, bind.index = body.name, "Shape0"
    assert not {f.id for f in rig_check.check_rig(None, WEB).findings} & EXPRESSION_FINDINGS


def test_a_mesh_named_like_a_bone_is_an_error_for_vrm0_and_the_fix_renames_it(avatar):
    armature, body = avatar
    body.name = "Head"  # the demo armature has a bone "Head"
    report = rig_check.check_rig(None, LEGACY)
    [clash] = [f for f in report.findings if f.id == "object_bone_name_clash"]
    assert clash.severity == "error" and clash.fixable and clash.objects == ("Head",) and not report.ok
    # VRM 1.0 exports it fine: said, not an error.
    [info] = [f for f in rig_check.check_rig(None, WEB).findings if f.id == "object_bone_name_clash"]
    assert info.severity == "info"

    after = rig_check.fix_finding("object_bone_name_clash", None, LEGACY)

    assert "object_bone_name_clash" not in after.ids() and after.ok
    assert body.name == "Head_mesh" and "Head" in armature.data.bones
    # The mesh's place in the VRM data follows it (the add-on refers to meshes by pointer).
    binds = armature.data.vrm_addon_extension.vrm1.expressions.preset.aa.morph_target_binds
    assert all(b.node.mesh_object_name == "Head_mesh" for b in binds)


def test_a_cancelled_export_says_the_vrm_addons_reason(avatar, tmp_path, monkeypatch):
    armature, body = avatar
    body.name = "Head"
    armature.data.vrm_addon_extension.spec_version = "0.0"
    # Through the operator, as with an add-on version other than the pinned one (whose exporter is called
    # below the operator, after our own check has refused such a file already).
    monkeypatch.setattr(vrm_addon_exporter, "internals", lambda: None)
    with pytest.raises(vrm_export.ExportFailedError) as failed:
        vrm_export._run_exporter(armature, LEGACY, vrm_target.VRM0, [])
    message = str(failed.value)
    assert "mesh object and a bone" in message and '"Head"' in message, message
    assert "log" not in message
