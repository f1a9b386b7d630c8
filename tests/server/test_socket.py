"""The socket server as raw TCP clients see it: framing, bad input, many clients, vanishing clients,
slow commands, tokens, the execute-code policy, the audit log, and a clean headless start and stop."""

from __future__ import annotations

import contextlib
import json
import signal
import socket
import struct
import threading
import time
from pathlib import Path

import pytest

from tests.conftest import BLENDER_VERSION, run_forge
from tests.server.serving import Serving, port_is_free

TOKEN = "s3cret-token-0123456789"


@pytest.fixture(scope="module")
def server(demo_blend: Path, tmp_path_factory: pytest.TempPathFactory):
    temp = tmp_path_factory.mktemp("server-temp")
    with Serving("--blend", demo_blend, env={"TMPDIR": str(temp)}) as serving:
        serving.temp = temp
        yield serving


def test_two_requests_in_one_read_are_both_answered_in_order(server):
    client = server.client(timeout=5)  # a dropped second message fails here in seconds, not a minute
    client.send(b'{"type": "ping"}{"type": "get_scene_info", "params": {}}')
    assert client.reply() == {"status": "success", "result": {"pong": True}}
    scene = client.reply()["result"]
    assert {"Avatar", "AvatarBody"} <= {o["name"] for o in scene["objects"]}


def test_a_request_split_across_many_writes_is_answered_once(server):
    client = server.client()
    payload = json.dumps({"type": "get_object_info", "params": {"name": "AvatarBody"}}).encode()
    for i in range(0, len(payload), 3):
        client.send(payload[i : i + 3])
        time.sleep(0.002)
    info = client.reply()["result"]
    assert info["name"] == "AvatarBody" and info["type"] == "MESH" and info["mesh"]["vertices"] > 1000
    client.send({"type": "ping"})
    assert client.reply()["result"] == {"pong": True}  # nothing extra was queued before it


def test_garbage_and_bad_utf8_get_error_replies_and_the_connection_goes_on(server):
    client = server.client(timeout=5)
    assert client.result("ping") == {"pong": True}
    client.send(b"GET / HTTP/1.1\r\n\r\n")  # after a first request: garbage, skipped
    reply = client.reply()
    assert reply["status"] == "error" and "malformed JSON" in reply["message"]
    client.send(b'{"type": "ping", "params": {"x": "\xff"}}')
    reply = client.reply()
    assert reply["status"] == "error" and "UTF-8" in reply["message"]
    client.send(b'{"type": "get_scene_info", oops}')
    assert client.reply()["status"] == "error"
    assert client.result("ping") == {"pong": True}


def _browser_post(body: bytes) -> bytes:
    """The bytes a web page's fetch('http://127.0.0.1:PORT/', {method: 'POST', body}) sends: a "simple"
    text/plain request, so no preflight."""
    return (
        b"POST / HTTP/1.1\r\nHost: 127.0.0.1\r\nOrigin: http://evil.example\r\n"
        b"Content-Type: text/plain;charset=UTF-8\r\nContent-Length: " + str(len(body)).encode() + b"\r\n\r\n" + body
    )


@pytest.mark.parametrize("method", ["POST", "GET", "OPTIONS"])
def test_an_http_request_is_refused_by_name_and_its_body_never_runs(server, method):
    marker = server.temp / f"pwned-{method}"
    body = json.dumps({"type": "execute_code", "params": {"code": f"open({str(marker)!r}, 'w').write('x')"}})
    request = _browser_post(body.encode()).replace(b"POST", method.encode(), 1)
    client = server.client(timeout=5)
    client.send(request)
    reply = client.reply()
    assert reply["status"] == "error" and f"HTTP {method} request" in reply["message"]
    assert client.closed_by_server(5)
    # The server has answered and closed: had it run the body, the marker would be there by now.
    assert server.client(timeout=5).result("ping") == {"pong": True}
    assert not marker.exists()


