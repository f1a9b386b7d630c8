"""The pinned VRM Add-on's VRM 0.x mesh writer (`Vrm0Exporter.write_mesh_node`), computed with numpy.

The add-on writes each mesh with a Python loop over every corner of every triangle, and again for every
shape key: about 15-20x Blender's glTF exporter on the same scene. This writes the same file: the same
Blender meshes (the add-on's own evaluated copies, posed and transformed by the add-on's own code), the
same vertex splitting (a glTF vertex per distinct Blender vertex, normal and UV, numbered in the order the
add-on meets them), the same float32 arithmetic where the add-on uses mathutils and the same float64 where
it uses Python floats, and the same accessors, buffer layout and JSON; the weights, where the export's
rig check has just read them as the file will have them, are that read. tests/test_vrm0_mesh_writer.py
compares the two writers' files byte for byte. Only used for the add-on version vrm_addon_exporter pins;
objects that are not meshes, and shape keys whose evaluated mesh has another vertex count, go to the
add-on's own code.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Mapping, MutableSequence, Sequence
from dataclasses import dataclass, field
from sys import float_info
from types import ModuleType
from typing import Any

import bpy
import numpy as np
from mathutils import Matrix, Vector
from numpy.typing import NDArray

from ..core.rig.model import MeshInfo
from . import context as blender_context
from . import rig_reader

# What write_mesh_node uses from the add-on's vrm0_exporter module (vrm_addon_exporter checks they exist).
NEEDED = (
    "Vrm0Exporter", "generate_evaluated_mesh", "save_workspace", "convert", "make_json", "get_material_extension",
    "get_armature_extension", "LegacyAddonMaterial", "_logger", "GL_FLOAT", "GL_UNSIGNED_INT", "GL_UNSIGNED_SHORT",
)  # fmt: skip

Floats = NDArray[np.float32]
Doubles = NDArray[np.float64]
Ints = NDArray[np.int64]


def _read(collection: Any, attribute: str, count: int, dtype: type, width: int = 1) -> Any:
    values: NDArray[Any] = np.empty(count * width, dtype=dtype)
    collection.foreach_get(attribute, values)
    return values.reshape(-1, width) if width > 1 else values


def _axis(vectors: Any) -> Any:
    """Blender's axes to glTF's, as the add-on's convert.axis_blender_to_gltf: (-x, z, y)."""
    return np.stack((-vectors[:, 0], vectors[:, 2], vectors[:, 1]), axis=1)


def _safe_normalized(vectors: Floats) -> Floats:
    """Vrm0Exporter.safe_normalized_vector for each row, in mathutils' float32 arithmetic: infinite
    components become +-1 and the rest +-0, NaN 0, a vector shorter than about 1.5e-8 is (0, 0, -1), and
    normalizing multiplies by the float32 reciprocal of the float32 square root of the double dot product."""
    infinite = np.isinf(vectors)
    rows_infinite = infinite.any(axis=1, keepdims=True)
    fixed = np.where(rows_infinite, np.copysign(infinite.astype(np.float32), vectors), vectors)
    fixed = np.where(np.isnan(fixed), np.float32(0), fixed)
    wide = fixed.astype(np.float64)
    dot = (wide[:, 0] * wide[:, 0] + wide[:, 1] * wide[:, 1]) + wide[:, 2] * wide[:, 2]
    with np.errstate(divide="ignore", invalid="ignore"):
        inverse = np.float32(1) / np.sqrt(dot).astype(np.float32)
        normalized = fixed * inverse[:, None]
    short = (dot < float_info.epsilon) & ~rows_infinite[:, 0]
    normalized[short] = (0.0, 0.0, -1.0)
    result: Floats = normalized.astype(np.float32)
    return result


def _first_extreme(values: Doubles, *, highest: bool) -> float:
    """min()/max() as the add-on folds them over Python floats: the first value equal to the extreme
    (so -0.0 or 0.0, whichever comes first)."""
    extreme = values.max() if highest else values.min()
    return float(values[np.flatnonzero(values == extreme)[0]])


def _bounds(values: Doubles) -> tuple[list[float], list[float]]:
    return (
        [_first_extreme(values[:, i], highest=False) for i in range(3)],
        [_first_extreme(values[:, i], highest=True) for i in range(3)],
    )


