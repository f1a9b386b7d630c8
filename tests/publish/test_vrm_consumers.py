"""The promoter's structural check against the real consumers: what it accepts, three-vrm loads and the
Khronos validator passes; the hardening run's files it rejects, three-vrm cannot load or the validator
finds errors in. (The check itself runs without Node, in the promoter's container.)"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

from addon.core.vrm.inspect import inspect_vrm
from tests.conftest import ROOT
from tests.publish.samples import edited, make_vrm

NODE_DIR = ROOT / "tests" / "node"


def _as_mesh_of_33e9_points(document: dict[str, Any]) -> None:
    document["accessors"][0].update(type="VEC3", count=33 * 10**9)
    document["meshes"] = [{"primitives": [{"attributes": {"POSITION": 0}}]}]
    document["nodes"][0]["mesh"] = 0


def _without_a_scene(document: dict[str, Any]) -> None:
    del document["scenes"], document["scene"]


def _with_a_500_gb_buffer(document: dict[str, Any]) -> None:
    document["buffers"][0]["byteLength"] = 500 * 10**9


def _summaries(files: list[Path]) -> dict[str, dict[str, Any]]:
    done = subprocess.run(
        ["node", "vrm_summary.mjs", *map(str, files)], cwd=NODE_DIR, capture_output=True, text=True, timeout=120,
        check=False,
    )  # fmt: skip
    assert done.stdout.strip(), done.stderr[-2000:]
    return {s["file"]: s for s in json.loads(done.stdout)}


def test_what_the_check_accepts_loads_and_what_it_rejects_does_not(tmp_path):
    cases = {
        "accepted": make_vrm(),
        "points": edited(make_vrm(), _as_mesh_of_33e9_points),
        "sceneless": edited(make_vrm(), _without_a_scene),
        "buffer": edited(make_vrm(), _with_a_500_gb_buffer),
    }
    for name, data in cases.items():
        (tmp_path / f"{name}.vrm").write_bytes(data)
    summaries = _summaries([tmp_path / f"{name}.vrm" for name in cases])
    consumer = {name: summaries[str(tmp_path / f"{name}.vrm")] for name in cases}

    assert inspect_vrm(cases["accepted"]).ok
    assert "error" not in consumer["accepted"] and consumer["accepted"]["validator"]["errors"] == 0
    for name in ("points", "sceneless", "buffer"):
        assert not inspect_vrm(cases[name]).ok, name
    assert "Invalid typed array length" in consumer["points"]["error"]  # three allocates what is declared
    assert "error" in consumer["sceneless"]  # three-vrm finds no scene to hang the humanoid on
    assert consumer["buffer"]["validator"]["errors"] > 0  # three reads past it; the validator does not
