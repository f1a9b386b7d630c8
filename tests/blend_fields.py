"""Single-field edits of a .blend file, located through the struct catalogue (SDNA) every .blend carries:
what the fuzz and crash tests mutate. Reads Blender 4.x files (8-byte pointers, little-endian, BHead of 24
bytes), zstd-compressed or not; writes them uncompressed."""

from __future__ import annotations

import re
import struct
from dataclasses import dataclass
from pathlib import Path

import zstandard

_ZSTD = b"\x28\xb5\x2f\xfd"
_NUMBERS = {"char": "<b", "uchar": "<B", "short": "<h", "ushort": "<H", "int": "<i", "uint": "<I", "float": "<f",
            "int8_t": "<b", "uint8_t": "<B", "int16_t": "<h", "uint16_t": "<H", "int32_t": "<i",
            "uint32_t": "<I"}  # fmt: skip


@dataclass(frozen=True)
class Field:
    struct: str  # the DNA struct, e.g. Mesh
    name: str  # the field, e.g. totvert
    at: int  # its offset in the (uncompressed) file
    format: str  # its struct module format


def uncompressed(data: bytes) -> bytes:
    if data.startswith(_ZSTD):
        return zstandard.ZstdDecompressor().stream_reader(data).read()
    assert data.startswith(b"BLENDER-v"), "a Blender 4.x .blend with 8-byte pointers"
    return data


def _strings(data: bytes, at: int, count: int) -> tuple[list[str], int]:
    found = []
    for _ in range(count):
        end = data.index(b"\0", at)
        found.append(data[at:end].decode())
        at = end + 1
    return found, at


def _catalogue(
    data: bytes, start: int
) -> tuple[list[str], list[str], list[int], list[list[tuple[int, int]]], list[int]]:
    """names, types, type sizes, each struct's (type, name) fields, each struct's type: the DNA1 block."""

    def aligned(at: int) -> int:
        return start + ((at - start + 3) & ~3)

    at = start + 8  # SDNA NAME
    names, at = _strings(data, at + 4, struct.unpack_from("<i", data, at)[0])
    at = aligned(at) + 4  # TYPE
    types, at = _strings(data, at + 4, struct.unpack_from("<i", data, at)[0])
    at = aligned(at) + 4  # TLEN
    sizes = list(struct.unpack_from(f"<{len(types)}h", data, at))
    at = aligned(at + 2 * len(types)) + 4  # STRC
    count = struct.unpack_from("<i", data, at)[0]
    at += 4
    fields, struct_types = [], []
    for _ in range(count):
        kind, n = struct.unpack_from("<hh", data, at)
        fields.append([struct.unpack_from("<hh", data, at + 4 + 4 * i) for i in range(n)])
        struct_types.append(kind)
        at += 4 + 4 * n
    return names, types, sizes, fields, struct_types


def number_fields(data: bytes) -> list[Field]:
    """Every plain number field (no pointer, no array) of every struct stored in the file, in file order."""
    blocks, dna, at = [], None, 12
    while at < len(data):
        code = data[at : at + 4]
        length, _old, sdna, count = struct.unpack_from("<iQii", data, at + 4)
        if code == b"ENDB":
            break
        if code == b"DNA1":
            dna = at + 24
        else:
            blocks.append((at + 24, sdna, count))
        at += 24 + length
    assert dna is not None, "no DNA1 block"
    names, types, sizes, fields, struct_types = _catalogue(data, dna)
    found = []
    for start, sdna, count in blocks:
        if not 0 < sdna < len(fields):
            continue
        size, offset, layout = sizes[struct_types[sdna]], 0, []
        for kind, name_index in fields[sdna]:
            name = names[name_index]
            pointer = name.startswith(("*", "(*"))
            width = 8 if pointer else sizes[kind]
            for dimension in re.findall(r"\[(\d+)\]", name):
                width *= int(dimension)
            if not pointer and "[" not in name and types[kind] in _NUMBERS:
                layout.append((name, offset, _NUMBERS[types[kind]]))
            offset += width
        for index in range(count):
            for name, offset, fmt in layout:
                found.append(Field(types[struct_types[sdna]], name, start + index * size + offset, fmt))
    return found


def set_field(data: bytes, field: Field, value: float) -> bytes:
    """`data` (uncompressed) with `field` set to `value` (clamped to the field's range)."""
    if field.format != "<f":
        bits = 8 * struct.calcsize(field.format)
        low, high = (0, 2**bits - 1) if field.format.isupper() else (-(2 ** (bits - 1)), 2 ** (bits - 1) - 1)
        value = max(low, min(high, int(value)))
    edited = bytearray(data)
    struct.pack_into(field.format, edited, field.at, value)
    return bytes(edited)


def get_field(data: bytes, field: Field) -> float:
    value: float = struct.unpack_from(field.format, data, field.at)[0]
    return value


# Found by the fuzz test (tests/corpus/test_fuzz.py): the first mesh claims more vertices than its arrays hold,
# and Blender 4.5 crashes (SIGSEGV) appending or opening the file, every time.
CRASHER = ("Mesh", "totvert", 1 << 20)


def crashing(source: Path) -> bytes:
    """The .blend `source` with CRASHER applied: a file that crashes the Blender that reads it."""
    data = uncompressed(source.read_bytes())
    struct_name, name, value = CRASHER
    field = next(f for f in number_fields(data) if (f.struct, f.name) == (struct_name, name))
    return set_field(data, field, value)