@dataclass
class _Triangles:
    """A mesh's loop triangles, corner by corner (3 per triangle, in Blender's order)."""

    corner: Ints  # the mesh corner (loop)
    vertex: Ints  # its Blender vertex
    normal: Floats  # its normal (the triangle's split normal there)


def _triangles(mesh: bpy.types.Mesh) -> _Triangles:
    """The loop triangles of `mesh` (calc_loop_triangles done). `loop_triangles` has no bulk read (foreach_get
    goes item by item: its `vertices`, `loops` and `split_normals` take about 35 ms at 10k vertices), so only
    the triangles' corners are read from it, and only when a face has more than three: Blender makes a
    triangle face's one triangle of its corners in order, the faces' in face order. Each corner's vertex and
    normal come from the mesh's corner arrays, which do have one."""
    count = len(mesh.loop_triangles)
    if count == len(mesh.polygons):  # each face makes one triangle or more: these are all triangles
        corner = np.arange(3 * count, dtype=np.int64)
    else:
        corner = _read(mesh.loop_triangles, "loops", count, np.int32, 3).reshape(-1).astype(np.int64)
    normals = _read(mesh.corner_normals, "vector", len(mesh.loops), np.float32, 3)
    return _Triangles(corner, _corner_vertices(mesh)[corner], normals[corner])


def _corner_vertices(mesh: bpy.types.Mesh) -> Ints:
    """Each corner's vertex (the loops' vertex_index), from the attribute that holds them: the loops' own read
    goes item by item."""
    stored = mesh.attributes.get(".corner_vert")
    source: Any = stored.data if stored is not None else mesh.loops  # a Blender that keeps them elsewhere
    vertices: Ints = _read(source, "value" if stored is not None else "vertex_index", len(mesh.loops), np.int32)
    return vertices.astype(np.int64)


@dataclass
class _Corners:
    """The evaluated mesh's triangle corners, in the add-on's order, and the glTF vertices they make."""

    vertex: Ints  # Blender vertex of each corner
    triangle_slot: Ints  # material slot of each triangle
    gltf: Ints  # glTF vertex of each corner
    first: Ints  # the corner each glTF vertex comes from, in glTF order
    normal: Floats  # glTF-axis normal of each corner
    texcoord: Doubles | None  # (u, 1 - v) of each corner


def _corners(mesh: bpy.types.Mesh, triangles: _Triangles) -> _Corners:
    """Splits vertices as the add-on's VertexAttributesCollector does: one glTF vertex per distinct
    (Blender vertex, normal, texcoord), numbered by first appearance; -0.0 equals 0.0, NaN equals nothing."""
    loops, vertex = triangles.corner, triangles.vertex
    face = _read(mesh.loop_triangle_polygons, "value", len(mesh.loop_triangles), np.int32)
    slot = _read(mesh.polygons, "material_index", len(mesh.polygons), np.int32).astype(np.int64)[face]
    normal = _axis(_safe_normalized(triangles.normal))
    layer = next((u for u in mesh.uv_layers if u and u.active_render), None)
    texcoord: Doubles | None = None
    columns = [vertex, *(np.ascontiguousarray(normal + np.float32(0)).view(np.int32).T.astype(np.int64))]
    if layer is not None:
        uv = _read(layer.data, "uv", len(mesh.loops), np.float32, 2)[loops].astype(np.float64)
        texcoord = np.stack((uv[:, 0], 1.0 - uv[:, 1]), axis=1)
        bits = np.ascontiguousarray(texcoord + 0.0).view(np.int64)
        columns += [bits[:, 0], bits[:, 1]]
        nan = np.isnan(texcoord).any(axis=1)
        columns.append(np.where(nan, np.arange(len(vertex)), -1))
    count = len(vertex)
    order = np.lexsort(columns[::-1]) if count else np.zeros(0, dtype=np.int64)
    keys = np.stack(columns, axis=1)[order]
    starts = np.ones(count, dtype=bool)
    starts[1:] = (keys[1:] != keys[:-1]).any(axis=1)
    group = np.cumsum(starts) - 1
    firsts = order[starts]  # lexsort is stable: each group's earliest corner
    rank = np.empty(len(firsts), dtype=np.int64)
    rank[np.argsort(firsts)] = np.arange(len(firsts))
    gltf = np.empty(count, dtype=np.int64)
    gltf[order] = rank[group]
    return _Corners(vertex, slot, gltf, np.sort(firsts), normal.astype(np.float32), texcoord)


