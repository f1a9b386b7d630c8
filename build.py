#!/usr/bin/env python3
"""Builds dist/avatar_forge-<version>.zip: addon/ + the manifest + wheels/, byte-identical for the same
sources, then validates it with Blender's own extension validator from the installed bpy.

    python build.py [--out-dir dist] [--no-validate] [--kasm]

--kasm also writes dist/vrm-<version>.zip, the VRM Add-on for Blender as an extension zip, made from
the bpy-vrm-format wheel pinned in requirements.txt (the version the tests ran with), for the image.

Exit 0 with the zip's path on stdout, or 1 with a one-line reason on stderr.
"""

from __future__ import annotations

import argparse
import hashlib
import importlib.util
import re
import subprocess
import sys
import tomllib
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent
ADDON = ROOT / "addon"
MANIFEST = ROOT / "blender_manifest.toml"
WHEELS = ROOT / "wheels"
# Zip entries get this date and these modes, so the archive depends on file contents alone.
FIXED_DATE = (2024, 1, 1, 0, 0, 0)
FILE_MODE = 0o100644
SKIP_DIRS = {"__pycache__", ".mypy_cache", ".ruff_cache", ".pytest_cache"}
_WHEEL_NAME = re.compile(r"^(?P<name>[^-]+)-(?P<version>[^-]+)-.+\.whl$")


class BuildError(Exception):
    pass


def manifest() -> dict[str, object]:
    try:
        with MANIFEST.open("rb") as f:
            return tomllib.load(f)
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise BuildError(f"cannot read {MANIFEST.name}: {exc}") from None


def addon_version() -> str:
    text = (ADDON / "core" / "version.py").read_text()
    match = re.search(r'^VERSION = "([^"]+)"', text, re.MULTILINE)
    if not match:
        raise BuildError("addon/core/version.py has no VERSION")
    return match.group(1)


def wheel_files(data: dict[str, object]) -> list[Path]:
    wheels = data.get("wheels", [])
    if not isinstance(wheels, list):
        raise BuildError("manifest 'wheels' must be a list")
    return [ROOT / str(w) for w in wheels]


def pip_request(wheel: str) -> list[str]:
    """pip download's arguments for exactly this wheel: the pinned release, for the Python and platform
    its file name is tagged for (not this machine's)."""
    match = _WHEEL_NAME.match(wheel)
    if not match:
        raise BuildError(f"cannot tell the package of wheel {wheel}")
    python_tag, abi, platforms = wheel[:-4].split("-")[-3:]
    spec = f"{match['name'].replace('_', '-')}=={match['version']}"
    if platforms == "any":  # pure Python: Blender 4.2's 3.11 is the oldest that must install it
        return ["--python-version", "3.11", spec]
    cpython = re.fullmatch(r"cp3(\d+)", python_tag)
    if not cpython:
        raise BuildError(f"wheel {wheel} is tagged for {python_tag}, not a CPython Blender runs")
    target = ["--implementation", "cp", "--python-version", f"3.{cpython[1]}", "--abi", abi]
    for platform in platforms.split("."):  # a manylinux wheel names every glibc policy it meets
        target += ["--platform", platform]
    return [*target, spec]


def pip_reason(stderr: str) -> str:
    """pip's last error line: its warnings (an unreachable index, say) come after it and explain nothing."""
    lines = [line for line in stderr.strip().splitlines() if not line.startswith("WARNING:")]
    return (lines or ["pip gave no reason"])[-1]


def fetch_wheels(wheels: list[Path]) -> None:
    """Downloads the pinned wheels the manifest names and that are not on disk yet, each for its tags."""
    missing = [w for w in wheels if not w.is_file()]
    if not missing:
        return
    WHEELS.mkdir(exist_ok=True)
    for wheel in missing:
        cmd = [sys.executable, "-m", "pip", "download", "--quiet", "--no-deps", "--only-binary=:all:",
               "--dest", str(WHEELS), *pip_request(wheel.name)]  # fmt: skip
        done = subprocess.run(cmd, capture_output=True, text=True, check=False)
        if done.returncode != 0:
            raise BuildError(f"could not fetch wheel {wheel.name}: {pip_reason(done.stderr)}")
        if not wheel.is_file():
            raise BuildError(f"could not fetch wheel {wheel.name}: the release has no wheel of exactly these tags")


def staged_files(wheels: list[Path]) -> list[tuple[str, Path]]:
    """(name in the zip, source) for every file, sorted: the add-on package, the manifest, the wheels."""
    entries = [("blender_manifest.toml", MANIFEST)]
    for path in sorted(ADDON.rglob("*")):
        rel = path.relative_to(ADDON)
        if path.is_file() and not SKIP_DIRS.intersection(rel.parts) and path.suffix != ".pyc":
            entries.append((rel.as_posix(), path))
    entries.extend((f"wheels/{w.name}", w) for w in wheels)
    return sorted(entries)


