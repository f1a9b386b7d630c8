"""Small VRM files made in plain Python (no Blender), for tests and benchmarks of publishing.

They are structurally real VRM 1.0 GLBs (header, JSON and BIN chunks, a buffer and an accessor inside the
BIN chunk, a scene holding every required bone's node), so the promoter's checks pass or fail on them for
the reasons a real export would.
"""

from __future__ import annotations

import json
import struct
from collections.abc import Callable
from typing import Any

from addon.core.presets import VRM1_LICENSE_URL
from addon.core.rig.humanoid import REQUIRED_VRM0, REQUIRED_VRM1


def make_vrm(
    size: int = 4096,
    *,
    license_url: str = VRM1_LICENSE_URL,
    drop_bones: tuple[str, ...] = (),
    salt: str = "",
    vrm0_license: str | None = None,
) -> bytes:
    """A VRM 1.0 GLB of about `size` bytes (the BIN chunk is padding that varies with `salt`); with
    `vrm0_license`, a VRM 0.x one carrying that meta.licenseName instead."""
    bones = sorted((REQUIRED_VRM0 if vrm0_license is not None else REQUIRED_VRM1) - set(drop_bones))
    document: dict[str, Any] = {
        "asset": {"version": "2.0", "generator": "avatar-forge tests"},
        "extensionsUsed": ["VRMC_vrm"],
        "nodes": [{"name": b} for b in bones],
        "extensions": {
            "VRMC_vrm": {
                "specVersion": "1.0",
                "meta": {"name": f"sample{salt}", "authors": ["tests"], "licenseUrl": license_url},
                "humanoid": {"humanBones": {b: {"node": i} for i, b in enumerate(bones)}},
            }
        },
    }
    if vrm0_license is not None:
        document["extensionsUsed"] = ["VRM"]
        document["extensions"] = {
            "VRM": {
                "meta": {"title": f"sample{salt}", "licenseName": vrm0_license, "otherLicenseUrl": ""},
                "humanoid": {"humanBones": [{"bone": b, "node": i} for i, b in enumerate(bones)]},
            }
        }
    # Every bone a root of the one scene; the BIN chunk is one buffer, read as floats by one accessor.
    document["scenes"] = [{"nodes": list(range(len(bones)))}]
    document["scene"] = 0
    body_size = max(16, size - 28 - len(json.dumps(document)) - 200)
    body_size -= body_size % 4
    document["buffers"] = [{"byteLength": body_size}]
    document["bufferViews"] = [{"buffer": 0, "byteOffset": 0, "byteLength": body_size}]
    document["accessors"] = [{"bufferView": 0, "componentType": 5126, "type": "SCALAR", "count": body_size // 4}]
    pattern = (salt.encode() or b"\x00") + b"avatar-forge"
    return glb(json.dumps(document).encode(), (pattern * (body_size // len(pattern) + 1))[:body_size])


def glb(text: bytes, body: bytes) -> bytes:
    """A GLB container around a JSON chunk's text and a BIN chunk (both padded to 4 bytes)."""
    text += b" " * (-len(text) % 4)
    body += b"\x00" * (-len(body) % 4)
    total = 12 + 8 + len(text) + 8 + len(body)
    return b"".join(
        [
            struct.pack("<4sII", b"glTF", 2, total),
            struct.pack("<II", len(text), 0x4E4F534A),
            text,
            struct.pack("<II", len(body), 0x004E4942),
            body,
        ]
    )


def json_chunk(data: bytes) -> dict[str, Any]:
    """The JSON chunk of a GLB made here."""
    (length,) = struct.unpack_from("<I", data, 12)
    return dict(json.loads(data[20 : 20 + length]))


def bin_chunk(data: bytes) -> bytes:
    (length,) = struct.unpack_from("<I", data, 12)
    return data[20 + length + 8 :]


def edited(data: bytes, edit: Callable[[dict[str, Any]], object]) -> bytes:
    """`data` with its JSON chunk changed in place by `edit` (the BIN chunk kept)."""
    document = json_chunk(data)
    edit(document)
    return glb(json.dumps(document).encode(), bin_chunk(data))


def tiny_png(salt: int = 0) -> bytes:
    """A real 2x2 RGB PNG (its colour varies with `salt`)."""
    import zlib

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    rows = b"".join(b"\x00" + bytes([salt % 256, 128, 64]) * 2 for _ in range(2))
    header = struct.pack(">IIBBBBB", 2, 2, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b"")


def with_thumbnail(vrm: bytes, image: bytes, mime_type: str = "image/png") -> bytes:
    """A VRM 1.0 made by make_vrm with `image` embedded as its meta thumbnail (appended to the BIN chunk)."""
    document, body = json_chunk(vrm), bin_chunk(vrm)
    offset = len(body)
    body += image + b"\x00" * (-len(image) % 4)
    document["buffers"][0]["byteLength"] = len(body)
    document["bufferViews"].append({"buffer": 0, "byteOffset": offset, "byteLength": len(image)})
    document["images"] = [{"bufferView": len(document["bufferViews"]) - 1, "mimeType": mime_type}]
    document["extensions"]["VRMC_vrm"]["meta"]["thumbnailImage"] = 0
    return glb(json.dumps(document).encode(), body)


def make_vrma(salt: str = "") -> bytes:
    """A VRM Animation (.vrma) as the VRM Add-on writes one: hips and a spine node, a one-second rotation
    of the spine (VRMC_vrm_animation 1.0)."""
    times = struct.pack("<2f", 0.0, 1.0)
    turns = struct.pack("<8f", 0, 0, 0, 1, 0.3826834, 0, 0, 0.9238795)
    body = times + turns
    document: dict[str, Any] = {
        "asset": {"version": "2.0", "generator": f"avatar-forge tests {salt}"},
        "extensionsUsed": ["VRMC_vrm_animation"],
        "nodes": [{"name": "Hips", "translation": [0, 1, 0], "children": [1]}, {"name": "Spine"}],
        "scenes": [{"nodes": [0]}],
        "buffers": [{"byteLength": len(body)}],
        "bufferViews": [{"buffer": 0, "byteLength": 8}, {"buffer": 0, "byteOffset": 8, "byteLength": 32}],
        "accessors": [
            {"bufferView": 0, "componentType": 5126, "count": 2, "type": "SCALAR", "min": [0.0], "max": [1.0]},
            {"bufferView": 1, "componentType": 5126, "count": 2, "type": "VEC4"},
        ],
        "animations": [{"channels": [{"sampler": 0, "target": {"node": 1, "path": "rotation"}}],
                        "samplers": [{"input": 0, "output": 1}]}],
        "extensions": {"VRMC_vrm_animation": {"specVersion": "1.0",
                                              "humanoid": {"humanBones": {"hips": {"node": 0}, "spine": {"node": 1}}}}},
    }  # fmt: skip
    return glb(json.dumps(document).encode(), body)