def _within(totals: NDArray[np.int32]) -> Ints:
    """0..n-1 for each n in `totals`, concatenated."""
    offsets = np.repeat(np.cumsum(totals) - totals, totals)
    return np.arange(int(totals.sum()), dtype=np.int64) - offsets


def _vertex_normals(triangles: _Triangles, count: int, excluded: NDArray[np.bool_], sums: _OrderedSums) -> Floats:
    """create_export_vertex_normal_vectors for a mesh of `count` vertices: each vertex's triangle corner
    normals summed in float32 in triangle order (excluded vertices keep zero), then safely normalized."""
    vertices, normals = triangles.vertex, triangles.normal
    keep = (vertices >= 0) & (vertices < count)
    keep[keep] = ~excluded[vertices[keep]]
    return _safe_normalized(sums(vertices[keep], normals[keep], count))


def _places(grouped: Any) -> Ints:
    """Each element's place within its run of equal values (`grouped` is sorted)."""
    places: Ints = np.arange(len(grouped)) - np.searchsorted(grouped, grouped, side="left")
    return places


class _OrderedSums:
    """Values summed per index in float32, each index's values added one at a time in their order, as the
    add-on's mathutils loop adds them (np.add.at does the same, ten times slower): in layers, the first
    value of every index, then the second... The layering is kept for the next call with the same indices
    (a mesh's shape keys mostly keep its triangles)."""

    def __init__(self) -> None:
        self.index: Ints | None = None
        self.order: Ints = np.zeros(0, dtype=np.int64)
        self.bounds: list[int] = []

    def __call__(self, index: Ints, values: Floats, count: int) -> Floats:
        if self.index is None or not np.array_equal(index, self.index):
            by_index = np.argsort(index, kind="stable")
            place = _places(index[by_index])
            by_layer = np.argsort(place, kind="stable")
            self.index, self.order = index, by_index[by_layer]
            layers = int(place.max()) + 1 if len(place) else 0
            self.bounds = np.searchsorted(place[by_layer], np.arange(layers + 1)).tolist()
        target, ordered = index[self.order], values[self.order]
        sums = np.zeros((count, 3), dtype=np.float32)
        for start, stop in itertools.pairwise(self.bounds):
            sums[target[start:stop]] += ordered[start:stop]  # an index at most once per layer
        return sums


@dataclass
class _Reference:
    """What every shape key's target is measured against: the mesh with every key at 0."""

    mesh: bpy.types.Mesh
    co: Doubles
    triangles: _Triangles
    corners: _Corners
    transform: Matrix
    excluded: NDArray[np.bool_]  # vertices whose morph normals are not exported (zero)
    normals: Doubles  # vertex normals as the add-on sums them
    sums: _OrderedSums


@dataclass
class _Mesh:
    """What the writer reads from one mesh object before it writes anything."""

    corners: _Corners
    co: Doubles  # the evaluated, transformed mesh's vertex positions (float32 values)
    triangle_material: Ints  # the file's material index of each triangle
    skin: tuple[Floats, NDArray[np.uint16]] | None  # each Blender vertex's weights and joints
    targets: dict[str, tuple[bytes, list[float], list[float], bytes]]  # position, min, max, normal
    key_values: dict[str, float]


