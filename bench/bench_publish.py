#!/usr/bin/env python3
"""Publish and promote speed against real local S3 servers (`rclone serve s3`), no Blender.

    python bench/bench_publish.py [--mb 50] [--repeat 3] [--models 50]

1. Publishing a --mb VRM (hash, claim a version, multipart upload with md5/sha256 metadata, queue entry)
   beside a bare `rclone copyto` of the same file to the same server, best of --repeat; ratio = ours/rclone.
2. Promoting --models queued models to three targets (NFS and R2 stand-in folders, an S3 mirror): the
   first run, the no-op rerun, and beside them a bare `rclone copy --immutable --checksum` of the same
   files to the same three targets (the copying alone, no verifying, indexing or bookkeeping).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from addon.core.publish.bucket_keys import Versioned  # noqa: E402  (after the path is set)
from addon.core.publish.promotion import Artifact, Request  # noqa: E402
from addon.promote.config import Config, Target  # noqa: E402
from addon.promote.promoter import Promoter  # noqa: E402
from addon.promote.rclone import Rclone, find_rclone  # noqa: E402
from addon.storage.release import publish_files  # noqa: E402
from addon.storage.s3 import S3Storage, make_client  # noqa: E402
from tests.publish.conftest import ACCESS_KEY, SECRET_KEY, S3Server, serve_s3  # noqa: E402
from tests.publish.samples import make_vrm  # noqa: E402


def _describe(stem: Versioned, vrm: Artifact, blend: Artifact) -> Request:
    return Request(
        stem.name, stem.version, vrm, blend, "companions-web", "1.0", {}, {}, "bench", None, "0.1.0", "bench"
    )


def _best(repeat: int, run: Callable[[int], object]) -> float:
    times = []
    for attempt in range(repeat):
        started = time.perf_counter()
        run(attempt)
        times.append(time.perf_counter() - started)
    return min(times)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mb", type=int, default=50)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--models", type=int, default=50)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="bench-publish-"))
    kasm, mirror = serve_s3(work / "kasm-s3"), serve_s3(work / "mirror-s3")
    os.environ.update({"AWS_ACCESS_KEY_ID": ACCESS_KEY, "AWS_SECRET_ACCESS_KEY": SECRET_KEY})
    os.environ.update({"AWS_DEFAULT_REGION": "us-east-1", **kasm.rclone_env("kasm"), **mirror.rclone_env("mirror")})
    try:
        kasm.bucket("kasm")
        rclone = find_rclone()
        vrm, blend = work / "big.vrm", work / "tiny.blend"
        vrm.write_bytes(make_vrm(args.mb * 1024 * 1024))
        blend.write_bytes(b"BLENDER-v405" + b"\0" * 1024)
        storage = S3Storage("kasm", "bench/blender-avatars", make_client(kasm.endpoint))
        ours = _best(args.repeat, lambda _i: publish_files(storage, "Big", vrm, blend, describe=_describe))
        bare = _best(
            args.repeat,
            lambda i: subprocess.run([rclone, "copyto", str(vrm), f"kasm:kasm/bare/big-{i}.vrm"], check=True),
        )
        print(f"publish of a {args.mb} MB VRM to local S3 (best of {args.repeat})")
        print(f"  forge publish   {ours:7.3f} s")
        print(f"  rclone copyto   {bare:7.3f} s")
        print(f"  ratio           {ours / bare:7.2f}x")
        _bench_promote(args.models, work, kasm, mirror, blend)
    finally:
        for server in (kasm, mirror):
            server.process.terminate()
    return 0


def _bench_promote(models: int, work: Path, kasm: S3Server, mirror: S3Server, blend: Path) -> None:
    rclone = find_rclone()
    queue = S3Storage("kasm", "promote/blender-avatars", make_client(kasm.endpoint))
    plain = work / "plain"
    plain.mkdir()
    for i in range(models):
        model = work / f"m{i}.vrm"
        model.write_bytes(make_vrm(256 * 1024, salt=str(i)))
        (plain / f"Model{i}-v1.vrm").write_bytes(model.read_bytes())
        publish_files(queue, f"Model{i}", model, blend, describe=_describe)
    mirror.bucket("models")
    mirror.bucket("baseline")
    config = Config(
        source="kasm:kasm/promote/blender-avatars",
        targets=(
            Target("nfs", str(work / "nfs-standin"), False),
            Target("mirror", "mirror:models", True),
            Target("r2", str(work / "r2-standin"), False),
        ),
        poll_seconds=60,
        rclone=None,
    )
    promoter = Promoter(config, Rclone(rclone))
    started = time.perf_counter()
    first = promoter.run_pass()
    first_s = time.perf_counter() - started
    assert first.to_json()["counts"] == {"promoted": models}, first.to_json()["counts"]
    started = time.perf_counter()
    again = promoter.run_pass()
    again_s = time.perf_counter() - started
    assert not again.outcomes
    started = time.perf_counter()
    for dest in (str(work / "nfs-baseline"), "mirror:baseline", str(work / "r2-baseline")):
        subprocess.run([rclone, "copy", "--immutable", "--checksum", str(plain), dest], check=True)
    copy_s = time.perf_counter() - started
    print(f"promote of {models} queued models (256 KB each) to 3 targets")
    print(f"  first run       {first_s:7.3f} s  ({first_s / models * 1000:.0f} ms per model)")
    print(f"  no-op rerun     {again_s:7.3f} s")
    print(f"  rclone copy x3  {copy_s:7.3f} s  (bare copy of the same files)")
    print(f"  ratio           {first_s / copy_s:7.2f}x first run / bare copy")


if __name__ == "__main__":
    sys.exit(main())
