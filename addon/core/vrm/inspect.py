"""Structural checks on a .vrm or .vrma file from its bytes alone, for the promoter (no Blender, no Node).

It answers "is this a VRM three-vrm will load": a well-formed GLB container whose JSON parses within
bounds, buffers, buffer views and accessors that fit the BIN chunk, a scene, the VRMC_vrm (1.0) or VRM
(0.x) extension, every required humanoid bone mapped to a node of that scene, and the license URL.
For a VRM Animation (.vrma), the same container and layout checks, then the VRMC_vrm_animation
extension: its humanoid's hips and every bone on a node, and animation channels and samplers that point
at nodes and accessors that exist (what three-vrm-animation reads before it builds a clip).
"""

from __future__ import annotations

import io
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO, Final

from ..presets import VRM1_LICENSE_URL
from ..rig.humanoid import required_bones
from ..wire.json_limits import (
    DEFAULT_MAX_DEPTH,
    DEFAULT_MAX_INT_DIGITS,
    JsonLimitError,
    JsonLimits,
    load_json,
)
from . import glb

# A JSON chunk parses into about thirty times its size in Python objects: 16 MiB stays well inside the
# promoter's 1 GiB; real exports carry well under 1 MiB of JSON.
DEFAULT_MAX_JSON_CHUNK: Final = 16 * 1024 * 1024
_INDEX_COMPONENTS: Final = frozenset({5121, 5123, 5125})
# An accessor without a buffer view is zeros a loader allocates itself: bound what it may ask for, one by
# one and in all.
_MAX_UNBACKED_ACCESSOR: Final = 64 * 1024 * 1024
MAX_UNBACKED_TOTAL: Final = 256 * 1024 * 1024
# EXT_meshopt_compression's fallback buffer holds nothing: a loader allocates it and decodes into it.
_MESHOPT: Final = "EXT_meshopt_compression"
MAX_DECODED_BUFFER: Final = 1024 * 1024 * 1024
_NAMED_AT_MOST: Final = 5  # items named in one problem line
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


@dataclass(frozen=True)
class VrmLimits:
    """How much of a .vrm the check will parse: the JSON chunk is the only part it reads into memory."""

    max_json_bytes: int = DEFAULT_MAX_JSON_CHUNK
    max_depth: int = DEFAULT_MAX_DEPTH
    max_int_digits: int = DEFAULT_MAX_INT_DIGITS

    def json_limits(self) -> JsonLimits:
        return JsonLimits(self.max_json_bytes, self.max_depth, self.max_int_digits)


@dataclass(frozen=True)
class GlbContainer:
    document: dict[str, Any]
    bin_length: int | None  # None: no BIN chunk
    bin_start: int = 0  # where the BIN chunk's bytes start in the file


def _read_container(source: BinaryIO, length: int, limits: VrmLimits) -> GlbContainer:
    """The glTF JSON chunk and the BIN chunk's place; raises _MalformedError saying what is wrong.

    Only the JSON chunk is read, within `limits`: the BIN chunk is skipped over, however large.
    """
    try:
        where = glb.layout(source, length)
    except glb.GlbError as exc:
        raise _MalformedError(str(exc)) from None
    if where.json_length > limits.max_json_bytes:
        raise _MalformedError(f"GLB JSON chunk is {where.json_length} bytes, over the limit of {limits.max_json_bytes}")
    source.seek(where.json_start)
    try:
        document = load_json(source.read(where.json_length), limits.json_limits(), "GLB JSON chunk")
    except JsonLimitError as exc:
        raise _MalformedError(str(exc)) from None
    if not isinstance(document, dict):
        raise _MalformedError("GLB JSON chunk is not an object")
    return GlbContainer(document, where.bin_length, where.bin_start)


def _obj(data: dict[str, Any], key: str) -> dict[str, Any]:
    value = data.get(key)
    return value if isinstance(value, dict) else {}


