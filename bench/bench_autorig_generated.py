#!/usr/bin/env python3
"""Auto-rig placement on generator-like meshes, against the artists' joints.

    python bench/bench_autorig_generated.py [--voxel 0.007] [--triangles 40000] [--arms DEGREES] [MODEL ...]

Each MODEL (default: the third-party corpus beside the repository and the built corpus's rigged humanoids)
is fused as AI generators and scans hand a body over (tests/corpus/generated.py: its meshes joined,
voxel-remeshed at --voxel times the height, decimated to about --triangles; with --arms, lowered first by
the artist's rig to that angle below horizontal), in Blender subprocesses (tests/core/autorig/dump_meshes.py,
then dump_fused.py), and plan_rig places its skeleton. Prints per model the fused mesh's vertices, the median
and worst joint error over the required bones (a share of the height, against the artist's joints:
test_real_meshes.py's measure), the worst three joints, the same measure on the meshes as the artist made
them (the baseline, same run) and plan_rig's CPU seconds.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from addon.core.autorig import NotHumanoidError  # noqa: E402
from tests.core.autorig import artists  # noqa: E402

CORPUS = ROOT.parent / "shared" / "corpus"
BUILT = ROOT / "out" / "corpus"
DEFAULT = [
    CORPUS / "glb_quaternius_women_casual.glb",
    CORPUS / "fbx_quaternius_female_casual.fbx",
    CORPUS / "fbx_seedsan_univrm.fbx",
    CORPUS / "vrm0_godette.vrm",
    BUILT / "univrm" / "apose_centimetres.fbx",
    BUILT / "blender_fbx" / "classic_names.fbx",
    BUILT / "fbx2gltf" / "ik_game_character.glb",
    BUILT / "vrchat" / "visemes.fbx",
    BUILT / "rigify" / "rigify_basic_human.blend",
    BUILT / "fbx2gltf" / "chibi.glb",
    BUILT / "vrm_addon" / "basic_humanoid.blend",
    BUILT / "vrm_addon" / "vrm0_expressions.vrm",
    BUILT / "web" / "mixamo_centimetres.glb",
    BUILT / "web" / "rpm_centimetre_joint.glb",
]


def _measure(dump: Path) -> tuple[str, float]:
    parts, artist = artists.read_dump(dump)
    start = time.process_time()
    try:
        err = artists.joint_errors(parts, artist)
    except NotHumanoidError as refused:
        return f"refused: {refused}", time.process_time() - start
    seconds = time.process_time() - start
    worst = sorted(err, key=err.__getitem__, reverse=True)[:3]
    joints = ", ".join(f"{b} {err[b]:.1%}" for b in worst)
    return f"{np.median(list(err.values())):.1%} / {max(err.values()):.1%} ({joints})", seconds


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--voxel", type=float, default=0.007)
    parser.add_argument("--triangles", type=int, default=40_000)
    parser.add_argument("--arms", type=float, default=None)
    parser.add_argument("models", nargs="*", type=Path)
    args = parser.parse_args()
    models = [m for m in (args.models or DEFAULT) if m.is_file()]
    specs = [f"{m}@{args.arms:g}" if args.arms is not None else str(m) for m in models]
    stems = [Path(spec).name.replace(model.suffix, "") for model, spec in zip(models, specs, strict=True)]
    here = ROOT / "tests" / "core" / "autorig"
    with tempfile.TemporaryDirectory() as fused, tempfile.TemporaryDirectory() as made:
        # The meshes as made (and with the arms lowered), then those fused: each model imported once.
        dumps = [str(Path(made) / f"{stem}.npz") for stem in stems]
        for command in (
            [sys.executable, str(here / "dump_meshes.py"), made, *dict.fromkeys([*map(str, models), *specs])],
            [sys.executable, str(here / "dump_fused.py"), fused, str(args.voxel), str(args.triangles), *dumps],
        ):
            done = subprocess.run(command, capture_output=True, text=True, check=False)
            if done.returncode != 0:
                print(done.stderr[-2000:], file=sys.stderr)
                return 1
        print(f"voxel {args.voxel:.1%} of the height, about {args.triangles} triangles, arms {args.arms or 'as made'}")
        print("| model | vertices | generator-like: median / worst (worst joints) | as made | plan CPU s |")
        print("|---|---|---|---|---|")
        for model, stem in zip(models, stems, strict=True):
            dump = Path(fused) / f"{stem}.npz"
            vertices = len(np.load(dump)["v0"])
            generated, seconds = _measure(dump)
            as_made, _ = _measure(Path(made) / f"{model.stem}.npz")
            print(f"| {model.name} | {vertices} | {generated} | {as_made.split(' (')[0]} | {seconds:.2f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
