"""What a glTF-family model (.gltf, .glb, .vrm) may make an importer read and allocate, decided from its
bytes before any importer sees it.

A model is untrusted: its buffer and image URIs could name any file the user can read (an SSH key, a
cloud credential, `/proc/self/environ`), and the importers would put those bytes into the avatar that is
then exported and published. Only data: URIs and files inside the model's own folder are read, links
resolved. Declared sizes are what an importer allocates before reading a byte: buffer views must fit the
data their buffers really have, accessors their buffer views, and the meshes stay under a vertex budget.
"""

from __future__ import annotations

import re
import urllib.parse
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any, Final

from ..vrm.inspect import MAX_DECODED_BUFFER, is_meshopt_fallback, layout_problems, read_glb
from ..wire.json_limits import JsonLimitError
from .files import FORMATS, ModelFormat, content_problem, gltf_document

# All the meshes of one model, as the sum of their primitives' POSITION counts: the 200k-vertex demo avatar
# at its highest detail is a twentieth of this.
MAX_VERTICES: Final = 4_000_000
_SCHEME: Final = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*:")
_SHOWN: Final = 200  # characters of a URI named in a refusal
_ALLOWED: Final = "a model may read only data: URIs and files inside its own folder"
_HEAD: Final = 32  # bytes: a .blend or an FBX is known by its first ones


class ReferenceRefusedError(ValueError):
    """A URI names something outside what the model may read; the message names it, in one line."""


@dataclass(frozen=True)
class Reference:
    what: str  # "buffer 0", "image 3"
    uri: str

    def refused(self, reason: str) -> ReferenceRefusedError:
        shown = self.uri if len(self.uri) <= _SHOWN else self.uri[:_SHOWN] + "…"
        return ReferenceRefusedError(f"{self.what} URI {shown!r} {reason}: {_ALLOWED}")


def _is_data(uri: str) -> bool:
    return uri[:5].lower() == "data:"


def _document(fmt: ModelFormat, data: bytes) -> tuple[dict[str, Any], int | None]:
    """The glTF JSON and, for a GLB container, its BIN chunk's length (call after content_problem())."""
    if fmt == "gltf":
        return gltf_document(data), None
    container = read_glb(data)
    return container.document, container.bin_length


def _entries(document: dict[str, Any], key: str) -> list[dict[str, Any]]:
    value = document.get(key)
    return [e if isinstance(e, dict) else {} for e in value] if isinstance(value, list) else []


def references(document: dict[str, Any]) -> list[Reference]:
    """Every buffer and image URI of the document, data: URIs included."""
    found: list[Reference] = []
    for key, what in (("buffers", "buffer"), ("images", "image")):
        for index, entry in enumerate(_entries(document, key)):
            uri = entry.get("uri")
            if uri is not None:
                found.append(Reference(f"{what} {index}", uri if isinstance(uri, str) else repr(uri)))
    return found


def relative_path(reference: Reference) -> str:
    """The '/'-separated path inside the model's folder a non-data URI names, percent-decoded as the
    importers decode it; ReferenceRefusedError for a scheme, an absolute path or a `..` step."""
    decoded = urllib.parse.unquote(reference.uri)
    if _SCHEME.match(reference.uri) or _SCHEME.match(decoded):
        raise reference.refused("has a scheme")
    if decoded.startswith(("/", "\\")) or "\\" in decoded or "\x00" in decoded or not decoded.strip():
        raise reference.refused("is an absolute path or not a plain relative one")
    if ".." in PurePosixPath(decoded).parts:
        raise reference.refused("climbs out with '..'")
    return decoded


def local_file(reference: Reference, folder: Path) -> Path:
    """The path a non-data URI names inside `folder`, links resolved; ReferenceRefusedError otherwise."""
    resolved = (folder / relative_path(reference)).resolve()
    if not resolved.is_relative_to(folder.resolve()):
        raise reference.refused("leads outside the model's folder through a link")
    return resolved


def sibling_paths(fmt: ModelFormat, data: bytes) -> list[str]:
    """The relative paths of the files a model reads beside itself (what to fetch with a remote model);
    ReferenceRefusedError for a URI no model may have."""
    if fmt not in ("gltf", "glb", "vrm"):
        return []
    document, _bin = _document(fmt, data)
    paths = [relative_path(r) for r in references(document) if not _is_data(r.uri)]
    return list(dict.fromkeys(paths))


