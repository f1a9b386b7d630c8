"""BlenderMCP's Poly Haven commands, answered by Avatar Forge when the user has turned Poly Haven on: the
network part of each runs on a worker thread (see deferred.py), the main thread only links the finished
files. Shapes are BlenderMCP's: blender-mcp 1.5.5's (assets by id) when a search sends `categories`,
mcp-for-blender's (a list) otherwise."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import bpy

from ..assets import polyhaven
from ..assets.fetch import Progress
from ..blender import asset_link
from ..core.wire.protocol import echo
from .config import ServerConfig
from .deferred import Deferred
from .params import count, text

OFF = (
    "PolyHaven integration is disabled: Avatar Forge fetches nothing until you turn Poly Haven on in its "
    "preferences (Asset sources > Poly Haven), or start `forge.py serve --polyhaven`"
)
# texture id -> the material its download made, this session: what set_texture applies.
_TEXTURES: dict[str, str] = {}


def _source(config: ServerConfig) -> polyhaven.Source:
    if not config.polyhaven:
        raise PermissionError(OFF)
    return polyhaven.Source(config.polyhaven_api, config.fetch_limits)


def status(params: dict[str, Any], config: ServerConfig) -> dict[str, Any]:
    if not config.polyhaven:
        return {"enabled": False, "message": OFF}
    return {"enabled": True, "message": "PolyHaven integration is enabled and ready to use."}


def categories(params: dict[str, Any], config: ServerConfig) -> Deferred:
    source = _source(config)
    kind = polyhaven.asset_type(params.get("asset_type", "hdris"), allow_all=True)
    return Deferred("get_polyhaven_categories", lambda _progress: {"categories": polyhaven.categories(source, kind)})


def search(params: dict[str, Any], config: ServerConfig) -> Deferred:
    source = _source(config)
    kind = polyhaven.asset_type(params.get("asset_type") or "all", allow_all=True)
    legacy = "categories" in params  # blender-mcp 1.5.5 sends it; mcp-for-blender sends `category`
    category = text(params, "categories" if legacy else "category")
    query = text(params, "query", limit=200)
    limit = min(count(params, "limit", 20, least=1) or 20, 100)
    ignored = [key for key in ("attributes", "min_size_m") if params.get(key) is not None]

    def fetch(_progress: Progress) -> dict[str, Any]:
        found = polyhaven.search(source, kind, category, query, limit=limit, legacy=legacy)
        if ignored:
            found["note"] = f"Not filtered by {' or '.join(ignored)}: Avatar Forge's Poly Haven search ignores them."
        return found

    return Deferred("search_polyhaven_assets", fetch)


def download(params: dict[str, Any], config: ServerConfig) -> Deferred:
    source = _source(config)
    ident = polyhaven.asset_id(params.get("asset_id"))
    kind = polyhaven.asset_type(params.get("asset_type"), allow_all=False)
    res = polyhaven.resolution(params.get("resolution"))
    file_format = polyhaven.file_format_for(kind, text(params, "file_format", limit=8))

    def fetch(progress: Progress) -> polyhaven.Downloaded:
        return polyhaven.fetch_asset(source, ident, kind, res, file_format=file_format, progress=progress)

    return Deferred(f"download_polyhaven_asset {ident}", fetch, _link, _remove)


def _remove(got: polyhaven.Downloaded) -> None:
    for path in got.files.values():
        path.unlink(missing_ok=True)


def _link(got: polyhaven.Downloaded) -> dict[str, Any]:
    """Main thread: the downloaded files into the scene, then off the disk (the .blend holds them now)."""
    try:
        if got.asset_type == "hdris":
            linked = asset_link.world_hdri(got.files["hdri"], got.asset_id)
            message = f"HDRI {got.asset_id} imported successfully"
        elif got.asset_type == "textures":
            linked = asset_link.texture_material(got.files, got.asset_id)
            _TEXTURES[got.asset_id] = linked["material"]
            message = f"Texture {got.asset_id} imported as material"
        else:
            linked = asset_link.gltf_model(got.files["model"])
            message = f"Model {got.asset_id} imported successfully"
    finally:
        _remove(got)
    return {
        "success": True,
        "message": message,
        **linked,
        "name": got.name,
        "authors": got.authors,
        "url": got.url,
        "resolution": got.resolution,
        "bytes": got.bytes,
        "downloaded": [str(path) for path in got.files.values()],  # removed once linked: the .blend holds them
    }


def set_texture(params: dict[str, Any], config: ServerConfig) -> dict[str, Any]:
    _source(config)
    name = text(params, "object_name", required=True) or ""
    ident = polyhaven.asset_id(params.get("texture_id"))
    obj: bpy.types.Object | None = bpy.data.objects.get(name)
    if obj is None:
        raise ValueError(f"Object not found: {echo(name)}")
    material: bpy.types.Material | None = bpy.data.materials.get(_TEXTURES.get(ident, ""))
    if material is None:
        raise ValueError(
            f"texture {ident} was not downloaded in this session: download_polyhaven_asset with asset_type "
            "textures first"
        )
    return {"success": True, **asset_link.apply_material(obj, material), "url": polyhaven.SITE + ident}


def written(result: Any) -> list[str]:
    return [str(Path(p)) for p in result.get("downloaded", [])] if isinstance(result, dict) else []