def _text(data: dict[str, Any], key: str) -> str | None:
    value = data.get(key)
    return value if isinstance(value, str) else None


def _vrm1(ext: dict[str, Any], shown: set[int], report: VrmReport) -> None:
    report.spec_version = "1.0"
    meta = _obj(ext, "meta")
    report.title = _text(meta, "name")
    report.license_url = _text(meta, "licenseUrl")
    if report.license_url != VRM1_LICENSE_URL:
        report.problems.append(f"VRM 1.0 meta.licenseUrl is {report.license_url!r}, must be {VRM1_LICENSE_URL}")
    humanoid = _obj(ext, "humanoid")
    bones = _obj(humanoid, "humanBones")
    _check_bones({b: v.get("node") for b, v in bones.items() if isinstance(v, dict)}, shown, report)


def _vrm0(ext: dict[str, Any], shown: set[int], report: VrmReport) -> None:
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
        shown,
        report,
    )


def _check_bones(mapping: dict[Any, Any], shown: set[int], report: VrmReport) -> None:
    """Every required bone mapped, each to a node the scene shows (three-vrm finds bones in the scene)."""
    report.bones = sorted(str(b) for b in mapping)
    assert report.spec_version is not None
    missing = sorted(required_bones(report.spec_version) - set(mapping))
    if missing:
        report.problems.append(f"required humanoid bones not mapped: {', '.join(missing)}")
    dangling = sorted(str(b) for b, node in mapping.items() if not _is_index(node) or node not in shown)
    if dangling:
        report.problems.append(f"humanoid bones pointing at no node of the scene: {', '.join(dangling)}")


