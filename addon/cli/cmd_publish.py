"""`forge.py publish`: export the avatar and publish it as the next version to a storage root or S3."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable
from typing import TYPE_CHECKING

from ..core.errors import OperationError
from ..core.publish.bucket_keys import check_name
from ..storage.base import Storage
from ..storage.targets import open_storage
from .blender_args import add_verbose
from .blender_args import preset as cli_preset
from .command import EXIT_PROBLEMS, Command, Result, UsageError, failed
from .paths import open_given_blend

if TYPE_CHECKING:
    from ..blender.publish import PublishResult

S3_URL_ENV = "AVATAR_FORGE_S3_URL"


def _add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--name", required=True, help="model name: letters, digits, '-', '_' (versions are added)")
    parser.add_argument("--preset", required=True, help="export preset (see `forge.py presets`)")
    add_storage_arguments(parser)
    add_verbose(parser)


def add_storage_arguments(parser: argparse.ArgumentParser) -> None:
    """--root / --s3 / --endpoint-url / --armature: where a publish goes, and what it exports."""
    where = parser.add_mutually_exclusive_group()
    where.add_argument("--root", help="storage root folder (the Kasm mount: /s3/blender-avatars)")
    where.add_argument(
        "--s3",
        metavar="s3://BUCKET/PREFIX",
        help=f"publish to S3, credentials from the AWS chain (default: ${S3_URL_ENV})",
    )
    parser.add_argument("--endpoint-url", help="S3 endpoint (default: AWS, or AWS_ENDPOINT_URL)")
    parser.add_argument("--armature", help="the armature to export (default: the only one in the scene)")


def checked_name(args: argparse.Namespace) -> str:
    """--name, checked before Blender's modules load: a bad one is refused at once (an InputError)."""
    return check_name(args.name)


def chosen_storage(args: argparse.Namespace) -> Storage:
    """The storage --root / --s3 (or the environment) name; UsageError when none or an unusable one."""
    try:
        s3_url = args.s3 or (None if args.root else os.environ.get(S3_URL_ENV) or None)
        if args.root is None and s3_url is None:
            raise UsageError(f"say where to publish: --root DIR or --s3 s3://BUCKET/PREFIX (or set {S3_URL_ENV})")
        target = open_storage(root=args.root, s3_url=s3_url, endpoint_url=args.endpoint_url)
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    if args.endpoint_url and s3_url is None:
        raise UsageError("--endpoint-url goes with --s3")
    return target


def progress(fraction: float, what: str) -> None:
    print(f"publish: {fraction * 100:3.0f}% {what}", file=sys.stderr)


def _run(args: argparse.Namespace) -> Result:
    name = checked_name(args)
    target = chosen_storage(args)  # before Blender's modules load: a bad destination is refused at once
    preset = cli_preset(args.preset)
    open_given_blend(args)
    from ..blender import console, publish

    with console.quiet(args.verbose):  # the export's own output: see add_verbose
        return published(lambda: publish.publish(name, preset, target, armature_name=args.armature, progress=progress))


def published(run: Callable[[], PublishResult]) -> Result:
    """The CLI's result of a publish (a model's or a clip's): what it wrote, or why nothing was queued."""

    try:
        result = run()
    except LookupError as exc:  # no such action or strip (no such armature is an InputError already)
        raise UsageError(str(exc)) from None
    except OperationError as exc:
        return failed(exc, "not published: {}", published=False)
    except OSError as exc:  # the temporary folder is full or unwritable: nothing was uploaded
        detail = f"{exc.strerror}: {exc.filename}" if exc.strerror and exc.filename else str(exc)
        reason = f"the temporary folder is full or unwritable: {detail}"
        return Result({"published": False, "reason": reason}, [f"not published: {reason}"], EXIT_PROBLEMS)
    data = result.to_json()
    served = data["vrm"] if "vrm" in data else data["vrma"]
    lines = [
        f"published {data['name']} v{data['version']} ({served['size'] / 1e6:.2f} MB) to {data['location']}",
        f"  {served['url']}",
        f"  {data['blend']['url']}",
        f"  queued {data['request']}",
        *(f"  note: {left} has no promotion request: left by an interrupted publish" for left in data["unqueued"]),
    ]
    if data["loader"]:
        # Beside the allowlist lines `promote` prints: the frontend reads this file only with them.
        lines += ["", "The file is compressed (EXT_meshopt_compression): the frontend's GLTFLoader needs:"]
        lines += data["loader"]
    return Result(data, lines)


COMMAND = Command(
    "publish",
    "export the avatar and publish it as the next version, queued for promotion",
    _add_arguments,
    _run,
    own_blend=True,
)
