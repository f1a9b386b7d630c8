"""One item of a batch, the work of `forge.py batch-item` (each item in its own process, so that a crash, a
hang or a broken file costs that item only): fetch the source, skip it when the same content was done with
the same settings, else convert it or re-export and publish it, and record the work in DEST. Blender's side
loads only for the work itself: a skipped item, or one whose file the import would refuse, never needs it. The results
are typed; the CLI renders them.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from ..core.errors import ForgeError
from ..core.models import files as model_files
from ..core.models import refs as model_refs
from ..core.presets import Preset
from ..core.publish.bucket_keys import DONE, FAILED, QUEUE, Versioned
from ..core.publish.digest import FileDigest, digest_file
from ..core.rig.findings import FixLevel
from ..storage.base import Storage, StorageError
from ..storage.targets import open_location
from . import plan

if TYPE_CHECKING:  # Blender's side is loaded only for the work itself
    from ..blender.convert import RigMode

Status = Literal["done", "skipped", "failed"]


@dataclass(frozen=True)
class ItemResult:
    """What became of one item: done (`written` where, `size` bytes), skipped (done before: `record` is what
    that run wrote down) or failed (`reason`, one line)."""

    status: Status
    reason: str | None = None
    written: str | None = None
    size: int | None = None
    record: dict[str, Any] = field(default_factory=dict)  # a skip: the earlier run's record; a publish: its version

    def to_json(self) -> dict[str, Any]:
        if self.status == "failed":
            return {"status": "failed", "reason": self.reason}
        if self.status == "skipped":
            return {"status": "skipped", "reason": self.reason, **self.record}
        return {"status": "done", "written": self.written, "bytes": self.size, **self.record}


def failed(reason: str) -> ItemResult:
    return ItemResult("failed", reason)


def fetch(source: str, folder: Path, endpoint: str | None) -> Path:
    """A local file with the source's content and name: the file itself, or a download of the S3 object
    into a folder of its own, with the files beside it that its URIs name (the only ones its import may
    read; a URI no model may have is left for the import to refuse)."""
    if not source.startswith("s3://"):
        path = Path(source)
        if not path.is_file():
            raise StorageError(f"{source}: no such file")
        return path
    where, _slash, key = source.rpartition("/")
    storage = open_location(where, endpoint)
    local = folder / "source" / key
    local.parent.mkdir()
    storage.get_file(key, local)
    for sibling in _siblings(local):
        (local.parent / sibling).parent.mkdir(parents=True, exist_ok=True)
        storage.get_file(sibling, local.parent / sibling)
    return local


def _siblings(local: Path) -> list[str]:
    """The relative paths of the files a glTF-family model names beside itself ([] for any other, or for
    one whose import will be refused anyway)."""
    fmt = model_files.FORMATS.get(local.suffix.lower())
    if fmt not in ("gltf", "glb", "vrm"):
        return []
    data = local.read_bytes()
    try:
        return [] if model_files.content_problem(fmt, data) else model_refs.sibling_paths(fmt, data)
    except ValueError:
        return []


def _exists(storage: Storage, key: str) -> bool:
    return key in storage.list(key)


def _record(written: str, digest: FileDigest | None, **more: Any) -> bytes:
    return json.dumps({"written": written, "bytes": digest.size if digest else None, **more}).encode()


def previous(dest: Storage, item: plan.Item, marker: str) -> ItemResult | None:
    """The skip, when this content was done before with these settings; a failure when that earlier
    publish never reached the queue (a kill between the two): publishing again would make a second version."""
    raw = dest.read_bytes(marker)
    if raw is None:
        return None
    record = json.loads(raw)
    if item.kind == "publish":
        stem = Versioned(item.output, int(record["version"]))
        queued = {k for folder in (QUEUE, DONE, FAILED) for k in dest.list(folder)}
        if not {stem.request_key(folder) for folder in (QUEUE, DONE, FAILED)} & queued:
            return failed(f"an earlier run published {stem.stem} but was stopped before queueing it: "
                          "queue or remove it by hand")  # fmt: skip
    return ItemResult("skipped", "done before with the same inputs", record=record)


@dataclass(frozen=True)
class ItemWork:
    """What one item's work needs: the item, its source here, the preset, DEST and the settings key."""

    item: plan.Item
    local: Path  # the source's content, here
    scratch: Path
    preset: Preset
    fix: FixLevel | None
    rig: RigMode | None  # convert's --rig: auto-rig what no armature drives, or rig anew
    dest: Storage
    settings: str
    marker: str  # the done marker of this source's content


