"""Meta fields the VRM Add-on's exporter leaves out, put back into the exported GLB's JSON.

The add-on (4.10) reads a VRM 1.0 meta's `contactInformation` on import but never writes it on export:
without this a re-exported model would lose its author's contact.
"""

from __future__ import annotations

import json
import struct
from collections.abc import Mapping
from typing import Final

_HEADER: Final = struct.Struct("<4sII")
_CHUNK: Final = struct.Struct("<II")
_JSON: Final = 0x4E4F534A


def with_vrm1_meta(data: bytes, fields: Mapping[str, str]) -> bytes:
    """`data` (a VRM 1.0 GLB) with each non-empty field added to `VRMC_vrm.meta` where the file lacks it;
    the same bytes when nothing is missing. Raises ValueError on a GLB without a JSON chunk first."""
    magic, version, _length = _HEADER.unpack_from(data)
    json_length, kind = _CHUNK.unpack_from(data, _HEADER.size)
    if magic != b"glTF" or kind != _JSON:
        raise ValueError("not a GLB file with its JSON chunk first")
    start = _HEADER.size + _CHUNK.size
    gltf = json.loads(data[start : start + json_length])
    meta = gltf.get("extensions", {}).get("VRMC_vrm", {}).get("meta")
    missing = {key: value for key, value in fields.items() if value and meta is not None and key not in meta}
    if not missing:
        return data
    meta.update(missing)
    text = json.dumps(gltf, ensure_ascii=False, separators=(",", ":")).encode()
    text += b" " * (-len(text) % 4)  # chunks are 4-byte aligned; JSON pads with spaces
    rest = data[start + json_length :]
    total = _HEADER.size + _CHUNK.size + len(text) + len(rest)
    return _HEADER.pack(magic, version, total) + _CHUNK.pack(len(text), _JSON) + text + rest
