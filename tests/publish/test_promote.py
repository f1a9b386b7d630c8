"""`forge.py promote` against real storage: the kasm bucket and the mirror are `rclone serve s3` servers,
NFS and R2 are local stand-in folders. Every run blocks bpy, numpy and boto3, which its container lacks."""

from __future__ import annotations

import json
import os
import resource
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from addon.promote.config import load_config
from addon.promote.promoter import PassReport, Promoter
from addon.promote.rclone import Rclone, find_rclone
from tests.conftest import FORGE, ROOT, ForgeRun
from tests.publish.conftest import S3Server, run_publisher
from tests.publish.samples import bin_chunk, glb, json_chunk, make_vrm

# Each test runs the promoter in processes of its own against real S3 servers: seconds each, over a minute
# for the file, which pytest-xdist should start early rather than finish a run with (tests/conftest.py).
pytestmark = pytest.mark.slow

# The promoter's image (deploy/promoter) has Python and rclone only: importing any of these there is a bug.
_ONLY_STDLIB = (
    "import runpy, sys\n"
    "for m in ('bpy', 'bmesh', 'mathutils', 'addon_utils', 'io_scene_vrm', 'numpy', 'boto3', 'botocore'):\n"
    "    sys.modules[m] = None\n"
    "sys.argv = [{forge!r}] + sys.argv[1:]\n"
    "runpy.run_path({forge!r}, run_name='__main__')\n"
)


@dataclass
class Promotion:
    source_url: str  # s3://kasm/<prefix>/blender-avatars, where publishers publish
    config: Path
    nfs: Path
    r2: Path
    mirror: S3Server
    mirror_bucket: str
    kasm: S3Server
    vrm_dir: Path

    def promote(self, *args: str, background: bool = False, max_file_bytes: int | None = None) -> Any:
        """Runs the promoter; `max_file_bytes` caps every file it (and its rclone) writes: a full scratch."""
        command = [sys.executable, "-c", _ONLY_STDLIB.format(forge=str(FORGE)), "promote", "--config",
                   str(self.config), *args]  # fmt: skip

        def limit() -> None:
            if max_file_bytes is not None:
                resource.setrlimit(resource.RLIMIT_FSIZE, (max_file_bytes, max_file_bytes))

        if background:
            return subprocess.Popen(command, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        done = subprocess.run(
            command, cwd=ROOT, capture_output=True, text=True, timeout=300, check=False, preexec_fn=limit
        )
        return ForgeRun(done.returncode, done.stdout, done.stderr)

    def promote_measured(self, *args: str) -> tuple[ForgeRun, int]:
        """Runs the promoter and returns its run and the peak resident memory, in MiB, of the largest
        process it was or started (its Python, each rclone)."""
        measure = (
            "import resource, subprocess, sys\n"
            "done = subprocess.run(sys.argv[1:], capture_output=True, text=True)\n"
            "sys.stdout.write(done.stdout)\n"
            "sys.stderr.write(done.stderr + f'\\npeak {resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss}\\n')\n"
            "sys.exit(done.returncode)\n"
        )
        command = [sys.executable, "-c", measure, sys.executable, "-c", _ONLY_STDLIB.format(forge=str(FORGE)),
                   "promote", "--config", str(self.config), *args]  # fmt: skip
        done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=300, check=False)
        *log, peak = done.stderr.rstrip().splitlines()
        return ForgeRun(done.returncode, done.stdout, "\n".join(log)), int(peak.split()[1]) // 1024

    def put_source(self, key: str, data: bytes) -> None:
        """Writes straight into the kasm bucket, the way anyone with its credentials can."""
        bucket, full = self.source_key(key)
        self.kasm.client().put_object(Bucket=bucket, Key=full, Body=data)

    def publish(self, name: str, vrm: bytes) -> int:
        path = self.vrm_dir / f"{name}-{uuid.uuid4().hex[:6]}.vrm"
        path.write_bytes(vrm)
        blend = self.vrm_dir / "source.blend"
        if not blend.exists():
            blend.write_bytes(b"BLENDER-v405" + os.urandom(4096))
        where = ["--s3", self.source_url, "--endpoint-url", self.kasm.endpoint]
        return int(run_publisher(name, path, blend, where)["version"])

    def source_key(self, key: str) -> tuple[str, str]:
        bucket, prefix = self.source_url[len("s3://") :].split("/", 1)
        return bucket, f"{prefix}/{key}"

    def source_keys(self, folder: str) -> list[str]:
        bucket, prefix = self.source_key(folder)
        listed = self.kasm.client().list_objects_v2(Bucket=bucket, Prefix=prefix).get("Contents", [])
        return sorted(o["Key"][len(prefix) :] for o in listed)

    def source_object(self, key: str) -> bytes:
        bucket, full = self.source_key(key)
        return bytes(self.kasm.client().get_object(Bucket=bucket, Key=full)["Body"].read())

    def mirror_files(self) -> dict[str, bytes]:
        client = self.mirror.client()
        listed = client.list_objects_v2(Bucket=self.mirror_bucket).get("Contents", [])
        return {
            o["Key"]: bytes(client.get_object(Bucket=self.mirror_bucket, Key=o["Key"])["Body"].read()) for o in listed
        }

    def targets(self) -> dict[str, dict[str, bytes]]:
        """Every file at every target, by name."""
        folders = {"nfs": self.nfs, "r2": self.r2}
        found = {t: {p.name: p.read_bytes() for p in f.iterdir() if p.is_file()} for t, f in folders.items()}
        found["mirror"] = self.mirror_files()
        return found


