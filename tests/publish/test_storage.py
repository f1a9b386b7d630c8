"""Publishing's upload path on both backends (a folder root and a real S3 server), without Blender:
versions, racing publishers, and kill -9 at random instants."""

from __future__ import annotations

import hashlib
import json
import os
import random
import re
import signal
import socket
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from addon.core.publish.bucket_keys import QUEUE
from addon.core.publish.digest import digest_file
from addon.core.publish.promotion import parse_request
from addon.storage.background import BackgroundJob, Progress
from addon.storage.base import Storage, StorageError
from addon.storage.release import PublishCancelledError, Release, publish_files
from addon.storage.s3 import ATTEMPTS_ENV, CONNECT_TIMEOUT_ENV, READ_TIMEOUT_ENV
from addon.storage.targets import open_storage
from tests.conftest import ROOT
from tests.publish.conftest import publisher_command, run_publisher
from tests.publish.publisher import describe
from tests.publish.samples import make_vrm

pytestmark = pytest.mark.slow  # real S3 servers, racing publishers and kill -9 runs: half a minute in all


@dataclass
class Backend:
    kind: str
    args: list[str]
    # Every object a reader can see under a final name, with its bytes.
    objects: Callable[[], dict[str, bytes]]
    put: Callable[[str, bytes], None]

    def storage(self) -> Storage:
        """The storage layer itself, in this process, as the publisher opens it."""
        option = dict(zip(self.args[::2], self.args[1::2], strict=True))
        if self.kind == "root":
            return open_storage(root=option["--root"])
        return open_storage(s3_url=option["--s3"], endpoint_url=option["--endpoint-url"])


