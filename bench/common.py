"""What the in-process Blender benchmarks share: starting bpy the way the tests do, and best-of timing."""

from __future__ import annotations

import gc
import os
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from types import ModuleType

ROOT = Path(__file__).resolve().parent.parent


def start_blender(prefix: str) -> ModuleType:
    """bpy with a throwaway user folder, this checkout importable as `addon`, the VRM Add-on enabled."""
    os.environ.setdefault("BLENDER_USER_RESOURCES", tempfile.mkdtemp(prefix=prefix))
    sys.path.insert(0, str(ROOT))
    import bpy  # before addon.blender: bmesh and mathutils exist only once bpy is loaded

    from addon.blender import vrm_addon

    vrm_addon.ensure_enabled()
    return bpy


def best_of(repeat: int, *runs: Callable[[], object]) -> list[float]:
    """The best time of each run over `repeat` rounds, the runs alternating so that load on a shared
    machine falls on all of them alike. Each starts after a full garbage collection: Blender's glTF exporter
    leaves about 60k objects in reference cycles per export (caught exceptions' tracebacks, its per-vertex
    lists), and without it the collection of one run's garbage lands in whichever run comes next."""
    best = [float("inf")] * len(runs)
    for _ in range(repeat):
        for i, run in enumerate(runs):
            gc.collect()
            started = time.perf_counter()
            run()
            best[i] = min(best[i], time.perf_counter() - started)
    return best
