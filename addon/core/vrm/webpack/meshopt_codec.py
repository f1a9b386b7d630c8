"""EXT_meshopt_compression: every geometry bufferView compressed with meshoptimizer's codecs, and back.

Each view of an accessor becomes compressed bytes in the GLB's BIN chunk (buffer 0) and a view of the
same size in a fallback buffer that has no data (a loader with the decoder fills it; one without may not
load the file: the extension is required). Triangle indices use the index codec, everything else the
vertex codec (version 0, the one EXT_meshopt_compression names) with rows of the view's stride, or, for
tightly packed data (sparse indices and values, inverse binds), rows of the element size rounded up to a
multiple of 4 bytes (the view's length padded to whole rows). Images keep their bytes in buffer 0.

The codec is lossless: decode() gives back the exact bytes of every view (the export proves it).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Final

import numpy as np
import numpy.typing as npt

from .. import glb
from ..sparse_morphs import GlbLayoutError
from .layout import COMPONENT_BYTES, COMPONENTS, ELEMENT_ARRAY_BUFFER, Layout, declare, view_holders

EXTENSION: Final = "EXT_meshopt_compression"
_MAX_ROW: Final = 256  # the vertex codec's largest row
_TAIL: Final = 32  # the vertex codec's smallest tail


class MeshoptMissingError(RuntimeError):
    """The meshoptimizer binding (the `meshopt` package) is not installed for this Python."""


def _codec() -> Any:
    try:
        import meshopt
    except ImportError:
        raise MeshoptMissingError("the meshopt package (meshoptimizer's codec) is not installed") from None
    return meshopt


def available() -> bool:
    try:
        _codec()
    except MeshoptMissingError:
        return False
    return True


def cache_order(indices: npt.NDArray[Any]) -> npt.NDArray[Any]:
    """The same triangles (corners and winding kept) in the order a GPU's vertex cache likes, which is also
    the order meshoptimizer's index codec compresses best; vertices keep their numbers."""
    codec = _codec()
    flat = np.ascontiguousarray(indices.reshape(-1), dtype=np.uint32)
    renumbered, remap, _unique = codec.reorder_mesh(flat, triangles=True, optsize=False)
    back = np.zeros(int(remap[flat].max(initial=0)) + 1, dtype=np.uint32)
    back[remap[flat]] = flat  # each new number -> the vertex it was
    ordered: npt.NDArray[Any] = back[renumbered].astype(indices.dtype).reshape(indices.shape)
    return ordered


def octahedral(vectors: npt.NDArray[Any]) -> tuple[npt.NDArray[np.int8], npt.NDArray[np.int8]]:
    """Unit vectors (n by 3, or tangents n by 4 with w a sign) through meshoptimizer's octahedral filter at
    8 bits: what a loader's decoder makes of them (n by 4 normalized bytes: x, y, z and w, the layout
    KHR_mesh_quantization reads) and the filter's input rows (4 bytes each, what the codec compresses).
    The encoder rounds each octahedral coordinate to nearest; of that point and its eight neighbours on the
    grid, each vector keeps the one that decodes closest to it (the largest error drops from about 1° to
    about 0.7°)."""
    codec = _codec()
    rows = np.ones((len(vectors), 4), dtype=np.float32)
    rows[:, : vectors.shape[1]] = vectors
    rows[:, 3] = np.where(rows[:, 3] < 0, -1.0, 1.0)
    unit = rows[:, :3].astype(np.float64)
    unit /= np.maximum(np.linalg.norm(unit, axis=1, keepdims=True), 1e-12)
    nearest = np.ascontiguousarray(codec.encode_filter_oct(rows, 4, 8)).view(np.int8)
    best_rows, best_decoded = nearest, _oct_decoded(codec, nearest)
    best = _cosines(unit, best_decoded)
    for dx, dy in ((dx, dy) for dx in (-1, 0, 1) for dy in (-1, 0, 1) if dx or dy):
        candidate = nearest.copy()
        candidate[:, 0] = np.clip(nearest[:, 0].astype(np.int16) + dx, -127, 127)
        candidate[:, 1] = np.clip(nearest[:, 1].astype(np.int16) + dy, -127, 127)
        decoded = _oct_decoded(codec, candidate)
        cosines = _cosines(unit, decoded)
        better = cosines > best
        best_rows[better], best_decoded[better], best[better] = candidate[better], decoded[better], cosines[better]
    return best_decoded, best_rows