@pytest.fixture(params=["root", "s3"])
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> Backend:
    if request.param == "root":
        root = tmp_path / "s3-mount-standin"
        root.mkdir()

        def objects() -> dict[str, bytes]:
            # Everything in the folder, not what our lister chooses to show: hidden temporaries are the one
            # thing allowed to be partial.
            return {
                p.relative_to(root).as_posix(): p.read_bytes()
                for p in root.rglob("*")
                if p.is_file() and not p.name.startswith(".")
            }

        def put(key: str, data: bytes) -> None:
            (root / key).parent.mkdir(parents=True, exist_ok=True)
            (root / key).write_bytes(data)

        return Backend("root", ["--root", str(root)], objects, put)
    url = request.getfixturevalue("s3_url")
    server = request.getfixturevalue("kasm")
    client = server.client()
    bucket, prefix = url[len("s3://") :].split("/", 1)

    def s3_objects() -> dict[str, bytes]:
        listed = client.list_objects_v2(Bucket=bucket, Prefix=prefix + "/").get("Contents", [])
        return {
            o["Key"][len(prefix) + 1 :]: client.get_object(Bucket=bucket, Key=o["Key"])["Body"].read() for o in listed
        }

    def s3_put(key: str, data: bytes) -> None:
        client.put_object(Bucket=bucket, Key=f"{prefix}/{key}", Body=data)

    return Backend("s3", ["--s3", url, "--endpoint-url", server.endpoint], s3_objects, s3_put)


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A VRM just over the multipart threshold (so S3 uploads go in parts) and a 1 MB stand-in .blend."""
    folder = tmp_path_factory.mktemp("artifacts")
    vrm, blend = folder / "model.vrm", folder / "model.blend"
    vrm.write_bytes(make_vrm(17 * 1024 * 1024))
    blend.write_bytes(b"BLENDER-v405" + os.urandom(1024 * 1024))
    return vrm, blend


def assert_consistent(objects: dict[str, bytes], vrm: bytes, blend: bytes) -> list[int]:
    """No partial object under a final name, no queue entry without both complete artifacts; the queued versions."""
    for key, data in objects.items():
        if key.startswith("exports/"):
            assert data == vrm, f"{key} is not the whole VRM ({len(data)} of {len(vrm)} bytes)"
        elif key.startswith("projects/"):
            assert data == blend, f"{key} is not the whole .blend ({len(data)} of {len(blend)} bytes)"
    versions = []
    for key, data in objects.items():
        if key.startswith(QUEUE):
            request = parse_request(data)
            for artifact in request.artifacts:
                assert artifact.key in objects, f"{key} queued without {artifact.key}"
                assert hashlib.sha256(objects[artifact.key]).hexdigest() == artifact.sha256
            versions.append(request.version)
    return sorted(versions)


def test_an_existing_v3_makes_the_next_publish_v4_and_nothing_is_overwritten(backend, files):
    vrm, blend = files
    backend.put("exports/Companion-A-v3.vrm", b"the v3 that was there")
    result = run_publisher("Companion-A", vrm, blend, backend.args)
    assert result["version"] == 4
    objects = backend.objects()
    assert objects["exports/Companion-A-v3.vrm"] == b"the v3 that was there"
    assert objects["exports/Companion-A-v4.vrm"] == vrm.read_bytes()
    assert objects["projects/Companion-A-v4.blend"] == blend.read_bytes()
    request = parse_request(objects["promotion/queue/Companion-A-v4.json"])
    assert request.vrm.sha256 == hashlib.sha256(vrm.read_bytes()).hexdigest()
    assert request.blend.size == blend.stat().st_size


def test_s3_objects_carry_rclone_md5_and_our_sha256(kasm, s3_url, files):
    vrm, blend = files
    run_publisher("Meta", vrm, blend, ["--s3", s3_url, "--endpoint-url", kasm.endpoint])
    bucket, prefix = s3_url[len("s3://") :].split("/", 1)
    head = kasm.client().head_object(Bucket=bucket, Key=f"{prefix}/exports/Meta-v1.vrm")
    metadata = {k.lower(): v for k, v in head["Metadata"].items()}
    data = vrm.read_bytes()
    import base64

    assert metadata["md5chksum"] == base64.b64encode(hashlib.md5(data).digest()).decode()
    assert metadata["sha256"] == hashlib.sha256(data).hexdigest()


def _start_waiting(name: str, vrm: Path, blend: Path, args: list[str], *flags: str) -> subprocess.Popen[str]:
    process = subprocess.Popen(
        publisher_command(name, vrm, blend, args, "--wait", *flags),
        cwd=ROOT,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert process.stdout is not None
    assert process.stdout.readline().strip() == "ready"
    return process


def _tell(process: subprocess.Popen[str], line: str) -> None:
    assert process.stdin is not None
    process.stdin.write(line + "\n")
    process.stdin.flush()


def test_publishers_racing_for_one_name_get_distinct_versions(backend, files):
    """Every racer counts the versions before any writes its claim: all three count the same free
    version, the worst case, on every run (a protocol without the claim check hands out v1 three times)."""
    vrm, blend = files
    racers = [_start_waiting("Racer", vrm, blend, backend.args, "--hold-after-counting") for _ in range(3)]
    for process in racers:
        _tell(process, "go")
    for process in racers:  # the barrier: every racer has counted, none has claimed
        assert process.stdout is not None
        assert process.stdout.readline().strip() == "counted"
    for process in racers:
        _tell(process, "claim")
    versions = []
    for process in racers:
        out, err = process.communicate(timeout=120)
        assert process.returncode == 0, err
        versions.append(json.loads(out)["version"])
    # Distinct, every one complete. Not necessarily 1-2-3: while racers withdraw a claim they all saw,
    # a fourth look can find it still there and count past it (the next version is one more than the
    # highest present), which leaves a gap, never a shared number.
    assert len(set(versions)) == 3 and min(versions) >= 1
    assert assert_consistent(backend.objects(), vrm.read_bytes(), blend.read_bytes()) == sorted(versions)


TRIALS_PER_BACKEND = 10  # x 2 backends: 20 trials


def test_kill_9_at_random_instants_leaves_no_partial_object_and_no_orphan_queue_entry(backend, files):
    vrm, blend = files
    vrm_bytes, blend_bytes = vrm.read_bytes(), blend.read_bytes()
    # One uninterrupted publish measures how long a publish takes on this backend, here, now.
    timer = _start_waiting("Victim", vrm, blend, backend.args)
    out, err = timer.communicate("go\n", timeout=120)
    assert timer.returncode == 0, err
    duration = json.loads(out)["seconds"]
    rng = random.Random(6)
    outcomes = {"killed": 0, "finished": 0}
    for _ in range(TRIALS_PER_BACKEND):
        process = _start_waiting("Victim", vrm, blend, backend.args)
        assert process.stdin is not None
        process.stdin.write("go\n")
        process.stdin.flush()
        time.sleep(rng.uniform(0.0, duration))
        process.send_signal(signal.SIGKILL)
        process.communicate(timeout=60)
        outcomes["killed" if process.returncode == -signal.SIGKILL else "finished"] += 1
        assert_consistent(backend.objects(), vrm_bytes, blend_bytes)
    assert outcomes["killed"] >= TRIALS_PER_BACKEND // 2, outcomes  # most kills must land inside a publish
    # And publishing still works after all that debris: the next version is above every claim.
    after = run_publisher("Victim", vrm, blend, backend.args)
    versions = assert_consistent(backend.objects(), vrm_bytes, blend_bytes)
    assert after["version"] == max(versions)


def test_the_storage_layer_never_overwrites_a_final_name(backend, tmp_path):
    """The guard of last resort under the claims, hit directly: correct version counting never reaches it."""
    storage = backend.storage()
    backend.put("exports/Kept-v1.vrm", b"the published v1")
    source = tmp_path / "other.vrm"
    source.write_bytes(b"another file entirely")
    with pytest.raises(StorageError, match=re.escape("exports/Kept-v1.vrm already exists; it is never overwritten")):
        storage.put_file("exports/Kept-v1.vrm", source, digest_file(source))
    with pytest.raises(StorageError, match="already exists; it is never overwritten"):
        storage.put_bytes("exports/Kept-v1.vrm", b"small but different")
    assert backend.objects() == {"exports/Kept-v1.vrm": b"the published v1"}


def test_a_publish_failing_after_the_vrm_is_uploaded_removes_what_it_wrote(backend, files, tmp_path):
    """The .blend's copy vanishes (a full or failing disk) while the VRM is going up: the finished VRM
    and the claim are removed again, nothing is queued, and the next publish takes the same version."""
    vrm, _blend = files
    blend = tmp_path / "doomed.blend"
    blend.write_bytes(b"BLENDER-v405" + b"\0" * 4096)

    def lose_the_blend(_fraction: float, what: str) -> None:
        if what.startswith("uploading exports/"):
            blend.unlink(missing_ok=True)

    with pytest.raises(StorageError, match=re.escape("projects/Fails-v1.blend")) as raised:
        publish_files(backend.storage(), "Fails", vrm, blend, describe=describe, progress=lose_the_blend)
    assert "\n" not in str(raised.value)
    assert backend.objects() == {}
    blend.write_bytes(b"BLENDER-v405")
    assert run_publisher("Fails", vrm, blend, backend.args)["version"] == 1


def test_an_export_a_killed_publish_left_is_reported_by_the_next_publish(backend, files):
    vrm, blend = files
    backend.put("exports/Orphan-v1.vrm", b"uploaded, then the publisher was killed")
    first = run_publisher("Orphan", vrm, blend, backend.args)
    assert first["version"] == 2
    assert first["unqueued"] == [backend.storage().where("exports/Orphan-v1.vrm")]
    assert run_publisher("Orphan", vrm, blend, backend.args)["unqueued"] == first["unqueued"]


def test_a_planted_top_version_makes_publish_refuse_naming_it_and_write_nothing(backend, tmp_path):
    """`exports/Foo-v999999999.vrm` made the next publish take v1000000000, which no parser reads back:
    every later publish failed as if rivals kept winning, and the promoter failed what got through."""
    vrm, blend = tmp_path / "m.vrm", tmp_path / "m.blend"
    vrm.write_bytes(make_vrm())
    blend.write_bytes(b"BLENDER-v405")
    backend.put("exports/Foo-v999999999.vrm", b"planted")
    before = backend.objects()
    with pytest.raises(StorageError, match=r"exports/Foo-v999999999\.vrm holds version 999999999 of Foo"):
        publish_files(backend.storage(), "Foo", vrm, blend, describe=describe)
    assert backend.objects() == before
    # Past the bound, a planted key is no version: the name publishes as if it were not there.
    backend.put("exports/Bar-v1000000000.vrm", b"planted")
    assert publish_files(backend.storage(), "Bar", vrm, blend, describe=describe).request.version == 1


@pytest.fixture
def silent_endpoint() -> Iterator[str]:
    """A loopback S3 endpoint that accepts connections and never answers a byte."""
    with socket.create_server(("127.0.0.1", 0)) as server:
        server.listen(64)
        yield f"http://127.0.0.1:{server.getsockname()[1]}"


def test_an_endpoint_that_never_answers_fails_the_publish_in_bounded_time_with_one_line(
    silent_endpoint, files, monkeypatch
):
    vrm, blend = files
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "forge-test-access-7f3a")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "forge-test-secret-2b9c41d8e6")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.setenv(READ_TIMEOUT_ENV, "0.5")
    monkeypatch.setenv(ATTEMPTS_ENV, "2")
    storage = open_storage(s3_url="s3://kasm/blender-avatars", endpoint_url=silent_endpoint)
    started = time.monotonic()
    with pytest.raises(StorageError) as raised:
        publish_files(storage, "Stalled", vrm, blend, describe=describe)
    elapsed = time.monotonic() - started
    assert elapsed < 15, f"took {elapsed:.1f} s"  # was 383 s: the defaults waited without end
    message = str(raised.value)
    assert "\n" not in message and message.startswith("cannot list s3://kasm/blender-avatars/")
    assert f"{silent_endpoint} did not answer within 0.5 s (2 attempts)" in message


@pytest.mark.parametrize(
    ("variable", "value", "message"),
    [(READ_TIMEOUT_ENV, "soon", "positive number of seconds"), (ATTEMPTS_ENV, "2.5", "whole number of tries"),
     (CONNECT_TIMEOUT_ENV, "0", "positive number of seconds")],
)  # fmt: skip
def test_bad_timeout_settings_are_refused_in_one_line(monkeypatch, variable, value, message):
    monkeypatch.setenv(variable, value)
    with pytest.raises(ValueError, match=message):
        open_storage(s3_url="s3://kasm/x", endpoint_url="http://127.0.0.1:9")


def test_a_background_publish_shows_progress_to_another_thread_and_cancels_cleanly(backend, files):
    """The sidebar's upload runs on a worker thread (the modal operator around it cannot run headless):
    the UI thread reads its progress while it uploads, and a cancel mid-upload leaves nothing behind."""
    vrm, blend = files
    storage = backend.storage()
    mid_upload, resume = threading.Event(), threading.Event()

    def job(progress: Progress, cancel: threading.Event) -> Release:
        def observed(fraction: float, what: str) -> None:
            progress(fraction, what)
            if what.startswith("uploading exports/") and fraction > 0.05 and not mid_upload.is_set():
                mid_upload.set()  # bytes are on their way: hold here until the test has cancelled
                assert resume.wait(60)

        return publish_files(storage, "Background", vrm, blend, describe=describe, progress=observed, cancel=cancel)

    worker = BackgroundJob(job, name="test-publish")
    worker.start()
    assert mid_upload.wait(60)
    fraction, what = worker.progress
    assert what == "uploading exports/Background-v1.vrm" and 0.05 < fraction < 1 and not worker.done
    worker.cancel()
    resume.set()
    assert worker.wait(60)
    with pytest.raises(PublishCancelledError, match="publish of Background cancelled; nothing was queued"):
        worker.outcome()
    assert backend.objects() == {}

    finished = BackgroundJob(
        lambda progress, cancel: publish_files(
            storage, "Background", vrm, blend, describe=describe, progress=progress, cancel=cancel
        ),
        name="test-publish-2",
    )
    finished.start()
    assert finished.wait(60)
    assert finished.outcome().request.version == 1  # the cancelled publish gave its version back
    assert finished.progress == (1.0, "queued Background-v1")
