#!/usr/bin/env python3
"""convert of each third-party avatar (`../shared/corpus`) beside what a plain Blender user does with it: import
it and export a sparse glTF. Whole processes (Blender's start included), timed in alternating pairs; the
median over the corpus of each model's best ratio (target: convert <= 1.5x).

    python bench/bench_convert_stages.py [--repeat 3] [--preset companions-web] [--profile] [MODEL ...]

convert: `forge.py convert MODEL --preset P --fix all` (import, check, fixes, the check again, export with its
T-pose, sparse rewrite, meta, verification). Baseline: a process that imports MODEL with the same importer
and writes `bpy.ops.export_scene.gltf` as a GLB with sparse morph targets and the preset's morph normals.
--profile instead runs blender/convert.py's convert() once per model in this process and prints where
its time goes, stage by stage (a stage's time includes the stages it calls, so the rows overlap by design:
`read rig` is part of each check, `T-pose` of the export).
"""

from __future__ import annotations

import argparse
import cProfile
import os
import pstats
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
FORGE = ROOT / "scripts" / "forge.py"
CORPUS = ROOT.parent / "shared" / "corpus"
SUFFIXES = {".vrm", ".glb", ".gltf", ".fbx", ".blend"}
# Stage -> (file, function) as cProfile names them; a stage's time is the function's cumulative time.
STAGES = {
    "import": ("avatar_import.py", "import_avatar"),
    "read rig (every check)": ("rig_reader.py", "read_rig"),
    "checks (every check)": ("checks.py", "run_checks"),
    "fixes": ("rig_fixes.py", "apply_fix"),
    "export (whole)": ("vrm_export.py", "export_vrm"),
    "  export: preset": ("vrm_export.py", "apply_preset"),
    "  export: the add-on's writer": ("vrm_addon_exporter.py", "export"),
    "  export: T-pose": ("t_pose.py", "setup_humanoid_t_pose"),
    "  export: glTF exporter": ("vrm_addon_exporter.py", "invoke"),
    "  export: sparse rewrite": ("sparse_morphs.py", "sparsify"),
    "  export: meta": ("glb_meta.py", "with_vrm1_meta"),
    "  export: verification": ("verify.py", "verify_vrm"),
}


def _baseline(model: Path, out: Path, morph_normals: bool) -> None:
    """The plain user's way, in this process: import with the same importer, export a sparse GLB."""
    sys.path.insert(0, str(ROOT))
    from bench.common import start_blender

    bpy = start_blender("bench-convert-stages-")
    from addon.blender import avatar_import

    bpy.ops.wm.read_homefile(use_empty=True)
    avatar_import.import_avatar(model)
    done = bpy.ops.export_scene.gltf(
        filepath=str(out), export_format="GLB", export_try_sparse_sk=True, export_morph_normal=morph_normals
    )
    sys.stdout.flush()
    os._exit(0 if done == {"FINISHED"} else 1)  # bpy and the VRM Add-on can hang interpreter shutdown


def _timed(command: list[str]) -> float:
    started = time.perf_counter()
    done = subprocess.run(command, check=False, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                          stderr=subprocess.PIPE, text=True)  # fmt: skip
    if done.returncode != 0:
        sys.exit(f"bench: {' '.join(command[1:3])} failed: {done.stderr.strip().splitlines()[-1:]}")
    return time.perf_counter() - started


