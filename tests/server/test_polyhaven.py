"""Poly Haven through the socket server, against a stand-in for its API (tests/polyhaven_standin.py; the real
API stays the default): off until turned on, mcp-for-blender's and blender-mcp 1.5.5's own Poly Haven tools
working, and every way a hostile or broken service could misbehave refused in one line, with nothing written
outside the session's asset folder, nothing left behind, and Blender's main thread free meanwhile."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.polyhaven_standin import StandIn
from tests.server.serving import Serving
from tests.server.test_mcp_clients import BLENDER_MCP, MCP_FOR_BLENDER, _session, _text
from tests.server.test_mcp_forge import Call, _params, ok, session
from tests.server.test_mcp_forge import error as mcp_error


@pytest.fixture(scope="module")
def standin() -> Iterator[StandIn]:
    server = StandIn()
    yield server
    server.close()


@pytest.fixture(scope="module")
def served(standin: StandIn) -> Iterator[Serving]:
    args = ("--polyhaven", "--polyhaven-api", standin.url, "--max-download-mb", "1", "--fetch-timeout", "2")
    with Serving(*args) as serving:
        yield serving


def error(serving: Serving, command: str, **params: Any) -> str:
    reply = serving.client().request(command, **params)
    assert reply["status"] == "error", reply
    message: str = reply["message"]
    assert "\n" not in message and "Traceback" not in message
    return message


def test_off_until_turned_on_and_nothing_is_fetched(standin: StandIn):
    before = len(standin.requests)
    with Serving("--polyhaven-api", standin.url) as serving:
        client = serving.client()
        status = client.result("get_polyhaven_status")
        assert status["enabled"] is False and "--polyhaven" in status["message"]
        for command, params in (
            ("search_polyhaven_assets", {"asset_type": "hdris"}),
            ("download_polyhaven_asset", {"asset_id": "studio_small_01", "asset_type": "hdris"}),
            ("set_texture", {"object_name": "Cube", "texture_id": "plaid_fabric"}),
        ):
            reply = client.request(command, **params)
            assert reply["status"] == "error" and "PolyHaven integration is disabled" in reply["message"]
    assert len(standin.requests) == before  # not one request left this machine


@pytest.fixture(scope="module")
def mcp_for_blender(served: Serving, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    prompt: dict[str, Any] = {"user_prompt": "test"}
    calls: list[tuple[str, dict[str, Any]]] = [
        ("search_assets", {"source": "polyhaven", "query": "studio", "asset_type": "hdris", **prompt}),
        ("import_asset", {"source": "polyhaven", "id": "studio_small_01", "asset_type": "hdris", **prompt}),
        ("import_asset", {
            "source": "polyhaven", "id": "plaid_fabric", "asset_type": "textures", "file_format": "png",
            "apply_to": ["Cube"], **prompt,
        }),
        ("import_asset", {"source": "polyhaven", "id": "wooden_crate", "asset_type": "models", **prompt}),
        ("get_addon_status", prompt),
    ]  # fmt: skip
    return _session(MCP_FOR_BLENDER, served.port, tmp_path_factory.mktemp("home"), calls)


def test_mcp_for_blender_searches_and_imports_with_its_own_tools(mcp_for_blender, served):
    listing = _text(mcp_for_blender["0:search_assets"])
    assert "Studio Small 01 (ID: studio_small_01)" in listing and "Greg Zaal" in listing
    assert "plaid_fabric" not in listing  # a texture is no HDRI
    hdri = _text(mcp_for_blender["1:import_asset"])
    assert "HDRI studio_small_01 imported successfully" in hdri and "https://polyhaven.com/a/studio_small_01" in hdri
    fabric = _text(mcp_for_blender["2:import_asset"])
    assert "Created material 'plaid_fabric' with maps: Diffuse, Rough, nor_gl" in fabric
    assert "Successfully applied texture 'plaid_fabric' to Cube" in fabric
    assert "Model wooden_crate imported successfully" in _text(mcp_for_blender["3:import_asset"])
    assert "polyhaven" in _text(mcp_for_blender["4:get_addon_status"])
    client = served.client()
    assert client.result("get_object_info", name="Cube")["materials"] == ["plaid_fabric"]
    assert client.result("get_object_info", name="Crate")["mesh"]["polygons"] == 1
    code = (
        "w=bpy.context.scene.world; i=w.node_tree.nodes['Environment Texture'].image; "
        "print(w.name, i.packed_file is not None, i.size[:])"
    )
    assert client.result("execute_code", code=code)["result"] == "studio_small_01 True (4, 4)\n"


def test_blender_mcp_1_5_5_tools_work_too(served, tmp_path_factory):
    prompt: dict[str, Any] = {"user_prompt": "test"}
    calls: list[tuple[str, dict[str, Any]]] = [
        ("get_polyhaven_categories", {"asset_type": "textures", **prompt}),
        ("search_polyhaven_assets", {"asset_type": "textures", "categories": "fabric", **prompt}),
        ("download_polyhaven_asset", {"asset_id": "plaid_fabric", "asset_type": "textures", **PNG, **prompt}),
        ("set_texture", {"object_name": "Cube", "texture_id": "plaid_fabric", **prompt}),
    ]  # fmt: skip
    out = _session(BLENDER_MCP, served.port, tmp_path_factory.mktemp("home"), calls)
    assert "- fabric: 1 assets" in _text(out["0:get_polyhaven_categories"])
    assert "Plaid Fabric (ID: plaid_fabric)" in _text(out["1:search_polyhaven_assets"])
    assert "Created material 'plaid_fabric" in _text(out["2:download_polyhaven_asset"])
    applied = _text(out["3:set_texture"])
    assert "Successfully applied texture 'plaid_fabric' to Cube" in applied and "Base Color" in applied


PNG = {"file_format": "png"}


def _asset_folder(served: Serving) -> Path:
    result = served.client().result("download_polyhaven_asset", asset_id="studio_small_01", asset_type="hdris")
    return Path(result["downloaded"][0]).parent


def test_hostile_downloads_are_refused_in_one_line_and_leave_nothing(served, standin, tmp_path):
    folder = _asset_folder(served)
    assert folder.stat().st_mode & 0o777 == 0o700 and list(folder.iterdir()) == []  # linked, packed, removed
    cases = {
        "huge_sky": "is 10737418240 bytes, over the 1048576-byte cap",
        "endless_sky": "sent more than the 1048576-byte cap",
        "page_sky": "sent text/html; expected",
        "liar_sky": "is not the application/octet-stream or image/vnd.radiance or image/x-hdr it claims to be",
        "offsite_sky": "refused https://attacker.invalid/sky.hdr: attacker.invalid is not one of the source's hosts",
    }
    for ident, expected in cases.items():
        assert expected in error(served, "download_polyhaven_asset", asset_id=ident, asset_type="hdris"), ident
    unlisted = error(served, "download_polyhaven_asset", asset_id="unlisted_crate", asset_type="models")
    assert "refers to /etc/passwd.png, which its file list does not hold" in unlisted
    assert list(folder.iterdir()) == []  # no part file, no half download
    assert not any("attacker" in path for path in standin.requests)


def test_a_model_is_saved_only_under_names_we_make(served):
    result = served.client().result("download_polyhaven_asset", asset_id="escaping_crate", asset_type="models")
    folder = Path(result["downloaded"][0]).parent
    assert sorted(Path(p).name for p in result["downloaded"]) == [
        "escaping_crate_1k.gltf", "escaping_crate_1k_buffers_0.bin", "escaping_crate_1k_images_0.png",
    ]  # fmt: skip
    assert all(Path(p).parent == folder for p in result["downloaded"])
    assert not (folder.parents[2] / "escaped.bin").exists() and not (folder.parent / "escaped.bin").exists()
    assert result["imported_objects"]


def test_bad_arguments_are_refused_before_anything_is_fetched(served, standin):
    before = len(standin.requests)
    for params, expected in (
        ({"asset_id": "../../etc/passwd", "asset_type": "hdris"}, "'asset_id' must be a Poly Haven asset id"),
        ({"asset_id": "studio_small_01", "asset_type": "blend"}, "'asset_type' must be one of hdris, textures"),
        ({"asset_id": "studio_small_01", "asset_type": "hdris", "resolution": "../1k"}, "'resolution' must be"),
        ({"asset_id": "studio_small_01", "asset_type": "models", "file_format": "blend"}, "'file_format' for models"),
    ):
        assert expected in error(served, "download_polyhaven_asset", **params), params
    assert "was not downloaded in this session" in error(served, "set_texture", object_name="Cube", texture_id="x1")
    assert len(standin.requests) == before


def test_a_stalled_download_times_out_while_blender_keeps_answering(served):
    started = time.monotonic()
    outcome: dict[str, Any] = {}

    def slow() -> None:
        outcome["reply"] = served.client().request("download_polyhaven_asset", asset_id="slow_sky", asset_type="hdris")

    worker = threading.Thread(target=slow)
    worker.start()
    time.sleep(0.5)
    other = served.client()
    assert other.result("get_object_info", name="Cube")["type"] == "MESH"  # a main-thread command, meanwhile
    assert time.monotonic() - started < 1.8  # answered before the stalled download gave up
    worker.join(30)
    assert "stopped sending (nothing for 2 s)" in outcome["reply"]["message"]


def test_without_network_it_is_one_line_and_no_hang(tmp_path):
    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]
    with Serving("--polyhaven", "--polyhaven-api", f"http://127.0.0.1:{port}", "--fetch-timeout", "2") as serving:
        started = time.monotonic()
        message = error(serving, "search_polyhaven_assets", asset_type="hdris")
    assert message.startswith(f"cannot reach http://127.0.0.1:{port}/assets: ") and time.monotonic() - started < 5


def test_every_download_is_in_the_audit_log(served):
    lines = [line for line in served.audit_log.read_text().splitlines() if "download_polyhaven_asset" in line]
    assert any("outcome=ok" in line and "wrote=" in line for line in lines)
    assert any("over the 1048576-byte cap" in line for line in lines)


def test_forge_mcp_offers_poly_haven_as_tools(served):
    calls: list[Call] = [
        ("polyhaven_search", {"asset_type": "textures", "query": "tartan"}),
        ("polyhaven_download", {"asset_id": "plaid_fabric", "asset_type": "textures", **PNG, "apply_to": ["Cube"]}),
        ("polyhaven_download", {"asset_id": "huge_sky", "asset_type": "hdris"}),
    ]
    out = session(_params("--port", served.port), calls)
    assert [asset["id"] for asset in ok(out["0:polyhaven_search"])["assets"]] == ["plaid_fabric"]
    fabric = ok(out["1:polyhaven_download"])
    assert fabric["applied_to"] == ["Cube"] and fabric["authors"] == ["Greg Zaal"]
    assert "over the 1048576-byte cap" in mcp_error(out["2:polyhaven_download"])


def test_a_client_that_leaves_mid_download_gets_nothing_linked_or_left(served):
    folder = _asset_folder(served)
    leaving = served.client()
    leaving.send({"type": "download_polyhaven_asset", "params": {"asset_id": "late_sky", "asset_type": "hdris"}})
    time.sleep(0.3)
    leaving.close()
    time.sleep(2)  # the download finishes meanwhile
    worlds = served.client().result("execute_code", code="print(sorted(w.name for w in bpy.data.worlds))")["result"]
    assert "late_sky" not in worlds and list(folder.iterdir()) == []
    log = served.audit_log.read_text()
    assert "the client left before the download finished: nothing was added to the scene" in log
