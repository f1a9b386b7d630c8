"""Animation clips end to end: a clip made in Blender on the demo avatar, exported by the VRM Add-on as a
VRM Animation, played on the demo avatar in three-vrm-animation, published and promoted to all three tiers."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import math
import subprocess
import sys
from pathlib import Path
from typing import Any

import bpy  # first: addon_utils and Blender's modules exist only after it
import pytest

from addon.core.publish.promotion import parse_request
from addon.core.rig.humanoid import REQUIRED_VRM1
from addon.core.vrm.clip_check import ClipFacts, check_clip
from addon.core.vrm.inspect import inspect_vrma_file
from tests.conftest import EXTENSION, ROOT, run_forge
from tests.publish import test_promote
from tests.publish.test_promote import Promotion

promotion = test_promote.promotion  # the promote tests' fixture: real S3 servers and stand-in tiers

NODE_DIR = ROOT / "tests" / "node"
FPS = 24


def _key_rotation(bone: Any, frame: int, degrees: float, axis: tuple[float, float, float]) -> None:
    import mathutils

    bone.rotation_mode = "QUATERNION"
    bone.rotation_quaternion = mathutils.Quaternion(axis, math.radians(degrees))
    bone.keyframe_insert("rotation_quaternion", frame=frame)


@dataclasses.dataclass(frozen=True)
class Clips:
    blend: Path  # the demo avatar with actions Wave (current), Squash (scale keys) and an NLA strip Bow
    avatar: Path  # the demo avatar as .vrm, to play the clips on


@pytest.fixture(scope="module")
def clips(blender, tmp_path_factory) -> Clips:
    forge = sys.modules[EXTENSION]
    folder = tmp_path_factory.mktemp("clips")
    bpy.ops.wm.read_homefile(use_empty=True)
    forge.blender.demo_avatar.build_demo_avatar(1)
    avatar = folder / "Avatar.vrm"
    preset = dataclasses.replace(forge.core.presets.get_preset("companions-web"), thumbnail=False)
    forge.blender.vrm_export.export_vrm(avatar, preset)
    armature: Any = bpy.data.objects["Avatar"]
    bones = armature.pose.bones
    scene: Any = bpy.context.scene
    scene.render.fps, scene.frame_start, scene.frame_end = FPS, 1, 250
    armature.animation_data_create()
    # Bow: the spine bends forward over frames 1-25; kept as an NLA strip placed at frames 101-125.
    bow = bpy.data.actions.new("Bow")
    armature.animation_data.action = bow
    for frame, degrees in ((1, 0), (13, 40), (25, 0)):
        _key_rotation(bones["Spine"], frame, degrees, (1, 0, 0))
    track = armature.animation_data.nla_tracks.new()
    track.strips.new("BowStrip", 101, bow)
    squash = bpy.data.actions.new("Squash")
    squash.use_fake_user = True  # kept in the saved file though no armature plays it
    armature.animation_data.action = squash
    for frame, size in ((1, 1.0), (10, 1.2)):
        _key_rotation(bones["UpperArm.L"], frame, 0, (1, 0, 0))
        bones["Head"].scale = (size, size, size)
        bones["Head"].keyframe_insert("scale", frame=frame)
    bones["Head"].scale = (1, 1, 1)
    # Wave (the current action): the left upper arm up 60 degrees and back over one second, the hips down.
    wave = bpy.data.actions.new("Wave")
    armature.animation_data.action = wave
    for frame, degrees in ((1, 0), (13, 60), (25, 0)):
        _key_rotation(bones["UpperArm.L"], frame, degrees, (1, 0, 0))
    for frame, drop in ((1, 0.0), (13, 0.1), (25, 0.0)):
        bones["Hips"].location = (0, drop, 0)
        bones["Hips"].keyframe_insert("location", frame=frame)
    bones["Hips"].location = (0, 0, 0)
    blend = folder / "Clips.blend"
    bpy.ops.wm.save_as_mainfile(filepath=str(blend), copy=True)
    return Clips(blend, avatar)


def _play(avatar: Path, clips: list[Path], seconds: tuple[float, ...]) -> list[dict[str, Any]]:
    done = subprocess.run(
        ["node", "vrma_play.mjs", str(avatar), ",".join(map(str, seconds)), *map(str, clips)],
        cwd=NODE_DIR, capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert done.stdout.strip(), done.stderr[-2000:]
    return list(json.loads(done.stdout))


def _turned(sample: dict[str, Any], at_least: float = 1.0) -> dict[str, float]:
    return {bone: round(angle, 1) for bone, angle in sample["turned"].items() if angle >= at_least}


def test_a_clip_plays_on_the_demo_avatar_in_three_vrm_animation_and_the_scene_is_left_as_it_was(clips, tmp_path):
    bpy.ops.wm.open_mainfile(filepath=str(clips.blend))
    export_clip = sys.modules[EXTENSION].blender.animation_export.export_clip
    wave = export_clip(tmp_path / "Wave.vrma")
    bow = export_clip(tmp_path / "Bow.vrma", strip="BowStrip")
    scene: Any = bpy.context.scene
    armature: Any = bpy.data.objects["Avatar"]
    assert (scene.frame_start, scene.frame_end) == (1, 250) and armature.animation_data.action.name == "Wave"
    assert wave.clip.to_json()["bones"] == ["hips", "leftUpperArm"] and wave.clip.frames == 25
    assert bow.clip.to_json()["bones"] == ["spine"] and (bow.clip.frame_start, bow.clip.frame_end) == (1, 25)

    played = {Path(c["file"]).stem: c for c in _play(clips.avatar, [wave.path, bow.path], (0.0, 0.5))}
    assert "error" not in played["Wave"] and "error" not in played["Bow"], played
    assert played["Wave"]["duration"] == pytest.approx(1.0)
    start, middle = played["Wave"]["samples"]
    assert _turned(start) == {} and start["hips_moved"] < 1e-3
    assert _turned(middle) == {"leftUpperArm": pytest.approx(60.0, abs=0.5)}
    assert middle["hips_moved"] == pytest.approx(0.1, abs=0.005)
    assert _turned(played["Bow"]["samples"][1]) == {"spine": pytest.approx(40.0, abs=0.5)}


def test_the_sidebar_exports_the_current_action_as_a_clip_and_shows_why_it_refuses_one(clips, tmp_path):
    bpy.ops.wm.open_mainfile(filepath=str(clips.blend))
    context: Any = bpy.context  # the add-on's properties are beyond the type stubs
    ops: Any = bpy.ops
    settings, result = context.scene.avatar_forge_export, context.window_manager.avatar_forge_export_result
    settings.clip_filepath = str(tmp_path / "Sidebar.vrma")
    assert ops.avatar_forge.export_clip() == {"FINISHED"}
    assert result.exported and result.message == "Exported Sidebar.vrma: Wave, 25 frames at 24 fps"
    assert inspect_vrma_file(tmp_path / "Sidebar.vrma").ok
    avatar: Any = bpy.data.objects["Avatar"]
    avatar.animation_data.action = bpy.data.actions["Squash"]
    settings.clip_filepath = str(tmp_path / "Squash.vrma")
    with pytest.raises(RuntimeError, match="the clip check found errors: scale is keyed on humanoid bones Head"):
        ops.avatar_forge.export_clip()
    assert not result.exported and [f.severity for f in result.findings] == ["error"]
    assert not (tmp_path / "Squash.vrma").exists()


def test_export_animation_refuses_scale_keys_a_bad_range_and_never_overwrites(clips, tmp_path):
    out = tmp_path / "Clip.vrma"
    squash = run_forge("export-animation", "--blend", clips.blend, "--action", "Squash", "--out", out, "--json")
    assert squash.code == 1 and not out.exists()
    assert [f["id"] for f in squash.json()["findings"]] == ["scale_keys"]
    assert "Head" in squash.json()["findings"][0]["message"]
    bad = run_forge("export-animation", "--blend", clips.blend, "--frames", "1:25", "--out", out)
    assert bad.code == 2 and "--frames must be START-END" in bad.stderr and "Traceback" not in bad.stderr
    assert "Read blend" not in bad.stdout  # refused before Blender reads the file
    missing = run_forge("export-animation", "--blend", clips.blend, "--action", "Nope", "--out", out)
    assert missing.code == 2 and "no action 'Nope'" in missing.stderr and "Wave" in missing.stderr
    first = run_forge("export-animation", "--blend", clips.blend, "--frames", "1-13", "--out", out, "--json")
    assert first.code == 0, first.stderr
    assert first.json()["clip"]["frames"] == 13 and first.json()["verification"]["ok"]
    written = out.read_bytes()
    again = run_forge("export-animation", "--blend", clips.blend, "--out", out)
    assert again.code == 2 and "exists" in again.stderr and out.read_bytes() == written
    assert "Read blend" not in again.stdout


def test_the_clip_check_names_each_problem():
    mapping = {bone: bone.title() for bone in REQUIRED_VRM1}
    good = ClipFacts("Avatar", mapping, "Wave", 1, 25, 24.0, moved=("Hips",))
    assert check_clip(good) == []
    cases = {
        "humanoid_unmapped": dataclasses.replace(good, mapping={"hips": "Hips"}),
        "no_action": dataclasses.replace(good, action=None),
        "bad_frame_range": dataclasses.replace(good, frame_end=0),
        "bad_frame_rate": dataclasses.replace(good, fps=0.5),
        "scale_keys": dataclasses.replace(good, scale_keyed=("Head",)),
        "nothing_animated": dataclasses.replace(good, moved=()),
    }
    for finding, facts in cases.items():
        assert [f.id for f in check_clip(facts)] == [finding], finding
    assert [f.id for f in check_clip(dataclasses.replace(good, frame_end=40_000))] == ["bad_frame_range"]


def test_publish_animation_puts_the_clip_under_animations_and_queues_it(clips, tmp_path):
    root = tmp_path / "s3-mount-standin"
    root.mkdir()
    first = run_forge("publish-animation", "--blend", clips.blend, "--name", "Wave", "--root", root, "--json")
    assert first.code == 0, first.stderr
    second = run_forge("publish-animation", "--blend", clips.blend, "--name", "Wave", "--strip", "BowStrip",
                       "--root", root, "--json")  # fmt: skip
    assert second.code == 0, second.stderr
    assert (first.json()["version"], second.json()["version"]) == (1, 2)
    assert first.json()["kind"] == "animation" and first.json()["vrma"]["key"] == "animations/Wave-v1.vrma"
    request = parse_request((root / "promotion" / "queue" / "Wave-v2.json").read_bytes())
    assert request.kind == "animation" and request.stats["bones"] == ["spine"]
    assert request.vrm.sha256 == hashlib.sha256((root / "animations" / "Wave-v2.vrma").read_bytes()).hexdigest()
    leftovers = sorted(
        p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file() and "claims" not in p.parts
    )
    assert leftovers == [
        "animations/Wave-v1.vrma", "animations/Wave-v2.vrma", "projects/Wave-v1.blend", "projects/Wave-v2.blend",
        "promotion/queue/Wave-v1.json", "promotion/queue/Wave-v2.json",
    ]  # fmt: skip


def test_a_clip_published_from_the_sidebar_reaches_every_tier_and_plays_from_there(clips, promotion: Promotion):
    bpy.ops.wm.open_mainfile(filepath=str(clips.blend))
    context: Any = bpy.context  # the add-on's properties are beyond the type stubs
    bucket, prefix = promotion.source_url[len("s3://") :].split("/", 1)
    preferences = context.preferences.addons[EXTENSION].preferences
    preferences.s3_endpoint_url, preferences.s3_bucket, preferences.s3_prefix = promotion.kasm.endpoint, bucket, prefix
    settings = context.scene.avatar_forge_publish
    settings.kind, settings.name, settings.destination = "animation", "Wave", "s3"
    ops: Any = bpy.ops
    assert ops.avatar_forge.publish() == {"FINISHED"}
    result = context.window_manager.avatar_forge_publish_result
    assert result.published and result.where == f"{promotion.source_url}/animations/Wave-v1.vrma"
    clip = promotion.source_object("animations/Wave-v1.vrma")
    assert promotion.source_keys("promotion/queue/") == ["Wave-v1.json"]

    run = promotion.promote("--once", "--json")
    assert run.code == 0, run.stderr
    assert run.json()["counts"] == {"promoted": 1} and run.json()["allowlist"] == []  # the allowlists gate models
    for tier in (promotion.nfs, promotion.r2):
        assert (tier / "animations" / "Wave-v1.vrma").read_bytes() == clip
        index = json.loads((tier / "index.json").read_bytes())
        assert index["format"] == "avatar-forge/index@2" and index["models"] == []
        (entry,) = index["animations"]
        assert (entry["file"], entry["kind"], entry["size"]) == ("animations/Wave-v1.vrma", "animation", len(clip))
    assert promotion.mirror_files()["animations/Wave-v1.vrma"] == clip
    head = promotion.mirror.client().head_object(Bucket=promotion.mirror_bucket, Key="animations/Wave-v1.vrma")
    assert head["CacheControl"] == "public, max-age=31536000, immutable"

    (played,) = _play(clips.avatar, [promotion.nfs / "animations" / "Wave-v1.vrma"], (0.5,))
    assert _turned(played["samples"][0]) == {"leftUpperArm": pytest.approx(60.0, abs=0.5)}


def test_the_promoter_fails_a_clip_that_is_not_a_vrm_animation(clips, promotion: Promotion, tmp_path):
    not_a_clip = tmp_path / "Fake.vrma"
    not_a_clip.write_bytes(clips.avatar.read_bytes())  # a VRM model, renamed
    done = subprocess.run(
        [sys.executable, "-m", "tests.publish.publisher", "--name", "Fake", "--vrm", str(not_a_clip), "--blend",
         str(clips.blend), "--kind", "animation", "--s3", promotion.source_url, "--endpoint-url",
         promotion.kasm.endpoint],
        cwd=ROOT, capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    run = promotion.promote("--once", "--json")
    (outcome,) = run.json()["outcomes"]
    assert outcome["status"] == "failed" and "not a valid VRM Animation" in outcome["reason"]
    assert "no VRMC_vrm_animation extension" in outcome["reason"]
    assert not (promotion.nfs / "animations" / "Fake-v1.vrma").exists()