@pytest.fixture
def promotion(kasm, s3_pair, tmp_path, monkeypatch) -> Promotion:
    mirror = s3_pair[1]
    mirror_bucket = mirror.bucket(f"avatar-models-{uuid.uuid4().hex[:8]}")
    source_url = f"s3://{kasm.bucket('kasm')}/t-{uuid.uuid4().hex[:8]}/blender-avatars"
    for key, value in {**kasm.rclone_env("kasm"), **mirror.rclone_env("mirror")}.items():
        monkeypatch.setenv(key, value)
    nfs, r2 = tmp_path / "nfs-standin", tmp_path / "r2-standin"
    nfs.mkdir()
    r2.mkdir()
    config = tmp_path / "promote.toml"
    config.write_text(
        f'[source]\nremote = "kasm:{source_url[len("s3://") :]}"\n\n'
        f'[targets.nfs]\nremote = "{nfs}"\n\n'
        f'[targets.mirror]\nremote = "mirror:{mirror_bucket}"\ns3 = true\n\n'
        f'[targets.r2]\nremote = "{r2}"\n'
    )
    vrm_dir = tmp_path / "published"
    vrm_dir.mkdir()
    return Promotion(source_url, config, nfs, r2, mirror, mirror_bucket, kasm, vrm_dir)


def _index(data: bytes) -> dict[str, dict[str, Any]]:
    return {m["file"]: m for m in json.loads(data)["models"]}


