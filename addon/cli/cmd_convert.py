"""`forge.py convert`: models in (.vrm, .glb/.gltf, .fbx, .blend), one checked, optionally fixed VRM out each.

Each model is imported into an empty scene, checked, fixed there (never in its file: the inputs are only
read), and exported with the preset. Every output path is decided and checked before the first import.
"""

from __future__ import annotations

import argparse
import json
import sys
import traceback
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from ..core.findings import CheckReport, FixLevel
from ..core.model_files import SUFFIXES, is_model_file
from ..core.presets import Preset
from ..process import children
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


RigMode = Literal["auto", "replace"]


@dataclass(frozen=True)
class Job:
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


def plan(paths: list[Path], out: Path, force: bool, recursive: bool = False) -> list[Job]:
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
    jobs: list[Job] = []
    inputs = {model.resolve() for model in models}
    for model, target in zip(models, targets, strict=True):
        if target.resolve() in inputs:
            raise UsageError(f"{target} is an input: converting would overwrite it; choose another --out")
        clash = next((job.model for job in jobs if job.out == target), None)
        if clash is not None:
            raise UsageError(f"{clash.name} and {model.name} would both be written to {target.name}")
        if target.parent.is_dir():
            jobs.append(Job(model, new_output_path(target, ".vrm", force)))
        else:  # a subfolder made when its first model is written: nothing is there yet
            jobs.append(Job(model, _in_new_subfolder(target, out)))
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
    try:
        refuse_storage_root(target)
    except PermissionError as exc:
        raise UsageError(str(exc)) from None
    return target


def _fixed(before: CheckReport, after: CheckReport) -> list[dict[str, Any]]:
    """The fixable findings of `before` that `after` no longer has: what the fixes cleared."""
    remaining = {(f.id, f.objects) for f in after.findings}
    return [f.to_json() for f in before.findings if f.fixable and (f.id, f.objects) not in remaining]


def _entry(job: Job, error: str | None = None) -> dict[str, Any]:
    """A model's report entry before any work: what is filled in as it goes."""
    return {"input": str(job.model), "ok": False, "out": None, "import": None, "rig": None, "before": None,
            "after": None, "fixed": [], "export": None, "error": error}  # fmt: skip


def _auto_rig(model: Path, armature: str | None, rig: RigMode) -> tuple[dict[str, Any] | None, str | None]:
    """`--rig`: (the auto-rig's result, None) for the imported model, or (None, the one-line refusal).
    `auto` leaves a model its armature drives alone, and rigs the others anew (an armature that drives no
    mesh is no rig)."""
    import bpy

    from ..blender import autorig, rig_reader
    from ..core.autorig import NotHumanoidError

    if rig == "auto" and armature is not None and rig_reader.avatar_meshes(bpy.data.objects[armature]):
        return {"rigged": False, "reason": f"already rigged by '{armature}'"}, None
    try:
        return {"rigged": True, **autorig.auto_rig(None, replace=True).to_json()}, None
    except NotHumanoidError as exc:
        return None, f"{model.name}: not a standing humanoid: {exc}"
    except autorig.AutoRigError as exc:
        return None, f"{model.name}: {exc}"


