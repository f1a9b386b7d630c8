"""A web avatar in centimetres behind a pose-bone scale (corpus `web/rpm_centimetre_joint.glb`: its root joint
has node scale 0.01, so Blender's glTF importer makes the rest pose 100x too big and shows it through a 0.01
pose-bone scale). The check names the scaled pose, the export refuses it, and `--fix all` makes the rest
pose what the artist sees: the VRM stands in three-vrm as a person, its meshes around its skeleton."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import bpy
import numpy as np
import pytest

from addon.blender import rig_check, vrm_export
from addon.core.presets import get_preset
from tests import invariants
from tests.conftest import QUICK, run_forge
from tests.corpus.conftest import load
from tests.test_vrm_export import consumers

pytestmark = pytest.mark.slow  # imports, fixes and a convert in its own Blender

RPM = "web/rpm_centimetre_joint.glb"
WEB = get_preset("companions-web")
BODY = ("Wolf3D_Body", "Wolf3D_Head", "Wolf3D_Teeth")


def test_the_check_alone_names_the_scaled_pose_and_the_export_refuses_it(empty_scene: Any, corpus: Path) -> None:
    load(bpy, corpus / RPM)
    report = rig_check.check_rig(None, WEB)
    posed = next(f for f in report.findings if f.id == "scaled_pose")
    assert posed.severity == "error" and posed.fix == "structural"
    assert "'Armature' (scale 0.01)" in posed.message
    units = next(f for f in report.findings if f.id == "wrong_units")
    assert not units.fixable and "the scaled_pose fix comes first" in units.message

    # The safe fixes move nothing of it: scaling or grounding the rest pose, measured where the pose does
    # not show it, is what made a 1.5 cm skeleton.
    safe = rig_check.check_rig(None, WEB, fix="safe")
    assert {"scaled_pose", "wrong_units", "not_grounded"} <= set(safe.ids()), safe.ids()
    assert [line for line in safe.fixes if not line.startswith("stored ")] == []
    with pytest.raises(vrm_export.ExportRefusedError, match="scales or moves bones off its rest pose"):
        vrm_export.export_vrm(Path(bpy.app.tempdir) / "refused.vrm", WEB)


def _delta(obj: Any, key: str) -> Any:
    keys = obj.data.shape_keys.key_blocks
    co = np.empty(len(obj.data.vertices) * 3)
    basis = np.empty_like(co)
    keys[key].points.foreach_get("co", co)
    keys[0].points.foreach_get("co", basis)
    return (co - basis).reshape(-1, 3)


def test_the_fix_makes_the_rest_pose_what_the_artist_sees(empty_scene: Any, corpus: Path) -> None:
    load(bpy, corpus / RPM)
    seen = invariants.shown()
    blink = _delta(bpy.data.objects["Wolf3D_Head"], "eyeBlinkLeft")
    low = min(float(seen.vertices[name][:, 2].min()) for name in BODY)

    fixed = rig_check.check_rig(None, WEB, fix="all")
    assert fixed.ok and "scaled_pose" not in fixed.ids() and "wrong_units" not in fixed.ids(), fixed.findings
    assert any(line.startswith("applied the scale and moves of the pose of 'Armature'") for line in fixed.fixes)
    now, rest = invariants.shown(), invariants.snapshot()
    ground = np.array([0.0, 0.0, -low])  # grounding moves the avatar as one, and only that
    for name in BODY:
        assert np.abs(now.vertices[name] - seen.vertices[name] - ground).max() < 1e-5, name
        assert np.abs(rest.vertices[name] - now.vertices[name]).max() < 1e-5, name  # the rest is the look
    ours = [k for k in seen.bones if k.startswith("Armature/")]
    assert max(float(np.abs(now.bones[k] - seen.bones[k] - ground).max()) for k in ours) < 1e-5
    assert max(float(np.abs(rest.bones[k] - now.bones[k]).max()) for k in ours) < 1e-5
    assert invariants.moved(seen, now)["Icosphere"] == 0.0  # not part of the avatar: untouched
    # Shape keys follow the rest pose: the same move, at the size the avatar is seen.
    assert np.abs(_delta(bpy.data.objects["Wolf3D_Head"], "eyeBlinkLeft") - blink * 0.01).max() < 1e-6


@pytest.fixture(scope="module")
def converted(corpus: Path, user_resources: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    out = tmp_path_factory.mktemp("rpm") / "rpm.vrm"
    run = run_forge("convert", corpus / RPM, "--out", out, "--preset", QUICK, "--fix", "all", "--json",
                    user_resources=user_resources)  # fmt: skip
    assert run.code == 0, run.stderr
    report = json.loads(run.stdout)["models"][0]
    return {"report": report, "summary": consumers([out])[str(out)]}


def test_convert_with_fix_all_gives_a_person_sized_skeleton_standing_on_the_ground(converted: dict[str, Any]) -> None:
    assert "scaled_pose" in {f["id"] for f in converted["report"]["fixed"]}
    summary = converted["summary"]
    assert "error" not in summary and summary["validator"]["errors"] == 0
    y = {bone: p[1] for bone, p in summary["positions"].items()}
    feet = min(y["leftFoot"], y["rightFoot"])
    assert 0.9 < y["hips"] < 1.0 and y["head"] > 1.3 and 0.0 <= feet < 0.1, y
    # The meshes, as three.js skins them, stand on the ground around that skeleton.
    low, high = summary["meshBounds"]["min"][1], summary["meshBounds"]["max"][1]
    assert abs(low) < 0.01 and 1.4 < high < 1.6 and low < feet < y["hips"] < y["head"] < high