def test_promote_copies_verifies_indexes_and_records_done(promotion):
    first, second = make_vrm(salt="one"), make_vrm(8192, salt="two")
    assert promotion.publish("Companion-A", first) == 1
    assert promotion.publish("Companion-A", second) == 2
    run = promotion.promote("--once", "--json")
    assert run.code == 0, run.stderr
    report = run.json()
    assert report["counts"] == {"promoted": 2}
    targets = promotion.targets()
    for name, files in targets.items():
        assert files["Companion-A-v1.vrm"] == first, name
        assert files["Companion-A-v2.vrm"] == second, name
        index = _index(files["index.json"])
        assert index["Companion-A-v2.vrm"]["version"] == 2
        assert index["Companion-A-v2.vrm"]["size"] == len(second)
        import hashlib

        assert index["Companion-A-v1.vrm"]["sha256"] == hashlib.sha256(first).hexdigest()
    client = promotion.mirror.client()
    head = client.head_object(Bucket=promotion.mirror_bucket, Key="Companion-A-v1.vrm")
    assert head["CacheControl"] == "public, max-age=31536000, immutable"
    assert client.head_object(Bucket=promotion.mirror_bucket, Key="index.json")["CacheControl"] == "no-cache"
    assert promotion.source_keys("promotion/queue/") == []
    done = json.loads(promotion.source_object("promotion/done/Companion-A-v1.json"))
    assert done["result"]["status"] == "promoted" and done["request"]["version"] == 1
    assert set(done["result"]["targets"]) == {"nfs", "mirror", "r2"}
    # The frontend's allowlists are printed for a reviewer, never edited.
    assert any('"Companion-A-v2.vrm"' in line for line in report["allowlist"])
    assert any("'Companion-A-v1.vrm'" in line for line in report["allowlist"])


def test_a_second_promote_is_a_no_op(promotion):
    promotion.publish("Calm", make_vrm())
    assert promotion.promote("--once").code == 0
    before = promotion.targets()
    stamps = {p: p.stat().st_mtime_ns for p in [*promotion.nfs.iterdir(), *promotion.r2.iterdir()]}
    again = promotion.promote("--once")
    assert again.code == 0, again.stderr
    assert again.stdout.strip() == "nothing queued"
    assert promotion.targets() == before
    assert {p: p.stat().st_mtime_ns for p in stamps} == stamps


def test_a_tampered_or_invalid_artifact_lands_in_failed_and_is_never_copied(promotion):
    promotion.publish("Good", make_vrm(salt="good"))
    promotion.publish("Tampered", make_vrm(salt="tampered"))
    promotion.publish("NoLicense", make_vrm(license_url="https://example.com/all-rights-reserved"))
    bucket, key = promotion.source_key("exports/Tampered-v1.vrm")
    original = promotion.source_object("exports/Tampered-v1.vrm")
    flipped = original[:-1] + bytes([original[-1] ^ 0xFF])  # same size, one bit pattern changed
    promotion.kasm.client().put_object(Bucket=bucket, Key=key, Body=flipped)
    run = promotion.promote("--once", "--json")
    assert run.code == 1  # the work found problems
    statuses = {o["request"]: (o["status"], o["reason"]) for o in run.json()["outcomes"]}
    assert statuses["Good-v1.json"][0] == "promoted"
    assert statuses["Tampered-v1.json"][0] == "failed" and "sha256" in statuses["Tampered-v1.json"][1]
    assert statuses["NoLicense-v1.json"][0] == "failed" and "licenseUrl" in statuses["NoLicense-v1.json"][1]
    failed = json.loads(promotion.source_object("promotion/failed/Tampered-v1.json"))
    assert "sha256" in failed["result"]["reason"]
    assert promotion.source_keys("promotion/queue/") == []
    for name, files in promotion.targets().items():
        assert "Good-v1.vrm" in files, name
        assert not any(f.startswith(("Tampered", "NoLicense")) for f in files), name
        assert set(_index(files["index.json"])) == {"Good-v1.vrm"}
    assert run.json()["allowlist"] and not any("Tampered" in line for line in run.json()["allowlist"])


def test_a_request_already_in_failed_is_reported_failed_again_not_promoted(promotion):
    """A run killed between recording failed/ and removing the queue entry, or a person re-queueing it."""
    promotion.publish("Broken", make_vrm(license_url="https://example.com/all-rights-reserved"))
    queued = promotion.source_object("promotion/queue/Broken-v1.json")
    assert promotion.promote("--once").code == 1
    bucket, key = promotion.source_key("promotion/queue/Broken-v1.json")
    promotion.kasm.client().put_object(Bucket=bucket, Key=key, Body=queued)
    run = promotion.promote("--once", "--json")
    assert run.code == 1
    (outcome,) = run.json()["outcomes"]
    assert (outcome["status"], outcome["reason"]) == ("failed", "recorded by an earlier run")
    assert promotion.targets() == {"nfs": {}, "r2": {}, "mirror": {}}


