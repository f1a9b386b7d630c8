"""Skin weights for the auto-rig: Blender's bone heat, read back and checked (it fails silently), a bone
heat on a watertight voxel proxy transferred to the mesh where it failed, rigid binding for the plan's
rigid parts; core.autorig.weights decides what is kept, this writes it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

import bmesh
import bpy
import numpy as np
from mathutils import Vector
from mathutils.bvhtree import BVHTree
from mathutils.kdtree import KDTree

from ...core.autorig import MeshPart, RigPlan
from ...core.autorig import weights as decide
from ...core.rig.model import BoolArray, FloatArray, IntArray
from ...core.rig.skinning import envelope_weights, segment_distances
from .. import context, rig_reader
from . import read
from .build import bone_name
from .timing import Timings

# The voxel proxy's cell, as a fraction of the avatar's height: fine enough for fingers, coarse enough to
# close gaps between clothes and body.
PROXY_VOXEL = 1 / 160
# The remeshed proxy is decimated to this many vertices before its bone heat, whose solve grows faster than
# the vertex count (it was most of an auto-rig's time at 37k). Measured on the bare corpus meshes in a test
# pose, the weights move the skinned surface by 0.02% of the height on average and 0.6% at worst.
PROXY_VERTICES = 12000
_ops: Any = bpy.ops  # fake-bpy-module types operators as returning None; they return a set

How = Literal["heat", "proxy", "nearest", "rigid", "shells"]


@dataclass(frozen=True)
class Binding:
    """How one mesh was bound: `heat` (bone heat on the mesh), `proxy` (bone heat on its voxel proxy,
    transferred, after heat left all `heat_unweighted` of its vertices bare), `nearest` (both failed: each
    vertex to its nearest bone), `rigid` (wholly to `bone`) or `shells` (a kit-bashed body: each separate
    shell wholly to one bone, see shells.py); `transferred` vertices (`empty_shells` shells heat left bare,
    and shells lying on the skin or hanging off it) took the weights of the skin nearest to them; `filled`
    vertices were left without weight and went to their nearest allowed bone; `rigid_shells` of its hard
    shells (closed, small, in one bone's region) ride wholly on their bone."""

    mesh: str
    how: How
    vertices: int
    heat_unweighted: int = 0
    empty_shells: int = 0
    transferred: int = 0
    filled: int = 0
    bone: str | None = None
    rigid_shells: int = 0

    def to_json(self) -> dict[str, Any]:
        return {"mesh": self.mesh, "how": self.how, "vertices": self.vertices, "heat_unweighted": self.heat_unweighted,
                "empty_shells": self.empty_shells, "transferred": self.transferred, "filled": self.filled,
                "rigid_shells": self.rigid_shells, "bone": self.bone}  # fmt: skip


def _select_only(objects: list[bpy.types.Object], active: bpy.types.Object) -> None:
    layer = context.view_layer()
    layer.update()  # its objects list keeps the copies removed since its last update (bone heat run again) till then
    for obj in layer.objects:
        obj.select_set(False)
    for obj in objects:
        obj.select_set(True)
    layer.objects.active = active


def bone_heat(meshes: list[bpy.types.Object], armature: bpy.types.Object) -> None:
    """Blender's automatic weights: parents the meshes to the armature with an Armature modifier."""
    _select_only([*meshes, armature], armature)
    _ops.object.parent_set(type="ARMATURE_AUTO", keep_transform=True)


def read_weights(mesh: bpy.types.Mesh, bones: list[str]) -> FloatArray:
    return rig_reader.dense_weights(mesh, bones).astype(np.float64)


def _bake(obj: bpy.types.Object) -> None:
    """Makes the object's modifiers part of its mesh (the evaluated mesh replaces it; no operator context)."""
    depsgraph = bpy.context.evaluated_depsgraph_get()
    baked = bpy.data.meshes.new_from_object(obj.evaluated_get(depsgraph))
    old = obj.data
    obj.modifiers.clear()
    obj.data = baked
    assert isinstance(old, bpy.types.Mesh)
    bpy.data.meshes.remove(old)


class Transfer:
    """Weights carried from a weighted surface to other points: each takes the weights at its nearest point
    of the surface, interpolated across that triangle."""

    def __init__(self, points: FloatArray, triangles: IntArray, weights: FloatArray) -> None:
        self.points, self.triangles, self.source = points, triangles, weights
        self.tree: Any = (  # the stubs type FromPolygons as returning None
            BVHTree.FromPolygons(points.tolist(), triangles.tolist(), all_triangles=True) if len(triangles) else None
        )

    def __call__(self, points: FloatArray) -> FloatArray:
        if self.tree is None:
            return np.zeros((len(points), self.source.shape[1]))
        found = np.empty((len(points), 3))
        faces = np.zeros(len(points), dtype=np.int64)
        for i, point in enumerate(points.tolist()):
            location, _normal, face, _distance = self.tree.find_nearest(point)
            found[i], faces[i] = location, face
        return decide.interpolated(self.source, self.triangles[faces], self.points, found)


class Proxy:
    """One watertight stand-in for the whole avatar, made on first use: every skinned mesh joined, voxel
    remeshed (gaps between clothes and body closed, loose shells fused), only its largest shell kept (a
    shell that sees no bone makes bone heat's whole solve fail), decimated to PROXY_VERTICES, with bone heat
    on it. Its surface and weights are read once; the object is deleted straight after."""

    def __init__(self, meshes: list[bpy.types.Object], armature: bpy.types.Object, height: float) -> None:
        self.meshes, self.armature, self.height = meshes, armature, height
        self._transfer: Transfer | None = None

    def _make(self, bones: list[str]) -> Transfer:
        joined = bmesh.new()
        for obj in self.meshes:
            data = obj.data
            assert isinstance(data, bpy.types.Mesh)
            joined.from_mesh(data)  # each mesh adds its geometry; all sit at the origin in the rig frame
        mesh = bpy.data.meshes.new("AutoRigProxy")
        joined.to_mesh(mesh)
        joined.free()
        proxy = bpy.data.objects.new("AutoRigProxy", mesh)
        context.scene().collection.objects.link(proxy)
        try:
            proxy.vertex_groups.clear()
            remesh = proxy.modifiers.new("Remesh", "REMESH")
            assert isinstance(remesh, bpy.types.RemeshModifier)
            remesh.mode, remesh.voxel_size = "VOXEL", PROXY_VOXEL * self.height
            _bake(proxy)
            _keep_largest_shell(proxy)
            vertices = len(proxy.data.vertices)  # type: ignore[union-attr]
            if vertices > PROXY_VERTICES:
                decimate = proxy.modifiers.new("Decimate", "DECIMATE")
                assert isinstance(decimate, bpy.types.DecimateModifier)
                decimate.ratio = PROXY_VERTICES / vertices
                _bake(proxy)
            bone_heat([proxy], self.armature)
            part = read.read_part(proxy)
            weights = read_weights(proxy.data, bones)  # type: ignore[arg-type]
        finally:
            _remove(proxy)
        return Transfer(part.vertices, part.triangles, weights)

    def weights(self, points: FloatArray, bones: list[str]) -> FloatArray:
        """The proxy's weights carried to `points`: from the nearest point of its surface, interpolated."""
        if self._transfer is None:
            self._transfer = self._make(bones)
        return self._transfer(points)


def _remove(obj: bpy.types.Object) -> None:
    data = obj.data
    bpy.data.objects.remove(obj, do_unlink=True)
    if isinstance(data, bpy.types.Mesh) and data.users == 0:
        bpy.data.meshes.remove(data)


def _keep_largest_shell(obj: bpy.types.Object) -> None:
    part = read.read_part(obj)
    labels = decide.shells(len(part.vertices), part.triangles)
    largest = np.bincount(labels).argmax()
    mesh = obj.data
    assert isinstance(mesh, bpy.types.Mesh)
    edit = bmesh.new()
    edit.from_mesh(mesh)
    edit.verts.ensure_lookup_table()
    bmesh.ops.delete(edit, geom=[edit.verts[i] for i in np.nonzero(labels != largest)[0].tolist()], context="VERTS")
    edit.to_mesh(mesh)
    edit.free()


def write_weights(obj: bpy.types.Object, bones: list[str], weights: FloatArray) -> None:
    """Replaces the mesh's groups of these bones with `weights` (N, B); vertices sharing a weight in a group
    are written in one call (the weights are multiples of 1/1000)."""
    for name in bones:
        if name in obj.vertex_groups:
            obj.vertex_groups.remove(obj.vertex_groups[name])
    for b, name in enumerate(bones):
        column = weights[:, b]
        rows = np.nonzero(column > 0.0)[0]
        if not len(rows):
            continue
        group = obj.vertex_groups.new(name=name)
        values, inverse = np.unique(column[rows], return_inverse=True)
        order = np.argsort(inverse, kind="stable")
        starts = np.searchsorted(inverse[order], np.arange(len(values) + 1))
        for v, value in enumerate(values.tolist()):
            group.add(rows[order[starts[v] : starts[v + 1]]].tolist(), value, "REPLACE")


def bind_rigid(obj: bpy.types.Object, armature: bpy.types.Object, vrm_bone: str) -> Binding:
    """The whole mesh follows one bone: one group at weight 1, with the Armature modifier."""
    name = bone_name(vrm_bone)
    obj.vertex_groups.clear()
    mesh = obj.data
    assert isinstance(mesh, bpy.types.Mesh)
    obj.vertex_groups.new(name=name).add(list(range(len(mesh.vertices))), 1.0, "REPLACE")
    attach(obj, armature)
    return Binding(obj.name, "rigid", len(mesh.vertices), bone=name)


def attach(obj: bpy.types.Object, armature: bpy.types.Object) -> None:
    """The mesh follows the armature through its vertex groups: an Armature modifier, and the armature as parent."""
    modifier = obj.modifiers.new("Armature", "ARMATURE")
    assert isinstance(modifier, bpy.types.ArmatureModifier)
    modifier.object = armature
    obj.parent = armature


def welded_heat(
    welds: dict[str, decide.Welded], armature: bpy.types.Object, bones: list[str], heads: FloatArray, tails: FloatArray
) -> dict[str, FloatArray]:
    """Bone heat on a welded copy of each mesh (by name), read back onto the mesh's own vertices. An imported
    mesh is split along its UV seams and hard edges into hundreds of loose shells; heat does not flow across
    a split, and one small shell that sees no bone fails the whole solve (Godette's body: 195 shells, all
    left bare). Where the copy's solve fails all the same, it runs again without what gives the solve no
    equation (`heads` and `tails` are the bones', in `bones`' order): the welded shells that see no bone
    (`decide.blind`), which heat would leave bare anyway and which take the weights of the skin around them
    (`decide.unskinned`), and the triangles its Laplacian ignores (`decide.flat`: geometry collapsed to a
    speck, whose vertices then take their nearest bone's heat)."""
    found = _heat({name: (weld.points, weld.faces) for name, weld in welds.items()}, armature, bones)
    kept: dict[str, IntArray] = {}
    retried: dict[str, tuple[FloatArray, IntArray]] = {}
    for name, weld in welds.items():
        if (found[name].sum(axis=1) >= decide.EMPTY).any():
            continue
        vertices, ends = decide.heat_rays(weld, heads, tails)
        hidden = decide.blind(weld, _sees(weld.points, weld.faces, vertices, ends), vertices)
        faces = weld.faces[~hidden[weld.faces].any(axis=1) & ~decide.flat(weld.points, weld.faces)]
        if len(faces) == len(weld.faces) or hidden.all():
            continue  # nothing to leave out, or nothing left
        kept[name] = np.nonzero(~hidden)[0]
        renumber = np.full(len(weld.points), -1, dtype=np.int64)
        renumber[kept[name]] = np.arange(len(kept[name]))
        retried[name] = (weld.points[kept[name]], renumber[faces])
    for name, weights in _heat(retried, armature, bones).items():
        found[name] = np.zeros_like(found[name])
        found[name][kept[name]] = weights
    return {name: found[name][weld.index] for name, weld in welds.items()}


def _heat(
    meshes: dict[str, tuple[FloatArray, IntArray]], armature: bpy.types.Object, bones: list[str]
) -> dict[str, FloatArray]:
    """Bone heat on a temporary mesh of each (points, triangles), by name: each point's weights."""
    copies: dict[str, bpy.types.Object] = {}
    try:
        for name, (points, faces) in meshes.items():
            mesh = bpy.data.meshes.new(f"AutoRigWelded {name}")
            # Bone heat reads no face shading: marking every face flat would be a tenth of a second on 30k.
            mesh.from_pydata(points.tolist(), [], faces.tolist(), shade_flat=False)
            copies[name] = bpy.data.objects.new(mesh.name, mesh)
            context.scene().collection.objects.link(copies[name])
        if copies:
            bone_heat(list(copies.values()), armature)
        return {name: read_weights(copy.data, bones) for name, copy in copies.items()}  # type: ignore[arg-type]
    finally:
        for copy in copies.values():
            _remove(copy)


def _sees(points: FloatArray, faces: IntArray, vertices: IntArray, ends: FloatArray) -> BoolArray:
    """Per sight line from `points[vertices]` to `ends`, whether it reaches its end as bone heat tests it: no
    triangle facing back along it lies on it (one it leaves through does not hide the bone)."""
    tree: Any = BVHTree.FromPolygons(points.tolist(), faces.tolist(), all_triangles=True)  # stubs: None
    out = np.ones(len(vertices), dtype=bool)
    for i, (start, end) in enumerate(zip(points[vertices].tolist(), ends.tolist(), strict=True)):
        origin, direction = Vector(start), Vector(end) - Vector(start)
        left = direction.length
        direction.normalize()
        step = 1e-5 * left  # bone heat's own offsets: the line leaves its vertex and stops short of the bone
        origin, left = origin + direction * step, left - 2 * step
        while left > 0:
            location, normal, _index, distance = tree.ray_cast(origin, direction, left)
            if location is None:
                break
            if normal.dot(direction) < -1e-5:
                out[i] = False
                break
            origin, left = location + direction * step, left - distance - step
    return out


def bind(
    meshes: list[bpy.types.Object],
    parts: dict[str, MeshPart],
    armature: bpy.types.Object,
    plan: RigPlan,
    seconds: Timings,
) -> list[Binding]:
    """Binds every mesh (in the rig frame, at the origin) to the armature built from `plan`; `parts` are
    the meshes read in the rig frame, by name. Adds its stages' times to `seconds`: `heat` (bone heat on
    the meshes), `proxy` (the proxy made, its bone heat, its weights carried over), `weights` (the rest)."""
    bones = [bone_name(b.name) for b in plan.bones]
    index = {b.name: i for i, b in enumerate(plan.bones)}
    heads = np.array([b.head for b in plan.bones], dtype=np.float64)
    tails = np.array([b.tail for b in plan.bones], dtype=np.float64)
    parents = [index[b.parent] if b.parent is not None else None for b in plan.bones]
    sides = np.array([1 if b.name.startswith("left") else -1 if b.name.startswith("right") else 0 for b in plan.bones])
    separate = set(decide.separate_parts(list(parts.values()), plan.height)) - set(plan.rigid)
    rigid = [m for m in meshes if m.name in plan.rigid]
    skinned = [m for m in meshes if m.name not in plan.rigid and m.name not in separate]
    out = [bind_rigid(m, armature, plan.rigid[m.name]) for m in rigid]
    with seconds.stage("heat"):
        welds = {m.name: decide.welded(parts[m.name].vertices, parts[m.name].triangles, height=plan.height)
                 for m in skinned}  # fmt: skip
        heat = welded_heat(welds, armature, bones, heads, tails)
        for obj in skinned:
            attach(obj, armature)
    proxy = Proxy(skinned, armature, plan.height)
    skeleton = _Skeleton(bones, heads, tails, parents, sides, plan.height)
    found = [
        _heat_of(obj, parts[obj.name], weld=welds[obj.name], heat=heat[obj.name], skeleton=skeleton, proxy=proxy,
                 alone=len(skinned) == 1, seconds=seconds)
        for obj in skinned
    ]  # fmt: skip
    body: list[tuple[FloatArray, FloatArray]] = []  # the skinned meshes' points and final weights
    for item in found:
        obj, part, how = item.obj, item.part, item.how
        raw = _carried(item, proxy, bones, seconds)
        if (raw.sum(axis=1) < decide.EMPTY).all():
            nearest, weight = envelope_weights(part.vertices, heads, tails)
            raw = np.zeros_like(raw)
            np.put_along_axis(raw, nearest, weight, axis=1)
            how = "nearest"
        with seconds.stage("weights"):
            ride = _hanging_bones(item, welds[obj.name].shell, heads, tails)
            if plan.prop_beyond is not None:  # a prop fused to the body rides on the bone it hangs from
                nearest = segment_distances(part.vertices, heads, tails).argmin(axis=1)
                prop = decide.fused_props(
                    part.vertices, part.triangles, nearest, beyond=plan.prop_beyond, height=plan.height
                )
                ride = np.where(prop >= 0, prop, ride)
            hard = np.where(ride >= 0, ride, item.hard)
            filled = int((np.where(item.mask, raw, 0.0).sum(axis=1) < decide.EMPTY)[hard < 0].sum())
            final = decide.finished(raw, item.mask, part.vertices, heads, tails)
            final[hard >= 0] = 0.0
            final[np.nonzero(hard >= 0)[0], hard[hard >= 0]] = 1.0
            write_weights(obj, bones, final)
            body.append((part.vertices, final))
        shells_hard = len(np.unique(welds[obj.name].shell[hard >= 0]))
        out.append(Binding(obj.name, how, len(raw), item.report.unweighted, item.report.empty_shells,
                           int(item.unskinned.sum()), filled, rigid_shells=shells_hard))  # fmt: skip
    with seconds.stage("weights"):
        for obj in (m for m in meshes if m.name in separate):
            bone = _contact_bone(parts[obj.name], body, heads, tails)
            out.append(bind_rigid(obj, armature, plan.bones[bone].name))
    return out


def _contact_bone(
    part: MeshPart, body: list[tuple[FloatArray, FloatArray]], heads: FloatArray, tails: FloatArray
) -> int:
    """The bone a separate part rides on: the strongest weight of the body's vertex nearest to the part
    (where it touches the body); the bone nearest to its centre when there is no skinned body."""
    if not body:
        centre = (part.vertices.min(axis=0) + part.vertices.max(axis=0)) / 2
        return int(segment_distances(centre[None], heads, tails).argmin())
    points = np.concatenate([p for p, _ in body])
    tree = KDTree(len(points))
    for i, point in enumerate(points.tolist()):
        tree.insert(point, i)
    tree.balance()
    found = [tree.find(point) for point in part.vertices.tolist()]
    _location, index, _distance = min(found, key=lambda f: f[2])
    return int(np.concatenate([w for _, w in body])[index].argmax())


@dataclass(frozen=True)
class _Skeleton:
    """The plan's bones as arrays, in the plan's order: names in the armature, heads, tails, parents (by
    index), sides (+1 left, -1 right, 0 the middle), and the avatar's height."""

    names: list[str]
    heads: FloatArray
    tails: FloatArray
    parents: list[int | None]
    sides: IntArray
    height: float


@dataclass(frozen=True)
class _Heat:
    """One skinned mesh after bone heat: which bones each vertex may follow (`mask`), its hard shells' bone
    (`hard`, -1 where skinned), the heat (or proxy) weights it may follow (`usable`), which vertices take the
    weights of the skin around them instead (`unskinned`; `spared`: those of them the proxy could give
    nothing, see decide.proxy_spared), and which shells hang off the body (`hanging`)."""

    obj: bpy.types.Object
    part: MeshPart
    mask: BoolArray
    hard: IntArray
    usable: FloatArray
    unskinned: BoolArray
    spared: BoolArray
    hanging: BoolArray
    how: How
    report: decide.HeatReport


def _heat_of(
    obj: bpy.types.Object,
    part: MeshPart,
    *,
    weld: decide.Welded,
    heat: FloatArray,
    skeleton: _Skeleton,
    proxy: Proxy,
    alone: bool,
    seconds: Timings,
) -> _Heat:
    """One mesh's bone heat checked (`alone`: the only skinned mesh): its hard shells, the weights each vertex
    may follow (the proxy's when heat gave the mesh nothing), and the shells that are no skin of their own."""
    k = skeleton
    with seconds.stage("weights"):
        nearest_bone = segment_distances(part.vertices, k.heads, k.tails).argmin(axis=1)
        hard = decide.rigid_shells(part.vertices, weld, nearest_bone, height=k.height)
        mask = decide.allowed(
            part.vertices, k.heads, k.tails, k.parents, k.sides, height=k.height, nearest=nearest_bone
        )
    with seconds.stage("heat"):
        skin = hard < 0  # a hard shell bone heat left bare needs nothing else: it rides on its bone
        report = decide.heat_report(heat, weld.shell)
        usable = np.where(mask, heat, 0.0)
    how: How = "heat"
    if decide.heat_report(heat[skin], weld.shell[skin]).failed:
        with seconds.stage("proxy"):
            heat = proxy.weights(part.vertices, k.names)
            usable = np.where(mask, heat, 0.0)
        how = "proxy"
    carried, hanging = decide.unskinned(heat, usable, weld.shell, part.vertices, k.heads)
    spared = decide.proxy_spared(heat, usable, weld) if alone and how == "heat" else np.zeros(len(heat), dtype=bool)
    return _Heat(obj, part, mask, hard, usable, carried & skin, spared & carried & skin, hanging & skin, how, report)


def _carried(item: _Heat, proxy: Proxy, bones: list[str], seconds: Timings) -> FloatArray:
    """The mesh's weights, its unskinned vertices' from the proxy when they are more than a few (beyond
    MASKED of the mesh); a few, and those the proxy could give nothing (`spared`), are left empty, to go to
    their nearest allowed bone."""
    raw = item.usable.copy()
    proxied = item.unskinned & ~item.spared
    raw[item.spared] = 0.0
    if proxied.mean() > decide.MASKED:
        with seconds.stage("proxy"):
            raw[proxied] = proxy.weights(item.part.vertices[proxied], bones)
    else:
        raw[proxied] = 0.0
    return raw


def _hanging_bones(item: _Heat, shell: IntArray, heads: FloatArray, tails: FloatArray) -> IntArray:
    """Per vertex, the bone its hanging shell rides on wholly (-1 elsewhere): the bone nearest the middle of
    the shell's box (a backpack's is the chest, a lock of hair's the head)."""
    out = np.full(len(item.hanging), -1, dtype=np.int64)
    rows = np.nonzero(item.hanging)[0]
    for label in np.unique(shell[rows]):
        inside = rows[shell[rows] == label]
        points = item.part.vertices[inside]
        middle = (points.min(axis=0) + points.max(axis=0)) / 2
        out[inside] = int(segment_distances(middle[None], heads, tails).argmin())
    return out
