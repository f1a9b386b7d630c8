"""Imports an avatar file (.vrm, .glb/.gltf, .fbx, .blend) into the current scene with the right importer.

The sidebar's Import avatar button, the socket's `avatar_import` and `forge.py convert` all call
import_avatar(). It only reads the file: importer options that would write beside it (the VRM Add-on's
texture extraction) are off, and an import that fails or brings no armature leaves the scene as it was.

The file is untrusted. It reads nothing outside its own folder (URIs are decided before the importer runs,
files the importers found anyway are dropped after), allocates nothing past what it holds, and none of
its Python runs, then or later: Blender's auto-run is off while it imports, and a .blend's registered text
blocks, Python drivers and linked libraries are removed from what it brought.
"""

from __future__ import annotations

import contextlib
import os
import re
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import bpy

from ..core.errors import OperationError
from ..core.models import bone_children as file_bone_children
from ..core.models import fbx_header
from ..core.models import files as model_files
from ..core.models import refs as model_refs
from ..core.models.files import ModelFormat
from ..core.vrm import meta as vrm_meta
from ..core.vrm import webpack
from . import action_rebase, bone_children, console, context, rig_reader, vrm_addon

# The VRM Add-on's importer asks the user to confirm a VRM 0.x licence given only as a URL of its own
# (otherLicenseUrl / otherPermissionUrl) in a dialog, which headless Blender cannot show; with this set it
# imports. The licence stays in the file's meta, which import_avatar returns.
_LICENSE_CONFIRMATION = "BLENDER_VRM_AUTOMATIC_LICENSE_CONFIRMATION"
_PYTHON_ERROR = re.compile(r"^\w+(Error|Exception): ")
# The formats whose importers have the armature play one of the file's takes. A .blend's action is its
# author's choice, and a .vrm carries none.
_ANIMATED = ("fbx", "glb", "gltf")
_HEAD_BYTES = 64  # enough to recognise an FBX or a .blend; both can be hundreds of MB
PROBE_TIMEOUT = 600.0  # seconds for a separate Blender to read a .blend (a large one takes minutes)
# fake-bpy-module types operators and libraries.load() as returning None; they return a set and a context.
_ops: Any = bpy.ops


class ImportFailedError(OperationError, RuntimeError):
    """The file could not be imported, or brought no armature; the scene is as it was."""


@dataclass
class ImportResult:
    path: Path
    format: ModelFormat
    armature: str | None
    objects: list[str]
    meta: dict[str, Any] = field(default_factory=dict)
    removed: list[str] = field(default_factory=list)  # what the import took out of what the file brought
    unplayed: list[str] = field(default_factory=list)  # the takes the importer had the armature play (bind_pose)

    def to_json(self) -> dict[str, Any]:
        return {
            "path": str(self.path),
            "format": self.format,
            "armature": self.armature,
            "objects": list(self.objects),
            "meta": self.meta,
            "removed": list(self.removed),
            "unplayed": list(self.unplayed),
        }


@contextlib.contextmanager
def _scripts_never_run() -> Iterator[None]:
    """Blender's "Auto Run Python Scripts" off while a file is read, whatever the preferences say (setting
    the preference is what switches Blender's flag); afterwards the preference is as it was, unsaved."""
    preferences = bpy.context.preferences
    assert preferences is not None  # None only while Blender starts
    before, dirty = preferences.filepaths.use_scripts_auto_execute, preferences.is_dirty
    preferences.filepaths.use_scripts_auto_execute = False
    try:
        yield
    finally:
        preferences.filepaths.use_scripts_auto_execute = before
        preferences.is_dirty = dirty


@contextlib.contextmanager
def _license_confirmed() -> Iterator[None]:
    """Sets the VRM Add-on's licence confirmation for one import only, as it was before afterwards."""
    before = os.environ.get(_LICENSE_CONFIRMATION)
    os.environ[_LICENSE_CONFIRMATION] = "true"
    try:
        yield
    finally:
        if before is None:
            del os.environ[_LICENSE_CONFIRMATION]
        else:
            os.environ[_LICENSE_CONFIRMATION] = before


def _import_vrm(path: Path) -> set[str]:
    vrm_addon.ensure_enabled()
    with _license_confirmed():
        result: set[str] = _ops.import_scene.vrm(
            filepath=str(path),
            use_addon_preferences=False,  # the user's preferences may extract textures beside the file
            extract_textures_into_folder=False,
            set_shading_type_to_material_on_import=False,  # the scene's settings are the user's
            set_view_transform_to_standard_on_import=False,
        )
    return result