def test_a_dry_run_verifies_but_copies_and_moves_nothing(promotion):
    promotion.publish("Dry", make_vrm())
    run = promotion.promote("--dry-run", "--json")
    assert run.code == 0, run.stderr
    assert [o["status"] for o in run.json()["outcomes"]] == ["would promote"]
    assert promotion.source_keys("promotion/queue/") == ["Dry-v1.json"]
    assert promotion.targets() == {"nfs": {}, "r2": {}, "mirror": {}}


def test_a_promoter_killed_midway_is_completed_by_the_next_run(promotion):
    models = {f"Batch{i}": make_vrm(salt=f"batch{i}") for i in range(4)}
    for name, data in models.items():
        promotion.publish(name, data)
    process = promotion.promote("--once", background=True)
    # Killed the moment the first model reaches the NFS stand-in: mid-pass, before any index or record.
    deadline = time.monotonic() + 120
    while not any(p.suffix == ".vrm" for p in promotion.nfs.iterdir()):
        assert process.poll() is None and time.monotonic() < deadline, "the promoter never reached NFS"
        time.sleep(0.005)
    process.send_signal(signal.SIGKILL)
    process.communicate(timeout=30)
    assert process.returncode == -signal.SIGKILL  # it was still at work when killed
    assert len(promotion.source_keys("promotion/queue/")) == len(models)  # nothing concluded yet
    run = promotion.promote("--once", "--json")
    assert run.code == 0, run.stderr
    assert promotion.source_keys("promotion/queue/") == []
    assert sorted(promotion.source_keys("promotion/done/")) == sorted(f"{n}-v1.json" for n in models)
    for name, files in promotion.targets().items():
        for model, data in models.items():
            assert files[f"{model}-v1.vrm"] == data, (name, model)
        entries = json.loads(files["index.json"])["models"]
        assert sorted(m["file"] for m in entries) == sorted(f"{n}-v1.vrm" for n in models), name


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[source]\nremote = 'x:'\n", "no [targets"),
        ("[source]\nremote = 'x:'\n[targets.cdn]\nremote = '/tmp'\n", "unknown target 'cdn'"),
        ("not toml [", "not valid TOML"),
        (
            "[source]\nremote = 'x:'\n[targets.nfs]\nremote = '/tmp'\n[limits]\nmax_json_depth = 0\n",
            "'max_json_depth' must be a positive whole number",
        ),
        (
            "[source]\nremote = 'x:'\n[targets.nfs]\nremote = '/tmp'\n[limits]\nmax_depth = 9\n",
            "unknown limit 'max_depth'",
        ),
    ],
)
def test_a_bad_config_exits_2_with_one_line(promotion, text, message):
    promotion.config.write_text(text)
    run = promotion.promote("--once")
    assert run.code == 2
    assert "Traceback" not in run.stderr
    assert run.stderr.strip().splitlines()[-1].startswith("forge: error:")
    assert message in run.stderr


def test_a_different_file_already_at_a_target_is_never_replaced(promotion):
    (promotion.nfs / "Clash-v1.vrm").write_bytes(b"someone else's Clash-v1")
    promotion.publish("Clash", make_vrm(salt="clash"))
    promotion.publish("Bystander", make_vrm(salt="bystander"))  # same batch, nothing wrong with it
    run = promotion.promote("--once", "--json")
    assert run.code == 1
    outcomes = {o["request"]: o for o in run.json()["outcomes"]}
    outcome = outcomes["Clash-v1.json"]
    assert outcome["status"] == "error", outcome
    assert outcome["reason"].startswith("nfs: ") and "Clash-v1.vrm" in outcome["reason"]
    assert (promotion.nfs / "Clash-v1.vrm").read_bytes() == b"someone else's Clash-v1"
    assert promotion.source_keys("promotion/queue/") == ["Clash-v1.json"]  # left for a person to resolve
    assert outcomes["Bystander-v1.json"]["status"] == "promoted"
    for name, files in promotion.targets().items():
        # The clash goes to no later target either, so nothing reaches the CDN without a record.
        assert "Bystander-v1.vrm" in files and (name == "nfs") == ("Clash-v1.vrm" in files), name
    assert [line for line in run.json()["allowlist"] if "Clash" in line] == []