def output_taken(dest: Storage, item: plan.Item) -> ItemResult | None:
    """The failure of a conversion whose output is in DEST and was not done by us: it is never overwritten."""
    if item.kind == "convert" and _exists(dest, item.output):
        return failed(f"{dest.where(item.output)} exists; it is never overwritten")
    return None


def refused(local: Path) -> ItemResult | None:
    """The failure of a source the import would refuse before reading it (bytes that are not its format, a
    URI outside its folder), with the import's one line: found before Blender loads, so a library's broken
    files cost no Blender start each."""
    problem = model_refs.refusal(local)
    return failed(problem) if problem is not None else None


def convert_item(work: ItemWork) -> ItemResult:
    """The source converted (blender/convert.py) and its VRM put into DEST."""
    from ..blender.convert import convert

    item, dest, marker = work.item, work.dest, work.marker
    (work.scratch / "out").mkdir()
    result = convert(work.local, work.scratch / "out" / item.output, work.preset, fix=work.fix, rig=work.rig)
    if result.export is None:
        errors = "; ".join(f.message for f in result.refusal.findings("error")) if result.refusal else ""
        return failed(f"{result.error}{': ' + errors if errors else ''}")
    rig = _rig_summary(result.rig)
    out = result.export.path
    digest = digest_file(out)
    dest.put_file(item.output, out, digest)
    written = dest.where(item.output)
    dest.put_bytes(marker, _record(written, digest, sha256=digest.sha256, rig=rig))
    return ItemResult("done", written=written, size=digest.size, record={"rig": rig})


def _rig_summary(rig: dict[str, Any] | None) -> dict[str, Any] | None:
    """What `--rig` did to a model, for the report: left alone (why), or rigged (how each mesh was bound)."""
    if rig is None:
        return None
    if not rig["rigged"]:
        return {"rigged": False, "reason": rig["reason"]}
    return {"rigged": True, "bones": len(rig["bones"]), "fallbacks": rig["fallbacks"],
            "replaced_armatures": rig["replaced_armatures"]}  # fmt: skip


def publish_item(work: ItemWork) -> ItemResult:
    """The open source .blend (fixed when asked) exported and published to DEST as the next version; the done
    markers go up before its request is queued."""
    from ..blender import publish, rig_check
    from ..core.publish.promotion import Artifact

    item, dest, marker = work.item, work.dest, work.marker
    try:
        if work.fix:
            rig_check.check_rig(None, work.preset, fix=work.fix)
        prepared = publish.prepare(item.output, work.preset)
    except (ForgeError, OSError, ValueError, LookupError) as exc:
        return failed(str(exc))
    markers: list[str] = []

    def record(stem: Versioned, vrm: Artifact, blend: Artifact) -> None:
        # The markers go up before the queue entry: a kill after queueing can never lead to a second
        # publish, because the rerun finds the source's marker (and the new version's, now the latest).
        body = _record(dest.where(vrm.key), None, version=stem.version, stem=stem.stem)
        for key in dict.fromkeys((marker, plan.done_key(work.settings, blend.sha256, item.output))):
            dest.put_bytes(key, body)
            markers.append(key)

    try:
        result = publish.upload(prepared, dest, before_queue=record)
    except StorageError as exc:
        for key in markers:
            dest.delete(key)
        return failed(str(exc))
    data = result.to_json()
    written = data["vrm"]["url"]
    return ItemResult("done", written=written, size=data["vrm"]["size"], record={"version": data["version"]})
