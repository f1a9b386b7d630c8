"""Web packing of an exported VRM: a file several times smaller that is still a VRM.

The steps, each optional by preset: textures to WebP (textures.py), vertices renumbered for the GPU and
the codecs (reorder.py) and their attributes quantized (quantize.py, KHR_mesh_quantization), and every
geometry view compressed with meshoptimizer (meshopt_codec.py, EXT_meshopt_compression, with its
octahedral and exponential filters: three.js decodes it with `MeshoptDecoder`); JSON numbers spelled as
the shortest text that reads back as the same float32 (json_numbers.py). Only buffers, bufferViews,
accessors (their rows in the new vertex order), images and textures' sources are rewritten; nodes, meshes,
materials, skins' joints and every extension (VRMC_vrm, VRMC_springBone, VRMC_node_constraint,
VRMC_materials_mtoon, VRM) keep their indices and values (numbers equal as float32), so everything they
point at is still what they point at (none of them names a vertex).

The textures are encoded on a worker thread while the geometry is quantized and proven (Pillow's encoders
release the GIL, so a free core takes WebP off the clock), then swapped into the quantized file exactly
where quantizing the textured file would have put them: the same bytes as the steps one after another.

pack() proves what it wrote: the compressed views decode to exactly the quantized data, and the quantized
geometry, each vertex compared with the vertex it was, is within geometry_check's bounds of the original
(else PackError: the caller keeps the original).
A missing binding (meshopt, Pillow) leaves its step out and says so in `skipped`.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, Final

import numpy as np
import numpy.typing as npt

from .. import glb
from ..accessors import accessor_array
from ..sparse_morphs import GlbLayoutError
from . import geometry_check, json_numbers, meshopt_codec, quantize, textures
from .meshopt_codec import MeshoptMissingError

__all__ = [
    "LOADER_LINES",
    "MeshoptMissingError",
    "PackError",
    "PackOptions",
    "Packed",
    "decoded",
    "is_compressed",
    "pack",
]

# What a three.js app adds to its GLTFLoader to read a file with geometry compression (WebP needs nothing).
LOADER_LINES: Final = (
    "import { MeshoptDecoder } from 'three/examples/jsm/libs/meshopt_decoder.module.js';",
    "loader.setMeshoptDecoder(MeshoptDecoder);",
)


class PackError(RuntimeError):
    """The packed file would not show the same avatar (or its layout is one this does not know)."""


@dataclass(frozen=True)
class PackOptions:
    geometry: bool  # KHR_mesh_quantization + EXT_meshopt_compression
    webp: bool
    webp_quality: int = 90
    webp_lossless: bool = False
    texture_fallback: bool = False
    thumbnail_jpeg: bool = False


@dataclass
class Packed:
    data: bytes  # the packed file
    decoded: bytes  # the same file as a loader with the decoders reads it: plain views, quantized values
    uses_meshopt: bool
    seconds: float
    figures: dict[str, Any] = field(default_factory=dict)  # bytes each step saved, and the geometry's errors
    skipped: list[str] = field(default_factory=list)  # steps left out, and why
    # Wall seconds of each step ("textures" ran on its own thread; "waiting for textures" is what the
    # geometry's steps did not cover of it).
    stages: dict[str, float] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {
            "bytes": len(self.data),
            "meshopt": self.uses_meshopt,
            "seconds": round(self.seconds, 3),
            "stages": {name: round(seconds, 3) for name, seconds in self.stages.items()},
            **self.figures,
            "skipped": self.skipped,
        }


def pack(data: bytes, options: PackOptions) -> Packed:
    """`data` (a GLB with one embedded buffer) packed as `options` say; raises PackError when the result
    cannot be proven to show the same avatar, GlbLayoutError on a layout this does not rewrite."""
    started = time.perf_counter()
    stages: dict[str, float] = {}
    document, binary = glb.read(data)
    buffers = document.get("buffers", [])
    if len(buffers) != 1 or "uri" in buffers[0]:
        raise GlbLayoutError("the GLB does not hold exactly one embedded buffer")
    original = (document, binary)
    figures: dict[str, Any] = {"bytes_before": len(data)}
    skipped: list[str] = []
    webp: textures.WebpOptions | None = None
    if options.webp and not textures.available():
        skipped.append("WebP textures (Pillow with WebP is not installed for this Python)")
    elif options.webp:
        webp = textures.WebpOptions(
            options.webp_quality, options.webp_lossless, options.texture_fallback, options.thumbnail_jpeg
        )
    geometry = options.geometry
    if geometry and not meshopt_codec.available():
        skipped.append("geometry compression (the meshopt package is not installed for this Python)")
        geometry = False
    document, binary, quantize_stats = _quantized(original, webp, geometry=geometry, figures=figures, stages=stages)
    plain = glb.write(document, binary)
    figures["quantized_bytes"] = len(plain)
    out, uses_meshopt = plain, False
    if geometry:
        with _stage(stages, "meshopt"):
            compressed, packed_binary, meshopt_stats = meshopt_codec.encode(document, binary, quantize_stats.filtered)
        with _stage(stages, "meshopt decode and proof"):
            _prove_lossless((document, binary), meshopt_codec.decode(compressed, packed_binary))
        out, uses_meshopt = glb.write(compressed, packed_binary), True
        figures["meshopt"] = {
            "views": meshopt_stats.views,
            "bytes_before": meshopt_stats.bytes_before,
            "bytes_after": meshopt_stats.bytes_after,
        }
    figures["bytes_after"] = len(out)
    return Packed(out, plain, uses_meshopt, time.perf_counter() - started, figures, skipped, stages)


def _quantized(
    original: tuple[dict[str, Any], bytes],
    webp: textures.WebpOptions | None,
    *,
    geometry: bool,
    figures: dict[str, Any],
    stages: dict[str, float],
) -> tuple[dict[str, Any], bytes, quantize.QuantizeStats]:
    """The file laid out anew with its textures as `webp` says and, when `geometry`, its vertex attributes
    quantized and proven within bounds (PackError otherwise). The textures are encoded on a worker thread
    meanwhile, then swapped in where quantizing the textured file would have put them."""
    document, binary = original
    side = textures.largest_side(*original) if geometry else None  # WebP keeps each image's size
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="webpack-textures") as worker:
        textured: Future[tuple[dict[str, Any], bytes, textures.TextureStats]] | None = None
        if webp is not None:  # on its own copy of the document: the two threads share nothing they change
            textured = worker.submit(_textures, glb.copied(document), binary, webp, stages)
        with _stage(stages, "quantize"):
            # Numbers with the fewest digits that read back as the same float32: the original stays what is
            # compared.
            document = json_numbers.shortest(document)
            document, binary, stats = quantize.quantize(document, binary, attributes=geometry, texture_side=side)
        if geometry:
            with _stage(stages, "geometry check"):
                check = geometry_check.compare(original, (document, binary), stats.orders, side)
            figures["geometry"] = check.to_json() | {"position_step_mm": round(stats.position_step * 1000, 4)}
            if check.problems:
                raise PackError(f"quantized geometry out of bounds: {'; '.join(check.problems)}")
        if textured is None:
            return document, binary, stats
        with _stage(stages, "waiting for textures"):
            textured_document, textured_binary, texture_stats = textured.result()
    figures["textures"] = {
        "images": texture_stats.images,
        "bytes_before": texture_stats.bytes_before,
        "bytes_after": texture_stats.bytes_after,
    }
    swapped = _with_images((document, binary), (textured_document, textured_binary))
    if swapped is not None:
        return *swapped, stats
    with _stage(stages, "quantize"):  # a layout the swap does not know: quantize the textured file after all
        return quantize.quantize(textured_document, textured_binary, attributes=geometry, texture_side=side)


@contextmanager
def _stage(stages: dict[str, float], name: str) -> Iterator[None]:
    """Adds the wall seconds of the block to `stages[name]`."""
    started = time.perf_counter()
    try:
        yield
    finally:
        stages[name] = stages.get(name, 0.0) + time.perf_counter() - started


def _textures(
    document: dict[str, Any], binary: bytes, options: textures.WebpOptions, stages: dict[str, float]
) -> tuple[dict[str, Any], bytes, textures.TextureStats]:
    """textures.to_webp, its numbers the shortest float32 spellings as the quantized file's are, timed as
    the "textures" stage (on the worker thread)."""
    with _stage(stages, "textures"):
        document, binary, stats = textures.to_webp(document, binary, options)
        return json_numbers.shortest(document), binary, stats


def _with_images(
    quantized: tuple[dict[str, Any], bytes], textured: tuple[dict[str, Any], bytes]
) -> tuple[dict[str, Any], bytes] | None:
    """The quantized file with the textured file's images and textures, laid out as quantizing the
    textured file lays them out: the quantization writes every accessor's view first and then each image
    that has a view, in image order, as a view of its own (layout.py), so the images' views are the last
    ones; those are cut and the textured file's images appended the same way. The texture step changes
    only images, textures, their views and the extension lists (appending EXT_texture_webp, which
    layout.unused_accessors knows names no accessor, so the quantization decides alike), so everything else
    is the quantized file's. None when the quantized file's images are not its last views, in order."""
    document, binary = quantized
    images: list[dict[str, Any]] = document.get("images", [])
    views: list[dict[str, Any]] = document["bufferViews"]
    held = [image["bufferView"] for image in images if "bufferView" in image]
    first = len(views) - len(held)
    if held != list(range(first, len(views))):
        return None
    textured_document, textured_binary = textured
    parts = [binary[: views[first]["byteOffset"]] if held else binary]
    size = len(parts[0])
    views = views[:first]
    new_images: list[dict[str, Any]] = textured_document.get("images", [])  # the texture step's own copy
    for image in new_images:
        if "bufferView" in image:
            data = glb.view_bytes(textured_document, textured_binary, image["bufferView"])
            parts.append(b"\0" * (-size % 4))
            size += -size % 4
            views.append({"buffer": 0, "byteOffset": size, "byteLength": len(data)})
            image["bufferView"] = len(views) - 1
            parts.append(data)
            size += len(data)
    # Keys in the order quantizing the textured file gives: the textured file's, then those the
    # quantization added; the extension lists are the textured file's plus what the quantization declared.
    merged: dict[str, Any] = {}
    for key in [*textured_document, *(k for k in document if k not in textured_document)]:
        if key in ("extensionsUsed", "extensionsRequired"):
            names = list(textured_document.get(key, []))
            merged[key] = names + [name for name in document.get(key, []) if name not in names]
        elif key == "images":
            merged[key] = new_images
        elif key == "textures":
            merged[key] = textured_document[key]
        elif key == "bufferViews":
            merged[key] = views
        elif key == "buffers":
            merged[key] = [{"byteLength": size}]
        elif key in document:  # (a key the quantization dropped stays dropped)
            merged[key] = document[key]
    return merged, b"".join(parts)


def is_compressed(data: bytes) -> bool:
    """Whether a GLB's geometry is meshopt-compressed (False for anything that is not a readable GLB)."""
    try:
        document, _binary = glb.read(data)
    except (GlbLayoutError, ValueError):
        return False
    return meshopt_codec.EXTENSION in document.get("extensionsUsed", [])


