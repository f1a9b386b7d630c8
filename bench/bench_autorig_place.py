#!/usr/bin/env python3
"""Auto-rig placement (core, numpy): plan_rig's time per stage on real avatars' bare meshes.

    python bench/bench_autorig_place.py [--runs 5] [MODEL ...]

Each MODEL (default: the corpus avatars beside the repository) is imported once with Blender in a
subprocess and its meshes dumped in their rest shape (tests/core/autorig/dump_meshes.py); then plan_rig
runs --runs times in this process. Prints, per model, the vertex count, the best run's CPU milliseconds per
stage, and the whole beside a same-run baseline: one sweep of horizontal cuts over the whole height at the
placement's 0.5% step (Surface.of + cuts_z), the elementary operation the placement repeats.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from addon.core.autorig import MeshPart, place, plan_rig  # noqa: E402
from addon.core.autorig.sections import Surface  # noqa: E402

CORPUS = ROOT.parent / "shared" / "corpus"
DEFAULT = ["glb_quaternius_women_casual.glb", "fbx_seedsan_univrm.fbx", "vrm0_godette.vrm"]
STAGES = ("_stand", "find_arm", "find_hand", "find_eyes")
spent: dict[str, float] = defaultdict(float)


def timed(name: str, fn: Callable[..., Any]) -> Callable[..., Any]:
    def run(*args: Any, **kwargs: Any) -> Any:
        start = time.process_time()
        try:
            return fn(*args, **kwargs)
        finally:
            spent[name] += time.process_time() - start

    return run


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("models", nargs="*", type=Path)
    args = parser.parse_args()
    models = args.models or [CORPUS / name for name in DEFAULT]
    for stage in STAGES:
        setattr(place, stage, timed(stage, getattr(place, stage)))
    place.skeleton.build = timed("build", place.skeleton.build)
    with tempfile.TemporaryDirectory() as out:
        subprocess.run([sys.executable, str(ROOT / "tests/core/autorig/dump_meshes.py"), out, *map(str, models)],
                       check=True, capture_output=True)  # fmt: skip
        for model in models:
            data = np.load(Path(out) / f"{model.stem}.npz")
            parts = [MeshPart(str(n), data[f"v{i}"], data[f"t{i}"]) for i, n in enumerate(data["names"])]
            vertices = sum(len(p.vertices) for p in parts)
            best: dict[str, float] = {}
            for _ in range(args.runs):
                spent.clear()
                start = time.process_time()
                plan_rig(parts)
                spent["total"] = time.process_time() - start
                if not best or spent["total"] < best["total"]:
                    best = dict(spent)
            every = np.concatenate([p.vertices for p in parts])
            offsets = np.cumsum([0] + [len(p.vertices) for p in parts[:-1]])
            tris = np.concatenate([p.triangles + o for p, o in zip(parts, offsets, strict=True)])
            base = []
            for _ in range(args.runs):
                start = time.process_time()
                surface = Surface.of(every, tris)
                low, high = float(every[:, 2].min()), float(every[:, 2].max())
                surface.cuts_z(np.arange(low, high, 0.005 * (high - low)))
                base.append(time.process_time() - start)
            stages = "  ".join(f"{k} {v * 1000:.0f}" for k, v in best.items() if k != "total")
            ratio = best["total"] / min(base)
            print(f"{model.name}: {vertices} vertices, plan_rig {best['total'] * 1000:.0f} ms CPU ({stages}); "
                  f"baseline sweep {min(base) * 1000:.0f} ms; ratio {ratio:.1f}×")  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
