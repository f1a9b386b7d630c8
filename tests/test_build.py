"""build.py: a deterministic, validated extension zip, or one line saying why not."""

from __future__ import annotations

import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from tests.conftest import ROOT


def _build(root: Path, out_dir: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(root / "build.py"), "--out-dir", str(out_dir)],
        capture_output=True,
        text=True,
        check=False,
        timeout=300,
    )


@pytest.fixture(scope="session")
def built_zip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("dist")
    done = _build(ROOT, out)
    assert done.returncode == 0, done.stderr
    return out / "avatar_forge-0.1.0.zip"


def test_two_builds_are_byte_identical(built_zip, tmp_path):
    done = _build(ROOT, tmp_path)
    assert done.returncode == 0, done.stderr
    assert (tmp_path / built_zip.name).read_bytes() == built_zip.read_bytes()


def test_zip_holds_the_package_manifest_and_wheels_at_its_root(built_zip):
    with zipfile.ZipFile(built_zip) as zf:
        names = zf.namelist()
    assert "__init__.py" in names and "blender_manifest.toml" in names
    assert "core/rig/humanoid.py" in names and "cli/main.py" in names
    assert any(n.startswith("wheels/boto3-") for n in names)
    assert not any("__pycache__" in n or n.endswith(".pyc") for n in names)
    assert names == sorted(names)


def _scratch_checkout(tmp_path: Path) -> Path:
    """A copy of what build.py reads, to break on purpose."""
    root = tmp_path / "checkout"
    root.mkdir()
    shutil.copy(ROOT / "build.py", root)
    shutil.copy(ROOT / "blender_manifest.toml", root)
    shutil.copytree(ROOT / "addon", root / "addon", ignore=shutil.ignore_patterns("__pycache__"))
    (root / "wheels").symlink_to(ROOT / "wheels")
    return root


def test_a_version_mismatch_fails_with_one_line(tmp_path):
    root = _scratch_checkout(tmp_path)
    manifest = root / "blender_manifest.toml"
    manifest.write_text(manifest.read_text().replace('version = "0.1.0"', 'version = "0.2.0"'))
    done = _build(root, tmp_path / "dist")
    assert done.returncode == 1
    assert done.stderr.strip().count("\n") == 0 and "differs" in done.stderr
    assert not (tmp_path / "dist").exists() or not any((tmp_path / "dist").iterdir())


def test_blenders_validator_rejects_what_blender_would(tmp_path):
    root = _scratch_checkout(tmp_path)
    manifest = root / "blender_manifest.toml"
    manifest.write_text(manifest.read_text().replace('blender_version_min = "4.2.0"', 'blender_version_min = "4.x"'))
    done = _build(root, tmp_path / "dist")
    assert done.returncode == 1
    assert done.stderr.startswith("build: error: Blender's validator rejected")
    assert done.stderr.strip().count("\n") == 0