def _import_gltf(path: Path) -> set[str]:
    result: set[str] = _ops.import_scene.gltf(filepath=str(path))
    return result


def _import_fbx(path: Path) -> set[str]:
    result: set[str] = _ops.import_scene.fbx(
        filepath=str(path),
        # Bones point along their chains as in the source tool, so the rig check reads limbs and pose.
        automatic_bone_orientation=True,
        # Keep `_end` leaf bones: the rig check and mapping decide about them, nothing is dropped unseen.
        ignore_leaf_bones=False,
        global_scale=1.0,  # on top of the file's own unit (cm for most tools), which becomes metres
    )
    return result


def _adopt_layers(source: bpy.types.LayerCollection, target: bpy.types.LayerCollection) -> None:
    """Copies what the file's view layer excluded or hid (Rigify's widgets, say) onto the current one."""
    for child in source.children:
        found: bpy.types.LayerCollection | None = target.children.get(child.name)  # None: not in the stubs
        if found is not None:
            found.exclude, found.hide_viewport = child.exclude, child.hide_viewport
            _adopt_layers(child, found)


def _append_blend(path: Path) -> set[str]:
    """Appends the file's first scene into a new collection named after the file, with the visibility it
    had there (a hidden metarig, excluded widget collections stay so); the file is only read."""
    libraries: Any = bpy.data.libraries
    with libraries.load(str(path), link=False) as (source, target):
        target.scenes = list(source.scenes[:1])
    if not target.scenes or target.scenes[0] is None:
        raise OSError(f"no scene in {path.name}")
    scene: bpy.types.Scene = target.scenes[0]
    try:
        collection = bpy.data.collections.new(path.stem)
        context.scene().collection.children.link(collection)
        for child in scene.collection.children:
            collection.children.link(child)
        for obj in scene.collection.objects:
            collection.objects.link(obj)
        layer = context.view_layer().layer_collection.children[collection.name]
        _adopt_layers(scene.view_layers[0].layer_collection, layer)
        for obj in scene.objects:
            obj.hide_set(obj.hide_get(view_layer=scene.view_layers[0]))
    finally:
        bpy.data.scenes.remove(scene)
    return {"FINISHED"}


_IMPORTERS: dict[ModelFormat, Callable[[Path], set[str]]] = {
    "vrm": _import_vrm,
    "glb": _import_gltf,
    "gltf": _import_gltf,
    "fbx": _import_fbx,
    "blend": _append_blend,
}


def _one_line(exc: BaseException) -> str:
    """Blender's operator errors carry whole tracebacks: the line that says what went wrong."""
    lines = [line.strip() for line in str(exc).strip().splitlines() if line.strip()]
    causes = [line for line in lines if _PYTHON_ERROR.match(line)]
    if causes:
        return causes[-1]
    return lines[0].removeprefix("Error: ") if lines else type(exc).__name__


def _names_readable(objects: list[bpy.types.Object]) -> bool:
    """Whether every name the rig check and the export read is valid UTF-8: bpy raises UnicodeDecodeError on
    reading a corrupt file's name, which would surface as a traceback deep in the check."""
    try:
        for obj in objects:
            names = [obj.name, *(g.name for g in obj.vertex_groups), *(s.name for s in obj.material_slots)]
            if obj.data is not None:
                names.append(obj.data.name)
            if isinstance(obj.data, bpy.types.Armature):
                names += [b.name for b in obj.data.bones]
            if isinstance(obj.data, bpy.types.Mesh) and obj.data.shape_keys is not None:
                names += [k.name for k in obj.data.shape_keys.key_blocks]
    except UnicodeDecodeError:
        return False
    return True


def _driving_armature(objects: list[bpy.types.Object]) -> bpy.types.Object | None:
    """Of the imported armatures, the one that deforms or carries the most meshes (a metarig drives none)."""
    found = [o for o in objects if o.type == "ARMATURE"]
    if not found:
        return None
    return max(found, key=lambda a: (len(rig_reader.avatar_meshes(a)), len(a.data.bones), -found.index(a)))  # type: ignore[union-attr]


def _undo_import(objects: set[bpy.types.Object], collections: set[bpy.types.Collection]) -> None:
    """Removes what an import added (objects and collections not in these sets of what was there)."""
    for obj in [o for o in bpy.data.objects if o not in objects]:
        bpy.data.objects.remove(obj, do_unlink=True)
    for collection in [c for c in bpy.data.collections if c not in collections]:
        bpy.data.collections.remove(collection)


