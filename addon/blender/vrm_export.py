"""Exports the avatar to .vrm with a preset, through the VRM Add-on's own exporter.

The sidebar's Export button, `forge.py export` and the socket's `avatar_export_vrm` all call export_vrm().
It runs the rig check first and refuses on errors, applies the preset to the armature's VRM settings
(spec version, meta, expressions: the one undoable change to the scene), writes downscaled textures and
the thumbnail only into the exported copy, and writes the file under a temporary name, reads it back as a
consumer would (core/vrm/verify) and renames it into place only when it passes.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import bpy

from ..core.errors import BadOutputError, OperationError, OutputExistsError
from ..core.outputs import output_path, place_new
from ..core.presets import Preset, WebDelivery
from ..core.rig import checks
from ..core.rig.findings import CheckReport, Finding
from ..core.rig.model import ArmatureInfo, MeshInfo, RigModel
from ..core.vrm import glb, glb_meta, sparse_morphs, webpack
from ..core.vrm import inspect as vrm_inspect
from ..core.vrm import meta as vrm_meta
from ..core.vrm import verify as vrm_verify
from . import console, context, render, rig_check, vrm_addon, vrm_addon_exporter, vrm_target
from .paths import refuse_storage_root

THUMBNAIL_SIZE = 1024

Progress = Callable[[float, str], None]
_FILE_SIZE = "over_budget_file_size"  # the rig check's id for its estimate
_NOT_PACKED = "web_packing_skipped"  # a preset's packing (or part of it) left out
# Preset export options that are the VRM Add-on's own export flags.
_ADDON_FLAGS = ("export_invisibles", "export_only_selections", "export_all_influences")


@dataclass
class ExportResult:
    path: Path
    bytes: int
    sha256: str
    spec_version: str
    stats: dict[str, Any]
    findings: list[Finding]
    seconds: float
    verification: vrm_verify.Verification
    expressions: dict[str, list[str]] = field(default_factory=dict)
    web: webpack.Packed | None = None  # the packing for download, when the preset asks for one and it ran

    def to_json(self) -> dict[str, Any]:
        return {
            "path": str(self.path),
            "bytes": self.bytes,
            "sha256": self.sha256,
            "spec_version": self.spec_version,
            "stats": self.stats,
            "findings": [f.to_json() for f in self.findings],
            "seconds": round(self.seconds, 3),
            "expressions": self.expressions,
            "verification": self.verification.to_json(),
            "web": self.web.to_json() if self.web else None,
            "loader": loader_lines(self),
        }


def loader_lines(result: ExportResult) -> list[str]:
    """What a three.js app's GLTFLoader needs to read the file: the meshopt decoder when it is compressed."""
    return list(webpack.LOADER_LINES) if result.web is not None and result.web.uses_meshopt else []


class ExportRefusedError(OperationError):
    """The rig check found errors: nothing was written. `report` is the rig check's CheckReport."""

    def __init__(self, report: CheckReport, check: str = "rig check") -> None:
        errors = report.errors()
        summary = errors[0].message + (f" (and {len(errors) - 1} more)" if len(errors) > 1 else "")
        super().__init__(f"not exported: the {check} found errors: {summary}", report=report)
        self.report: CheckReport = report


class ExportFailedError(OperationError, RuntimeError):
    """The VRM Add-on cancelled the export (the message carries its reasons); nothing was written."""


class ExportRejectedError(ExportFailedError):
    """The written file failed verification (what a consumer would see wrong): it was not put in place.

    `rejected` is where it was kept for inspection, beside the intended output (None: it could not be kept);
    `details` carries both for a JSON report.
    """

    def __init__(self, verification: vrm_verify.Verification, rejected: Path | None) -> None:
        kept = f" (the file is kept as {rejected.name})" if rejected is not None else ""
        reasons = "; ".join(verification.problems)
        details = {"verification": verification.to_json(), "rejected": str(rejected) if rejected else None}
        super().__init__(f"not exported: the written file fails verification: {reasons}{kept}", details=details)
        self.verification = verification
        self.rejected = rejected


def cancelled_reason(armature_name: str) -> str:
    """Why the VRM Add-on cancelled an export of `armature_name`, in its own validation's words."""
    errors = vrm_addon.validation_errors(armature_name)
    if not errors:
        return "the VRM Add-on cancelled the export without naming a reason"
    return f"the VRM Add-on cancelled the export: {'; '.join(errors)}"


