"""Runs this suite once per Blender, each in its own virtualenv, and ends with a table of the results.

    python tests/matrix.py [--log-dir DIR] LABEL=PYTHON [LABEL=PYTHON ...] [-- PYTEST ARGS]

`make test-matrix` (every supported Blender) and `make test-matrix-smoke` (the oldest and the newest, on
the tests marked smoke) call it with the interpreters of the environments they built. Each run's
output goes to the terminal as it comes and to DIR/LABEL.log. Exit 0 when every run passed.
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# pytest's closing line: "=== 3 failed, 340 passed, 2 skipped in 301.2s (0:05:01) ===".
_COUNT = re.compile(r"(\d+) (passed|failed|errors?|skipped|xfailed|xpassed)\b")
_COLUMNS = ("passed", "failed", "errors", "skipped")
_ABOUT = "import importlib.metadata as m, platform; print(m.version('bpy'), platform.python_version())"


@dataclass
class Run:
    label: str
    python: str
    blender: str = "?"
    python_version: str = "?"
    counts: dict[str, int] = field(default_factory=dict)
    seconds: float = 0.0
    code: int = 0

    @property
    def ok(self) -> bool:
        return self.code == 0


def _about(python: str) -> tuple[str, str]:
    """The Blender (bpy's version is Blender's) and the Python of an environment, without importing bpy."""
    done = subprocess.run([python, "-c", _ABOUT], capture_output=True, text=True, check=False)
    if done.returncode != 0:
        return "?", "?"
    blender, version = done.stdout.split()
    return blender, version


def _counts(closing: str) -> dict[str, int]:
    counts = dict.fromkeys(_COLUMNS, 0)
    for number, what in _COUNT.findall(closing):
        key = "errors" if what.startswith("error") else what
        if key in counts:
            counts[key] += int(number)
    return counts


def run_one(run: Run, pytest_args: list[str], log: Path) -> Run:
    run.blender, run.python_version = _about(run.python)
    print(f"\n=== matrix: Blender {run.blender} on Python {run.python_version} ({run.label}) ===", flush=True)
    started = time.monotonic()
    closing = ""
    with log.open("w", encoding="utf-8") as out:
        # Our environment minus a parent virtualenv's, so each run sees only its own packages.
        env = {k: v for k, v in os.environ.items() if k not in ("VIRTUAL_ENV", "PYTHONHOME", "PYTHONPATH")}
        proc = subprocess.Popen(
            [run.python, "-m", "pytest", *pytest_args], cwd=ROOT, env=env, text=True,
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
        )  # fmt: skip
        assert proc.stdout is not None
        for line in proc.stdout:
            sys.stdout.write(line)
            out.write(line)
            if _COUNT.search(line) and " in " in line:
                closing = line
        run.code = proc.wait()
    run.seconds = time.monotonic() - started
    run.counts = _counts(closing)
    if not closing and run.code == 0:
        run.code = 1  # no closing line: pytest did not get as far as running the suite
    return run


def table(runs: list[Run]) -> str:
    head = ("Blender", "Python", *_COLUMNS, "time", "result")
    rows = [
        (r.blender, r.python_version, *(str(r.counts.get(c, 0)) for c in _COLUMNS),
         f"{r.seconds / 60:.1f} min", "ok" if r.ok else f"FAILED (exit {r.code})")
        for r in runs
    ]  # fmt: skip
    widths = [max(len(row[i]) for row in [head, *rows]) for i in range(len(head))]
    lines = ["  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)) for row in [head, *rows]]
    return "\n".join(line.rstrip() for line in lines)


def main(argv: list[str]) -> int:
    ours, pytest_args = (argv[: argv.index("--")], argv[argv.index("--") + 1 :]) if "--" in argv else (argv, [])
    parser = argparse.ArgumentParser(prog="matrix.py", description=__doc__.split("\n\n")[0])
    parser.add_argument("envs", nargs="+", metavar="LABEL=PYTHON", help="a name for the run and its interpreter")
    parser.add_argument("--log-dir", type=Path, default=ROOT / ".venv-matrix", help="where each run's log goes")
    args = parser.parse_args(ours)
    runs = []
    for spec in args.envs:
        label, sep, python = spec.partition("=")
        if not sep or not label or not python:
            parser.error(f"'{spec}' is not LABEL=PYTHON")
        if not Path(python).is_file():
            parser.error(f"{python}: no such interpreter (run make to build the environment)")
        runs.append(Run(label, python))
    args.log_dir.mkdir(parents=True, exist_ok=True)
    for run in runs:
        run_one(run, pytest_args, args.log_dir / f"{run.label}.log")
    print(f"\n{table(runs)}\n(logs in {args.log_dir})")
    total = {c: sum(r.counts.get(c, 0) for r in runs) for c in _COLUMNS}
    print(f"matrix: {total['passed']} passed, {total['failed'] + total['errors']} failed, {total['skipped']} skipped")
    return 0 if all(r.ok for r in runs) else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
