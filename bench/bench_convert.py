#!/usr/bin/env python3
"""What convert's process per model costs: three corpus models through one `forge.py convert` (several
models: each in a process of its own) against the same three converted one after the other in a single
process (blender/convert.py's convert() in turn, as convert did before; `--in-process` runs that side).

    python bench/bench_convert.py [--repeat 3] [--preset companions-web] [--corpus out/corpus]

Both sides are whole processes timed from start to exit (Blender's start included), alternating, best of
--repeat. Prints both wall and CPU times, their ratios and the CPU cost per model (wall time
on a shared machine follows its load; CPU time much less).
"""

from __future__ import annotations

import argparse
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
FORGE = ROOT / "scripts" / "forge.py"
MODELS = ("vrm_addon/basic_humanoid.blend", "web/mixamo_centimetres.glb", "blender_fbx/classic_names.fbx")


def _in_process(preset_name: str, out: Path, models: list[Path]) -> None:
    """The baseline: every model converted in this one process."""
    sys.path.insert(0, str(ROOT))
    from bench.common import start_blender

    start_blender("bench-convert-")
    from addon.blender import paths
    from addon.blender.convert import convert
    from addon.core.presets import get_preset

    preset = get_preset(preset_name, paths.user_presets_dir())
    results = [convert(model, out / f"{model.stem}.vrm", preset, fix="all") for model in models]
    failed = [str(result.error) for result in results if not result.ok]
    print("\n".join(failed), file=sys.stderr, flush=True)
    os._exit(1 if failed else 0)  # bpy and the VRM Add-on can hang interpreter shutdown


def _timed(command: list[str]) -> tuple[float, float]:
    """Wall seconds and CPU seconds (the process and its children) of one run."""
    cpu = _cpu()
    started = time.perf_counter()
    done = subprocess.run(command, check=False, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                          stderr=subprocess.PIPE, text=True)  # fmt: skip
    if done.returncode != 0:
        sys.exit(f"bench: {command[2]} failed: {done.stderr.strip().splitlines()[-1:]}")
    return time.perf_counter() - started, _cpu() - cpu


def _cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--preset", default="companions-web")
    parser.add_argument("--corpus", type=Path, default=ROOT / "out" / "corpus")
    parser.add_argument("--in-process", type=Path, metavar="OUT", help=argparse.SUPPRESS)
    parser.add_argument("models", nargs="*", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.in_process:
        _in_process(args.preset, args.in_process, args.models)
    models = [args.corpus / name for name in MODELS]
    missing = [str(m) for m in models if not m.is_file()]
    if missing:
        sys.exit(f"bench: missing corpus models (make corpus): {', '.join(missing)}")
    os.environ["BLENDER_USER_RESOURCES"] = tempfile.mkdtemp(prefix="bench-convert-user-")
    wall, cpu = [float("inf")] * 2, [float("inf")] * 2
    with tempfile.TemporaryDirectory(prefix="bench-convert-") as scratch:
        for round_ in range(args.repeat):
            outs = [Path(scratch) / f"{round_}-{side}" for side in ("apart", "together")]
            for out in outs:
                out.mkdir()
            apart = [sys.executable, str(FORGE), "convert", *map(str, models), "--out", str(outs[0]), "--preset",
                     args.preset, "--fix", "all"]  # fmt: skip
            together = [sys.executable, __file__, "--preset", args.preset, "--in-process", str(outs[1]),
                        *map(str, models)]  # fmt: skip
            for side, command in enumerate((apart, together)):
                seconds, used = _timed(command)
                wall[side], cpu[side] = min(wall[side], seconds), min(cpu[side], used)
    print(f"convert of {len(models)} corpus models, best of {args.repeat} (whole processes, Blender's start included)")
    print("                              wall      CPU")
    print(f"  one process each (convert): {wall[0]:6.2f} s  {cpu[0]:6.2f} s")
    print(f"  all in one process:         {wall[1]:6.2f} s  {cpu[1]:6.2f} s")
    print(f"  ratio {wall[0] / wall[1]:.2f}x wall, {cpu[0] / cpu[1]:.2f}x CPU; "
          f"{(cpu[0] - cpu[1]) / len(models):+.2f} CPU s a model")  # fmt: skip


if __name__ == "__main__":
    main()
