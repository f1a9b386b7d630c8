"""Auto-mapping in every naming convention: the exact VRM mapping, written into the VRM Add-on."""

from __future__ import annotations

import bpy  # noqa: F401  (before addon.blender: bmesh and mathutils exist only after bpy)
import pytest

from addon.blender import rig_check, rig_fixes, vrm_addon
from tests import rigs


@pytest.mark.parametrize("convention", list(rigs.CONVENTIONS))
def test_auto_map_finds_every_bone_in_each_naming_convention(blender, demo_blend, convention):
    avatar = rigs.build_rig(convention, demo_blend)
    before = rig_check.check_rig()
    # The check already uses what the export will: the whole mapping, found from the names.
    assert before.ok and before.ids() == ["mapping_not_stored"]
    assert before.mapping == rigs.expected_mapping(convention)
    assert sorted(before.auto_mapped) == sorted(before.mapping)
    assert vrm_addon.humanoid_mapping(avatar.armature) == {}  # a check alone writes nothing
    rig_fixes.auto_map(avatar.armature)
    assert vrm_addon.humanoid_mapping(avatar.armature) == rigs.expected_mapping(convention)
    after = rig_check.check_rig()
    assert after.ok, after.findings
    assert after.findings == []