@pytest.mark.parametrize(
    ("bad", "says"),
    [
        (b'{"a":[}}', "does not match"),
        (b'{"type": "ping", "params": {"a": ' + b"[" * 6000 + b"]" * 6000 + b"}}", "nested deeper"),
        (b'{"type": "ping", "params": {"n": ' + b"9" * 5000 + b"}}", "digits"),
    ],
)
def test_hostile_json_gets_an_error_reply_and_the_connection_goes_on(server, bad, says):
    client = server.client(timeout=5)
    assert client.result("ping") == {"pong": True}
    client.send(bad + b'{"type": "ping"}')
    reply = client.reply()
    assert reply["status"] == "error" and says in reply["message"]
    assert client.reply() == {"status": "success", "result": {"pong": True}}
    # Refusals are logged (once per host and minute, then counted): a line for malformed requests exists.
    assert 'refused="malformed request"' in server.audit_log.read_text()


def test_unknown_commands_get_blendermcps_error_and_unknown_params_are_ignored(server):
    client = server.client()
    assert client.request("make_coffee") == {"status": "error", "message": "Unknown command type: make_coffee"}
    huge = client.request("x" * 8 * 1024 * 1024)  # the error does not echo all of it
    assert huge["message"].startswith("Unknown command type: xxx") and len(huge["message"]) < 200
    assert client.result("ping", whatever=1) == {"pong": True}
    assert client.result("get_telemetry_consent") == {"consent": False}


def test_a_message_over_the_size_cap_is_refused_and_the_connection_closed(server):
    client = server.client()
    head = b'{"type": "execute_code", "params": {"code": "'
    body = b"a" * (64 * 1024 * 1024 + 1024)
    sender = threading.Thread(target=lambda: _send_ignoring_reset(client.sock, head + body))
    sender.start()
    reply = client.reply()
    sender.join(60)
    assert reply["status"] == "error" and "larger than 67108864 bytes" in reply["message"]
    assert client.closed_by_server()
    assert server.client().result("ping") == {"pong": True}


def _send_ignoring_reset(sock: socket.socket, data: bytes) -> None:
    with contextlib.suppress(OSError):  # the server may finish draining and close first
        sock.sendall(data)


def test_hundreds_of_pipelined_requests_are_all_answered_in_order(server):
    client = server.client(timeout=10)
    requests = [{"type": "execute_code", "params": {"code": f"print({i})"}} for i in range(300)]
    client.send(b"".join(json.dumps(r).encode() for r in requests))  # far more than the server keeps queued
    assert [client.reply()["result"]["result"] for _ in requests] == [f"{i}\n" for i in range(300)]


def test_sixteen_clients_at_once_each_get_their_own_answers(server):
    errors: list[str] = []

    def work(n: int) -> None:
        try:
            client = server.client()
            for i in range(10):
                out = client.result("execute_code", code=f"print({n * 100 + i})")["result"]
                if out.strip() != str(n * 100 + i):
                    errors.append(f"client {n} got {out!r} for {n * 100 + i}")
                client.send({"type": "ping"})
                if client.reply()["result"] != {"pong": True}:
                    errors.append(f"client {n}: ping answered wrongly")
            client.close()
        except Exception as exc:
            errors.append(f"client {n}: {exc!r}")

    threads = [threading.Thread(target=work, args=(n,)) for n in range(16)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert not [t for t in threads if t.is_alive()], "a client never got all its answers"
    assert errors == []


def test_clients_vanishing_mid_request_do_not_disturb_the_server(server):
    for _ in range(5):
        half = server.client()
        half.send(b'{"type": "get_scene_info", "par')
        half.close()
        gone = server.client()
        gone.send({"type": "execute_code", "params": {"code": "import time; time.sleep(0.05)"}})
        gone.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))  # reset, not FIN
        gone.close()
    client = server.client()
    assert client.result("get_scene_info")["object_count"] >= 2
    assert server.process.poll() is None


