"""Models as an artist gets them from someone else: made with the VRM Add-on, with its author's meta and
bound expressions, exported by the VRM Add-on itself, then imported with `bpy.ops.import_scene.vrm`.

    made, imported = authored_vrm0(demo_blend, folder)  # the VRM 0.x as made in Blender, and as imported
    imported = authored_vrm1(demo_blend, folder)        # the imported VRM 1.0

Needs bpy (import bpy before this module).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import bpy
import pytest

from addon.blender import vrm_addon
from addon.core.vrm import glb_meta

TITLE, VERSION, CONTACT, REFERENCE = "Kitsune", "3.2", "mika@example.com", "https://example.com/kitsune"
AUTHOR = "Mika Tanaka"
THUMBNAIL_SIZE = 64
# The 16 bound VRM 0.x groups: (name, preset, the demo shape key it binds); Blush binds a material only.
VRM0_GROUPS: tuple[tuple[str, str, str | None], ...] = (
    ("A", "a", "aa"), ("I", "i", "ih"), ("U", "u", "ou"), ("E", "e", "ee"), ("O", "o", "oh"),
    ("Blink", "blink", "blink"), ("Blink_L", "blink_l", "blinkLeft"), ("Blink_R", "blink_r", "blinkRight"),
    ("Joy", "joy", "happy"), ("Angry", "angry", "angry"), ("Sorrow", "sorrow", "sad"), ("Fun", "fun", "relaxed"),
    ("LookUp", "lookup", "surprised"), ("Surprised", "unknown", "surprised"), ("Smirk", "unknown", "happy"),
    ("Blush", "unknown", None),
)  # fmt: skip
# What consumers call them in VRM 1.0.
VRM1_NAMES = {"aa", "ih", "ou", "ee", "oh", "blink", "blinkLeft", "blinkRight", "happy", "angry", "sad", "relaxed",
              "lookUp", "surprised", "Smirk", "Blush"}  # fmt: skip
KEY_PREFIX = "Shape_"  # shape keys no name rule knows: only the bound groups make them expressions


def _source(demo_blend: Path) -> tuple[bpy.types.Object, bpy.types.Object, Any]:
    """The demo avatar with shape keys renamed out of every naming convention and a thumbnail image."""
    bpy.ops.wm.open_mainfile(filepath=str(demo_blend))
    armature, body = bpy.data.objects["Avatar"], bpy.data.objects["AvatarBody"]
    mesh: Any = body.data
    for key in mesh.shape_keys.key_blocks[1:]:
        key.name = KEY_PREFIX + key.name
    image = bpy.data.images.new("KitsuneThumbnail", THUMBNAIL_SIZE, THUMBNAIL_SIZE)
    image.pixels.foreach_set([0.8] * THUMBNAIL_SIZE * THUMBNAIL_SIZE * 4)
    image.pack()
    return armature, body, image


def _export_and_import(armature: bpy.types.Object, folder: Path, stem: str) -> Path:
    """The VRM Add-on's own export of the scene, imported into an empty file saved as `<stem>.blend`."""
    vrm = folder / f"{stem}.vrm"
    result = bpy.ops.export_scene.vrm(filepath=str(vrm), armature_object_name=armature.name, ignore_warning=True)
    assert result == {"FINISHED"} and vrm.is_file()
    # A VRM 1.0 from UniVRM carries its contact; the VRM Add-on's writer leaves it out (0.x: no change).
    vrm.write_bytes(glb_meta.with_vrm1_meta(vrm.read_bytes(), {"contactInformation": CONTACT}))
    bpy.ops.wm.read_homefile(use_empty=True)
    # For this import only: a setting left in the process would let later tests import unconfirmed licences.
    with pytest.MonkeyPatch.context() as env:
        env.setenv("BLENDER_VRM_AUTOMATIC_LICENSE_CONFIRMATION", "true")
        assert bpy.ops.import_scene.vrm(filepath=str(vrm)) == {"FINISHED"}
    blend = folder / f"{stem}.blend"
    bpy.ops.wm.save_as_mainfile(filepath=str(blend))
    return blend


