"""`forge.py export`: the avatar to .vrm with a preset, after the rig check (refused on its errors)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from ..core.errors import OperationError, OutputExistsError, finding_line
from .blender_args import add_verbose
from .blender_args import preset as cli_preset
from .command import Command, Result, UsageError, failed
from .paths import new_output_path, open_given_blend


def _add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--preset", required=True, help="export preset (see `forge.py presets`)")
    parser.add_argument("--out", required=True, type=Path, help="the .vrm file to write")
    parser.add_argument("--armature", help="the armature to export (default: the only one in the scene)")
    parser.add_argument("--name", help="the avatar's name in the VRM meta (replaces the model's)")
    parser.add_argument("--author", help="the author in the VRM meta (replaces the model's authors)")
    parser.add_argument("--version", help="the avatar's version in the VRM meta")
    parser.add_argument("--force", action="store_true", help="replace --out when it exists")
    add_verbose(parser)


def _progress(fraction: float, what: str) -> None:
    print(f"export: {fraction * 100:3.0f}% {what}", file=sys.stderr, flush=True)


def _run(args: argparse.Namespace) -> Result:
    from ..blender import vrm_export

    out = new_output_path(args.out, ".vrm", args.force)
    preset = cli_preset(args.preset)
    overrides = {k: v for k in ("name", "author", "version") if (v := getattr(args, k))}
    open_given_blend(args)
    try:
        result = vrm_export.export_vrm(
            out,
            preset,
            armature_name=args.armature,
            meta_overrides=overrides,
            overwrite=args.force,
            progress=_progress,
            verbose=args.verbose,
        )
    except OutputExistsError as exc:
        raise UsageError(f"{exc}; pass --force to replace it") from None
    except OperationError as exc:
        return failed(exc, exported=False, preset=preset.name)
    data = {"exported": True, "preset": preset.name, **result.to_json()}
    triangles = result.stats.get("triangles", "?")
    lines = [
        f"wrote {result.path} ({result.bytes / 1e6:.2f} MB, VRM {result.spec_version}, {triangles} triangles, "
        f"{len(result.expressions)} expressions) in {result.seconds:.1f} s",
        f"sha256 {result.sha256}",
        *(f"  {finding_line(f)}" for f in result.findings),
    ]
    if data["loader"]:
        lines += ["compressed (EXT_meshopt_compression): a three.js GLTFLoader reads it with:", *data["loader"]]
    return Result(data, lines)


COMMAND = Command(
    "export", "export the avatar to .vrm with a preset (rig check first)", _add_arguments, _run, own_blend=True
)
