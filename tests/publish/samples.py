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