def _data_length(uri: str) -> int:
    """The bytes a data: URI decodes to (without decoding a possibly huge base64 payload)."""
    header, _comma, payload = uri.partition(",")
    if header.lower().endswith(";base64"):
        return len(payload.strip().rstrip("=")) * 3 // 4
    return len(urllib.parse.unquote_to_bytes(payload))


def _buffer_sizes(document: dict[str, Any], bin_length: int | None, folder: Path) -> list[int | None]:
    """Each buffer's declared length where its data really holds that much, else None."""
    sizes: list[int | None] = []
    for index, entry in enumerate(_entries(document, "buffers")):
        uri = entry.get("uri")
        held: int | None
        if is_meshopt_fallback(entry) and index > 0:
            held = MAX_DECODED_BUFFER  # filled by decoding: its compressed bytes must be in the file
        elif uri is None:
            held = bin_length if index == 0 else None  # only a GLB's first buffer may be its BIN chunk
        elif isinstance(uri, str) and _is_data(uri):
            held = _data_length(uri)
        else:
            reference = Reference(f"buffer {index}", str(uri))
            file = local_file(reference, folder)
            if not file.is_file():
                raise reference.refused("names no file in the model's folder")
            held = file.stat().st_size
        declared = entry.get("byteLength")
        fits = isinstance(declared, int) and not isinstance(declared, bool) and 0 <= declared <= (held or 0)
        sizes.append(declared if fits and held is not None else None)
    return sizes


def _vertices(document: dict[str, Any]) -> int:
    """The vertices the meshes declare: each primitive's POSITION accessor count."""
    accessors = _entries(document, "accessors")
    total = 0
    for mesh in _entries(document, "meshes"):
        for primitive in _entries(mesh, "primitives"):
            attributes = primitive.get("attributes")
            index = attributes.get("POSITION") if isinstance(attributes, dict) else None
            if isinstance(index, int) and 0 <= index < len(accessors):
                count = accessors[index].get("count")
                total += count if isinstance(count, int) and count > 0 else 0
    return total


def import_problem(path: Path, fmt: ModelFormat, data: bytes) -> str | None:
    """Why the model at `path` (its bytes `data`, already found readable by content_problem()) must not be
    imported: a URI outside what it may read, or declared sizes past its data or the vertex budget."""
    if fmt not in ("gltf", "glb", "vrm"):
        return None
    try:
        document, bin_length = _document(fmt, data)
        for reference in references(document):
            if not _is_data(reference.uri):
                local_file(reference, path.parent)
        sizes = _buffer_sizes(document, bin_length, path.parent)
    except (ReferenceRefusedError, JsonLimitError) as exc:
        return str(exc)
    fallbacks = frozenset(i for i, b in enumerate(_entries(document, "buffers")) if i and is_meshopt_fallback(b))
    problems = layout_problems(document, sizes, fallbacks)
    unsized = [str(i) for i, size in enumerate(sizes) if size is None]
    if unsized:
        problems.insert(0, f"buffers {', '.join(unsized[:5])} declare more bytes than their data holds")
    vertices = _vertices(document)
    if vertices > MAX_VERTICES:
        problems.append(f"its meshes declare {vertices:,} vertices, over the limit of {MAX_VERTICES:,}")
    return "; ".join(problems) or None


def refusal(path: Path) -> str | None:
    """What the import says when it refuses the model at `path` before any importer runs (`<name>: <why>`):
    bytes that are not its format, a URI it may not read, sizes past its data; None when the import would go
    on, or when the file cannot be read here (the import reports that). Without Blender: a folder or a batch
    starts none for such a file."""
    fmt = FORMATS.get(path.suffix.lower())
    if fmt is None:
        return None
    try:
        with path.open("rb") as file:
            data = file.read() if fmt in ("vrm", "glb", "gltf") else file.read(_HEAD)
    except OSError:
        return None
    problem = content_problem(fmt, data) or import_problem(path, fmt, data)
    return f"{path.name}: {problem}" if problem is not None else None