def test_an_unreachable_source_is_one_line_and_exit_1(promotion):
    promotion.config.write_text('[source]\nremote = "nosuchremote:bucket"\n[targets.nfs]\nremote = "/tmp"\n')
    run = promotion.promote("--once")
    assert run.code == 1
    assert "Traceback" not in run.stderr
    assert run.stdout.startswith("promote: rclone lsjson failed:") and "nosuchremote" in run.stdout


# Attack cases from the hardening run (issue 11, items 14-18): no queue entry, artifact or target index may
# crash a run, be retried forever in silence, or hold up another request.


def _vrm_with_extras(extras: bytes, salt: str) -> bytes:
    sample = make_vrm(salt=salt)
    text = json.dumps(json_chunk(sample)).encode()
    return glb(text[:-1] + b', "extras": ' + extras + b"}", bin_chunk(sample))


def _outcomes(run: ForgeRun) -> dict[str, tuple[str, str | None]]:
    return {o["request"]: (o["status"], o["reason"]) for o in run.json()["outcomes"]}


def test_bad_json_in_a_queue_entry_or_a_vrm_goes_to_failed_and_the_rest_is_promoted(promotion):
    promotion.put_source("promotion/queue/Deep-v1.json", b'{"a": ' + b"[" * 100_000 + b"]" * 100_000 + b"}")
    promotion.put_source("promotion/queue/Digits-v1.json", b'{"version": ' + b"7" * 5000 + b"}")
    promotion.publish("DeepVrm", _vrm_with_extras(b"[" * 100_000 + b"]" * 100_000, "deep"))
    promotion.publish("DigitsVrm", _vrm_with_extras(b"9" * 5000, "digits"))
    promotion.publish("Good", make_vrm(salt="good"))
    run = promotion.promote("--once", "--json")
    assert run.code == 1 and "Traceback" not in run.stderr, run.stderr
    outcomes = _outcomes(run)
    assert outcomes["Good-v1.json"] == ("promoted", None)
    for entry, reason in [
        ("Deep-v1.json", "request is nested deeper than 64"),
        ("Digits-v1.json", "request holds an integer of more than 32 digits"),
        ("DeepVrm-v1.json", "GLB JSON chunk is nested deeper than 64"),
        ("DigitsVrm-v1.json", "GLB JSON chunk holds an integer of more than 32 digits"),
    ]:
        status, why = outcomes[entry]
        assert status == "failed" and reason in str(why), (entry, why)
        assert reason in json.loads(promotion.source_object(f"promotion/failed/{entry}"))["result"]["reason"]
    assert promotion.source_keys("promotion/queue/") == []
    assert {name: sorted(files) for name, files in promotion.targets().items()} == {
        t: ["Good-v1.vrm", "index.json"] for t in ("nfs", "r2", "mirror")
    }


def test_the_size_limits_are_configurable_and_refuse_before_parsing(promotion):
    with promotion.config.open("a") as config:
        config.write("\n[limits]\nmax_request_bytes = 4096\nmax_json_chunk_bytes = 2048\n")
    promotion.put_source("promotion/queue/Long-v1.json", b" " * 5000 + b"{}")
    promotion.publish("Chunky", _vrm_with_extras(b'"' + b"x" * 4096 + b'"', "chunky"))
    promotion.publish("Small", make_vrm(salt="small"))
    run = promotion.promote("--once", "--json")
    assert run.code == 1 and "Traceback" not in run.stderr, run.stderr
    outcomes = _outcomes(run)
    assert outcomes["Long-v1.json"] == ("failed", "queue entry is 5002 bytes, over the limit of 4096")
    status, reason = outcomes["Chunky-v1.json"]
    assert status == "failed" and "GLB JSON chunk is" in str(reason) and "over the limit of 2048" in str(reason)
    assert outcomes["Small-v1.json"] == ("promoted", None)
    assert promotion.source_keys("promotion/queue/") == []


