"""`forge.py batch` as a Kubernetes Indexed Job runs it: N shard processes over one bucket (a real
`rclone serve s3`), each item in its own worker process, a shard killed halfway and run again."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from addon.batch.shards import shard_of
from tests.conftest import FORGE, QUICK, ROOT, run_forge
from tests.publish.conftest import S3Server

SHARDS = 3
VALID_PER_SHARD = 2
BROKEN = 12  # not a .blend at all
EMPTY = 2  # a .blend without an armature: it can never be a VRM


def _valid_names() -> list[str]:
    """Model names whose stable hash gives each shard VALID_PER_SHARD of them."""
    names: dict[int, list[str]] = {i: [] for i in range(SHARDS)}
    for k in range(1000):
        name = f"Valid-{k}"
        if len(names[shard_of(name, SHARDS)]) < VALID_PER_SHARD:
            names[shard_of(name, SHARDS)].append(name)
    return sorted(n for part in names.values() for n in part)


@pytest.fixture(scope="module")
def empty_blend(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("empty") / "Empty.blend"
    code = (
        "import bpy, os\nbpy.ops.wm.read_homefile(use_empty=True)\n"
        f"bpy.ops.wm.save_as_mainfile(filepath={str(path)!r})\nos._exit(0)\n"
    )
    temp = tmp_path_factory.mktemp("temp")  # Blender's blender_* folder, which os._exit leaves
    subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, timeout=120,
                   env={**os.environ, "TMPDIR": str(temp)})  # fmt: skip
    return path


def _bucket_keys(kasm: S3Server, s3_url: str) -> list[str]:
    bucket, _, prefix = s3_url.removeprefix("s3://").partition("/")
    pages = kasm.client().get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix + "/")
    return sorted(o["Key"][len(prefix) + 1 :] for page in pages for o in page.get("Contents", []))


def _command(s3_url: str, kasm: S3Server, index: int) -> list[str]:
    return [sys.executable, str(FORGE), "batch", "--from", f"{s3_url}/projects", "--out", s3_url, "--json",
               "--preset", QUICK, "--endpoint-url", kasm.endpoint,
               "--shard", f"{index}/{SHARDS}"]  # fmt: skip


def _environment(user_resources: Path) -> dict[str, str]:
    """This process's environment (the bucket's keys), with the Blender user folder that holds QUICK."""
    return {**os.environ, "BLENDER_USER_RESOURCES": str(user_resources)}


def _shard(s3_url: str, kasm: S3Server, index: int, user_resources: Path, **popen: Any) -> subprocess.Popen[str]:
    # Its own process group, like a pod: killing the group kills the shard and its item worker.
    command = _command(s3_url, kasm, index)
    return subprocess.Popen(command, cwd=ROOT, text=True, start_new_session=True, stdin=subprocess.DEVNULL,
                            env=_environment(user_resources), **popen)  # fmt: skip


@pytest.mark.slow
def test_shards_split_a_library_exactly_once_and_a_killed_shard_rerun_never_publishes_twice(
    kasm: S3Server, s3_url: str, demo_blend: Path, empty_blend: Path, *, user_resources: Path, tmp_path: Path
):
    bucket, _, prefix = s3_url.removeprefix("s3://").partition("/")
    client = kasm.client()
    valid = _valid_names()
    sources = {f"projects/{name}-v1.blend": demo_blend.read_bytes() for name in valid}
    sources[f"projects/{valid[0]}-v2.blend"] = demo_blend.read_bytes()  # the latest is what is re-exported
    sources |= {f"projects/Broken-{k}-v1.blend": b"not a blend file %d" % k for k in range(BROKEN)}
    sources |= {f"projects/Empty-{k}-v1.blend": empty_blend.read_bytes() for k in range(EMPTY)}
    for key, body in sources.items():
        client.put_object(Bucket=bucket, Key=f"{prefix}/{key}", Body=body)
        # As a publish leaves it: the export beside the .blend (its content does not matter here).
        export = key.replace("projects/", "exports/").replace(".blend", ".vrm")
        client.put_object(Bucket=bucket, Key=f"{prefix}/{export}", Body=b"earlier export")
    names = valid + [f"Broken-{k}" for k in range(BROKEN)] + [f"Empty-{k}" for k in range(EMPTY)]
    assert len(names) == 20

    killed = shard_of(valid[0], SHARDS)
    outs = {i: (tmp_path / f"out-{i}.json").open("w+") for i in range(SHARDS)}
    others = {
        i: _shard(s3_url, kasm, i, user_resources, stdout=outs[i], stderr=subprocess.DEVNULL)
        for i in range(SHARDS)
        if i != killed
    }
    victim = _shard(s3_url, kasm, killed, user_resources, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    # Kill that shard (and its worker) as soon as it has published its first item: a pod evicted mid-run.
    assert victim.stderr is not None
    seen = []
    for line in victim.stderr:
        seen.append(line)
        if ": done" in line:
            break
    else:
        pytest.fail("the shard finished without publishing anything:\n" + "".join(seen[-20:]))
    os.killpg(victim.pid, signal.SIGKILL)
    victim.wait(timeout=30)
    codes = {i: process.wait(timeout=900) for i, process in others.items()}

    # The Job restarts the index: the same command again, to the end.
    rerun = subprocess.run(
        _command(s3_url, kasm, killed), cwd=ROOT, capture_output=True, text=True, env=_environment(user_resources),
        timeout=900, check=False,
    )  # fmt: skip
    reports = {i: json.loads(Path(outs[i].name).read_text()) for i in others} | {killed: json.loads(rerun.stdout)}
    codes[killed] = rerun.returncode

    # Each item went to exactly one shard, all of them together are the whole library.
    ids = [item["id"] for r in reports.values() for item in r["items"]]
    assert sorted(ids) == sorted(names)
    for index, shard_report in reports.items():
        assert {shard_of(i["id"], SHARDS) for i in shard_report["items"]} == {index}
        assert codes[index] == (1 if shard_report["counts"]["failed"] else 0)

    # Every valid model was published exactly once, as its next version, and queued; no broken one was.
    keys = _bucket_keys(kasm, s3_url)
    for name in valid:
        latest = 2 if name == valid[0] else 1
        ours = [k for k in keys if k.startswith(f"exports/{name}-v") and int(k[:-4].rsplit("-v", 1)[1]) > latest]
        assert ours == [f"exports/{name}-v{latest + 1}.vrm"]
        assert f"promotion/queue/{name}-v{latest + 1}.json" in keys
    assert not [k for k in keys if k.startswith("promotion/queue/") and not k.startswith("promotion/queue/Valid-")]

    # The rerun skipped what the killed attempt had done (its reports say so), and redid nothing.
    rerun_items = {i["id"]: i for i in reports[killed]["items"]}
    assert rerun_items[valid[0]]["status"] == "skipped"
    assert rerun_items[valid[0]]["written"].endswith(f"exports/{valid[0]}-v3.vrm")

    merged = run_forge("batch-report", "--from", s3_url, "--endpoint-url", kasm.endpoint, "--json")
    assert merged.code == 1, merged.stderr  # some items failed
    data = merged.json()
    assert data["missing_shards"] == [] and data["duplicates"] == []
    assert data["totals"]["done"] + data["totals"]["skipped"] == len(valid)
    assert data["totals"]["failed"] == BROKEN + EMPTY
    reasons = {i["id"]: i["reason"] for i in data["items"] if i["status"] == "failed"}
    assert all(
        "not a .blend" in reasons[f"Broken-{k}"] or "cannot open" in reasons[f"Broken-{k}"] for k in range(BROKEN)
    )
    assert all("armature" in reasons[f"Empty-{k}"] for k in range(EMPTY))
    assert data["items"][0]["id"] == sorted(names)[0]
    assert "total: 20 item(s) in 3 shard(s)" in merged.stderr + "".join(
        run_forge("batch-report", "--from", s3_url, "--endpoint-url", kasm.endpoint).stdout
    )


def test_models_under_an_s3_prefix_convert_into_another_prefix_and_a_broken_one_fails_alone(
    kasm: S3Server, s3_url: str, demo_blend: Path, user_resources: Path
):
    bucket, _, prefix = s3_url.removeprefix("s3://").partition("/")
    client = kasm.client()
    client.put_object(Bucket=bucket, Key=f"{prefix}/models/Good.blend", Body=demo_blend.read_bytes())
    client.put_object(Bucket=bucket, Key=f"{prefix}/models/Broken.glb", Body=b"not a glb")
    command = [sys.executable, str(FORGE), "batch", "--from", f"{s3_url}/models", "--out", f"{s3_url}/converted",
               "--preset", QUICK, "--endpoint-url", kasm.endpoint, "--json"]  # fmt: skip
    done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=600, stdin=subprocess.DEVNULL,
                          env=_environment(user_resources), check=False)  # fmt: skip
    assert done.returncode == 1, done.stderr[-2000:]  # one item failed: the shard says so at the end
    keys = _bucket_keys(kasm, f"{s3_url}/converted")
    vrm = client.get_object(Bucket=bucket, Key=f"{prefix}/converted/Good.vrm")["Body"].read()
    assert "Good.vrm" in keys and vrm[:4] == b"glTF"
    assert "Broken.vrm" not in keys
    # The sources are only read.
    assert client.get_object(Bucket=bucket, Key=f"{prefix}/models/Broken.glb")["Body"].read() == b"not a glb"


@pytest.fixture(scope="module")
def gltf_avatar(demo_blend: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The demo avatar as a .gltf with its .bin and textures beside it."""
    path = tmp_path_factory.mktemp("gltf") / "Avatar.gltf"
    code = (
        f"import bpy, os\nbpy.ops.wm.open_mainfile(filepath={str(demo_blend)!r})\n"
        f"bpy.ops.export_scene.gltf(filepath={str(path)!r}, export_format='GLTF_SEPARATE')\nos._exit(0)\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, timeout=120)
    return path


@pytest.mark.slow
def test_a_model_from_s3_reads_only_the_files_beside_it_never_the_workers_credentials(
    kasm: S3Server, s3_url: str, gltf_avatar: Path, user_resources: Path
):
    bucket, _, prefix = s3_url.removeprefix("s3://").partition("/")
    client = kasm.client()
    for sibling in gltf_avatar.parent.iterdir():  # the .gltf, its .bin and its textures
        client.put_object(Bucket=bucket, Key=f"{prefix}/models/{sibling.name}", Body=sibling.read_bytes())
    # The worker's environment holds the bucket's keys, as the cluster's Job passes them.
    document = json.loads(gltf_avatar.read_text())
    document["buffers"][0]["uri"] = "/proc/self/environ"
    client.put_object(Bucket=bucket, Key=f"{prefix}/models/Environ.gltf", Body=json.dumps(document).encode())
    command = [sys.executable, str(FORGE), "batch", "--from", f"{s3_url}/models", "--out", f"{s3_url}/converted",
               "--preset", QUICK, "--endpoint-url", kasm.endpoint, "--json"]  # fmt: skip
    done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=600, stdin=subprocess.DEVNULL,
                          env=_environment(user_resources), check=False)  # fmt: skip
    assert done.returncode == 1, done.stderr[-2000:]
    items = {item["id"].rsplit("/", 1)[-1]: item for item in json.loads(done.stdout)["items"]}
    assert items["Avatar.gltf"]["status"] == "done"
    failed = items["Environ.gltf"]
    assert failed["status"] == "failed"
    assert "buffer 0 URI '/proc/self/environ' is an absolute path" in failed["reason"]
    keys = _bucket_keys(kasm, f"{s3_url}/converted")
    assert "Avatar.vrm" in keys and not [k for k in keys if "Environ" in k]
    secret = os.environ["AWS_SECRET_ACCESS_KEY"].encode()
    for key in keys:
        assert secret not in client.get_object(Bucket=bucket, Key=f"{prefix}/converted/{key}")["Body"].read()
