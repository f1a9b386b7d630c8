"""Reads the scene into core's rig model once, with bulk `foreach_get` reads (vertex-group weights through
a throwaway Geometry Nodes modifier: bpy 4.5 has no bulk read for them)."""

from __future__ import annotations

import functools
import os
from typing import Any

import bpy
import numpy as np
import numpy.typing as npt

from ..core.errors import InputError
from ..core.rig import checks
from ..core.rig.model import (
    ArmatureInfo,
    BoneTable,
    MaterialInfo,
    MeshInfo,
    RigModel,
    TextureInfo,
    Transform,
    padded_weights,
)
from . import context, vrm_addon, vrm_expressions


class ArmatureNotFoundError(InputError, LookupError):
    """The armature asked for is not in the scene; the message is one line for the user."""


def armatures() -> list[bpy.types.Object]:
    return sorted((o for o in context.scene().objects if o.type == "ARMATURE"), key=lambda o: o.name)


def drives(armature: bpy.types.Object) -> int:
    """How many vertices the armature deforms or carries (0 for a Rigify metarig or a widget rig)."""
    meshes = [o.data for o in context.scene().objects if o.type == "MESH"
              and (deformed_by(o, armature) or descends_from(o, armature))]  # fmt: skip
    return sum(len(m.vertices) for m in meshes if isinstance(m, bpy.types.Mesh))


def pick_armature(name: str | None) -> bpy.types.Object | None:
    """The named armature (ArmatureNotFoundError when absent), else the one that deforms or carries the most
    geometry (then the one with most VRM bones mapped, then by name): never a metarig beside its rig."""
    found = armatures()
    if name is not None:
        for obj in found:
            if obj.name == name:
                return obj
        known = ", ".join(o.name for o in found) or "none"
        raise ArmatureNotFoundError(f"no armature '{name}' in the scene; armatures: {known}")
    if not found:
        return None
    enabled = vrm_addon.is_enabled()
    return max(found, key=lambda o: (drives(o), len(vrm_addon.humanoid_mapping(o)) if enabled else 0, -found.index(o)))


def transform_of(obj: bpy.types.Object) -> Transform:
    if obj.rotation_mode == "QUATERNION":
        rotation = obj.rotation_quaternion.copy()
    elif obj.rotation_mode == "AXIS_ANGLE":
        rotation = obj.matrix_basis.to_quaternion()
    else:
        rotation = obj.rotation_euler.to_quaternion()
    return Transform(
        location=(obj.location[0], obj.location[1], obj.location[2]),
        rotation=(rotation[0], rotation[1], rotation[2], rotation[3]),
        scale=(obj.scale[0], obj.scale[1], obj.scale[2]),
        matrix_world=tuple(tuple(obj.matrix_world[i][j] for j in range(4)) for i in range(4)),
    )


def bone_table(armature: bpy.types.Object) -> BoneTable:
    data = armature.data
    assert isinstance(data, bpy.types.Armature)
    bones = data.bones
    n = len(bones)
    heads = np.empty(n * 3)
    tails = np.empty(n * 3)
    deform = np.empty(n, dtype=bool)
    bones.foreach_get("head_local", heads)
    bones.foreach_get("tail_local", tails)
    bones.foreach_get("use_deform", deform)
    names = [b.name for b in bones]
    index = {name: i for i, name in enumerate(names)}
    parents = [index[b.parent.name] if b.parent is not None else -1 for b in bones]
    return BoneTable(names, parents, heads.reshape(-1, 3), tails.reshape(-1, 3), deform)


def armature_info(armature: bpy.types.Object) -> ArmatureInfo:
    mapping = vrm_addon.humanoid_mapping(armature) if vrm_addon.is_enabled() else {}
    bones = bone_table(armature)
    pose = armature.pose
    if pose is None:
        return ArmatureInfo(armature.name, transform_of(armature), bones, mapping)
    posed = [pose.bones[n] for n in bones.names]
    connected = np.array([p.bone.use_connect for p in posed], dtype=bool)
    location = np.array([p.location for p in posed], dtype=np.float64).reshape(-1, 3)
    location[connected] = 0.0
    return ArmatureInfo(
        armature.name,
        transform_of(armature),
        bones,
        mapping,
        posed_heads=np.array([p.head for p in posed], dtype=np.float64).reshape(-1, 3),
        pose_scale=np.array([p.scale for p in posed], dtype=np.float64).reshape(-1, 3),
        pose_location=location,
    )


