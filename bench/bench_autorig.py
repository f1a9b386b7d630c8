"""The auto-rig measured against the artists: each rigged third-party avatar (`../shared/corpus`) loses its
skeleton (tests/corpus/autorig_harness.py writes its meshes, in their rest shape, as a bare .glb), the bare
mesh goes through `forge.py convert --rig auto --fix all`, the original through `forge.py convert --fix all`
(the baseline), and three-vrm compares the two VRMs.

    .venv/bin/python -m bench.bench_autorig [--oracle] [MODEL ...]

Prints per model: joint error median and worst and the posed surface error (percent of the height), the
auto-rig's seconds per stage, the auto-rigged convert's seconds beside the artist-rig convert's, and their
ratio. --oracle places the artist's own skeleton instead of the automatic placement (in this process):
what the weights, the build and the export cost and lose on their own.
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


def _oracle_convert(bare: Path, out: Path, plan: Any) -> tuple[float, dict[str, Any]]:
    from addon.blender.convert import convert
    from addon.core.autorig import place
    from addon.core.presets import get_preset
    from tests.corpus.autorig_harness import oracle_planner

    place.plan_rig = oracle_planner(plan)  # the artist's skeleton, for this process only
    preset = get_preset(PRESET)
    started = time.perf_counter()
    entry = convert(bare, out, preset, fix="all", rig="auto").to_json()
    return time.perf_counter() - started, entry


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--oracle", action="store_true", help="place the artist's skeleton (measures the rest)")
    parser.add_argument("models", nargs="*", help="corpus file names (default: every artist humanoid)")
    args = parser.parse_args()
    start_blender("bench-autorig-")
    from tests.corpus import autorig_harness as harness

    if not harness.SHARED_CORPUS.is_dir():
        print(f"no third-party corpus at {harness.SHARED_CORPUS}", file=sys.stderr)
        return 1
    work = Path(tempfile.mkdtemp(prefix="bench-autorig-"))
    print(f"{'model':34} {'verts':>6} {'joint med':>9} {'worst':>6} {'surface':>7}  {'auto s':>6} {'artist s':>8} "
          f"{'ratio':>5}  stages (s)")  # fmt: skip
    for name in args.models or harness.ARTISTS:
        folder = work / Path(name).stem
        folder.mkdir()
        stripped = harness.strip(harness.SHARED_CORPUS / name, folder / "bare.glb")
        if args.oracle:
            auto_s, auto = _oracle_convert(stripped.bare, folder / "auto.vrm", stripped.oracle)
        else:
            auto_s, auto = _convert(stripped.bare, folder / "auto.vrm", "--rig", "auto")
        artist_s, artist = _convert(harness.SHARED_CORPUS / name, folder / "artist.vrm")
        if not auto["ok"] or not artist["ok"]:
            print(f"{name:34} {stripped.vertices:6} FAILED auto: {auto['error']} | artist: {artist['error']}")
            continue
        found = harness.compare(folder / "auto.vrm", folder / "artist.vrm")
        stages = " ".join(f"{k} {v:.2f}" for k, v in auto["rig"]["seconds"].items())
        print(f"{name:34} {stripped.vertices:6} {100 * found['joint_median']:8.2f}% {100 * found['joint_worst']:5.1f}% "
              f"{100 * found['surface']:6.2f}%  {auto_s:6.1f} {artist_s:8.1f} {auto_s / artist_s:5.2f}  {stages}; "
              f"parts: {', '.join(p['mesh'] + ' ' + p['how'] for p in auto['rig']['parts'])}", flush=True)  # fmt: skip
    return 0


if __name__ == "__main__":
    code = main()
    sys.stdout.flush()
    os._exit(code)