def _all_ids() -> set[Any]:
    """Every datablock in bpy.data: objects, meshes, images, texts, libraries, …"""
    data: Any = bpy.data
    return {block for p in data.bl_rna.properties if p.type == "COLLECTION" for block in getattr(data, p.identifier)}


def _resolved(filepath: str, library: Any) -> Path:
    return Path(bpy.path.abspath(filepath, library=library)).resolve()


def _python_drivers(block: Any) -> list[Any]:
    """The drivers of a datablock (and of its embedded node tree) that would run Python: scripted ones
    beyond Blender's simple expressions, which Blender evaluates without Python."""
    found = []
    for owner in (block, getattr(block, "node_tree", None)):
        animation = getattr(owner, "animation_data", None)
        if animation is not None:
            found += [(animation, d) for d in animation.drivers
                      if d.driver.type == "SCRIPTED" and not d.driver.is_simple_expression]  # fmt: skip
    return found


def _alive(block: Any) -> bool:
    """False for a datablock removed meanwhile (with its library, say)."""
    try:
        return bool(block.name)
    except ReferenceError:
        return False


def _remove_unsafe(added: set[Any], folder: Path) -> list[str]:
    """Takes out of what an import added what could read outside the model's folder or run Python later:
    linked libraries (re-read whenever the file opens), images on files outside the folder, registered
    text blocks, Python drivers. Returns a line for each."""
    removed: list[str] = []
    for library in [i for i in added if isinstance(i, bpy.types.Library)]:
        if library.users_id:  # else only the record of the file appended from, with nothing linked
            removed.append(f"library {library.name!r} ({library.filepath}): linked data is re-read from it")
        bpy.data.libraries.remove(library)
    for image in [i for i in added if isinstance(i, bpy.types.Image) and _alive(i)]:
        file = _resolved(image.filepath, image.library) if image.packed_file is None and image.filepath else None
        if file is not None and not file.is_relative_to(folder.resolve()):
            removed.append(f"image {image.name!r} ({file}): outside the model's folder")
            bpy.data.images.remove(image)
    for text in [i for i in added if isinstance(i, bpy.types.Text) and _alive(i)]:
        if text.use_module:
            removed.append(f"text {text.name!r}: registered to run as Python when the file opens")
            bpy.data.texts.remove(text)
    for block in [i for i in added if _alive(i)]:
        for animation, driver in _python_drivers(block):
            removed.append(f"driver {block.name}.{driver.data_path}: a Python expression")
            animation.drivers.remove(driver)
    return removed


@contextlib.contextmanager
def _importable(path: Path, fmt: ModelFormat, data: bytes) -> Iterator[Path]:
    """The file the importer reads: `path`, or for a meshopt-compressed .vrm/.glb (a web preset's export;
    Blender's glTF importer does not read EXT_meshopt_compression) a decoded copy in a temporary folder."""
    if fmt not in ("vrm", "glb") or not webpack.is_compressed(data):
        yield path
        return
    try:
        plain = webpack.decoded(data)
    except webpack.MeshoptMissingError as exc:
        raise ImportFailedError(f"{path.name}: compressed with EXT_meshopt_compression, and {exc}") from None
    except (ValueError, KeyError, IndexError, TypeError) as exc:
        raise ImportFailedError(f"{path.name}: its compressed geometry does not decode ({_one_line(exc)})") from None
    with tempfile.TemporaryDirectory(prefix="avatar-forge-decoded-") as folder:
        copy = Path(folder) / path.name
        copy.write_bytes(plain)
        yield copy


def _read(path: Path, fmt: ModelFormat) -> bytes:
    """The bytes the content checks and the meta need: the whole file for glTF and VRM, the head of the
    others (an FBX's header with its document info)."""
    try:
        with path.open("rb") as file:
            if fmt in ("vrm", "glb", "gltf"):
                return file.read()
            return file.read(fbx_header.HEADER_BYTES if fmt == "fbx" else _HEAD_BYTES)
    except OSError as exc:
        raise ImportFailedError(f"cannot read {path}: {exc.strerror}") from None


def _probe(path: Path) -> None:
    """Reads a .blend in a separate Blender first (`forge.py import-probe`). Blender reads a .blend's structs
    as they are, and a corrupt one (a mesh whose vertex count is larger than its arrays) crashes the process
    that appends it: that must not be the Blender holding someone's unsaved work."""
    from ..process import children

    command = [*children.forge_command(factory_startup=True), "import-probe", str(path)]
    finished = children.run(command, timeout=PROBE_TIMEOUT)
    if finished.timed_out:
        raise ImportFailedError(
            f"{path.name}: a separate Blender took over {PROBE_TIMEOUT:g} s to read it; not imported"
        )
    if finished.code < 0:
        raise ImportFailedError(f"{path.name}: a separate Blender reading it {children.describe(finished.code)}; "
                                "not imported (the file is corrupt)")  # fmt: skip
    if finished.code != 0:
        said = [
            line.removeprefix("forge: error: ")
            for line in finished.stderr.splitlines()
            if line.startswith("forge: error: ")
        ]
        unsaid = f"{path.name}: a separate Blender could not read it ({children.describe(finished.code)})"
        raise ImportFailedError(said[-1] if said else unsaid)


