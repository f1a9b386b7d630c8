#!/usr/bin/env python3
"""`forge.py batch` throughput: one process against two shard processes over the same items.

    python bench/bench_batch.py [--items 6] [--detail 1] [--preset companions-web]

Converts --items copies of the demo avatar (built at --detail) from a folder to a folder, each item in
its own worker process as always: first one process over all of them, then `--shard 0/2` and `--shard 1/2`
at once over the same items. Prints both wall times side by side with their ratio, the CPU seconds an
item takes (what sizing pods needs, whatever else the machine runs), the mean time per
item (a worker's whole life: Blender's start, the import, the check, the export), the cost of a rerun
that skips everything, and the largest resident memory of any worker (what a pod's memory request needs).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
FORGE = ROOT / "scripts" / "forge.py"


def _forge(*args: str | Path) -> subprocess.Popen[str]:
    return subprocess.Popen([sys.executable, str(FORGE), *map(str, args), "--json"], text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)  # fmt: skip


def _cpu() -> float:
    """CPU seconds used so far by every finished child process and their children (the workers)."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def _shards(source: Path, out: Path, preset: str, count: int) -> tuple[float, float, list[dict[str, Any]]]:
    """Wall time and CPU time of `count` shard processes started together, and their reports."""
    out.mkdir()
    cpu = _cpu()
    started = time.perf_counter()
    shard = ["--shard", f"{{}}/{count}"] if count > 1 else []
    runs = [_forge("batch", "--from", source, "--out", out, "--preset", preset,
                   *[a.format(i) for a in shard]) for i in range(count)]  # fmt: skip
    reports = [json.loads(run.communicate()[0]) for run in runs]
    return time.perf_counter() - started, _cpu() - cpu, reports


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--items", type=int, default=6)
    parser.add_argument("--detail", type=int, default=1)
    parser.add_argument("--preset", default="companions-web")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="bench-batch-"))
    try:
        demo = work / "demo.blend"
        built = _forge("demo-avatar", "--out", demo, "--detail", str(args.detail))
        built.communicate()
        source = work / "models"
        source.mkdir()
        for i in range(args.items):
            shutil.copyfile(demo, source / f"Avatar-{i:03d}.blend")
        one, one_cpu, [whole] = _shards(source, work / "one", args.preset, 1)
        two, two_cpu, halves = _shards(source, work / "two", args.preset, 2)
        items = [i for r in halves for i in r["items"]] + whole["items"]
        assert all(i["status"] == "done" for i in items), [i["reason"] for i in items if i["status"] != "done"]
        skip_started = time.perf_counter()
        _forge("batch", "--from", source, "--out", work / "one", "--preset", args.preset).communicate()
        rerun = time.perf_counter() - skip_started
        per_item = sum(float(i["seconds"]) for i in whole["items"]) / args.items
        mb = sum(int(i["bytes"]) for i in whole["items"]) / args.items / 1e6
        peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print(f"{args.items} items, demo avatar at detail {args.detail} ({mb:.2f} MB .vrm each), preset {args.preset}")
    print(f"{'':28}{'1 process':>12}{'2 shards':>12}{'ratio':>8}")
    print(f"{'wall time, s':28}{one:12.1f}{two:12.1f}{one / two:8.2f}")
    print(f"{'items per minute':28}{args.items / one * 60:12.1f}{args.items / two * 60:12.1f}")
    print(f"{'CPU seconds per item':28}{one_cpu / args.items:12.1f}{two_cpu / args.items:12.1f}")
    print(f"load average while measuring: {' '.join(f'{x:.1f}' for x in os.getloadavg())} on {os.cpu_count()} cores")
    print(f"per item (worker, 1 process): {per_item:.2f} s; a rerun that skips all: {rerun / args.items:.2f} s/item")
    print(f"largest resident memory of a worker: {peak:.0f} MB")


if __name__ == "__main__":
    main()