def test_a_slow_command_does_not_hold_up_other_clients_io(server, tmp_path):
    started, release = tmp_path / "started", tmp_path / "release"
    # The slow command holds the main thread until the test lets it go: whatever is answered before then
    # was answered without it, however long anything took.
    code = (
        f"import os, time\nopen({str(started)!r}, 'w').close()\n"
        f"while not os.path.exists({str(release)!r}): time.sleep(0.01)\nprint('slept')"
    )
    slow = server.client()
    slow.send({"type": "execute_code", "params": {"code": code}})
    _wait_until_started(started, server)
    other = server.client()
    assert other.result("ping") == {"pong": True}
    assert other.result("get_polyhaven_status")["enabled"] is False
    other.send({"type": "get_scene_info"})  # needs the main thread: answered once the slow one is done
    release.touch()
    assert other.reply()["status"] == "success"
    assert slow.reply()["result"]["result"] == "slept\n"


def _wait_until_started(started: Path, serving: Serving) -> None:
    """Waits for a command to create `started` (it runs on the main thread then), failing if the server died."""
    deadline = time.monotonic() + 60
    while not started.exists():
        assert time.monotonic() < deadline and serving.process.poll() is None, "the command never started"
        time.sleep(0.01)


def test_execute_code_returns_stdout_and_a_traceback_on_error(server):
    client = server.client()
    assert client.result("execute_code", code="print(bpy.data.objects['Avatar'].type)") == {
        "executed": True,
        "result": "ARMATURE\n",
    }
    reply = client.request("execute_code", code="x = 1\nprint('before')\nraise KeyError('missing bone')")
    assert reply["status"] == "error"
    detail = json.loads(reply["message"])
    assert detail["exception_type"] == "KeyError" and detail["output"] == "before\n"
    assert 'File "<execute_code>", line 3' in detail["traceback"] and "missing bone" in detail["traceback"]
    # sys.exit() in sent code is the sender's error; the server answers it and goes on.
    reply = client.request("execute_code", code="import sys\nsys.exit(3)")
    assert reply["status"] == "error" and json.loads(reply["message"])["exception_type"] == "SystemExit"
    assert client.result("ping") == {"pong": True}


def test_scene_info_lists_every_object_and_pages_with_offset_and_limit(server):
    client = server.client()
    client.result(
        "execute_code",
        code="for i in range(1000):\n"
        "    o = bpy.data.objects.new(f'Crowd{i:04d}', None)\n"
        "    bpy.context.scene.collection.objects.link(o)\n"
        "    o.location = (i, 0, 0)",
    )
    try:
        everything = client.result("get_scene_info")
        assert everything["object_count"] >= 1002
        names = [o["name"] for o in everything["objects"]]
        assert len(names) == everything["object_count"]
        assert {f"Crowd{i:04d}" for i in range(1000)} <= set(names)
        crowd = {o["name"]: o for o in everything["objects"] if o["name"].startswith("Crowd")}
        assert crowd["Crowd0007"] == {"name": "Crowd0007", "type": "EMPTY", "location": [7.0, 0.0, 0.0]}
        page = client.result("get_scene_info", offset=10, limit=25)
        assert [o["name"] for o in page["objects"]] == names[10:35]
        assert page["returned_count"] == 25 and page["object_count"] == everything["object_count"]
        bad = client.request("get_scene_info", limit=-1)
        assert bad["status"] == "error" and "limit" in bad["message"]
    finally:
        client.result(
            "execute_code",
            code="for o in [o for o in bpy.data.objects if o.name.startswith('Crowd')]: bpy.data.objects.remove(o)",
        )


def test_object_info_for_a_missing_object_is_an_error_naming_it(server):
    client = server.client()
    assert client.request("get_object_info", name="Nobody") == {
        "status": "error",
        "message": "Object not found: Nobody",
    }
    # A name that is not valid Unicode is a clear error, not a repr of Blender internals.
    reply = client.request("get_object_info", name="\ud800")
    assert reply == {"status": "error", "message": "'name' is not valid Unicode text (a lone surrogate)"}
    long = client.request("get_object_info", name="N" * 100_000)
    assert long["status"] == "error" and len(long["message"]) < 200


