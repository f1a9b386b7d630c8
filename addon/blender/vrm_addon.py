"""Finding, enabling and talking to the VRM Add-on for Blender (legacy `io_scene_vrm` or an extension)."""

from __future__ import annotations

import importlib
import types
import uuid
from typing import Any

import bpy

from ..core.errors import InputError
from ..core.rig import humanoid
from . import context

# fake-bpy-module types addon_utils' functions as returning None.
addon_utils: Any = importlib.import_module("addon_utils")

INSTALL_HINT = (
    "the VRM Add-on for Blender is not installed: in Blender open Edit > Preferences > Get Extensions and "
    "install 'VRM format', or run `pip install bpy-vrm-format` beside the bpy module"
)


class VrmAddonMissingError(InputError, RuntimeError):
    """The VRM Add-on is neither enabled nor installable from what this Blender has."""


def _is_vrm_module(name: str) -> bool:
    return name == "io_scene_vrm" or (name.startswith("bl_ext.") and name.endswith(".vrm"))


def is_enabled() -> bool:
    return hasattr(bpy.types.Armature, "vrm_addon_extension")


def ensure_enabled() -> str:
    """Enables the VRM Add-on when it is installed and returns its module name; raises VrmAddonMissingError."""
    for name in context.preferences().addons.keys():  # noqa: SIM118 (keys are the module names)
        if _is_vrm_module(name) and is_enabled():
            return name
    candidates = [m.__name__ for m in addon_utils.modules() if _is_vrm_module(m.__name__)]
    candidates.append("io_scene_vrm")  # the PyPI package lives in site-packages, outside the add-on paths
    for name in map(str, candidates):
        try:
            module = addon_utils.enable(name, default_set=True, handle_error=lambda _exc: None)
        except ImportError:
            module = None
        if module is not None and is_enabled():
            return name
    raise VrmAddonMissingError(INSTALL_HINT)


def _uuids_given(bones: Any) -> bool:
    """Gives each bone without one (or with another bone's) a new UUID, as the add-on's bone name setter does
    before anything else; False, touching nothing, when the add-on keeps no UUID on bones."""
    extensions: list[Any] = [getattr(bone, "vrm_addon_extension", None) for bone in bones]
    if not all(hasattr(extension, "uuid") for extension in extensions):
        return False
    seen: set[str] = set()
    for extension in extensions:
        if not extension.uuid or extension.uuid in seen:
            extension.uuid = uuid.uuid4().hex
        seen.add(extension.uuid)
    return True


def _candidates_recomputed(armature: bpy.types.Object, every: list[Any], update: str) -> bool:
    """The add-on's candidate list of every humanoid bone (what its bone menus offer, and what its validation
    and exporter check each bone against) recomputed from the stored mapping, in a few passes of its own
    `update` over the humanoid; False, touching nothing, when this add-on keeps them otherwise.

    Its setter computes them too, but from an empty cache (a freshly imported rig) each bone's first lookup
    starts a whole pass again, recursively: one pass per bone, quadratic (10 s on a 132-bone rig). Every bone
    gets an empty list first, so that each pass is one pass; passes run until the lists stop changing (a
    bone's candidates depend on its ancestors' and on which bones are in error: three passes on the corpus
    avatars, the last changing nothing)."""
    owner = type(every[0])
    cache = getattr(owner, "pointer_to_bone_name_candidates", None)
    updater = getattr(owner, update, None)
    if not isinstance(cache, dict) or not callable(updater):
        return False
    for node in every:
        cache[node.as_pointer()] = set()
    held: list[frozenset[str]] = []
    for _ in every:  # a bound: each pass settles at least the next bone down the hierarchy
        updater(armature.data)
        now = [frozenset(cache.get(node.as_pointer(), ())) for node in every]
        if now == held:
            break
        held = now
    return True


def _write_bone_names(
    armature: bpy.types.Object, assignments: list[tuple[Any, str]], every: list[Any], update: str
) -> None:
    """Sets `node.bone_name = name` for each (add-on bone node, Blender bone name); `every` is every node of
    that humanoid and `update` the add-on's recomputation of their candidates.

    The add-on's setter gives bones their UUIDs, stores the bone's UUID on the node and recomputes every
    humanoid bone's candidates, per call (about 50 ms a bone; quadratic from an empty cache, see
    _candidates_recomputed). So every bone is given its UUID as the setter first does (only when the add-on
    keeps one on each bone; else the first bone goes through the setter for that), every node stores the
    UUID the setter would store, and the candidates are recomputed once. An add-on that keeps them otherwise
    has the last bone go through the setter, from cleared, to validate once. Every name is read back through
    the add-on's getter and any that did not take is set the slow way, so an add-on version that stores
    mappings differently stays correct, only slower. A bone already holding its name is left alone.
    """
    bones = armature.data.bones  # type: ignore[union-attr]
    # Only what changes: an export maps a rig the add-on mostly holds already.
    assignments = [(node, name) for node, name in assignments if node.bone_name != name]
    valid = [(node, name) for node, name in assignments if name in bones]
    for node, name in assignments:
        if name not in bones:
            node.bone_name = name  # the add-on clears it
    if not valid:
        return
    if not _uuids_given(bones):
        valid[0][0].bone_name = valid[0][1]  # the setter gives them
    for node, name in valid:
        bone_uuid = getattr(getattr(bones[name], "vrm_addon_extension", None), "uuid", None)
        if bone_uuid is None or not hasattr(node, "bone_uuid"):
            break
        node.bone_uuid = bone_uuid
    if not _candidates_recomputed(armature, every, update):
        last, last_name = valid[-1]
        if hasattr(last, "bone_uuid"):
            last.bone_uuid = ""  # an unchanged value would skip the validation this call is for
        last.bone_name = last_name
    for node, name in valid:
        if node.bone_name != name:
            node.bone_name = name


