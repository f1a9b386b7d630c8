"""A GLB's BIN chunk rebuilt from scratch, one bufferView per piece of data, for the web packing steps.

Every step of the packing (quantization, meshopt) rewrites accessors' bytes; rather than patching views in
place, each step lays out a new BIN: the pieces are appended in the order given, 4-byte aligned, and the
document's views are replaced wholesale (images keep their bytes, only their view index may change).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Final

import numpy as np
import numpy.typing as npt

from ..sparse_morphs import GlbLayoutError

COMPONENT_BYTES: Final = {5120: 1, 5121: 1, 5122: 2, 5123: 2, 5125: 4, 5126: 4}
COMPONENTS: Final = {"SCALAR": 1, "VEC2": 2, "VEC3": 3, "VEC4": 4, "MAT4": 16}
ARRAY_BUFFER: Final = 34962
ELEMENT_ARRAY_BUFFER: Final = 34963


def element_bytes(accessor: dict[str, Any]) -> int:
    return COMPONENT_BYTES[accessor["componentType"]] * COMPONENTS[accessor["type"]]


def padded(size: int) -> int:
    """A vertex element's stride: its size rounded up to 4 bytes (glTF's rule for vertex attributes)."""
    return size + (-size % 4)


@dataclass
class Layout:
    """New bufferViews of buffer 0 and the bytes behind them. Pieces given the same `group` share one view
    (each starting at a multiple of `align` bytes): one view per kind of data rather than per accessor keeps
    the JSON small and gives the compressor longer runs of alike data."""

    views: list[dict[str, Any]] = field(default_factory=list)
    contents: list[bytearray] = field(default_factory=list)
    groups: dict[Any, int] = field(default_factory=dict)
    # view -> (meshopt filter, the filter's input for the view's rows): what the codec compresses instead
    filtered: dict[int, tuple[str, bytearray]] = field(default_factory=dict)

    def add(
        self,
        data: bytes,
        *,
        stride: int | None = None,
        target: int | None = None,
        group: Any = None,
        align: int = 4,
        filtered: tuple[str, bytes] | None = None,
    ) -> tuple[int, int]:
        """Appends `data` (to its group's view, or as a new view): the view's index and the byte offset.
        `filtered`: a meshopt filter and its input, the same size as `data`, which decodes to `data` (a
        group is filtered throughout or not at all)."""
        index = self.groups.get(group) if group is not None else None
        if index is None:
            view: dict[str, Any] = {"buffer": 0}
            if stride is not None:
                view["byteStride"] = stride
            if target is not None:
                view["target"] = target
            self.views.append(view)
            self.contents.append(bytearray())
            index = len(self.views) - 1
            if group is not None:
                self.groups[group] = index
        content = self.contents[index]
        content += b"\0" * (-len(content) % align)
        offset = len(content)
        content += data
        if filtered is not None:
            _name, rows = self.filtered.setdefault(index, (filtered[0], bytearray()))
            rows += b"\0" * (offset - len(rows))
            rows += filtered[1]
        if (index in self.filtered) != (filtered is not None) or len(self.filtered.get(index, ("", content))[1]) != len(
            content
        ):
            raise ValueError("a view's pieces are filtered throughout or not at all")
        return index, offset

    def binary(self) -> bytes:
        """The BIN chunk, the views' offsets and lengths set (each view 4-byte aligned)."""
        parts: list[bytes] = []
        size = 0
        for view, content in zip(self.views, self.contents, strict=True):
            parts.append(b"\0" * (-size % 4))
            size += -size % 4
            view["byteOffset"], view["byteLength"] = size, len(content)
            parts.append(bytes(content))
            size += len(content)
        return b"".join(parts)


def strided(values: npt.NDArray[Any], stride: int) -> bytes:
    """Rows of `values` (count, components), each padded with zeros to `stride` bytes."""
    rows = np.ascontiguousarray(values)
    raw = rows.view(np.uint8).reshape(len(rows), -1)
    if raw.shape[1] == stride:
        return raw.tobytes()
    out = np.zeros((len(rows), stride), dtype=np.uint8)
    out[:, : raw.shape[1]] = raw
    return out.tobytes()


def view_holders(document: dict[str, Any]) -> list[dict[str, Any]]:
    """The objects that name a bufferView: accessors, their sparse parts, images. A view named anywhere else
    (an extension this packing does not know) raises GlbLayoutError: it could not be remapped safely."""
    holders: list[dict[str, Any]] = []
    for accessor in document.get("accessors", []):
        if "bufferView" in accessor:
            holders.append(accessor)
        sparse = accessor.get("sparse")
        if sparse:
            holders.extend((sparse["indices"], sparse["values"]))
    holders.extend(image for image in document.get("images", []) if "bufferView" in image)
    known = {id(h) for h in holders}
    stack: list[Any] = [v for k, v in document.items() if k not in ("bufferViews", "accessors", "images")]
    while stack:
        node = stack.pop()
        if isinstance(node, dict):
            if "bufferView" in node and id(node) not in known:
                raise GlbLayoutError("a bufferView is named outside accessors and images")
            stack.extend(node.values())
        elif isinstance(node, list):
            stack.extend(node)
    return holders


def declare(document: dict[str, Any], extension: str, *, required: bool) -> None:
    """Names `extension` in extensionsUsed and, when a loader without it cannot show the file, Required."""
    for key in ("extensionsUsed", "extensionsRequired") if required else ("extensionsUsed",):
        names = document.setdefault(key, [])
        if extension not in names:
            names.append(extension)


# Extensions known to name no accessor: with only these in use, an accessor core glTF does not name is unused.
_NAME_NO_ACCESSOR: Final = ("VRM", "VRMC_", "KHR_materials_", "KHR_texture_", "KHR_mesh_quantization",
                            "EXT_texture_webp", "EXT_meshopt_compression", "KHR_lights_punctual")  # fmt: skip


def unused_accessors(document: dict[str, Any]) -> set[int]:
    """Accessors nothing reads: no mesh, skin or animation names them (exporters leave such data behind, the
    VRM Add-on a morph's normals it does not draw); none when an extension that might name one is in use."""
    if any(not name.startswith(_NAME_NO_ACCESSOR) for name in document.get("extensionsUsed", [])):
        return set()
    named = {index for _name, index, _morph in vertex_accessors(document)}
    named |= {p["indices"] for m in document.get("meshes", []) for p in m.get("primitives", []) if "indices" in p}
    named |= {s["inverseBindMatrices"] for s in document.get("skins", []) if "inverseBindMatrices" in s}
    for animation in document.get("animations", []):
        named |= {i for sampler in animation.get("samplers", []) for i in (sampler.get("input"), sampler.get("output"))}
    return set(range(len(document.get("accessors", [])))) - named


def vertex_accessors(document: dict[str, Any]) -> list[tuple[str, int, bool]]:
    """(attribute name, accessor, whether it is a morph target's) for every primitive of every mesh."""
    found: list[tuple[str, int, bool]] = []
    for mesh in document.get("meshes", []):
        for primitive in mesh.get("primitives", []):
            found.extend((name, index, False) for name, index in primitive.get("attributes", {}).items())
            for target in primitive.get("targets", []):
                found.extend((name, index, True) for name, index in target.items())
    return found
