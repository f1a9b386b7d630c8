"""Poly Haven's public API (api.polyhaven.com): categories, a search, and the download of an HDRI, a texture
set or a glTF model into the session's asset folder, each file under a name made here. A model's glTF is
rewritten to point only at the files downloaded beside it, so no name or path the server sent is ever used
on disk. Runs on a worker thread: no bpy."""

from __future__ import annotations

import json
import re
import urllib.parse
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..core.wire.protocol import echo
from . import folder
from .fetch import FetchError, Limits, Progress, download, request_json

API = "https://api.polyhaven.com"
DOWNLOAD_HOSTS = ("dl.polyhaven.org", "cdn.polyhaven.com")
SITE = "https://polyhaven.com/a/"
ASSET_TYPES = ("hdris", "textures", "models")
TYPE_NAMES = ("hdris", "textures", "models")  # the API's numeric `type`, 0 to 2
_ID = re.compile(r"[a-z0-9][a-z0-9_\-]{0,99}")
_RESOLUTION = re.compile(r"[1-9][0-9]?k")
_CATEGORY = re.compile(r"[A-Za-z0-9 &/,_\-]{1,200}")
# Texture maps that are not images of the set: other formats of the whole asset.
_NOT_MAPS = {"blend", "gltf", "mtlx", "usd", "fbx"}


@dataclass(frozen=True)
class Kind:
    suffix: str
    content_types: frozenset[str]
    magic: Callable[[bytes], bool]


KINDS = {
    "hdr": Kind(".hdr", frozenset({"image/vnd.radiance", "image/x-hdr", "application/octet-stream"}),
                lambda b: b.startswith((b"#?RADIANCE", b"#?RGBE"))),
    "exr": Kind(".exr", frozenset({"image/x-exr", "image/aces", "application/octet-stream"}),
                lambda b: b.startswith(b"\x76\x2f\x31\x01")),
    "jpg": Kind(".jpg", frozenset({"image/jpeg"}), lambda b: b.startswith(b"\xff\xd8\xff")),
    "png": Kind(".png", frozenset({"image/png"}), lambda b: b.startswith(b"\x89PNG\r\n\x1a\n")),
    "gltf": Kind(".gltf", frozenset({"model/gltf+json", "application/json"}), lambda b: b.lstrip()[:1] == b"{"),
    "bin": Kind(".bin", frozenset({"application/octet-stream", "model/gltf-buffer"}), lambda b: True),
}  # fmt: skip
FORMATS = {"hdris": ("hdr", "exr"), "textures": ("jpg", "png", "exr"), "models": ("gltf",)}


@dataclass(frozen=True)
class Source:
    api: str = API
    limits: Limits = field(default_factory=Limits)

    @property
    def hosts(self) -> frozenset[str]:
        return frozenset({urllib.parse.urlsplit(self.api).hostname or "", *DOWNLOAD_HOSTS})

    def get(self, path: str, query: dict[str, str] | None = None) -> Any:
        url = f"{self.api.rstrip('/')}/{path}" + (f"?{urllib.parse.urlencode(query)}" if query else "")
        return request_json(url, self.hosts, self.limits)


@dataclass
class Downloaded:
    asset_id: str
    asset_type: str
    resolution: str
    files: dict[str, Path] = field(default_factory=dict)  # map (or "hdri", "model") -> file
    bytes: int = 0
    name: str = ""
    authors: list[str] = field(default_factory=list)

    @property
    def url(self) -> str:
        return SITE + self.asset_id


def asset_type(value: Any, allow_all: bool) -> str:
    allowed = (*ASSET_TYPES, "all") if allow_all else ASSET_TYPES
    if value not in allowed:
        raise ValueError(f"'asset_type' must be one of {', '.join(allowed)}; got {echo(str(value))}")
    return str(value)


def asset_id(value: Any) -> str:
    if not isinstance(value, str) or not _ID.fullmatch(value):
        raise ValueError(
            f"'asset_id' must be a Poly Haven asset id (like brown_photostudio_02); got {echo(str(value))}"
        )
    return value


