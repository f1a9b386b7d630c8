"""Protocol 15's lookups for mcp-for-blender: name search over objects, materials and collections (its
@-mentions and `blender://` resources), and which object lies under a click on a viewport capture."""

from __future__ import annotations

from typing import Any

import bpy
from mathutils import Matrix, Vector

from ..blender import context
from .config import ServerConfig

MAX_ITEMS = 100
PICK_RADIUS_PX = 12.0  # lights, cameras and empties have no surface: a click this near their origin picks them
_PICK_BY_ORIGIN = {"LIGHT", "CAMERA", "EMPTY", "LIGHT_PROBE", "SPEAKER"}


def _object_detail(obj: bpy.types.Object) -> str:
    data = obj.data
    if isinstance(data, bpy.types.Mesh):
        return f"Mesh object, {len(data.polygons)} faces"
    if isinstance(data, bpy.types.Armature):
        return f"Armature object, {len(data.bones)} bones"
    return f"{obj.type.title()} object"


def list_scene_items(params: dict[str, Any], config: ServerConfig) -> dict[str, Any]:
    """Objects, materials and collections whose names contain `query`; names starting with it first."""
    query = params.get("query") or ""
    if not isinstance(query, str):
        raise ValueError("'query' must be a string")
    limit = params.get("limit", 30)
    if isinstance(limit, bool) or not isinstance(limit, int) or limit < 1:
        raise ValueError(f"'limit' must be a whole number of at least 1, got {limit!r}")
    needle = query.strip().lower()
    scene = context.scene()
    users: dict[str, list[str]] = {}
    for obj in scene.objects:
        for slot in obj.material_slots:
            if slot.material:
                users.setdefault(slot.material.name, []).append(obj.name)
    candidates: list[tuple[str, str, str]] = [("object", o.name, _object_detail(o)) for o in scene.objects]
    for material in bpy.data.materials:
        on = users.get(material.name, [])
        shown = ", ".join(on[:3]) + (f" and {len(on) - 3} more" if len(on) > 3 else "")
        candidates.append(
            ("material", material.name, f"Material on {shown}" if on else "Material not used in this scene")
        )
    candidates += [
        ("collection", c.name, f"Collection with {len(c.all_objects)} objects") for c in bpy.data.collections
    ]
    matches = [
        (0 if name.lower().startswith(needle) else 1, order, {"kind": kind, "name": name, "detail": detail})
        for order, (kind, name, detail) in enumerate(candidates)
        if needle in name.lower()
    ]
    matches.sort(key=lambda match: (match[0], match[1]))
    return {"items": [item for _, _, item in matches[: min(limit, MAX_ITEMS)]], "total": len(matches)}


def _rows(matrix: Matrix) -> list[list[float]]:
    return [[matrix[i][j] for j in range(4)] for i in range(4)]


def camera_view(camera: bpy.types.Object, width: int, height: int) -> dict[str, Any]:
    """The matrices an image rendered through `camera` was drawn with, for pick_viewport_object."""
    depsgraph = bpy.context.evaluated_depsgraph_get()
    window = camera.calc_matrix_camera(depsgraph, x=width, y=height)
    return {
        "view_matrix": _rows(camera.matrix_world.inverted()),
        "window_matrix": _rows(window),
        "width": width,
        "height": height,
        "file": bpy.data.filepath,
        "scene": context.scene().name,
    }


def _matrix(params: dict[str, Any], key: str) -> Matrix:
    rows = params.get(key)
    if not (isinstance(rows, list) and len(rows) == 4 and all(isinstance(r, list) and len(r) == 4 for r in rows)):
        raise ValueError(f"'{key}' must be a 4x4 matrix (a list of 4 rows of 4 numbers)")
    return Matrix([[float(v) for v in row] for row in rows])


def _number(params: dict[str, Any], key: str) -> float:
    value = params.get(key)
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError(f"'{key}' must be a number")
    return float(value)


def pick_viewport_object(params: dict[str, Any], config: ServerConfig) -> dict[str, Any]:
    """The object under (x, y) (0..1 from the top-left) of a capture drawn with the given matrices.

    A click is cast only into the file and scene the capture came from, never into whatever is open now.
    """
    scene = context.scene()
    if params.get("file") is not None and params["file"] != bpy.data.filepath:
        return {"object": None, "mismatch": "file", "current": bpy.data.filepath}
    if params.get("scene") is not None and params["scene"] != scene.name:
        return {"object": None, "mismatch": "scene", "current": scene.name}
    projection = _matrix(params, "window_matrix") @ _matrix(params, "view_matrix")
    x, y = _number(params, "x"), _number(params, "y")
    width, height = _number(params, "width"), _number(params, "height")
    try:
        unproject = projection.inverted()
    except ValueError:
        raise ValueError("the view matrices cannot be inverted") from None
    ndc_x, ndc_y = 2.0 * x - 1.0, 1.0 - 2.0 * y

    def at_depth(z: float) -> Vector:
        point = unproject @ Vector((ndc_x, ndc_y, z, 1.0))
        return point.xyz / point.w

    origin = at_depth(-1.0)
    direction = (at_depth(1.0) - origin).normalized()
    picked: bpy.types.Object | None = None
    depth = float("inf")
    hit, location, _normal, _index, hit_object, _hit_matrix = scene.ray_cast(
        bpy.context.evaluated_depsgraph_get(), origin, direction
    )
    if hit and hit_object is not None:
        picked, depth = hit_object.original, (location - origin).length
    nearest = PICK_RADIUS_PX
    for obj in scene.objects:
        if obj.type not in _PICK_BY_ORIGIN or not obj.visible_get():
            continue
        point = projection @ obj.matrix_world.translation.to_4d()
        if point.w <= 0:
            continue  # behind the eye
        distance = Vector(
            ((point.x / point.w + 1) / 2 * width - x * width, (1 - point.y / point.w) / 2 * height - y * height)
        ).length
        if distance <= nearest and (obj.matrix_world.translation - origin).length < depth:
            picked, nearest = obj, distance  # an origin in front of the hit surface is drawn on top of it
    if picked is None:
        return {"object": None}
    return {
        "object": {
            "name": picked.name,
            "type": picked.type,
            "detail": _object_detail(picked),
            "location": [round(v, 4) for v in picked.matrix_world.translation.to_tuple()],
        }
    }
