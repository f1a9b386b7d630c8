#!/usr/bin/env python3
"""Installs extension zips into Blender's system repository, enables them for every user, and checks
that they really are enabled (Blender's own installer exits 0 even when it installed nothing).

    blender -b --factory-startup --python scripts/kasm/install.py -- ZIP [ZIP ...]
    python scripts/kasm/install.py ZIP [ZIP ...]          (the PyPI bpy module)

Set BLENDER_SYSTEM_EXTENSIONS and BLENDER_SYSTEM_SCRIPTS to the same folders at build and at run time.
Besides installing, it writes a startup script into the system scripts folder that keeps these
add-ons enabled at every start, also for persistent profiles whose saved preferences predate them.
Exit 0 when every zip is installed and enabled, 1 with one line per problem otherwise.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tomllib
import zipfile
from pathlib import Path

STARTUP_MODULE = "avatar_forge_kasm_enable.py"
STARTUP_TEMPLATE = '''"""Written by Avatar Forge's Kasm installer: keeps these add-ons enabled for every user.

Startup scripts register before Blender enables the add-ons listed in the preferences, so listing
them here is enough; nothing is imported twice.
"""

import bpy

MODULES = {modules!r}


def register() -> None:
    addons = bpy.context.preferences.addons
    for name in MODULES:
        if name not in addons:
            addons.new().module = name


def unregister() -> None:
    pass
'''


class InstallError(Exception):
    pass


def _version(text: str) -> tuple[int, ...]:
    return tuple(int(part) for part in text.split(".")[:3])


def read_manifest(zip_path: Path) -> dict[str, object]:
    try:
        with zipfile.ZipFile(zip_path) as zf:
            return tomllib.loads(zf.read("blender_manifest.toml").decode("utf-8"))
    except FileNotFoundError:
        raise InstallError(f"{zip_path}: no such file") from None
    except (zipfile.BadZipFile, KeyError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise InstallError(f"{zip_path}: not a Blender extension zip ({exc})") from None


def check_compatible(zip_path: Path, manifest: dict[str, object], blender: tuple[int, ...]) -> None:
    """Refuses, loudly, a zip made for another Blender (the installer would only print a warning)."""
    low = _version(str(manifest.get("blender_version_min", "0.0.0")))
    high = manifest.get("blender_version_max")
    here = ".".join(map(str, blender))
    if blender < low:
        raise InstallError(f"{zip_path.name} needs Blender {'.'.join(map(str, low))} or newer; this is {here}")
    if high is not None and blender >= _version(str(high)):
        raise InstallError(f"{zip_path.name} supports Blender below {high} only; this is {here}")


def _blender_ext() -> Path:
    """Blender's extension engine: the same code its installer runs, usable on read-only repositories."""
    import addon_utils

    script = Path(addon_utils.__file__).parents[1] / "addons_core" / "bl_pkg" / "cli" / "blender_ext.py"
    if not script.is_file():
        raise InstallError(f"Blender's extension engine is missing ({script.name})")
    return script


def install(zip_path: Path, repo_dir: Path, repo: str) -> str:
    """Installs and enables one zip; returns its module name once Blender reports it enabled.

    Blender's install operator refuses the system repository (read-only from the UI), so the files go
    in through its extension engine and the add-on is enabled the way the operator would.
    """
    import addon_utils
    import bpy

    manifest = read_manifest(zip_path)
    blender = tuple(bpy.app.version)
    check_compatible(zip_path, manifest, blender)
    module = f"bl_ext.{repo}.{manifest['id']}"
    python = ".".join(map(str, sys.version_info[:3]))
    cmd = [sys.executable, str(_blender_ext()), "install-files", "--local-dir", str(repo_dir),
           "--blender-version", ".".join(map(str, blender)), "--python-version", python, str(zip_path)]  # fmt: skip
    repo_dir.mkdir(parents=True, exist_ok=True)
    done = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        reason = (done.stdout + done.stderr).strip().splitlines() or ["no output"]
        raise InstallError(f"{zip_path.name}: Blender's extension engine failed: {reason[-1]}")
    addon_utils.extensions_refresh(ensure_wheels=True, addon_modules_pending=[module])
    addon_utils.enable(module, default_set=True, refresh_handled=True)
    prefs = bpy.context.preferences
    if prefs is None or module not in prefs.addons or module not in sys.modules:
        raise InstallError(f"{zip_path.name}: installed files but {module} is not enabled (see Blender's log above)")
    return module


def startup_dir() -> Path:
    import bpy

    base = os.environ.get("BLENDER_SYSTEM_SCRIPTS") or bpy.utils.system_resource("SCRIPTS")  # type: ignore[attr-defined]
    return Path(base) / "startup"


def write_startup(modules: list[str]) -> Path:
    folder = startup_dir()
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / STARTUP_MODULE
    tmp = path.with_suffix(".tmp")
    tmp.write_text(STARTUP_TEMPLATE.format(modules=tuple(modules)), encoding="utf-8")
    tmp.replace(path)
    return path


def _arguments() -> list[str]:
    argv = sys.argv
    if "--" in argv and "--python" in argv[: argv.index("--")]:
        return argv[argv.index("--") + 1 :]
    return argv[1:]


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="install.py", description=__doc__.split("\n\n")[0])
    parser.add_argument("zips", nargs="+", type=Path, help="extension zips, installed in this order")
    parser.add_argument("--repo", default="system", help="extension repository (default: system)")
    args = parser.parse_args(argv)

    import bpy

    prefs = bpy.context.preferences
    repos = {r.module: Path(r.directory) for r in prefs.extensions.repos} if prefs else {}
    if args.repo not in repos:
        print(f"install: error: no extension repository '{args.repo}' (have: {', '.join(repos)})", file=sys.stderr)
        return 1
    configured = os.environ.get("BLENDER_SYSTEM_EXTENSIONS")
    if args.repo == "system" and configured and not repos["system"].is_relative_to(configured):
        # Blender ignores the variable when the folder does not exist, and would install elsewhere.
        print(
            f"install: error: BLENDER_SYSTEM_EXTENSIONS={configured} must exist before Blender starts", file=sys.stderr
        )
        return 1
    modules: list[str] = []
    try:
        for zip_path in args.zips:
            modules.append(install(zip_path.absolute(), repos[args.repo], args.repo))
    except InstallError as exc:
        print(f"install: error: {exc}", file=sys.stderr)
        return 1
    startup = write_startup(modules)
    for name in modules:
        print(f"install: enabled {name}")
    print(f"install: every user enables them at startup via {startup}")
    return 0


if __name__ == "__main__":
    code = main(_arguments())
    sys.stdout.flush()
    sys.stderr.flush()
    bpy = sys.modules.get("bpy")
    if bpy is not None and Path(bpy.app.tempdir).name.startswith("blender_"):
        shutil.rmtree(bpy.app.tempdir, ignore_errors=True)  # Blender's exit would; os._exit skips it
    os._exit(code)
