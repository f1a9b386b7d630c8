"""Builds the VRM-ready demo humanoid: armature, skinned body, shape keys, one textured material."""

from __future__ import annotations

import math
from dataclasses import dataclass
from itertools import pairwise

import bmesh
import bpy
import numpy as np
import numpy.typing as npt
from mathutils import Matrix

from ..core.demo import look as demo_look
from ..core.demo import rig as demo_rig
from ..core.demo.rig import Radius, Vec3
from ..core.rig import skinning
from . import context, vrm_addon

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]

MAX_DETAIL = 40
# The subdivided skin sits inside the hull the skin modifier grows; widen the hull to keep the proportions.
_FLESH = 1.3
# Measured: skin + subsurf level 2 gives about 4.5k vertices plus 312 per joint-per-metre of spacing.
_FIXED_VERTICES = 4500.0
_VERTICES_PER_DENSITY = 312.0
_TEXTURE_SIZE = 1024
_EYE_RADIUS = 0.0125


@dataclass
class DemoAvatar:
    armature: bpy.types.Object
    body: bpy.types.Object


def joint_spacing(detail: int) -> float:
    """Joint spacing that gives about 10k vertices per detail step."""
    density = (10_000.0 * detail - _FIXED_VERTICES) / _VERTICES_PER_DENSITY
    return 1.0 / density


def build_demo_avatar(detail: int = 1, name: str = "Avatar") -> DemoAvatar:
    """Adds the demo humanoid to the current scene and maps it in the VRM Add-on when that is enabled."""
    if not 1 <= detail <= MAX_DETAIL:
        raise ValueError(f"detail must be between 1 and {MAX_DETAIL}, got {detail}")
    scene = context.scene()
    mesh, eye_ranges = _body_mesh(joint_spacing(detail), f"{name}Body")
    co = np.empty(len(mesh.vertices) * 3)
    mesh.vertices.foreach_get("co", co)
    co = co.reshape(-1, 3)
    # Feet exactly on the ground: shift the body and the bones alike.
    lift = -float(co[:, 2].min())
    co[:, 2] += lift
    mesh.vertices.foreach_set("co", co.ravel())

    armature = _armature(name, lift, scene)
    body = bpy.data.objects.new(f"{name}Body", mesh)
    scene.collection.objects.link(body)
    body.parent = armature
    modifier = body.modifiers.new("Armature", "ARMATURE")
    assert isinstance(modifier, bpy.types.ArmatureModifier)
    modifier.object = armature

    eye_mask = np.zeros(len(co), dtype=bool)
    for start, stop in eye_ranges:
        eye_mask[start:stop] = True
    owner = _skin_weights(body, co, eye_ranges, lift)
    _uvs_and_material(body, co, owner, name)
    _shape_keys(body, co, eye_mask, lift)
    mesh.shade_smooth()
    if vrm_addon.is_enabled():
        vrm_addon.map_humanoid(armature, demo_rig.vrm_mapping())
    _camera(scene, name)
    return DemoAvatar(armature, body)


def _lerp(a: Vec3, b: Vec3, t: float) -> Vec3:
    return (a[0] + (b[0] - a[0]) * t, a[1] + (b[1] - a[1]) * t, a[2] + (b[2] - a[2]) * t)


def _lerp_r(a: Radius, b: Radius, t: float) -> Radius:
    return (a[0] + (b[0] - a[0]) * t, a[1] + (b[1] - a[1]) * t)


def _bone_samples(bone: demo_rig.DemoBone, spacing: float) -> list[tuple[float, Radius]]:
    """(position along the bone 0..1, half-widths) of each joint the skin grows through."""
    assert bone.radius_head is not None and bone.radius_tail is not None
    length = math.dist(bone.head, bone.tail)
    if bone.name == "Head":
        keys = [(d / length, r) for d, r in demo_rig.HEAD_PROFILE]
    else:
        keys = [(0.0, bone.radius_head), (1.0, bone.radius_tail)]
    samples: list[tuple[float, Radius]] = []
    for (t0, r0), (t1, r1) in pairwise(keys):
        n = max(1, round((t1 - t0) * length / spacing))
        samples.extend((t0 + (t1 - t0) * i / n, _lerp_r(r0, r1, i / n)) for i in range(n))
    samples.append(keys[-1])
    return samples


