"""The GLB container (.glb, .vrm): its header and chunks read and written in one place. The export's sparse
rewrite and meta patch, the promoter's structural check and the import's reference check all go through
here. No numpy: the promoter's container reads GLBs without it (accessors.py reads the data).

A GLB is a 12-byte header (magic `glTF`, version 2, total length) and 4-byte aligned chunks, each an
8-byte header (length, type): the JSON document first, then optionally the BIN chunk.
"""

from __future__ import annotations

import io
import json
import struct
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, BinaryIO, Final

MAGIC: Final = b"glTF"
JSON_CHUNK: Final = 0x4E4F534A
BIN_CHUNK: Final = 0x004E4942
HEADER: Final = struct.Struct("<4sII")
CHUNK_HEADER: Final = struct.Struct("<II")
COMPONENTS: Final = {"SCALAR": 1, "VEC2": 2, "VEC3": 3, "VEC4": 4, "MAT2": 4, "MAT3": 9, "MAT4": 16}
COMPONENT_BYTES: Final = {5120: 1, 5121: 1, 5122: 2, 5123: 2, 5125: 4, 5126: 4}


class GlbError(ValueError):
    """A broken container: the message says what is wrong, and nothing inside it can be read."""


@dataclass(frozen=True)
class Layout:
    """Where the chunks are: the JSON chunk's bytes, and the BIN chunk's (None: there is none)."""

    json_start: int
    json_length: int
    bin_start: int = 0
    bin_length: int | None = None


def layout(source: BinaryIO, length: int) -> Layout:
    """Walks the header and the chunk headers of a container of `length` bytes, reading nothing else (a
    VRM can be hundreds of MB); raises GlbError saying what is wrong."""
    if length < HEADER.size + CHUNK_HEADER.size:
        raise GlbError(f"not a GLB file: only {length} bytes")
    source.seek(0)
    magic, version, declared = HEADER.unpack(source.read(HEADER.size))
    if magic != MAGIC:
        raise GlbError("not a GLB file: no glTF magic")
    if version != 2:
        raise GlbError(f"GLB version {version}, expected 2")
    if declared != length:
        raise GlbError(f"GLB header says {declared} bytes, file has {length} (truncated or padded)")
    offset = HEADER.size
    chunks: list[tuple[int, int, int]] = []  # (kind, start, size)
    while offset < length:
        if offset + CHUNK_HEADER.size > length:
            raise GlbError("GLB chunk header runs past the end")
        source.seek(offset)
        size, kind = CHUNK_HEADER.unpack(source.read(CHUNK_HEADER.size))
        start = offset + CHUNK_HEADER.size
        if size % 4 or start + size > length:
            raise GlbError(f"GLB chunk at byte {offset} has a bad length {size}")
        chunks.append((kind, start, size))
        offset = start + size
    if not chunks or chunks[0][0] != JSON_CHUNK:
        raise GlbError("GLB does not start with a JSON chunk")
    if len(chunks) > 1 and chunks[1][0] != BIN_CHUNK:
        raise GlbError("GLB second chunk is not BIN")
    _kind, json_start, json_length = chunks[0]
    if len(chunks) == 1:
        return Layout(json_start, json_length)
    return Layout(json_start, json_length, chunks[1][1], chunks[1][2])


def read(data: bytes, load: Callable[[bytes], Any] = json.loads) -> tuple[dict[str, Any], bytes]:
    """The JSON document (parsed by `load`: plain json for our own exports, a bounded parser for untrusted
    files) and the BIN chunk's bytes (empty when absent); GlbError saying what is wrong."""
    where = layout(io.BytesIO(data), len(data))
    document = load(data[where.json_start : where.json_start + where.json_length])
    if not isinstance(document, dict):
        raise GlbError("GLB JSON chunk is not an object")
    binary = data[where.bin_start : where.bin_start + where.bin_length] if where.bin_length is not None else b""
    return document, binary


def copied(document: Any) -> Any:
    """A JSON document (dicts, lists and immutable values, as json.loads gives) copied to its leaves: what
    copy.deepcopy does for such a tree, in a quarter of its time (no memo, no dispatch per value)."""
    if isinstance(document, dict):
        return {key: copied(value) for key, value in document.items()}
    if isinstance(document, list):
        return [copied(value) for value in document]
    return document


def write(document: dict[str, Any], binary: bytes) -> bytes:
    """A GLB from a JSON document and its BIN chunk (each padded to 4 bytes as the format asks: JSON with
    spaces, BIN with zeros; no BIN chunk when `binary` is empty)."""
    text = json.dumps(document, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
    text += b" " * (-len(text) % 4)
    binary += b"\0" * (-len(binary) % 4)
    chunks = CHUNK_HEADER.pack(len(text), JSON_CHUNK) + text
    if binary:
        chunks += CHUNK_HEADER.pack(len(binary), BIN_CHUNK) + binary
    return HEADER.pack(MAGIC, 2, HEADER.size + len(chunks)) + chunks


def view_bytes(document: dict[str, Any], binary: bytes, index: int) -> bytes:
    """The bytes of buffer view `index` (of the one embedded buffer)."""
    view = document["bufferViews"][index]
    start = view.get("byteOffset", 0)
    return bytes(binary[start : start + view["byteLength"]])
