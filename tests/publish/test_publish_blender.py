"""Publishing from Blender: forge.py publish (a real export of the demo avatar by the VRM Add-on) to a
folder root and to a real S3 server, and the sidebar's Publish operator."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import resource
import subprocess
import sys
import threading
from typing import Any

import bpy  # first: addon_utils and Blender's modules exist only after it
import pytest

from addon.core.publish.promotion import parse_request
from addon.core.vrm.inspect import inspect_vrm
from tests.conftest import BLENDER_VERSION, EXTENSION, FORGE, run_forge

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
    second = _publish(demo_blend, "Demo", "--root", root, "--verbose")
    assert second.code == 0, second.stderr
    assert (first.json()["version"], second.json()["version"]) == (1, 2)
    # The exporter's own log only with --verbose (on stderr: stdout holds the one JSON document).
    assert "Starting glTF 2.0 export" not in first.stderr and "Starting glTF 2.0 export" in second.stderr
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
    assert "Read blend" not in run.stdout + run.stderr  # refused before Blender reads the file: at once


@pytest.mark.parametrize("name", ["../x", "a b"])
def test_a_name_with_path_tricks_or_spaces_exits_2_and_writes_nothing(demo_blend, tmp_path, name):
    root = tmp_path / "s3-mount-standin"
    root.mkdir()
    run = _publish(demo_blend, name, "--root", root)
    assert run.code == 2
    assert "Traceback" not in run.stderr
    assert run.stderr.strip().splitlines()[-1].startswith("forge: error: invalid model name")
    assert "Read blend" not in run.stdout + run.stderr
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


def test_a_second_publish_while_an_upload_runs_is_refused_with_a_line(empty_scene, tmp_path):
    """A second click on Publish during the background upload started a second upload of the same avatar.
    Headless there is no window for the modal upload, so the first upload here is a background job held
    in the sidebar's upload slot until the test lets it finish, as a slow network would."""
    context: Any = empty_scene.context
    ops: Any = empty_scene.ops
    ops_publish = __import__(f"{EXTENSION}.ui.ops_publish", fromlist=["UPLOADS"])
    background = __import__(f"{EXTENSION}.storage.background", fromlist=["BackgroundJob"])
    __import__(f"{EXTENSION}.blender.demo_avatar", fromlist=["x"]).build_demo_avatar(1)
    root = tmp_path / "storage-root"
    root.mkdir()
    preferences = context.preferences.addons[EXTENSION].preferences
    saved = preferences.storage_root
    preferences.storage_root = str(root)
    scene = context.scene
    scene.avatar_forge_export.preset = "companions-web"
    scene.avatar_forge_publish.name, scene.avatar_forge_publish.destination = "Twice", "root"
    network = threading.Event()
    upload = background.BackgroundJob(lambda _progress, _cancel: network.wait(60), name="held-upload")
    ops_publish.UPLOADS.start(upload, "Twice")
    try:
        with pytest.raises(RuntimeError, match=r"a publish of Twice is still uploading \(Esc cancels it\)"):
            ops.avatar_forge.publish()
        result = context.window_manager.avatar_forge_publish_result  # what the panel's result box shows
        assert not result.published and "still uploading" in result.message
        assert list(root.iterdir()) == []  # refused before exporting anything
    finally:
        network.set()
        upload.wait(60)
        preferences.storage_root = saved
    assert ops_publish.UPLOADS.running() is None


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


def test_a_full_temporary_folder_is_one_line_exit_1_and_no_temporary_folder_is_left(demo_blend, tmp_path):
    """A temporary folder that takes no file over 300 kB (RLIMIT_FSIZE, as a full disk would refuse):
    the export cannot be written. One line and exit 1, not an internal error; and neither our temporary
    folder nor Blender's session folder (blender_*) stays behind."""
    temporary, root = tmp_path / "tmp", tmp_path / "s3-mount-standin"
    temporary.mkdir()
    root.mkdir()

    def small_files_only() -> None:
        resource.setrlimit(resource.RLIMIT_FSIZE, (300_000, 300_000))

    done = subprocess.run(
        [sys.executable, str(FORGE), "publish", "--blend", str(demo_blend), "--name", "Full", "--preset",
         "companions-web", "--root", str(root), "--json"],
        capture_output=True, text=True, timeout=300, check=False, preexec_fn=small_files_only,
        env={**os.environ, "TMPDIR": str(temporary), "BLENDER_USER_RESOURCES": str(tmp_path / "user")},
    )  # fmt: skip
    assert done.returncode == 1, done.stderr[-2000:]
    assert "internal error" not in done.stderr
    # --json: Blender prints the exporter's own log (its traceback included) to fd 1 and 2 by itself.
    assert json.loads(done.stdout) == {
        "published": False,
        "reason": "the temporary folder is full or unwritable: "
        "the export could not write its temporary file ([Errno 27] File too large)",
    }
    assert list(root.iterdir()) == []
    assert list(temporary.iterdir()) == []


def test_a_file_that_appears_at_the_destination_during_the_export_is_never_replaced(empty_scene, tmp_path):
    """The export's last guard: the destination was free when the export began, someone wrote it while
    the exporter ran. Their file stays; the export reports it."""
    extension = __import__(f"{EXTENSION}.blender.vrm_export", fromlist=["export_vrm"])
    __import__(f"{EXTENSION}.blender.demo_avatar", fromlist=["x"]).build_demo_avatar(1)
    presets = __import__(f"{EXTENSION}.core.presets", fromlist=["get_preset"])
    preset = dataclasses.replace(presets.get_preset("companions-web"), thumbnail=False)  # no render to wait for
    out = tmp_path / "Avatar.vrm"

    def someone_writes_it(_fraction: float, what: str) -> None:
        if what == "writing the VRM":
            out.write_bytes(b"someone else's file")

    with pytest.raises(FileExistsError, match="exists"):
        extension.export_vrm(out, preset, progress=someone_writes_it)
    assert out.read_bytes() == b"someone else's file"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["Avatar.vrm"]  # no scratch file left either