def attribute_bytes(rows: bytes, size: int) -> int:
    """The bytes the vertex codec stores `rows` (of `size` bytes each, padded to whole rows of a multiple
    of 4 bytes) in, less its fixed cost (a header byte, and a tail of at least 32 bytes that a view shared
    by many accessors pays once): how the packing weighs two layouts of the same data."""
    size = _row_of(size)
    rows += b"\0" * (-len(rows) % size)
    data = np.frombuffer(rows, np.uint8).reshape(-1, size)
    return len(_codec().encode_gltf_buffer(data, "ATTRIBUTES", 0)) - 1 - max(size, _TAIL)


def exponential(values: npt.NDArray[Any], bits: int) -> tuple[npt.NDArray[np.float32], bytes]:
    """Floats (n by k) through meshoptimizer's exponential filter, one exponent per component for the whole
    array and `bits` of mantissa (an absolute error of at most half a step of the largest value's exponent):
    what the decoder makes of them (n by k float32) and the filter's input rows (4k bytes each)."""
    codec = _codec()
    rows = np.ascontiguousarray(
        codec.encode_filter_exp(np.ascontiguousarray(values, np.float32), bits, "SharedComponent")
    )
    packed = codec.encode_vertex_buffer_level(rows, 2, 0)
    width = values.shape[1]
    decoded = codec.decode_vertex_buffer(packed, len(values), 4 * width, "EXPONENTIAL").view("<f4")
    return decoded.reshape(len(values), width).copy(), rows.tobytes()


def _oct_decoded(codec: Any, rows: npt.NDArray[np.int8]) -> npt.NDArray[np.int8]:
    """Octahedral rows as the decoder (the one three.js runs) turns them into vectors."""
    packed = codec.encode_vertex_buffer_level(np.ascontiguousarray(rows).view(np.uint8), 2, 0)
    decoded: npt.NDArray[np.int8] = codec.decode_vertex_buffer(packed, len(rows), 4, "OCTAHEDRAL").view(np.int8)
    return decoded.copy()


def _cosines(unit: npt.NDArray[np.float64], decoded: npt.NDArray[np.int8]) -> npt.NDArray[np.float64]:
    vectors = decoded[:, :3].astype(np.float64)
    # np.linalg.norm(axis=1)'s sums in the same order, column by column (a quarter of its time on rows of 3).
    squares = vectors[:, 0] * vectors[:, 0] + vectors[:, 1] * vectors[:, 1] + vectors[:, 2] * vectors[:, 2]
    lengths = np.maximum(np.sqrt(squares), 1e-12)
    cosines: npt.NDArray[np.float64] = np.einsum("ij,ij->i", unit, vectors) / lengths
    return cosines


@dataclass(frozen=True)
class _Row:
    mode: str  # "ATTRIBUTES" or "TRIANGLES"
    size: int  # row bytes (index size for TRIANGLES)


def _rows(document: dict[str, Any]) -> dict[int, _Row]:
    """bufferView -> how its data is cut into rows; views of images are not in it (they stay as they are)."""
    triangles = set()
    for mesh in document.get("meshes", []):
        for primitive in mesh.get("primitives", []):
            if "indices" in primitive and primitive.get("mode", 4) == 4:
                triangles.add(primitive["indices"])
    rows: dict[int, _Row] = {}
    views = document["bufferViews"]
    for index, accessor in enumerate(document.get("accessors", [])):
        element = COMPONENT_BYTES[accessor["componentType"]] * COMPONENTS[accessor["type"]]
        if "bufferView" in accessor:
            view = accessor["bufferView"]
            if index in triangles and views[view].get("target") == ELEMENT_ARRAY_BUFFER:
                _claim(rows, view, _Row("TRIANGLES", element))
            else:
                _claim(rows, view, _Row("ATTRIBUTES", views[view].get("byteStride") or _row_of(element)))
        sparse = accessor.get("sparse")
        if sparse:
            index_bytes = COMPONENT_BYTES[sparse["indices"]["componentType"]]
            _claim(rows, sparse["indices"]["bufferView"], _Row("ATTRIBUTES", _row_of(index_bytes)))
            _claim(rows, sparse["values"]["bufferView"], _Row("ATTRIBUTES", _row_of(element)))
    return rows


def _row_of(element: int) -> int:
    return element * 4 // math.gcd(element, 4)  # the least multiple of both the element and 4 bytes


def _claim(rows: dict[int, _Row], view: int, row: _Row) -> None:
    if rows.setdefault(view, row) != row:
        raise GlbLayoutError("a bufferView read by accessors of different layouts")


@dataclass(frozen=True)
class MeshoptStats:
    views: int  # views compressed
    bytes_before: int  # their bytes, uncompressed
    bytes_after: int


