"""BlenderMCP's scene commands, run on Blender's main thread: results shaped as BlenderMCP's add-on
shapes them, except that get_scene_info lists every object (offset/limit page through huge scenes)."""

from __future__ import annotations

import contextlib
import io
import json
import os
import shutil
import tempfile
import traceback
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import bpy
import numpy as np
from mathutils import Vector

from ..blender import context, render
from ..core.outputs import place_new
from ..core.wire.protocol import echo
from ..process import scratch
from .config import ServerConfig
from .params import MAX_PATH, count, text
from .scene_items import camera_view

UNDO_MESSAGE = "MCP execute_code"


MAX_SCREENSHOT_SIZE = 4096


def _rounded(values: Any) -> list[float]:
    return [round(float(v), 4) for v in values]


def get_scene_info(params: dict[str, Any], config: ServerConfig) -> dict[str, Any]:
    scene = context.scene()
    offset = count(params, "offset", 0) or 0
    limit = count(params, "limit", None)
    objects = list(scene.objects)
    page = objects[offset:] if limit is None else objects[offset : offset + limit]
    # One bulk read of every location: per-object Vector access is most of the time on big scenes.
    locations = np.empty(len(objects) * 3, dtype=np.float64)
    scene.objects.foreach_get("location", locations)
    rounded = np.round(locations, 4).reshape(-1, 3)[offset : offset + len(page)].tolist()
    return {
        "name": scene.name,
        "object_count": len(objects),
        "objects": [{"name": o.name, "type": o.type, "location": xyz} for o, xyz in zip(page, rounded, strict=True)],
        "materials_count": len(bpy.data.materials),
        "offset": offset,
        "returned_count": len(page),
    }


def get_object_info(params: dict[str, Any], config: ServerConfig) -> dict[str, Any]:
    name = text(params, "name", required=True) or ""
    obj: bpy.types.Object | None = bpy.data.objects.get(name)
    if obj is None:
        raise ValueError(f"Object not found: {echo(name)}")
    return object_info(obj)


def object_info(obj: bpy.types.Object) -> dict[str, Any]:
    """BlenderMCP's object shape, with the parent (the structured scene commands reply with it too)."""
    info: dict[str, Any] = {
        "name": obj.name,
        "type": obj.type,
        "location": _rounded(obj.location),
        "rotation": _rounded(obj.rotation_euler),
        "scale": _rounded(obj.scale),
        "visible": obj.visible_get(),
        "parent": obj.parent.name if obj.parent is not None else None,
        "materials": [slot.material.name for slot in obj.material_slots if slot.material],
    }
    data = obj.data
    if isinstance(data, bpy.types.Mesh):
        corners = [obj.matrix_world @ Vector(corner) for corner in obj.bound_box]
        info["world_bounding_box"] = [
            [min(c[i] for c in corners) for i in range(3)],
            [max(c[i] for c in corners) for i in range(3)],
        ]
        info["mesh"] = {"vertices": len(data.vertices), "edges": len(data.edges), "polygons": len(data.polygons)}
    return info


def execute_code(params: dict[str, Any], config: ServerConfig) -> dict[str, Any]:
    if config.execute_code_policy == "deny":
        raise PermissionError(
            "execute_code is denied by Avatar Forge's 'Execute code' preference (execute_code_policy = deny; "
            "headless: forge.py serve --execute-code deny); set it to Allow to let MCP clients run Python"
        )
    code = params.get("code")
    if not isinstance(code, str):
        raise ValueError("'code' must be a string of Python")
    captured = io.StringIO()
    try:
        with contextlib.redirect_stdout(captured):
            exec(compile(code, "<execute_code>", "exec"), {"bpy": bpy, "__name__": "__main__"})
    except (Exception, SystemExit) as exc:  # sys.exit() in sent code must not end the server
        # The shape newer BlenderMCP servers parse; older ones show the whole message, traceback included.
        raise RuntimeError(
            json.dumps(
                {
                    "exception_type": type(exc).__name__,
                    "message": str(exc),
                    # From the sent code's first frame on: our exec() line is noise to the sender.
                    "traceback": "".join(
                        traceback.format_exception(type(exc), exc, exc.__traceback__ and exc.__traceback__.tb_next)
                    ),
                    "output": captured.getvalue(),
                }
            )
        ) from None
    finally:
        if not bpy.app.background:
            bpy.ops.ed.undo_push(message=UNDO_MESSAGE)  # whatever the code did is one step to undo
    return {"executed": True, "result": captured.getvalue()}


