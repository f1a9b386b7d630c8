"""The auto-rig measured against the artists: each rigged third-party avatar (`../shared/corpus`) loses its
skeleton (tests/corpus/autorig_harness.py writes its meshes, in their rest shape, as a bare .glb), the bare
mesh goes through `forge.py convert --rig auto --fix all`, the original through `forge.py convert --fix all`
(the baseline), the bare mesh with the artist's skeleton placed through the same auto-rig convert (the
reference for the joints), and three-vrm compares the VRMs.

    .venv/bin/python -m bench.bench_autorig [--oracle] [--joints] [MODEL ...]

Prints per model: joint error median and worst and the posed surface error (percent of the height), the
auto-rig's seconds per stage, the auto-rigged convert's seconds beside the artist-rig convert's, and their
ratio. --oracle measures the reference itself instead of the automatic placement: its joints are the
reference's (0 by construction), its surface error what the weights and the export lose on their own.
--joints adds a line per model with each required bone's joint error, worst first.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from bench.common import start_blender
from tests.conftest import run_forge

PRESET = "companions-web"


def _convert(model: Path, out: Path, *extra: str) -> tuple[float, dict[str, Any]]:
    started = time.perf_counter()
    done = run_forge("convert", model, "--out", out, "--preset", PRESET, "--fix", "all", "--json", *extra, timeout=900)
    seconds = time.perf_counter() - started
    report: dict[str, Any] = json.loads(done.stdout) if done.stdout.strip() else {"models": [{"error": done.stderr}]}
    return seconds, report["models"][0]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--oracle", action="store_true", help="place the artist's skeleton (measures the rest)")
    parser.add_argument("--joints", action="store_true", help="print each required bone's joint error too")
    parser.add_argument("models", nargs="*", help="corpus file names (default: every artist humanoid and robot)")
    args = parser.parse_args()
    start_blender("bench-autorig-")
    from addon.core.presets import get_preset
    from tests.corpus import autorig_harness as harness

    if not harness.SHARED_CORPUS.is_dir():
        print(f"no third-party corpus at {harness.SHARED_CORPUS}", file=sys.stderr)
        return 1
    work = Path(tempfile.mkdtemp(prefix="bench-autorig-"))
    print(f"{'model':34} {'verts':>6} {'joint med':>9} {'worst':>6} {'at':>13} {'surface':>7}  {'auto s':>6} "
          f"{'artist s':>8} {'ratio':>5}  stages (s)")  # fmt: skip
    for name in args.models or (*harness.ARTISTS, *harness.ROBOTS, *harness.REFUSED):
        folder = work / Path(name).stem
        folder.mkdir()
        stripped = harness.strip(harness.SHARED_CORPUS / name, folder / "bare.glb")
        started = time.perf_counter()
        oracle = harness.oracle_convert(stripped, folder / "reference.vrm", get_preset(PRESET))
        oracle_s = time.perf_counter() - started
        if args.oracle:
            auto_s, auto = oracle_s, oracle
            (folder / "auto.vrm").symlink_to("reference.vrm")
        else:
            auto_s, auto = _convert(stripped.bare, folder / "auto.vrm", "--rig", "auto")
        artist_s, artist = _convert(harness.SHARED_CORPUS / name, folder / "artist.vrm")
        if not auto["ok"] or not artist["ok"] or not oracle["ok"]:
            print(f"{name:34} {stripped.vertices:6} FAILED auto: {auto['error']} | artist: {artist['error']} | "
                  f"reference: {oracle['error']}")  # fmt: skip
            continue
        found = harness.compare(folder / "auto.vrm", folder / "artist.vrm", folder / "reference.vrm")
        stages = " ".join(f"{k} {v:.2f}" for k, v in auto["rig"]["seconds"].items())
        worst = max(found["joints"], key=found["joints"].__getitem__)
        print(f"{name:34} {stripped.vertices:6} {100 * found['joint_median']:8.2f}% {100 * found['joint_worst']:5.1f}% "
              f"{worst:>13} {100 * found['surface']:6.2f}%  {auto_s:6.1f} {artist_s:8.1f} {auto_s / artist_s:5.2f}  "
              f"{stages}; "
              f"parts: {', '.join(p['mesh'] + ' ' + p['how'] for p in auto['rig']['parts'])}", flush=True)  # fmt: skip
        if args.joints:
            ranked = sorted(found["joints"].items(), key=lambda item: -item[1])
            print(f"{'':34} joints: {', '.join(f'{bone} {100 * e:.1f}%' for bone, e in ranked)}", flush=True)
    return 0


if __name__ == "__main__":
    code = main()
    sys.stdout.flush()
    os._exit(code)
