"""`forge.py serving-module`: the ES module a frontend vendors to resolve promoted models and clips to their
URLs from each tier's index.json (the LAN tier's and the CDN's base URLs from the promoter's config). No bpy."""

from __future__ import annotations

import argparse
import os
import tempfile
from pathlib import Path

from ..core.outputs import output_path, place_new
from ..core.serving_module import LAN, REMOTE, serving_module
from ..promote.config import ConfigError, load_config
from .command import Command, Result, UsageError

# The config's targets whose url the module uses for each tier.
_TIERS = {LAN: "nfs", REMOTE: "r2"}


def _add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--config", required=True, type=Path, help="the promoter's TOML config (targets' url)")
    parser.add_argument("--out", required=True, type=Path, help="the .js file to write")
    parser.add_argument("--force", action="store_true", help="replace --out when it exists")


def _run(args: argparse.Namespace) -> Result:
    try:
        config = load_config(args.config.expanduser())
        out = output_path(args.out, ".js", overwrite=args.force)
    except (ConfigError, ValueError) as exc:
        raise UsageError(str(exc)) from None
    except FileExistsError as exc:
        raise UsageError(f"{exc}; pass --force to replace it") from None
    urls = {t.name: t.url for t in config.targets}
    missing = [target for target in _TIERS.values() if not urls.get(target)]
    if missing:
        raise UsageError(f"{args.config.name}: give [targets.{missing[0]}] a 'url' (where clients fetch that tier)")
    tiers = {tier: str(urls[target]) for tier, target in _TIERS.items()}
    handle, name = tempfile.mkstemp(prefix=f".{out.stem}.", suffix=".part.js", dir=out.parent)
    with os.fdopen(handle, "w", encoding="utf-8") as scratch:
        scratch.write(serving_module(tiers, args.config.name))
    try:
        if args.force:
            os.replace(name, out)
        else:
            place_new(Path(name), out)
    except FileExistsError as exc:
        raise UsageError(f"{exc}; pass --force to replace it") from None
    finally:
        Path(name).unlink(missing_ok=True)
    return Result({"path": str(out), "tiers": tiers}, [f"wrote {out}: {LAN} {tiers[LAN]}, {REMOTE} {tiers[REMOTE]}"])


COMMAND = Command(
    "serving-module",
    "write the ES module that resolves promoted models and clips to their URLs from the tiers' index.json",
    _add_arguments,
    _run,
    needs_bpy=False,
)