def export_vrm(
    out: Path,
    preset: Preset,
    *,
    armature_name: str | None = None,
    meta_overrides: dict[str, str] | None = None,
    overwrite: bool = False,
    progress: Progress | None = None,
    verbose: bool = False,
    checked: tuple[CheckReport, RigModel] | None = None,
) -> ExportResult:
    """Exports the checked avatar to `out` with `preset`, leaving `out` as it was on every error: InputError
    (an output that exists or cannot be written, no VRM Add-on, no such armature) or OperationError
    (ExportRefusedError on the rig check's errors, ExportFailedError when the VRM Add-on cancels,
    ExportRejectedError when the written file fails verification).

    meta_overrides: "name", "author" and "version" replace the preset's (and the armature's) meta.
    progress: called with the fraction done and the step starting; it only goes forward and stops short
    of 1 (the caller says what comes next). verbose: Blender's and the exporters' console output as it
    comes, instead of only their warnings and errors. checked: the rig check (without fixes) of this scene
    with `preset` and the rig it read, when the caller has just made it and changed nothing since (convert,
    right after its fixes): the export starts from it instead of reading the rig again.
    """
    step = progress or (lambda _fraction, _what: None)
    started = time.perf_counter()
    # Here, not only in the CLI: the socket and the sidebar write through this function too.
    out = output_path(out, ".vrm", overwrite=overwrite)
    refuse_storage_root(out)
    vrm_addon.ensure_enabled()
    step(0.05, "checking the rig")
    report, model = checked or rig_check.check_and_read(armature_name, preset)
    if not report.ok:
        raise ExportRefusedError(report)
    armature = bpy.data.objects[report.armature] if report.armature else None
    assert armature is not None, "a rig check without errors names its armature"
    vrm = vrm_target.target(preset.spec_version)  # chosen once: every difference of 1.0 and 0.x is in it
    step(0.2, "applying the preset")
    applied = apply_preset(armature, preset, meta_overrides or {}, report.mapping, fallback_name=out.stem)
    step(0.3, "preparing textures and thumbnail")
    with _scratch_file(out) as scratch:
        with (
            console.quiet(verbose),
            _downscaled_images(preset.max_texture_size),
            _thumbnail(armature, preset, vrm),
            _idle_bones_left_out(armature, _idle_bones(model.armature, report.mapping, vrm)),
        ):
            step(0.45, "writing the VRM")
            data = _run_exporter(armature, preset, vrm, model.meshes)
        if vrm.through_gltf:
            step(0.9, "making morph targets sparse")
            data = _restore_dropped_meta(_sparse(data, preset), armature)
        step(0.92, "verifying the file")
        scratch.write_bytes(data)
        verification = vrm_verify.verify_vrm(data)
        if not verification.ok:
            raise ExportRejectedError(verification, _keep_rejected(scratch, out))
        packed: webpack.Packed | None = None
        packing: list[Finding] = []
        if preset.web is not None:
            step(0.94, "packing for the web")
            packed, packing = _pack(data, preset.web)
        if packed is not None:
            # The packed file verified as a loader reads it: its geometry decoded, its structure as stored.
            data = packed.data
            scratch.write_bytes(data)
            verification = vrm_verify.verify_vrm(packed.decoded)
            verification.problems.extend(vrm_inspect.inspect_vrm(data).problems)
            if not verification.ok:
                raise ExportRejectedError(verification, _keep_rejected(scratch, out))
        step(0.97, "moving the file into place")
        _move_into_place(scratch, out, overwrite)
    stats: dict[str, Any] = dict(report.stats)
    stats["file_size_mb"] = round(len(data) / 1e6, 3)
    findings = _with_actual_file_size(report.findings, stats["file_size_mb"], preset) + applied.findings + packing
    return ExportResult(
        path=out,
        bytes=len(data),
        sha256=hashlib.sha256(data).hexdigest(),
        spec_version=preset.spec_version,
        stats=stats,
        findings=findings,
        seconds=time.perf_counter() - started,
        verification=verification,
        expressions=applied.expressions,
        web=packed,
    )


def _restore_dropped_meta(data: bytes, armature: bpy.types.Object) -> bytes:
    """The written VRM 1.0 file with the meta fields the VRM Add-on leaves out put back (see glb_meta)."""
    meta = vrm_target.VRM1.meta(armature)
    return glb_meta.with_vrm1_meta(data, {"contactInformation": meta.contact_information})


