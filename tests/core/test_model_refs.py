"""The import's decision on a glTF's URIs and declared sizes, from its bytes alone (no Blender)."""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

import pytest

from addon.core.models.refs import import_problem, refusal
from addon.core.vrm.inspect import MAX_UNBACKED_TOTAL


def _gltf(folder: Path, buffers: list[dict[str, Any]], **more: Any) -> Path:
    path = folder / "model.gltf"
    path.write_text(json.dumps({"asset": {"version": "2.0"}, "buffers": buffers, **more}))
    return path


def _problem(path: Path) -> str | None:
    return import_problem(path, "gltf", path.read_bytes())


@pytest.mark.parametrize(
    ("uri", "reason"),
    [
        ("FILE:///etc/passwd", "has a scheme"),
        ("https://example.com/a.bin", "has a scheme"),
        ("%2Fetc%2Fpasswd", "is an absolute path"),
        ("..%5Csecret.bin", "is an absolute path or not a plain relative one"),  # a backslash, decoded
        ("sub/../../secret.bin", "climbs out with '..'"),
    ],
)
def test_a_uri_that_is_not_a_plain_relative_path_is_refused_naming_it(tmp_path, uri, reason):
    problem = _problem(_gltf(tmp_path, [{"uri": uri, "byteLength": 4}]))
    assert problem is not None and problem.startswith(f"buffer 0 URI {uri!r} {reason}")


def test_data_uris_and_files_beside_the_model_are_read_when_they_hold_what_they_declare(tmp_path):
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "a b.bin").write_bytes(b"\0" * 12)
    inline = "data:application/octet-stream;base64," + base64.b64encode(b"\0" * 12).decode()
    views = [{"buffer": 0, "byteLength": 12}, {"buffer": 1, "byteLength": 12}]
    accessors = [{"bufferView": i, "componentType": 5126, "type": "VEC3", "count": 1} for i in (0, 1)]
    path = _gltf(tmp_path, [{"uri": "sub/a%20b.bin", "byteLength": 12}, {"uri": inline, "byteLength": 12}],
                 bufferViews=views, accessors=accessors)  # fmt: skip
    assert _problem(path) is None
    (tmp_path / "sub" / "a b.bin").write_bytes(b"\0" * 8)
    problem = _problem(path)
    assert problem is not None and problem.startswith("buffers 0 declare more bytes than their data holds; ")


def test_zeros_declared_without_buffer_views_are_bounded_in_all_not_only_one_by_one(tmp_path):
    each = 60 * 1024 * 1024 // 16  # under the bound for one accessor
    accessors = [{"componentType": 5126, "type": "VEC4", "count": each} for _ in range(5)]
    problem = _problem(_gltf(tmp_path, [], accessors=accessors))
    assert problem == (f"accessors without a bufferView declare {5 * each * 16} bytes of zeros in all, "
                       f"over the limit of {MAX_UNBACKED_TOTAL}")  # fmt: skip
    assert _problem(_gltf(tmp_path, [], accessors=accessors[:4])) is None


def test_the_refusal_before_any_import_names_the_file_and_says_what_the_import_would(tmp_path):
    # What convert and batch say, without a Blender, for a file the import would refuse before reading it.
    (tmp_path / "Notes.fbx").write_text("shopping list: bread, milk\n")
    (tmp_path / "Text.blend").write_text("not a blend")
    (tmp_path / "Short.glb").write_bytes(b"glTF")
    reaching = _gltf(tmp_path, [{"uri": "../secret.bin", "byteLength": 4}])
    assert refusal(tmp_path / "Notes.fbx") == (
        "Notes.fbx: not a binary FBX file (Blender's FBX importer reads binary FBX 7.1 and newer only)"
    )
    assert refusal(tmp_path / "Text.blend") == "Text.blend: not a .blend file"
    assert (refusal(tmp_path / "Short.glb") or "").startswith("Short.glb: ")
    assert refusal(reaching) == f"model.gltf: {_problem(reaching)}"
    # A file the import would go on with, or one that is not there to read, is left to the import.
    blend = tmp_path / "Real.blend"
    blend.write_bytes(b"BLENDER-v405" + bytes(100))
    assert refusal(blend) is None and refusal(tmp_path / "Gone.glb") is None and refusal(tmp_path / "a.txt") is None
