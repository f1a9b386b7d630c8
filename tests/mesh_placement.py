"""Where each mesh of a converted avatar sits against where three.js puts it in the source file
(tests/node/mesh_placement.mjs): per glTF node carrying meshes, the nearest-point distances between the
two files' vertex sets, both ways, after the one move convert makes of the whole avatar (metres, grounding,
facing), as a share of the avatar's height."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import ROOT

NODE_DIR = ROOT / "tests" / "node"
# A part on its own place agrees to float noise; a part hung off its bone is 10-20% of the height away.
# A few vertices a conversion may drop or merge are bounded by `WORST`, every part as a whole by `MEAN`.
MEAN = 0.002
WORST = 0.03


def placements(pairs: list[tuple[Path, Path]]) -> dict[str, dict[str, Any]]:
    """For each (source, converted) pair, keyed by the converted file's path: {height, turn, nodes: {name:
    {worst, mean}}, only_source, only_converted} or {error}."""
    if not (NODE_DIR / "node_modules" / "three").is_dir():
        pytest.fail("the VRM consumers are not installed: run `make node` (npm ci in tests/node)")
    command = ["node", "mesh_placement.mjs", *(str(p) for pair in pairs for p in pair)]
    done = subprocess.run(command, cwd=NODE_DIR, capture_output=True, text=True, timeout=300, check=False)
    if not done.stdout.strip():
        pytest.fail(f"mesh_placement.mjs printed nothing (exit {done.returncode}): {done.stderr[-2000:]}")
    result: dict[str, dict[str, Any]] = json.loads(done.stdout)
    return result


def misplaced(placement: dict[str, Any]) -> dict[str, dict[str, float]]:
    """The parts off their place in the source: {node name: {worst, mean}}; {} when every part is home."""
    assert "error" not in placement, placement["error"]
    return {
        name: {k: round(v, 4) for k, v in found.items()}
        for name, found in placement["nodes"].items()
        if found["mean"] > MEAN or found["worst"] > WORST
    }