def convert_one(
    job: Job, preset: Preset, fix: FixLevel | None, force: bool, rig: RigMode | None = None
) -> dict[str, Any]:
    """Imports, checks, fixes and exports one model in an empty scene (auto-rigging it first with `rig`);
    the entry of the report."""
    import bpy

    from ..blender import avatar_import, rig_check, vrm_export

    entry = _entry(job)
    bpy.ops.wm.read_homefile(use_empty=True)
    try:
        imported = avatar_import.import_avatar(job.model, bare_ok=rig is not None)
    except (ValueError, avatar_import.ImportFailedError) as exc:
        entry["error"] = str(exc)
        return entry
    entry["import"] = imported.to_json()
    if rig is not None:
        entry["rig"], entry["error"] = _auto_rig(job.model, imported.armature, rig)
        if entry["error"] is not None:
            return entry
        if entry["rig"]["rigged"]:
            imported.armature = entry["rig"]["armature"]
    assert imported.armature is not None, "import_avatar refuses a model without an armature"
    # One read of the rig before the fixes, and the last check after them is the export's: nothing changes
    # the scene in between (each was read twice before).
    before, model = rig_check.check_and_read(imported.armature, preset)
    fixed = rig_check.fix_checked(before, model, preset, fix or False)
    after = fixed.report if fix else before
    entry |= {"before": before.to_json(), "after": after.to_json(), "fixed": _fixed(before, after)}
    job.out.parent.mkdir(parents=True, exist_ok=True)
    try:
        result = vrm_export.export_vrm(
            job.out, preset, armature_name=imported.armature, overwrite=force, checked=fixed.checked
        )
    except vrm_export.ExportRefusedError as exc:
        entry["error"] = str(exc)
        entry["export"] = {"exported": False, "reason": str(exc), **exc.report.to_json()}
        return entry
    except vrm_export.ExportFailedError as exc:
        entry["error"] = str(exc)
        entry["export"] = {"exported": False, "reason": str(exc), **vrm_export.failure_details(exc)}
        return entry
    except (FileExistsError, ValueError, PermissionError) as exc:
        entry["error"] = str(exc)
        return entry
    entry |= {"ok": True, "out": str(result.path), "export": {"exported": True, **result.to_json()}}
    return entry


def _convert_apart(job: Job, args: argparse.Namespace) -> tuple[dict[str, Any], bool]:
    """convert_one in a child process (`convert` of this one model), so that a model crashing Blender fails
    alone: (its report entry, whether it was an internal error). Blender's log passes through to stderr."""
    command = [*children.forge_command(), "convert", str(job.model), "--out", str(job.out), "--preset", args.preset,
               "--json", *(["--fix", args.fix] if args.fix else []), *(["--rig", args.rig] if args.rig else []),
               *(["--force"] if args.force else [])]  # fmt: skip
    finished = children.run(command, capture_stderr=False)
    try:
        entry = json.loads(finished.stdout)["models"][0]
    except (ValueError, LookupError, TypeError):
        return _entry(job, f"{job.model.name}: {children.describe(finished.code)}"), finished.code == EXIT_INTERNAL
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
    return [
        *rigged,
        f"converted {name} -> {export['path']} ({export['bytes'] / 1e6:.2f} MB, VRM {export['spec_version']}); "
        f"findings {len(before['findings'])} before, {len(after['findings'])} after; fixed {fixed}",
    ]


def _run(args: argparse.Namespace) -> Result:
    from ..blender import vrm_addon

    if args.blend is not None:
        raise UsageError("convert imports each model into an empty scene: give the .blend as a MODEL")
    preset = cli_preset(args.preset)
    jobs = plan(args.models, args.out, args.force, args.recursive)
    try:
        vrm_addon.ensure_enabled()
    except vrm_addon.VrmAddonMissingError as exc:
        raise UsageError(str(exc)) from None
    entries: list[dict[str, Any]] = []
    internal = False
    for number, job in enumerate(jobs, 1):
        print(f"forge: converting {number}/{len(jobs)} {job.model.name}", file=sys.stderr, flush=True)
        if len(jobs) > 1:  # each in its own process: a crash, or what a bad file leaves in Blender, stays there
            entry, failed_inside = _convert_apart(job, args)
            entries.append(entry)
            internal |= failed_inside
            continue
        try:
            entries.append(convert_one(job, preset, args.fix, args.force, args.rig))
        except Exception as exc:  # a bug of ours on this model: the others still convert
            traceback.print_exc()
            internal = True
            entries.append(_entry(job, f"internal error: {exc!r} (traceback on stderr; please report it)"))
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
