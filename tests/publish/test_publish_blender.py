"""Publishing from Blender: forge.py publish (a real export of the demo avatar by the VRM Add-on) to a
folder root and to a real S3 server, and the sidebar's Publish operator."""

from __future__ import annotations

import hashlib
from typing import Any

import bpy  # first: addon_utils and Blender's modules exist only after it
import pytest

from addon.core.promotion import parse_request
from addon.core.vrm_inspect import inspect_vrm
from tests.conftest import BLENDER_VERSION, EXTENSION, run_forge

# A .blend starts with this, or with zstd's magic when Blender compressed it.
_BLEND_MAGIC = (b"BLENDER", b"\x28\xb5\x2f\xfd")


def _publish(blend, name, *where):
    return run_forge("publish", "--blend", blend, "--name", name, "--preset", "companions-web", *where, "--json")


@pytest.mark.smoke
def test_publishing_twice_gives_v1_then_v2_and_leaves_the_artists_file_alone(demo_blend, tmp_path):
    root = tmp_path / "s3-mount-standin"
    root.mkdir()
    before = demo_blend.read_bytes()
    first = _publish(demo_blend, "Demo", "--root", root)
    assert first.code == 0, first.stderr
    second = _publish(demo_blend, "Demo", "--root", root)
    assert second.code == 0, second.stderr
    assert (first.json()["version"], second.json()["version"]) == (1, 2)
    assert demo_blend.read_bytes() == before
    vrm = (root / "exports" / "Demo-v2.vrm").read_bytes()
    report = inspect_vrm(vrm)
    assert report.ok and report.spec_version == "1.0", report.problems
    assert (root / "projects" / "Demo-v2.blend").read_bytes().startswith(_BLEND_MAGIC)
    request = parse_request((root / "promotion" / "queue" / "Demo-v2.json").read_bytes())
    assert request.vrm.sha256 == hashlib.sha256(vrm).hexdigest() == second.json()["vrm"]["sha256"]
    assert request.preset == "companions-web" and request.check["errors"] == 0
    assert request.blender_version.split()[0] == BLENDER_VERSION and request.vrm_addon_version
    assert request.stats["triangles"] > 1000
    # Nothing but the two versions' artifacts, queue entries and claims: no temporaries left behind.
    leftovers = [p for p in root.rglob("*") if p.is_file() and "claims" not in p.parts]
    assert sorted(p.relative_to(root).as_posix() for p in leftovers) == [
        "exports/Demo-v1.vrm", "exports/Demo-v2.vrm", "projects/Demo-v1.blend", "projects/Demo-v2.blend",
        "promotion/queue/Demo-v1.json", "promotion/queue/Demo-v2.json",
    ]  # fmt: skip


@pytest.mark.parametrize(
    ("args", "env", "message"),
    [
        (["--s3", "http://bucket/prefix"], None, "is not an s3://bucket/prefix URL"),
        ([], "http://from-the-environment/prefix", "'http://from-the-environment/prefix' is not an s3://"),
        ([], None, "say where to publish"),
        (["--root", "nowhere-at-all"], None, "is not a folder"),
        (["--s3", "s3://kasm/x", "--root", "."], None, "not allowed with argument"),
        (["--preset", "no-such-preset", "--root", "."], None, "unknown preset"),
    ],
)
def test_bad_destinations_and_presets_exit_2(demo_blend, monkeypatch, args, env, message):
    monkeypatch.delenv("AVATAR_FORGE_S3_URL", raising=False)
    if env is not None:
        monkeypatch.setenv("AVATAR_FORGE_S3_URL", env)
    base = ["publish", "--blend", demo_blend, "--name", "Demo"]
    run = run_forge(*base, *([] if "--preset" in args else ["--preset", "companions-web"]), *args)
    assert run.code == 2
    assert "Traceback" not in run.stderr and message in run.stderr


