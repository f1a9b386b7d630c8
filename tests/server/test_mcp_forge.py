"""Avatar Forge's own MCP server, `forge.py mcp`, the way VS Code runs it: the official SDK's stdio client
spawns it, and it drives a real `forge.py serve` (with a token) holding the demo avatar. Every tool is
called; errors must arrive as MCP tool errors carrying the server's message. It must never import bpy: a
`bpy` that refuses to import is put first on its path."""

from __future__ import annotations

import base64
import json
import os
import select
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

import anyio
import pytest
from mcp import ClientSession, StdioServerParameters
from mcp.client.stdio import stdio_client

from tests.conftest import FORGE, QUICK, quick_preset_user
from tests.console_lines import chatter
from tests.server.serving import Serving, port_is_free

pytestmark = pytest.mark.slow  # a serving Blender and every tool called through it: over ten seconds

PNG = b"\x89PNG\r\n\x1a\n"
Call = tuple[str, dict[str, Any]]


@pytest.fixture(scope="module")
def no_bpy(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("no-bpy")
    (folder / "bpy.py").write_text("raise ImportError('forge.py mcp must not import bpy')\n")
    return folder


def _params(*args: object, pythonpath: Path | None = None) -> StdioServerParameters:
    env = {"PATH": os.environ.get("PATH", ""), "HOME": os.environ.get("HOME", "")}
    if pythonpath is not None:
        env["PYTHONPATH"] = str(pythonpath)
    return StdioServerParameters(command=sys.executable, args=[str(FORGE), "mcp", *map(str, args)], env=env)


def session(params: StdioServerParameters, calls: list[Call], errlog: TextIO = sys.stderr) -> dict[str, Any]:
    """Starts the server over stdio (its log to `errlog`), lists its tools, then makes each call in order."""

    async def run() -> dict[str, Any]:
        async with stdio_client(params, errlog=errlog) as (read, write), ClientSession(read, write) as client:
            await client.initialize()
            out: dict[str, Any] = {"tools": {tool.name: tool for tool in (await client.list_tools()).tools}}
            for i, (name, arguments) in enumerate(calls):
                with anyio.fail_after(300):
                    out[f"{i}:{name}"] = await client.call_tool(name, arguments)
            return out

    return anyio.run(run)


def text(result: Any) -> str:
    return "".join(part.text for part in result.content if part.type == "text")


def ok(result: Any) -> Any:
    assert not result.isError, text(result)
    return json.loads(text(result))


def error(result: Any) -> str:
    assert result.isError, text(result)
    return text(result)


def png(result: Any) -> bytes:
    assert not result.isError, text(result)
    (image,) = [part for part in result.content if part.type == "image"]
    assert image.mimeType == "image/png"
    data = base64.b64decode(image.data)
    assert data[:8] == PNG
    return data


def png_size(data: bytes) -> tuple[int, int]:
    return int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")


@dataclass
class Served:
    serving: Serving
    token_file: Path
    storage: Path
    out: Path


@pytest.fixture(scope="module")
def served(demo_blend: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    folder = tmp_path_factory.mktemp("mcp-forge")
    token = folder / "token"
    token.write_text("a-token-for-the-mcp-server-test\n")
    storage = folder / "storage"
    storage.mkdir()
    env = {"AVATAR_FORGE_STORAGE_ROOT": str(storage)}
    user = quick_preset_user(folder / "user", QUICK)  # the export and publish render no thumbnail
    with Serving("--blend", demo_blend, "--token-file", token, env=env, user_resources=user) as serving:
        yield Served(serving, token, storage, folder)


@pytest.fixture(scope="module")
def tools(served: Served, no_bpy: Path) -> dict[str, Any]:
    vrm = served.out / "Avatar.vrm"
    calls: list[Call] = [
        ("get_scene_info", {}),
        ("get_object_info", {"name": "AvatarBody"}),
        ("get_object_info", {"name": "Nobody"}),
        ("execute_code", {"code": "print(bpy.data.objects['Avatar'].type)"}),
        ("execute_code", {"code": "raise ValueError('no such bone')"}),
        ("get_viewport_screenshot", {"max_size": 160}),
        ("list_presets", {}),
        # Lift the avatar off the ground: a finding with a safe fix, for fix_rig to mend.
        ("execute_code", {"code": "bpy.data.objects['Avatar'].location.z += 0.25"}),
        ("check_rig", {"preset": "companions-web"}),
        ("fix_rig", {"finding": "not_grounded"}),
        ("fix_rig", {"finding": "no_such_finding"}),
        ("fix_rig", {}),
        ("fix_rig", {"all_safe": True}),
        ("export_vrm", {"out": str(vrm), "preset": QUICK, "meta": {"name": "Via MCP"}}),
        ("export_vrm", {"out": str(vrm), "preset": QUICK}),
        ("publish", {"name": "Mcp-Avatar", "preset": QUICK}),
        ("import_avatar", {"path": str(vrm)}),
        ("render_preview", {"size": 128}),
        ("render_preview", {"size": 128, "expression": "happy"}),
        ("render_preview", {"expression": "sneer"}),
        ("check_rig", {"preset": "no-such-preset"}),
        ("get_scene_info", {"bogus": 1}),
        # The demo's body, its armature discarded, rigged anew from the mesh alone.
        ("auto_rig", {"meshes": ["AvatarBody"], "replace": True}),
        ("auto_rig", {"meshes": ["Nobody"]}),
        # The demo has no action: the clip check refuses, naming why; frames must be a pair.
        ("export_animation", {"out": str(served.out / "Clip.vrma")}),
        ("export_animation", {"out": str(served.out / "Clip.vrma"), "frames": [1]}),
    ]
    args = ("--port", served.serving.port, "--token-file", served.token_file)
    return session(_params(*args, pythonpath=no_bpy), calls)


def test_every_tool_is_listed_with_a_schema_and_a_description(tools):
    listed = tools["tools"]
    assert set(listed) == {
        "get_scene_info", "get_object_info", "execute_code", "get_viewport_screenshot",
        "check_rig", "fix_rig", "list_presets", "export_vrm", "publish", "import_avatar", "render_preview",
        "auto_rig", "create_object", "modify_object", "set_material", "duplicate_object", "delete_object",
        "polyhaven_search", "polyhaven_download", "hyper3d_generate", "export_animation", "publish_animation",
    }  # fmt: skip
    for tool in listed.values():
        assert len(tool.description) > 60 and tool.inputSchema["type"] == "object"
    assert listed["export_vrm"].inputSchema["required"] == ["out", "preset"]
    assert listed["get_object_info"].inputSchema["properties"]["name"]["type"] == "string"


def test_scene_and_object_info(tools):
    scene = ok(tools["0:get_scene_info"])
    assert {"Avatar", "AvatarBody"} <= {o["name"] for o in scene["objects"]}
    body = ok(tools["1:get_object_info"])
    assert body["type"] == "MESH" and body["mesh"]["vertices"] > 1000
    assert error(tools["2:get_object_info"]) == "Object not found: Nobody"


def test_execute_code_returns_what_it_printed_and_the_servers_error(tools):
    assert text(tools["3:execute_code"]) == "ARMATURE\n"
    failure = json.loads(error(tools["4:execute_code"]))  # the socket server's own message, whole
    assert failure["exception_type"] == "ValueError" and failure["message"] == "no such bone"


def test_viewport_screenshot_is_an_inline_png(tools):
    assert max(png_size(png(tools["5:get_viewport_screenshot"]))) == 160


def test_list_presets(tools):
    names = {preset["name"] for preset in ok(tools["6:list_presets"])["presets"]}
    assert {"companions-web", "companions-web-lite", "vrm0-legacy"} <= names


def test_check_rig_lists_findings_with_fix_ids_and_fix_rig_mends_one(tools):
    report = ok(tools["8:check_rig"])
    (lifted,) = [f for f in report["findings"] if f["id"] == "not_grounded"]
    assert lifted["fixable"] is True and lifted["severity"] == "warning"
    fixed = ok(tools["9:fix_rig"])
    assert "not_grounded" not in {f["id"] for f in fixed["findings"]}
    assert error(tools["10:fix_rig"]) == "no finding 'no_such_finding' to fix"
    assert "either 'finding'" in error(tools["11:fix_rig"])
    assert ok(tools["12:fix_rig"])["ok"] is True


def test_export_vrm_writes_the_file_and_refuses_to_overwrite(tools, served):
    result = ok(tools["13:export_vrm"])
    vrm = Path(result["path"])
    assert vrm.read_bytes()[:4] == b"glTF" and result["bytes"] == vrm.stat().st_size
    assert "exists" in error(tools["14:export_vrm"])


def test_publish_puts_version_1_into_the_storage_root(tools, served):
    published = ok(tools["15:publish"])
    assert published["version"] == 1
    assert (served.storage / "exports" / "Mcp-Avatar-v1.vrm").is_file()


def test_import_avatar_brings_the_exported_vrm_into_the_scene(tools):
    imported = ok(tools["16:import_avatar"])
    assert imported["format"] == "vrm" and imported["armature"] and imported["path"].endswith("Avatar.vrm")
    assert imported["meta"]["name"] == "Via MCP" and len(imported["objects"]) >= 2


def test_render_preview_shows_the_expression_and_leaves_the_scene_alone(tools):
    neutral, happy = png(tools["17:render_preview"]), png(tools["18:render_preview"])
    assert png_size(neutral) == png_size(happy) == (128, 128)
    assert neutral != happy
    assert "expression happy (shape keys: happy)" in text(tools["18:render_preview"])
    refused = error(tools["19:render_preview"])
    assert "'sneer'" in refused and "happy" in refused  # says which expressions the scene has


def test_bad_arguments_are_tool_errors(tools):
    assert "unknown preset 'no-such-preset'" in error(tools["20:check_rig"])
    assert "bogus" in error(tools["21:get_scene_info"])  # the schema refuses unknown arguments


def test_the_render_left_shape_keys_as_they_were(served):
    client = served.serving.client()
    client.result("auth", token=served.token_file.read_text().strip())
    code = "print(sorted((k.name, k.value) for k in bpy.data.objects['AvatarBody'].data.shape_keys.key_blocks))"
    values = client.result("execute_code", code=code)["result"]
    assert "('happy', 0.0)" in values and "1.0" not in values


def test_without_blender_every_tool_says_how_to_start_it(no_bpy, tmp_path):
    free = next(p for p in range(39000, 39100) if port_is_free(p))
    calls: list[Call] = [("check_rig", {}), ("render_preview", {})]
    with (tmp_path / "log").open("w") as log:
        out = session(_params("--port", free, pythonpath=no_bpy), calls, errlog=log)
    assert "Traceback" not in (tmp_path / "log").read_text()  # not even when the session ends
    assert len(out["tools"]) == 22  # the server itself starts and lists its tools
    for key in ("0:check_rig", "1:render_preview"):
        message = error(out[key])
        assert message.startswith(f"Blender is not reachable at 127.0.0.1:{free}")
        assert "MCP Server > Start" in message and "forge.py serve --blend FILE" in message


def test_a_wrong_token_is_one_clear_error(served, no_bpy, tmp_path):
    wrong = tmp_path / "token"
    wrong.write_text("not-the-token-at-all-000\n")
    out = session(
        _params("--port", served.serving.port, "--token-file", wrong, pythonpath=no_bpy), [("list_presets", {})]
    )
    assert "refused the token" in error(out["0:list_presets"])


def test_reconnects_when_blender_restarts(demo_blend: Path, no_bpy: Path):
    first = Serving("--blend", demo_blend)
    port = first.port
    calls = [("get_object_info", {"name": "AvatarBody"})]

    async def run() -> list[Any]:
        params = _params("--port", port, pythonpath=no_bpy)
        results = []
        async with stdio_client(params) as (read, write), ClientSession(read, write) as client:
            await client.initialize()
            results.append(await client.call_tool(*calls[0]))
            assert first.stop()[0] == 0
            results.append(await client.call_tool(*calls[0]))  # Blender is gone
            with Serving("--blend", demo_blend, "--port", str(port)) as second:
                assert second.port == port
                results.append(await client.call_tool(*calls[0]))  # back, on the same port
        return results

    before, gone, after = anyio.run(run)
    assert ok(before)["name"] == ok(after)["name"] == "AvatarBody"
    assert error(gone).startswith(f"Blender is not reachable at 127.0.0.1:{port}")


def _pid_gone(pid: int, within: float) -> bool:
    """Waits for process `pid` (not our child) to end: a pidfd becomes readable when it does."""
    try:
        fd = os.pidfd_open(pid)
    except ProcessLookupError:
        return True
    try:
        return bool(select.select([fd], [], [], within)[0])
    finally:
        os.close(fd)


def test_blend_without_a_listening_blender_starts_a_private_one_and_stops_it(demo_blend: Path, tmp_path: Path):
    free = next(p for p in range(39100, 39200) if port_is_free(p))  # nothing listens where it would look
    code = "import os; print(os.getpid(), bpy.data.filepath)"
    out = session(_params("--port", free, "--blend", demo_blend), [("execute_code", {"code": code})])
    pid, opened = text(out["0:execute_code"]).split()
    assert Path(opened) == demo_blend and int(pid) != os.getpid()
    assert _pid_gone(int(pid), within=30), "the private Blender outlived its MCP session"


def test_a_missing_blend_file_is_one_line_and_exit_2(tmp_path: Path):
    done = subprocess.run(
        [sys.executable, str(FORGE), "mcp", "--blend", str(tmp_path / "absent.blend")],
        capture_output=True, text=True, stdin=subprocess.DEVNULL, check=False, timeout=60,
    )  # fmt: skip
    assert done.returncode == 2 and done.stdout == ""
    assert done.stderr.startswith("forge: error:") and "absent.blend" in done.stderr
    assert len(done.stderr.splitlines()) == 1


def test_blend_with_a_blender_already_listening_uses_it_and_opens_nothing_there(served, tmp_path: Path):
    other = tmp_path / "Other.blend"
    other.write_bytes(b"not opened")  # a running Blender's unsaved work must never be replaced by a file
    args = ("--port", served.serving.port, "--token-file", served.token_file, "--blend", other)
    with (tmp_path / "log").open("w") as log:
        out = session(_params(*args), [("execute_code", {"code": "print(bpy.data.filepath)"})], errlog=log)
    assert Path(text(out["0:execute_code"]).strip()).name == "Avatar.blend"
    assert f"a Blender already listens on 127.0.0.1:{served.serving.port}; using it" in (tmp_path / "log").read_text()


def test_auto_rig_rigs_the_meshes_anew_and_offers_the_next_steps(tools):
    rigged = ok(tools["22:auto_rig"])
    assert rigged["replaced_armatures"] == ["Avatar"] and [p["mesh"] for p in rigged["parts"]] == ["AvatarBody"]
    assert {"hips", "head", "leftHand", "rightFoot"} <= set(rigged["mapping"])
    assert any("check_rig" in step for step in rigged["next_steps"])
    assert any("export_vrm" in step for step in rigged["next_steps"])
    assert "not a mesh in this scene: Nobody" in error(tools["23:auto_rig"])


def test_the_serving_blender_logs_its_warnings_only(tools, served):
    # The tools imported a VRM, auto-rigged, fixed, exported and rendered: none of Blender's chatter (the
    # importer's INFO line per node, render timings) in the log of the Blender serving them, which for
    # `mcp --blend` is the MCP server's stderr.
    assert chatter("".join(served.serving.stderr_lines)) == []


def test_export_animation_says_why_a_scene_has_no_clip(tools, served):
    assert "clip check found errors" in error(tools["24:export_animation"])
    assert "has no action" in error(tools["24:export_animation"])
    assert not (served.out / "Clip.vrma").exists()
    assert "[1]" in error(tools["25:export_animation"])  # the schema wants [start, end]