def _skeleton(spacing: float) -> tuple[list[Vec3], list[Radius], list[tuple[int, int]]]:
    """Joints, their half-widths and the edges between them: the skin modifier's input."""
    verts: list[Vec3] = []
    radii: list[Radius] = []
    edges: list[tuple[int, int]] = []
    joints_of: dict[str, list[int]] = {}
    for bone in demo_rig.demo_bones():
        if bone.radius_head is None:
            continue
        samples = _bone_samples(bone, spacing)
        parent_joints = joints_of.get(bone.parent or "", [])
        nearest = min(parent_joints, key=lambda i: math.dist(verts[i], bone.head), default=None)
        if nearest is not None and math.dist(verts[nearest], bone.head) < 1e-6:
            prev = nearest
        else:
            verts.append(bone.head)
            radii.append(samples[0][1])
            prev = len(verts) - 1
            if nearest is not None:  # bridge a bone that starts off its parent (shoulders, legs, fingers)
                edges.append((nearest, prev))
        own = [prev]
        for t, r in samples[1:]:
            verts.append(_lerp(bone.head, bone.tail, t))
            radii.append(r)
            edges.append((prev, len(verts) - 1))
            prev = len(verts) - 1
            own.append(prev)
        joints_of[bone.name] = own
    return verts, radii, edges


def _body_mesh(spacing: float, name: str) -> tuple[bpy.types.Mesh, list[tuple[int, int]]]:
    """The skinned-and-subdivided body plus two eyeballs; returns the mesh and the eyes' vertex ranges."""
    verts, radii, edges = _skeleton(spacing)
    skeleton = bpy.data.meshes.new(f"{name}Skeleton")
    skeleton.from_pydata(verts, edges, [])
    holder = bpy.data.objects.new(f"{name}Skeleton", skeleton)
    context.scene().collection.objects.link(holder)
    holder.modifiers.new("Skin", "SKIN")
    skin_layer = skeleton.skin_vertices[0].data
    for i, (rx, ry) in enumerate(radii):
        skin_layer[i].radius = (rx * _FLESH, ry * _FLESH)
    skin_layer[0].use_root = True
    subsurf = holder.modifiers.new("Subdivision", "SUBSURF")
    assert isinstance(subsurf, bpy.types.SubsurfModifier)
    subsurf.levels = 2
    depsgraph = bpy.context.evaluated_depsgraph_get()
    evaluated = holder.evaluated_get(depsgraph)
    bm = bmesh.new()
    bm.from_object(evaluated, depsgraph)
    bpy.data.objects.remove(holder)
    bpy.data.meshes.remove(skeleton)

    eye_ranges: list[tuple[int, int]] = []
    for bone in demo_rig.demo_bones():
        if bone.vrm in ("leftEye", "rightEye"):
            # Built apart and appended: create_uvsphere inside a 200k-vertex bmesh takes seconds.
            eye = bmesh.new()
            bmesh.ops.create_uvsphere(
                eye, u_segments=16, v_segments=8, radius=_EYE_RADIUS, matrix=Matrix.Translation(bone.head)
            )
            eye_mesh = bpy.data.meshes.new("eye")
            eye.to_mesh(eye_mesh)
            eye.free()
            start = len(bm.verts)
            bm.from_mesh(eye_mesh)
            bpy.data.meshes.remove(eye_mesh)
            eye_ranges.append((start, len(bm.verts)))
    mesh = bpy.data.meshes.new(name)
    bm.to_mesh(mesh)
    bm.free()
    return mesh, eye_ranges