@pytest.mark.parametrize(
    ("index", "reason"),
    [
        (b'{"models": [{"name": "Old", "version": [1], "file": "Old-v1.vrm"}]}', "not name/version/file"),
        (b'{"models": ' + b"[" * 5000 + b"]" * 5000 + b"}", "nested deeper than 64"),
    ],
)
def test_a_broken_target_index_is_reported_and_left_for_a_person(promotion, index, reason):
    (promotion.nfs / "index.json").write_bytes(index)
    promotion.publish("Waiting", make_vrm(salt="waiting"))
    run = promotion.promote("--once", "--json")
    assert run.code == 1 and "Traceback" not in run.stderr, run.stderr
    ((status, why),) = _outcomes(run).values()
    assert status == "error" and why is not None and why.startswith("nfs: ") and reason in why
    assert "fix it by hand" in why
    assert (promotion.nfs / "index.json").read_bytes() == index
    assert promotion.targets() == {"nfs": {"index.json": index}, "r2": {}, "mirror": {}}  # nothing unindexed
    assert promotion.source_keys("promotion/queue/") == ["Waiting-v1.json"]
    (promotion.nfs / "index.json").unlink()  # the person repairs it: the next run promotes
    assert promotion.promote("--once").code == 0


def test_a_request_too_large_for_the_scratch_space_fails_alone_with_its_own_file(promotion):
    promotion.publish("Huge", make_vrm(3 * 1024 * 1024, salt="huge"))
    promotion.publish("Modest", make_vrm(64 * 1024, salt="modest"))
    run = promotion.promote("--once", "--json", max_file_bytes=1024 * 1024)
    assert run.code == 1 and "Traceback" not in run.stderr, run.stderr
    outcomes = _outcomes(run)
    assert outcomes["Modest-v1.json"] == ("promoted", None)
    status, reason = outcomes["Huge-v1.json"]
    assert status == "error" and "Huge-v1" in str(reason) and "Modest" not in str(reason)
    assert promotion.source_keys("promotion/queue/") == ["Huge-v1.json"]  # left for more scratch space


def test_a_queue_entry_named_with_a_newline_goes_to_failed_with_the_reason(promotion):
    promotion.publish("Fine", make_vrm(salt="fine"))
    promotion.put_source("promotion/queue/Line\nFeed-v1.json", promotion.source_object("promotion/queue/Fine-v1.json"))
    # rclone shows the newline as U+240A; the name is a plain string either way, never a line of its own.
    listed = "Line\u240aFeed-v1.json"
    dry = promotion.promote("--dry-run")
    assert dry.code == 1 and f"{listed}: would fail - queue entry '{listed}' is not named" in dry.stdout, dry.stdout
    assert promotion.source_keys("promotion/queue/") == ["Fine-v1.json", "Line\nFeed-v1.json"]
    run = promotion.promote("--once", "--json")
    assert run.code == 1 and "Traceback" not in run.stderr, run.stderr
    outcomes = _outcomes(run)
    assert outcomes["Fine-v1.json"] == ("promoted", None)
    named = f"queue entry '{listed}' is not named <Name>-v<N>.json (N from 1 to 999999999)"
    assert outcomes[listed] == ("failed", named)
    assert promotion.source_keys("promotion/queue/") == []
    (record,) = promotion.source_keys("promotion/failed/")
    assert record.startswith("Line_Feed-v1.json.")
    detail = json.loads(promotion.source_object(f"promotion/failed/{record}"))["result"]
    assert detail["queue_entry"] == listed and "not named" in detail["reason"]


