"""Mutation audit: does the suite notice when a safety guard is broken?

Each mutation in tests/mutations.toml (file, exact old text, new text, the tests that must catch it) is applied
to a scratch copy of the tree (never this checkout) and its tests are run there; a mutation the tests pass
with is reported as missed. Usage:

    python bench/mutate.py                 # every mutation
    python bench/mutate.py cycle tip       # only those whose name contains one of the words

Exit status: 0 when every mutation was caught, 1 when one was missed, 2 when the list is wrong (its old text
is not found exactly once, or the tests fail without any mutation).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import tomllib
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
LIST = ROOT / "tests" / "mutations.toml"
# Shared folders that are not in git but which tests use: linked into the copy, never copied.
_LINKED = ("wheels", "out/corpus", "tests/node/node_modules", "tests/corpus/node_modules")


@dataclass(frozen=True)
class Mutation:
    name: str
    file: str
    old: str
    new: str
    tests: tuple[str, ...]


def load(path: Path = LIST) -> list[Mutation]:
    """The mutations of the list, in its order."""
    data = tomllib.loads(path.read_text(encoding="utf-8"))
    return [Mutation(m["name"], m["file"], m["old"], m["new"], tuple(m["tests"])) for m in data.get("mutation", [])]


def scratch_copy(into: Path) -> Path:
    """This checkout's tracked files (as they are on disk, uncommitted edits included) copied into `into`."""
    listed = subprocess.run(
        ["git", "ls-files", "-z", "--cached"], cwd=ROOT, check=True, capture_output=True
    ).stdout.decode()
    for rel in filter(None, listed.split("\0")):
        source = ROOT / rel
        if source.is_file() and not source.is_symlink():
            (into / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, into / rel)
    for rel in _LINKED:
        if (ROOT / rel).exists():
            (into / rel).parent.mkdir(parents=True, exist_ok=True)
            (into / rel).symlink_to((ROOT / rel).resolve())
    return into


def run_tests(tree: Path, tests: tuple[str, ...]) -> bool:
    """Whether `tests` pass in `tree` (one pytest process, no workers)."""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-n", "0", "-q", "-x", "-p", "no:cacheprovider", *tests],
        cwd=tree,
        env=env,
        capture_output=True,
        check=False,
    )
    return done.returncode == 0


def audit(mutations: list[Mutation], tree: Path) -> int:
    """Applies each mutation in turn to `tree`, runs its tests, restores the file; prints one line each."""
    missed = 0
    for m in mutations:
        target = tree / m.file
        original = target.read_text(encoding="utf-8")
        if original.count(m.old) != 1:
            print(f"{m.name}: its old text is found {original.count(m.old)} times in {m.file}, not once")
            return 2
        if not run_tests(tree, m.tests):
            print(f"{m.name}: its tests fail without the mutation")
            return 2
        target.write_text(original.replace(m.old, m.new), encoding="utf-8")
        try:
            caught = not run_tests(tree, m.tests)
        finally:
            target.write_text(original, encoding="utf-8")
        missed += not caught
        print(f"{'caught' if caught else 'MISSED'}  {m.name}  ({m.file}; {' '.join(m.tests)})", flush=True)
    print(f"{len(mutations) - missed} of {len(mutations)} mutations caught")
    return 1 if missed else 0


def main(argv: list[str]) -> int:
    mutations = [m for m in load() if not argv or any(word in m.name for word in argv)]
    if not mutations:
        print(f"no mutation in {LIST.relative_to(ROOT)} matches {' '.join(argv)}")
        return 2
    with tempfile.TemporaryDirectory(prefix="mutate-") as tmp:
        return audit(mutations, scratch_copy(Path(tmp)))


if __name__ == "__main__":
    code = main(sys.argv[1:])
    sys.stdout.flush()
    os._exit(code)
