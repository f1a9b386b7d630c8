"""The model files Avatar Forge imports: which format a path is, whether its bytes are that format, and
the VRM meta it carries. Pure logic, shared by the import (sidebar, socket) and `forge.py convert`."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Final, Literal

from ..vrm.inspect import glb_document
from ..wire.json_limits import JsonLimitError, JsonLimits, load_json

ModelFormat = Literal["vrm", "glb", "gltf", "fbx", "blend"]
FORMATS: Final[dict[str, ModelFormat]] = {
    ".vrm": "vrm",
    ".glb": "glb",
    ".gltf": "gltf",
    ".fbx": "fbx",
    ".blend": "blend",
}
SUFFIXES: Final = ", ".join(FORMATS)
_FBX_MAGIC: Final = b"Kaydara FBX Binary  \x00"
# A .blend is plain ("BLENDER"), or gzip- or zstd-compressed (Blender's "Compress" save option).
_BLEND_MAGICS: Final = (b"BLENDER", b"\x1f\x8b", b"\x28\xb5\x2f\xfd")
# A .gltf may carry its buffers and images inline as base64 data URIs: long strings, few objects.
GLTF_LIMITS: Final = JsonLimits(max_bytes=512 * 1024 * 1024)


def model_format(path: Path) -> ModelFormat:
    """The format a path's extension names; ValueError for one Avatar Forge does not import."""
    found = FORMATS.get(path.suffix.lower())
    if found is None:
        raise ValueError(f"{path.name} is not a model file: Avatar Forge imports {SUFFIXES}")
    return found


def is_model_file(path: Path) -> bool:
    return path.suffix.lower() in FORMATS


def content_problem(fmt: ModelFormat, data: bytes) -> str | None:
    """Why these bytes are not a readable file of `fmt` (None when they look like one): caught here, the
    importers' tracebacks never reach the user."""
    if fmt in ("vrm", "glb"):
        try:
            glb_document(data)
        except ValueError as exc:
            return str(exc)
    elif fmt == "gltf":
        try:
            document = gltf_document(data)
        except JsonLimitError as exc:
            return f"not a glTF file: {exc}"
        if "asset" not in document:
            return "not a glTF file: no glTF 'asset' in its JSON"
    elif fmt == "fbx":
        if not data.startswith(_FBX_MAGIC):
            return "not a binary FBX file (Blender's FBX importer reads binary FBX 7.1 and newer only)"
    elif not data.startswith(_BLEND_MAGICS):
        return "not a .blend file"
    return None


def gltf_document(data: bytes) -> dict[str, Any]:
    """A .gltf's JSON, parsed within bounds; JsonLimitError when it is not a JSON object within them."""
    document = load_json(data.removeprefix(b"\xef\xbb\xbf"), GLTF_LIMITS, "the file")
    if not isinstance(document, dict):
        raise JsonLimitError("the file is not a JSON object")
    return document


def json_document(fmt: ModelFormat, data: bytes) -> dict[str, Any]:
    """A glTF/GLB/VRM file's JSON ({} for other formats); call after content_problem()."""
    if fmt in ("vrm", "glb"):
        return glb_document(data)
    if fmt == "gltf":
        return gltf_document(data)
    return {}


def vrm_meta(fmt: ModelFormat, data: bytes) -> dict[str, Any]:
    """The VRM meta the file carries, as written (VRM 1.0 `VRMC_vrm.meta` or VRM 0.x `VRM.meta`), with
    "specVersion" added ("1.0" or "0.x"); {} for a file without one. Call after content_problem()."""
    if fmt not in ("vrm", "glb", "gltf"):
        return {}
    extensions = json_document(fmt, data).get("extensions")
    if not isinstance(extensions, dict):
        return {}
    for name, spec_version in (("VRMC_vrm", "1.0"), ("VRM", "0.x")):
        extension = extensions.get(name)
        meta = extension.get("meta") if isinstance(extension, dict) else None
        if isinstance(meta, dict):
            return {**meta, "specVersion": spec_version}
    return {}
