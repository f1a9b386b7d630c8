"""The command line's entry point, inside the add-on so that a child process can be started from wherever
Avatar Forge runs (a checkout, an installed extension in an artist's Blender):

    python launch.py SUBCOMMAND ...                      (the PyPI bpy module, or no Blender at all)
    blender -b --python launch.py -- SUBCOMMAND ...

scripts/forge.py runs this file. It loads the add-on folder it sits in as the package `avatar_forge`, without
registering anything in Blender, runs the subcommand, and ends the process itself (cli.main.run_process).
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

PACKAGE = "avatar_forge"


def _load_package(root: Path) -> None:
    if PACKAGE in sys.modules:
        return
    spec = importlib.util.spec_from_file_location(PACKAGE, root / "__init__.py", submodule_search_locations=[str(root)])
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[PACKAGE] = module
    spec.loader.exec_module(module)


def _arguments() -> list[str]:
    """Inside a Blender binary our arguments follow `--`; under plain Python they are argv[1:]."""
    argv = sys.argv
    if "--" in argv and "--python" in argv[: argv.index("--")]:
        return argv[argv.index("--") + 1 :]
    return argv[1:]


if __name__ == "__main__":
    _load_package(Path(__file__).resolve().parents[1])
    from avatar_forge.cli.main import run_process  # type: ignore[import-not-found]

    run_process(_arguments())