def _with_actual_file_size(findings: list[Finding], megabytes: float, preset: Preset) -> list[Finding]:
    """The rig check's findings with its file size estimate replaced by the written file's size."""
    kept = [f for f in findings if f.id != _FILE_SIZE]
    if megabytes > preset.budgets.file_size_mb:
        # The file is kept (the rig check passed); the excess is reported.
        budget = preset.budgets.file_size_mb
        message = f"file size: {megabytes:g} MB over the '{preset.name}' budget of {budget:g} MB"
        kept.append(Finding(_FILE_SIZE, "warning", message, fixable=False))
    return kept


@dataclass
class AppliedPreset:
    """What apply_preset bound and found: every bound expression -> its shape keys, and findings (a licence
    the preset would change, binds VRM 1.0 cannot carry)."""

    expressions: dict[str, list[str]]
    findings: list[Finding]


def apply_preset(
    armature: bpy.types.Object,
    preset: Preset,
    overrides: dict[str, str],
    mapping: dict[str, str],
    *,
    fallback_name: str,
) -> AppliedPreset:
    """Spec version, meta, the checked humanoid mapping and expressions onto the armature's VRM data.

    The model's meta and expressions are its author's (see core/vrm/meta.py): kept, carried over from the
    other spec version when the target's are empty, filled from the preset only where empty; overrides
    ("name", "author", "version") replace; `fallback_name` names a model that has no name.
    """
    vrm = vrm_target.target(preset.spec_version)
    armature.data.vrm_addon_extension.spec_version = vrm.addon_spec  # type: ignore[union-attr]
    vrm1, vrm0 = vrm_target.VRM1.meta(armature), vrm_target.VRM0.meta(armature)
    plan = vrm_meta.plan_meta(
        preset.spec_version,
        _read_fields(vrm1, vrm_meta.VRM1_FIELDS),
        _read_fields(vrm0, vrm_meta.VRM0_FIELDS),
        preset.meta,
        overrides,
        fallback_name=fallback_name,
        preset_name=preset.name,
        armature=armature.name,
        found=_source_meta(armature),
    )
    vrm.map_humanoid(armature, mapping)
    meta, other = vrm.meta(armature), vrm.other.meta(armature)
    _set_fields(meta, plan.fields)
    setattr(meta, vrm.thumbnail, getattr(meta, vrm.thumbnail) or getattr(other, vrm.other.thumbnail))
    bound, dropped = _assign_expressions(armature, vrm)
    return AppliedPreset(bound, [*plan.findings, *dropped])


def _source_meta(armature: bpy.types.Object) -> dict[str, Any]:
    """What the imported file said of itself (avatar_import stores it on the armature), or {}."""
    stored: Any = armature.get(vrm_meta.SOURCE_META)
    return dict(stored.to_dict()) if hasattr(stored, "to_dict") else {}


def _read_fields(group: Any, keys: tuple[str, ...]) -> dict[str, Any]:
    """The add-on's meta as plain values (its author and reference lists as lists of strings)."""
    return {
        key: [item.value for item in getattr(group, key)] if key in vrm_meta.VRM1_LISTS else getattr(group, key)
        for key in keys
    }


def _set_fields(group: Any, values: dict[str, Any]) -> None:
    for key, value in values.items():
        if key in vrm_meta.VRM1_LISTS:
            items = getattr(group, key)
            items.clear()
            for text in value:
                items.add().value = text
        else:
            setattr(group, key, value)


def _export_meshes(armature: bpy.types.Object) -> list[bpy.types.Object]:
    """Meshes deformed by the armature (or parented to it) that carry shape keys."""
    meshes = []
    for obj in context.scene().objects:
        if obj.type != "MESH" or not isinstance(obj.data, bpy.types.Mesh) or obj.data.shape_keys is None:
            continue
        deformed = any(m.type == "ARMATURE" and getattr(m, "object", None) == armature for m in obj.modifiers)
        if deformed or obj.parent == armature:
            meshes.append(obj)
    return meshes


def _assign_expressions(
    armature: bpy.types.Object, vrm: vrm_target.VrmTarget
) -> tuple[dict[str, list[str]], list[Finding]]:
    """Keeps every expression the model has bound (a VRM 0.x model's groups become VRM 1.0 expressions and
    the reverse), then binds shape keys by name to the preset expressions still unbound. Returns expression
    -> the shape keys bound to it, as the add-on will export them and consumers name them (VRM 1.0 names for
    presets, custom expressions by their own names; material-only ones with []), and what could not be kept."""
    dropped = vrm.carry_expressions(armature)
    for obj in _export_meshes(armature):
        mesh = obj.data
        assert isinstance(mesh, bpy.types.Mesh) and mesh.shape_keys is not None
        vrm.assign_shape_keys(armature, obj.name, [k.name for k in mesh.shape_keys.key_blocks[1:]])
    return vrm.bound_expressions(armature), dropped