def write_zip(out: Path, entries: list[tuple[str, Path]] | list[tuple[str, bytes]]) -> None:
    tmp = out.with_suffix(".zip.tmp")
    with zipfile.ZipFile(tmp, "w") as zf:
        for name, source in entries:
            info = zipfile.ZipInfo(name, date_time=FIXED_DATE)
            info.external_attr = FILE_MODE << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            info.create_system = 3  # unix, whatever machine builds it
            data = source if isinstance(source, bytes) else source.read_bytes()
            zf.writestr(info, data, compresslevel=9)
    tmp.replace(out)


def pinned_version(package: str) -> str:
    match = re.search(rf"^{re.escape(package)}==(\S+)$", (ROOT / "requirements.txt").read_text(), re.MULTILINE)
    if not match:
        raise BuildError(f"requirements.txt pins no {package}")
    return match.group(1)


def build_vrm_addon(out_dir: Path, check: bool = True) -> Path:
    """The VRM Add-on as an extension zip: the wheel's io_scene_vrm/ folder holds its manifest."""
    version = pinned_version("bpy-vrm-format")
    wheel = WHEELS / "kasm" / f"bpy_vrm_format-{version}-py3-none-any.whl"
    if not wheel.is_file():
        wheel.parent.mkdir(parents=True, exist_ok=True)
        cmd = [sys.executable, "-m", "pip", "download", "--quiet", "--no-deps", "--only-binary=:all:",
               "--dest", str(wheel.parent), f"bpy-vrm-format=={version}"]  # fmt: skip
        done = subprocess.run(cmd, capture_output=True, text=True, check=False)
        if done.returncode != 0 or not wheel.is_file():
            reason = pip_reason(done.stderr)
            raise BuildError(f"could not fetch bpy-vrm-format {version}: {reason}")
    prefix = "io_scene_vrm/"
    with zipfile.ZipFile(wheel) as zf:
        entries = sorted(
            (name[len(prefix) :], zf.read(name))
            for name in zf.namelist()
            if name.startswith(prefix) and not name.endswith("/") and "__pycache__" not in name
        )
    if not any(name == "blender_manifest.toml" for name, _ in entries):
        raise BuildError(f"bpy-vrm-format {version} has no blender_manifest.toml in io_scene_vrm/")
    out = out_dir / f"vrm-{version}.zip"
    write_zip(out, entries)
    if check:
        validate(out)
    return out


def blender_ext_script() -> Path:
    spec = importlib.util.find_spec("bpy")
    if spec is None or spec.origin is None:
        raise BuildError("the bpy module is not installed, so Blender's validator cannot run (make .venv)")
    found = sorted(Path(spec.origin).parent.glob("*/scripts/addons_core/bl_pkg/cli/blender_ext.py"))
    if not found:
        raise BuildError("Blender's extension validator (bl_pkg/cli/blender_ext.py) is not in this bpy")
    return found[-1]


def validate(zip_path: Path) -> None:
    script = blender_ext_script()
    tags = script.parents[3] / "modules" / "_bpy_internal" / "extensions" / "tags.py"
    cmd = [sys.executable, str(script), "validate", str(zip_path), f"--valid-tags={tags}"]
    done = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if done.returncode != 0 or "error" in done.stdout.lower():
        lines = (done.stdout + done.stderr).strip().splitlines() or ["no output"]
        raise BuildError(f"Blender's validator rejected {zip_path.name}: {lines[-1]}")


def build(out_dir: Path, check: bool = True) -> Path:
    data = manifest()
    version = str(data.get("version", ""))
    if version != addon_version():
        raise BuildError(f"manifest version {version} differs from addon/core/version.py {addon_version()}")
    if data.get("id") != "avatar_forge":
        raise BuildError("manifest id must be avatar_forge")
    wheels = wheel_files(data)
    fetch_wheels(wheels)
    out_dir.mkdir(parents=True, exist_ok=True)
    out = out_dir / f"avatar_forge-{version}.zip"
    write_zip(out, staged_files(wheels))
    if check:
        validate(out)
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out-dir", type=Path, default=ROOT / "dist")
    parser.add_argument("--no-validate", action="store_true", help="skip Blender's validator")
    parser.add_argument("--kasm", action="store_true", help="also build the VRM Add-on zip the Kasm image installs")
    args = parser.parse_args()
    try:
        outputs = [build(args.out_dir, check=not args.no_validate)]
        if args.kasm:
            outputs.append(build_vrm_addon(args.out_dir, check=not args.no_validate))
    except BuildError as exc:
        print(f"build: error: {exc}", file=sys.stderr)
        return 1
    for out in outputs:
        print(f"{out}  sha256 {hashlib.sha256(out.read_bytes()).hexdigest()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
