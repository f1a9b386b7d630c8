"""A publisher without Blender, for tests and benchmarks: the same upload path publish() takes after its
export (claim a version, upload the .vrm and the .blend, queue the request last), on ready-made files.

    python -m tests.publish.publisher --name N --vrm F --blend F (--root DIR | --s3 URL [--endpoint-url E])
                                      [--wait] [--hold-after-counting]

--wait prints "ready" once imports are done and starts on the next line of stdin, so a test can start
several at the same instant, or time a kill to land inside the publish rather than in Python's start-up.
--hold-after-counting prints "counted" once the publisher has counted the versions for its first claim,
and writes the claim only on the next line of stdin: the race test holds every racer there until all
have counted, so that each claim protocol run meets the worst interleaving, every time.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

from addon.core.publish.bucket_keys import Versioned
from addon.core.publish.promotion import KINDS, MODEL, Artifact, Request
from addon.storage.release import publish_files
from addon.storage.targets import open_storage


def describe(stem: Versioned, vrm: Artifact, blend: Artifact, kind: str = MODEL) -> Request:
    return Request(
        name=stem.name,
        version=stem.version,
        vrm=vrm,
        blend=blend,
        preset="companions-web",
        spec_version="1.0",
        stats={"triangles": 12},
        check={"errors": 0, "warnings": 0, "findings": []},
        blender_version="none (test publisher)",
        vrm_addon_version=None,
        avatar_forge_version="0.1.0",
        created_by="tests",
        kind=kind,
    )


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--name", required=True)
    parser.add_argument("--vrm", required=True, type=Path)
    parser.add_argument("--blend", required=True, type=Path)
    parser.add_argument("--root")
    parser.add_argument("--s3")
    parser.add_argument("--endpoint-url")
    parser.add_argument("--kind", choices=KINDS, default=MODEL, help="publish --vrm as a model or an animation clip")
    parser.add_argument("--wait", action="store_true")
    parser.add_argument("--hold-after-counting", action="store_true")
    args = parser.parse_args()

    def hold(attempt: int) -> None:
        if attempt == 0:  # later attempts run free: holding them too could only ever meet again
            print("counted", flush=True)
            sys.stdin.readline()

    storage = open_storage(root=args.root, s3_url=args.s3, endpoint_url=args.endpoint_url)
    if args.wait:
        print("ready", flush=True)
        sys.stdin.readline()
    started = time.perf_counter()
    release = publish_files(
        storage, args.name, args.vrm, args.blend, kind=args.kind,
        describe=lambda stem, vrm, blend: describe(stem, vrm, blend, args.kind),
        after_counting=hold if args.hold_after_counting else None,
    )  # fmt: skip
    seconds = time.perf_counter() - started
    result = {"version": release.request.version, "vrm": release.vrm_url, "seconds": seconds}
    print(json.dumps({**result, "unqueued": release.unqueued}), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
