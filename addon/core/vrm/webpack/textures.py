"""EXT_texture_webp: textures re-encoded as WebP, every index that names them kept.

Each texture keeps its index, so material, MToon and expression binds that name textures are untouched;
its image is re-encoded in place (same image index) or, when something must keep the original (the VRM 1.0
thumbnail names an image, the VRM 0.x one a texture: both stay PNG/JPEG for hubs that show them), as a new
image appended after the others. Without a fallback the texture's `source` moves into the extension and
the extension is required; with one the PNG/JPEG stays as `source` for loaders without WebP. An image
WebP does not make smaller keeps its bytes. The thumbnail, when asked, becomes a JPEG (its transparency
on white, as hubs show it): a 1024² render is half a megabyte as PNG, a tenth of that as JPEG. Normal
maps are encoded losslessly even in a lossy preset: lossy WebP halves the colour resolution, which bends
normals.

The encodings run on a few worker threads at once (Pillow's encoders and decoders release the GIL), each
from the image's original bytes; what is done with each result is decided in texture order, as before.
"""

from __future__ import annotations

import importlib
import io
import os
from concurrent.futures import Executor, Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, Final

from .layout import declare

EXTENSION: Final = "EXT_texture_webp"
_WORKERS: Final = min(4, os.cpu_count() or 1)  # encoding threads: a VRoid avatar brings ten or more textures


class PillowMissingError(RuntimeError):
    """Pillow (with WebP) is not installed for this Python."""


def _pillow() -> Any:
    try:
        from PIL import Image, features

        # Registers the WebP encoder: otherwise the first save("WEBP") imports all of Pillow's forty-odd
        # format plugins to find it (about 0.1 s in each export process, a third of it CPU).
        importlib.import_module("PIL.WebPImagePlugin")
    except ImportError:
        raise PillowMissingError("the Pillow package (WebP encoder) is not installed") from None
    if not features.check("webp"):
        raise PillowMissingError("this Pillow was built without WebP")
    return Image


def available() -> bool:
    try:
        _pillow()
    except PillowMissingError:
        return False
    return True


@dataclass(frozen=True)
class WebpOptions:
    quality: int  # 1-100, lossy WebP's quality
    lossless: bool
    fallback: bool  # keep the PNG/JPEG as the texture's source beside the WebP
    thumbnail_jpeg: bool = False  # the meta's thumbnail as JPEG (same image index)


@dataclass(frozen=True)
class TextureStats:
    images: int  # images re-encoded
    bytes_before: int
    bytes_after: int


def to_webp(
    document: dict[str, Any], binary: bytes, options: WebpOptions
) -> tuple[dict[str, Any], bytes, TextureStats]:
    """The document (changed in place and returned) with its textures' images as WebP; the new bytes are
    appended to the BIN as new views (the old ones are left for the next layout to drop)."""
    rewrite = _Rewrite(_pillow(), document, binary, options)
    with ThreadPoolExecutor(max_workers=_WORKERS, thread_name_prefix="webpack-encode") as encoders:
        rewrite.start(encoders)
        for texture_index in range(len(document.get("textures", []))):
            rewrite.texture(texture_index)
        if options.thumbnail_jpeg:
            rewrite.thumbnails()
    if any(e is not None for e in rewrite.encoded.values()):
        declare(document, EXTENSION, required=not options.fallback)
    out = b"".join(rewrite.parts)
    if document.get("buffers"):
        document["buffers"][0]["byteLength"] = len(out)
    return document, out, TextureStats(rewrite.count, rewrite.before, rewrite.after)