def import_avatar(
    path: Path, *, probe: bool = False, bare_ok: bool = False, bind_pose: bool = False, verbose: bool = False
) -> ImportResult:
    """Imports the model at `path` into the current scene; raises ValueError for a path that is not a model
    file, ImportFailedError (one line, the scene unchanged) for one that cannot be imported or has no
    armature (unless `bare_ok`: meshes for the auto-rig), vrm_addon.VrmAddonMissingError for a .vrm without
    the VRM Add-on. `probe`: a .blend is first read in a separate Blender (for a session someone works in;
    convert runs in a process of its own). `bind_pose` (convert): the take an FBX or glTF importer had the
    armature play is taken off, the avatar stands in its bind pose. The importers' own output (an INFO line
    per glTF node, the FBX version) is held back unless `verbose`: only its warnings and errors reach stderr,
    once each."""
    path = path.expanduser().absolute()
    fmt = model_files.model_format(path)
    if not path.is_file():
        raise ImportFailedError(f"{path}: no such file")
    data = _read(path, fmt)
    problem = model_files.content_problem(fmt, data) or model_refs.import_problem(path, fmt, data)
    if problem is not None:
        raise ImportFailedError(f"{path.name}: {problem}")
    if probe and fmt == "blend":
        _probe(path)
    if context.view_layer().objects.active is not None and bpy.context.mode != "OBJECT":
        bpy.ops.object.mode_set(mode="OBJECT")  # importers run in object mode only
    before, collections, ids = set(bpy.data.objects), set(bpy.data.collections), _all_ids()
    with console.quiet(verbose), _scripts_never_run(), _importable(path, fmt, data) as readable:
        try:
            finished = "FINISHED" in _IMPORTERS[fmt](readable)
        except (RuntimeError, OSError) as exc:
            _undo_import(before, collections)
            raise ImportFailedError(f"{path.name}: the {fmt} importer failed: {_one_line(exc)}") from None
        removed = _remove_unsafe(_all_ids() - ids, path.parent)
    imported = sorted((o for o in bpy.data.objects if o not in before), key=lambda o: o.name)
    if not finished:
        _undo_import(before, collections)
        raise ImportFailedError(f"{path.name}: the {fmt} importer cancelled (Blender's log says why)")
    if not _names_readable(imported):
        _undo_import(before, collections)
        raise ImportFailedError(f"{path.name}: a name in it is not valid UTF-8 text: a corrupt file")
    armature = _driving_armature(imported)
    if armature is None and not (bare_ok and any(o.type == "MESH" for o in imported)):
        kinds = sorted({o.type.lower() for o in imported}) or ["nothing"]
        _undo_import(before, collections)
        hint = " (bare meshes: --rig auto rigs them)" if "mesh" in kinds else ""
        raise ImportFailedError(f"{path.name}: no armature in it ({', '.join(kinds)}): not a rigged avatar{hint}")
    name = armature.name if armature is not None else None
    unplayed = action_rebase.stop_playing(armature) if bind_pose and armature is not None and fmt in _ANIMATED else []
    if fmt in ("vrm", "glb", "gltf"):
        bone_children.place(imported, file_bone_children.carried_children(model_files.json_document(fmt, data)))
    if fmt in ("fbx", "blend"):
        meta: dict[str, Any] = _source_meta(path, fmt, data)
        if armature is not None:  # the export's meta fills its empty name and authors from it
            armature[vrm_meta.SOURCE_META] = meta
    else:
        meta = model_files.vrm_meta(fmt, data)
    return ImportResult(path, fmt, name, [o.name for o in imported], meta, removed, unplayed)


def _source_meta(path: Path, fmt: ModelFormat, data: bytes) -> dict[str, str]:
    """What a file without VRM meta says of itself: an FBX header's document title and author where set;
    the title is otherwise the file's name (a .blend holds no author, and scene and armature names are
    mostly a tool's defaults: "Scene", "Armature"). Nothing else is invented."""
    said = fbx_header.document_meta(data) if fmt == "fbx" else {}
    return {"title": path.stem, **said}