def resolution(value: Any) -> str:
    if value is None:
        return "1k"
    if not isinstance(value, str) or not _RESOLUTION.fullmatch(value):
        raise ValueError(f"'resolution' must be like 1k, 2k, 4k or 8k; got {echo(str(value))}")
    return value


def file_format_for(kind: str, value: str | None) -> str:
    fmt = value or FORMATS[kind][0]
    if fmt not in FORMATS[kind]:
        raise ValueError(f"'file_format' for {kind} must be one of {', '.join(FORMATS[kind])}; got {echo(fmt)}")
    return fmt


def categories(source: Source, kind: str) -> dict[str, int]:
    found = source.get(f"categories/{kind}")
    if not isinstance(found, dict):
        raise FetchError("Poly Haven's category list is not a JSON object")
    return {str(k): int(v) for k, v in found.items() if isinstance(v, int)}


def search(
    source: Source, kind: str, category: str | None, query: str | None, *, limit: int, legacy: bool
) -> dict[str, Any]:
    """Assets of `kind` (in `category`, with every word of `query` in their name, tags or categories), most
    downloaded first. `legacy`: blender-mcp 1.5.5's shape (a dict by id); else mcp-for-blender's (a list)."""
    if category is not None and not _CATEGORY.fullmatch(category):
        raise ValueError(f"'categories' must be category names; got {echo(category)}")
    wanted = {"type": kind} if kind != "all" else {}
    found = source.get("assets", {**wanted, **({"categories": category} if category else {})})
    if not isinstance(found, dict):
        raise FetchError("Poly Haven's asset list is not a JSON object")
    words = (query or "").lower().split()
    matches = [
        (key, value)
        for key, value in found.items()
        if isinstance(value, dict)
        and _ID.fullmatch(str(key))
        and all(
            word in " ".join([str(value.get("name", "")), *map(str, value.get("tags", [])),
                              *map(str, value.get("categories", []))]).lower()
            for word in words
        )
    ]  # fmt: skip
    matches.sort(key=lambda item: -int(item[1].get("download_count", 0) or 0))
    page = matches[:limit]
    if legacy:
        return {"assets": dict(page), "total_count": len(matches), "returned_count": len(page)}
    assets = [
        {
            "id": key,
            "name": str(value.get("name", key)),
            "type": TYPE_NAMES[value["type"]] if value.get("type") in (0, 1, 2) else "unknown",
            "url": SITE + key,
            "authors": sorted(map(str, (value.get("authors") or {}).keys())),
            "category": ", ".join(map(str, value.get("categories", []))),
            "tags": [str(t) for t in value.get("tags", [])][:12],
            "downloads": value.get("download_count"),
            **({"dimensions_mm": value["dimensions"]} if isinstance(value.get("dimensions"), list) else {}),
            **({"max_resolution": value["max_resolution"]} if isinstance(value.get("max_resolution"), list) else {}),
        }
        for key, value in page
    ]
    return {"assets": assets, "total_count": len(matches), "returned_count": len(page), "query": query or ""}


def _entry(files: Any, *keys: str) -> dict[str, Any]:
    node = files
    for key in keys:
        if not isinstance(node, dict) or key not in node:
            raise FetchError(f"Poly Haven has no {'/'.join(keys)} for this asset")
        node = node[key]
    if not isinstance(node, dict) or not isinstance(node.get("url"), str):
        raise FetchError(f"Poly Haven's file entry {'/'.join(keys)} has no url")
    return node


class _Budget:
    """Bytes written for one asset, against the cap for the whole of it; reports progress across its files."""

    def __init__(self, limits: Limits, progress: Progress | None) -> None:
        self.limits, self.progress, self.done = limits, progress, 0

    def fetch(self, source: Source, url: str, dest: Path, kind: str) -> int:
        left = self.limits.max_bytes - self.done
        if left <= 0:
            raise FetchError(f"the asset is over the {self.limits.max_bytes}-byte cap")
        spec = KINDS[kind]
        before = self.done

        def report(written: int, total: int | None) -> None:
            if self.progress is not None:
                self.progress(before + written, None)

        limits = Limits(source.limits.timeout, source.limits.deadline, left)
        size = download(url, dest, source.hosts, kinds=spec.content_types, magic=spec.magic, limits=limits,
                        progress=report)  # fmt: skip
        self.done += size
        return size


