"""`forge.py check` as a user runs it: exit codes, the one JSON document, --fix saving the repaired file."""

from __future__ import annotations

import bpy
import pytest

from tests import rigs
from tests.conftest import run_forge


@pytest.mark.smoke
def test_the_demo_avatar_passes_with_the_documented_json(demo_blend):
    result = run_forge("check", "--blend", demo_blend, "--json")
    assert result.code == 0, result.stderr
    data = result.json()
    assert set(data) == {"ok", "armature", "mapping", "auto_mapped", "fixes", "findings", "stats", "seconds"}
    assert data["ok"] is True and data["armature"] == "Avatar" and data["findings"] == []
    assert data["auto_mapped"] == [] and data["fixes"] == []
    assert data["mapping"]["leftUpperArm"] == "UpperArm.L" and len(data["mapping"]) == 54
    assert set(data["stats"]) == {"vertices", "triangles", "materials", "bones", "textures", "max_texture_size",
                                  "shape_keys"}  # fmt: skip
    assert data["stats"]["bones"] == 54 and 0 < data["seconds"] < 5


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--blend", "missing.blend"], "no such file"),
        (["--armature", "Nobody"], "no armature 'Nobody'"),
        (["--target", "no-such-preset"], "unknown preset 'no-such-preset'"),
    ],
)
def test_bad_input_exits_2_with_one_line(demo_blend, tmp_path, args, message):
    args = [str(tmp_path / a) if a.endswith(".blend") else a for a in args]
    if "--blend" not in args:
        args = ["--blend", str(demo_blend), *args]
    before = demo_blend.read_bytes()
    result = run_forge("check", *args)
    assert result.code == 2
    assert "Traceback" not in result.stderr and message in result.stderr.strip().splitlines()[-1]
    assert demo_blend.read_bytes() == before


def test_a_file_without_an_armature_gives_no_armature_and_exit_1(empty_scene, tmp_path):
    bpy.ops.mesh.primitive_cube_add()
    blend = tmp_path / "cube.blend"
    bpy.ops.wm.save_as_mainfile(filepath=str(blend), copy=True)
    result = run_forge("check", "--blend", blend, "--json")
    assert result.code == 1, result.stderr
    assert [f["id"] for f in result.json()["findings"]] == ["no_armature"]


def test_fix_repairs_and_saves_a_rig_imported_from_mixamo(blender, demo_blend, tmp_path):
    avatar = rigs.build_rig("mixamo", demo_blend)
    avatar.armature.location.z = 0.25
    blend = tmp_path / "imported.blend"
    bpy.ops.wm.save_as_mainfile(filepath=str(blend), copy=True)

    # A rig in a known convention passes as it is: the check uses the mapping the export will use.
    plain = run_forge("check", "--blend", blend, "--json")
    assert plain.code == 0, plain.stderr
    assert [f["id"] for f in plain.json()["findings"]] == ["not_grounded", "mapping_not_stored"]
    assert plain.json()["mapping"] == rigs.expected_mapping("mixamo")
    assert sorted(plain.json()["auto_mapped"]) == sorted(rigs.expected_mapping("mixamo"))

    fixed = run_forge("check", "--blend", blend, "--fix", "--json")
    assert fixed.code == 0, fixed.stderr
    assert fixed.json()["findings"] == [] and fixed.json()["mapping"] == rigs.expected_mapping("mixamo")
    assert fixed.json()["auto_mapped"] == [] and len(fixed.json()["fixes"]) == 2

    again = run_forge("check", "--blend", blend, "--json")  # the fixes were saved into the file
    assert again.code == 0 and again.json()["mapping"]["leftUpperArm"] == "mixamorig:LeftArm"


def test_verbose_prints_what_blender_says_and_only_then(demo_blend):
    quiet = run_forge("check", "--blend", demo_blend)
    loud = run_forge("check", "--blend", demo_blend, "--verbose")
    assert quiet.code == loud.code == 0, quiet.stderr + loud.stderr
    assert "Read blend" not in quiet.stdout + quiet.stderr and "Read blend" in loud.stdout, loud.stdout


def test_fix_without_a_file_is_refused():
    result = run_forge("check", "--fix")
    assert result.code == 2 and "--fix needs a .blend file" in result.stderr
