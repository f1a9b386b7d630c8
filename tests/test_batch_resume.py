"""`forge.py batch` run again over what it did before: what it skips, redoes, refuses and reports, each
decided by what DEST holds (the outputs, the queue, the done records under DEST/batch/), never by luck."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import QUICK, ForgeRun, run_forge

pytestmark = pytest.mark.slow


def _batch(source: Path, out: Path, user: Path) -> ForgeRun:
    return run_forge("batch", "--from", source, "--out", out, "--preset", QUICK, "--json", user_resources=user,
                     timeout=900)  # fmt: skip


def _item(run: ForgeRun) -> dict[str, Any]:
    items = run.json()["items"]
    assert len(items) == 1, items
    item: dict[str, Any] = items[0]
    return item


def _files(folder: Path) -> list[str]:
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*") if p.is_file())


def _project(root: Path, demo_blend: Path) -> None:
    """A published model, as a storage root holds it: its .blend and the export made from it."""
    (root / "projects").mkdir(parents=True)
    (root / "exports").mkdir()
    shutil.copyfile(demo_blend, root / "projects" / "Model-v1.blend")
    (root / "exports" / "Model-v1.vrm").write_bytes(b"earlier export")  # its content does not matter here


@pytest.fixture(scope="module")
def converted(tmp_path_factory: pytest.TempPathFactory, demo_blend: Path, user_resources: Path) -> Path:
    """models/Good.blend and the out/ a batch left: Good.vrm converted and recorded as done."""
    root = tmp_path_factory.mktemp("converted")
    (root / "models").mkdir()
    (root / "out").mkdir()
    shutil.copyfile(demo_blend, root / "models" / "Good.blend")
    run = _batch(root / "models", root / "out", user_resources)
    assert run.code == 0, run.stderr
    assert _item(run)["status"] == "done"
    return root


@pytest.fixture
def library(converted: Path, tmp_path: Path) -> Path:
    """The test's own copy of `converted` (file times kept)."""
    return Path(shutil.copytree(converted, tmp_path / "library"))


def test_a_source_changed_after_it_was_done_is_converted_again(library, user_resources, tmp_path):
    models, out = library / "models", library / "out"
    # The artist edits the model and saves it; the earlier conversion is moved aside to make room.
    code = (
        "import bpy, os, sys\n"
        f"bpy.ops.wm.open_mainfile(filepath={str(models / 'Good.blend')!r})\n"
        "bpy.data.objects['Avatar'].location.x += 0.25\n"
        f"bpy.ops.wm.save_mainfile(filepath={str(models / 'Good.blend')!r})\n"
        "sys.stdout.flush(); os._exit(0)\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, timeout=300)
    earlier = (out / "Good.vrm").replace(tmp_path / "Good-earlier.vrm")
    run = _batch(models, out, user_resources)
    assert run.code == 0, run.stderr
    assert _item(run)["status"] == "done"  # not skipped: this content was never done
    again = (out / "Good.vrm").read_bytes()
    assert again[:4] == b"glTF" and again != earlier.read_bytes()


def test_an_output_not_recorded_as_done_is_never_overwritten_and_refused_before_blender_loads(library):
    models, out = library / "models", library / "out"
    shutil.rmtree(out / "batch")  # the batch's records lost: Good.vrm is now a file it did not write
    before = (out / "Good.vrm").read_bytes()
    item = {"id": "Good.blend", "kind": "convert", "source": str(models / "Good.blend"), "output": "Good.vrm"}
    refused = run_forge("batch-item", "--json", "--preset", QUICK, "--item", json.dumps(item), "--out", out,
                        "--settings", "any", timeout=120, without_bpy=True)  # fmt: skip
    assert refused.code == 1, refused.stderr
    assert refused.json() == {"status": "failed", "reason": f"{out / 'Good.vrm'} exists; it is never overwritten"}
    assert (out / "Good.vrm").read_bytes() == before


def test_a_report_that_cannot_be_stored_fails_the_shard(library, user_resources):
    models, out = library / "models", library / "out"
    shutil.rmtree(out / "batch" / "reports")
    (out / "batch" / "reports").write_text("a file where the reports folder goes\n")
    run = _batch(models, out, user_resources)
    assert _item(run)["status"] == "skipped"  # every item fine, and still
    assert run.code == 1, run.stderr
    assert "forge: warning: the report could not be stored: cannot create" in run.stderr
    assert run.json()["report"] is None


@pytest.fixture(scope="module")
def published(tmp_path_factory: pytest.TempPathFactory, demo_blend: Path, user_resources: Path) -> Path:
    """A storage root whose projects/Model-v1.blend a batch re-exported, published and queued."""
    root = tmp_path_factory.mktemp("published")
    _project(root, demo_blend)
    run = _batch(root / "projects", root, user_resources)
    assert run.code == 0, run.stderr
    assert _item(run)["status"] == "done"
    return root


def test_a_publish_recorded_as_done_but_never_queued_is_reported_not_skipped_nor_published_again(
    published, user_resources, tmp_path
):
    root = Path(shutil.copytree(published, tmp_path / "root"))
    (queued,) = (root / "promotion" / "queue").iterdir()
    queued.unlink()  # killed between the upload and the queue entry
    exports = _files(root / "exports")
    run = _batch(root / "projects", root, user_resources)
    assert run.code == 1, run.stderr
    item = _item(run)
    assert item["status"] == "failed"
    assert item["reason"] == (
        f"an earlier run published {queued.stem} but was stopped before queueing it: queue or remove it by hand"
    )
    assert _files(root / "exports") == exports


def test_a_publish_that_cannot_be_queued_fails_and_leaves_nothing_recorded_as_done(
    demo_blend, user_resources, tmp_path
):
    root = tmp_path / "root"
    _project(root, demo_blend)
    (root / "promotion").mkdir()
    (root / "promotion" / "queue").write_text("a file where the queue folder goes\n")
    run = _batch(root / "projects", root, user_resources)
    assert run.code == 1, run.stderr
    item = _item(run)
    assert item["status"] == "failed" and "promotion/queue" in item["reason"], item
    # A rerun is not told the model was done (nor that it was published unqueued): it publishes.
    assert _files(root / "batch" / "done") == []
