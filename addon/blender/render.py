"""Headless renders of the scene: the README picture, the VRM thumbnail, the socket's screenshot."""

from __future__ import annotations

import contextlib
import math
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import bpy
from mathutils import Vector

from . import console, context

ENGINES = {"workbench": "BLENDER_WORKBENCH", "cycles": "CYCLES"}


@contextlib.contextmanager
def _settings(changes: list[tuple[Any, str, Any]]) -> Iterator[None]:
    """Sets each (owner, attribute, value) and puts every old value back afterwards, even on error."""
    old = [(owner, name, getattr(owner, name)) for owner, name, _value in changes]
    try:
        for owner, name, value in changes:
            setattr(owner, name, value)
        yield
    finally:
        for owner, name, value in reversed(old):
            setattr(owner, name, value)


def render_still(
    path: Path, width: int = 640, height: int = 640, engine: str = "workbench", *, fxaa: bool = False
) -> Path:
    """Renders the scene camera (or a temporary front view when there is none) to a PNG at `path`.

    fxaa=True renders Workbench in one pass smoothed by FXAA instead of the scene's anti-aliasing samples
    (8 by default, each a full render on a machine without a GPU): the VRM thumbnail takes about a third of
    the time, with edges close to 8 samples' (one pass alone leaves them jagged). Every render and shading
    setting it touches is restored: a thumbnail must not change the scene the artist saves.
    """
    scene = context.scene()
    render = scene.render
    temporary = _front_camera(scene) if scene.camera is None else None
    world = bpy.data.worlds.new("AvatarForgeWorld") if engine == "cycles" and scene.world is None else None
    changes: list[tuple[Any, str, Any]] = [
        (scene, "camera", scene.camera or temporary),
        (render, "engine", ENGINES[engine]),
        (render, "resolution_x", width),
        (render, "resolution_y", height),
        (render, "resolution_percentage", 100),
        (render.image_settings, "file_format", "PNG"),
        (render, "filepath", str(path)),
    ]
    if engine == "workbench":
        shading: Any = scene.display.shading  # type: ignore[union-attr]
        changes += [(shading, "light", "STUDIO"), (shading, "color_type", "TEXTURE")]
        if fxaa:
            changes.append((scene.display, "render_aa", "FXAA"))
    else:
        cycles: Any = scene.cycles
        changes += [(cycles, "samples", 16), (cycles, "device", "CPU")]
        if world is not None:
            changes.append((scene, "world", world))
    try:
        with _settings(changes), console.quiet(verbose=False):  # "Saved: ...", "Time: ...", headless GPU noise
            bpy.ops.render.render(write_still=True)
    finally:
        if temporary is not None:
            camera_data = temporary.data
            bpy.data.objects.remove(temporary)
            if isinstance(camera_data, bpy.types.Camera):
                bpy.data.cameras.remove(camera_data)
        if world is not None:
            bpy.data.worlds.remove(world)
    return path


def _front_camera(scene: bpy.types.Scene) -> bpy.types.Object:
    """A camera in front of (-Y) everything visible, far enough to frame it all."""
    # The evaluated objects' boxes: the posed, deformed meshes the render shows (an original's box can be
    # the rest shape's, or stale after the fixes moved the rig).
    depsgraph = bpy.context.evaluated_depsgraph_get()
    depsgraph.update()
    shown = [obj.evaluated_get(depsgraph) for obj in scene.objects if obj.type == "MESH" and obj.visible_get()]
    points = [obj.matrix_world @ Vector(corner) for obj in shown for corner in obj.bound_box]
    if points:
        lo = [min(p[i] for p in points) for i in range(3)]
        hi = [max(p[i] for p in points) for i in range(3)]
    else:
        lo, hi = [-1.0, -1.0, 0.0], [1.0, 1.0, 2.0]
    centre = [(a + b) / 2 for a, b in zip(lo, hi, strict=True)]
    extent = max(hi[0] - lo[0], hi[2] - lo[2], 0.1)
    data = bpy.data.cameras.new("AvatarForgeView")
    data.lens = 50
    camera = bpy.data.objects.new("AvatarForgeView", data)
    # A 50 mm lens on a 36 mm sensor sees about 0.72 of the distance across.
    distance = extent / 0.72 * 1.15 + (hi[1] - lo[1]) / 2
    camera.location = (centre[0], lo[1] - distance, centre[2])
    camera.rotation_euler = (math.radians(90.0), 0.0, 0.0)
    scene.collection.objects.link(camera)
    return camera
