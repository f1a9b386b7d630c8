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

pack() proves what it wrote: the compressed views decode to exactly the quantized data, and the quantized
geometry, each vertex compared with the vertex it was, is within geometry_check's bounds of the original
(else PackError: the caller keeps the original).
A missing binding (meshopt, Pillow) leaves its step out and says so in `skipped`.
"""

from __future__ import annotations

import copy
import time
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

    def to_json(self) -> dict[str, Any]:
        return {
            "bytes": len(self.data),
            "meshopt": self.uses_meshopt,
            "seconds": round(self.seconds, 3),
            **self.figures,
            "skipped": self.skipped,
        }


def pack(data: bytes, options: PackOptions) -> Packed:
    """`data` (a GLB with one embedded buffer) packed as `options` say; raises PackError when the result
    cannot be proven to show the same avatar, GlbLayoutError on a layout this does not rewrite."""
    started = time.perf_counter()
    document, binary = glb.read(data)
    buffers = document.get("buffers", [])
    if len(buffers) != 1 or "uri" in buffers[0]:
        raise GlbLayoutError("the GLB does not hold exactly one embedded buffer")
    original = (document, binary)
    figures: dict[str, Any] = {"bytes_before": len(data)}
    skipped: list[str] = []
    if options.webp and not textures.available():
        skipped.append("WebP textures (Pillow with WebP is not installed for this Python)")
    elif options.webp:
        webp = textures.WebpOptions(
            options.webp_quality, options.webp_lossless, options.texture_fallback, options.thumbnail_jpeg
        )
        document, binary, texture_stats = textures.to_webp(copy.deepcopy(document), binary, webp)
        figures["textures"] = {
            "images": texture_stats.images,
            "bytes_before": texture_stats.bytes_before,
            "bytes_after": texture_stats.bytes_after,
        }
    geometry = options.geometry
    if geometry and not meshopt_codec.available():
        skipped.append("geometry compression (the meshopt package is not installed for this Python)")
        geometry = False
    # Numbers with the fewest digits that read back as the same float32: the original stays what is compared.
    document = json_numbers.shortest(document)
    side = textures.largest_side(*original) if geometry else None  # WebP keeps each image's size
    document, binary, quantize_stats = quantize.quantize(document, binary, attributes=geometry, texture_side=side)
    plain = glb.write(document, binary)
    figures["quantized_bytes"] = len(plain)
    out, uses_meshopt = plain, False
    if geometry:
        check = geometry_check.compare(original, (document, binary), quantize_stats.orders, side)
        figures["geometry"] = check.to_json() | {"position_step_mm": round(quantize_stats.position_step * 1000, 4)}
        if check.problems:
            raise PackError(f"quantized geometry out of bounds: {'; '.join(check.problems)}")
        compressed, packed_binary, meshopt_stats = meshopt_codec.encode(document, binary, quantize_stats.filtered)
        _prove_lossless((document, binary), meshopt_codec.decode(compressed, packed_binary))
        out, uses_meshopt = glb.write(compressed, packed_binary), True
        figures["meshopt"] = {
            "views": meshopt_stats.views,
            "bytes_before": meshopt_stats.bytes_before,
            "bytes_after": meshopt_stats.bytes_after,
        }
    figures["bytes_after"] = len(out)
    return Packed(out, plain, uses_meshopt, time.perf_counter() - started, figures, skipped)


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
