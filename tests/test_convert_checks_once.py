"""convert reads the rig once before its fixes (it read it twice) and starts the export from the check its fixes
ended with (the export read it again): its report is still, finding for finding, what checking anew says,
before the fixes, after them, and at export; the written file passes the same verification. On third-party
avatars of `../shared/corpus` that need several fixes.
"""

from __future__ import annotations

import dataclasses
import shutil
from pathlib import Path
from typing import Any

import pytest

from addon.blender import avatar_import, rig_check, vrm_export
from addon.blender.convert import convert
from addon.core.presets import get_preset
from tests.conftest import ROOT

pytestmark = pytest.mark.slow  # each model is converted, then imported, checked, fixed and exported again

SHARED = ROOT.parent / "shared" / "corpus"
MODELS = ["fbx_quaternius_female_casual.fbx", "glb_robot_expressive.glb"]


def _findings(report: dict[str, Any]) -> list[dict[str, Any]]:
    return sorted(report["findings"], key=lambda f: (f["id"], f.get("objects", [])))


def _without_time(report: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in report.items() if k not in {"seconds", "ms"}}


@pytest.mark.parametrize("name", MODELS)
def test_convert_reports_what_checking_anew_finds_before_and_after_its_fixes_and_at_export(
    empty_scene: Any, name: str, tmp_path: Path
) -> None:
    if not (SHARED / name).is_file():
        pytest.skip(f"the shared corpus is not at {SHARED} (CI has it)")
    model = tmp_path / name
    shutil.copy2(SHARED / name, model)  # importers never get the chance to write beside the original
    preset = dataclasses.replace(get_preset("companions-web"), thumbnail=False)
    entry = convert(model, tmp_path / "converted.vrm", preset, fix="all").to_json()
    assert entry["ok"], entry["error"]
    assert entry["fixed"]  # the model needed fixes: the check after them is not the one before

    empty_scene.ops.wm.read_homefile(use_empty=True)
    armature = avatar_import.import_avatar(model).armature
    before = rig_check.check_rig(armature, preset)
    after = rig_check.check_rig(armature, preset, fix="all")
    assert _without_time(entry["before"]) == _without_time(before.to_json())
    assert _without_time(entry["after"]) == _without_time(after.to_json())
    (tmp_path / "anew").mkdir()  # the same file name: a model without one is named after it
    exported = vrm_export.export_vrm(tmp_path / "anew" / "converted.vrm", preset, armature_name=armature)
    assert _findings(entry["export"]) == _findings(exported.to_json())
    assert entry["export"]["stats"] == exported.stats
    assert _without_time(entry["export"]["verification"]) == _without_time(exported.verification.to_json())
    assert Path(entry["out"]).read_bytes() == exported.path.read_bytes()
