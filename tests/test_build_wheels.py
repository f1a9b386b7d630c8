"""The extension zip carries the web-packing wheels (meshopt, Pillow) that Blender's own installer picks
for Linux x86-64 under Python 3.11 (Blender 4.2-4.5) and 3.13 (Blender 5.x), so Publish in Blender's UI
writes the packed file; installed by Blender, they import from the extension's site-packages."""

from __future__ import annotations

import json
import subprocess
import sys
import zipfile
from pathlib import Path

from tests.conftest import ROOT
from tests.test_build import _scratch_checkout, built_zip  # noqa: F401  (session fixture)
from tests.test_install import INSTALL, _blender

# Blender's own choice, made by the function it runs when it enables an extension, for a given Python
# and platform: it reads both from `sys` and `sysconfig`, so those are set to the target's for the call.
PICK = """
import json, os, sys, sysconfig, tomllib, zipfile
import bpy
from bl_pkg import bl_extension_ops
with zipfile.ZipFile(sys.argv[1]) as zf:
    wheels = tomllib.loads(zf.read("blender_manifest.toml").decode())["wheels"]
picked = {}
for python in ((3, 11), (3, 13)):
    for platform in ("linux-x86_64", "win-amd64"):
        sys.version_info, sysconfig.get_platform = python + (0,), lambda p=platform: p
        key = "%d.%d %s" % (python + (platform,))
        picked[key] = [w.rsplit("/", 1)[-1] for w in bl_extension_ops._extensions_wheel_filter_for_this_system(wheels)]
print(json.dumps(picked))
sys.stdout.flush(); os._exit(0)
"""

LINUX = "manylinux_2_27_x86_64.manylinux_2_28_x86_64"


def _picked(zip_path: Path, tmp_path: Path) -> dict[str, list[str]]:
    done = _blender(PICK, tmp_path / "user", str(zip_path))
    assert done.returncode == 0, done.stderr
    picked: dict[str, list[str]] = json.loads(done.stdout.strip().splitlines()[-1])
    return picked


def test_blender_picks_meshopt_and_pillow_for_each_python_on_linux_x64(built_zip, tmp_path):  # noqa: F811
    picked = _picked(built_zip, tmp_path)
    with zipfile.ZipFile(built_zip) as zf:
        names = set(zf.namelist())
    web = {
        "3.11 linux-x86_64": {f"meshopt-0.1.0-cp311-cp311-{LINUX}.whl", f"pillow-12.0.0-cp311-cp311-{LINUX}.whl"},
        "3.13 linux-x86_64": {f"meshopt-0.1.0-cp312-abi3-{LINUX}.whl", f"pillow-12.0.0-cp313-cp313-{LINUX}.whl"},
    }
    for key, wheels in web.items():
        native = {w for w in picked[key] if not w.endswith("-any.whl")}
        assert native == wheels, key  # exactly one of each package: no clash, none missing
        assert {f"wheels/{w}" for w in picked[key]} <= names
    # Elsewhere only the pure-Python wheels install: the export then writes the file unpacked, saying so.
    assert all(w.endswith("-any.whl") for key in ("3.11 win-amd64", "3.13 win-amd64") for w in picked[key])
    assert "boto3-1.44.8-py3-none-any.whl" in picked["3.13 win-amd64"]


def test_installed_zip_imports_meshopt_and_pil_from_its_own_site_packages(built_zip, tmp_path):  # noqa: F811
    user = tmp_path / "user"
    installed = _blender(INSTALL, user, str(built_zip))
    assert installed.returncode == 0, installed.stderr
    python = f"python{sys.version_info[0]}.{sys.version_info[1]}"
    site = user / "extensions" / ".local" / "lib" / python / "site-packages"
    assert (site / "meshopt").is_dir() and (site / "PIL").is_dir(), sorted(p.name for p in site.iterdir())
    # The extension's site-packages ahead of everything else, as in Blender (numpy comes with Blender);
    # then the export's own checks for the two packages it packs with.
    code = (
        "import sys, json; sys.path.insert(0, sys.argv[1]);"
        "from addon.core.vrm.webpack import meshopt_codec, textures; import meshopt, PIL;"
        "print(json.dumps([meshopt.__file__, PIL.__file__, meshopt_codec.available(), textures.available()]))"
    )
    done = subprocess.run(
        [sys.executable, "-c", code, str(site)], cwd=ROOT, capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stderr
    meshopt_file, pil_file, geometry, webp = json.loads(done.stdout)
    assert Path(meshopt_file).is_relative_to(site) and Path(pil_file).is_relative_to(site)
    assert geometry is True and webp is True


def test_build_fetches_each_platform_wheel_for_its_own_tags(tmp_path):
    """On a machine whose Python is neither 3.12+ nor necessarily Linux, build.py still downloads the
    exact files the manifest names (pip asked for the wheel's tags, not this machine's)."""
    root = _scratch_checkout(tmp_path)
    (root / "wheels").unlink()
    (root / "wheels").mkdir()
    manifest = root / "blender_manifest.toml"
    text = manifest.read_text()
    start, end = text.index("wheels = ["), text.index("]", text.index("wheels = ["))
    wanted = [f"meshopt-0.1.0-cp311-cp311-{LINUX}.whl", f"meshopt-0.1.0-cp312-abi3-{LINUX}.whl"]
    manifest.write_text(text[:start] + "wheels = " + json.dumps([f"./wheels/{w}" for w in wanted]) + text[end + 1 :])
    done = subprocess.run(
        [sys.executable, str(root / "build.py"), "--out-dir", str(tmp_path / "dist")],
        capture_output=True, text=True, check=False, timeout=300,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert sorted(p.name for p in (root / "wheels").iterdir()) == wanted
    with zipfile.ZipFile(tmp_path / "dist" / "avatar_forge-0.1.0.zip") as zf:
        assert {f"wheels/{w}" for w in wanted} <= set(zf.namelist())
    for wheel in wanted:  # byte for byte the release the shared build bundles
        assert (root / "wheels" / wheel).read_bytes() == (ROOT / "wheels" / wheel).read_bytes()