def _armature(name: str, lift: float, scene: bpy.types.Scene) -> bpy.types.Object:
    data = bpy.data.armatures.new(f"{name}Rig")
    armature = bpy.data.objects.new(name, data)
    scene.collection.objects.link(armature)
    armature.show_in_front = True
    view_layer = context.view_layer()
    for obj in view_layer.objects:
        if obj is not None:  # the view layer may still list an object removed a moment ago
            obj.select_set(False)
    view_layer.objects.active = armature
    armature.select_set(True)
    bpy.ops.object.mode_set(mode="EDIT")
    try:
        specs = {b.name: b for b in demo_rig.demo_bones()}
        for spec in specs.values():
            edit_bone = data.edit_bones.new(spec.name)
            edit_bone.head = (spec.head[0], spec.head[1], spec.head[2] + lift)
            edit_bone.tail = (spec.tail[0], spec.tail[1], spec.tail[2] + lift)
            if spec.parent is not None:
                edit_bone.parent = data.edit_bones[spec.parent]
                edit_bone.use_connect = math.dist(spec.head, specs[spec.parent].tail) < 1e-6
    finally:
        bpy.ops.object.mode_set(mode="OBJECT")
    return armature


def _skin_weights(body: bpy.types.Object, co: FloatArray, eye_ranges: list[tuple[int, int]], lift: float) -> IntArray:
    """Vertex groups for every bone; returns each vertex's body part (index into demo_look.PARTS)."""
    bones = [b for b in demo_rig.demo_bones() if b.radius_head is not None]
    eyes = [b for b in demo_rig.demo_bones() if b.vrm in ("leftEye", "rightEye")]
    all_bones = bones + eyes
    groups = {b.name: body.vertex_groups.new(name=b.name) for b in demo_rig.demo_bones()}
    heads = np.array([b.head for b in bones]) + (0.0, 0.0, lift)
    tails = np.array([b.tail for b in bones]) + (0.0, 0.0, lift)
    eye_mask = np.zeros(len(co), dtype=bool)
    for start, stop in eye_ranges:
        eye_mask[start:stop] = True
    flesh = np.nonzero(~eye_mask)[0]
    index, weight = skinning.envelope_weights(co[flesh], heads, tails)
    owner = np.empty(len(co), dtype=np.int64)
    owner[flesh] = index[:, 0]
    # Points sharing (bone, weight) go in one call: a per-vertex loop would take seconds at 200k.
    for b, bone in enumerate(bones):
        hit = index == b
        rows, cols = np.nonzero(hit)
        if len(rows) == 0:
            continue
        w = weight[rows, cols]
        vertex_ids = flesh[rows]
        for value in np.unique(w):
            if value > 0.0:
                groups[bone.name].add(vertex_ids[w == value].tolist(), float(value), "REPLACE")
    for eye, (start, stop) in zip(eyes, eye_ranges, strict=True):
        groups[eye.name].add(list(range(start, stop)), 1.0, "REPLACE")
        owner[start:stop] = all_bones.index(eye)
    part_of = np.array([demo_look.PARTS.index(demo_look.part_of_bone(b.name)) for b in all_bones])
    return part_of[owner]