@pytest.mark.parametrize("name", ["../x", "a b"])
def test_a_name_with_path_tricks_or_spaces_exits_2_and_writes_nothing(demo_blend, tmp_path, name):
    root = tmp_path / "s3-mount-standin"
    root.mkdir()
    run = _publish(demo_blend, name, "--root", root)
    assert run.code == 2
    assert "Traceback" not in run.stderr
    assert run.stderr.strip().splitlines()[-1].startswith("forge: error: invalid model name")
    assert list(root.iterdir()) == []
    assert not (tmp_path / "x").exists()


@pytest.mark.smoke
def test_the_sidebar_publish_button_publishes_to_s3_over_an_existing_v3(empty_scene, kasm, s3_url):
    context: Any = empty_scene.context  # the add-on's properties are beyond the type stubs
    ops: Any = empty_scene.ops
    bucket, prefix = s3_url[len("s3://") :].split("/", 1)
    client = kasm.client()
    client.put_object(Bucket=bucket, Key=f"{prefix}/exports/Sidebar-v3.vrm", Body=b"an older v3")
    extension = __import__(f"{EXTENSION}.blender.demo_avatar", fromlist=["build_demo_avatar"])
    extension.build_demo_avatar(1)
    preferences = context.preferences.addons[EXTENSION].preferences
    preferences.s3_endpoint_url, preferences.s3_bucket, preferences.s3_prefix = kasm.endpoint, bucket, prefix
    scene = context.scene
    scene.avatar_forge_export.preset = "companions-web"
    scene.avatar_forge_publish.name = "Sidebar"
    scene.avatar_forge_publish.destination = "s3"
    assert ops.avatar_forge.publish() == {"FINISHED"}
    result = context.window_manager.avatar_forge_publish_result
    assert result.published and result.version == 4
    assert result.where == f"{s3_url}/exports/Sidebar-v4.vrm"
    vrm = client.get_object(Bucket=bucket, Key=f"{prefix}/exports/Sidebar-v4.vrm")["Body"].read()
    assert result.size_mb == pytest.approx(len(vrm) / 1e6)
    assert inspect_vrm(vrm).ok
    assert client.get_object(Bucket=bucket, Key=f"{prefix}/exports/Sidebar-v3.vrm")["Body"].read() == b"an older v3"
    queued = parse_request(
        client.get_object(Bucket=bucket, Key=f"{prefix}/promotion/queue/Sidebar-v4.json")["Body"].read()
    )
    assert queued.vrm.sha256 == hashlib.sha256(vrm).hexdigest()
    assert empty_scene.data.filepath == ""  # the open file was not re-pointed at the saved copy
    scene.avatar_forge_publish.name = "../escape"
    with pytest.raises(RuntimeError, match="invalid model name"):  # how bpy.ops reports a cancelled operator
        ops.avatar_forge.publish()
    assert not result.published and "invalid model name" in result.message


def test_the_published_blend_carries_textures_the_artist_keeps_beside_their_file(empty_scene, tmp_path):
    """projects/<Name>-vN.blend is opened elsewhere later: an image kept in a file must travel packed,
    while the artist's open file and the image file stay as they were."""
    from addon.blender.publish import save_self_contained_copy

    texture = tmp_path / "textures" / "skin.png"
    texture.parent.mkdir()
    image = bpy.data.images.new("Skin", 4, 4)
    image.filepath_raw = str(texture)
    image.file_format = "PNG"
    image.save()
    image.use_fake_user = True  # an image nothing uses would not be saved at all
    original = texture.read_bytes()
    artist = tmp_path / "artist.blend"
    bpy.ops.wm.save_as_mainfile(filepath=str(artist), relative_remap=True)
    image = bpy.data.images["Skin"]
    image.filepath = "//textures/skin.png"
    assert image.packed_file is None

    copy = tmp_path / "elsewhere" / "Published-v1.blend"
    copy.parent.mkdir()
    save_self_contained_copy(copy)
    assert image.packed_file is None and image.filepath == "//textures/skin.png"  # the open file as it was
    assert bpy.data.filepath == str(artist) and texture.read_bytes() == original
    with bpy.data.libraries.load(str(copy)) as (_source, loaded):
        loaded.images = ["Skin"]
    assert loaded.images[0].packed_file is not None
