"""`forge.py batch-item`: one item of a batch, in its own process (`batch` starts it), so a crash, a hang
or a broken file costs that item only. It fetches the source, skips it when the same content was done
with the same settings, else converts it through `convert` or re-exports and publishes it through
`publish`, and records the work in DEST. `--probe` only reports the versions and the preset."""

from __future__ import annotations

import argparse
import json
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..batch import plan
from ..core.errors import ForgeError
from ..core.models import files as model_files
from ..core.models import refs as model_refs
from ..core.presets import Preset
from ..core.publish.bucket_keys import DONE, FAILED, QUEUE, Versioned
from ..core.publish.digest import FileDigest, digest_file
from ..core.rig.findings import FixLevel
from ..storage.base import Storage, StorageError
from ..storage.targets import open_location
from .blender_args import preset as cli_preset
from .command import EXIT_PROBLEMS, Command, Result, UsageError


def _add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--item", help="the item, as JSON (what `batch` planned)")
    parser.add_argument("--preset", required=True)
    parser.add_argument("--fix", choices=("safe", "all"))
    parser.add_argument("--out", help="DEST: where results and the done markers go")
    parser.add_argument("--settings", help="the settings key `batch` derived from the probe")
    parser.add_argument("--endpoint-url")
    parser.add_argument("--probe", action="store_true", help="only print the versions and the preset")


def _failed(reason: str) -> Result:
    return Result({"status": "failed", "reason": reason}, [f"failed: {reason}"], EXIT_PROBLEMS)


def _probe(preset: Preset) -> Result:
    import bpy

    from ..blender import vrm_addon
    from ..core.version import VERSION

    vrm_addon.ensure_enabled()
    versions = {"avatar_forge": VERSION, "blender": bpy.app.version_string, "vrm_addon": vrm_addon.version()}
    return Result({"versions": versions, "preset": preset.to_json()}, [json.dumps(versions)])


def _fetch(source: str, folder: Path, endpoint: str | None) -> Path:
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


def _previous(dest: Storage, item: plan.Item, marker: str) -> Result | None:
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
            return _failed(f"an earlier run published {stem.stem} but was stopped before queueing it: "
                           "queue or remove it by hand")  # fmt: skip
    data = {"status": "skipped", "reason": "done before with the same inputs", **record}
    return Result(data, [f"skipped: {data['reason']} ({record['written']})"])


@dataclass(frozen=True)
class _ItemWork:
    item: plan.Item
    local: Path  # the source's content, here
    scratch: Path
    preset: Preset
    fix: FixLevel | None
    dest: Storage
    settings: str
    marker: str  # the done marker of this source's content


def _convert(work: _ItemWork) -> Result:
    from ..blender.convert import convert

    item, dest, marker = work.item, work.dest, work.marker

    if _exists(dest, item.output):
        return _failed(f"{dest.where(item.output)} exists; it is never overwritten")
    (work.scratch / "out").mkdir()
    result = convert(work.local, work.scratch / "out" / item.output, work.preset, fix=work.fix)
    if result.export is None:
        errors = "; ".join(f.message for f in result.refusal.findings("error")) if result.refusal else ""
        return _failed(f"{result.error}{': ' + errors if errors else ''}")
    out = result.export.path
    digest = digest_file(out)
    dest.put_file(item.output, out, digest)
    written = dest.where(item.output)
    dest.put_bytes(marker, _record(written, digest, sha256=digest.sha256))
    return Result({"status": "done", "written": written, "bytes": digest.size}, [f"done: {written}"])


def _publish(work: _ItemWork) -> Result:
    from ..blender import publish, rig_check
    from ..core.publish.promotion import Artifact
    from .paths import open_blend

    item, dest, marker = work.item, work.dest, work.marker
    try:
        open_blend(work.local, untrusted=True)
    except UsageError as exc:
        return _failed(str(exc))
    try:
        if work.fix:
            rig_check.check_rig(None, work.preset, fix=work.fix)
        prepared = publish.prepare(item.output, work.preset)
    except (ForgeError, OSError, ValueError, LookupError) as exc:
        return _failed(str(exc))
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
        return _failed(str(exc))
    data = result.to_json()
    written = data["vrm"]["url"]
    return Result({"status": "done", "written": written, "bytes": data["vrm"]["size"], "version": data["version"]},
                  [f"done: {written}"])  # fmt: skip


def _run(args: argparse.Namespace) -> Result:
    if args.probe:
        return _probe(cli_preset(args.preset))
    if not (args.item and args.out and args.settings):
        raise UsageError("batch-item needs --item, --out and --settings (it is started by `forge.py batch`)")
    item = plan.Item(**json.loads(args.item))
    try:
        dest = open_location(args.out, args.endpoint_url)
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    with tempfile.TemporaryDirectory(prefix="avatar-forge-batch-") as folder:
        scratch = Path(folder)
        try:
            local = _fetch(item.source, scratch, args.endpoint_url)
            marker = plan.done_key(args.settings, digest_file(local).sha256, item.output)
            previous = _previous(dest, item, marker)
            if previous is not None:
                return previous  # before Blender loads: a rerun over a library already done starts none
            return _work(args, item=item, local=local, scratch=scratch, dest=dest, marker=marker)
        except (StorageError, OSError) as exc:
            return _failed(str(exc))


def _work(
    args: argparse.Namespace, *, item: plan.Item, local: Path, scratch: Path, dest: Storage, marker: str
) -> Result:
    """The item's conversion or publish. Blender loads here (the user's presets folder is Blender's too), not
    before: a skipped item never needs it."""
    from ..blender import vrm_addon

    preset = cli_preset(args.preset)
    vrm_addon.ensure_enabled()
    work = _ItemWork(item, local, scratch, preset, args.fix, dest, args.settings, marker)
    return _convert(work) if item.kind == "convert" else _publish(work)


COMMAND = Command("batch-item", "one item of a batch, in its own process (started by `batch`)", _add_arguments, _run)
