"""A stand-in for Hyper3D Rodin's v2 API (hyperhuman.deemos.com/api/v2, its documented "main site" requests and
answers: POST rodin (multipart), status and download (JSON), Bearer key) on 127.0.0.1, serving a tiny real
.glb. It echoes the key back, in a job's answer and in a wrong key's 401, as careless services do. It is not Rodin: the
real API stays the default everywhere."""

from __future__ import annotations

import json
import struct
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from tests.polyhaven_standin import triangle


def glb() -> bytes:
    document, data = triangle()
    document = {**document, "buffers": [{"byteLength": len(data)}]}
    for key in ("images", "textures", "materials"):
        document.pop(key)
    document["meshes"][0]["primitives"][0].pop("material")
    document["nodes"][0]["name"] = "RodinMesh"
    text = json.dumps(document).encode()
    text += b" " * (-len(text) % 4)
    data += b"\0" * (-len(data) % 4)
    chunks = struct.pack("<I4s", len(text), b"JSON") + text + struct.pack("<I4s", len(data), b"BIN\0") + data
    return struct.pack("<4sII", b"glTF", 2, 12 + len(chunks)) + chunks


class RodinStandIn:
    def __init__(self, key: str) -> None:
        self.key = key
        self.requests: list[tuple[str, bytes]] = []  # (path, body)
        self.glb_type = "model/gltf-binary"
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}/api/v2"
        threading.Thread(target=self._server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        standin = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.0"

            def log_message(self, *args: Any) -> None:
                pass

            def _send(self, status: int, kind: str, body: bytes) -> None:
                self.send_response(status)
                self.send_header("Content-Type", kind)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def do_GET(self) -> None:
                standin.requests.append((self.path, b""))
                if self.path == "/files/model.glb":
                    self._send(200, standin.glb_type, glb())
                else:
                    self._send(404, "application/json", b"{}")

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                standin.requests.append((self.path, body))
                sent = self.headers.get("Authorization", "")
                answer: dict[str, Any]
                if sent != f"Bearer {standin.key}":
                    answer = {"error": "INVALID_API_KEY", "message": f"no such key: {sent.removeprefix('Bearer ')}"}
                    self._send(401, "application/json", json.dumps(answer).encode())
                    return
                base = f"http://127.0.0.1:{standin._server.server_address[1]}"
                if self.path.endswith("/rodin"):
                    answer = {
                        "uuid": "task-7f3a", "jobs": {"uuids": ["job-1", "job-2"], "subscription_key": "sub-9c2e"},
                        "submit_time": "2026-12-06T10:00:00Z", "message": f"Submitted with key {standin.key}.",
                    }  # fmt: skip
                elif self.path.endswith("/status"):
                    answer = {"jobs": [{"uuid": "job-1", "status": "Done"}, {"uuid": "job-2", "status": "Done"}]}
                else:
                    answer = {"list": [
                        {"name": "preview.webp", "url": f"{base}/files/preview.webp"},
                        {"name": "../../../../base_basic_pbr.glb", "url": f"{base}/files/model.glb"},
                    ]}  # fmt: skip
                self._send(200, "application/json", json.dumps(answer).encode())

        return Handler
