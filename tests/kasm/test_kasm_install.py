"""scripts/kasm/install.py against temporary system and user folders, and the Dockerfile around it."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import textwrap
import tomllib
import zipfile
from pathlib import Path

import pytest

from tests.conftest import BLENDER_VERSION, ROOT

pytestmark = pytest.mark.slow  # installs and checks in processes of their own: about ten seconds

INSTALL = ROOT / "scripts" / "kasm" / "install.py"
DOCKERFILE = ROOT / "scripts" / "kasm" / "Dockerfile"
MODULES = ["bl_ext.system.avatar_forge", "bl_ext.system.vrm"]  # sorted
VRM_ZIP, FORGE_ZIP = "vrm-4.10.2.zip", "avatar_forge-0.1.0.zip"


@pytest.fixture(scope="module")
def kasm_dist(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """What `build.py --kasm` writes, by file name."""
    out = tmp_path_factory.mktemp("kasm-dist")
    done = subprocess.run(
        [sys.executable, str(ROOT / "build.py"), "--kasm", "--out-dir", str(out)],
        capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    return {p.name: p for p in out.glob("*.zip")}


def _env(tmp_path: Path, user: str = "user") -> dict[str, str]:
    system = tmp_path / "system-extensions"
    system.mkdir(exist_ok=True)
    (tmp_path / "tmp").mkdir(exist_ok=True)
    return dict(
        os.environ,
        TMPDIR=str(tmp_path / "tmp"),  # Blender's blender_* folder: a script ending with os._exit leaves it
        BLENDER_SYSTEM_EXTENSIONS=str(system),
        BLENDER_SYSTEM_SCRIPTS=str(tmp_path / "system-scripts"),
        BLENDER_USER_RESOURCES=str(tmp_path / user),
        AVATAR_FORGE_MCP_AUTO_START="1",
    )


def _install(env: dict[str, str], *zips: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(INSTALL), *map(str, zips)], capture_output=True, text=True, env=env, timeout=300,
        check=False,
    )  # fmt: skip


def _blender(env: dict[str, str], code: str) -> dict[str, object]:
    done = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True, env=env, timeout=300,
        check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    return dict(json.loads(done.stdout.strip().splitlines()[-1]))


STATE = """
import json, os, sys
import bpy
import addon_utils
addons = bpy.context.preferences.addons
{extra}
forge = addons.get("bl_ext.system.avatar_forge")
print(json.dumps({{
    "enabled": sorted(k for k in addons.keys() if k.startswith("bl_ext.")),
    "auto_start": forge.preferences.mcp_auto_start if forge else None,
    "storage_root": forge.preferences.storage_root if forge else None,
    "vrm_ready": hasattr(bpy.types.Armature, "vrm_addon_extension"),
}}))
sys.stdout.flush(); os._exit(0)
"""

# A persistent profile from before the image: its preferences list neither add-on. Blender loads those
# preferences, then registers startup scripts, then enables what the preferences list.
OLD_PROFILE = """
import importlib
for name in ("bl_ext.system.avatar_forge", "bl_ext.system.vrm"):
    addon_utils.disable(name, default_set=True)