def map_humanoid(armature: bpy.types.Object, mapping: dict[str, str]) -> None:
    """Writes VRM bone -> Blender bone into the add-on's VRM 1.0 humanoid data, which its exporter reads."""
    data = armature.data
    human_bones = data.vrm_addon_extension.vrm1.humanoid.human_bones  # type: ignore[union-attr]
    every = {v: getattr(human_bones, humanoid.snake_case(v)).node for v in humanoid.HUMAN_BONES}
    assignments = [(every[v], name) for v, name in mapping.items()]
    _write_bone_names(armature, assignments, list(every.values()), "update_all_vrm1_bone_name_candidates")


def humanoid_mapping(armature: bpy.types.Object) -> dict[str, str]:
    """The VRM 1.0 humanoid mapping the add-on holds for this armature (unmapped bones left out)."""
    data = armature.data
    human_bones = data.vrm_addon_extension.vrm1.humanoid.human_bones  # type: ignore[union-attr]
    mapping: dict[str, str] = {}
    for vrm_bone in humanoid.HUMAN_BONES:
        name = getattr(human_bones, humanoid.snake_case(vrm_bone)).node.bone_name
        if name:
            mapping[vrm_bone] = name
    return mapping


def version() -> str | None:
    """The installed VRM Add-on's version, or None when it cannot be found."""
    for module in addon_utils.modules():
        if _is_vrm_module(module.__name__):
            return ".".join(str(v) for v in addon_utils.module_bl_info(module).get("version", ()))
    try:
        import io_scene_vrm
    except ImportError:
        return None
    return ".".join(str(v) for v in io_scene_vrm.bl_info.get("version", ()))


def map_humanoid_vrm0(armature: bpy.types.Object, mapping: dict[str, str]) -> None:
    """Writes a VRM 1.0-named mapping into the add-on's VRM 0.x humanoid, which its 0.x writer reads."""
    human_bones = armature.data.vrm_addon_extension.vrm0.humanoid.human_bones  # type: ignore[union-attr]
    by_name = {entry.bone: entry for entry in human_bones}
    nodes: list[tuple[Any, str]] = []
    for vrm_bone, bone_name in mapping.items():
        vrm0_bone = humanoid.VRM0_NAME.get(vrm_bone, vrm_bone)
        entry = by_name.get(vrm0_bone)
        if entry is None:
            entry = by_name[vrm0_bone] = human_bones.add()
            entry.bone = vrm0_bone
        nodes.append((entry.node, bone_name))
    _write_bone_names(armature, nodes, [entry.node for entry in human_bones], "update_all_vrm0_bone_name_candidates")


def humanoid_mapping_vrm0(armature: bpy.types.Object) -> dict[str, str]:
    """The add-on's VRM 0.x humanoid mapping, in VRM 1.0 bone names (unmapped bones left out)."""
    vrm1_name = {v0: v1 for v1, v0 in humanoid.VRM0_NAME.items()}
    human_bones = armature.data.vrm_addon_extension.vrm0.humanoid.human_bones  # type: ignore[union-attr]
    return {vrm1_name.get(e.bone, e.bone): e.node.bone_name for e in human_bones if e.bone and e.node.bone_name}


class _Messages(list[Any]):
    """Stands in for the add-on's error collection (a Blender CollectionProperty): add() gives an item."""

    def add(self) -> Any:
        item = types.SimpleNamespace(name="", severity=0, message="")
        self.append(item)
        return item


def validation_errors(armature_name: str) -> list[str]:
    """The VRM Add-on's own validation errors for exporting `armature_name`: what makes it cancel an
    export, which its operator only writes to a log. [] when this add-on version has no such validator."""
    for name in context.preferences().addons.keys():  # noqa: SIM118 (keys are the module names)
        if not _is_vrm_module(name):
            continue
        try:
            validator = importlib.import_module(f"{name}.editor.validation").WM_OT_vrm_validator
        except (ImportError, AttributeError):
            return []
        messages = _Messages()
        validator.detect_errors(bpy.context, messages, armature_name)
        return [str(m.message) for m in messages if m.severity == 0]
    return []