def _pairs(models: list[Path], preset_name: str, repeat: int) -> None:
    sys.path.insert(0, str(ROOT))
    from addon.core.presets import get_preset

    normals = get_preset(preset_name).export.morph_normals
    os.environ["BLENDER_USER_RESOURCES"] = tempfile.mkdtemp(prefix="bench-convert-stages-user-")
    print(f"best of {repeat} alternating pairs, whole processes; baseline = import + sparse glTF export")
    print(f"{'model':<36} {'convert s':>9} {'baseline s':>10} {'ratio':>6}", flush=True)
    ratios = []
    with tempfile.TemporaryDirectory(prefix="bench-convert-stages-") as scratch:
        for model in models:
            best = [float("inf"), float("inf")]
            for round_ in range(repeat):
                out = Path(scratch) / f"{model.stem}-{round_}"
                convert = [sys.executable, str(FORGE), "convert", str(model), "--out", f"{out}.vrm", "--preset",
                           preset_name, "--fix", "all"]  # fmt: skip
                baseline = [sys.executable, __file__, "--baseline", f"{out}.glb", str(model)]
                if not normals:
                    baseline.append("--no-morph-normals")
                for side, command in enumerate((convert, baseline)):
                    best[side] = min(best[side], _timed(command))
            ratios.append(best[0] / best[1])
            print(f"{model.name:<36} {best[0]:>9.2f} {best[1]:>10.2f} {ratios[-1]:>6.2f}", flush=True)
    print(f"median ratio over {len(models)} models: {statistics.median(ratios):.2f}x (target <= 1.5x)")


def _profile(models: list[Path], preset_name: str) -> None:
    sys.path.insert(0, str(ROOT))
    from bench.common import start_blender

    start_blender("bench-convert-stages-")
    from addon.blender import paths, rig_fixes
    from addon.blender.convert import convert
    from addon.core.presets import get_preset

    preset = get_preset(preset_name, paths.user_presets_dir())
    fix_times: dict[str, float] = {}
    apply_fix = rig_fixes.apply_fix

    def timed_fix(finding: object, *args: object) -> str:
        started = time.perf_counter()
        try:
            return apply_fix(finding, *args)  # type: ignore[arg-type]
        finally:
            name = getattr(finding, "id", "?")
            fix_times[name] = fix_times.get(name, 0.0) + time.perf_counter() - started

    rig_fixes.apply_fix = timed_fix  # type: ignore[assignment]
    with tempfile.TemporaryDirectory(prefix="bench-convert-profile-") as scratch:
        for model in models:
            copy = Path(scratch) / model.name
            shutil.copy2(model, copy)  # an importer never gets the chance to write beside the original
            fix_times.clear()
            profile = cProfile.Profile()
            started = time.perf_counter()
            result = profile.runcall(convert, copy, copy.with_suffix(".out.vrm"), preset, fix="all")
            total = time.perf_counter() - started
            stats = pstats.Stats(profile).stats
            print(f"\n{model.name}: convert {total:.2f} s (profiled){'' if result.ok else ' FAILED'}")
            for stage, (file, function) in STAGES.items():
                calls, seconds = 0, 0.0
                for (path, _line, name), (_cc, count, _tt, cumulative, _callers) in stats.items():
                    if name == function and path.endswith(file):
                        calls, seconds = calls + count, seconds + cumulative
                if calls:
                    print(f"  {stage:<32} {seconds:>6.2f} s  ({calls} call{'s' if calls > 1 else ''})")
            for name, seconds in sorted(fix_times.items(), key=lambda item: -item[1]):
                print(f"    fix {name:<28} {seconds:>6.2f} s")
    sys.stdout.flush()
    os._exit(0)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--preset", default="companions-web")
    parser.add_argument("--profile", action="store_true")
    parser.add_argument("--baseline", type=Path, metavar="OUT", help=argparse.SUPPRESS)
    parser.add_argument("--no-morph-normals", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("models", nargs="*", type=Path, help="default: every model of the shared corpus")
    args = parser.parse_args()
    if args.baseline:
        _baseline(args.models[0], args.baseline, not args.no_morph_normals)
    models = args.models or sorted(p for p in CORPUS.glob("*") if p.suffix in SUFFIXES)
    if not models:
        sys.exit(f"bench: no models given and no corpus at {CORPUS}")
    if args.profile:
        _profile(models, args.preset)
    _pairs(models, args.preset, args.repeat)


if __name__ == "__main__":
    main()