assert not [k for k in addons.keys() if k.startswith("bl_ext.")]
importlib.import_module("avatar_forge_kasm_enable").register()
addon_utils.reset_all()
"""


def _version(text: str) -> tuple[int, ...]:
    return tuple(int(part) for part in text.split(".")[:3])


def _vrm_addon_max(kasm_dist) -> str:
    """The first Blender the pinned VRM Add-on no longer supports, from its own manifest."""
    with zipfile.ZipFile(kasm_dist[VRM_ZIP]) as zf:
        return str(tomllib.loads(zf.read("blender_manifest.toml").decode())["blender_version_max"])


@pytest.mark.smoke
def test_installs_both_for_every_user_with_the_kasm_defaults(kasm_dist, tmp_path):
    if _version(BLENDER_VERSION) >= _version(_vrm_addon_max(kasm_dist)):
        pytest.skip(f"{VRM_ZIP} supports Blender below {_vrm_addon_max(kasm_dist)} only (the image refuses it)")
    zips = [kasm_dist[VRM_ZIP], kasm_dist[FORGE_ZIP]]
    done = _install(_env(tmp_path, "build-user"), *zips)
    assert done.returncode == 0, done.stderr
    assert done.stdout.count("install: enabled") == 2
    # A new user, who never saw the build: both enabled at start-up, auto-start on by default.
    fresh = _blender(_env(tmp_path, "new-user"), STATE.format(extra=""))
    assert fresh == {"enabled": MODULES, "auto_start": True, "storage_root": "/s3/blender-avatars", "vrm_ready": True}
    # Blender set up the zip's wheels for that user at start, the web-packing ones for this Linux x86-64
    # Python among them, so Publish in the image writes the packed file.
    python = f"python{sys.version_info[0]}.{sys.version_info[1]}"
    site = tmp_path / "new-user" / "extensions" / ".local" / "lib" / python / "site-packages"
    assert {"meshopt", "PIL", "boto3"} <= {p.name for p in site.iterdir()}
    # A returning user whose saved preferences predate the image.
    returning = _blender(_env(tmp_path, "old-user"), STATE.format(extra=textwrap.dedent(OLD_PROFILE)))
    assert returning["enabled"] == MODULES and returning["vrm_ready"] is True


def _retarget(source: Path, dest: Path, old: str, new: str) -> Path:
    with zipfile.ZipFile(source) as zin, zipfile.ZipFile(dest, "w") as zout:
        for item in zin.infolist():
            data = zin.read(item)
            if item.filename == "blender_manifest.toml":
                assert old.encode() in data
                data = data.replace(old.encode(), new.encode())
            zout.writestr(item, data)
    return dest


def test_a_zip_for_a_newer_blender_fails_loudly_and_installs_nothing(kasm_dist, tmp_path):
    newer = _retarget(
        kasm_dist[FORGE_ZIP], tmp_path / "future.zip",
        'blender_version_min = "4.2.0"', 'blender_version_min = "9.1.0"',
    )  # fmt: skip
    env = _env(tmp_path)
    done = _install(env, newer)
    assert done.returncode == 1
    assert f"needs Blender 9.1.0 or newer; this is {BLENDER_VERSION}" in done.stderr
    assert not (tmp_path / "system-extensions" / "system" / "avatar_forge").exists()
    assert _blender(_env(tmp_path, "other"), STATE.format(extra=""))["enabled"] == []


@pytest.mark.parametrize("content", [b"not a zip", None])
def test_a_file_that_is_not_an_extension_is_refused(tmp_path, content):
    bogus = tmp_path / "bogus.zip"
    if content is None:
        with zipfile.ZipFile(bogus, "w") as zf:
            zf.writestr("readme.txt", "no manifest")
    else:
        bogus.write_bytes(content)
    done = _install(_env(tmp_path), bogus)
    assert done.returncode == 1
    assert done.stderr.strip().splitlines()[-1] == f"install: error: {bogus}: not a Blender extension zip " + (
        "(File is not a zip file)" if content else "(\"There is no item named 'blender_manifest.toml' in the archive\")"
    )


def test_a_missing_system_extensions_folder_is_an_error_not_a_silent_fallback(kasm_dist, tmp_path):
    env = _env(tmp_path)
    env["BLENDER_SYSTEM_EXTENSIONS"] = str(tmp_path / "absent")
    done = _install(env, kasm_dist[FORGE_ZIP])
    assert done.returncode == 1
    assert "must exist before Blender starts" in done.stderr


def test_the_dockerfile_installs_exactly_what_build_produces(kasm_dist):
    text = DOCKERFILE.read_text()
    copied = set(re.findall(r"dist/([\w.-]+\.zip)", text))
    assert copied == set(kasm_dist)
    # install.py gets the same files, the VRM Add-on first (Avatar Forge maps bones into its data).
    installed = re.findall(r"/tmp/avatar-forge/([\w.-]+\.zip)", text.split("install.py --", 1)[1])
    assert installed == [VRM_ZIP, FORGE_ZIP]
    for setting in ("AVATAR_FORGE_MCP_AUTO_START=1", "AVATAR_FORGE_STORAGE_ROOT=/s3/blender-avatars"):
        assert setting in text
    # Kasm's start-up stays Kasm's: custom_startup.sh (with $APP_ARGS) is neither replaced nor bypassed.
    assert not re.search(r"^(COPY|ADD)\b.*custom_startup\.sh", text, re.MULTILINE)
    assert not re.search(r"^(ENTRYPOINT|CMD)\b", text, re.MULTILINE)


# Kasm's Blender binary, which is not here: runs the --python script under this bpy with Blender's argv.
BLENDER_STANDIN = """#!{python}
import runpy, sys
sys.argv = ["blender", *sys.argv[1:]]
runpy.run_path(sys.argv[sys.argv.index("--python") + 1], run_name="__main__")
"""


def _dockerfile_install_step(tmp_path: Path, zips: list[Path]) -> subprocess.CompletedProcess[str]:
    """The Dockerfile's install RUN step as docker runs it (sh -c, its ENV), in temporary folders."""
    text = DOCKERFILE.read_text()
    step = next(r for r in re.findall(r"^RUN (.*?)(?<!\\)$", text, re.MULTILINE | re.DOTALL) if "install.py" in r)
    stage, opt = tmp_path / "stage", tmp_path / "opt"
    stage.mkdir(parents=True)
    for item in [*zips, INSTALL]:
        (stage / item.name).write_bytes(item.read_bytes())
    standin = tmp_path / "blender-standin"
    standin.write_text(BLENDER_STANDIN.format(python=sys.executable))
    standin.chmod(0o755)
    places = {"/tmp/avatar-forge": str(stage), "/opt/avatar-forge": str(opt), "/blender/blender": str(standin)}
    env = dict(os.environ, BLENDER_USER_RESOURCES=str(tmp_path / "build-user"))
    env.update(re.findall(r"(\w+)=(\S+)", text.split("\nENV ", 1)[1].split("\n\n", 1)[0]))
    for old, new in places.items():
        step = step.replace(old, new)
        env = {k: v.replace(old, new) for k, v in env.items()}
    return subprocess.run(["sh", "-c", step], capture_output=True, text=True, env=env, timeout=300, check=False)