@contextlib.contextmanager
def _downscaled_images(max_size: int) -> Iterator[list[str]]:
    """Swaps every image larger than `max_size` for a downscaled, packed copy under the same name, and
    restores the user's image afterwards: the user's pixels, file and packing are never touched."""
    swaps: list[tuple[bpy.types.Image, bpy.types.Image, str]] = []
    try:
        for image in list(bpy.data.images):
            width, height = image.size
            if image.users == 0 or max(width, height) <= max_size:
                continue
            scale = max_size / max(width, height)
            copy = image.copy()
            copy.scale(max(1, round(width * scale)), max(1, round(height * scale)))
            copy.pack()
            name = image.name
            image.user_remap(copy)
            swaps.append((image, copy, name))
            image.name = f"{name}.avatar-forge-original"
            copy.name = name
        yield [name for _, _, name in swaps]
    finally:
        for image, copy, name in reversed(swaps):
            copy.user_remap(image)
            copy.name = f"{name}.avatar-forge-copy"
            image.name = name
            bpy.data.images.remove(copy)


@contextlib.contextmanager
def _thumbnail(armature: bpy.types.Object, preset: Preset, vrm: vrm_target.VrmTarget) -> Iterator[None]:
    """Renders a 1024² front view into the meta for this export, unless the user set a thumbnail."""
    meta, attribute = vrm.meta(armature), vrm.thumbnail
    if not preset.thumbnail or getattr(meta, attribute) is not None:
        yield
        return
    with tempfile.TemporaryDirectory(prefix="avatar-forge-thumb-") as folder:
        png = render.render_still(Path(folder) / "thumbnail.png", THUMBNAIL_SIZE, THUMBNAIL_SIZE, fxaa=True)
        image = bpy.data.images.load(str(png))
        image.pack()
    image.name = "thumbnail"
    setattr(meta, attribute, image)
    try:
        yield
    finally:
        setattr(meta, attribute, None)
        bpy.data.images.remove(image)


def _idle_bones(armature: ArmatureInfo | None, mapping: dict[str, str], vrm: vrm_target.VrmTarget) -> list[str]:
    """The bones a VRM 1.0 export leaves out (the VRM 0.x writer is the add-on's own: it is not changed)."""
    return checks.idle_bones(armature, mapping) if armature is not None and vrm.through_gltf else []


@contextlib.contextmanager
def _idle_bones_left_out(armature: bpy.types.Object, idle: list[str]) -> Iterator[None]:
    """The VRM Add-on exports VRM 1.0 with only deform bones (the glTF exporter's export_def_bones; it turns
    deform on for the bones its humanoid, spring bones and root need), but the glTF exporter keeps a bone
    that any object hangs from. Bones that deform and carry nothing (IK and pole targets) are made
    non-deform for the export, and what hangs from them (an importer's `_end` marker empties: no mesh, or
    the bone would carry it) is let go of and hidden, which the add-on does not export: the file's nodes and
    skin leave them out. Everything is as it was afterwards."""
    data = armature.data
    assert isinstance(data, bpy.types.Armature)
    changed = [data.bones[name] for name in idle if data.bones[name].use_deform]
    names = set(idle)
    markers = [o for o in armature.children if o.parent_type == "BONE" and o.parent_bone in names]
    held = [(o, o.parent_bone, o.matrix_parent_inverse.copy(), o.matrix_basis.copy(), o.hide_get()) for o in markers]
    hidden = [d for o in markers for d in o.children_recursive if not d.hide_get()]
    for bone in changed:
        bone.use_deform = False
    for obj in markers:
        world = obj.matrix_world.copy()
        obj.parent = None
        obj.matrix_world = world
        obj.hide_set(True)
    for obj in hidden:
        obj.hide_set(True)
    try:
        yield
    finally:
        for bone in changed:
            bone.use_deform = True
        for obj, bone_name, inverse, basis, was_hidden in held:
            obj.parent, obj.parent_type, obj.parent_bone = armature, "BONE", bone_name
            obj.matrix_parent_inverse, obj.matrix_basis = inverse, basis
            obj.hide_set(was_hidden)
        for obj in hidden:
            obj.hide_set(False)
        context.view_layer().update()