def fetch_asset(
    source: Source, ident: str, kind: str, res: str, *, file_format: str | None, progress: Progress | None = None
) -> Downloaded:
    """Downloads the asset into the session folder; what is left on failure is removed."""
    fmt = file_format_for(kind, file_format)
    info = source.get(f"info/{ident}")
    files = source.get(f"files/{ident}")
    result = Downloaded(ident, kind, res)
    if isinstance(info, dict):
        result.name = str(info.get("name", ident))
        result.authors = sorted(map(str, (info.get("authors") or {}).keys()))
    budget, where = _Budget(source.limits, progress), folder.folder()
    try:
        if kind == "hdris":
            entry = _entry(files, "hdri", res, fmt)
            result.files["hdri"] = where / folder.name(ident, res, suffix=KINDS[fmt].suffix)
            budget.fetch(source, entry["url"], result.files["hdri"], fmt)
        elif kind == "textures":
            maps = sorted(k for k in (files if isinstance(files, dict) else {}) if k.lower() not in _NOT_MAPS)
            for map_name in maps:
                sizes = files[map_name] if isinstance(files[map_name], dict) else {}
                found = sizes.get(res, {}).get(fmt) if isinstance(sizes.get(res), dict) else None
                if isinstance(found, dict) and isinstance(found.get("url"), str):
                    path = where / folder.name(ident, res, map_name, suffix=KINDS[fmt].suffix)
                    result.files[map_name] = path  # recorded first: removed too if its download fails
                    budget.fetch(source, found["url"], path, fmt)
            if not result.files:
                raise FetchError(f"Poly Haven has no {res} {fmt} maps for {ident}")
        else:
            _fetch_model(source, ident, res, _entry(files, "gltf", res, "gltf"), budget=budget, result=result)
    except BaseException:
        for path in result.files.values():
            path.unlink(missing_ok=True)
        raise
    result.bytes = budget.done
    return result


def _fetch_model(
    source: Source, ident: str, res: str, entry: dict[str, Any], *, budget: _Budget, result: Downloaded
) -> None:
    """The glTF and the files it refers to, each listed in the entry's `include`; the glTF is rewritten to
    name them as saved here. A reference to anything the include list does not hold is refused."""
    where = folder.folder()
    original = where / folder.name(ident, res, "download", suffix=".gltf")
    result.files["download"] = original
    budget.fetch(source, entry["url"], original, "gltf")
    try:
        document = json.loads(original.read_bytes())
    except ValueError:
        raise FetchError(f"the glTF of {ident} is not JSON") from None
    finally:
        original.unlink(missing_ok=True)
        del result.files["download"]
    listed = entry.get("include")
    include: dict[str, Any] = listed if isinstance(listed, dict) else {}
    for group, kinds in (("buffers", ("bin",)), ("images", ("jpg", "png"))):
        for index, item in enumerate(document.get(group) or []):
            uri = item.get("uri") if isinstance(item, dict) else None
            if uri is None or uri.startswith("data:"):
                continue
            member = include.get(urllib.parse.unquote(uri)) or include.get(uri)
            if not isinstance(member, dict) or not isinstance(member.get("url"), str):
                raise FetchError(f"the glTF of {ident} refers to {echo(uri)}, which its file list does not hold")
            kind = next((k for k in kinds if uri.lower().endswith(KINDS[k].suffix)), None)
            if kind is None and group == "images" and uri.lower().endswith(".jpeg"):
                kind = "jpg"
            if kind is None:
                raise FetchError(f"the glTF of {ident} refers to {echo(uri)}: not a {' or '.join(kinds)} file")
            path = where / folder.name(ident, res, group, str(index), suffix=KINDS[kind].suffix)
            result.files[f"{group}/{index}"] = path
            budget.fetch(source, member["url"], path, kind)
            item["uri"] = path.name
    model = where / folder.name(ident, res, suffix=".gltf")
    result.files["model"] = model
    with open(model, "x", encoding="utf-8") as out:
        json.dump(document, out)