@pytest.mark.smoke
def test_the_image_build_fails_with_the_installers_reason_on_a_blender_the_vrm_addon_does_not_fit(kasm_dist, tmp_path):
    """The base image's Blender is checked at build time: the build stops at the install step with
    install.py's line. The pinned VRM Add-on on a Blender it does not cover, else the same zip with its
    upper bound lowered to this Blender; and the unchanged zips on a Blender they cover build."""
    vrm, high = kasm_dist[VRM_ZIP], _vrm_addon_max(kasm_dist)
    if _version(BLENDER_VERSION) < _version(high):
        built = _dockerfile_install_step(tmp_path / "fits", [vrm, kasm_dist[FORGE_ZIP]])
        assert built.returncode == 0, built.stderr
        assert built.stdout.count("install: enabled") == 2 and not (tmp_path / "fits" / "stage").exists()
        key = "blender_version_max = "
        vrm = _retarget(vrm, tmp_path / VRM_ZIP, f'{key}"{high}"', f'{key}"{BLENDER_VERSION}"')
        high = BLENDER_VERSION
    built = _dockerfile_install_step(tmp_path / "refused", [vrm, kasm_dist[FORGE_ZIP]])
    assert built.returncode != 0
    assert built.stderr.strip().splitlines()[-1] == (
        f"install: error: {VRM_ZIP} supports Blender below {high} only; this is {BLENDER_VERSION}"
    )
    # Refused before anything was installed: Avatar Forge, which maps bones into the VRM Add-on's data, too.
    assert not list((tmp_path / "refused" / "opt").rglob("blender_manifest.toml"))


def test_the_dockerfile_passes_hadolint():
    hadolint = Path(sys.executable).parent / "hadolint"
    done = subprocess.run([str(hadolint), str(DOCKERFILE)], capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stdout + done.stderr