def _run_exporter(
    armature: bpy.types.Object, preset: Preset, vrm: vrm_target.VrmTarget, checked: list[MeshInfo]
) -> bytes:
    """The VRM Add-on's export of `armature`, as bytes. Our rig check has passed (`checked`: the meshes it
    read): for the pinned add-on the exporter is called below its operator (no second validation); any other
    version goes through it."""
    flags = {name: getattr(preset.export, name) for name in _ADDON_FLAGS}
    internals = vrm_addon_exporter.internals()
    data: bytes | None
    if internals is not None:
        gltf = {"export_morph_normal": preset.export.morph_normals}
        data = vrm_addon_exporter.export(internals, armature, vrm.version, flags, gltf, checked=checked)
    else:
        with tempfile.TemporaryDirectory(prefix="avatar-forge-export-") as folder:
            path = Path(folder) / "out.vrm"
            result = bpy.ops.export_scene.vrm(  # type: ignore[attr-defined]
                filepath=str(path),
                armature_object_name=armature.name,
                ignore_warning=True,
                enable_advanced_preferences=True,
                **flags,
            )
            data = path.read_bytes() if "FINISHED" in result and path.is_file() else None
    if not data:
        raise ExportFailedError(cancelled_reason(armature.name))
    return data


def _sparse(data: bytes, preset: Preset) -> bytes:
    """The VRM 1.0 file with sparse morph targets (and without morph normals when the preset says so)."""
    try:
        sparse, _stats = sparse_morphs.sparsify(data, morph_normals=preset.export.morph_normals)
    except sparse_morphs.GlbLayoutError:
        return data  # a layout the rewrite does not know: the add-on's file, unchanged, is still right
    return sparse


def _pack(data: bytes, web: WebDelivery) -> tuple[webpack.Packed | None, list[Finding]]:
    """The verified file packed for download, and a warning for each part left out; (None, why) when the
    packing cannot be proven right: the unpacked file, already verified, is written instead."""
    options = webpack.PackOptions(
        geometry=web.geometry,
        webp=web.textures != "keep",
        webp_quality=web.webp_quality,
        webp_lossless=web.textures == "webp-lossless",
        texture_fallback=web.texture_fallback,
        thumbnail_jpeg=web.thumbnail_jpeg,
    )
    try:
        packed = webpack.pack(data, options)
    except (webpack.PackError, glb.GlbError) as exc:  # GlbError: a container it cannot read, layouts included
        return None, [Finding(_NOT_PACKED, "warning", f"written uncompressed: {exc}", fixable=False)]
    return packed, [Finding(_NOT_PACKED, "warning", f"written without {why}", fixable=False) for why in packed.skipped]


@contextlib.contextmanager
def _scratch_file(out: Path) -> Iterator[Path]:
    """A temporary name in the destination folder (so the final rename is atomic), removed unless renamed.
    BadOutputError when the folder takes no file (read-only, full): one line, before the export's work."""
    try:  # the stem shortened: a name that fits the file system must not fail for its longer scratch twin
        handle, name = tempfile.mkstemp(prefix=f".{out.stem[:64]}.", suffix=".part.vrm", dir=out.parent)
    except OSError as exc:
        raise BadOutputError(f"cannot write in {out.parent}: {exc.strerror or exc}") from None
    os.close(handle)
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(name, 0o666 & ~umask)  # mkstemp's 0600 would make the final file private
    try:
        yield Path(name)
    finally:
        Path(name).unlink(missing_ok=True)


def _keep_rejected(scratch: Path, out: Path) -> Path | None:
    """Moves a file that failed verification beside `out` as `<name>.rejected.vrm` (`-2`, `-3`... when
    taken): never over anything, never where a consumer looks for `out`. None when it cannot be kept."""
    for number in range(1, 100):
        rejected = out.with_name(f"{out.stem}.rejected{f'-{number}' if number > 1 else ''}.vrm")
        try:
            place_new(scratch, rejected)
        except FileExistsError:
            continue
        except OSError:
            return None
        return rejected
    return None


def _move_into_place(scratch: Path, out: Path, overwrite: bool) -> None:
    if overwrite:
        os.replace(scratch, out)
        return
    try:
        # A hard link fails when `out` appeared meanwhile: another file is never clobbered.
        os.link(scratch, out)
    except FileExistsError:
        raise OutputExistsError(f"{out} exists") from None
    except OSError:  # a file system without hard links
        if out.exists():
            raise OutputExistsError(f"{out} exists") from None
        os.replace(scratch, out)
