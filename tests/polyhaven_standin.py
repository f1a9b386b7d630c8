"""A stand-in for Poly Haven's public API (api.polyhaven.com) on 127.0.0.1: the same paths and response
shapes as its documentation gives (`/categories/{type}`, `/assets?type=&categories=`, `/info/{id}`,
`/files/{id}`), serving tiny real files it makes, plus assets that misbehave the ways a hostile or broken
server could. It is not Poly Haven: the real API stays the default everywhere."""

from __future__ import annotations

import json
import struct
import threading
import time
import zlib
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

AUTHORS = {"Greg Zaal": "All"}


def png(rgb: tuple[int, int, int], size: int = 4) -> bytes:
    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    rows = b"".join(b"\0" + bytes(rgb) * size for _ in range(size))
    header = struct.pack(">IIBBBBB", size, size, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b"")


def hdr(size: int = 4) -> bytes:
    """A Radiance HDR image, flat (no run-length encoding below 8 pixels wide)."""
    header = f"#?RADIANCE\nFORMAT=32-bit_rle_rgbe\n\n-Y {size} +X {size}\n".encode()
    return header + bytes([128, 128, 160, 129]) * size * size


def triangle() -> tuple[dict[str, Any], bytes]:
    positions = struct.pack("<9f", 0, 0, 0, 1, 0, 0, 0, 0, 1)
    uvs = struct.pack("<6f", 0, 0, 1, 0, 0, 1)
    gltf = {
        "asset": {"version": "2.0"},
        "scene": 0,
        "scenes": [{"nodes": [0]}],
        "nodes": [{"mesh": 0, "name": "Crate"}],
        "meshes": [{"primitives": [{"attributes": {"POSITION": 0, "TEXCOORD_0": 1}, "material": 0}]}],
        "materials": [{"pbrMetallicRoughness": {"baseColorTexture": {"index": 0}}}],
        "textures": [{"source": 0}],
        "images": [{"uri": "textures/crate_diff.png"}],
        "buffers": [{"uri": "crate.bin", "byteLength": len(positions) + len(uvs)}],
        "bufferViews": [
            {"buffer": 0, "byteOffset": 0, "byteLength": len(positions)},
            {"buffer": 0, "byteOffset": len(positions), "byteLength": len(uvs)},
        ],
        "accessors": [
            {"bufferView": 0, "componentType": 5126, "count": 3, "type": "VEC3", "min": [0, 0, 0], "max": [1, 0, 1]},
            {"bufferView": 1, "componentType": 5126, "count": 3, "type": "VEC2"},
        ],
    }
    return gltf, positions + uvs