def authored_vrm0(demo_blend: Path, folder: Path) -> tuple[Path, Path]:
    """A VRM 0.x with a CC BY licence (redistribution allowed), 16 bound groups (presets, custom ones, a
    material bind VRM 1.0 can hold and one it cannot): the .blend it was made in (its VRM 1.0 expressions
    empty), and the same exported and imported by the VRM Add-on (whose importer binds them too)."""
    armature, body, image = _source(demo_blend)
    ext: Any = armature.data
    ext = ext.vrm_addon_extension
    ext.spec_version = "0.0"
    vrm_addon.map_humanoid_vrm0(armature, vrm_addon.humanoid_mapping(armature))
    meta = ext.vrm0.meta
    meta.title, meta.author, meta.version = TITLE, AUTHOR, VERSION
    meta.contact_information, meta.reference, meta.texture = CONTACT, REFERENCE, image
    meta.allowed_user_name, meta.commercial_ussage_name, meta.violent_ussage_name = "Everyone", "Allow", "Allow"
    meta.license_name = "CC_BY"
    groups = ext.vrm0.blend_shape_master.blend_shape_groups
    groups.clear()
    for name, preset, key in VRM0_GROUPS:
        group = groups.add()
        group.name, group.preset_name = name, preset
        if key is not None:
            bind = group.binds.add()
            bind.mesh.mesh_object_name, bind.index, bind.weight = body.name, KEY_PREFIX + key, 1.0
    material = body.material_slots[0].material
    for property_name, values in (("_Color", (1.0, 0.4, 0.4, 1.0)), ("_Cutoff", (0.3,))):
        value = groups["Blush"].material_values.add()
        value.material, value.property_name = material, property_name
        for number in values:
            value.target_value.add().value = number
    made = folder / "kitsune-vrm0-made.blend"
    bpy.ops.wm.save_as_mainfile(filepath=str(made), copy=True)
    return made, _export_and_import(armature, folder, "kitsune-vrm0")


VRM1_AUTHORS = ["Mika Tanaka", "Ren Sato"]
VRM1_META = {
    "copyright_information": "(c) 2026 Mika Tanaka",
    "third_party_licenses": "hair texture by Ren Sato, CC BY 4.0",
    "other_license_url": "https://example.com/kitsune/license",
}


def authored_vrm1(demo_blend: Path, folder: Path) -> Path:
    """A VRM 1.0 with every meta field set, a licence allowing redistribution and modification, and bound
    expressions (presets and a custom one), exported and imported by the VRM Add-on."""
    armature, body, image = _source(demo_blend)
    data: Any = armature.data
    vrm1 = data.vrm_addon_extension.vrm1
    data.vrm_addon_extension.spec_version = "1.0"
    meta = vrm1.meta
    meta.vrm_name, meta.version, meta.contact_information = TITLE, VERSION, CONTACT
    for author in VRM1_AUTHORS:
        meta.authors.add().value = author
    meta.references.add().value = REFERENCE
    for key, value in VRM1_META.items():
        setattr(meta, key, value)
    meta.thumbnail_image = image
    meta.avatar_permission, meta.commercial_usage, meta.credit_notation = "everyone", "corporation", "unnecessary"
    meta.modification, meta.allow_redistribution = "allowModificationRedistribution", True
    for expression, key in (("aa", "aa"), ("blink", "blink"), ("happy", "happy")):
        bind = getattr(vrm1.expressions.preset, expression).morph_target_binds.add()
        bind.node.mesh_object_name, bind.index = body.name, KEY_PREFIX + key
    smirk = vrm1.expressions.custom.add()
    smirk.custom_name = "Smirk"
    bind = smirk.morph_target_binds.add()
    bind.node.mesh_object_name, bind.index = body.name, KEY_PREFIX + "happy"
    return _export_and_import(armature, folder, "kitsune-vrm1")
