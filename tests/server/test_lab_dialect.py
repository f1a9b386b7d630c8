"""Blender Lab's official MCP dialect on the same listener as BlenderMCP's. No release of that server installs
here (it needs Blender 5.1, on Python 3.13), so `LabClient` is a client written from its published protocol:
one NUL-terminated `{"type": "execute", "code": ..., "strict_json": ...}` per connection, answered with
`{"status": "ok"|"error", "result": ...}`. The same code-execution policy, token and audit log apply."""

from __future__ import annotations

import json
import socket
from pathlib import Path
from typing import Any

import pytest

from tests.server.serving import Serving


class LabClient:
    """Blender Lab's MCP protocol as published: connect, send one request and a NUL, read the reply up to its
    NUL (or the end of the stream)."""

    def __init__(self, port: int) -> None:
        self.port = port

    def execute(self, code: str, strict_json: bool = False, then: bytes = b"") -> tuple[dict[str, Any], bool]:
        """The reply, and whether the server closed the connection after it."""
        request = json.dumps({"type": "execute", "code": code, "strict_json": strict_json}).encode() + b"\0"
        with socket.create_connection(("127.0.0.1", self.port), timeout=60) as sock:
            sock.sendall(request + then)
            data = b""
            while b"\0" not in data:
                chunk = sock.recv(65536)
                if not chunk:
                    break
                data += chunk
            reply, _, rest = data.partition(b"\0")
            sock.settimeout(10)
            closed = rest == b"" and sock.recv(1) == b""
        return json.loads(reply), closed


@pytest.fixture(scope="module")
def served():
    with Serving() as serving:
        yield serving


def test_execute_round_trips_and_closes_the_connection(served):
    reply, closed = LabClient(served.port).execute("print(bpy.context.scene.name)")
    assert reply == {"status": "ok", "result": "Scene\n"} and closed


def test_strict_json_returns_the_printed_value_or_says_why_not(served):
    client = LabClient(served.port)
    code = "import json; print(json.dumps({'objects': sorted(o.name for o in bpy.data.objects)}))"
    reply, _ = client.execute(code, strict_json=True)
    assert reply == {"status": "ok", "result": {"objects": ["Camera", "Cube", "Light"]}}
    reply, _ = client.execute("print('not json')", strict_json=True)
    assert reply["status"] == "error" and "must print exactly one JSON value" in reply["result"]
    reply, _ = client.execute("print('[1, NaN]')", strict_json=True)  # Python's json reads NaN; JSON has none
    assert reply["status"] == "error" and "must print exactly one JSON value" in reply["result"]


def test_an_exception_is_an_error_reply_and_the_server_goes_on(served):
    reply, closed = LabClient(served.port).execute("raise ValueError('no such bone')")
    assert reply["status"] == "error" and json.loads(reply["result"])["message"] == "no such bone" and closed
    assert LabClient(served.port).execute("print(1)")[0] == {"status": "ok", "result": "1\n"}


def test_only_one_request_runs_per_connection(served, tmp_path):
    second = tmp_path / "second-ran"
    then = json.dumps({"type": "execute", "code": f"open({str(second)!r}, 'w')"}).encode() + b"\0"
    reply, closed = LabClient(served.port).execute("print('first')", then=then)
    assert reply["result"] == "first\n" and closed
    assert not second.exists()


def test_blendermcp_clients_share_the_listener(served):
    client = served.client()
    assert client.result("get_object_info", name="Cube")["type"] == "MESH"
    assert LabClient(served.port).execute("print(len(bpy.data.objects))")[0]["result"] == "3\n"
    assert client.result("ping") == {"pong": True}  # the BlenderMCP connection is untouched


def test_each_request_is_in_the_audit_log(served):
    LabClient(served.port).execute("print('audited')")
    lines = [line for line in served.audit_log.read_text().splitlines() if "Blender Lab dialect" in line]
    assert lines and all('type="execute (Blender Lab dialect)"' in line for line in lines)
    assert any("outcome=ok" in line for line in lines) and any("outcome=error" in line for line in lines)


def test_the_execute_code_policy_applies(tmp_path: Path):
    ran = tmp_path / "ran"
    with Serving("--execute-code", "deny") as serving:
        reply, closed = LabClient(serving.port).execute(f"open({str(ran)!r}, 'w')")
    assert reply["status"] == "error" and "execute_code is denied" in reply["result"] and closed
    assert not ran.exists()


def test_a_server_with_a_token_refuses_it_in_its_own_dialect(tmp_path: Path):
    token, ran = tmp_path / "token", tmp_path / "ran"
    token.write_text("a-token-the-lab-client-cannot-send\n")
    with Serving("--token-file", token) as serving:
        reply, closed = LabClient(serving.port).execute(f"open({str(ran)!r}, 'w')")
        audit = serving.audit_log.read_text()
    assert reply["status"] == "error" and "takes a token, which Blender Lab's MCP client cannot send" in reply["result"]
    assert closed and not ran.exists()
    assert 'refused="authentication required"' in audit