def test_a_queue_entry_that_is_a_symlink_goes_to_failed_and_its_target_is_untouched(promotion, tmp_path):
    """On a folder source (the Kasm mount), a link in the queue could point the promoter anywhere."""
    source = tmp_path / "mount-standin"
    source.mkdir()
    promotion.config.write_text(promotion.config.read_text().replace(
        f'remote = "kasm:{promotion.source_url[len("s3://"):]}"', f'remote = "{source}"'))  # fmt: skip
    run_publisher("Real", _write(tmp_path / "real.vrm", make_vrm(salt="real")), _write(tmp_path / "b", b"B"),
                  ["--root", str(source)])  # fmt: skip
    elsewhere = tmp_path / "private.json"
    elsewhere.write_bytes((source / "promotion/queue/Real-v1.json").read_bytes())
    (source / "promotion/queue/Linked-v1.json").symlink_to(elsewhere)
    run = promotion.promote("--once", "--json")
    assert run.code == 1 and "Traceback" not in run.stderr, run.stderr
    outcomes = _outcomes(run)
    assert outcomes["Real-v1.json"] == ("promoted", None)
    status, reason = outcomes["Linked-v1.json.rclonelink"]
    assert (status, reason) == (
        "failed",
        "queue entry 'Linked-v1.json' is a symbolic link; queue entries must be plain files",
    )
    assert sorted(p.name for p in (source / "promotion/queue").iterdir()) == []
    assert elsewhere.is_file()  # the link is gone, what it pointed at is not
    assert any(p.name.startswith("Linked-v1.json.rclonelink.") for p in (source / "promotion/failed").iterdir())


