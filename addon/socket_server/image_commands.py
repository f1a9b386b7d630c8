"""Images sent inside the reply (base64 PNG), for MCP servers that share no filesystem with Blender:
the viewport screenshot, and a front view of the avatar with an expression applied."""

from __future__ import annotations

import base64
import contextlib
import secrets
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import bpy

from ..blender import context, render
from ..core.vrm import expressions
from .config import ServerConfig
from .scene_commands import MAX_SCREENSHOT_SIZE, get_viewport_screenshot


@contextlib.contextmanager
def _private_png() -> Iterator[Path]:
    """A fresh, unused .png name in the system temp folder, removed afterwards. The screenshot writes only
    new files (exclusively, never through a link), so a name taken meanwhile is refused, not overwritten."""
    path = Path(tempfile.gettempdir()) / f"avatar-forge-{secrets.token_hex(12)}.png"
    try:
        yield path
    finally:
        path.unlink(missing_ok=True)


def _size(params: dict[str, Any], key: str, default: int) -> int:
    value = params.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int) or not 16 <= value <= MAX_SCREENSHOT_SIZE:
        raise ValueError(f"'{key}' must be a whole number from 16 to {MAX_SCREENSHOT_SIZE}, got {value!r}")
    return value


def _inline(path: Path, width: int, height: int) -> dict[str, Any]:
    return {"png_base64": base64.b64encode(path.read_bytes()).decode("ascii"), "width": width, "height": height}


def viewport_image(params: dict[str, Any], config: ServerConfig) -> dict[str, Any]:
    """get_viewport_screenshot, with the PNG in the reply instead of in a file the client names."""
    with _private_png() as path:
        shot = get_viewport_screenshot({"filepath": str(path), "max_size": _size(params, "max_size", 800)}, config)
        return _inline(path, shot["width"], shot["height"])


def _expression_keys(expression: str) -> list[bpy.types.ShapeKey]:
    """The shape keys, on every mesh in the scene, that mean `expression` (VRM, VRoid, ARKit... names)."""
    found: dict[str, list[bpy.types.ShapeKey]] = {}
    for obj in context.scene().objects:
        data = obj.data
        keys = data.shape_keys if isinstance(data, bpy.types.Mesh) else None
        if keys is None:
            continue
        blocks = {block.name: block for block in keys.key_blocks[1:]}  # the first is the basis
        for meaning, names in expressions.map_shape_keys(blocks).items():  # as the exporter binds them
            found.setdefault(meaning, []).extend(blocks[name] for name in names)
    if expression not in found:
        known = ", ".join(sorted(found)) or "none"
        raise ValueError(f"no shape key in the scene makes the expression '{expression}' (the scene has: {known})")
    return found[expression]


@contextlib.contextmanager
def _applied(keys: list[bpy.types.ShapeKey]) -> Iterator[None]:
    """Each key at full strength for the duration, then back to what the artist had."""
    old = [(key, key.value) for key in keys]
    try:
        for key in keys:
            key.value = 1.0
        yield
    finally:
        for key, value in old:
            key.value = value


@contextlib.contextmanager
def _front_view() -> Iterator[None]:
    """No scene camera for the duration, so the render frames the avatar from the front (-Y)."""
    scene = context.scene()
    camera = scene.camera
    scene.camera = None
    try:
        yield
    finally:
        scene.camera = camera


def render_preview(params: dict[str, Any], config: ServerConfig) -> dict[str, Any]:
    """The avatar from the front, optionally with one expression (happy, aa, blink...) applied. Leaves the
    scene as it was: shape key values, camera and render settings are all put back."""
    size = _size(params, "size", 512)
    expression = params.get("expression")
    if expression is not None and (not isinstance(expression, str) or not expression):
        raise ValueError("'expression' must be an expression name such as happy, aa or blink")
    keys = _expression_keys(expression) if expression else []
    with _private_png() as path, _applied(keys), _front_view():
        render.render_still(path, size, size)
        result = _inline(path, size, size)
    return {**result, "expression": expression, "shape_keys": sorted({key.name for key in keys})}
