"""An FBX that carries a take: Blender's importer has the armature play it, and `convert` still writes the
avatar in its bind pose, not the take's first frame. The take moves a parent bone no VRM humanoid bone
stands for (a root above the hips) and a leg: the same avatar exported without the take is the reference.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import bpy  # before addon.blender: bmesh and mathutils exist only after it
import numpy as np
import numpy.typing as npt
import pytest

from addon.blender import context
from addon.blender.convert import convert
from addon.core.presets import get_preset
from addon.core.vrm import accessors, glb
from tests.test_vrm_export import open_demo

pytestmark = pytest.mark.slow  # two FBX exports and two converts

PRESET = dataclasses.replace(get_preset("companions-web-uncompressed"), thumbnail=False)
TOLERANCE_M = 0.001


def _with_root(armature: bpy.types.Object) -> None:
    """A bone 'Root' at the feet becomes the hips' parent, as game rigs have."""
    context.view_layer().objects.active = armature
    bpy.ops.object.mode_set(mode="EDIT")
    bones = armature.data.edit_bones  # type: ignore[union-attr]
    root = bones.new("Root")
    root.head, root.tail = (0.0, 0.0, 0.0), (0.0, 0.1, 0.0)
    bones["Hips"].parent = root
    bpy.ops.object.mode_set(mode="OBJECT")


def _take(armature: bpy.types.Object) -> None:
    """A take whose frames all move the root and the left leg off their rest (and turn the root)."""
    pose = armature.pose.bones  # type: ignore[union-attr]
    for frame in (1, 10):
        pose["Root"].location = (0.1, 0.05, -0.07)
        pose["Root"].rotation_quaternion = (0.98, 0.0, 0.0, 0.2)
        pose["UpperLeg.L"].location = (0.0, 0.06, 0.04)
        for bone, paths in (("Root", ("location", "rotation_quaternion")), ("UpperLeg.L", ("location",))):
            for path in paths:
                pose[bone].keyframe_insert(path, frame=frame)


def _positions(path: Path) -> list[npt.NDArray[np.float64]]:
    document, binary = glb.read(path.read_bytes())
    return [
        accessors.accessor_array(document, binary, primitive["attributes"]["POSITION"]).astype(np.float64)
        for mesh in document["meshes"]
        for primitive in mesh["primitives"]
    ]


@pytest.fixture(scope="module")
def fbx(blender: Any, demo_blend: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """The demo avatar with a root bone as an FBX without animation (its bind pose) and one with a take."""
    folder = tmp_path_factory.mktemp("takes")
    still, animated = folder / "Still.fbx", folder / "Animated.fbx"
    avatar = open_demo(demo_blend)
    _with_root(avatar.armature)
    assert bpy.ops.export_scene.fbx(filepath=str(still), bake_anim=False) == {"FINISHED"}
    _take(avatar.armature)
    assert bpy.ops.export_scene.fbx(filepath=str(animated), bake_anim=True) == {"FINISHED"}
    return still, animated


def test_an_fbx_playing_a_take_converts_in_its_bind_pose(fbx: tuple[Path, Path], tmp_path: Path) -> None:
    still, animated = fbx
    reference = convert(still, tmp_path / "still.vrm", PRESET, fix="all")
    result = convert(animated, tmp_path / "animated.vrm", PRESET, fix="all")
    assert reference.ok and result.ok, (reference.error, result.error)
    assert reference.imported is not None and reference.imported.unplayed == []
    assert result.imported is not None and len(result.imported.unplayed) == 1  # the take Blender assigned
    assert result.to_json()["import"]["unplayed"] == result.imported.unplayed
    # The same avatar, vertex for vertex: neither the root's move nor the leg's reached the VRM's rest shape.
    written, bind = _positions(tmp_path / "animated.vrm"), _positions(tmp_path / "still.vrm")
    assert [p.shape for p in written] == [p.shape for p in bind]
    worst = max(float(np.abs(a - b).max()) for a, b in zip(written, bind, strict=True))
    assert worst < TOLERANCE_M, f"the VRM's rest mesh is {worst * 1000:.1f} mm off the bind shape"