def _write(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path


def test_a_vrm_with_a_48_mb_json_chunk_is_failed_without_parsing_it(promotion):
    """The hardening run's file: 48 MB of small JSON objects, 1.36 GB once parsed, past the CronJob's
    1 GiB. The default limit refuses it before parsing; the run stays small and the next request goes out."""
    sample = make_vrm(salt="bloated")
    text = json.dumps(json_chunk(sample)).encode()
    bloat = b"[" + b'{"a":1},' * (6 * 1024 * 1024) + b'{"a":1}]'
    promotion.publish("Bloated", glb(text[:-1] + b', "extras": ' + bloat + b"}", bin_chunk(sample)))
    promotion.publish("Next", make_vrm(salt="next"))
    run, peak_mib = promotion.promote_measured("--once", "--json")
    assert run.code == 1 and "Traceback" not in run.stderr, run.stderr
    outcomes = _outcomes(run)
    status, reason = outcomes["Bloated-v1.json"]
    assert status == "failed" and "over the limit of 16777216" in str(reason)
    assert outcomes["Next-v1.json"] == ("promoted", None)
    assert peak_mib < 300, f"peak {peak_mib} MiB"


class _HookedRclone(Rclone):
    """The real rclone, with a hook run once just before this promoter's first `step`: "index write" (a
    copyto of an index.json) or "model copy" (the copy of the verified models to a target, which comes
    after the index was first read). Another promoter's whole pass lands exactly there."""

    def __init__(self, binary: str, step: str, hook: Callable[[], None]) -> None:
        super().__init__(binary)
        self.step = step
        self.hook: Callable[[], None] | None = hook

    def _at(self, step: str) -> None:
        if step == self.step and self.hook is not None:
            hook, self.hook = self.hook, None
            hook()

    def copyto(self, source: str, dest: str, *, immutable: bool, header: str | None = None) -> None:
        if dest.endswith("/index.json"):
            self._at("index write")
        super().copyto(source, dest, immutable=immutable, header=header)

    def run(self, *args: str, stdin: bytes | None = None) -> bytes:
        if args[:2] == ("copy", "--immutable"):
            self._at("model copy")
        return super().run(*args, stdin=stdin)


def _interleaved(promotion: Promotion, step: str) -> tuple[PassReport, PassReport]:
    """Promoter A starts on Dup-v1; at its hooked `step` Dup-v2 is published and promoter B runs a
    whole pass (v1 and v2), then A goes on. Both in this process, on real storage."""
    promotion.publish("Dup", make_vrm(salt="dup1"))
    config = load_config(promotion.config)
    binary = find_rclone(config.rclone)
    reports: list[PassReport] = []

    def other_promoter() -> None:
        promotion.publish("Dup", make_vrm(salt="dup2"))
        reports.append(Promoter(config, Rclone(binary)).run_pass())

    first = Promoter(config, _HookedRclone(binary, step, other_promoter)).run_pass()
    assert len(reports) == 1, "the other promoter never ran"
    return first, reports[0]


def _assert_both_indexed_and_done(promotion: Promotion) -> None:
    for name, files in promotion.targets().items():
        assert {"Dup-v1.vrm", "Dup-v2.vrm"} <= set(files), name
        assert sorted(_index(files["index.json"])) == ["Dup-v1.vrm", "Dup-v2.vrm"], name
    assert promotion.source_keys("promotion/queue/") == []
    assert promotion.source_keys("promotion/done/") == ["Dup-v1.json", "Dup-v2.json"]


def test_a_promoter_whose_older_index_write_lands_last_puts_back_what_it_overwrote(promotion):
    """A reads NFS's index, B promotes v1 and v2 and indexes both, then A writes its older index (v1 only)
    last: v2 is on every target, recorded done and off the queue, so no later request would re-add it."""
    first, other = _interleaved(promotion, "index write")
    assert [o.status for o in other.outcomes] == ["promoted", "promoted"]
    assert [o.status for o in first.outcomes] == ["promoted"]
    # A's stale write lost v2 from NFS's index; A's own pass found it missing and put it back.
    assert first.repaired == {"nfs": ["Dup-v2.vrm"]} and first.ok
    _assert_both_indexed_and_done(promotion)


def test_a_promoter_merges_into_the_index_as_it_is_right_before_writing(promotion):
    """A read NFS's index before copying; B promoted v1 and v2 meanwhile. A merges into the index B wrote,
    not into the one it read first."""
    first, other = _interleaved(promotion, "model copy")
    assert [o.status for o in other.outcomes] == ["promoted", "promoted"]
    # Nothing was lost, so nothing needed repair.
    assert first.repaired == {} and first.ok
    _assert_both_indexed_and_done(promotion)


def test_a_later_run_with_nothing_queued_repairs_an_index_that_lacks_a_promoted_model(promotion):
    promotion.publish("Dup", make_vrm(salt="dup1"))
    promotion.publish("Dup", make_vrm(salt="dup2"))
    assert promotion.promote("--once").code == 0
    complete = promotion.targets()["r2"]["index.json"]
    stale = json.loads(complete)
    stale["models"] = [m for m in stale["models"] if m["file"] != "Dup-v2.vrm"]
    (promotion.r2 / "index.json").write_text(json.dumps(stale))
    dry = promotion.promote("--once", "--dry-run")
    assert dry.code == 0, dry.stderr
    assert "r2: index.json lacked Dup-v2.vrm (promoted earlier): would add" in dry.stdout
    assert "Dup-v2.vrm" not in _index((promotion.r2 / "index.json").read_bytes())
    run = promotion.promote("--once", "--json")
    assert run.code == 0, run.stderr
    assert run.json()["repaired"] == {"r2": ["Dup-v2.vrm"]}
    repaired = _index((promotion.r2 / "index.json").read_bytes())
    # The entry as first written, but for promoted_at: the done record's time, a second or so later.
    assert repaired.keys() == _index(complete).keys()
    for file, entry in _index(complete).items():
        assert {**repaired[file], "promoted_at": None} == {**entry, "promoted_at": None}, file
    again = promotion.promote("--once")
    assert again.stdout.strip() == "nothing queued"
