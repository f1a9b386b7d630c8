"""Real avatars' bare meshes fused as an AI generator or a scan hands a body over, dumped to .npz for the
auto-rig placement tests.

Run with the bpy module: `python dump_fused.py OUT_DIR VOXEL TRIANGLES DUMP...`. Each DUMP (a .npz of an
avatar's meshes in their rest shape and its artist's joints, as dump_meshes.py writes it, possibly with the
arms lowered) has its meshes fused as tests/corpus/generated.py does it: joined, voxel-remeshed at VOXEL
times the height, decimated to about TRIANGLES triangles. OUT_DIR/<the dump's name> holds the one fused mesh
(`names`, `v0`, `t0`) and the artist's joints, as dump_meshes.py writes them.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[3]


def fuse(dump: Path, out: Path, voxel: float, triangles: int) -> None:
    import bpy

    from addon.blender import context
    from tests.core.autorig.artists import read_dump
    from tests.corpus import generated

    parts, artist = read_dump(dump)
    offsets = np.cumsum([0, *(len(p.vertices) for p in parts[:-1])])
    vertices = np.concatenate([p.vertices for p in parts])
    faces = np.concatenate([p.triangles + o for p, o in zip(parts, offsets, strict=True)])
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
    np.savez(out, names=np.array(["Fused"]), v0=co.reshape(-1, 3), t0=tris.reshape(-1, 3),
             joint_names=np.array(list(artist)), joints=np.array(list(artist.values())).reshape(-1, 3))  # fmt: skip


def main() -> int:
    sys.path.insert(0, str(ROOT))
    out_dir, voxel, triangles = Path(sys.argv[1]), float(sys.argv[2]), int(sys.argv[3])
    for dump in map(Path, sys.argv[4:]):
        fuse(dump, out_dir / dump.name, voxel, triangles)
    return 0


if __name__ == "__main__":
    code = main()
    sys.stdout.flush()
    os._exit(code)
