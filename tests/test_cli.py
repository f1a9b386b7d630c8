"""forge.py as a user runs it: its own process, exit codes, one JSON document, no tracebacks for mistakes."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from tests.conftest import BLENDER_VERSION, FORGE, ROOT, run_forge


def _no_traceback(stderr: str) -> None:
    assert "Traceback" not in stderr
    assert stderr.strip().splitlines()[-1].startswith("forge: error:") or "usage:" in stderr


@pytest.mark.smoke
def test_version_reports_all_three_versions_as_json():
    result = run_forge("version", "--json")
    assert result.code == 0, result.stderr
    data = result.json()
    assert data["avatar_forge"] == "0.1.0"
    assert data["blender"].split()[0] == BLENDER_VERSION
    assert data["vrm_addon"]


@pytest.mark.smoke
def test_demo_avatar_json_is_the_only_thing_on_stdout_and_describes_the_file(tmp_path):
    out = tmp_path / "Avatar.blend"
    result = run_forge("demo-avatar", "--out", out, "--json")
    assert result.code == 0, result.stderr
    data = result.json()  # Blender's own fd-1 logs ("Info: Saved ...") must not leak into stdout
    assert data["out"] == str(out) and out.is_file()
    assert data["bones"] == 54 and len(data["shape_keys"]) == 13 and data["vrm_mapped"] is True
    assert 8_000 <= data["vertices"] <= 12_000


def test_blend_option_opens_the_file_first(demo_blend, tmp_path):
    out = tmp_path / "Two.blend"
    result = run_forge("demo-avatar", "--blend", demo_blend, "--out", out, "--json")
    assert result.code == 0, result.stderr
    assert result.json()["armature"] == "Avatar.001"  # the file already held one avatar


def test_existing_output_is_refused_and_left_untouched(tmp_path):
    out = tmp_path / "Keep.blend"
    out.write_bytes(b"precious")
    result = run_forge("demo-avatar", "--out", out)
    assert result.code == 2
    _no_traceback(result.stderr)
    assert "exists" in result.stderr
    assert out.read_bytes() == b"precious"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["demo-avatar", "--out", "nowhere/x.blend"], "does not exist"),
        (["demo-avatar", "--out", "x.txt"], "must end in .blend"),
        (["demo-avatar", "--out", "x.blend", "--detail", "0"], "--detail"),
        (["demo-avatar", "--out", "x.blend", "--blend", "missing.blend"], "no such file"),
        (["no-such-command"], "invalid choice"),
        (["demo-avatar"], "--out"),
    ],
)
def test_bad_input_exits_2_with_one_clear_line(tmp_path, args, message):
    args = [str(tmp_path / a) if a.endswith((".blend", ".txt")) else a for a in args]
    result = run_forge(*args)
    assert result.code == 2
    _no_traceback(result.stderr)
    assert message in result.stderr
    assert list(tmp_path.iterdir()) == []


def test_a_file_that_is_not_a_blend_is_refused(tmp_path):
    fake = tmp_path / "fake.blend"
    fake.write_text("not a blend file")
    result = run_forge("demo-avatar", "--blend", fake, "--out", tmp_path / "o.blend")
    assert result.code == 2
    _no_traceback(result.stderr)
    # One line, once: Blender's own "Error: File format is not supported" is what forge's line says.
    assert result.stdout == "" and len(result.stderr.splitlines()) == 1, result.stdout + result.stderr
    assert result.stderr.startswith("forge: error: cannot open ") and "File format is not supported" in result.stderr


def test_render_shows_a_figure_in_the_frame(tmp_path):
    png = tmp_path / "front.png"
    result = run_forge("demo-avatar", "--out", tmp_path / "a.blend", "--render", png)
    assert result.code == 0, result.stderr
    import bpy  # reading the PNG back with Blender's image loader

    image = bpy.data.images.load(str(png))
    w, h = image.size
    pixels = np.empty(w * h * 4, dtype=np.float32)
    image.pixels.foreach_get(pixels)
    rgb = pixels.reshape(h, w, 4)[:, :, :3]
    background = rgb[h - 2, 2]
    figure = np.abs(rgb - background).sum(axis=2) > 0.1
    rows = np.nonzero(figure.any(axis=1))[0]
    cols = np.nonzero(figure.any(axis=0))[0]
    # A T-posed person: about as wide (arms) as tall, filling most of the frame, torso in the middle.
    assert (rows.max() - rows.min()) > 0.7 * h
    assert (cols.max() - cols.min()) > 0.7 * w
    # Blender's pixel rows start at the bottom: chest at about 2/3 of the height, knees at 1/4.
    assert figure[int(h * 0.66), w // 2]
    assert not figure[int(h * 0.25), w // 2]  # the gap between the legs
    assert figure[int(h * 0.25), w // 2 - int(0.05 * w)] and figure[int(h * 0.25), w // 2 + int(0.05 * w)]
    assert 0.05 < figure.mean() < 0.5


def _script(path: Path) -> Any:
    spec = importlib.util.spec_from_file_location(path.stem, path)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_arguments_after_double_dash_are_ours_inside_a_blender_binary(monkeypatch):
    launch = _script(ROOT / "addon" / "cli" / "launch.py")
    monkeypatch.setattr(sys, "argv", ["blender", "-b", "a.blend", "--python", "scripts/forge.py", "--", "version"])
    assert launch._arguments() == ["version"]
    monkeypatch.setattr(sys, "argv", ["scripts/forge.py", "check", "--", "x"])
    assert launch._arguments() == ["check", "--", "x"]
    assert Path(_script(FORGE)._addon_dir()).name == "addon"
