#!/usr/bin/env python3
"""Renders one expression of the demo avatar the way a three.js viewer shades the exported files: left from
companions-web (morph-target normals), right from companions-web-lite (none: the neutral face's normals).

    python bench/render_morph_normals.py [--expression surprised] [--detail 4] [--out docs/morph-normals.png]

Blender keeps no normals per shape key, so each side is rebuilt from its .vrm: positions plus the expression's
morph target at weight 1, and normals as three.js computes them (the base normal plus the morph normal, or the
base normal alone), set as custom normals and rendered with Workbench's studio light.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import sys
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

# Run as a script (python bench/NAME.py), the checkout is not on the path yet.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from bench.common import ROOT, start_blender

SIDES = ("companions-web", "companions-web-lite")
SPACING = 0.35  # metres between the two heads


def morphed(path: Path, expression: str) -> tuple[npt.NDArray[Any], npt.NDArray[Any], npt.NDArray[Any]]:
    """(positions, normals, triangles) of the file's morphed mesh at `expression` = 1, in Blender's axes."""
    from addon.core.vrm.accessors import accessor_array
    from addon.core.vrm.glb import read

    document, binary = read(path.read_bytes())
    mesh = next(m for m in document["meshes"] if m["primitives"][0].get("targets"))
    primitive = mesh["primitives"][0]
    target = primitive["targets"][mesh["extras"]["targetNames"].index(expression)]
    positions = accessor_array(document, binary, primitive["attributes"]["POSITION"])
    normals = accessor_array(document, binary, primitive["attributes"]["NORMAL"])
    positions = positions + accessor_array(document, binary, target["POSITION"])
    if "NORMAL" in target:
        normals = normals + accessor_array(document, binary, target["NORMAL"])
    normals /= np.linalg.norm(normals, axis=1, keepdims=True)
    triangles = accessor_array(document, binary, primitive["indices"]).reshape(-1, 3)
    to_blender = np.array([[1, 0, 0], [0, 0, 1], [0, -1, 0]], dtype=np.float64)  # glTF Y-up -> Blender Z-up
    return positions @ to_blender, normals @ to_blender, triangles


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--expression", default="surprised")
    parser.add_argument("--detail", type=int, default=4)
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "morph-normals.png")
    args = parser.parse_args()
    bpy = start_blender("render-morph-normals-")
    from addon.blender import demo_avatar, render, vrm_export
    from addon.core.presets import get_preset

    folder = Path(tempfile.mkdtemp(prefix="render-morph-normals-"))
    demo_avatar.build_demo_avatar(args.detail)
    files = []
    for name in SIDES:
        files.append(folder / f"{name}.vrm")
        vrm_export.export_vrm(files[-1], dataclasses.replace(get_preset(name), thumbnail=False))
    bpy.ops.wm.read_homefile(use_empty=True)
    scene = bpy.context.scene
    top = 0.0
    for i, path in enumerate(files):
        positions, normals, triangles = morphed(path, args.expression)
        positions[:, 0] += (i - 0.5) * SPACING
        mesh = bpy.data.meshes.new(SIDES[i])
        mesh.from_pydata(positions.tolist(), [], triangles.tolist())
        mesh.normals_split_custom_set_from_vertices(normals.tolist())
        scene.collection.objects.link(bpy.data.objects.new(SIDES[i], mesh))
        top = max(top, float(positions[:, 2].max()))
    camera = bpy.data.cameras.new("Camera")
    camera.type, camera.ortho_scale = "ORTHO", 2 * SPACING
    camera_object = bpy.data.objects.new("Camera", camera)
    camera_object.location = (0.0, -2.0, top - 0.13)  # the face: a little below the top of the head
    camera_object.rotation_euler = (np.pi / 2, 0.0, 0.0)
    scene.collection.objects.link(camera_object)
    scene.camera = camera_object
    render.render_still(args.out, 960, 480)
    print(f"wrote {args.out}: '{args.expression}' with morph normals (left) and without (right)")
    return 0


if __name__ == "__main__":
    code = main()
    sys.stdout.flush()
    os._exit(code)  # bpy and the VRM Add-on can hang interpreter shutdown
