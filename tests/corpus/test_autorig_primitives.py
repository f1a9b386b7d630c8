"""Auto-rig end to end on humanoids built here, as a user runs it: `forge.py convert MODEL --rig auto --fix all`.

- A humanoid built from cubes and cylinders joined into one mesh (never rigged) rigs, and exports a VRM
  three-vrm loads and the validator passes; its weights are complete, at most 4 per vertex, normalised, and
  never bleed across the body.
- What is no standing humanoid (a chair, a quadruped, two characters side by side, a lying figure) is refused
  with its reason in one line, exit 1, nothing written and the input untouched.
- A folder of bare models, and a batch of them, rig model by model.

(test_autorig.py measures the auto-rig against the artists' own rigs.)
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from pathlib import Path

import bpy
import numpy as np
import pytest

from addon.blender import autorig, avatar_import, rig_reader, vrm_addon
from addon.blender.autorig import read
from addon.core.autorig import plan_rig
from addon.core.rig import humanoid
from tests.conftest import run_forge
from tests.console_lines import strays
from tests.corpus import primitives
from tests.test_vrm_export import consumers

pytestmark = pytest.mark.slow  # a dozen conversions of built humanoids: a minute or two

PRESET = "companions-web"


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.mark.parametrize(
    ("build", "pose"),
    [(primitives.t_pose, "T-pose"), (primitives.person, "A-pose"), (primitives.a_pose, "A-pose")],
    ids=["T-pose", "arms 30 degrees down", "arms 45 degrees down"],
)
def test_a_never_rigged_primitive_humanoid_rigs_and_exports_a_vrm(
    build: Callable[[], None], pose: str, tmp_path: Path
) -> None:
    model = primitives.write_glb(build, tmp_path / "blocky.glb")
    before = _digest(model)
    out = tmp_path / "blocky.vrm"
    done = run_forge("convert", model, "--out", out, "--preset", PRESET, "--fix", "all", "--rig", "auto", "--json")
    assert done.code == 0, done.stdout + done.stderr[-2000:]
    entry = done.json()["models"][0]
    assert entry["rig"]["rigged"] and any(note.startswith(pose) for note in entry["rig"]["notes"]), entry["rig"]
    assert entry["export"]["verification"]["problems"] == [], entry["export"]["verification"]
    assert _digest(model) == before
    summary = consumers([out])[str(out)]
    assert "error" not in summary, summary.get("error")
    assert summary["validator"]["errors"] == 0, summary["validator"]
    assert set(summary["humanBones"]) >= humanoid.REQUIRED_VRM1
    positions = summary["positions"]  # three-vrm: y up, the avatar faces +z, its left at +x
    assert positions["head"][1] > positions["hips"][1] > positions["leftFoot"][1]
    assert positions["leftHand"][0] > positions["leftLowerArm"][0] > positions["leftUpperArm"][0] > 0
    assert positions["rightHand"][0] < positions["rightLowerArm"][0] < positions["rightUpperArm"][0] < 0
    assert positions["hips"][1] > positions["leftLowerLeg"][1] > positions["leftFoot"][1]


def test_auto_leaves_a_rigged_model_alone_and_replace_rigs_it_anew(tmp_path: Path) -> None:
    rigged = tmp_path / "rigged.vrm"
    model = primitives.write_glb(primitives.person, tmp_path / "blocky.glb")
    first = run_forge("convert", model, "--out", rigged, "--preset", PRESET, "--fix", "all", "--rig", "auto")
    assert first.code == 0, first.stderr[-2000:]
    # The report alone on stdout: the importer's INFO lines and bone heat's own output stay off it.
    assert strays(first) == [], first.stdout + first.stderr
    assert first.stdout.splitlines()[0].startswith("auto-rigged ")
    before = _digest(rigged)
    kept = run_forge("convert", rigged, "--out", tmp_path / "kept.vrm", "--preset", PRESET, "--rig", "auto", "--json")
    assert kept.code == 0, kept.stderr[-2000:]
    entry = json.loads(kept.stdout)["models"][0]
    assert entry["rig"] == {"rigged": False, "reason": f"already rigged by '{entry['import']['armature']}'"}
    anew = run_forge("convert", rigged, "--out", tmp_path / "anew.vrm", "--preset", PRESET, "--fix", "all",
                     "--rig", "replace", "--json", "--verbose")  # fmt: skip
    assert anew.code == 0, anew.stderr[-2000:]
    # --verbose shows what Blender says as it says it (the importer's INFO line per node), on stderr with --json.
    assert "glTF import finished" in anew.stderr, anew.stderr[-2000:]
    rig = json.loads(anew.stdout)["models"][0]["rig"]
    assert rig["rigged"] and rig["replaced_armatures"], rig
    assert {p["how"] for p in rig["parts"]} <= {"heat", "proxy", "nearest", "rigid", "shells"}
    assert _digest(rigged) == before


def test_the_weights_are_complete_and_stay_on_their_side_and_region(tmp_path: Path) -> None:
    model = primitives.write_glb(primitives.person, tmp_path / "blocky.glb")
    bpy.ops.wm.read_homefile(use_empty=True)
    vrm_addon.ensure_enabled()
    avatar_import.import_avatar(model, bare_ok=True)
    result = autorig.auto_rig()
    assert result.mapping["leftUpperArm"] == "UpperArm.L" and result.mapping["hips"] == "Hips"
    assert vrm_addon.humanoid_mapping(bpy.data.objects[result.armature]) == result.mapping
    obj = bpy.data.objects[result.bindings[0].mesh]
    bones = result.bones
    mesh = obj.data
    assert isinstance(mesh, bpy.types.Mesh)
    weights = rig_reader.dense_weights(mesh, bones).astype(np.float64)
    co = read.read_part(obj).vertices
    assert np.allclose(weights.sum(axis=1), 1.0, atol=1e-3), "every vertex weighted, normalised"
    assert (weights > 0).sum(axis=1).max() <= 4
    column = {b: i for i, b in enumerate(bones)}
    right = [column[b] for b in bones if b.endswith(".R")]
    left = [column[b] for b in bones if b.endswith(".L")]
    height = co[:, 2].max() - co[:, 2].min()
    assert weights[co[:, 0] > 0.02 * height][:, right].max() == 0, "the avatar's left never follows a right bone"
    assert weights[co[:, 0] < -0.02 * height][:, left].max() == 0, "nor its right a left bone"
    hands = np.abs(co[:, 0]) > 0.6
    assert hands.sum() > 0
    hips_and_legs = [column[b] for b in bones if b in ("Hips", "UpperLeg.L", "UpperLeg.R", "Spine")]
    assert weights[hands][:, hips_and_legs].max() == 0, "a hand never moves the hips"


@pytest.mark.parametrize(
    ("build", "reason"),
    [
        (primitives.chair, "supports reach the floor"),
        (primitives.quadruped, "supports reach the floor"),
        (primitives.pair, "several characters"),
        (primitives.lying, "not standing"),
    ],
    ids=["chair", "quadruped", "two side by side", "lying"],
)
def test_what_is_no_standing_humanoid_is_refused_with_its_reason(
    build: Callable[[], None], reason: str, tmp_path: Path
) -> None:
    model = primitives.write_glb(build, tmp_path / "thing.glb")
    before = _digest(model)
    done = run_forge("convert", model, "--out", tmp_path, "--preset", PRESET, "--rig", "auto")
    assert done.code == 1, done.stdout + done.stderr[-2000:]
    failed = [line for line in done.stdout.splitlines() if line.startswith("FAILED")]
    assert len(failed) == 1 and "thing.glb: not a standing humanoid:" in failed[0] and reason in failed[0], done.stdout
    assert "Traceback" not in done.stderr and strays(done) == [], done.stdout + done.stderr
    assert not (tmp_path / "thing.vrm").exists()
    assert _digest(model) == before


@pytest.mark.parametrize(
    ("build", "thighs", "note"),
    [
        (primitives.touching, 0.055, None),
        (primitives.skirt, 0.09, "a skirt hides the crotch: the legs followed up inside it"),
        (primitives.long_hair, 0.09, None),
    ],
    ids=["thighs touching from the knees up", "skirt to the knees", "long hair to the waist"],
)
def test_what_hides_the_gaps_between_limbs_still_rigs_at_the_right_joints(
    build: Callable[[], None], thighs: float, note: str | None, tmp_path: Path
) -> None:
    """Thighs pressed together, a skirt to the knees, a sheet of hair behind the arms wider than the shoulders:
    the placement finds every limb's joints where the model was built (within 4% of the height, median 2%)."""
    model = primitives.write_glb(build, tmp_path / "figure.glb")
    bpy.ops.wm.read_homefile(use_empty=True)
    avatar_import.import_avatar(model, bare_ok=True)
    plan = plan_rig(read.read_parts([o for o in bpy.data.objects if o.type == "MESH"]))
    m = np.array(plan.to_rig_frame)
    heads = {b.name: np.array(b.head) for b in plan.bones}
    errors = {}
    for side, sign in (("left", 1.0), ("right", -1.0)):
        for bone, at in zip(primitives.JOINTS, primitives.joints(thighs=thighs), strict=True):
            world = np.array([sign * at[0], at[1], at[2]])
            errors[side + bone] = (
                float(np.linalg.norm(heads[side + bone] - (m[:3, :3] @ world + m[:3, 3]))) / plan.height
            )
    report = {k: f"{v:.1%}" for k, v in errors.items()}
    assert max(errors.values()) <= 0.04 and np.median(list(errors.values())) <= 0.02, report
    assert note is None or note in plan.notes, plan.notes