def _temp_png(params: dict[str, Any]) -> Path:
    """The requested screenshot path, if it is a new .png inside the system temp folder (links resolved; the
    client's, not the private one `forge.py serve` works in)."""
    value = text(params, "filepath", required=True, limit=MAX_PATH) or ""
    temp = scratch.system_tempdir().resolve()
    path = Path(value).expanduser()
    resolved = Path(os.path.realpath(path.parent)) / path.name
    if not resolved.is_relative_to(temp) or resolved.parent == resolved or path.suffix.lower() != ".png":
        raise PermissionError(f"screenshots are written only as .png files inside {temp}; refused {echo(value)}")
    if os.path.lexists(resolved):  # a file, a link or a folder: never written through or replaced
        raise FileExistsError(f"{echo(str(resolved))} exists: screenshots are written only as new files")
    return resolved


@contextlib.contextmanager
def _scratch_png(path: Path) -> Iterator[Path]:
    """A file in a fresh folder of our own beside `path` (mode 0700, so nobody swaps a link in while
    Blender writes it); the folder is removed afterwards."""
    folder = Path(tempfile.mkdtemp(prefix=".avatar-forge-shot-", dir=path.parent))
    try:
        yield folder / "shot.png"
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def _view3d() -> tuple[bpy.types.Window, bpy.types.Area] | None:
    manager = bpy.context.window_manager
    for window in manager.windows if manager is not None else []:
        screen = window.screen
        for area in screen.areas if screen is not None else []:
            if area.type == "VIEW_3D":
                return window, area
    return None


def get_viewport_screenshot(params: dict[str, Any], config: ServerConfig) -> dict[str, Any]:
    path = _temp_png(params)
    if str(params.get("format", "png")).lower() != "png":
        raise ValueError("only 'png' screenshots are written")
    max_size = count(params, "max_size", 800, least=1) or 800
    if max_size > MAX_SCREENSHOT_SIZE:  # a render that size would stall Blender's main thread
        raise ValueError(f"'max_size' must be at most {MAX_SCREENSHOT_SIZE}")
    with _scratch_png(path) as scratch:
        width, height, view = _shoot(scratch, max_size)
        place_new(scratch, path)
    origin = {"file": bpy.data.filepath, "scene": context.scene().name, "scene_count": len(bpy.data.scenes)}
    result = {"success": True, "width": width, "height": height, "filepath": str(path), **origin}
    return {**result, "view": view} if view is not None else result


def _shoot(path: Path, max_size: int) -> tuple[int, int, dict[str, Any] | None]:
    """Writes the viewport (headless: a render) to `path`, at most `max_size` pixels across; returns its size
    and, for a render through the scene camera, the camera's matrices (so a click on it can be picked)."""
    area = None if bpy.app.background else _view3d()
    view: dict[str, Any] | None = None  # the UI's area grab includes headers: no exact matrices to give
    if area is not None:
        with bpy.context.temp_override(window=area[0], area=area[1]):
            bpy.ops.screen.screenshot_area(filepath=str(path))
        image = bpy.data.images.load(str(path))
        try:
            width, height = image.size
            if max(width, height) > max_size:
                factor = max_size / max(width, height)
                width, height = max(1, int(width * factor)), max(1, int(height * factor))
                image.scale(width, height)
                image.save()
        finally:
            bpy.data.images.remove(image)
    else:
        # Headless there is no viewport: render the scene camera, or a front view of everything.
        settings = context.scene().render
        aspect = settings.resolution_y / max(settings.resolution_x, 1)
        width, height = (max_size, max(1, round(max_size * aspect))) if aspect <= 1 else (
            max(1, round(max_size / aspect)), max_size)  # fmt: skip
        camera = context.scene().camera
        render.render_still(path, width, height)
        if camera is not None:
            view = camera_view(camera, width, height)
    return width, height, view
