"""The batch's pure parts: shards, the plan, the reports (no Blender, no storage)."""

from __future__ import annotations

from typing import Any

import pytest

from addon.batch import plan, report
from addon.batch.shards import Shard, parse_shard, select, shard_of


def test_shard_parsing_takes_i_of_n_and_refuses_the_rest():
    assert parse_shard("2/5") == Shard(2, 5)
    for bad in ("5/5", "-1/3", "1", "a/b", "0/0", "1/2/3"):
        with pytest.raises(ValueError, match="--shard"):
            parse_shard(bad)


def test_shards_split_a_list_completely_and_disjointly_and_stably():
    ids = [f"Model-{i}" for i in range(200)]
    taken = [select(ids, ids, Shard(i, 4)) for i in range(4)]
    assert sorted(x for part in taken for x in part) == sorted(ids)
    assert all(len(part) > 20 for part in taken)  # a hash, not one shard taking everything
    # The same on every machine: not Python's salted hash().
    assert shard_of("Companion-A", 7) == int.from_bytes(__import__("hashlib").sha256(b"Companion-A").digest()[:8]) % 7


def test_projects_give_each_name_once_at_its_latest_version():
    keys = ["projects/A-v1.blend", "projects/A-v3.blend", "projects/A-v2.blend", "projects/B-v1.blend"]
    keys += ["projects/.B-v2.blend.tmp", "projects/sub/C-v1.blend", "exports/D-v1.vrm", "projects/notes.txt"]
    items = plan.project_items("s3://kasm/blender-avatars", keys)
    assert [(i.id, i.source) for i in items] == [
        ("A", "s3://kasm/blender-avatars/projects/A-v3.blend"),
        ("B", "s3://kasm/blender-avatars/projects/B-v1.blend"),
    ]
    assert {i.kind for i in items} == {"publish"}


def test_conversions_refuse_two_models_with_one_output_before_any_work():
    items = plan.convert_items([("a.glb", "/m/a.glb"), ("b.fbx", "/m/b.fbx")])
    assert [i.output for i in items] == ["a.vrm", "b.vrm"]
    with pytest.raises(ValueError, match=r"both be written to a\.vrm"):
        plan.convert_items([("a.glb", "/m/a.glb"), ("x/a.fbx", "/m/x/a.fbx")])


def test_the_settings_key_changes_with_the_preset_content_the_rig_mode_and_every_version_but_not_the_preset_path():
    preset = {"name": "p", "budgets": {"vertices": 1}, "source": "/here/p.toml"}
    versions = {"avatar_forge": "0.1.0", "vrm_addon": "4.10.2", "blender": "4.5.15 LTS"}
    key = plan.settings_key(preset, None, versions)
    assert plan.settings_key({**preset, "source": "/there/p.toml"}, None, versions) == key
    assert plan.settings_key({**preset, "budgets": {"vertices": 2}}, None, versions) != key
    assert plan.settings_key(preset, "safe", versions) != key
    for name in versions:
        assert plan.settings_key(preset, None, {**versions, name: "9"}) != key
    # --rig makes other files; without it the key is what it was before --rig existed (nothing redone).
    assert (
        len(
            {
                key,
                plan.settings_key(preset, None, versions, "auto"),
                plan.settings_key(preset, None, versions, "replace"),
            }
        )
        == 3
    )
    assert plan.run_id("in/", "out/", "p", None, "auto") != plan.run_id("in/", "out/", "p", None)


def _item(item_id: str, status: str, size: int | None = None) -> dict[str, object]:
    return report.item_result({"id": item_id}, status, reason=None if status == "done" else "why",  # type: ignore[arg-type]
                              result={"written": f"x/{item_id}", "bytes": size}, seconds=1.0)  # fmt: skip


def test_the_merge_takes_each_shards_newest_report_whatever_the_listing_order():
    newer, older = (plan.report_key("r", 0, 3, f"2026010{day}T000000000000Z") for day in (2, 1))
    keys = [older, newer, plan.report_key("r", 2, 3, "20260101T000000000000Z")]
    assert (
        report.per_shard_newest_first(keys)
        == report.per_shard_newest_first(keys[::-1])
        == {0: [newer, older], 2: [keys[2]]}
    )


def _run_of_three(*shards: list[dict[str, object]] | None) -> dict[str, Any]:
    """The merge of a run of three shards, of which these reported (by index, None for a missing one)."""
    reports = [report.shard_report("r", (i, 3), {}, items, 2.0) for i, items in enumerate(shards) if items is not None]
    return report.merge("r", reports)


def test_a_merge_of_every_shard_each_item_once_and_done_is_ok():
    merged = _run_of_three([_item("A", "done", 10)], [_item("B", "skipped", 5)], [_item("C", "done", 7)])
    assert merged["ok"] and merged["missing_shards"] == [] and merged["duplicates"] == []
    assert merged["totals"] | {"seconds": 0} == {"done": 2, "skipped": 1, "failed": 0, "items": 3, "bytes": 17,
                                                   "seconds": 0}  # fmt: skip


def test_a_merge_with_only_a_shard_missing_is_not_ok_and_names_it():
    merged = _run_of_three([_item("A", "done", 10)], None, [_item("C", "done", 7)])
    assert merged["missing_shards"] == [1] and merged["duplicates"] == [] and merged["totals"]["failed"] == 0
    assert not merged["ok"]
    assert "missing: no report from shard(s) 1" in report.lines(merged)


def test_a_merge_with_only_a_failed_item_is_not_ok():
    merged = _run_of_three([_item("A", "done", 10)], [_item("B", "failed")], [_item("C", "done", 7)])
    assert merged["missing_shards"] == [] and merged["duplicates"] == []
    assert not merged["ok"]
    assert report.lines(merged)[-1].startswith("total: 3 item(s) in 3 shard(s): 2 done, 0 skipped, 1 failed")


def test_a_merge_with_only_an_item_reported_twice_is_not_ok_and_names_it():
    merged = _run_of_three([_item("A", "done", 10)], [_item("B", "done", 5)], [_item("A", "done", 10)])
    assert merged["missing_shards"] == [] and merged["totals"]["failed"] == 0
    assert merged["duplicates"] == ["A"] and not merged["ok"]
    assert "duplicates: A reported by more than one shard" in report.lines(merged)


def test_a_failed_models_line_names_it_once_and_its_report_keeps_the_whole_reason():
    why = "chair.glb: not a standing humanoid: 4 separate supports reach the floor, not two feet"
    failed = report.item_result({"id": "kits/chair.glb"}, "failed", reason=why, seconds=1.0)
    merged = report.merge("r", [report.shard_report("r", (0, 1), {}, [failed], 1.0)])
    assert report.lines(merged)[0] == (
        "failed   kits/chair.glb: not a standing humanoid: 4 separate supports reach the floor, not two feet [1.0 s]"
    )
    assert merged["items"][0]["reason"] == why


def test_the_eta_follows_the_pace_so_far():
    assert report.eta_seconds(0, 10, 5.0) is None
    assert report.eta_seconds(2, 10, 10.0) == 40.0
    assert "2/10 ETA 0:40" in report.progress_line(2, 10, 10.0, "A")


def test_the_batch_and_its_shard_process_run_without_blender():
    # A shard's own process never imports Blender (only its item workers do): a pod's parent stays small.
    import subprocess
    import sys

    from tests.conftest import ROOT

    code = (
        "import sys\n"
        "for name in ('bpy', 'bmesh', 'mathutils', 'addon_utils'): sys.modules[name] = None\n"
        "import addon.batch.plan, addon.batch.report, addon.batch.shards, addon.cli.cmd_batch\n"
    )
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr
