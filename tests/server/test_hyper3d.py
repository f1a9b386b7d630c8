"""Hyper3D Rodin through the socket server, against a stand-in for its v2 API (tests/rodin_standin.py; the real
API stays the default): off until turned on and given a key, BlenderMCP's own Rodin tools working, the result
offering auto-rig -> check -> export, and the key never echoed, logged or saved in a .blend."""

from __future__ import annotations

import base64
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.polyhaven_standin import png
from tests.rodin_standin import RodinStandIn
from tests.server.serving import Serving
from tests.server.test_mcp_clients import BLENDER_MCP, MCP_FOR_BLENDER, _session, _text
from tests.server.test_mcp_forge import Call, _params, ok, session, text

KEY = "rk-live-5e1f0c9a7b3d2e4f6a8b0c1d"
ENV = "AVATAR_FORGE_HYPER3D_API_KEY"


@pytest.fixture(scope="module")
def standin() -> Iterator[RodinStandIn]:
    server = RodinStandIn(KEY)
    yield server
    server.close()


@pytest.fixture(scope="module")
def served(standin: RodinStandIn) -> Iterator[Serving]:
    with Serving("--hyper3d", "--hyper3d-api", standin.url, "--fetch-timeout", "5", env={ENV: KEY}) as serving:
        yield serving


def test_off_until_turned_on_and_given_a_key(standin):
    before = len(standin.requests)
    with Serving("--hyper3d-api", standin.url, env={ENV: KEY}) as serving:  # a key, but not turned on
        client = serving.client()
        assert client.result("get_hyper3d_status")["enabled"] is False
        reply = client.request("create_rodin_job", text_prompt="a robot")
        assert reply["status"] == "error" and "Hyper3D Rodin integration is disabled" in reply["message"]
    with Serving("--hyper3d", "--hyper3d-api", standin.url, env={ENV: ""}) as serving:  # on, but no key
        status = serving.client().result("get_hyper3d_status")
        assert status["enabled"] is False and "has no API key" in status["message"]
    assert len(standin.requests) == before


def test_blender_mcp_generates_polls_and_imports(served, tmp_path_factory):
    calls: list[tuple[str, dict[str, Any]]] = [
        ("get_hyper3d_status", {"user_prompt": "test"}),
        ("generate_hyper3d_model_via_text", {"text_prompt": "a friendly robot", "user_prompt": "test"}),
        ("poll_rodin_job_status", {"subscription_key": "sub-9c2e"}),
        ("import_generated_asset", {"name": "Robot", "task_uuid": "task-7f3a"}),
    ]
    out = _session(BLENDER_MCP, served.port, tmp_path_factory.mktemp("home"), calls)
    assert "enabled and ready to use" in _text(out["0:get_hyper3d_status"])
    assert '"subscription_key": "sub-9c2e"' in _text(out["1:generate_hyper3d_model_via_text"])
    assert "Done" in _text(out["2:poll_rodin_job_status"])
    imported = _text(out["3:import_generated_asset"])
    assert '"succeed": true' in imported and '"name": "Robot"' in imported
    info = served.client().result("get_object_info", name="Robot")
    assert info["type"] == "MESH" and info["mesh"]["polygons"] == 1


def test_mcp_for_blender_generate_3d_with_hyper3d(served, tmp_path_factory):
    calls: list[tuple[str, dict[str, Any]]] = [
        ("generate_3d", {"prompt": "a wooden chair", "provider": "hyper3d", "name": "Chair", "user_prompt": "t"}),
    ]
    out = _session(MCP_FOR_BLENDER, served.port, tmp_path_factory.mktemp("home"), calls)
    assert "Error" not in _text(out["0:generate_3d"])
    assert served.client().result("get_object_info", name="Chair")["type"] == "MESH"


def test_the_import_offers_rig_check_export(served):
    result = served.client().result("import_generated_asset", task_uuid="task-7f3a", name="Golem")
    assert result["rigged"] is False and result["name"] == "Golem"
    steps = " ".join(result["next_steps"])
    assert steps.index("auto_rig") < steps.index("check_rig") < steps.index("export_vrm")


def test_images_are_sent_and_bad_ones_refused(served, standin):
    picture = base64.b64encode(png((10, 20, 30))).decode()
    client = served.client()
    assert client.result("create_rodin_job", images=[[".png", picture]])["uuid"] == "task-7f3a"
    assert png((10, 20, 30)) in standin.requests[-1][1]  # the image itself went up, in the form
    for images, expected in (
        ([["https://example.com/a.png", ""]], "a .png, .jpg, .jpeg, .webp image"),
        ([[".png", "not base64!"]], "not base64"),
        ("x", "must list 1 to 5"),
    ):
        reply = client.request("create_rodin_job", images=images)
        assert reply["status"] == "error" and expected in reply["message"], images
    reply = client.request("import_generated_asset", task_uuid="../../etc", name="X")
    assert reply["status"] == "error" and "'task_uuid' must be the id Rodin gave" in reply["message"]


def test_a_download_that_is_not_a_glb_is_refused(served, standin):
    standin.glb_type = "text/html"
    try:
        reply = served.client().request("import_generated_asset", task_uuid="task-7f3a", name="Bad")
    finally:
        standin.glb_type = "model/gltf-binary"
    assert reply["status"] == "error" and "sent text/html" in reply["message"]


def test_the_key_is_never_echoed_logged_or_saved(served, standin, tmp_path: Path):
    client = served.client()
    replies = [client.request("get_hyper3d_status"), client.request("create_rodin_job", text_prompt="a lamp")]
    blend = tmp_path / "Saved.blend"
    client.result("execute_code", code=f"bpy.ops.wm.save_as_mainfile(filepath={str(blend)!r})")
    assert KEY.encode() not in blend.read_bytes()
    assert KEY not in str(replies) and KEY not in served.audit_log.read_text()
    with Serving("--hyper3d", "--hyper3d-api", standin.url, env={ENV: KEY[::-1]}) as wrong:
        refused = wrong.client().request("create_rodin_job", text_prompt="a lamp")
        stderr = "".join(wrong.stderr_lines)
        audit = wrong.audit_log.read_text()
    assert refused["status"] == "error" and "answered HTTP 401" in refused["message"]
    for shown in (str(refused), stderr, audit):
        assert KEY[::-1] not in shown and KEY not in shown
    assert KEY not in "".join(served.stderr_lines)


def test_forge_mcp_generates_and_offers_the_next_steps(served):
    calls: list[Call] = [("hyper3d_generate", {"prompt": "a knight", "name": "Knight", "bbox_condition": [1, 1, 2]})]
    out = session(_params("--port", served.port), calls)
    result = ok(out["0:hyper3d_generate"])
    assert result["name"] == "Knight" and any("auto_rig" in step for step in result["next_steps"])
    assert KEY not in text(out["0:hyper3d_generate"])
