"""Processes as a user, a supervisor or a pod sees them: a model that crashes Blender fails alone, a closed
stdout or a signal ends a command, a killed parent takes its children along, and the temp folder is left
as it was found (at once, or after the next run for a process that was killed)."""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests import blend_fields
from tests.conftest import FORGE, quick_preset_user, run_forge
from tests.server.serving import Serving

pytestmark = pytest.mark.slow  # Blender processes started, crashed and killed


def _parent_of(pid: int) -> int | None:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = stat[stat.rindex(")") + 2 :].split()
    return None if fields[0] == "Z" else int(fields[1])  # a zombie has ended


def _children_of(pid: int) -> list[int]:
    return [int(p.name) for p in Path("/proc").iterdir() if p.name.isdigit() and _parent_of(int(p.name)) == pid]


def _alive(pid: int) -> bool:
    """Whether any thread of `pid` still runs (a killed process's first thread can be a zombie while the
    others are still ending, holding its sockets)."""
    try:
        tasks = list(Path(f"/proc/{pid}/task").iterdir())
    except OSError:
        return False
    states = []
    for task in tasks:
        with contextlib.suppress(OSError):  # a thread that has just ended
            stat = (task / "stat").read_text()
            states.append(stat[stat.rindex(")") + 2])
    return any(state not in "ZX" for state in states)


def _within(seconds: float, condition: Callable[[], bool]) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.1)
    return condition()


def _command_line(pid: int) -> list[str]:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().decode().split("\0")
    except OSError:
        return []


_started: list[int] = []  # every process a test started, and their children: none outlives its test


@pytest.fixture(autouse=True)
def _nothing_left_running() -> Iterator[None]:
    yield
    for pid in _started:
        for child in _children_of(pid):
            with contextlib.suppress(OSError):
                os.kill(child, signal.SIGKILL)
        with contextlib.suppress(OSError):
            os.kill(pid, signal.SIGKILL)
    _started.clear()


def _start(*args: str | Path, temp: Path, user: Path, **popen: object) -> subprocess.Popen[bytes]:
    env = {**os.environ, "TMPDIR": str(temp), "BLENDER_USER_RESOURCES": str(user)}
    process: subprocess.Popen[bytes] = subprocess.Popen([sys.executable, str(FORGE), *map(str, args)], env=env,
                                                        **popen)  # type: ignore[call-overload]  # fmt: skip
    _started.append(process.pid)
    return process


@pytest.fixture
def temp(tmp_path: Path) -> Path:
    """A temp folder (TMPDIR) for the commands of one test, with two folders that are not ours."""
    folder = tmp_path / "temp"
    (folder / "blender_stranger").mkdir(parents=True)
    (folder / "avatar-forge-run-1-stranger").mkdir()  # our name, but no lock: never proven abandoned
    return folder


def _ours(temp: Path) -> list[str]:
    return sorted(p.name for p in temp.iterdir() if p.name not in ("blender_stranger", "avatar-forge-run-1-stranger"))


@pytest.fixture
def user(tmp_path: Path) -> Path:
    return quick_preset_user(tmp_path / "user")


def test_one_crashing_model_fails_alone_and_the_others_convert(demo_blend: Path, temp: Path, user: Path, tmp_path):
    models = tmp_path / "models"
    models.mkdir()
    shutil.copyfile(demo_blend, models / "a.blend")
    (models / "crash.blend").write_bytes(blend_fields.crashing(demo_blend))
    shutil.copyfile(demo_blend, models / "z.blend")
    out = tmp_path / "out"
    out.mkdir()

    result = run_forge("convert", *(models / n for n in ("a.blend", "crash.blend", "z.blend")), "--out", out,
                       "--preset", "quick", "--json", user_resources=user, env={"TMPDIR": str(temp)})  # fmt: skip

    assert result.code == 1, result.stderr[-2000:]
    report = result.json()
    assert [(Path(e["input"]).name, e["ok"], e["error"]) for e in report["models"]] == [
        ("a.blend", True, None), ("crash.blend", False, "crash.blend: crashed (signal 11)"), ("z.blend", True, None)
    ]  # fmt: skip
    assert report["summary"] == "2 of 3 model(s) converted, 1 failed"
    assert sorted(p.name for p in out.iterdir()) == ["a.vrm", "z.vrm"]
    assert _ours(temp) == []


def test_the_socket_refuses_a_blend_that_crashes_blender_and_goes_on(demo_blend: Path, tmp_path: Path):
    crash = tmp_path / "crash.blend"
    crash.write_bytes(blend_fields.crashing(demo_blend))
    fine = tmp_path / "Fine.blend"
    shutil.copyfile(demo_blend, fine)
    with Serving("--blend", demo_blend) as serving:
        client = serving.client(timeout=300)
        before = client.result("get_scene_info")
        reply = client.request("avatar_import", path=str(crash))
        assert reply["status"] == "error"
        assert reply["message"] == (
            "crash.blend: a separate Blender reading it crashed (signal 11); not imported (the file is corrupt)"
        )
        assert client.result("get_scene_info") == before  # the artist's scene, as it was
        assert client.result("avatar_check_rig", preset="companions-web")["ok"] is True  # their Blender goes on
        imported = client.result("avatar_import", path=str(fine))
        assert imported["format"] == "blend" and imported["armature"]
        assert serving.process.poll() is None