def _person_and_chair(tmp_path: Path) -> tuple[Path, Path]:
    """A folder with a bare humanoid and a bare chair, and an empty output folder."""
    models, out = tmp_path / "models", tmp_path / "out"
    models.mkdir()
    out.mkdir()
    primitives.write_glb(primitives.person, models / "blocky.glb")
    primitives.write_glb(primitives.chair, models / "chair.glb")
    return models, out


def test_a_folder_of_bare_models_is_rigged_model_by_model(tmp_path: Path) -> None:
    # Several models convert each in a process of its own: --rig must reach each of them.
    folder, out = _person_and_chair(tmp_path)
    done = run_forge("convert", folder, "--out", out, "--preset", PRESET, "--fix", "all", "--rig", "auto")
    assert done.code == 1, done.stdout + done.stderr[-2000:]
    assert (out / "blocky.vrm").is_file(), done.stdout
    failed = [line for line in done.stdout.splitlines() if line.startswith("FAILED")]
    assert len(failed) == 1 and "chair.glb: not a standing humanoid:" in failed[0], done.stdout


def test_batch_rigs_each_bare_model_and_reports_how(tmp_path: Path) -> None:
    models, out = _person_and_chair(tmp_path)
    batch = ("batch", "--from", models, "--out", out, "--preset", PRESET, "--fix", "all", "--shard", "0/1", "--json")
    done = run_forge(*batch, "--rig", "auto", timeout=900)
    assert done.code == 1, done.stderr[-2000:]
    report = done.json()
    assert report["settings"]["rig"] == "auto"
    items = {i["id"]: i for i in report["items"]}
    assert items["blocky.glb"]["status"] == "done", items
    rig = items["blocky.glb"]["rig"]
    assert rig["rigged"] is True and rig["bones"] >= len(humanoid.REQUIRED_VRM1), rig
    assert items["chair.glb"]["status"] == "failed"
    assert "chair.glb: not a standing humanoid:" in items["chair.glb"]["reason"]
    assert sorted(p.name for p in out.glob("*.vrm")) == ["blocky.vrm"]
    stored = json.loads(next((out / "batch" / "reports").rglob("*.json")).read_text())
    assert {i["id"]: i.get("rig") for i in stored["items"]}["blocky.glb"] == rig

    # The same batch again skips the rigged model; without --rig the bare model is no avatar to convert.
    again = run_forge(*batch, "--rig", "auto", timeout=900)
    assert {i["id"]: i["status"] for i in again.json()["items"]}["blocky.glb"] == "skipped"
    (tmp_path / "plain").mkdir()
    plain = run_forge(*batch[:4], tmp_path / "plain", *batch[5:], timeout=900)
    blocky = {i["id"]: i for i in plain.json()["items"]}["blocky.glb"]
    assert blocky["status"] == "failed" and "not a rigged avatar" in blocky["reason"], blocky

    # Projects are re-exported with their own rig: --rig is refused there, before anything runs.
    (tmp_path / "root" / "projects").mkdir(parents=True)
    refused = run_forge("batch", "--from", tmp_path / "root" / "projects", "--out", tmp_path / "root",
                        "--preset", PRESET, "--rig", "auto")  # fmt: skip
    assert refused.code == 2 and "--rig auto rigs models to convert" in refused.stderr, refused.stderr
    assert not (tmp_path / "root" / "batch").exists()