def dense_weights(mesh: bpy.types.Mesh, group_names: list[str]) -> npt.NDArray[np.float32]:
    """(N, G) weight of each vertex in each group, 0 where it is not in the group.

    bpy has no bulk read for vertex groups, but Geometry Nodes sees each group as an attribute: a
    throwaway object on the same mesh stores them as float attributes that `foreach_get` reads, about
    seven times faster than one pass over the vertices in Python (see bench/bench_check.py). It cannot
    tell weight 0 from "not in the group", which no check needs: an influence is a weight above 0.
    """
    n = len(mesh.vertices)
    if not group_names or not n:
        return np.zeros((n, len(group_names)), dtype=np.float32)
    trees: list[bpy.types.NodeTree] = []
    holder = bpy.data.objects.new("AvatarForgeWeights", mesh)
    try:
        tree = _weights_tree(group_names, trees)
        context.scene().collection.objects.link(holder)
        modifier = holder.modifiers.new("Weights", "NODES")
        assert isinstance(modifier, bpy.types.NodesModifier)
        modifier.node_group = tree
        evaluated = holder.evaluated_get(bpy.context.evaluated_depsgraph_get()).data
        assert isinstance(evaluated, bpy.types.Mesh)
        out = np.empty((len(group_names), n), dtype=np.float32)
        for i in range(len(group_names)):
            attribute: Any = evaluated.attributes[f"{_ATTRIBUTE}{i}"]
            attribute.data.foreach_get("value", out[i])
    finally:
        bpy.data.objects.remove(holder)
        for made in trees:
            bpy.data.node_groups.remove(made)
    return np.ascontiguousarray(out.T)  # float32, as Blender stores weights


_ATTRIBUTE = "avatar_forge_weight_"
# Groups per node tree. Each edit of a node tree updates the whole tree, so building one tree for all groups
# grows as their count squared (about 60 ms for 54 groups); trees of eight, chained, take about 20 ms.
_GROUPS_PER_TREE = 8


def _weights_tree(group_names: list[str], trees: list[bpy.types.NodeTree]) -> bpy.types.NodeTree:
    """A node tree storing vertex group i as the point attribute `_ATTRIBUTE` + i, through node groups of
    `_GROUPS_PER_TREE` groups each; every tree made is appended to `trees` (for the caller to remove)."""
    chunks = [
        _new_tree(trees, functools.partial(_store_groups, group_names=group_names, first=first))
        for first in range(0, len(group_names), _GROUPS_PER_TREE)
    ]

    def chain(nodes: Any, geometry: Any) -> Any:
        for chunk in chunks:
            group: Any = nodes.new("GeometryNodeGroup")
            group.node_tree = chunk
            nodes.id_data.links.new(geometry, group.inputs[0], verify_limits=False)
            geometry = group.outputs[0]
        return geometry

    return _new_tree(trees, chain)


def _new_tree(trees: list[bpy.types.NodeTree], body: Any) -> bpy.types.NodeTree:
    """A geometry node tree, Geometry in and out, with `body(nodes, geometry socket)` -> geometry between."""
    tree = bpy.data.node_groups.new("AvatarForgeWeights", "GeometryNodeTree")
    trees.append(tree)
    interface = tree.interface
    assert interface is not None
    interface.new_socket("Geometry", in_out="INPUT", socket_type="NodeSocketGeometry")
    interface.new_socket("Geometry", in_out="OUTPUT", socket_type="NodeSocketGeometry")
    nodes: Any = tree.nodes
    geometry = body(nodes, nodes.new("NodeGroupInput").outputs[0])
    tree.links.new(geometry, nodes.new("NodeGroupOutput").inputs[0])
    return tree


def _store_groups(nodes: Any, geometry: Any, group_names: list[str], first: int) -> Any:
    """Store nodes for `_GROUPS_PER_TREE` groups from `first` on, after `geometry`; returns their output."""
    links = nodes.id_data.links
    # Sockets by index (found once, by name) and links unverified: name lookups and link checks were most of
    # the build's time. The nodes' defaults are what this needs: float values on points.
    sockets: list[str] = []
    for i in range(first, min(first + _GROUPS_PER_TREE, len(group_names))):
        # Any: the stubs type node sockets as optional and socket values as absent.
        read: Any = nodes.new("GeometryNodeInputNamedAttribute")
        store: Any = nodes.new("GeometryNodeStoreNamedAttribute")
        sockets = sockets or [s.name for s in store.inputs]
        read.inputs[0].default_value = group_names[i]
        store.inputs[sockets.index("Name")].default_value = f"{_ATTRIBUTE}{i}"
        links.new(geometry, store.inputs[0], verify_limits=False)
        links.new(read.outputs[0], store.inputs[sockets.index("Value")], verify_limits=False)
        geometry = store.outputs[0]
    return geometry


