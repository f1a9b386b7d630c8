"""What a binary FBX says about itself: the document title and author of its header (`FBXHeaderExtension >
SceneInfo > MetaData`), read from the first bytes of the file without reading the rest.

Binary FBX is a tree of records: end offset (u32, u64 from version 7500), property count, property list
length, a name, the properties (a type letter each), then nested records up to the end offset.
`Creator` names the tool that wrote the file, not a person, so it is never taken for the author.
"""

from __future__ import annotations

import struct
from typing import Final

HEADER_BYTES: Final = 1 << 16  # the header extension comes first and is a few hundred bytes
_MAGIC: Final = b"Kaydara FBX Binary  \x00"
_SCALARS: Final = {"Y": 2, "C": 1, "I": 4, "F": 4, "D": 8, "L": 8}
_PATH: Final = (b"FBXHeaderExtension", b"SceneInfo", b"MetaData")
_FIELDS: Final = {b"Title": "title", b"Author": "author"}


class _TruncatedError(ValueError):
    pass


def _record(data: bytes, at: int, wide: bool) -> tuple[int, bytes, list[object], int]:
    """(end offset, name, string properties (others as None), where its children start) of the record at `at`."""
    fmt = "<QQQB" if wide else "<IIIB"
    size = struct.calcsize(fmt)
    if at + size > len(data):
        raise _TruncatedError
    end, count, _length, name_length = struct.unpack_from(fmt, data, at)
    at += size
    name = data[at : at + name_length]
    at += name_length
    props: list[object] = []
    for _ in range(count):
        if at >= len(data):
            raise _TruncatedError
        kind = chr(data[at])
        at += 1
        if kind in _SCALARS:
            at += _SCALARS[kind]
            props.append(None)
        elif kind in "SR":
            (n,) = struct.unpack_from("<I", data, at)
            props.append(data[at + 4 : at + 4 + n] if kind == "S" else None)
            at += 4 + n
        elif kind in "fdlibc":
            _items, _encoding, n = struct.unpack_from("<III", data, at)
            at += 12 + n
            props.append(None)
        else:
            raise _TruncatedError
    return end, name, props, at


def _find(data: bytes, at: int, end: int, path: tuple[bytes, ...], wide: bool) -> dict[str, str]:
    """The MetaData fields found below the record list from `at` to `end`, following `path`."""
    found: dict[str, str] = {}
    while at < end:
        record_end, name, props, children = _record(data, at, wide)
        if record_end == 0:  # the null record closing a list
            break
        if path and name == path[0]:
            return _find(data, children, record_end, path[1:], wide)
        if not path and name in _FIELDS and props and isinstance(props[0], bytes):
            text = props[0].decode("utf-8", "replace").strip()
            if text:
                found[_FIELDS[name]] = text
        at = record_end
    return found


def document_meta(data: bytes) -> dict[str, str]:
    """{"title", "author"}: the header's MetaData Title and Author where they are set (not empty); {} for
    anything else (an ASCII FBX, a header cut short)."""
    if not data.startswith(_MAGIC) or len(data) < 27:
        return {}
    (version,) = struct.unpack_from("<I", data, 23)
    try:
        return _find(data, 27, len(data), _PATH, wide=version >= 7500)
    except (_TruncatedError, struct.error):
        return {}
