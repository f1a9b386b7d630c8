"""`forge.py convert`: models in (.vrm, .glb/.gltf, .fbx, .blend), one checked, optionally fixed VRM out each.

Every output path is decided and checked before the first import; each model then goes through
blender/convert.py (in a process of its own when there are several) and the results are rendered.
"""

from __future__ import annotations

import argparse
import json
import sys
import traceback
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..core.models.files import SUFFIXES, is_model_file
from ..core.models.refs import refusal
from ..process import children
from .blender_args import add_verbose
from .blender_args import preset as cli_preset
from .command import EXIT_INTERNAL, EXIT_OK, EXIT_PROBLEMS, Command, Result, UsageError
from .paths import new_output_path


def _add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("models", nargs="+", type=Path, metavar="MODEL", help=f"model files ({SUFFIXES}) or folders")
    parser.add_argument(
        "--out", required=True, type=Path, help="the .vrm to write (one model), or the folder for <name>.vrm files"
    )
    parser.add_argument("--preset", required=True, help="export preset (see `forge.py presets`)")
    parser.add_argument(
        "--fix",
        choices=("safe", "all"),
        help="fix the imported copy first: safe (as `check --fix`) or all (also the structural fixes)",
    )
    parser.add_argument("--force", action="store_true", help="replace existing .vrm files (never an input)")
    parser.add_argument(
        "--rig",
        choices=("auto", "replace"),
        help="auto: rig a model whose meshes no armature drives (rigged ones are left alone); "
        "replace: discard the model's own armature and rig it anew",
    )
    parser.add_argument(
        "--recursive",
        action="store_true",
        help="read folders' subfolders too; each VRM goes to the same subfolder of --out",
    )
    add_verbose(parser)


@dataclass(frozen=True)
class Conversion:
    """A model and where its VRM goes."""

    model: Path
    out: Path


def _models(paths: list[Path], recursive: bool = False) -> list[tuple[Path, Path]]:
    """Every model named, a folder's model files sorted (with `recursive`, those of its subfolders too),
    each absolute, with the subfolder it was found in (relative to the folder named); usage errors for the
    rest."""
    found: list[tuple[Path, Path]] = []
    for given in paths:
        path = given.expanduser().absolute()
        if path.is_dir():
            candidates = path.rglob("*") if recursive else path.iterdir()
            inside = sorted(p for p in candidates if p.is_file() and is_model_file(p))
            if not inside:
                where = "under" if recursive else "in"
                raise UsageError(f"{path}: no model files ({SUFFIXES}) {where} this folder")
            found.extend((p, p.parent.relative_to(path)) for p in inside)
        elif not path.is_file():
            raise UsageError(f"{path}: no such file or folder")
        elif not is_model_file(path):
            raise UsageError(f"{path} is not a model file: convert reads {SUFFIXES}")
        else:
            found.append((path, Path()))
    unique: dict[Path, Path] = {}
    for model, sub in found:  # a file named twice is converted once
        unique.setdefault(model, sub)
    return list(unique.items())


def plan(paths: list[Path], out: Path, force: bool, recursive: bool = False) -> list[Conversion]:
    """Where each model's VRM goes: `out` itself for one model and a .vrm `out`, else `out`/<stem>.vrm
    (with `recursive`, `out`/<subfolder>/<stem>.vrm for a model found in a subfolder of a folder named).
    Refuses, before any work, two models with one output, an existing output (unless force) and an output
    that is one of the inputs (even with force: inputs are never written)."""
    found = _models(paths, recursive)
    models = [model for model, _ in found]
    out = out.expanduser().absolute()
    if out.suffix.lower() == ".vrm":
        if len(models) > 1:
            raise UsageError(f"--out {out} is one file but there are {len(models)} models: give a folder")
        targets = [out]
    elif out.is_dir():
        targets = [out / sub / f"{model.stem}.vrm" for model, sub in found]
    else:
        raise UsageError(f"--out {out} is neither a .vrm file nor an existing folder")
    jobs: list[Conversion] = []
    inputs = {model.resolve() for model in models}
    for model, target in zip(models, targets, strict=True):
        if target.resolve() in inputs:
            raise UsageError(f"{target} is an input: converting would overwrite it; choose another --out")
        clash = next((job.model for job in jobs if job.out == target), None)
        if clash is not None:
            raise UsageError(f"{clash.name} and {model.name} would both be written to {target.name}")
        if target.parent.is_dir():
            jobs.append(Conversion(model, new_output_path(target, ".vrm", force)))
        else:  # a subfolder made when its first model is written: nothing is there yet
            jobs.append(Conversion(model, _in_new_subfolder(target, out)))
    return jobs