def _uvs_and_material(body: bpy.types.Object, co: FloatArray, part: IntArray, name: str) -> None:
    mesh = body.data
    assert isinstance(mesh, bpy.types.Mesh)
    n_loops = len(mesh.loops)
    loop_vertex = np.empty(n_loops, dtype=np.int64)
    mesh.loops.foreach_get("vertex_index", loop_vertex)
    loop_start = np.empty(len(mesh.polygons), dtype=np.int64)
    loop_total = np.empty(len(mesh.polygons), dtype=np.int64)
    mesh.polygons.foreach_get("loop_start", loop_start)
    mesh.polygons.foreach_get("loop_total", loop_total)
    loop_face = np.repeat(np.arange(len(mesh.polygons)), loop_total)
    # A face takes the part of its first corner, so none spans two atlas strips.
    face_part = part[loop_vertex[loop_start]]
    loop_part = face_part[loop_face]
    p = co[loop_vertex]
    u = np.empty(n_loops)
    v = np.empty(n_loops)
    for index in range(len(demo_look.PARTS)):
        sel = loop_part == index
        if not sel.any():
            continue
        members = co[part == index]
        centre = members.mean(axis=0)
        z0, z1 = members[:, 2].min(), members[:, 2].max()
        rel = p[sel] - centre
        # Angle around the vertical, 0.5 facing the camera (-Y).
        u[sel] = (np.arctan2(rel[:, 0], -rel[:, 1]) / (2 * math.pi)) + 0.5
        v[sel] = (p[sel, 2] - z0) / max(z1 - z0, 1e-6)
    uv = demo_look.strip_uv(loop_part, u, v)
    layer = mesh.uv_layers.new(name="UVMap")
    layer.data.foreach_set("uv", uv.ravel())

    image = bpy.data.images.new(f"{name}Texture", _TEXTURE_SIZE, _TEXTURE_SIZE, alpha=False)
    image.pixels.foreach_set(  # type: ignore[attr-defined]
        demo_look.texture(_TEXTURE_SIZE).astype(np.float32).ravel()
    )
    image.pack()
    material = bpy.data.materials.new(f"{name}Material")
    if material.node_tree is None:  # Blender 4.x; 5.0+ creates materials with nodes (use_nodes goes in 6.0)
        material.use_nodes = True
    tree = material.node_tree
    assert tree is not None
    bsdf = tree.nodes["Principled BSDF"]
    tex = tree.nodes.new("ShaderNodeTexImage")
    assert isinstance(tex, bpy.types.ShaderNodeTexImage)
    tex.image = image
    tree.links.new(tex.outputs["Color"], bsdf.inputs["Base Color"])  # type: ignore[index]
    bsdf.inputs["Roughness"].default_value = 0.7  # type: ignore[attr-defined]
    mesh.materials.append(material)


def _shape_keys(body: bpy.types.Object, co: FloatArray, eye_mask: npt.NDArray[np.bool_], lift: float) -> None:
    head = next(b for b in demo_rig.demo_bones() if b.name == "Head")
    front = co[~eye_mask & (co[:, 2] > head.head[2] + lift)][:, 1].min()
    mouth = np.array([0.0, front, head.head[2] + lift + 0.075])
    eyes = tuple(np.array(b.head) + (0.0, 0.0, lift) for b in demo_rig.demo_bones() if b.vrm in ("leftEye", "rightEye"))
    assert len(eyes) == 2
    deltas = demo_look.shape_key_deltas(co, mouth, (eyes[0], eyes[1]), eye_mask)
    _add_shape_key(body, "Basis")
    for key_name in demo_look.SHAPE_KEYS:
        key = _add_shape_key(body, key_name)
        key.points.foreach_set("co", (co + deltas[key_name]).ravel())


def _add_shape_key(body: bpy.types.Object, name: str) -> bpy.types.ShapeKey:
    """A shape key at rest: Blender 5.0 and newer create keys at value 1.0 (4.x: 0.0), which would leave
    every expression applied at once in the file, its renders and its exports."""
    key = body.shape_key_add(name=name, from_mix=False)
    key.value = 0.0
    return key


def _camera(scene: bpy.types.Scene, name: str) -> None:
    """A front camera framing the whole avatar, so renders and screenshots have a view."""
    data = bpy.data.cameras.new(f"{name}Camera")
    data.lens = 50
    camera = bpy.data.objects.new(f"{name}Camera", data)
    camera.location = (0.0, -2.7, 0.88)
    camera.rotation_euler = (math.radians(90.0), 0.0, 0.0)
    scene.collection.objects.link(camera)
    scene.camera = camera