def test_the_sidebar_refuses_a_blend_that_crashes_blender(empty_scene: Any, demo_blend: Path, tmp_path: Path):
    bpy = empty_scene
    crash = tmp_path / "crash.blend"
    crash.write_bytes(blend_fields.crashing(demo_blend))
    with pytest.raises(RuntimeError, match=r"crash\.blend: a separate Blender reading it crashed \(signal 11\)"):
        bpy.ops.avatar_forge.import_avatar(filepath=str(crash))  # this process is the artist's Blender
    assert len(bpy.data.objects) == 0 and len(bpy.data.meshes) == 0
    fine = tmp_path / "Fine.blend"
    shutil.copyfile(demo_blend, fine)
    assert bpy.ops.avatar_forge.import_avatar(filepath=str(fine)) == {"FINISHED"}
    assert any(o.type == "ARMATURE" for o in bpy.data.objects)


@pytest.mark.parametrize("json_output", [False, True], ids=["text", "json"])
def test_a_closed_stdout_ends_the_command(demo_blend: Path, temp: Path, user: Path, json_output: bool):
    flags = ["--json"] if json_output else []
    process = _start("check", "--blend", demo_blend, *flags, temp=temp, user=user, stdout=subprocess.PIPE,
                     stderr=subprocess.PIPE)  # fmt: skip
    assert process.stdout is not None
    process.stdout.close()  # `| head -c 0`: the reader is gone before anything is written
    _out, err = process.communicate(timeout=120)  # it used to hang at exit, forever
    assert process.returncode == 141, err.decode()[-2000:]
    assert b"Traceback" not in err
    assert _ours(temp) == []


def _worker_of(batch: subprocess.Popen[bytes]) -> int:
    found: list[int] = []

    def started() -> bool:
        found[:] = [p for p in _children_of(batch.pid) if "--item" in _command_line(p)]
        return bool(found)

    assert _within(180, started), "no batch-item worker started"
    return found[0]


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT, signal.SIGKILL], ids=["term", "int", "kill"])
def test_a_batch_stopped_mid_item_takes_its_worker_along(demo_blend, temp: Path, user: Path, tmp_path, sig):
    models = tmp_path / "models"
    models.mkdir()
    shutil.copyfile(demo_blend, models / "a.blend")
    batch = _start("batch", "--from", models, "--out", tmp_path / "dest", "--preset", "quick", temp=temp, user=user,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
    (tmp_path / "dest").mkdir()
    worker = _worker_of(batch)
    _started.append(worker)
    time.sleep(1)  # into its work
    batch.send_signal(sig)
    assert batch.wait(30) == (-sig if sig == signal.SIGKILL else 128 + sig)
    assert _within(10, lambda: not _alive(worker)), "the worker outlived the batch"
    if sig != signal.SIGKILL:
        assert _ours(temp) == []
    run_forge("version", env={"TMPDIR": str(temp)})  # a killed batch's folder goes at the next run
    assert _ours(temp) == []


@pytest.mark.parametrize("sig", [signal.SIGKILL, signal.SIGHUP], ids=["kill", "hup"])
def test_a_killed_mcp_server_takes_its_private_blender_along(demo_blend: Path, temp: Path, user: Path, sig):
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]  # nothing listens there: mcp starts its private Blender
    mcp = _start("mcp", "--blend", demo_blend, "--port", port, temp=temp, user=user, stdin=subprocess.PIPE,
                 stdout=subprocess.PIPE, stderr=subprocess.PIPE)  # fmt: skip
    assert mcp.stderr is not None
    lines: list[str] = []
    ready = threading.Event()

    def read() -> None:
        assert mcp.stderr is not None
        for raw in mcp.stderr:
            lines.append(raw.decode(errors="replace"))
            if "private headless Blender for" in lines[-1]:
                ready.set()

    threading.Thread(target=read, daemon=True).start()
    assert ready.wait(300), "".join(lines[-20:])
    found = re.search(r"on 127\.0\.0\.1:(\d+)", lines[-1])
    assert found is not None
    private_port = int(found.group(1))
    (blender,) = _children_of(mcp.pid)
    _started.append(blender)
    socket.create_connection(("127.0.0.1", private_port), timeout=5).close()

    mcp.send_signal(sig)
    mcp.wait(30)
    assert _within(10, lambda: not _alive(blender)), "the private Blender outlived the MCP server"
    with pytest.raises(OSError):
        socket.create_connection(("127.0.0.1", private_port), timeout=5).close()
    assert not list(temp.rglob("avatar-forge-mcp-*")), "the token folder was left behind"
    run_forge("version", env={"TMPDIR": str(temp)})
    assert _ours(temp) == []


def test_commands_leave_the_temp_folder_as_they_found_it(demo_blend: Path, temp: Path, user: Path, tmp_path):
    env = {"TMPDIR": str(temp)}
    assert run_forge("check", "--blend", demo_blend, "--json", user_resources=user, env=env).code == 0
    converted = run_forge("convert", demo_blend, "--out", tmp_path / "a.vrm", "--preset", "quick",
                          user_resources=user, env=env)  # fmt: skip
    assert converted.code == 0, converted.stderr[-2000:]
    assert _ours(temp) == []

    killed = _start("check", "--blend", demo_blend, temp=temp, user=user, stdout=subprocess.DEVNULL,
                    stderr=subprocess.DEVNULL)  # fmt: skip
    assert _within(60, lambda: any(temp.glob("avatar-forge-run-*/blender_*")))  # Blender's own folder, in ours
    killed.kill()
    killed.wait()
    assert _ours(temp) != []  # what a killed process could not remove
    assert run_forge("version", env=env).code == 0
    assert _ours(temp) == []
    assert (temp / "blender_stranger").is_dir() and (temp / "avatar-forge-run-1-stranger").is_dir()
