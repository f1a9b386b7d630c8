"""Convert: one model (.vrm, .glb/.gltf, .fbx, .blend) imported into an empty scene, optionally auto-rigged,
checked, fixed there (never in its file: the inputs are only read) and exported with a preset.

`forge.py convert` (cli/cmd_convert.py: which models, where each goes, one process each) and the batch
worker (`forge.py batch-item`) call convert(); its ConvertResult is the entry of their reports.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import bpy

from ..core.autorig import NotHumanoidError
from ..core.errors import ForgeError, OperationError
from ..core.presets import Preset
from ..core.rig.findings import CheckReport, Finding, FixLevel
from . import autorig, avatar_import, console, rig_check, rig_reader, vrm_export

RigMode = Literal["auto", "replace"]


@dataclass
class ConvertResult:
    """What became of one model. `error` (one line) says why it did not convert; `refusal` is the export's
    own failure when that was the reason (the rig check's errors, a rejected file)."""

    model: Path
    imported: avatar_import.ImportResult | None = None
    rig: dict[str, Any] | None = None  # the auto-rig's result, or {"rigged": False, "reason"} when it left it
    before: CheckReport | None = None
    after: CheckReport | None = None
    fixed: list[Finding] = field(default_factory=list)  # the fixable findings of `before` that `after` lacks
    export: vrm_export.ExportResult | None = None
    error: str | None = None
    refusal: OperationError | None = None

    @property
    def ok(self) -> bool:
        return self.export is not None

    def to_json(self) -> dict[str, Any]:
        export: dict[str, Any] | None = None
        if self.export is not None:
            export = {"exported": True, **self.export.to_json()}
        elif self.refusal is not None:
            export = {"exported": False, **self.refusal.to_json()}
        return {
            "input": str(self.model),
            "ok": self.ok,
            "out": str(self.export.path) if self.export else None,
            "import": self.imported.to_json() if self.imported else None,
            "rig": self.rig,
            "before": self.before.to_json() if self.before else None,
            "after": self.after.to_json() if self.after else None,
            "fixed": [f.to_json() for f in self.fixed],
            "export": export,
            "error": self.error,
        }


def _auto_rig(model: Path, armature: str | None, rig: RigMode) -> dict[str, Any]:
    """`rig` on the imported model: the auto-rig's result. `auto` leaves a model its armature drives alone,
    and rigs the others anew (an armature that drives no mesh is no rig). Raises OperationError (one line)."""
    if rig == "auto" and armature is not None and rig_reader.avatar_meshes(bpy.data.objects[armature]):
        return {"rigged": False, "reason": f"already rigged by '{armature}'"}
    try:
        return {"rigged": True, **autorig.auto_rig(None, replace=True).to_json()}
    except (NotHumanoidError, autorig.AutoRigError) as exc:
        raise OperationError(f"{model.name}: {exc}") from None


def convert(
    model: Path,
    out: Path,
    preset: Preset,
    *,
    fix: FixLevel | None = None,
    force: bool = False,
    rig: RigMode | None = None,
    verbose: bool = False,
) -> ConvertResult:
    """Imports, checks, fixes and exports one model to `out` in an empty scene (auto-rigging it first with
    `rig`). Never raises for what the model is: the result says what went wrong. What Blender prints
    meanwhile (importers, bone heat, fixes, exporters) is held back unless `verbose`: only its warnings
    and errors reach stderr, once each, and stdout is left to the caller's report."""
    result = ConvertResult(model)
    with console.quiet(verbose):
        bpy.ops.wm.read_homefile(use_empty=True)
        try:
            result.imported = imported = avatar_import.import_avatar(
                model, bare_ok=rig is not None, bind_pose=True, verbose=verbose
            )
            armature = imported.armature
            if rig is not None:
                result.rig = _auto_rig(model, armature, rig)
                armature = result.rig["armature"] if result.rig["rigged"] else armature
            assert armature is not None, "import_avatar refuses a model without an armature"
            # One read of the rig before the fixes, and the last check after them is the export's: nothing changes
            # the scene in between (each was read twice before).
            result.before, read = rig_check.check_and_read(armature, preset)
            fixed = rig_check.fix_checked(result.before, read, preset, fix or False)
            result.after = fixed.report if fix else result.before
            remaining = {(f.id, f.objects) for f in result.after.findings}
            result.fixed = [f for f in result.before.findings if f.fixable and (f.id, f.objects) not in remaining]
            out.parent.mkdir(parents=True, exist_ok=True)
            try:
                result.export = vrm_export.export_vrm(
                    out, preset, armature_name=armature, overwrite=force, checked=fixed.checked, verbose=verbose
                )
            except OperationError as exc:
                result.refusal = exc
                raise
        except (ForgeError, ValueError) as exc:  # ValueError: a file that is not a model
            result.error = str(exc)
    return result
