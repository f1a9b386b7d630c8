"""The auto-rig's own time, per stage, on the bare corpus meshes (each rigged third-party avatar stripped of
its skeleton as tests/corpus/autorig_harness.py does), against a same-run baseline: the voxel proxy's bone
heat on the undecimated proxy (tens of thousands of vertices), as before it was decimated.

    .venv/bin/python -m bench.bench_autorig_speed [--repeat N] [MODEL ...]

Prints per model: its vertices, the best auto_rig seconds of each over N rounds (the two alternating, so
load on a shared machine falls on both alike) and their ratio, the same for the `proxy` stage alone (the
one the decimation changes), the CPU seconds of each (this process's, all its threads: what other
processes on a shared machine disturb least) and their ratio, the decimated run's stages, and what the
decimation changes: how far the skinned surface moves in a test pose (arms lowered, elbows and knees bent,
spine and head turned) between the two weightings, mean and worst, as a fraction of the height.
"""

from __future__ import annotations

import argparse
import gc
import math
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

from bench.common import start_blender

UNDECIMATED = 10**9
# bone -> (axis, degrees) of the test pose, in the bones' own axes (Blender's Y along the bone).
POSE = {"UpperArm.L": ("Y", 50), "UpperArm.R": ("Y", -50), "LowerArm.L": ("Z", 60), "LowerArm.R": ("Z", -60),
        "UpperLeg.L": ("X", -40), "UpperLeg.R": ("X", -40), "LowerLeg.L": ("X", 60), "LowerLeg.R": ("X", 60),
        "Spine": ("Z", 20), "Head": ("Z", 30)}  # fmt: skip


def _rig(bare: Path, proxy_vertices: int) -> tuple[dict[str, float], float, Any]:
    """auto_rig on a fresh import of `bare`: (its stages' seconds, its CPU seconds, the surface in the test
    pose)."""
    import bpy

    from addon.blender import autorig, avatar_import
    from addon.blender.autorig import weights

    weights.PROXY_VERTICES = proxy_vertices
    bpy.ops.wm.read_homefile(use_empty=True)
    avatar_import.import_avatar(bare, bare_ok=True)
    gc.collect()
    started = time.process_time()
    result = autorig.auto_rig()
    cpu = time.process_time() - started
    armature = bpy.data.objects[result.armature]
    for name, (axis, degrees) in POSE.items():
        bone = armature.pose.bones[name]  # type: ignore[union-attr]
        bone.rotation_mode = "XYZ"
        bone.rotation_euler["XYZ".index(axis)] = math.radians(degrees)
    depsgraph = bpy.context.evaluated_depsgraph_get()
    depsgraph.update()
    posed = []
    for binding in result.bindings:
        mesh = bpy.data.objects[binding.mesh].evaluated_get(depsgraph).data
        co = np.empty(len(mesh.vertices) * 3)  # type: ignore[union-attr]
        mesh.vertices.foreach_get("co", co)  # type: ignore[union-attr]
        posed.append(co.reshape(-1, 3))
    return result.seconds, cpu, (np.concatenate(posed), result.height)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeat", type=int, default=3, help="rounds; the best of each is kept (default 3)")
    parser.add_argument("models", nargs="*", help="corpus file names (default: every artist humanoid)")
    args = parser.parse_args()
    start_blender("bench-autorig-speed-")
    from addon.blender.autorig import weights
    from tests.corpus import autorig_harness as harness

    if not harness.SHARED_CORPUS.is_dir():
        print(f"no third-party corpus at {harness.SHARED_CORPUS}", file=sys.stderr)
        return 1
    decimated = weights.PROXY_VERTICES
    work = Path(tempfile.mkdtemp(prefix="bench-autorig-speed-"))
    print(f"{'model':34} {'verts':>6} {'undecimated s':>13} {'decimated s':>11} {'ratio':>5}  {'proxy s':>11} "
          f"{'ratio':>5}  {'CPU s':>11} {'ratio':>5}  {'moved mean':>10} {'worst':>6}  "
          "stages of the decimated run (s)")  # fmt: skip
    for name in args.models or harness.ARTISTS:
        folder = work / Path(name).stem
        folder.mkdir()
        stripped = harness.strip(harness.SHARED_CORPUS / name, folder / "bare.glb")
        best: dict[int, dict[str, float]] = {}
        proxy: dict[int, float] = {}
        cpu: dict[int, float] = {}
        surfaces: dict[int, Any] = {}
        for _ in range(args.repeat):
            for vertices in (UNDECIMATED, decimated):
                seconds, used, surfaces[vertices] = _rig(stripped.bare, vertices)
                cpu[vertices] = min(cpu.get(vertices, math.inf), used)
                if vertices not in best or sum(seconds.values()) < sum(best[vertices].values()):
                    best[vertices] = seconds
                proxy[vertices] = min(proxy.get(vertices, math.inf), seconds.get("proxy", 0.0))
        weights.PROXY_VERTICES = decimated
        (before, height), (after, _height) = surfaces[UNDECIMATED], surfaces[decimated]
        moved = np.linalg.norm(after - before, axis=1) / height
        slow, fast = sum(best[UNDECIMATED].values()), sum(best[decimated].values())
        stages = " ".join(f"{k} {v:.2f}" for k, v in best[decimated].items())
        proxies = f"{proxy[UNDECIMATED]:.2f}/{proxy[decimated]:.2f}"
        proxy_ratio = proxy[decimated] / proxy[UNDECIMATED] if proxy[UNDECIMATED] else 1.0
        cpus = f"{cpu[UNDECIMATED]:.2f}/{cpu[decimated]:.2f} {cpu[decimated] / cpu[UNDECIMATED]:5.2f}"
        moves = f"{100 * moved.mean():9.3f}% {100 * moved.max():5.2f}%"
        print(f"{name:34} {stripped.vertices:6} {slow:13.2f} {fast:11.2f} {fast / slow:5.2f}  {proxies:>11} "
              f"{proxy_ratio:5.2f}  {cpus:>17}  {moves}  {stages}", flush=True)  # fmt: skip
    return 0


if __name__ == "__main__":
    code = main()
    sys.stdout.flush()
    os._exit(code)
