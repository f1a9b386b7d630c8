"""Publishing files that already exist locally: claim a version, upload the model and its source, queue
the promotion request last. Blender's publish (addon/blender/publish.py) exports and saves, then calls this.

Order is what makes a kill at any instant safe: artifacts go up first, each whole or not at all under its
final key, and the queue entry, the only thing the promoter acts on, is written only after both exist.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from ..core import naming
from ..core.digest import FileDigest, digest_file
from ..core.promotion import Artifact, Request
from .base import Storage
from .claims import claim_version

# (fraction done 0..1, what is happening)
Progress = Callable[[float, str], None]
# Builds the request once the version and the artifacts are known.
Describe = Callable[[naming.Versioned, Artifact, Artifact], Request]


@dataclass(frozen=True)
class Release:
    request: Request
    location: str
    vrm_url: str
    blend_url: str
    request_url: str


def publish_files(
    storage: Storage,
    name: str,
    vrm: Path,
    blend: Path,
    *,
    describe: Describe,
    progress: Progress | None = None,
) -> Release:
    """Uploads `vrm` and `blend` as the next version of `name` and queues them for promotion."""
    naming.check_name(name)
    report = progress or (lambda _f, _m: None)
    report(0.0, "hashing")
    digests = {vrm: digest_file(vrm), blend: digest_file(blend)}
    total = sum(d.size for d in digests.values()) or 1
    report(0.05, "claiming a version")
    stem = claim_version(storage, name)
    sent = 0

    def upload(key: str, path: Path, digest: FileDigest) -> Artifact:
        def advance(count: int) -> None:
            nonlocal sent
            sent += count
            report(0.05 + 0.9 * sent / total, f"uploading {key}")

        storage.put_file(key, path, digest, advance)
        return Artifact(key, digest.sha256, digest.size)

    vrm_artifact = upload(stem.export_key(), vrm, digests[vrm])
    blend_artifact = upload(stem.project_key(), blend, digests[blend])
    request = describe(stem, vrm_artifact, blend_artifact)
    storage.put_bytes(stem.request_key(), request.encode())
    report(1.0, f"queued {stem.stem}")
    return Release(
        request=request,
        location=storage.location,
        vrm_url=storage.where(vrm_artifact.key),
        blend_url=storage.where(blend_artifact.key),
        request_url=storage.where(stem.request_key()),
    )
