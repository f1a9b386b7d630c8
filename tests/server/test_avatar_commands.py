"""Avatar Forge's own commands on the socket: the rig check, the VRM export and the publish the sidebar
buttons run, reached by a client of `forge.py serve` with the demo avatar loaded."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest

from tests.conftest import QUICK, quick_preset_user
from tests.server.serving import Serving


@pytest.fixture(scope="module")
def server(demo_blend: Path, tmp_path_factory: pytest.TempPathFactory):
    storage = tmp_path_factory.mktemp("storage")
    user = quick_preset_user(tmp_path_factory.mktemp("user"), QUICK)  # the exports render no thumbnail
    # The storage root default an image sets; the server has no saved preferences of its own.
    env = {"AVATAR_FORGE_STORAGE_ROOT": str(storage)}
    with Serving("--blend", demo_blend, env=env, user_resources=user) as serving:
        serving.storage = storage
        yield serving


def test_check_rig_reports_the_demo_avatar_as_ready(server):
    report = server.client().result("avatar_check_rig", preset="companions-web")
    assert report["ok"] is True and report["armature"] == "Avatar"
    assert report["mapping"]["hips"] == "Hips" and len(report["mapping"]) >= 15
    assert report["stats"]["bones"] == 54


def test_check_rig_names_a_missing_preset_or_armature(server):
    client = server.client()
    reply = client.request("avatar_check_rig", preset="no-such-preset")
    assert reply["status"] == "error" and "unknown preset 'no-such-preset'" in reply["message"]
    reply = client.request("avatar_check_rig", armature="Nobody")
    assert reply["status"] == "error" and "Nobody" in reply["message"]


def test_export_vrm_writes_the_file_it_describes_and_never_overwrites_by_default(server, tmp_path):
    out = tmp_path / "Avatar.vrm"
    client = server.client()
    result = client.result("avatar_export_vrm", out=str(out), preset=QUICK, meta={"name": "Socket"})
    data = out.read_bytes()
    assert result["path"] == str(out) and result["bytes"] == len(data) > 100_000
    assert result["sha256"] == hashlib.sha256(data).hexdigest() and data[:4] == b"glTF"

    again = client.request("avatar_export_vrm", out=str(out), preset=QUICK)
    assert again["status"] == "error" and "exists" in again["message"]
    assert out.read_bytes() == data


def test_export_vrm_writes_only_vrm_files_even_when_asked_to_overwrite(server, tmp_path):
    """A client denied execute_code must not be able to clobber other files through the exporter."""
    victim = tmp_path / "notes.txt"
    victim.write_text("precious")
    reply = server.client().request("avatar_export_vrm", out=str(victim), preset="companions-web", overwrite=True)
    assert reply["status"] == "error" and "must end in .vrm" in reply["message"]
    assert victim.read_text() == "precious"
    reply = server.client().request("avatar_export_vrm", out=str(tmp_path / "no" / "x.vrm"), preset="companions-web")
    assert reply["status"] == "error" and "does not exist" in reply["message"]


def test_export_vrm_needs_a_preset(server, tmp_path):
    reply = server.client().request("avatar_export_vrm", out=str(tmp_path / "x.vrm"))
    assert reply == {"status": "error", "message": "'preset' must be a non-empty string"}
    assert not (tmp_path / "x.vrm").exists()


def test_publish_puts_the_next_version_into_the_storage_root(server):
    client = server.client()
    first = client.result("avatar_publish", name="Socket-Avatar", preset=QUICK)
    assert first["published"] is True and first["name"] == "Socket-Avatar" and first["version"] == 1
    assert (server.storage / "exports" / "Socket-Avatar-v1.vrm").is_file()
    bad = client.request("avatar_publish", name="no spaces allowed", preset="companions-web")
    assert bad["status"] == "error" and "invalid model name" in bad["message"]


def test_export_never_writes_into_the_storage_root_even_when_asked_to_overwrite(server, tmp_path):
    """A client denied execute_code must not replace a published, immutable model through the exporter."""
    published = server.storage / "exports" / "Target-v1.vrm"
    published.parent.mkdir(parents=True, exist_ok=True)
    published.write_bytes(b"published bytes")
    way_in = tmp_path / "innocent-folder"
    way_in.symlink_to(published.parent)  # a path that does not name the storage root
    client = server.client()
    for out in (published, way_in / "Target-v1.vrm", server.storage / "New.vrm"):
        reply = client.request("avatar_export_vrm", out=str(out), preset="companions-web", overwrite=True)
        assert reply["status"] == "error" and "only publish writes there" in reply["message"], out
    assert published.read_bytes() == b"published bytes"
    assert not (server.storage / "New.vrm").exists()


def test_export_reports_the_normalised_path_and_the_audit_log_records_it(server, tmp_path):
    (tmp_path / "sub").mkdir()
    result = server.client().result("avatar_export_vrm", out=str(tmp_path / "sub" / ".." / "Norm.vrm"), preset=QUICK)
    assert result["path"] == str(tmp_path.resolve() / "Norm.vrm")
    assert 'type="avatar_export_vrm"' in server.audit_log.read_text()
    assert f"wrote={json.dumps(result['path'])}" in server.audit_log.read_text()


def test_overlong_or_broken_names_are_refused_without_echoing_them(server):
    client = server.client()
    reply = client.request("avatar_publish", name="n" * 100_000, preset="companions-web")
    assert reply == {"status": "error", "message": "'name' must be at most 256 characters, with no NUL"}
    reply = client.request("avatar_check_rig", armature="\ud800")
    assert reply["status"] == "error" and "0x" not in reply["message"] and "lone surrogate" in reply["message"]


def test_export_animation_refuses_a_scene_without_an_action_and_a_relative_path(server, tmp_path):
    client = server.client()
    out = tmp_path / "Clip.vrma"
    reply = client.request("avatar_export_animation", out=str(out))
    assert reply["status"] == "error" and "clip check found errors" in reply["message"]
    assert "Avatar has no action" in reply["message"] and not out.exists()
    reply = client.request("avatar_export_animation", out="Clip.vrma")
    assert reply["status"] == "error" and "'out' must be an absolute path" in reply["message"]
    reply = client.request("avatar_export_animation", out=str(out), frames=[1])
    assert reply["status"] == "error" and "'frames' must be [start, end]" in reply["message"]
