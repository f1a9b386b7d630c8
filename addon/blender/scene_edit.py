"""Creating, changing, copying and deleting objects without operators (they need a window context the
socket's timer does not have): datablocks and bmesh only. Every function leaves one undo step behind."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import bmesh
import bpy
from mathutils import Matrix

from ..core.scene_edits import DEFAULT_SIZE, LIGHTS
from ..core.wire.protocol import echo
from . import context

# A primitive's resolution: Blender's own defaults for its Add menu.
_SEGMENTS = 32
_RINGS = 16


def undo_step(message: str) -> None:
    """Marks what was just done as one step of the undo history (Ctrl+Z in the UI undoes exactly it)."""
    bpy.ops.ed.undo_push(message=message)


def find(name: str) -> bpy.types.Object:
    obj: bpy.types.Object | None = bpy.data.objects.get(name)
    if obj is None:
        raise ValueError(f"Object not found: {echo(name)}")
    return obj


def _active_collection() -> bpy.types.Collection:
    layer = context.view_layer().active_layer_collection
    return layer.collection if layer is not None else context.scene().collection


def _free_name(name: str) -> str:
    if name in bpy.data.objects:
        raise ValueError(f"an object named {echo(name)} exists: choose another name, or change or delete that one")
    return name


def _primitive_mesh(kind: str, name: str, size: float) -> bpy.types.Mesh:
    half = size / 2
    bm = bmesh.new()
    try:
        bm.loops.layers.uv.new("UVMap")  # so an image texture maps onto it at once
        if kind == "cube":
            bmesh.ops.create_cube(bm, size=size, calc_uvs=True)
        elif kind == "uv_sphere":
            bmesh.ops.create_uvsphere(bm, u_segments=_SEGMENTS, v_segments=_RINGS, radius=half, calc_uvs=True)
        elif kind == "ico_sphere":
            bmesh.ops.create_icosphere(bm, subdivisions=2, radius=half, calc_uvs=True)
        elif kind in ("cylinder", "cone"):
            top = half if kind == "cylinder" else 0.0
            bmesh.ops.create_cone(
                bm, cap_ends=True, segments=_SEGMENTS, radius1=half, radius2=top, depth=size, calc_uvs=True
            )
        elif kind == "plane":
            bmesh.ops.create_grid(bm, x_segments=1, y_segments=1, size=half, calc_uvs=True)
        elif kind == "circle":
            bmesh.ops.create_circle(bm, cap_ends=True, segments=_SEGMENTS, radius=half, calc_uvs=True)
        else:  # monkey: about 2.7 x 1.7 x 2 at size 2, like Blender's own Suzanne
            bmesh.ops.create_monkey(bm, calc_uvs=True)
            bmesh.ops.scale(bm, vec=(half, half, half), verts=list(bm.verts))
        mesh = bpy.data.meshes.new(name)
        bm.to_mesh(mesh)
    finally:
        bm.free()
    return mesh


def _data(kind: str, name: str, size: float, energy: float | None, color: Sequence[float] | None) -> Any:
    if kind in LIGHTS:
        light: Any = bpy.data.lights.new(name, LIGHTS[kind])  # type: ignore[arg-type]
        if energy is not None:
            light.energy = energy
        if color is not None:
            light.color = color
        return light
    if kind == "camera":
        return bpy.data.cameras.new(name)
    if kind == "empty":
        return None
    return _primitive_mesh(kind, name, size)


def _place(
    obj: bpy.types.Object,
    location: Sequence[float] | None,
    rotation: Sequence[float] | None,
    scale: Sequence[float] | None,
) -> None:
    if location is not None:
        obj.location = location
    if rotation is not None:
        obj.rotation_mode = "XYZ"
        obj.rotation_euler = rotation
    if scale is not None:
        obj.scale = scale


def _refuse_loop(obj: bpy.types.Object, parent: bpy.types.Object | None) -> None:
    ancestor = parent
    while ancestor is not None:
        if ancestor == obj:
            assert parent is not None
            raise ValueError(f"{echo(parent.name)} is {echo(obj.name)} or one of its children: no loop of parents")
        ancestor = ancestor.parent


def _reparent(obj: bpy.types.Object, parent: bpy.types.Object | None) -> None:
    """Parents `obj` to `parent` (None: to nothing) where it stands in the world (Blender's Keep Transform)."""
    context.view_layer().update()  # matrix_world reflects the location just set
    world = obj.matrix_world.copy()
    obj.parent = parent
    obj.matrix_parent_inverse = parent.matrix_world.inverted() if parent is not None else Matrix.Identity(4)
    if parent is None:
        obj.matrix_world = world


def create(
    kind: str,
    name: str | None,
    *,
    location: Sequence[float] | None = None,
    rotation: Sequence[float] | None = None,
    scale: Sequence[float] | None = None,
    size: float | None = None,
    parent: str | None = None,
    energy: float | None = None,
    color: Sequence[float] | None = None,
) -> bpy.types.Object:
    if (energy is not None or color is not None) and kind not in LIGHTS:
        raise ValueError(f"'energy' and 'color' are a light's: a {kind} has neither (give it a material)")
    if size is not None and (kind in LIGHTS or kind == "camera"):
        raise ValueError(f"'size' is a primitive's or an empty's: a {kind} has none")
    target = find(parent) if parent is not None else None
    name = _free_name(name or kind.replace("_", " ").title().replace(" ", ""))
    obj = bpy.data.objects.new(name, _data(kind, name, size or DEFAULT_SIZE, energy, color))
    if kind == "empty":
        obj.empty_display_size = (size or DEFAULT_SIZE) / 2
    _active_collection().objects.link(obj)
    _place(obj, location, rotation, scale)
    if target is not None:
        _reparent(obj, target)
    undo_step(f"MCP create {name}")
    return obj


def modify(
    obj: bpy.types.Object,
    *,
    new_name: str | None = None,
    location: Sequence[float] | None = None,
    rotation: Sequence[float] | None = None,
    scale: Sequence[float] | None = None,
    parent: str | bool | None = False,  # False: leave the parent alone; None or "": none
    visible: bool | None = None,
) -> bpy.types.Object:
    target = find(parent) if isinstance(parent, str) and parent else None
    _refuse_loop(obj, target)  # every check before the first change: a refused call changes nothing
    if new_name is not None and new_name != obj.name:
        obj.name = _free_name(new_name)
    _place(obj, location, rotation, scale)
    if parent is not False:
        _reparent(obj, target)
    if visible is not None:
        obj.hide_set(not visible)
        obj.hide_render = not visible
    undo_step(f"MCP modify {obj.name}")
    return obj


def duplicate(
    obj: bpy.types.Object,
    new_name: str | None,
    *,
    linked: bool = False,
    location: Sequence[float] | None = None,
    rotation: Sequence[float] | None = None,
    scale: Sequence[float] | None = None,
) -> bpy.types.Object:
    name = _free_name(new_name) if new_name is not None else None
    copy = obj.copy()  # modifiers, constraints, parent and material slots come along
    if obj.data is not None and not linked:
        copy.data = obj.data.copy()
    if name is not None:
        copy.name = name
    if copy.data is not None and not linked:
        copy.data.name = copy.name  # not "Body.001" beside a "Shirt"
    collections = list(obj.users_collection) or [_active_collection()]
    for collection in collections:
        collection.objects.link(copy)
    _place(copy, location, rotation, scale)
    undo_step(f"MCP duplicate {obj.name}")
    return copy


def delete(obj: bpy.types.Object) -> dict[str, Any]:
    """Removes `obj`; its children stay where they are in the world, unparented, and its data goes with it
    when nothing else uses it."""
    name, data = obj.name, obj.data
    children = list(obj.children)
    for child in children:
        _reparent(child, None)
    bpy.data.objects.remove(obj)
    if isinstance(data, bpy.types.ID) and data.users == 0:
        collection: Any = {
            bpy.types.Mesh: bpy.data.meshes,
            bpy.types.Light: bpy.data.lights,
            bpy.types.Camera: bpy.data.cameras,
            bpy.types.Curve: bpy.data.curves,
        }.get(type(data))
        if collection is not None:
            collection.remove(data)
    undo_step(f"MCP delete {name}")
    return {"deleted": name, "unparented": [child.name for child in children]}
