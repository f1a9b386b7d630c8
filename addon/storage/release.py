"""Publishing files that already exist locally: claim a version, upload the model and its source, queue
the promotion request last. Blender's publish (addon/blender/publish.py) exports and saves, then calls this.

Order is what makes a kill at any instant safe: artifacts go up first, each whole or not at all under its
final key, and the queue entry, the only thing the promoter acts on, is written only after both exist.
When a step fails or the publish is cancelled before the queue entry is written, what this publish wrote
(its artifacts and its claim) is removed again; only a kill can leave an artifact without a request, and
the next publish of that name reports it.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from ..core.publish import bucket_keys
from ..core.publish.digest import FileDigest, digest_file
from ..core.publish.promotion import MODEL, Artifact, Request
from .base import Storage, StorageError
from .claims import AfterCounting, claim_version

# (fraction done 0..1, what is happening)
Progress = Callable[[float, str], None]
# Builds the request once the version and the artifacts are known.
Describe = Callable[[bucket_keys.Versioned, Artifact, Artifact], Request]


class PublishCancelledError(StorageError):
    """The person cancelled the publish before it was queued; what it had written is removed."""


@dataclass(frozen=True)
class Release:
    request: Request
    location: str
    vrm_url: str
    blend_url: str
    request_url: str
    # Earlier exports of this name that no request names: left by an interrupted publish.
    unqueued: list[str] = field(default_factory=list)


def unqueued_exports(name: str, keys: tuple[str, ...] | list[str], below: int) -> list[str]:
    """exports/<name>-v<K>.vrm keys (K < below) with no request in the queue, done/ or failed/."""
    requested = {
        v.version
        for key in keys
        if key.startswith((bucket_keys.QUEUE, bucket_keys.DONE, bucket_keys.FAILED))
        and (v := bucket_keys.parse_key(key)) is not None
        and v.name == name
    }
    return sorted(
        key
        for key in keys
        if key.startswith(bucket_keys.EXPORTS)
        and (v := bucket_keys.parse_key(key)) is not None
        and v.name == name
        and v.version < below
        and v.version not in requested
    )


def _withdraw(storage: Storage, keys: list[str]) -> list[str]:
    """Deletes `keys`, newest first; the ones it could not delete."""
    left = []
    for key in reversed(keys):
        try:
            storage.delete(key)
        except StorageError:
            left.append(key)
    return left


def publish_files(
    storage: Storage,
    name: str,
    vrm: Path,
    blend: Path,
    *,
    describe: Describe,
    progress: Progress | None = None,
    cancel: threading.Event | None = None,
    after_counting: AfterCounting | None = None,
    kind: str = MODEL,
) -> Release:
    """Uploads `vrm` (a model's .vrm, or an animation's .vrma when `kind` says so) and `blend` as the next
    version of `name` and queues them for promotion.

    Raises StorageError (PublishCancelledError once `cancel` is set) with nothing of it left queued or
    stored, unless the storage also refused the clean-up: the message then names what is left.
    """
    bucket_keys.check_name(name)
    report = progress or (lambda _f, _m: None)

    def step(fraction: float, what: str) -> None:
        if cancel is not None and cancel.is_set():
            raise PublishCancelledError(f"publish of {name} cancelled; nothing was queued")
        report(fraction, what)

    step(0.0, "hashing")
    digests = {vrm: digest_file(vrm), blend: digest_file(blend)}
    total = sum(d.size for d in digests.values()) or 1
    step(0.05, "claiming a version")
    claim = claim_version(storage, name, after_counting=after_counting)
    stem = claim.stem
    written = [claim.key]
    sent = 0

    def upload(key: str, path: Path, digest: FileDigest) -> Artifact:
        def advance(count: int) -> None:
            nonlocal sent
            sent += count
            step(0.05 + 0.9 * sent / total, f"uploading {key}")

        step(0.05 + 0.9 * sent / total, f"uploading {key}")
        storage.put_file(key, path, digest, advance)
        written.append(key)
        return Artifact(key, digest.sha256, digest.size)

    try:
        vrm_artifact = upload(stem.export_key() if kind == MODEL else stem.animation_key(), vrm, digests[vrm])
        blend_artifact = upload(stem.project_key(), blend, digests[blend])
        request = describe(stem, vrm_artifact, blend_artifact)
        step(0.95, "queueing the promotion request")
        storage.put_bytes(stem.request_key(), request.encode())
    except BaseException as exc:
        left = _withdraw(storage, written)
        if isinstance(exc, StorageError) and left:
            raise type(exc)(f"{exc}; could not remove {', '.join(left)} (the next publish reports it)") from None
        raise
    report(1.0, f"queued {stem.stem}")
    return Release(
        request=request,
        location=storage.location,
        vrm_url=storage.where(vrm_artifact.key),
        blend_url=storage.where(blend_artifact.key),
        request_url=storage.where(stem.request_key()),
        unqueued=[storage.where(k) for k in unqueued_exports(name, claim.seen, stem.version)],
    )