def deformed_by(obj: bpy.types.Object, armature: bpy.types.Object) -> bool:
    return any(m.type == "ARMATURE" and m.object == armature for m in obj.modifiers)  # type: ignore[attr-defined]


def descends_from(obj: bpy.types.Object, ancestor: bpy.types.Object) -> bool:
    parent = obj.parent
    while parent is not None:
        if parent == ancestor:
            return True
        parent = parent.parent
    return False


def belongs_to(obj: bpy.types.Object, armature: bpy.types.Object, bone_names: set[str]) -> bool:
    """A mesh is part of the avatar when the armature deforms it, is its ancestor, or names its groups."""
    if deformed_by(obj, armature) or descends_from(obj, armature):
        return True
    deformed_by_other = any(m.type == "ARMATURE" and m.object is not None for m in obj.modifiers)  # type: ignore[attr-defined]
    return not deformed_by_other and any(g.name in bone_names for g in obj.vertex_groups)


def mesh_info(obj: bpy.types.Object) -> MeshInfo:
    mesh = obj.data
    assert isinstance(mesh, bpy.types.Mesh)
    co = np.empty(len(mesh.vertices) * 3)
    mesh.vertices.foreach_get("co", co)
    loop_total = np.empty(len(mesh.polygons), dtype=np.int64)
    mesh.polygons.foreach_get("loop_total", loop_total)
    group_names = [g.name for g in obj.vertex_groups]
    index, weight = padded_weights(dense_weights(mesh, group_names))
    keys = mesh.shape_keys
    return MeshInfo(
        name=obj.name,
        transform=transform_of(obj),
        parent=obj.parent.name if obj.parent is not None else None,
        positions=co.reshape(-1, 3),
        group_names=group_names,
        group_index=index,
        group_weight=weight,
        armature_modifiers=tuple(
            (m.object.name if m.object is not None else "")  # type: ignore[attr-defined]
            for m in obj.modifiers
            if m.type == "ARMATURE"
        ),
        shape_keys=tuple(k.name for k in keys.key_blocks[1:]) if keys is not None else (),
        triangles=int((loop_total - 2).sum()),
        materials=tuple(m.name for m in mesh.materials if m is not None),
        parent_type=obj.parent_type if obj.parent is not None else "OBJECT",
        parent_bone=obj.parent_bone if obj.parent is not None and obj.parent_type == "BONE" else "",
        shape_key_moved=_shape_key_moved(mesh),
        carried_by=_carried_by(obj),
    )


def _carried_by(obj: bpy.types.Object) -> tuple[str, str] | None:
    """The (armature, bone) an object hangs from, through any chain of parents."""
    while obj.parent is not None:
        if obj.parent_type == "BONE" and obj.parent.type == "ARMATURE":
            return obj.parent.name, obj.parent_bone
        obj = obj.parent
    return None


def _shape_key_moved(mesh: bpy.types.Mesh) -> tuple[int, ...]:
    """How many vertices each shape key moves off its reference key (what a sparse morph target stores)."""
    keys = mesh.shape_keys
    if keys is None:
        return ()
    count = len(mesh.vertices)
    coordinates: dict[str, npt.NDArray[np.float32]] = {}
    for key in keys.key_blocks:
        co = np.empty(count * 3, dtype=np.float32)
        key.points.foreach_get("co", co)
        coordinates[key.name] = co.reshape(-1, 3)
    moved = []
    for key in keys.key_blocks[1:]:
        reference = key.relative_key.name if key.relative_key is not None else keys.key_blocks[0].name
        differs = coordinates[key.name] != coordinates[reference]
        # The three columns or-ed: np.any(axis=1) over rows of three is several times slower.
        moved.append(int(np.count_nonzero(differs[:, 0] | differs[:, 1] | differs[:, 2])))
    return tuple(moved)


def _image_bytes(image: bpy.types.Image) -> int:
    if image.packed_file is not None:
        return int(image.packed_file.size)
    path = bpy.path.abspath(image.filepath) if image.filepath else ""
    return os.path.getsize(path) if path and os.path.isfile(path) else 0