class _Rewrite:
    """The images re-encoded so far, and the bytes appended for them."""

    def __init__(self, image_module: Any, document: dict[str, Any], binary: bytes, options: WebpOptions) -> None:
        self.image_module, self.document, self.binary, self.options = image_module, document, binary, options
        self.kept_images, self.kept_textures = _thumbnails(document)
        materials = document.get("materials", [])
        self.normal_maps = {m["normalTexture"]["index"] for m in materials if "normalTexture" in m}
        self.parts = [binary]
        self.encoded: dict[tuple[int, bool], int | None] = {}  # (image, lossless) -> WebP image; None: not smaller
        self.webp: dict[tuple[int, bool], Future[bytes]] = {}  # (image, lossless) -> its encoding, started
        self.jpeg: dict[int, Future[bytes]] = {}  # thumbnail image -> its JPEG, started
        self.count = self.before = self.after = 0

    def start(self, encoders: Executor) -> None:
        """Starts every encoding texture() and thumbnails() will ask for. Each reads the image's original
        bytes, which is what they would read in turn: an image is replaced in place only when no other
        texture and no thumbnail shows it."""
        quality = self.options.quality
        for texture_index in range(len(self.document.get("textures", []))):
            key = self.source(texture_index)
            if key is not None and key not in self.webp:
                self.webp[key] = encoders.submit(_encode, self.image_module, self.original(key[0]), quality, key[1])
        if self.options.thumbnail_jpeg:
            for index in self.thumbnail_images():
                self.jpeg[index] = encoders.submit(_jpeg, self.image_module, self.original(index), quality)

    def source(self, texture_index: int) -> tuple[int, bool] | None:
        """The image a texture's WebP is made from and whether losslessly (normal maps); None for a texture
        left as it is (no image, an image without a view, the VRM 0.x thumbnail)."""
        images: list[dict[str, Any]] = self.document.get("images", [])
        source = self.document["textures"][texture_index].get("source")
        if source is None or texture_index in self.kept_textures or "bufferView" not in images[source]:
            return None
        return source, self.options.lossless or texture_index in self.normal_maps

    def thumbnail_images(self) -> list[int]:
        """The thumbnail images that have a view, in image order."""
        images: list[dict[str, Any]] = self.document.get("images", [])
        textures: list[dict[str, Any]] = self.document.get("textures", [])
        found = self.kept_images | {textures[t]["source"] for t in self.kept_textures if "source" in textures[t]}
        return [index for index in sorted(found) if "bufferView" in images[index]]

    def original(self, image: int) -> bytes:
        return _view_bytes(self.document, self.binary, self.document["images"][image]["bufferView"])

    def append(self, data: bytes) -> int:
        """`data` as a new view after the BIN's bytes (aligned to 4); its index."""
        size = sum(map(len, self.parts))
        self.parts.append(b"\0" * (-size % 4))
        views = self.document.setdefault("bufferViews", [])
        views.append({"buffer": 0, "byteOffset": size + (-size % 4), "byteLength": len(data)})
        self.parts.append(data)
        return len(views) - 1

    def texture(self, texture_index: int) -> None:
        images: list[dict[str, Any]] = self.document.get("images", [])
        textures: list[dict[str, Any]] = self.document["textures"]
        texture = textures[texture_index]
        key = self.source(texture_index)
        if key is None:
            return
        source = key[0]
        if key not in self.encoded:
            original, webp = self.original(source), self.webp[key].result()
            self.encoded[key] = None
            if len(webp) >= len(original):
                return
            self.count += 1
            self.before, self.after = self.before + len(original), self.after + len(webp)
            entry = {"bufferView": self.append(webp), "mimeType": "image/webp"}
            entry |= {k: v for k, v in images[source].items() if k == "name"}
            # In place only where nothing else shows the PNG/JPEG: another texture, the thumbnail, a fallback.
            others = any(t.get("source") == source for i, t in enumerate(textures) if i != texture_index)
            if others or source in self.kept_images or self.options.fallback:
                images.append(entry)
                self.encoded[key] = len(images) - 1
            else:
                images[source] = entry
                self.encoded[key] = source
        target = self.encoded[key]
        if target is None:
            return
        texture.setdefault("extensions", {})[EXTENSION] = {"source": target}
        if not self.options.fallback:
            del texture["source"]

    def thumbnails(self) -> None:
        """Each thumbnail image as JPEG where that is smaller (same image index)."""
        images: list[dict[str, Any]] = self.document.get("images", [])
        for index in self.thumbnail_images():
            original, jpeg = self.original(index), self.jpeg[index].result()
            if len(jpeg) < len(original):
                self.count, self.before, self.after = (
                    self.count + 1,
                    self.before + len(original),
                    self.after + len(jpeg),
                )
                images[index] = images[index] | {"bufferView": self.append(jpeg), "mimeType": "image/jpeg"}


def largest_side(document: dict[str, Any], binary: bytes) -> int | None:
    """The largest width or height of the file's images (thumbnail included: any image may be a texture);
    None when there is none or one's size cannot be read (Pillow missing, an image outside the file)."""
    try:
        image_module = _pillow()
    except PillowMissingError:
        return None
    sides = []
    for image in document.get("images", []):
        if "bufferView" not in image:
            return None
        try:
            with image_module.open(io.BytesIO(_view_bytes(document, binary, image["bufferView"]))) as picture:
                sides.append(max(picture.size))  # the header only: nothing is decoded
        except (OSError, ValueError):
            return None
    return max(sides, default=None)


def _thumbnails(document: dict[str, Any]) -> tuple[set[int], set[int]]:
    """The images (VRM 1.0) and textures (VRM 0.x) the meta names as its thumbnail: they keep PNG/JPEG."""
    extensions = document.get("extensions", {})
    image = extensions.get("VRMC_vrm", {}).get("meta", {}).get("thumbnailImage")
    texture = extensions.get("VRM", {}).get("meta", {}).get("texture")
    images = {image} if isinstance(image, int) else set()
    textures = {texture} if isinstance(texture, int) and texture >= 0 else set()
    return images, textures


def _jpeg(image_module: Any, data: bytes, quality: int) -> bytes:
    """The image as JPEG, its transparency on white."""
    with image_module.open(io.BytesIO(data)) as picture:
        rgba = picture.convert("RGBA")
    flat = image_module.new("RGB", rgba.size, (255, 255, 255))
    flat.paste(rgba, mask=rgba.getchannel("A"))
    out = io.BytesIO()
    flat.save(out, "JPEG", quality=quality, optimize=True, progressive=True)  # the same pixels, 3% fewer bytes
    return out.getvalue()


def _view_bytes(document: dict[str, Any], binary: bytes, index: int) -> bytes:
    view = document["bufferViews"][index]
    start = view.get("byteOffset", 0)
    return binary[start : start + view["byteLength"]]


def _encode(image_module: Any, data: bytes, quality: int, lossless: bool) -> bytes:
    with image_module.open(io.BytesIO(data)) as picture:
        picture.load()
        mode = "RGBA" if picture.mode in ("RGBA", "LA", "PA") or "transparency" in picture.info else "RGB"
        out = io.BytesIO()
        # exact: keeps the colour under fully transparent pixels (MToon samples it at cut-out edges).
        picture.convert(mode).save(out, "WEBP", quality=quality, lossless=lossless, method=4, exact=True)
    return out.getvalue()
