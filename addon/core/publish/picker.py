"""What a model picker shows without downloading whole models: the VRM's meta (title, authors, licence)
and its thumbnail image, read from a verified .vrm by the promoter (no Blender).

Only the JSON chunk and the thumbnail's own bytes are read, each bounded; every text is cut to a length a
picker can show. A thumbnail that is missing, too large, or not the PNG or JPEG it claims to be is left
out (a picker then shows the title alone): it never fails a promotion.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

from ..vrm.inspect import VrmLimits, read_glb_file

DEFAULT_MAX_THUMBNAIL_BYTES: Final = 4 * 1024 * 1024
MAX_TEXT: Final = 200
MAX_AUTHORS: Final = 16
# MIME type -> (the file's first bytes, the thumbnail file's suffix)
IMAGE_TYPES: Final = {"image/png": (b"\x89PNG\r\n\x1a\n", "png"), "image/jpeg": (b"\xff\xd8\xff", "jpg")}


@dataclass(frozen=True)
class Thumbnail:
    data: bytes
    mime_type: str

    @property
    def suffix(self) -> str:
        return IMAGE_TYPES[self.mime_type][1]


@dataclass(frozen=True)
class PickerFacts:
    meta: dict[str, Any]  # title, authors, license (None where the file says nothing)
    thumbnail: Thumbnail | None


def _text(value: Any) -> str | None:
    return value[:MAX_TEXT] if isinstance(value, str) and value else None


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _item(document: dict[str, Any], key: str, index: Any) -> dict[str, Any]:
    items = document.get(key)
    ok = isinstance(items, list) and isinstance(index, int) and not isinstance(index, bool) and 0 <= index < len(items)
    return _dict(items[index]) if ok else {}  # type: ignore[index]


def _meta(document: dict[str, Any]) -> tuple[dict[str, Any], Any]:
    """The picker's meta and the thumbnail's image index (VRM 1.0 thumbnailImage, VRM 0.x meta.texture)."""
    extensions = _dict(document.get("extensions"))
    if "VRMC_vrm" in extensions:
        meta = _dict(_dict(extensions["VRMC_vrm"]).get("meta"))
        authors = meta.get("authors")
        named = [a for a in (_text(x) for x in authors[:MAX_AUTHORS]) if a] if isinstance(authors, list) else []
        picked = {"title": _text(meta.get("name")), "authors": named, "license": _text(meta.get("licenseUrl"))}
        return picked, meta.get("thumbnailImage")
    meta = _dict(_dict(extensions.get("VRM")).get("meta"))
    author = _text(meta.get("author"))
    licence = _text(meta.get("otherLicenseUrl")) if meta.get("licenseName") == "Other" else None
    picked = {"title": _text(meta.get("title")), "authors": [author] if author else [],
              "license": licence or _text(meta.get("licenseName"))}  # fmt: skip
    return picked, _item(document, "textures", meta.get("texture")).get("source")


def picker_facts(
    path: Path, limits: VrmLimits | None = None, max_thumbnail: int = DEFAULT_MAX_THUMBNAIL_BYTES
) -> PickerFacts:
    """The meta and thumbnail of the .vrm at `path`; ValueError when it is no readable GLB at all."""
    with path.open("rb") as source:
        container = read_glb_file(source, path.stat().st_size, limits)
        document = container.document
        meta, image_index = _meta(document)
        image = _item(document, "images", image_index)
        view = _item(document, "bufferViews", image.get("bufferView"))
        mime = str(image.get("mimeType"))
        offset, length = view.get("byteOffset", 0), view.get("byteLength")
        usable = (
            mime in IMAGE_TYPES and view.get("buffer") == 0 and container.bin_length is not None
            and isinstance(offset, int) and isinstance(length, int) and offset >= 0 and 0 < length <= max_thumbnail
            and offset + length <= container.bin_length
        )  # fmt: skip
        if not usable:
            return PickerFacts(meta, None)
        source.seek(container.bin_start + offset)
        data = source.read(length)
    if not data.startswith(IMAGE_TYPES[mime][0]):
        return PickerFacts(meta, None)  # not the image it says it is: never served as one
    return PickerFacts(meta, Thumbnail(data, mime))