@dataclass
class _Call:
    """One call of the add-on's write_mesh_node (its arguments, in its order; `addon`: its module)."""

    addon: ModuleType
    exporter: Any
    progress: Any
    node_dicts: list[dict[str, Any]]
    mesh_dicts: list[dict[str, Any]]
    skin_dicts: list[dict[str, Any]]
    material_dicts: list[dict[str, Any]]
    accessor_dicts: list[dict[str, Any]]
    buffer_view_dicts: list[dict[str, Any]]
    material_property_dicts: list[Any]
    buffer0: bytearray
    object_name_to_node_index: dict[str, int]
    bone_name_to_node_index: Mapping[str, int]
    obj: bpy.types.Object
    mesh_convertible_objects: Sequence[bpy.types.Object]
    mesh_object_name_to_mesh_index: dict[str, int]
    material_name_to_material_index: Mapping[str, int]
    skin_dict: Mapping[str, Any]
    skin_joints: Sequence[int]
    checked: Mapping[str, MeshInfo] = field(default_factory=dict, kw_only=True)  # see replacement()

    @property
    def context(self) -> bpy.types.Context:
        context: bpy.types.Context = self.exporter._context
        return context

    def write(self) -> int | None:
        """The add-on's write_mesh_node for a mesh object: its node, mesh, accessors and skin."""
        have_skin = bool(self.skin_joints) and self.exporter.have_skin(self.obj)
        node_dict, scene_node_index = self.node(have_skin)
        mesh_index = len(self.mesh_dicts)
        read = self.read(have_skin)
        if read is None or not len(read.corners.triangle_slot):
            return scene_node_index
        node_dict["mesh"] = mesh_index
        primitive_dicts = self.primitives(read)
        mesh_dict: dict[str, Any] = {"name": self.obj.data.name, "primitives": self.addon.make_json(primitive_dicts)}  # type: ignore[union-attr]
        names = self.addon.make_json(read.targets.keys())
        if names:
            mesh_dict["extras"] = {"targetNames": names}
            morph_weights = [min(read.key_values.get(name, 0), 1) for name in read.targets]
            if any(weight > 0 for weight in morph_weights):
                mesh_dict["weights"] = self.addon.make_json(morph_weights)
        self.mesh_dicts.append(mesh_dict)
        self.mesh_object_name_to_mesh_index[self.obj.name] = mesh_index
        if self.skin_dict and have_skin:
            node_dict["skin"] = len(self.skin_dicts)
            self.skin_dicts.append(dict(self.skin_dict))
        return scene_node_index

    def node(self, have_skin: bool) -> tuple[dict[str, Any], int | None]:
        """The object's node (a child of the bone it hangs from, unless skinned) and its scene node index."""
        obj, armature, node_dicts = self.obj, self.exporter._armature, self.node_dicts
        node_index = len(node_dicts)
        node_dict: dict[str, Any] = {"name": obj.name}
        parent_node_index = None
        parent_translation = None
        if not have_skin and obj.parent_type == "BONE" and (bone := armature.pose.bones.get(obj.parent_bone)):
            parent_translation = (armature.matrix_world @ bone.matrix).to_translation()
            parent_node_index = self.bone_name_to_node_index.get(obj.parent_bone)
        if parent_node_index is not None and 0 <= parent_node_index < len(node_dicts):
            parent_node_dict = node_dicts[parent_node_index]
            children = parent_node_dict.get("children")
            if children is None or not isinstance(children, MutableSequence):
                children = parent_node_dict["children"] = []
            children.append(node_index)
        if not parent_translation:
            parent_translation = Vector((0, 0, 0))
        if not have_skin:
            node_dict["translation"] = self.addon.make_json(
                self.addon.convert.axis_blender_to_gltf(obj.matrix_world.to_translation() - parent_translation)
            )
        node_dicts.append(node_dict)
        self.object_name_to_node_index[obj.name] = node_index
        return node_dict, node_index if parent_node_index is None else None

    def read(self, have_skin: bool) -> _Mesh | None:
        """The mesh as the add-on evaluates it, with every shape key at 0, and each shape key's target."""
        obj, context = self.obj, self.context
        original_mesh = obj.data
        assert isinstance(original_mesh, bpy.types.Mesh)
        original_mesh.calc_loop_triangles()
        shape_keys = original_mesh.shape_keys
        key_values = {k.name: k.value for k in shape_keys.key_blocks} if shape_keys else {}
        if shape_keys:
            for key_block in shape_keys.key_blocks:
                key_block.value = 0
            blender_context.view_layer().update()
        with self.addon.save_workspace(context):
            transform = Matrix.Identity(4)
            if not have_skin:
                transform @= Matrix.Translation(-obj.matrix_world.to_translation())
            transform @= obj.matrix_world
            main = self.addon.generate_evaluated_mesh(context, obj)
            if main is None:
                return None  # as the add-on does, shape keys left at 0
            main.transform(transform)
            main.calc_loop_triangles()
            triangles = _triangles(main)
            corners = _corners(main, triangles)
            read = _Mesh(
                corners,
                _read(main.vertices, "co", len(main.vertices), np.float32, 3).astype(np.float64),
                self.triangle_materials(corners.triangle_slot),
                self.weights(main) if have_skin else None,
                self.targets(main, triangles, corners, transform) if shape_keys else {},
                key_values,
            )
        self.remove(main)
        if shape_keys:
            for name, value in key_values.items():
                if name in shape_keys.key_blocks:
                    shape_keys.key_blocks[name].value = value
            blender_context.view_layer().update()
        return read

    def remove(self, mesh: bpy.types.Mesh) -> None:
        if mesh.users:
            self.addon._logger.warning("Failed to remove %r with %d users while exporting", mesh.name, mesh.users)
        else:
            self.context.blend_data.meshes.remove(mesh)  # type: ignore[union-attr]

    def triangle_materials(self, triangle_slot: Ints) -> Ints:
        """The file's material of each triangle: its slot's, else the cluster's empty material (added the
        first time a triangle needs it)."""
        names = {i: s.material.name for i, s in enumerate(self.obj.material_slots) if s.material and s.material.name}
        slots, first, slot_of_triangle = np.unique(triangle_slot, return_index=True, return_inverse=True)
        material_of_slot: dict[int, int] = {}
        for slot in triangle_slot[np.sort(first)].tolist():
            name = names.get(slot)
            found = self.material_name_to_material_index.get(name) if name else None
            if found is None:
                found = self.exporter.get_or_write_cluster_empty_material(
                    self.material_dicts, self.material_property_dicts
                )
            material_of_slot[slot] = found
        return np.array([material_of_slot[s] for s in slots.tolist()], dtype=np.int64)[slot_of_triangle]

    def weights(self, mesh: bpy.types.Mesh) -> tuple[Floats, NDArray[np.uint16]]:
        """Each Blender vertex's 4 strongest joints and their weights, as collect_vertex makes them (a weight
        of 0 and no weight are alike here, as the add-on leaves out weights under float epsilon)."""
        joint_of_group = {
            i: self.skin_joints.index(node)
            for i, group in enumerate(self.obj.vertex_groups)
            if (node := self.bone_name_to_node_index.get(group.name)) is not None and node in self.skin_joints
        }
        groups = sorted(joint_of_group)
        vertex_of, column, weight_of = self.influences(mesh, [self.obj.vertex_groups[g].name for g in groups])
        joint_of = np.array([joint_of_group[g] for g in groups], dtype=np.int64)[column]
        # sort(reverse=True) of (weight, joint) per vertex: a total order (a vertex's joints differ)
        order = np.lexsort((-joint_of, -weight_of, vertex_of))
        vertex_of, weight_of, joint_of = vertex_of[order], weight_of[order], joint_of[order]
        place = _places(vertex_of)
        kept = place < 4
        count = len(mesh.vertices)
        weights = np.zeros((count, 4), dtype=np.float64)
        joints = np.zeros((count, 4), dtype=np.int64)
        weights[vertex_of[kept], place[kept]] = weight_of[kept]
        joints[vertex_of[kept], place[kept]] = joint_of[kept]
        total = ((weights[:, 0] + weights[:, 1]) + weights[:, 2]) + weights[:, 3]
        unweighted = total < float_info.epsilon
        with np.errstate(divide="ignore", invalid="ignore"):
            weights = weights / total[:, None]
        if unweighted.any():
            weights[unweighted] = (1.0, 0.0, 0.0, 0.0)
            joints[unweighted] = (self.fallback_joint(), 0, 0, 0)
        return weights.astype(np.float32), joints.astype(np.uint16)

    def influences(self, mesh: bpy.types.Mesh, names: list[str]) -> tuple[Ints, Ints, Doubles]:
        """Each weight of a vertex of `mesh` in a group named that the add-on keeps (not under float epsilon,
        so a weight of 0 and no weight are alike): its vertex, the group's place in `names`, the weight. From
        the rig check's read of the object when it has one (its weights are the exported mesh's), else read in
        bulk from `mesh` (rig_reader.dense_weights: a Geometry Nodes pass, most of this at 10k vertices)."""
        info = self.checked.get(self.obj.name)
        if info is None:
            dense = rig_reader.dense_weights(mesh, names).astype(np.float64)
            vertex_of, column = np.nonzero(~(dense < float_info.epsilon))
            return vertex_of, column, dense[vertex_of, column]
        place = np.full(len(info.group_names) + 1, -1, dtype=np.int64)  # the last for a padded slot's index -1
        place[[info.group_names.index(name) for name in names]] = np.arange(len(names))
        columns = place[info.group_index]
        weights = info.group_weight.astype(np.float64)
        vertex_of, slot = np.nonzero((columns >= 0) & ~(weights < float_info.epsilon))
        return vertex_of, columns[vertex_of, slot], weights[vertex_of, slot]

    def fallback_joint(self) -> int:
        """collect_vertex's joint for a vertex without weights: the bone the mesh hangs from, else the hips."""
        skin_joints, bone_nodes = self.skin_joints, self.bone_name_to_node_index
        joint = None
        parent: bpy.types.Object | None = self.obj
        while parent:
            if parent.parent_type == "BONE":
                bone_index = bone_nodes.get(parent.parent_bone)
                if parent.parent == self.exporter._armature and bone_index is not None and bone_index in skin_joints:
                    joint = skin_joints.index(bone_index)
                break
            if parent.parent_type != "OBJECT":
                break
            parent = parent.parent
        if joint is None:
            ext = self.addon.get_armature_extension(self.exporter.armature_data)
            for human_bone in ext.vrm0.humanoid.human_bones:
                bone_index = bone_nodes.get(human_bone.node.bone_name) if human_bone.bone == "hips" else None
                if bone_index is not None and bone_index in skin_joints:
                    joint = skin_joints.index(bone_index)
        if joint is None:
            if not skin_joints:
                raise ValueError("No fallback bone index found")
            joint = skin_joints[0]
        return joint

    def targets(
        self, main: bpy.types.Mesh, triangles: _Triangles, corners: _Corners, transform: Matrix
    ) -> dict[str, tuple[bytes, list[float], list[float], bytes]]:
        """Each shape key's morph target, the key alone at 1.0 (the others at 0), in the key blocks' order.
        The scene is evaluated once per key: the key before goes back to 0 as this one goes to 1 (the add-on
        evaluates it twice, once more with the key back at 0; read() puts every value back)."""
        shape_keys = self.obj.data.shape_keys  # type: ignore[union-attr]
        assert shape_keys is not None, "read() asks for targets only with shape keys"
        excluded = self.no_morph_normal_vertices(main)
        sums = _OrderedSums()
        reference = _Reference(
            main,
            _read(main.vertices, "co", len(main.vertices), np.float32, 3).astype(np.float64),
            triangles,
            corners,
            transform,
            excluded,
            _vertex_normals(triangles, len(main.vertices), excluded, sums).astype(np.float64),
            sums,
        )
        targets: dict[str, tuple[bytes, list[float], list[float], bytes]] = {}
        before: bpy.types.ShapeKey | None = None
        for shape_key in shape_keys.key_blocks:
            if shape_keys.reference_key.name == shape_key.name:
                continue
            if before is not None:
                before.value = 0.0
            shape_key.value = 1.0
            blender_context.view_layer().update()
            target = self.target(reference)
            if target is not None:
                targets.setdefault(shape_key.name, target)
            before = shape_key
        return targets

    def target(self, reference: _Reference) -> tuple[bytes, list[float], list[float], bytes] | None:
        """The morph target of the shape key now at 1.0: position and normal bytes, and the position bounds
        (None: no evaluated mesh). The add-on copies the evaluated mesh into the file's data through a BMesh
        to read it; it is read here from the evaluated mesh itself, transformed alike."""
        depsgraph = self.context.evaluated_depsgraph_get()
        evaluated = self.obj.evaluated_get(depsgraph)
        shape = evaluated.to_mesh(preserve_all_data_layers=True, depsgraph=depsgraph)
        if not shape:
            return None
        try:
            if len(shape.vertices) != len(reference.mesh.vertices):
                return self.target_by_the_addon(reference)
            shape.transform(reference.transform)
            shape.calc_loop_triangles()
            shape_co = _read(shape.vertices, "co", len(shape.vertices), np.float32, 3).astype(np.float64)
            count = len(shape.vertices)
            normals = _vertex_normals(_triangles(shape), count, reference.excluded, reference.sums).astype(np.float64)
        finally:
            evaluated.to_mesh_clear()
        source = reference.corners.vertex[reference.corners.first]
        moved = _axis(shape_co - reference.co)[source]  # differences of Python floats, as the add-on takes them
        turned = _axis(normals - reference.normals)[source]
        low, high = _bounds(moved)
        return moved.astype(np.float32).tobytes(), low, high, turned.astype(np.float32).tobytes()

    def target_by_the_addon(self, reference: _Reference) -> tuple[bytes, list[float], list[float], bytes] | None:
        """A shape key whose evaluated mesh has another vertex count (a modifier that adds or merges
        vertices): the add-on's own per-corner code, whose rule for the missing vertices is its own."""
        shape = self.addon.generate_evaluated_mesh(self.context, self.obj)
        if not shape:
            return None
        shape.transform(reference.transform)
        shape.calc_loop_triangles()
        vrm0, main, corners = self.addon.Vrm0Exporter, reference.mesh, reference.corners
        no_normals = {int(i) for i in np.flatnonzero(reference.excluded)}
        normals = vrm0.create_export_vertex_normal_vectors(no_normals, main)
        diffs = vrm0.create_vertex_index_to_morph_normal_diffs(no_normals, shape, normals)
        collector = vrm0.VertexMorphTargetCollector(len(corners.first))
        for vertex, gltf in zip(corners.vertex.tolist(), corners.gltf.tolist(), strict=True):
            self.exporter.collect_morph_target(main, shape, gltf, vertex, collector, diffs)
        self.remove(shape)
        low = [collector.position_min_x, collector.position_min_y, collector.position_min_z]
        high = [collector.position_max_x, collector.position_max_y, collector.position_max_z]
        return bytes(collector.position), low, high, bytes(collector.normal)

    def no_morph_normal_vertices(self, mesh: bpy.types.Mesh) -> NDArray[np.bool_]:
        """create_no_morph_normal_export_vertex_indices as a mask: vertices of faces whose MToon material
        says not to export shape key normals."""
        materials = self.context.blend_data.materials  # type: ignore[union-attr]
        excluded_slots = []
        for slot, reference in enumerate(mesh.materials):
            material = materials.get(reference.name) if reference is not None else None
            if material is not None and not self.shape_key_normals(material):
                excluded_slots.append(slot)
        mask = np.zeros(len(mesh.vertices), dtype=bool)
        if not excluded_slots:
            return mask
        polygons = len(mesh.polygons)
        slot_of = _read(mesh.polygons, "material_index", polygons, np.int32)
        start = _read(mesh.polygons, "loop_start", polygons, np.int32)
        total = _read(mesh.polygons, "loop_total", polygons, np.int32)
        loop_vertex = _corner_vertices(mesh)
        chosen = np.isin(slot_of, excluded_slots)
        loops = np.repeat(start[chosen], total[chosen]) + _within(total[chosen])
        mask[loop_vertex[loops]] = True
        return mask

    def shape_key_normals(self, material: bpy.types.Material) -> bool:
        """Whether morph targets carry normals on this material: not for MToon ones that say not to."""
        mtoon1 = self.addon.get_material_extension(material).mtoon1
        if mtoon1.export_shape_key_normals:
            return True
        legacy = self.addon.LegacyAddonMaterial.try_parse(material)
        return not (mtoon1.enabled or (legacy and legacy.shader_name == "MToon_unversioned"))

    def accessor(self, data: bytes, kind: str, component: int, count: int, **bounds: list[float]) -> int:
        """A buffer view of `data` at the end of the buffer and an accessor of it; the accessor's index."""
        offset = len(self.buffer0)
        self.buffer0.extend(data)
        self.buffer_view_dicts.append({"buffer": 0, "byteOffset": offset, "byteLength": len(data)})
        view = len(self.buffer_view_dicts) - 1
        self.accessor_dicts.append(
            {"bufferView": view, "byteOffset": 0, "type": kind, "componentType": component, "count": count} | bounds
        )
        return len(self.accessor_dicts) - 1

    def primitives(self, read: _Mesh) -> list[dict[str, Any]]:
        """A primitive per material sharing one set of attributes and targets, in the add-on's buffer order:
        indices, attributes, then each target's position and normal."""
        addon, corners = self.addon, read.corners
        _aligned(self.buffer0)
        primitive_dicts: list[dict[str, Any]] = []
        by_corner = corners.gltf.reshape(-1, 3)
        for material in dict.fromkeys(read.triangle_material.tolist()):
            indices = by_corner[read.triangle_material == material].reshape(-1).astype("<u4")
            index = self.accessor(indices.tobytes(), "SCALAR", addon.GL_UNSIGNED_INT, len(indices))
            primitive_dicts.append({"material": material, "indices": index})
        count = len(corners.first)
        source = corners.vertex[corners.first]  # the Blender vertex of each glTF vertex
        positions = _axis(read.co)[source].astype(np.float32)
        low, high = _bounds(positions.astype(np.float64))
        attributes = {
            "POSITION": self.accessor(positions.tobytes(), "VEC3", addon.GL_FLOAT, count, min=low, max=high),
            "NORMAL": self.accessor(corners.normal[corners.first].tobytes(), "VEC3", addon.GL_FLOAT, count),
        }
        if corners.texcoord is not None:
            texcoords = corners.texcoord[corners.first].astype(np.float32).tobytes()
            attributes["TEXCOORD_0"] = self.accessor(texcoords, "VEC2", addon.GL_FLOAT, count)
        if read.skin is not None:
            weights, joints = read.skin
            attributes["JOINTS_0"] = self.accessor(joints[source].tobytes(), "VEC4", addon.GL_UNSIGNED_SHORT, count)
            _aligned(self.buffer0)
            attributes["WEIGHTS_0"] = self.accessor(weights[source].tobytes(), "VEC4", addon.GL_FLOAT, count)
        for primitive_dict in primitive_dicts:
            primitive_dict["attributes"] = attributes
        if not read.targets:
            return primitive_dicts
        _aligned(self.buffer0)
        target_dicts = [
            {
                "POSITION": self.accessor(position, "VEC3", addon.GL_FLOAT, count, min=low, max=high),
                "NORMAL": self.accessor(normal, "VEC3", addon.GL_FLOAT, count),
            }
            for position, low, high, normal in read.targets.values()
        ]
        names = addon.make_json(read.targets.keys())
        for primitive_dict in primitive_dicts:
            material = self.material_of(primitive_dict)
            with_normals = material is None or self.shape_key_normals(material)
            primitive_dict["targets"] = addon.make_json(
                t if with_normals else {k: v for k, v in t.items() if k != "NORMAL"} for t in target_dicts
            )
            primitive_dict["extras"] = {"targetNames": names}
        return primitive_dicts

    def material_of(self, primitive_dict: dict[str, Any]) -> bpy.types.Material | None:
        materials = self.context.blend_data.materials  # type: ignore[union-attr]
        indices = self.material_name_to_material_index.items()
        return next((materials.get(n) for n, i in indices if i == primitive_dict.get("material")), None)


def _aligned(buffer: bytearray) -> None:
    while len(buffer) % 4:
        buffer.append(0)


def replacement(
    addon: ModuleType, original: Callable[..., int | None], checked: Mapping[str, MeshInfo]
) -> Callable[..., int | None]:
    """A Vrm0Exporter.write_mesh_node writing what `original` (the add-on's) writes, with numpy; objects
    other than meshes (curves) go to `original`. `checked`: the rig check's read of the objects (by name)
    whose exported mesh has the weights it read (no modifier but the armature's, the same vertex groups),
    made with nothing changed since: their weights are not read again."""

    def write_mesh_node(self: Any, *arguments: Any) -> int | None:
        call = _Call(addon, self, *arguments, checked=checked)
        if call.obj.type != "MESH" or not isinstance(call.obj.data, bpy.types.Mesh):
            return original(self, *arguments)
        return call.write()

    return write_mesh_node
