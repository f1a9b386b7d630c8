#!/usr/bin/env python3
"""Export size and time of the demo avatar per preset, beside Blender's own glTF exporter on the same scene.

    python bench/bench_export.py [--detail 1 20] [--vrm0-detail 1 20] [--repeat 3] [--vrm0-only] [--vrm0-before]
                                 [--profile-vrm0]

For each detail, in this process, thumbnail off: the whole Avatar Forge export (rig check, preset, export,
sparse rewrite) with companions-web (morph normals) and companions-web-lite (none), each beside
`bpy.ops.export_scene.gltf` writing a GLB with sparse morph targets and the same morph normals setting;
then vrm0-legacy (the VRM Add-on's 0.x writer, its mesh pass in numpy: blender/vrm0_mesh_writer.py) beside
the glTF exporter with normals, at the --vrm0-detail levels; --vrm0-before adds the same export with the
add-on's own per-vertex mesh writer (`before`: minutes at detail 20); --vrm0-only times only the VRM 0.x rows,
at the --vrm0-detail levels. Runs alternate, each after a full
garbage collection (so no run pays for collecting another's garbage), and the best of --repeat is kept, so
load on a shared machine falls on all alike. Ratios are Avatar Forge's figure over the glTF exporter's
(targets: size <= 1.05, time <= 1.2; VRM 0.x time <= 2). `verify ms` is the read-back verification every
export ends with (core/vrm/verify, part of the export's time), on the written file, and
`share` its part of the export (target: < 5%). --profile-vrm0 prints where the VRM 0.x export spends its
time, once, at the last detail: the calls that hold the most time with what they call (its stages), then the
functions with the most own time.
"""

from __future__ import annotations

import argparse
import contextlib
import cProfile
import dataclasses
import os
import pstats
import sys
import tempfile
from collections.abc import Iterator
from functools import partial
from pathlib import Path

# Run as a script (python bench/NAME.py), the checkout is not on the path yet.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from bench.common import best_of, start_blender

ROWS = (("companions-web", True), ("companions-web-lite", False), ("vrm0-legacy", True))
BEFORE = "vrm0-legacy before"  # the row of the add-on's own VRM 0.x mesh writer


@contextlib.contextmanager
def _addons_own_vrm0_writer(before: bool) -> Iterator[None]:
    """The VRM 0.x export with the add-on's own mesh writer (what every 0.x export ran before) when `before`."""
    from addon.blender import vrm0_mesh_writer

    numpy_writer = vrm0_mesh_writer.replacement
    if before:
        vrm0_mesh_writer.replacement = lambda addon, original, checked: original
    try:
        yield
    finally:
        vrm0_mesh_writer.replacement = numpy_writer


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--detail", type=int, nargs="+", default=[1, 20])
    parser.add_argument("--vrm0-detail", type=int, nargs="*", default=[1, 20], help="details to export VRM 0.x at")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--vrm0-before", action="store_true", help="also the add-on's own VRM 0.x mesh writer")
    parser.add_argument("--vrm0-only", action="store_true", help="only the VRM 0.x export, at --vrm0-detail")
    parser.add_argument("--profile-vrm0", action="store_true")
    args = parser.parse_args()
    bpy = start_blender("bench-export-")
    from addon.blender import console, demo_avatar, vrm_export
    from addon.core.presets import get_preset
    from addon.core.vrm.verify import verify_vrm

    def quietly(run: partial[object]) -> object:
        with console.quiet(verbose=False):  # the glTF exporter's INFO lines, as the export has them
            return run()

    out = Path(tempfile.mkdtemp(prefix="bench-export-out-"))
    print(f"best of {args.repeat}; glTF = Blender's glTF exporter, GLB, sparse morph targets, same morph normals")
    header = f"{'detail':>6} {'vertices':>8} {'preset':<20} {'normals':>7} {'MB':>7} {'glTF MB':>7} {'size':>5}"
    print(f"{header} {'s':>7} {'glTF s':>7} {'time':>5} {'verify ms':>9} {'share':>6}", flush=True)
    for detail in args.vrm0_detail if args.vrm0_only else args.detail:
        bpy.ops.wm.read_homefile(use_empty=True)
        avatar = demo_avatar.build_demo_avatar(detail)
        vertices = len(avatar.body.data.vertices)  # type: ignore[union-attr]
        rows = [*ROWS, (BEFORE, True)] if args.vrm0_before else ROWS
        for name, normals in rows:
            vrm0 = name in {"vrm0-legacy", BEFORE}
            if (vrm0 and detail not in args.vrm0_detail) or (args.vrm0_only and not vrm0):
                continue
            preset = dataclasses.replace(get_preset(name.split()[0]), thumbnail=False)
            stem = name.replace(" ", "-")
            forge_file, gltf_file = out / f"{stem}-{detail}.vrm", out / f"gltf-{stem}-{detail}.glb"
            gltf = partial(
                bpy.ops.export_scene.gltf,
                filepath=str(gltf_file),
                export_format="GLB",
                export_try_sparse_sk=True,
                export_morph_normal=normals,
            )
            with _addons_own_vrm0_writer(name == BEFORE):
                forge, baseline = best_of(
                    args.repeat,
                    partial(vrm_export.export_vrm, forge_file, preset, overwrite=True),
                    partial(quietly, gltf),
                )
            mb, gltf_mb = forge_file.stat().st_size / 1e6, gltf_file.stat().st_size / 1e6
            written = forge_file.read_bytes()
            (verify,) = best_of(args.repeat, partial(verify_vrm, written))
            row = f"{detail:>6} {vertices:>8} {name:<20} {'yes' if normals else 'no':>7} {mb:>7.2f} {gltf_mb:>7.2f}"
            row += f" {mb / gltf_mb:>5.2f} {forge:>7.2f} {baseline:>7.2f} {forge / baseline:>5.2f}"
            print(f"{row} {verify * 1000:>9.1f} {verify / forge:>6.2%}", flush=True)
    if args.profile_vrm0:
        profile = cProfile.Profile()
        preset = dataclasses.replace(get_preset("vrm0-legacy"), thumbnail=False)
        profile.runcall(vrm_export.export_vrm, out / "profiled.vrm", preset, overwrite=True)
        stats = pstats.Stats(profile, stream=sys.stdout)
        print("\nVRM 0.x export, the calls holding the most time (with what they call):")
        stats.sort_stats("cumulative").print_stats(40)
        print("\nVRM 0.x export, the functions with the most own time:")
        stats.sort_stats("tottime").print_stats(12)
    return 0


if __name__ == "__main__":
    code = main()
    sys.stdout.flush()
    os._exit(code)  # bpy and the VRM Add-on can hang interpreter shutdown