def encode(
    document: dict[str, Any], binary: bytes, filtered: dict[int, tuple[str, bytes]] | None = None
) -> tuple[dict[str, Any], bytes, MeshoptStats]:
    """The document and BIN with every accessor's view compressed (see the module's doc); `filtered`: views
    whose rows are stored as a meshopt filter's input (view -> the filter, its input), which decodes to the
    view's bytes."""
    filtered = filtered or {}
    codec = _codec()
    document = glb.copied(document)
    view_holders(document)
    rows = _rows(document)
    views: list[dict[str, Any]] = document["bufferViews"]
    layout = Layout()
    fallback = 0  # bytes of the fallback buffer so far
    before = after = 0
    new_views: list[dict[str, Any]] = []
    compressed: list[tuple[dict[str, Any], int]] = []  # each extension object, and its bytes' view in `layout`
    for index, view in enumerate(views):
        start = view.get("byteOffset", 0)
        data = binary[start : start + view["byteLength"]]
        row = rows.get(index)
        if row is None or row.size > _MAX_ROW or (row.mode == "TRIANGLES" and len(data) % (3 * row.size)):
            kept, _offset = layout.add(data)
            layout.views[kept] |= {k: v for k, v in view.items() if k in ("byteStride", "target")}
            new_views.append(layout.views[kept])
            continue
        data += b"\0" * (-len(data) % row.size)
        count = len(data) // row.size
        extension: dict[str, Any] = {"buffer": 0, "byteStride": row.size, "count": count, "mode": row.mode}
        if row.mode == "TRIANGLES":
            indices = np.frombuffer(data, "<u2" if row.size == 2 else "<u4")
            packed = codec.encode_gltf_buffer(indices.astype(np.uint32), "TRIANGLES")
        else:
            name, rows_in = filtered.get(index, ("NONE", data))
            if name != "NONE":
                extension["filter"] = name
            packed = codec.encode_gltf_buffer(
                np.frombuffer(rows_in, np.uint8).reshape(count, row.size), "ATTRIBUTES", 0
            )
        extension["byteLength"] = len(packed)
        compressed.append((extension, layout.add(packed)[0]))
        fallback += -fallback % 4
        entry: dict[str, Any] = {"buffer": 1, "byteOffset": fallback, "byteLength": len(data)}
        entry |= {k: v for k, v in view.items() if k in ("byteStride", "target")}
        entry["extensions"] = {EXTENSION: extension}
        new_views.append(entry)
        fallback += len(data)
        before += len(data)
        after += len(packed)
    out = layout.binary()
    for extension, held in compressed:
        extension["byteOffset"] = layout.views[held]["byteOffset"]
    document["bufferViews"] = new_views
    document["buffers"] = [
        {"byteLength": len(out)},
        {"byteLength": fallback, "extensions": {EXTENSION: {"fallback": True}}},
    ]
    declare(document, EXTENSION, required=True)
    return document, out, MeshoptStats(len(compressed), before, after)


def decode(document: dict[str, Any], binary: bytes) -> tuple[dict[str, Any], bytes]:
    """A compressed document and BIN back as one plain buffer: what a loader with the decoder sees."""
    codec = _codec()
    document = glb.copied(document)
    layout = Layout()
    placed: list[tuple[dict[str, Any], int]] = []  # each view, and its bytes' view in `layout`
    for view in document.get("bufferViews", []):
        compressed = view.get("extensions", {}).pop(EXTENSION, None)
        if compressed is None:
            start = view.get("byteOffset", 0)
            data = binary[start : start + view["byteLength"]]
        else:
            start = compressed.get("byteOffset", 0)
            packed = binary[start : start + compressed["byteLength"]]
            mode, count, size = compressed["mode"], compressed["count"], compressed["byteStride"]
            decoded = codec.decode_gltf_buffer(packed, count, size, mode, compressed.get("filter"))
            data = np.ascontiguousarray(decoded).tobytes()[: view["byteLength"]]
        placed.append((view, layout.add(data)[0]))
        if not view.get("extensions"):
            view.pop("extensions", None)
    out = layout.binary()
    for view, held in placed:
        view["buffer"], view["byteOffset"] = 0, layout.views[held]["byteOffset"]
    document["buffers"] = [{"byteLength": len(out)}]
    for key in ("extensionsUsed", "extensionsRequired"):
        if key in document:
            document[key] = [name for name in document[key] if name != EXTENSION]
            if not document[key]:
                del document[key]
    return document, out