def _is_index(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def _list(document: dict[str, Any], key: str) -> list[Any]:
    value = document.get(key)
    return value if isinstance(value, list) else []


def _size(data: dict[str, Any], key: str, default: int | None = None) -> int | None:
    """A non-negative integer field, `default` when absent, None when it is anything else."""
    value = data.get(key, default)
    return value if _is_index(value) else None


def _name_some(what: str, items: list[str], problem: str) -> str:
    more = f" (and {len(items) - _NAMED_AT_MOST} more)" if len(items) > _NAMED_AT_MOST else ""
    return f"{what} {', '.join(items[:_NAMED_AT_MOST])}{more} {problem}"


def _scene_nodes(document: dict[str, Any], report: VrmReport) -> set[int]:
    """The nodes of the scene a loader shows (the `scene`, else the first), following children."""
    nodes = _list(document, "nodes")
    scenes = _list(document, "scenes")
    chosen = document.get("scene", 0)
    scene = scenes[chosen] if _is_index(chosen) and chosen < len(scenes) else None
    if not isinstance(scene, dict):
        report.problems.append("no scene to show: a loader would find no nodes")
        return set()
    shown: set[int] = set()
    pending = [n for n in _list(scene, "nodes") if _is_index(n) and n < len(nodes)]
    while pending:
        index = pending.pop()
        if index in shown:
            continue
        shown.add(index)
        node = nodes[index]
        if isinstance(node, dict):
            pending.extend(c for c in _list(node, "children") if _is_index(c) and c < len(nodes))
    return shown


def _check_buffers(document: dict[str, Any], bin_length: int | None, report: VrmReport) -> None:
    """Buffers, buffer views and accessors all within the bytes the BIN chunk holds.

    A loader allocates what these declare (a 500 GB buffer, 33e9 elements) before reading a byte.
    """
    buffer_sizes: list[int | None] = []
    bad: list[str] = []
    fallbacks: set[int] = set()
    for index, buffer in enumerate(_list(document, "buffers")):
        entry = buffer if isinstance(buffer, dict) else {}
        size = _size(entry, "byteLength")
        if is_meshopt_fallback(entry) and index > 0:
            fallbacks.add(index)
            if size is None or size > MAX_DECODED_BUFFER:
                bad.append(f"{index} (a compressed file's decoded buffer of {entry.get('byteLength')!r} bytes)")
                size = None
        elif "uri" in entry or index > 0:
            bad.append(f"{index} (not the GLB's BIN chunk: a VRM carries its data inside)")
            size = None
        elif bin_length is None or size is None or size > bin_length:
            bad.append(f"{index} ({entry.get('byteLength')!r} bytes, the BIN chunk has {bin_length or 0})")
            size = None
        buffer_sizes.append(size)
    if bad:
        report.problems.append(_name_some("buffers", bad, "do not fit the file"))
    report.problems.extend(layout_problems(document, buffer_sizes, frozenset(fallbacks)))


def is_meshopt_fallback(buffer: Any) -> bool:
    """A buffer EXT_meshopt_compression declares to hold nothing: a loader allocates and decodes into it."""
    entry = buffer if isinstance(buffer, dict) else {}
    return _obj(_obj(entry, "extensions"), _MESHOPT).get("fallback") is True and "uri" not in entry


def layout_problems(
    document: dict[str, Any], buffer_sizes: list[int | None], fallbacks: frozenset[int] = frozenset()
) -> list[str]:
    """Buffer views within their buffers and accessors within their buffer views, given the bytes each
    buffer really has (None for a buffer that is itself refused); a view of a meshopt fallback buffer (in
    `fallbacks`) also needs its compressed bytes within a buffer that holds data. Accessors without a
    buffer view (zeros a loader allocates) bounded one by one and in all. What a loader would allocate
    from declared sizes."""
    problems: list[str] = []
    view_sizes: list[int | None] = []
    bad: list[str] = []
    for index, view in enumerate(_list(document, "bufferViews")):
        entry = view if isinstance(view, dict) else {}
        buffer, offset, size = _size(entry, "buffer"), _size(entry, "byteOffset", 0), _size(entry, "byteLength")
        room = buffer_sizes[buffer] if buffer is not None and buffer < len(buffer_sizes) else None
        stride = entry.get("byteStride", 4)
        source = _obj(_obj(entry, "extensions"), _MESHOPT)
        if source or buffer in fallbacks:
            home, start, length = _size(source, "buffer"), _size(source, "byteOffset", 0), _size(source, "byteLength")
            held = buffer_sizes[home] if home is not None and home < len(buffer_sizes) else None
            if home in fallbacks or held is None or start is None or length is None or start + length > held:
                room = None  # compressed bytes that are not in the file
        if room is None or offset is None or size is None or offset + size > room or not _is_index(stride):
            bad.append(str(index))
            size = None
        view_sizes.append(size)
    if bad:
        problems.append(_name_some("bufferViews", bad, "run past their buffer"))
    views = _Views(_list(document, "bufferViews"), view_sizes)
    accessors = _list(document, "accessors")
    bad = [str(i) for i, a in enumerate(accessors) if not _accessor_fits(a, views)]
    if bad:
        problems.append(_name_some("accessors", bad, "run past their bufferView or are malformed"))
    unbacked = sum(_unbacked_bytes(a) for a in accessors)
    if unbacked > MAX_UNBACKED_TOTAL:
        problems.append(f"accessors without a bufferView declare {unbacked} bytes of zeros in all, "
                        f"over the limit of {MAX_UNBACKED_TOTAL}")  # fmt: skip
    return problems


def _unbacked_bytes(accessor: Any) -> int:
    """The bytes of zeros an accessor without a buffer view asks a loader for (0 for any other)."""
    if not isinstance(accessor, dict) or "bufferView" in accessor:
        return 0
    element = _element_bytes(accessor)
    count = _size(accessor, "count")
    return element * count if element and count else 0


def _element_bytes(accessor: dict[str, Any]) -> int | None:
    component = glb.COMPONENT_BYTES.get(accessor.get("componentType"))  # type: ignore[arg-type]
    components = glb.COMPONENTS.get(accessor.get("type"))  # type: ignore[arg-type]
    return component * components if component is not None and components is not None else None


@dataclass(frozen=True)
class _Views:
    entries: list[Any]
    sizes: list[int | None]  # None for a view that is itself broken

    def hold(self, view: Any, offset: Any, count: int, element: int) -> bool:
        """`count` elements of `element` bytes from `offset` in buffer view `view`, strided as it says."""
        if not _is_index(view) or view >= len(self.sizes) or not _is_index(offset):
            return False
        size = self.sizes[view]
        stride = self.entries[view].get("byteStride") or element if size is not None else element
        return size is not None and offset + stride * (count - 1) + element <= size


def _sparse_fits(sparse: Any, count: int, element: int, views: _Views) -> bool:
    if not isinstance(sparse, dict):
        return False
    entries = _size(sparse, "count")
    indices, values = _obj(sparse, "indices"), _obj(sparse, "values")
    index_bytes = glb.COMPONENT_BYTES.get(indices.get("componentType"), 0)  # type: ignore[arg-type]
    return (
        entries is not None
        and 0 < entries <= count
        and indices.get("componentType") in _INDEX_COMPONENTS
        and views.hold(indices.get("bufferView"), indices.get("byteOffset", 0), entries, index_bytes)
        and views.hold(values.get("bufferView"), values.get("byteOffset", 0), entries, element)
    )


def _accessor_fits(accessor: Any, views: _Views) -> bool:
    if not isinstance(accessor, dict):
        return False
    element = _element_bytes(accessor)
    count = _size(accessor, "count")
    if element is None or not count:
        return False
    if "bufferView" in accessor:
        backed = views.hold(accessor["bufferView"], accessor.get("byteOffset", 0), count, element)
    else:
        backed = count * element <= _MAX_UNBACKED_ACCESSOR
    return backed and ("sparse" not in accessor or _sparse_fits(accessor["sparse"], count, element, views))


def _index_into(value: Any, items: list[Any]) -> bool:
    return _is_index(value) and int(value) < len(items)


def _vrma(document: dict[str, Any], report: VrmReport) -> None:
    """The VRMC_vrm_animation extension and the animation it drives."""
    extension = _obj(_obj(document, "extensions"), "VRMC_vrm_animation")
    used = document.get("extensionsUsed")
    if not extension or not isinstance(used, list) or "VRMC_vrm_animation" not in used:
        report.problems.append("no VRMC_vrm_animation extension (used and present): not a VRM Animation")
        return
    report.spec_version = _text(extension, "specVersion")
    if report.spec_version is None:
        report.problems.append("VRMC_vrm_animation has no specVersion")
    nodes = _list(document, "nodes")
    bones = _obj(_obj(extension, "humanoid"), "humanBones")
    report.bones = sorted(str(name) for name in bones)
    if "hips" not in bones:
        report.problems.append("VRMC_vrm_animation maps no hips bone: no humanoid can play it")
    unplaced = sorted(
        str(name) for name, bone in bones.items() if not _index_into(_obj(bones, name).get("node"), nodes)
    )
    if unplaced:
        report.problems.append(_name_some("humanoid bones", unplaced, "point at no node"))
    animations = _list(document, "animations")
    if not animations:
        report.problems.append("no animation in the file: nothing to play")
    accessors = _list(document, "accessors")
    bad: list[str] = []
    for number, animation in enumerate(animations):
        samplers = _list(animation, "samplers") if isinstance(animation, dict) else []
        channels = _list(animation, "channels") if isinstance(animation, dict) else []
        if not channels or not all(
            isinstance(c, dict) and _index_into(c.get("sampler"), samplers)
            and _index_into(_obj(c, "target").get("node"), nodes) for c in channels
        ) or not all(
            isinstance(s, dict) and _index_into(s.get("input"), accessors) and _index_into(s.get("output"), accessors)
            for s in samplers
        ):  # fmt: skip
            bad.append(str(number))
    if bad:
        report.problems.append(_name_some("animations", bad, "have no channels or point at nothing"))


def _inspect_container(
    source: BinaryIO, length: int, limits: VrmLimits, animation: bool = False
) -> tuple[VrmReport, GlbContainer | None]:
    report = VrmReport()
    try:
        container = _read_container(source, length, limits)
    except _MalformedError as exc:
        report.problems.append(str(exc))
        return report, None
    document = container.document
    extensions = _obj(document, "extensions")
    try:
        _check_buffers(document, container.bin_length, report)
        if animation:
            _vrma(document, report)
            return report, container
        shown = _scene_nodes(document, report)
        if "VRMC_vrm" in extensions:
            _vrm1(_obj(extensions, "VRMC_vrm"), shown, report)
        elif "VRM" in extensions:
            _vrm0(_obj(extensions, "VRM"), shown, report)
        else:
            report.problems.append("no VRMC_vrm or VRM extension: a plain glTF, not a VRM")
    except (TypeError, ValueError, AttributeError, KeyError) as exc:
        # A value of an unexpected JSON type somewhere deep: a broken file, never a crashed promoter.
        report.problems.append(f"malformed glTF or VRM extension ({type(exc).__name__}: {str(exc)[:200]})")
    return report, container


@dataclass(frozen=True)
class Glb:
    """A GLB's JSON document and its BIN chunk (empty when there is none)."""

    document: dict[str, Any]
    bin: memoryview


def inspect_glb(data: bytes, limits: VrmLimits | None = None) -> tuple[VrmReport, Glb | None]:
    """inspect_vrm's report, and the container it read (None when it could not be read) for further checks."""
    report, container = _inspect_container(io.BytesIO(data), len(data), limits or VrmLimits())
    if container is None:
        return report, None
    start, size = container.bin_start, container.bin_length or 0
    return report, Glb(container.document, memoryview(data)[start : start + size])


def inspect_vrm(data: bytes, limits: VrmLimits | None = None) -> VrmReport:
    """Checks a .vrm's bytes; the report's problems are empty when it is structurally a loadable VRM."""
    return _inspect_container(io.BytesIO(data), len(data), limits or VrmLimits())[0]


def inspect_vrm_file(path: Path, limits: VrmLimits | None = None) -> VrmReport:
    """inspect_vrm on a file, reading only its JSON chunk into memory (a VRM can be hundreds of MB)."""
    with path.open("rb") as source:
        return _inspect_container(source, path.stat().st_size, limits or VrmLimits())[0]


def inspect_vrma_file(path: Path, limits: VrmLimits | None = None) -> VrmReport:
    """The checks for a VRM Animation (.vrma) file, reading only its JSON chunk into memory."""
    with path.open("rb") as source:
        return _inspect_container(source, path.stat().st_size, limits or VrmLimits(), animation=True)[0]


def read_glb_file(source: BinaryIO, length: int, limits: VrmLimits | None = None) -> GlbContainer:
    """read_glb on an open file of `length` bytes, reading only its JSON chunk."""
    try:
        return _read_container(source, length, limits or VrmLimits())
    except _MalformedError as exc:
        raise ValueError(str(exc)) from None


def read_glb(data: bytes, limits: VrmLimits | None = None) -> GlbContainer:
    """A GLB container's (.glb, .vrm) JSON document and BIN chunk length; ValueError saying what is wrong."""
    try:
        return _read_container(io.BytesIO(data), len(data), limits or VrmLimits())
    except _MalformedError as exc:
        raise ValueError(str(exc)) from None


def glb_document(data: bytes, limits: VrmLimits | None = None) -> dict[str, Any]:
    """The JSON document of a GLB container (.glb, .vrm); ValueError saying what is wrong with it."""
    return read_glb(data, limits).document
