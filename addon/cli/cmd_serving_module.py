"""`forge.py serving-module`: the ES module a frontend vendors to resolve promoted models and clips to their
URLs from each tier's index.json (the LAN tier's and the CDN's base URLs from the promoter's config). No bpy."""

from __future__ import annotations

import argparse
import os
import tempfile
from pathlib import Path

from ..core.outputs import output_path, place_new
from ..core.publish.serving_module import LAN, REMOTE, serving_module
from ..promote.config import ConfigError, load_config
from .command import Command, Result, UsageError

# The config's targets whose url the module uses for each tier, first found first: where R2 is no target
# (the cluster copies the mirror there, index.json and all), the mirror's url is the CDN's.
_TIERS = {LAN: ("nfs",), REMOTE: ("r2", "mirror")}


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
    urls = {t.name: t.url for t in config.targets if t.url}
    tiers: dict[str, str] = {}
    for tier, targets in _TIERS.items():
        found = [urls[t] for t in targets if t in urls]
        if not found:
            where = " or ".join(f"[targets.{t}]" for t in targets)
            raise UsageError(f"{args.config.name}: give {where} a 'url' (where {tier} clients fetch its files)")
        tiers[tier] = found[0]
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
