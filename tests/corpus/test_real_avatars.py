"""Real avatars in, a correct VRM out: every corpus model (tests/corpus/SOURCES.md) goes through the rig check,
the fixes it needs (`--fix all` where the skeleton needs restructuring) and the export, as a user would.

For each model: the armature chosen, the effective mapping bone by bone against the anatomist's reading in
manifest.toml, bones that must never be mapped, the fix invariants (no vertex or bone moves in the rest pose
beyond what the fix is for: grounding, units, a standing pose made the rest pose), and the exported file on
the real consumers: three-vrm loads it with its required bones in anatomically plausible places, the Khronos
validator finds no error, an imported VRM's meta is kept, and every part of a glTF or VRM sits where three.js
puts it in the source.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import bpy
import numpy as np
import pytest

from addon.blender import rig_check, rig_reader, vrm_addon_exporter, vrm_export
from addon.core.presets import get_preset
from addon.core.rig import humanoid
from tests import invariants
from tests.corpus.conftest import MODELS, load
from tests.mesh_placement import misplaced, placements
from tests.test_vrm_export import consumers

pytestmark = pytest.mark.slow  # module fixtures that export, convert or re-import for tens of seconds

WEB = dataclasses.replace(get_preset("companions-web"), thumbnail=False)
TOLERANCE = 1e-5  # metres
REQUIRED = sorted(humanoid.REQUIRED_VRM1)


def _never_mapped(model: dict[str, Any], mapping: dict[str, str]) -> list[str]:
    prefixes = tuple(model.get("never_map_prefixes", ()))
    return [b for b in mapping.values() if b in model.get("never_map", ()) or (prefixes and b.startswith(prefixes))]


def _expected(model: dict[str, Any], vrm: str) -> set[str]:
    return {model["mapping"][vrm], *model.get("mapping_alternatives", {}).get(vrm, ())}


def _posed_world(obj: Any) -> Any:
    """The mesh as it looks now (its armature's pose applied), in world space."""
    evaluated = obj.evaluated_get(bpy.context.evaluated_depsgraph_get())
    mesh = evaluated.to_mesh()
    co = np.empty(len(mesh.vertices) * 3)
    mesh.vertices.foreach_get("co", co)
    evaluated.to_mesh_clear()
    m = np.array(obj.matrix_world)
    return co.reshape(-1, 3) @ m[:3, :3].T + m[:3, 3]


def _similarity(before: Any, after: Any) -> tuple[float, Any, float]:
    """The scale and offset mapping `before` onto `after` (after = k * before + t), and the worst residual."""
    spread = before - before.mean(axis=0)
    k = float(np.linalg.norm(after - after.mean(axis=0))) / max(float(np.linalg.norm(spread)), 1e-12)
    t = after.mean(axis=0) - k * before.mean(axis=0)
    return k, t, float(np.abs(after - (k * before + t)).max())


@dataclasses.dataclass
class Converted:
    model: dict[str, Any]
    armature_before: str | None
    mapping_before: dict[str, str]
    findings_before: list[str]
    report: Any
    residual: float
    scale: float
    offset: Any
    bones_residual: float
    out: Path
    # Each time the export answered the VRM Add-on's "may the glTF exporter drop the armature node?" from the
    # rig check's weights: (that answer, the add-on's own per-vertex pass on the same scene).
    armature_node_answers: list[tuple[bool, bool]] = dataclasses.field(default_factory=list)


def _convert(model: dict[str, Any], corpus: Path, out_dir: Path) -> Converted:
    bpy.ops.wm.read_homefile(use_empty=True)
    load(bpy, corpus / model["path"])
    before = rig_check.check_rig(None, WEB)
    lying = not model.get("rest_upright", True)
    arm = bpy.data.objects[model["armature"]]
    meshes = sorted(o.name for o in rig_reader.avatar_meshes(arm))
    scene: Any = bpy.context.scene
    others = sorted(o.name for o in scene.objects if o.type == "MESH" and o.name not in meshes)
    looks = {n: _posed_world(bpy.data.objects[n]) if lying else None for n in meshes}
    rest = invariants.snapshot()
    objects = {n: bpy.data.objects[n] for n in [*meshes, *others]}
    fixed = rig_check.check_rig(None, WEB, fix="all")
    after = invariants.snapshot()
    # A fix may rename a mesh (one named like a bone): follow each object to its name now.
    after.vertices = {n: after.vertices[obj.name] for n, obj in objects.items()}
    ref = np.concatenate([looks[n] if lying else rest.vertices[n] for n in meshes])
    now = np.concatenate([after.vertices[n] for n in meshes])
    scale, offset, residual = _similarity(ref, now)
    # Whatever is not part of the avatar (a bone-shape helper, a widget) does not move at all.
    residual = max([residual, *(float(np.abs(after.vertices[n] - rest.vertices[n]).max()) for n in others)])
    bones_residual = 0.0
    ours = [k for k in rest.bones if k.startswith(f"{arm.name}/") and k in after.bones]
    if not lying:  # the avatar's bones keep their rest places up to the same scale and offset
        b0 = np.concatenate([rest.bones[k] for k in ours])
        b1 = np.concatenate([after.bones[k] for k in ours])
        bones_residual = float(np.abs(b1 - (scale * b0 + offset)).max())
    # Another armature (a Rigify metarig) is not touched.
    theirs = [k for k in rest.bones if not k.startswith(f"{arm.name}/")]
    bones_residual = max([bones_residual, *(float(np.abs(after.bones[k] - rest.bones[k]).max()) for k in theirs)])
    out = out_dir / (Path(model["path"]).name.replace(".", "-") + ".vrm")  # one .blend and one .fbx share a stem
    if fixed.ok:
        vrm_export.export_vrm(out, WEB, armature_name=arm.name)
    return Converted(model, before.armature, dict(before.mapping), before.ids(), fixed, residual, scale, offset,
                     bones_residual, out)  # fmt: skip


def _asking_the_addon_too(answers: list[tuple[bool, bool]], ours: Any) -> Any:
    """vrm_addon_exporter's armature-node answer (`ours`: its maker), with the add-on's own answer to the same
    call kept beside."""

    def wrapped(checked: Any, original: Any) -> Any:
        decide = ours(checked, original).__func__

        def both(context: Any, names: list[str]) -> bool:
            answer = bool(decide(context, names))
            answers.append((answer, bool(original(context, names))))
            return answer

        return staticmethod(both)

    return wrapped


@pytest.fixture(scope="module")
def converted(corpus: Path, blender: Any, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Converted]:
    out_dir = tmp_path_factory.mktemp("real-avatars")
    done: dict[str, Converted] = {}
    ours = vrm_addon_exporter._armature_removal_from
    with pytest.MonkeyPatch.context() as patch:
        for m in MODELS:
            answers: list[tuple[bool, bool]] = []
            patch.setattr(vrm_addon_exporter, "_armature_removal_from", _asking_the_addon_too(answers, ours))
            done[m["path"]] = dataclasses.replace(_convert(m, corpus, out_dir), armature_node_answers=answers)
    return done


@pytest.fixture(scope="module")
def loaded(converted: dict[str, Converted]) -> dict[str, dict[str, Any]]:
    files = [c.out for c in converted.values() if c.out.is_file()]
    return consumers(files) if files else {}


IDS = [m["path"] for m in MODELS]
GLTF_IDS = [p for p in IDS if p.endswith((".glb", ".gltf", ".vrm"))]


@pytest.fixture(scope="module")
def placed(converted: dict[str, Converted], corpus: Path) -> dict[str, dict[str, Any]]:
    pairs = [(corpus / p, converted[p].out) for p in GLTF_IDS if converted[p].out.is_file()]
    return placements(pairs) if pairs else {}


@pytest.mark.parametrize("path", GLTF_IDS)
def test_every_part_sits_where_the_source_puts_it(
    converted: dict[str, Converted], placed: dict[str, dict[str, Any]], path: str
) -> None:
    placement = placed[str(converted[path].out)]
    assert misplaced(placement) == {}
    assert placement["nodes"] and placement["only_source"] == []  # every part of the source is there


@pytest.mark.parametrize("path", IDS)
def test_the_armature_that_carries_the_body_is_checked(converted: dict[str, Converted], path: str) -> None:
    assert converted[path].armature_before == converted[path].model["armature"]


@pytest.mark.parametrize("path", IDS)
def test_the_mapping_is_the_anatomists_bone_by_bone(converted: dict[str, Converted], path: str) -> None:
    c = converted[path]
    mapping = c.report.mapping
    wrong = {vrm: mapping.get(vrm) for vrm in c.model["mapping"] if mapping.get(vrm) not in _expected(c.model, vrm)}
    assert wrong == {}, f"{path}: {wrong}"
    assert _never_mapped(c.model, c.mapping_before) == [] and _never_mapped(c.model, mapping) == []
    # Before any fix, what is mapped is already right (rigs needing a structural fix miss bones, never misplace).
    early = {vrm: b for vrm, b in c.mapping_before.items() if vrm in c.model["mapping"]}
    assert all(b in _expected(c.model, vrm) for vrm, b in early.items()), early


@pytest.mark.parametrize("path", IDS)
def test_fixes_move_nothing_but_what_they_are_for(converted: dict[str, Converted], path: str) -> None:
    c = converted[path]
    assert c.report.ok, [f.message for f in c.report.errors()]
    assert "fix_failed" not in c.report.ids()
    assert c.scale == pytest.approx(c.model.get("fix_scale", 1.0), rel=1e-4)
    assert abs(c.offset[:2]).max() < 1e-4 * max(1.0, 1 / c.scale)  # grounding moves up or down only
    assert c.residual < TOLERANCE and c.bones_residual < TOLERANCE


@pytest.mark.parametrize("path", IDS)
def test_the_armature_node_is_dropped_only_where_the_vrm_addon_would(
    converted: dict[str, Converted], path: str
) -> None:
    answers = converted[path].armature_node_answers
    assert len(answers) == 1, answers  # one VRM 1.0 export, one question
    assert answers[0][0] == answers[0][1], answers


@pytest.mark.parametrize("path", IDS)
def test_the_export_loads_in_three_vrm_standing_like_a_person(
    converted: dict[str, Converted], loaded: dict[str, dict[str, Any]], path: str
) -> None:
    c = converted[path]
    summary = loaded[str(c.out)]
    assert "error" not in summary, summary.get("error")
    assert summary["validator"]["errors"] == 0, summary["validator"]["error_messages"]
    assert set(summary["humanBones"]) >= set(REQUIRED)
    y = {bone: p[1] for bone, p in summary["positions"].items()}
    for side in ("left", "right"):
        assert y["hips"] > y[f"{side}LowerLeg"] > y[f"{side}Foot"]
    assert y["head"] > y["spine"] > y["hips"]
    assert summary["leftHand"][0] > 0  # VRM 1.0 faces +z: the character's left is +x
    feet = min(y["leftFoot"], y["rightFoot"])
    assert -0.05 < feet < 0.3 and 0.3 < y["head"] < 3.0  # a person's size, on the ground


@pytest.mark.parametrize("path", [m["path"] for m in MODELS if "meta" in m])
def test_an_imported_vrms_meta_is_kept(
    converted: dict[str, Converted], loaded: dict[str, dict[str, Any]], path: str
) -> None:
    c = converted[path]
    meta = loaded[str(c.out)]["meta"]
    source = c.model["meta"]
    name = source.get("vrm_name") or source.get("title")
    authors = source.get("authors") or [source.get("author")]
    assert meta["name"] == name and meta["authors"] == authors


@pytest.mark.parametrize("path", IDS)
def test_no_placeholder_text_in_any_exported_meta(
    converted: dict[str, Converted], loaded: dict[str, dict[str, Any]], path: str
) -> None:
    meta = loaded[str(converted[path].out)]["meta"]
    texts = [meta["name"], meta.get("version") or "", *meta["authors"]]
    assert all(t and t.strip().casefold() not in {"undefined", "unknown", "null", "none"} for t in texts), meta