class StandIn:
    """The server; `requests` lists every path asked for, `url` is its API base."""

    def __init__(self) -> None:
        self.requests: list[str] = []
        self.files: dict[str, tuple[str, bytes | None]] = {}  # path -> (content type, body; None: special)
        self.assets: dict[str, dict[str, Any]] = {}
        self.file_lists: dict[str, Any] = {}
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"
        self._build()
        threading.Thread(target=self._server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def _file(self, name: str, kind: str, body: bytes | None) -> dict[str, Any]:
        self.files[f"/dl/{name}"] = (kind, body)
        return {"url": f"{self.url}/dl/{name}", "size": len(body or b""), "md5": "0"}

    def _asset(self, ident: str, kind: int, name: str, files: Any, **extra: Any) -> None:
        self.assets[ident] = {
            "name": name, "type": kind, "categories": extra.pop("categories", ["studio"]),
            "tags": extra.pop("tags", []), "download_count": extra.pop("downloads", 10), "authors": AUTHORS, **extra,
        }  # fmt: skip
        self.file_lists[ident] = files

    def _build(self) -> None:
        self._asset(
            "studio_small_01", 0, "Studio Small 01",
            {"hdri": {"1k": {"hdr": self._file("studio.hdr", "image/vnd.radiance", hdr())}}},
            categories=["studio", "indoor"], tags=["soft", "photo studio"], downloads=900,
        )  # fmt: skip
        self._asset(
            "plaid_fabric", 1, "Plaid Fabric",
            {
                "Diffuse": {"1k": {"png": self._file("plaid_diff.png", "image/png", png((200, 30, 30)))}},
                "Rough": {"1k": {"png": self._file("plaid_rough.png", "image/png", png((180, 180, 180)))}},
                "nor_gl": {"1k": {"png": self._file("plaid_nor.png", "image/png", png((128, 128, 255)))}},
                "blend": {"1k": {"blend": self._file("plaid.blend", "application/octet-stream", b"BLENDER")}},
            },
            categories=["fabric"], tags=["cloth", "tartan"], downloads=500, dimensions=[1000, 1000],
        )  # fmt: skip
        gltf, data = triangle()
        self._asset(
            "wooden_crate", 2, "Wooden Crate",
            {"gltf": {"1k": {"gltf": {
                **self._file("crate.gltf", "model/gltf+json", json.dumps(gltf).encode()),
                "include": {
                    "crate.bin": self._file("crate.bin", "application/octet-stream", data),
                    "textures/crate_diff.png": self._file("crate_diff.png", "image/png", png((150, 100, 50))),
                },
            }}}},
            categories=["props"], tags=["box"], downloads=300,
        )  # fmt: skip
        self._build_hostile()

    def _build_hostile(self) -> None:
        """Assets a hostile or broken server would send."""
        hdri = "image/vnd.radiance"
        self._asset("huge_sky", 0, "Huge", {"hdri": {"1k": {"hdr": self._file("huge.hdr", hdri, None)}}}, downloads=1)
        self._asset("endless_sky", 0, "Endless", {"hdri": {"1k": {"hdr": self._file("endless.hdr", hdri, None)}}})
        self._asset("slow_sky", 0, "Slow", {"hdri": {"1k": {"hdr": self._file("slow.hdr", hdri, None)}}})
        self._asset("late_sky", 0, "Late", {"hdri": {"1k": {"hdr": self._file("late.hdr", hdri, None)}}})
        self._asset("page_sky", 0, "Page", {"hdri": {"1k": {"hdr": self._file("page.hdr", "text/html", b"<html>")}}})
        self._asset("liar_sky", 0, "Liar", {"hdri": {"1k": {"hdr": self._file("liar.hdr", hdri, b"#!/bin/sh\nrm")}}})
        offsite = {"url": "https://attacker.invalid/sky.hdr", "size": 10}
        self._asset("offsite_sky", 0, "Offsite", {"hdri": {"1k": {"hdr": offsite}}})
        gltf, data = triangle()
        escaping = {**gltf, "buffers": [{"uri": "../../../escaped.bin", "byteLength": len(data)}]}
        self._asset(
            "escaping_crate", 2, "Escaping",
            {"gltf": {"1k": {"gltf": {
                **self._file("escaping.gltf", "model/gltf+json", json.dumps(escaping).encode()),
                "include": {
                    "../../../escaped.bin": self._file("escaped.bin", "application/octet-stream", data),
                    "textures/crate_diff.png": self._file("crate_diff2.png", "image/png", png((1, 2, 3))),
                },
            }}}},
        )  # fmt: skip
        unlisted = {**gltf, "images": [{"uri": "/etc/passwd.png"}]}
        self._asset(
            "unlisted_crate", 2, "Unlisted",
            {"gltf": {"1k": {"gltf": {
                **self._file("unlisted.gltf", "model/gltf+json", json.dumps(unlisted).encode()),
                "include": {"crate.bin": self._file("crate2.bin", "application/octet-stream", data)},
            }}}},
        )  # fmt: skip

    def _special(self, handler: BaseHTTPRequestHandler, path: str) -> None:
        kind = "image/vnd.radiance"
        if path == "/dl/huge.hdr":  # announces 10 GB
            handler.send_response(200)
            handler.send_header("Content-Type", kind)
            handler.send_header("Content-Length", str(10 * 1024**3))
            handler.end_headers()
            handler.wfile.write(hdr())
        elif path == "/dl/endless.hdr":  # no length, and it never stops
            handler.send_response(200)
            handler.send_header("Content-Type", kind)
            handler.end_headers()
            handler.wfile.write(hdr())
            block = b"\0" * 65536
            try:
                for _ in range(1024):  # 64 MB at most: the test's cap is far below
                    handler.wfile.write(block)
            except OSError:
                pass  # the client gave up, as it should
        elif path == "/dl/late.hdr":  # whole and valid, a second late
            body = hdr()
            handler.send_response(200)
            handler.send_header("Content-Type", kind)
            handler.send_header("Content-Length", str(len(body)))
            handler.end_headers()
            time.sleep(1)
            handler.wfile.write(body)
        elif path == "/dl/slow.hdr":  # headers, then silence
            handler.send_response(200)
            handler.send_header("Content-Type", kind)
            handler.send_header("Content-Length", "100000")
            handler.end_headers()
            handler.wfile.write(hdr())
            handler.wfile.flush()
            time.sleep(30)

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        standin = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.0"

            def log_message(self, *args: Any) -> None:
                pass

            def _json(self, value: Any, status: int = 200) -> None:
                body = json.dumps(value).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def do_GET(self) -> None:
                parts = urlsplit(self.path)
                path, query = parts.path, parse_qs(parts.query)
                standin.requests.append(self.path)
                head, _, rest = path.strip("/").partition("/")
                if head == "categories":
                    wanted = {"hdris": 0, "textures": 1, "models": 2}.get(rest)
                    counts: dict[str, int] = {}
                    for asset in standin.assets.values():
                        if wanted is None or asset["type"] == wanted:
                            for category in asset["categories"]:
                                counts[category] = counts.get(category, 0) + 1
                    self._json({"all": sum(counts.values()), **counts})
                elif head == "assets":
                    wanted = {"hdris": 0, "textures": 1, "models": 2}.get(query.get("type", [""])[0])
                    category = query.get("categories", [""])[0]
                    self._json({
                        key: asset for key, asset in standin.assets.items()
                        if wanted in (None, asset["type"]) and (not category or category in asset["categories"])
                    })  # fmt: skip
                elif head == "info" and rest in standin.assets:
                    self._json(standin.assets[rest])
                elif head == "files" and rest in standin.file_lists:
                    self._json(standin.file_lists[rest])
                elif path in standin.files:
                    kind, body = standin.files[path]
                    if body is None:
                        standin._special(self, path)
                        return
                    self.send_response(200)
                    self.send_header("Content-Type", kind)
                    self.send_header("Content-Length", str(len(body)))
                    self.end_headers()
                    self.wfile.write(body)
                else:
                    self._json({"error": "Not found"}, status=404)

        return Handler
