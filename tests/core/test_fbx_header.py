"""An FBX header's document title and author, read from the file's first bytes."""

from __future__ import annotations

import struct
from collections.abc import Callable

import pytest

from addon.core.models import fbx_header

Record = Callable[[int, bool], bytes]  # (where it starts, 64-bit offsets) -> its bytes


def _record(name: bytes, strings: tuple[bytes, ...] = (), children: tuple[Record, ...] = ()) -> Record:
    """A binary FBX record with string properties and nested records, as the FBX SDK writes them."""

    def build(start: int, wide: bool) -> bytes:
        head = struct.calcsize("<QQQB" if wide else "<IIIB") + len(name)
        props = b"".join(b"S" + struct.pack("<I", len(s)) + s for s in strings)
        body = b""
        for child in children:
            body += child(start + head + len(props) + len(body), wide)
        if children:
            body += b"\0" * (25 if wide else 13)  # the null record closing the list
        end = start + head + len(props) + len(body)
        fields = struct.pack("<QQQB" if wide else "<IIIB", end, len(strings), len(props), len(name))
        return fields + name + props + body

    return build


def _fbx(version: int, title: bytes, author: bytes) -> bytes:
    meta = _record(b"MetaData", (), (_record(b"Title", (title,)), _record(b"Author", (author,))))
    header = _record(
        b"FBXHeaderExtension",
        (),
        (_record(b"Creator", (b"FBX SDK/FBX Plugins version 2020.2",)), _record(b"SceneInfo", (b"x",), (meta,))),
    )
    start = b"Kaydara FBX Binary  \x00\x1a\x00" + struct.pack("<I", version)
    return start + header(len(start), version >= 7500) + b"\0" * 64


@pytest.mark.parametrize("version", [7400, 7500])
def test_the_document_title_and_author_are_read_the_creator_is_a_tool(version):
    data = _fbx(version, b"Knight", b"Kim Modeller")
    assert fbx_header.document_meta(data) == {"title": "Knight", "author": "Kim Modeller"}


def test_empty_fields_say_nothing():
    assert fbx_header.document_meta(_fbx(7400, b"", b"  ")) == {}
    assert fbx_header.document_meta(_fbx(7400, b"", b"Ann")) == {"author": "Ann"}


def test_a_header_cut_short_or_an_ascii_fbx_says_nothing():
    data = _fbx(7400, b"Knight", b"Kim Modeller")
    assert fbx_header.document_meta(data[:60]) == {}
    assert fbx_header.document_meta(b"; FBX 7.4.0 project file\nFBXHeaderExtension:  {\n") == {}
