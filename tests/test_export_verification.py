"""Every export reads back the file it wrote: a file a consumer would show broken is not handed out.

Through the CLI: the demo avatar lifted 1 m off the ground (the rig check only warns, not_grounded) exports
as an avatar floating a metre above the floor: the export refuses it, keeps it beside the output as
`<name>.rejected.vrm`, exits 1 with the reason and publishes nothing. At export_vrm itself, whatever the rig
check learns: a pose-bone scale of 0.01 on the hips (what the glTF importer leaves on a centimetre avatar),
set after the check has passed, exports as a 1.4 cm avatar floating at hip height and is refused.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import pytest

from addon.core.presets import get_preset
from addon.core.vrm.verify import verify_vrm
from tests.conftest import QUICK, run_forge

pytestmark = pytest.mark.slow  # real exports of the demo avatar
SHRUNK_REASON = "the skeleton's head is 0.0142 m above its feet, not a person's 0.5 to 2.5 m"
LIFTED_REASON = "the meshes' lowest point is at y 1 m, not on the ground (y 0, within 5 cm)"


def _shrink_hips(bpy: Any) -> None:
    """The importer's leftover on a centimetre avatar: the hips posed at 1/100 scale."""
    armature = next(o for o in bpy.data.objects if o.type == "ARMATURE")
    armature.pose.bones["Hips"].scale = (0.01, 0.01, 0.01)


@pytest.fixture(scope="module")
def lifted_blend(blender: Any, demo_blend: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The demo avatar with its armature (and the body parented to it) 1 m up."""
    import bpy

    bpy.ops.wm.open_mainfile(filepath=str(demo_blend))
    armature = next(o for o in bpy.data.objects if o.type == "ARMATURE")
    armature.location.z += 1.0
    out = tmp_path_factory.mktemp("lifted") / "Lifted.blend"
    bpy.ops.wm.save_as_mainfile(filepath=str(out), copy=True)
    return out


def test_export_of_a_file_consumers_would_show_broken_exits_1_and_keeps_it_aside(
    lifted_blend, user_resources, tmp_path
):
    out = tmp_path / "Lifted.vrm"
    done = run_forge(
        "export", "--blend", lifted_blend, "--preset", QUICK, "--out", out, "--json", user_resources=user_resources
    )
    assert done.code == 1, done.stderr
    data = done.json()
    assert data["exported"] is False
    assert "the written file fails verification" in data["reason"] and LIFTED_REASON in data["reason"]
    assert "floating above the floor" in data["reason"]
    # A metre up, as three-vrm skins it: the add-on's T-pose raises the demo avatar's feet 2.7 mm more.
    assert data["verification"]["ok"] is False
    assert data["verification"]["mesh_bottom"] == pytest.approx(1.0027, abs=1e-3)
    assert not out.exists()
    rejected = tmp_path / "Lifted.rejected.vrm"
    assert data["rejected"] == str(rejected)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["Lifted.rejected.vrm"]
    assert not verify_vrm(rejected.read_bytes()).ok
    # Without --json: one line with the reasons, no traceback.
    again = run_forge("export", "--blend", lifted_blend, "--preset", QUICK, "--out", out, user_resources=user_resources)
    assert again.code == 1 and LIFTED_REASON in again.stdout + again.stderr
    assert "Traceback" not in again.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["Lifted.rejected-2.vrm", "Lifted.rejected.vrm"]


def test_publish_of_a_file_consumers_would_show_broken_publishes_nothing(lifted_blend, user_resources, tmp_path):
    root = tmp_path / "storage"
    root.mkdir()
    done = run_forge("publish", "--blend", lifted_blend, "--name", "Lifted", "--preset", QUICK, "--root", root,
                     "--json", user_resources=user_resources)  # fmt: skip
    assert done.code == 1, done.stderr
    data = done.json()
    assert data["published"] is False and LIFTED_REASON in data["reason"]
    assert data["verification"]["ok"] is False
    assert [p for p in root.rglob("*") if p.is_file()] == []


def test_export_vrm_refuses_a_file_broken_after_the_rig_check(blender, demo_blend, tmp_path):
    """At export_vrm itself, whatever the rig check learns to catch: the hips shrink after the check has
    passed (as a bug between the check and the writer would), and the written file is refused."""
    import bpy

    from addon.blender import vrm_export

    bpy.ops.wm.open_mainfile(filepath=str(demo_blend))
    out = tmp_path / "Avatar.vrm"
    out.write_bytes(b"the user's own file")
    preset = dataclasses.replace(get_preset("companions-web"), thumbnail=False)

    def progress(_fraction: float, what: str) -> None:
        if what == "writing the VRM":
            _shrink_hips(bpy)

    with pytest.raises(vrm_export.ExportRejectedError) as rejected:
        vrm_export.export_vrm(out, preset, overwrite=True, progress=progress)
    assert SHRUNK_REASON in str(rejected.value)
    assert out.read_bytes() == b"the user's own file"  # --force never replaces a file with a rejected one
    kept = tmp_path / "Avatar.rejected.vrm"
    assert rejected.value.rejected == kept
    assert verify_vrm(kept.read_bytes()).height == pytest.approx(0.0142, abs=1e-3)
    # The same scene without the shrink exports, and says what it verified.
    bpy.ops.wm.open_mainfile(filepath=str(demo_blend))
    result = vrm_export.export_vrm(tmp_path / "Good.vrm", preset)
    assert result.verification.ok and result.to_json()["verification"]["height"] == pytest.approx(1.415, abs=0.01)