def _png_size(path: Path) -> tuple[int, int]:
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    return struct.unpack(">II", data[16:24])


def test_screenshot_headless_renders_a_png_inside_the_temp_folder_only(server, tmp_path):
    client = server.client()
    inside = server.temp / "shot.png"
    result = client.result("get_viewport_screenshot", filepath=str(inside), max_size=160, format="png")
    assert result["success"] is True and result["filepath"] == str(inside.resolve())
    width, height = _png_size(inside)
    assert (width, height) == (result["width"], result["height"]) and max(width, height) == 160

    outside = tmp_path / "elsewhere.png"  # not inside the server's temp folder (its TMPDIR)
    reply = client.request("get_viewport_screenshot", filepath=str(outside), max_size=160)
    assert reply["status"] == "error" and "inside" in reply["message"]
    escape = client.request("get_viewport_screenshot", filepath=str(server.temp / ".." / "escape.png"))
    assert escape["status"] == "error"
    assert not outside.exists() and not (server.temp.parent / "escape.png").exists()
    other = server.temp / "other.png"
    huge = client.request("get_viewport_screenshot", filepath=str(other), max_size=100_000)
    assert huge["status"] == "error" and "at most 4096" in huge["message"]
    zero = client.request("get_viewport_screenshot", filepath=str(other), max_size=0)
    assert zero["status"] == "error" and "at least 1" in zero["message"]
    nul = client.request("get_viewport_screenshot", filepath=str(server.temp / "a\0b.png"))
    assert nul["status"] == "error" and "NUL" in nul["message"] and "\0" not in nul["message"]
    assert not other.exists()


def test_screenshot_never_replaces_or_writes_through_an_existing_path(server, tmp_path):
    client = server.client()
    existing = server.temp / "existing.png"
    existing.write_bytes(b"keep me")
    outside = tmp_path / "outside.txt"  # a file elsewhere, reached through a link in the temp folder
    outside.write_bytes(b"outside")
    hard = server.temp / "hard.png"
    hard.hardlink_to(outside)
    soft = server.temp / "soft.png"
    soft.symlink_to(tmp_path / "not-there-yet.png")  # dangling: writing through it would create the file
    for path in (existing, hard, soft):
        reply = client.request("get_viewport_screenshot", filepath=str(path), max_size=32)
        # Refused before anything renders (place_new would refuse too, after a render for nothing).
        assert reply["status"] == "error" and "exists: screenshots are written only as new files" in reply["message"]
    assert existing.read_bytes() == b"keep me" and outside.read_bytes() == b"outside"
    assert not (tmp_path / "not-there-yet.png").exists()
    assert not [p for p in server.temp.iterdir() if p.name.startswith(".avatar-forge-shot-")]  # scratch removed


def test_integrations_we_do_not_ship_say_disabled_and_how_to_enable(server):
    client = server.client()
    for name in ("sketchfab", "hunyuan3d"):
        status = client.result(f"get_{name}_status")
        assert status["enabled"] is False
        assert "To use" in status["message"]
    polyhaven = client.result("get_polyhaven_status")  # shipped, and off until the user turns it on
    assert polyhaven["enabled"] is False and "turn Poly Haven on in its preferences" in polyhaven["message"]
    hyper3d = client.result("get_hyper3d_status")
    assert hyper3d["enabled"] is False and "turn Hyper3D Rodin on in its preferences" in hyper3d["message"]


@pytest.mark.smoke
def test_addon_info_names_us_and_lists_every_command(server):
    info = server.client().result("get_addon_info")
    assert info["name"] == "Avatar Forge" and info["blender_version"].split()[0] == BLENDER_VERSION
    assert {"get_scene_info", "execute_code", "avatar_list_presets", "avatar_export_vrm"} <= set(info["capabilities"])