def _in_new_subfolder(target: Path, out: Path) -> Path:
    """`target`, in a subfolder of `out` not made yet: refused where a file stands where a folder must go,
    or in a storage root (as every output)."""
    from ..blender.paths import refuse_storage_root

    for parent in [target.parent, *target.parent.parents]:
        if parent == out:
            break
        if parent.exists() and not parent.is_dir():
            raise UsageError(f"{parent} is a file: the VRMs of the models below it cannot be written there")
    refuse_storage_root(target)
    return target


def _unconverted(job: Conversion, error: str) -> dict[str, Any]:
    """The report entry of a model whose conversion ended before it could say anything itself."""
    from ..blender.convert import ConvertResult

    return ConvertResult(job.model, error=error).to_json()


def _convert_apart(job: Conversion, args: argparse.Namespace) -> tuple[dict[str, Any], bool]:
    """convert() in a child process (`convert` of this one model), so that a model crashing Blender fails
    alone: (its report entry, whether it was an internal error). Blender's log passes through to stderr."""
    command = [*children.forge_command(), "convert", str(job.model), "--out", str(job.out), "--preset", args.preset,
               "--json", *(["--fix", args.fix] if args.fix else []), *(["--rig", args.rig] if args.rig else []),
               *(["--force"] if args.force else []), *(["--verbose"] if args.verbose else [])]  # fmt: skip
    finished = children.run(command, capture_stderr=False)
    try:
        entry: dict[str, Any] = json.loads(finished.stdout)["models"][0]
    except (ValueError, LookupError, TypeError):
        entry = _unconverted(job, f"{job.model.name}: {children.describe(finished.code)}")
    return entry, finished.code == EXIT_INTERNAL


def _entry_lines(entry: dict[str, Any]) -> list[str]:
    name = Path(entry["input"]).name
    if not entry["ok"]:
        lines = [f"FAILED    {name}: {entry['error'].removeprefix(name + ': ')}"]
        refused = entry["export"] or {}
        lines += [
            f"    {f['severity']}: {f['message']}" for f in refused.get("findings", []) if f["severity"] == "error"
        ]
        return lines
    before, after, export = entry["before"], entry["after"], entry["export"]
    fixed = ", ".join(sorted({f["id"] for f in entry["fixed"]})) or "nothing"
    rig = entry.get("rig") or {}
    rigged = (
        [f"auto-rigged {len(rig['bones'])} bones in {sum(rig['seconds'].values()):.1f} s"] if rig.get("rigged") else []
    )
    takes = ", ".join(repr(a) for a in (entry["import"] or {}).get("unplayed", []))
    unplayed = [f"played {takes} at import: exported in its bind pose"] if takes else []
    return [
        *unplayed,
        *rigged,
        f"converted {name} -> {export['path']} ({export['bytes'] / 1e6:.2f} MB, VRM {export['spec_version']}); "
        f"findings {len(before['findings'])} before, {len(after['findings'])} after; fixed {fixed}",
    ]


def _run(args: argparse.Namespace) -> Result:
    if args.blend is not None:
        raise UsageError("convert imports each model into an empty scene: give the .blend as a MODEL")
    jobs = plan(args.models, args.out, args.force, args.recursive)  # bad paths are refused before Blender loads
    from ..blender import convert, vrm_addon

    preset = cli_preset(args.preset)
    vrm_addon.ensure_enabled()
    entries: list[dict[str, Any]] = []
    internal = False
    for number, job in enumerate(jobs, 1):
        print(f"forge: converting {number}/{len(jobs)} {job.model.name}", file=sys.stderr, flush=True)
        if len(jobs) > 1:  # each in its own process: a crash, or what a bad file leaves in Blender, stays there
            refused = refusal(job.model)  # a file the import refuses at once needs no process (nor Blender)
            if refused is not None:
                entries.append(_unconverted(job, refused))
                continue
            entry, failed_inside = _convert_apart(job, args)
            entries.append(entry)
            internal |= failed_inside
            continue
        try:
            entries.append(
                convert.convert(
                    job.model, job.out, preset, fix=args.fix, force=args.force, rig=args.rig, verbose=args.verbose
                ).to_json()
            )
        except Exception as exc:  # a bug of ours on this model: the others still convert
            traceback.print_exc()
            internal = True
            entries.append(_unconverted(job, f"internal error: {exc!r} (traceback on stderr; please report it)"))
    failed = [e for e in entries if not e["ok"]]
    summary = f"{len(entries) - len(failed)} of {len(entries)} model(s) converted, {len(failed)} failed"
    data = {
        "ok": not failed,
        "preset": preset.name,
        "fix": args.fix,
        "rig": args.rig,
        "summary": summary,
        "models": entries,
    }
    lines = [line for entry in entries for line in _entry_lines(entry)] + [summary]
    code = EXIT_INTERNAL if internal else EXIT_PROBLEMS if failed else EXIT_OK
    return Result(data, lines, code)


COMMAND = Command(
    "convert", "import models (.vrm .glb .gltf .fbx .blend), check, fix and export each to .vrm", _add_arguments, _run
)
