"""Real avatars' bare meshes fused as an AI generator or a scan hands a body over, dumped to .npz for the
auto-rig placement tests.

Run with the bpy module: `python dump_fused.py OUT_DIR VOXEL TRIANGLES MODEL[@DEGREES]...`. Each MODEL's
visible meshes in their rest shape, or with DEGREES the arms lowered by the artist's rig to that angle below
horizontal (dump_meshes.rest_meshes), are fused as tests/corpus/generated.py does it: joined, voxel-remeshed
at VOXEL times the height, decimated to about TRIANGLES triangles. OUT_DIR/<stem>.npz (<stem>@DEGREES.npz)
holds the one fused mesh (`names`, `v0`, `t0`) and the artist's joints, as dump_meshes.py writes them.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[3]


def fuse(model: Path, out: Path, voxel: float, triangles: int, arms: float | None) -> None:
    import bpy

    from addon.blender import context
    from tests.core.autorig.dump_meshes import rest_meshes
    from tests.corpus import generated

    meshes, joints = rest_meshes(model, arms)
    offsets = np.cumsum([0, *(len(v) for _, v, _ in meshes[:-1])])
    vertices = np.concatenate([v for _, v, _ in meshes])
    faces = np.concatenate([t + o for (_, _, t), o in zip(meshes, offsets, strict=True)])
    bpy.ops.wm.read_homefile(use_empty=True)
    data = bpy.data.meshes.new("Fused")
    data.from_pydata(vertices.tolist(), [], faces.tolist())
    context.scene().collection.objects.link(bpy.data.objects.new("Fused", data))
    mesh = generated.fuse(voxel, triangles).data
    assert isinstance(mesh, bpy.types.Mesh)
    mesh.calc_loop_triangles()
    co = np.empty(len(mesh.vertices) * 3)
    mesh.vertices.foreach_get("co", co)
    tris = np.empty(len(mesh.loop_triangles) * 3, dtype=np.int64)
    mesh.loop_triangles.foreach_get("vertices", tris)
    np.savez(out, names=np.array(["Fused"]), v0=co.reshape(-1, 3), t0=tris.reshape(-1, 3), **joints)


def main() -> int:
    sys.path.insert(0, str(ROOT))
    out_dir, voxel, triangles = Path(sys.argv[1]), float(sys.argv[2]), int(sys.argv[3])
    for spec in sys.argv[4:]:
        model, _, arms = spec.partition("@")
        stem = Path(model).stem + (f"@{arms}" if arms else "")
        fuse(Path(model), out_dir / f"{stem}.npz", voxel, triangles, float(arms) if arms else None)
    return 0


if __name__ == "__main__":
    code = main()
    sys.stdout.flush()
    os._exit(code)
