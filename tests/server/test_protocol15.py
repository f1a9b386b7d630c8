"""Protocol 15's commands on the socket, as mcp-for-blender 2.2.4 sends them: name search, picking the
object under a click on a capture, telemetry consent that stays false, and empty trajectory capture."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.server.serving import Client, Serving


@pytest.fixture(scope="module")
def client(demo_blend: Path):
    with Serving("--blend", demo_blend) as serving:
        yield serving.client()


def test_addon_info_says_protocol_15_and_lists_its_commands(client: Client):
    info = client.result("get_addon_info")
    assert info["protocol_version"] == 15 and info["premium_generators"] == []
    assert {"list_scene_items", "pick_viewport_object", "set_telemetry_consent", "drain_human_activity"} <= set(
        info["capabilities"]
    )


def test_every_integration_probe_answers_disabled(client: Client):
    for name in ("polyhaven", "sketchfab", "polypizza", "hunyuan3d", "hyper3d", "meshy"):
        assert client.result(f"get_{name}_status")["enabled"] is False, name


def test_telemetry_consent_stays_false_whatever_is_set(client: Client):
    assert client.result("set_telemetry_consent", consent=True) == {"consent": False}
    assert client.result("get_telemetry_consent") == {"consent": False}


def test_trajectory_capture_gets_nothing(client: Client):
    assert client.result("get_world_state_snapshot") == {}
    assert client.result("drain_human_activity") == {"events": []}


def test_list_scene_items_ranks_prefix_matches_first_and_limits(client: Client):
    found = client.result("list_scene_items", query="body", limit=30)
    assert found["items"] == [{"kind": "object", "name": "AvatarBody", "detail": found["items"][0]["detail"]}]
    assert found["items"][0]["detail"].startswith("Mesh object, ")
    everything = client.result("list_scene_items", query="", limit=2)
    assert len(everything["items"]) == 2 and everything["total"] > 2
    prefixed = client.result("list_scene_items", query="avatarm")["items"]
    assert prefixed == [{"kind": "material", "name": "AvatarMaterial", "detail": "Material on AvatarBody"}]
    bad = client.request("list_scene_items", query="x", limit=0)
    assert bad["status"] == "error" and "'limit'" in bad["message"]


def test_a_click_on_a_headless_capture_picks_the_object_under_it(client: Client, tmp_path: Path):
    path = tmp_path / "pick.png"  # inside the system temp folder, and this run's own (another run may share /tmp)
    shot = client.result("get_viewport_screenshot", filepath=str(path), max_size=128)
    path.unlink()
    view = shot["view"]  # the scene camera's matrices, exactly as rendered
    assert (view["width"], view["height"]) == (shot["width"], shot["height"])
    centre = client.result("pick_viewport_object", **view, x=0.5, y=0.5)
    assert centre["object"]["name"] == "AvatarBody"
    corner = client.result("pick_viewport_object", **view, x=0.01, y=0.01)
    assert corner == {"object": None}
    moved = client.result("pick_viewport_object", **{**view, "scene": "Other"}, x=0.5, y=0.5)
    assert moved == {"object": None, "mismatch": "scene", "current": "Scene"}
    elsewhere = client.result("pick_viewport_object", **{**view, "file": "/nowhere/else.blend"}, x=0.5, y=0.5)
    assert elsewhere["mismatch"] == "file" and elsewhere["object"] is None
    bad = client.request("pick_viewport_object", **{**view, "view_matrix": [[1, 0]]}, x=0.5, y=0.5)
    assert bad["status"] == "error" and "4x4" in bad["message"]


def test_probes_are_answered_while_blender_is_busy(demo_blend: Path, tmp_path: Path):
    """mcp-for-blender probes between commands: the answers must not wait for Blender's main thread."""
    started, release = tmp_path / "started", tmp_path / "release"
    os.mkfifo(started)
    os.mkfifo(release)
    code = f"open({str(started)!r}, 'w').write('running')\nopen({str(release)!r}).read()\nprint('released')"
    with Serving("--blend", demo_blend) as serving:
        busy = serving.client()
        busy.send({"type": "execute_code", "params": {"code": code}})
        assert started.read_text() == "running"  # the main thread is now blocked in the sent code
        probe = serving.client()
        for name in ("polyhaven", "sketchfab", "polypizza", "hunyuan3d", "hyper3d", "meshy"):
            assert probe.result(f"get_{name}_status")["enabled"] is False
        assert probe.result("set_telemetry_consent", consent=True) == {"consent": False}
        assert probe.result("drain_human_activity") == {"events": []}
        assert probe.result("get_addon_info")["protocol_version"] == 15
        release.write_text("go")
        assert busy.reply()["result"]["result"] == "released\n"