def test_avatar_list_presets_shows_shipped_and_user_presets(server):
    user_presets = server.user_resources / "config" / "avatar_forge" / "presets"
    user_presets.mkdir(parents=True, exist_ok=True)
    shipped = Path(__file__).resolve().parents[2] / "addon" / "presets" / "companions-web.toml"
    (user_presets / "studio.toml").write_text(
        shipped.read_text().replace('name = "companions-web"', 'name = "studio"'), encoding="utf-8"
    )
    presets = {p["name"]: p for p in server.client().result("avatar_list_presets")["presets"]}
    assert {"companions-web", "studio"} <= set(presets)
    assert presets["studio"]["source"].endswith("studio.toml")


def test_avatar_commands_with_bad_params_answer_a_clear_error(server):
    reply = server.client().request("avatar_export_vrm", out="relative.vrm", preset="companions-web")
    assert reply["status"] == "error"
    assert reply["message"] == "'out' must be an absolute path to a .vrm file"


def test_audit_log_records_each_command_without_code_by_default(server):
    client = server.client()
    client.result("execute_code", code="print('audit-marker-1234')")
    client.request("no_such_command")
    log = server.audit_log.read_text()
    assert 'type="execute_code"' in log and "outcome=ok" in log
    assert 'type="no_such_command"' in log and "outcome=error" in log
    assert "audit-marker-1234" not in log


def test_token_required_refused_and_accepted(tmp_path):
    token_file = tmp_path / "token"
    token_file.write_text(TOKEN + "\n")
    with Serving("--token-file", token_file) as serving:
        anonymous = serving.client()
        reply = anonymous.request("execute_code", code="print('pwned')")
        assert reply["status"] == "error" and "authentication required" in reply["message"]
        assert anonymous.closed_by_server()

        wrong = serving.client()
        reply = wrong.request("auth", token="guess-guess-guess-guess")
        assert reply == {"status": "error", "message": "authentication failed: wrong token"}
        assert wrong.closed_by_server()

        # A lone surrogate cannot be encoded: still just a wrong token, and the server keeps serving.
        odd = serving.client()
        reply = odd.request("auth", token="\ud800")
        assert reply == {"status": "error", "message": "authentication failed: wrong token"}

        # Before authenticating, a client gets no room for big messages (64 KiB, not 64 MiB).
        bulky = serving.client()
        reply = bulky.request("auth", token="x" * 100_000)
        assert reply["status"] == "error" and "larger than 65536 bytes" in reply["message"]
        assert bulky.closed_by_server()

        # A web page's POST never gets as far as authentication.
        browser = serving.client(timeout=5)
        browser.send(_browser_post(b'{"type": "auth", "params": {"token": "x"}}'))
        assert "HTTP POST request" in browser.reply()["message"]

        friend = serving.client()
        assert friend.result("auth", token=TOKEN) == {"authenticated": True}
        assert friend.result("get_scene_info")["object_count"] >= 1
        # A second auth is an error, right token or wrong, and the connection goes on.
        for token in (TOKEN, "guess-guess-guess-guess"):
            again = friend.request("auth", token=token)
            assert again == {
                "status": "error",
                "message": "already authenticated: 'auth' is sent once, as the first message",
            }
        code, summary = serving.stop()
    assert code == 0
    assert summary["commands"] == 3  # only the authenticated client's commands ran
    log = serving.audit_log.read_text()
    refusals = [line for line in log.splitlines() if " refused=" in line]
    # One line each for the first of a kind; the second wrong token is counted into a closing line.
    assert sum('refused="authentication required"' in line for line in refusals) == 1
    assert sum('refused="authentication failed: wrong token"' in line for line in refusals) == 2
    assert any('refused="authentication failed: wrong token" repeats=1' in line for line in refusals)
    assert sum('refused="message too large"' in line for line in refusals) == 1
    assert sum('refused="not a JSON request"' in line for line in refusals) == 1
    assert "guess-guess" not in log


def test_binding_beyond_loopback_needs_a_token_file(tmp_path):
    result = run_forge("serve", "--host", "0.0.0.0", "--port", "0")
    assert result.code == 2
    assert "Traceback" not in result.stderr
    assert result.stderr.strip().splitlines()[-1].startswith("forge: error: binding 0.0.0.0")
    assert "token file" in result.stderr


