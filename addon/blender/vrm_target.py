"""What differs between a VRM 1.0 and a VRM 0.x export, held by one object the export chooses once from
the preset's spec version (target()), instead of a branch on the version string at every step.

The VRM Add-on writes VRM 1.0 through Blender's glTF exporter (dense morph targets, its meta's contact
left out, every bone an object hangs from kept: the export rewrites or works around each) and VRM 0.x
through its own writer, which the export leaves as it is.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import bpy

from ..core.presets import SpecVersion
from ..core.rig.findings import Finding
from . import vrm_addon, vrm_expressions


@dataclass(frozen=True)
class VrmTarget:
    version: SpecVersion
    addon_spec: str  # the VRM Add-on's spec_version enum value
    extension: str  # the add-on's property group of this version on the armature ("vrm1", "vrm0")
    thumbnail: str  # the meta's thumbnail property
    map_humanoid: Callable[[bpy.types.Object, dict[str, str]], None]
    carry_expressions: Callable[[bpy.types.Object], list[Finding]]  # the other version's, into this one
    bound_expressions: Callable[[bpy.types.Object], dict[str, list[str]]]
    assign_shape_keys: Callable[[bpy.types.Object, str, list[str]], None]  # armature, mesh name, its keys
    through_gltf: bool  # written by Blender's glTF exporter (VRM 1.0), not by the add-on's own writer

    def meta(self, armature: bpy.types.Object) -> Any:
        """The add-on's meta of this version on `armature`."""
        return getattr(armature.data.vrm_addon_extension, self.extension).meta  # type: ignore[union-attr]

    @property
    def other(self) -> VrmTarget:
        return VRM0 if self is VRM1 else VRM1


VRM1 = VrmTarget(
    "1.0", "1.0", "vrm1", "thumbnail_image", vrm_addon.map_humanoid, vrm_expressions.carry_vrm0_to_vrm1,
    vrm_expressions.bound_vrm1, vrm_expressions.assign_vrm1, through_gltf=True,
)  # fmt: skip
VRM0 = VrmTarget(
    "0.x", "0.0", "vrm0", "texture", vrm_addon.map_humanoid_vrm0, vrm_expressions.carry_vrm1_to_vrm0,
    vrm_expressions.bound_vrm0, vrm_expressions.assign_vrm0, through_gltf=False,
)  # fmt: skip


def target(spec_version: SpecVersion) -> VrmTarget:
    return VRM1 if spec_version == "1.0" else VRM0
