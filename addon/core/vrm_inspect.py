"""Structural checks on a .vrm file from its bytes alone, for the promoter (no Blender, no Node).

It answers "is this a VRM three-vrm will load": a well-formed GLB container, the VRMC_vrm (1.0) or VRM
(0.x) extension, every required humanoid bone mapped to a node that exists, and the license URL.
"""

from __future__ import annotations

import json
import struct
from dataclasses import dataclass, field
from typing import Any, Final

from .humanoid import required_bones
from .presets import VRM1_LICENSE_URL

_MAGIC: Final = b"glTF"
_JSON_CHUNK: Final = 0x4E4F534A
_BIN_CHUNK: Final = 0x004E4942
_HEADER: Final = struct.Struct("<4sII")
_CHUNK_HEADER: Final = struct.Struct("<II")
# VRM 0.x meta.licenseName values (the 0.x specification's enum).
VRM0_LICENSES: Final = frozenset(
    {"Redistribution_Prohibited", "CC0", "CC_BY", "CC_BY_NC", "CC_BY_SA", "CC_BY_NC_SA", "CC_BY_ND", "CC_BY_NC_ND",
     "Other"}
)  # fmt: skip


@dataclass
class VrmReport:
    spec_version: str | None = None  # "1.0" or "0.x" once the extension is found
    title: str | None = None
    license_url: str | None = None
    bones: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems

    def to_json(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "spec_version": self.spec_version,
            "title": self.title,
            "license_url": self.license_url,
            "bones": len(self.bones),
            "problems": self.problems,
        }


class _MalformedError(ValueError):
    """The container itself is broken: nothing inside it can be checked."""


def _gltf_json(data: bytes) -> dict[str, Any]:
    """The glTF JSON chunk; raises _MalformedError saying what is wrong with the container."""
    if len(data) < _HEADER.size + _CHUNK_HEADER.size:
        raise _MalformedError(f"not a GLB file: only {len(data)} bytes")
    magic, version, length = _HEADER.unpack_from(data)
    if magic != _MAGIC:
        raise _MalformedError("not a GLB file: no glTF magic")
    if version != 2:
        raise _MalformedError(f"GLB version {version}, expected 2")
    if length != len(data):
        raise _MalformedError(f"GLB header says {length} bytes, file has {len(data)} (truncated or padded)")
    offset = _HEADER.size
    kinds: list[int] = []
    first = b""
    while offset < length:
        if offset + _CHUNK_HEADER.size > length:
            raise _MalformedError("GLB chunk header runs past the end")
        size, kind = _CHUNK_HEADER.unpack_from(data, offset)
        start = offset + _CHUNK_HEADER.size
        if size % 4 or start + size > length:
            raise _MalformedError(f"GLB chunk at byte {offset} has a bad length {size}")
        if not kinds:
            first = data[start : start + size]
        kinds.append(kind)
        offset = start + size
    if not kinds or kinds[0] != _JSON_CHUNK:
        raise _MalformedError("GLB does not start with a JSON chunk")
    if len(kinds) > 1 and kinds[1] != _BIN_CHUNK:
        raise _MalformedError("GLB second chunk is not BIN")
    try:
        document = json.loads(first.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise _MalformedError(f"GLB JSON chunk does not parse ({exc})") from None
    if not isinstance(document, dict):
        raise _MalformedError("GLB JSON chunk is not an object")
    return document


def _obj(data: dict[str, Any], key: str) -> dict[str, Any]:
    value = data.get(key)
    return value if isinstance(value, dict) else {}


def _text(data: dict[str, Any], key: str) -> str | None:
    value = data.get(key)
    return value if isinstance(value, str) else None


def _vrm1(ext: dict[str, Any], nodes: int, report: VrmReport) -> None:
    report.spec_version = "1.0"
    meta = _obj(ext, "meta")
    report.title = _text(meta, "name")
    report.license_url = _text(meta, "licenseUrl")
    if report.license_url != VRM1_LICENSE_URL:
        report.problems.append(f"VRM 1.0 meta.licenseUrl is {report.license_url!r}, must be {VRM1_LICENSE_URL}")
    humanoid = _obj(ext, "humanoid")
    bones = _obj(humanoid, "humanBones")
    _check_bones({b: v.get("node") for b, v in bones.items() if isinstance(v, dict)}, nodes, report)


def _vrm0(ext: dict[str, Any], nodes: int, report: VrmReport) -> None:
    report.spec_version = "0.x"
    meta = _obj(ext, "meta")
    report.title = _text(meta, "title")
    license_name = meta.get("licenseName")
    other_url = meta.get("otherLicenseUrl")
    report.license_url = other_url if isinstance(other_url, str) and other_url else None
    if license_name not in VRM0_LICENSES:
        report.problems.append(f"VRM 0.x meta.licenseName is {license_name!r}, not one of the specification's")
    elif license_name == "Other" and not (report.license_url or "").startswith(("https://", "http://")):
        report.problems.append("VRM 0.x licenseName is Other but meta.otherLicenseUrl is not a URL")
    humanoid = _obj(ext, "humanoid")
    entries = humanoid.get("humanBones")
    entries = entries if isinstance(entries, list) else []
    _check_bones(
        {e["bone"]: e.get("node") for e in entries if isinstance(e, dict) and isinstance(e.get("bone"), str)},
        nodes,
        report,
    )


def _check_bones(mapping: dict[Any, Any], nodes: int, report: VrmReport) -> None:
    report.bones = sorted(str(b) for b in mapping)
    assert report.spec_version is not None
    missing = sorted(required_bones(report.spec_version) - set(mapping))
    if missing:
        report.problems.append(f"required humanoid bones not mapped: {', '.join(missing)}")
    dangling = sorted(
        str(b)
        for b, node in mapping.items()
        if not isinstance(node, int) or isinstance(node, bool) or not 0 <= node < nodes
    )
    if dangling:
        report.problems.append(f"humanoid bones pointing at no node: {', '.join(dangling)}")


def inspect_vrm(data: bytes) -> VrmReport:
    """Checks a .vrm's bytes; the report's problems are empty when it is structurally a loadable VRM."""
    report = VrmReport()
    try:
        document = _gltf_json(data)
    except _MalformedError as exc:
        report.problems.append(str(exc))
        return report
    extensions = _obj(document, "extensions")
    nodes = document.get("nodes")
    node_count = len(nodes) if isinstance(nodes, list) else 0
    try:
        if "VRMC_vrm" in extensions:
            _vrm1(_obj(extensions, "VRMC_vrm"), node_count, report)
        elif "VRM" in extensions:
            _vrm0(_obj(extensions, "VRM"), node_count, report)
        else:
            report.problems.append("no VRMC_vrm or VRM extension: a plain glTF, not a VRM")
    except (TypeError, ValueError, AttributeError, KeyError) as exc:
        # A value of an unexpected JSON type somewhere deep: a broken file, never a crashed promoter.
        report.problems.append(f"malformed VRM extension ({type(exc).__name__}: {exc})")
    return report


def glb_document(data: bytes) -> dict[str, Any]:
    """The JSON document of a GLB container (.glb, .vrm); ValueError saying what is wrong with it."""
    return _gltf_json(data)