def decoded(data: bytes) -> bytes:
    """A packed file as a loader with the decoders reads it (plain views); the same bytes when it is not
    compressed. Raises MeshoptMissingError without the binding, ValueError on data that does not decode."""
    document, binary = glb.read(data)
    if meshopt_codec.EXTENSION not in document.get("extensionsUsed", []):
        return data
    return glb.write(*meshopt_codec.decode(document, binary))


def _prove_lossless(expected: tuple[dict[str, Any], bytes], got: tuple[dict[str, Any], bytes]) -> None:
    """Every accessor of the decoded file holds exactly the values written before compression; triangle
    indices the same triangles in the same order and winding (the index codec may start a triangle at
    another of its corners)."""
    triangles = {
        primitive["indices"]
        for mesh in expected[0].get("meshes", [])
        for primitive in mesh.get("primitives", [])
        if "indices" in primitive and primitive.get("mode", 4) == 4
    }
    for index in range(len(expected[0].get("accessors", []))):
        want, have = accessor_array(*expected, index), accessor_array(*got, index)
        if index in triangles:
            want, have = _rotated(want), _rotated(have)
        if not np.array_equal(want, have):
            raise PackError(f"accessor {index} does not decode to the values it was encoded from")


def _rotated(indices: npt.NDArray[Any]) -> npt.NDArray[Any]:
    """Each triangle's corners rotated (winding kept) to start at its smallest index."""
    corners = indices.reshape(-1, 3)
    start = np.argmin(corners, axis=1)
    order = (start[:, np.newaxis] + np.arange(3)) % 3
    rotated: npt.NDArray[Any] = np.take_along_axis(corners, order, axis=1)
    return rotated