def test_a_weak_or_missing_token_file_is_refused(tmp_path):
    short = tmp_path / "short"
    short.write_text("abc\n")
    for path in (short, tmp_path / "missing"):
        result = run_forge("serve", "--port", "0", "--token-file", path)
        assert result.code == 2 and "Traceback" not in result.stderr
        assert "token file" in result.stderr.strip().splitlines()[-1]


def test_port_in_use_is_one_clear_line_and_exit_2():
    with socket.create_server(("127.0.0.1", 0)) as taken:
        port = taken.getsockname()[1]
        result = run_forge("serve", "--port", str(port))
    assert result.code == 2
    assert "Traceback" not in result.stderr
    assert result.stderr.strip().splitlines()[-1] == (
        f"forge: error: port {port} on 127.0.0.1 is in use (another Blender or MCP server?): "
        "stop it or choose another port"
    )


def test_deny_policy_refuses_execute_code_naming_the_preference():
    with Serving("--execute-code", "deny") as serving:
        client = serving.client()
        reply = client.request("execute_code", code="print('hi')")
        assert reply["status"] == "error"
        assert "'Execute code' preference" in reply["message"] and "deny" in reply["message"]
        assert client.result("get_scene_info")["object_count"] >= 1


def test_audit_code_opt_in_writes_code_bodies():
    with Serving("--audit-code") as serving:
        serving.client().result("execute_code", code="print('audit-marker-5678')")
        serving.stop()
        assert "audit-marker-5678" in serving.audit_log.read_text()


@pytest.mark.smoke
@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_signal_stops_cleanly_closing_clients_and_freeing_the_port(sig):
    with Serving() as serving:
        clients = [serving.client() for _ in range(3)]
        for client in clients:
            assert client.result("ping") == {"pong": True}
        code, summary = serving.stop(sig)
        assert code == 0
        assert summary["port"] == serving.port and summary["commands"] == 3
        assert all(client.closed_by_server(5) for client in clients)
        assert port_is_free(serving.port)
        assert "Traceback" not in "".join(serving.stderr_lines)


def test_stop_while_a_client_is_mid_command_still_exits_0(tmp_path):
    started, release = tmp_path / "started", tmp_path / "release"
    # The command says when it runs, then holds the main thread until the test lets it go.
    code = (
        f"import os, time\nopen({str(started)!r}, 'w').close()\n"
        f"while not os.path.exists({str(release)!r}): time.sleep(0.01)"
    )
    with Serving() as serving:
        client = serving.client()
        client.send({"type": "execute_code", "params": {"code": code}})
        _wait_until_started(started, serving)
        serving.process.send_signal(signal.SIGTERM)  # the command is running now: it has not been released
        release.touch()
        code_, _ = serving.stop()
        assert code_ == 0
        assert client.closed_by_server(5)


def test_a_burst_of_signals_mid_command_stops_the_server_once(tmp_path):
    """Ctrl-C pressed again and again: a second signal arriving inside the first one's handler must not
    deadlock the main thread (a lock taken in a signal handler would)."""
    started, release = tmp_path / "started", tmp_path / "release"
    code = (
        f"import os, time\nopen({str(started)!r}, 'w').close()\n"
        f"while not os.path.exists({str(release)!r}): time.sleep(0.001)"
    )
    with Serving() as serving:
        client = serving.client()  # kept: a departed client's queued command is skipped
        client.send({"type": "execute_code", "params": {"code": code}})
        _wait_until_started(started, serving)
        for _ in range(2000):
            serving.process.send_signal(signal.SIGINT)
        release.touch()
        # The burst alone stops it (no signal after it: once stopped, the server restores the handlers it
        # found, and a Ctrl-C then interrupts Python's exit as it would any program's).
        code_, _ = serving.wait(timeout=60)
        assert code_ == 0
