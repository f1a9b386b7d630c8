"""`forge.py batch-item`: one item of a batch, in its own process (`batch` starts it): the work is
batch/item.py's, rendered here as the one JSON document `batch` reads. `--probe` only reports the versions
and the preset."""

from __future__ import annotations

import argparse
import json
import tempfile
from pathlib import Path

from ..batch import item as item_work
from ..batch import plan
from ..core.presets import Preset
from ..core.publish.digest import digest_file
from ..storage.base import Storage, StorageError
from ..storage.targets import open_location
from .blender_args import preset as cli_preset
from .command import EXIT_OK, EXIT_PROBLEMS, Command, Result, UsageError
from .paths import open_blend


def _add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--item", help="the item, as JSON (what `batch` planned)")
    parser.add_argument("--preset", required=True)
    parser.add_argument("--fix", choices=("safe", "all"))
    parser.add_argument("--rig", choices=("auto", "replace"))
    parser.add_argument("--out", help="DEST: where results and the done markers go")
    parser.add_argument("--settings", help="the settings key `batch` derived from the probe")
    parser.add_argument("--endpoint-url")
    parser.add_argument("--probe", action="store_true", help="only print the versions and the preset")


def _rendered(result: item_work.ItemResult) -> Result:
    """The item's result as the one JSON document `batch` reads, and one line."""
    if result.status == "failed":
        line = f"failed: {result.reason}"
    elif result.status == "skipped":
        line = f"skipped: {result.reason} ({result.record['written']})"
    else:
        line = f"done: {result.written}"
    return Result(result.to_json(), [line], EXIT_PROBLEMS if result.status == "failed" else EXIT_OK)


def _probe(preset: Preset) -> Result:
    import bpy

    from ..blender import vrm_addon
    from ..core.version import VERSION

    vrm_addon.ensure_enabled()
    versions = {"avatar_forge": VERSION, "blender": bpy.app.version_string, "vrm_addon": vrm_addon.version()}
    return Result({"versions": versions, "preset": preset.to_json()}, [json.dumps(versions)])


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
            local = item_work.fetch(item.source, scratch, args.endpoint_url)
            marker = plan.done_key(args.settings, digest_file(local).sha256, item.output)
            previous = item_work.previous(dest, item, marker)
            if previous is not None:
                return _rendered(previous)  # before Blender loads: a rerun over a library already done starts none
            refused = item_work.output_taken(dest, item) or item_work.refused(local)
            if refused is not None:
                return _rendered(refused)
            return _rendered(_work(args, item=item, local=local, scratch=scratch, dest=dest, marker=marker))
        except (StorageError, OSError) as exc:
            return _rendered(item_work.failed(str(exc)))


def _work(
    args: argparse.Namespace, *, item: plan.Item, local: Path, scratch: Path, dest: Storage, marker: str
) -> item_work.ItemResult:
    """The item's conversion or publish. Blender loads here (the user's presets folder is Blender's too), not
    before: a skipped item never needs it. A .blend to publish is opened as an untrusted file (its scripts
    never run: anyone who can write the bucket could have put it there)."""
    from ..blender import vrm_addon

    preset = cli_preset(args.preset)
    vrm_addon.ensure_enabled()
    work = item_work.ItemWork(item, local, scratch, preset, args.fix, args.rig, dest, args.settings, marker)
    if item.kind == "convert":
        return item_work.convert_item(work)
    try:
        open_blend(local, untrusted=True)
    except UsageError as exc:
        return item_work.failed(str(exc))
    return item_work.publish_item(work)


COMMAND = Command("batch-item", "one item of a batch, in its own process (started by `batch`)", _add_arguments, _run)
