"""What forge.py prints for names and files that someone else wrote: no terminal control, no traceback."""

from __future__ import annotations

import json
import re
from pathlib import Path

from addon.batch import plan, report
from tests.conftest import run_forge

# Any raw control character but the tab and the line break: what would drive a terminal.
_RAW_CONTROL = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")


def test_a_model_named_to_erase_its_failure_cannot_touch_the_terminal(tmp_path):
    models, out = tmp_path / "models", tmp_path / "out"
    models.mkdir()
    out.mkdir()
    sneaky = "Arm\x1b[2K\rconverted Arm.vrm ok \x1b]0;owned\x07\u202e"
    (models / f"{sneaky}.gltf").write_text("not json")
    run = run_forge("convert", models, "--out", out, "--preset", "companions-web")
    assert run.code == 1, run.stderr
    for text in (run.stdout, run.stderr):
        assert not _RAW_CONTROL.search(text), repr(text)
    failed = next(line for line in run.stdout.splitlines() if line.startswith("FAILED"))
    assert "Arm\\x1b[2K\\x0dconverted Arm.vrm ok \\x1b]0;owned\\x07\\u202e.gltf" in failed
    assert "Arm\\x1b[2K" in run.stderr  # the progress line names it too, escaped


def test_a_gltf_nested_200000_deep_fails_with_one_line(tmp_path):
    deep = tmp_path / "Deep.gltf"
    deep.write_text('{"asset": ' + "[" * 200_000 + "]" * 200_000 + "}")
    out = tmp_path / "out"
    out.mkdir()
    run = run_forge("convert", deep, "--out", out, "--preset", "companions-web")
    assert run.code == 1, run.stderr
    assert "Traceback" not in run.stderr and "internal error" not in run.stderr
    assert "FAILED    Deep.gltf: not a glTF file: the file is nested deeper than 64" in run.stdout


def _shard_report(run: str, shard: int, items: list[dict[str, object]]) -> bytes:
    return report.encode(report.shard_report(run, (shard, 2), {}, items, 1.0))


def _store(dest: Path, run: str, shard: int, stamp: str, data: bytes) -> None:
    key = dest / plan.report_key(run, shard, 2, stamp)
    key.parent.mkdir(parents=True, exist_ok=True)
    key.write_bytes(data)


def test_batch_report_passes_over_forged_and_broken_reports_with_a_line_each(tmp_path):
    run = "r1"
    real = [report.item_result({"id": "A"}, "done", result={"written": "out/A.vrm", "bytes": 10}, seconds=1.0)]
    _store(tmp_path, run, 0, "20260101T000000000000Z", _shard_report(run, 0, real))
    second = [report.item_result({"id": "B"}, "done", result={"written": "out/B.vrm", "bytes": 5}, seconds=1.0)]
    _store(tmp_path, run, 1, "20260101T000000000000Z", _shard_report(run, 1, second))
    # Newer than the real ones: one from another run, one claiming another shard, one not JSON, one
    # nested too deep, one whose item hides a terminal escape in a status-looking reason.
    forged = [report.item_result({"id": "A"}, "failed", reason="forged", seconds=1.0)]
    _store(tmp_path, run, 0, "20260102T000000000000Z", _shard_report("other-run", 0, forged))
    _store(tmp_path, run, 0, "20260103T000000000000Z", _shard_report(run, 1, forged))
    _store(tmp_path, run, 0, "20260104T000000000000Z", b'{"run": "r1", "items": [')
    _store(tmp_path, run, 1, "20260102T000000000000Z", b"[" * 100_000 + b"]" * 100_000)
    done = run_forge("batch-report", "--from", tmp_path, "--json", without_bpy=True)
    assert done.code == 1, done.stderr  # ignored reports: a person looks
    assert "Traceback" not in done.stderr
    merged = done.json()
    assert [(i["id"], i["status"]) for i in merged["items"]] == [("A", "done"), ("B", "done")]
    assert merged["missing_shards"] == [] and not merged["ok"]
    ignored = merged["ignored"]
    assert len(ignored) == 4
    assert "shard-0000-of-0002-20260104T000000000000Z.json: the file is not JSON" in ignored[0]
    assert "it says shard 1 of 2; its name, 0 of 2" in ignored[1]
    assert "it is a report of run 'other-run', not 'r1'" in ignored[2]
    assert "shard-0001-of-0002-20260102T000000000000Z.json: the file is nested deeper than 32" in ignored[3]
    text = run_forge("batch-report", "--from", tmp_path, without_bpy=True)
    assert sum(line.startswith("ignored: ") for line in text.stdout.splitlines()) == 4


def test_batch_report_escapes_what_a_report_says(tmp_path):
    sneaky = report.item_result({"id": "A\x1b[2K\r"}, "failed", reason="x\ndone     A: ok\x1b[1A", seconds=1.0)
    _store(tmp_path, "r1", 0, "20260101T000000000000Z", _shard_report("r1", 0, [sneaky]))
    done = run_forge("batch-report", "--from", tmp_path, without_bpy=True)
    assert done.code == 1, done.stderr
    assert not _RAW_CONTROL.search(done.stdout), repr(done.stdout)
    # One line per item: a line break in a reason cannot forge the next one.
    assert "failed   A\\x1b[2K\\x0d: x\\x0adone     A: ok\\x1b[1A" in done.stdout.splitlines()[0]
    assert (
        json.loads(run_forge("batch-report", "--from", tmp_path, "--json", without_bpy=True).stdout)["items"][0]["id"]
        == "A\x1b[2K\r"
    )