def textures_of(meshes: list[bpy.types.Object]) -> list[TextureInfo]:
    images: dict[str, bpy.types.Image] = {}
    for obj in meshes:
        for material in obj.data.materials:  # type: ignore[union-attr]
            if material is None or material.node_tree is None:
                continue
            for node in material.node_tree.nodes:
                if isinstance(node, bpy.types.ShaderNodeTexImage) and node.image is not None:
                    images[node.image.name] = node.image
    return [
        TextureInfo(name, int(image.size[0]), int(image.size[1]), _image_bytes(image))
        for name, image in sorted(images.items())
    ]


def principled_surface(material: bpy.types.Material) -> Any | None:
    """The Principled BSDF the material's active output draws with (what the glTF exporter reads), or None."""
    if not material.use_nodes or material.node_tree is None:
        return None
    output: Any = material.node_tree.get_output_node("ALL")  # None without an output node, whatever the stubs say
    surface: Any = output.inputs.get("Surface") if output is not None else None
    if surface is None or not surface.is_linked:
        return None
    node = surface.links[0].from_node
    return node if node.type == "BSDF_PRINCIPLED" else None


def mtoon_of(material: bpy.types.Material) -> Any | None:
    """The VRM Add-on's MToon settings of the material when it is an MToon material (the export writes those)."""
    if not vrm_addon.is_enabled():
        return None
    mtoon = material.vrm_addon_extension.mtoon1  # type: ignore[attr-defined]
    return mtoon if mtoon.enabled else None


def material_info(material: bpy.types.Material) -> MaterialInfo:
    """The alpha the export writes for `material`: an MToon material's (VRM Add-on) base colour alpha and
    mode, else its Principled BSDF's Alpha input; alpha 1 for a material with neither (nothing to judge)."""
    mtoon = mtoon_of(material)
    if mtoon is not None:
        pbr = mtoon.pbr_metallic_roughness
        textured = pbr.base_color_texture.index.source is not None
        return MaterialInfo(material.name, float(pbr.base_color_factor[3]), mtoon.alpha_mode == "OPAQUE", textured)
    bsdf = principled_surface(material)
    if bsdf is None:
        return MaterialInfo(material.name, 1.0)
    alpha = bsdf.inputs["Alpha"]
    return MaterialInfo(material.name, float(alpha.default_value), textured=bool(alpha.is_linked))


def materials_of(meshes: list[bpy.types.Object]) -> list[MaterialInfo]:
    found = {m.name: m for obj in meshes for m in obj.data.materials if m is not None}  # type: ignore[union-attr]
    return [material_info(m) for _name, m in sorted(found.items())]


def _bound_expressions(armature: bpy.types.Object) -> frozenset[str]:
    """Expressions the model has bound in the VRM Add-on, VRM 1.0 (presets and custom) and 0.x groups, by
    the names consumers give them: an export keeps them all (a 0.x model's groups become 1.0 expressions)."""
    if not vrm_addon.is_enabled():
        return frozenset()
    return frozenset(vrm_expressions.bound_vrm1(armature)) | frozenset(vrm_expressions.bound_vrm0(armature))


def avatar_meshes(armature: bpy.types.Object) -> list[bpy.types.Object]:
    bone_names = {b.name for b in armature.data.bones}  # type: ignore[union-attr]
    objects = context.scene().objects
    return sorted(
        (o for o in objects if o.type == "MESH" and belongs_to(o, armature, bone_names)), key=lambda o: o.name
    )


def read_rig(armature_name: str | None = None) -> RigModel:
    """The scene as core's rig model; raises ArmatureNotFoundError for an unknown `armature_name`."""
    for obj in context.view_layer().objects:
        if obj is not None and obj.mode == "EDIT":
            obj.update_from_editmode()  # what the artist is editing, without leaving edit mode
    context.view_layer().update()  # world matrices are stale after a script moved something
    armature = pick_armature(armature_name)
    if armature is None:
        meshes = [o for o in context.scene().objects if o.type == "MESH"]
        return RigModel(None, [mesh_info(o) for o in meshes], textures_of(meshes), materials_of(meshes))
    meshes = avatar_meshes(armature)
    rivals = [o.name for o in armatures() if o != armature and drives(o)]
    infos = [mesh_info(o) for o in meshes]
    info = armature_info(armature)
    info.carrying = checks.carrying_bones(infos, info)
    return RigModel(
        armature=info,
        rival_armatures=rivals,
        meshes=infos,
        textures=textures_of(meshes),
        materials=materials_of(meshes),
        bound_expressions=_bound_expressions(armature),
        user_chose_armature=armature_name is not None,
    )
