"""The VRM Add-on's exporters called below its operator, for the add-on version we pin.

`export_scene.vrm` validates the scene again (with a heavy migration that maps VRM 0.x bones nobody asked
for) before it exports: about 3 s on a 200k-vertex avatar, and our rig check has just done that work. It
also cannot pass `export_morph_normal` to Blender's glTF exporter. So, when the add-on is the version this
code was written against, the export calls its `Vrm1Exporter` (or `Vrm0Exporter`) directly, after the
light migration the add-on runs on every file load (a no-op on a current file), and gives the glTF
exporter the morph normals setting; the 0.x writer's per-vertex mesh pass is replaced by the same
computation in numpy (vrm0_mesh_writer). With any other add-on version `internals()` is None and the caller
uses the operator: slower, never wrong. tests/test_vrm_export.py fails loudly when the pinned add-on's internals move.
"""

from __future__ import annotations

import contextlib
import dataclasses
import importlib
import inspect
import itertools
import sys
from collections.abc import Iterator, Sequence
from types import ModuleType
from typing import Any

import bpy
import mathutils

from ..core.rig.model import MeshInfo
from . import console, modifiers, posed_ground, vrm0_mesh_writer, vrm_addon

PINNED_VERSION = (4, 10, 2)
# The glTF exporter arguments the pinned add-on passes for Blender 4.2+ (ExportSceneGltfArguments' fields).
GLTF_ARGUMENTS = frozenset(
    {"filepath", "check_existing", "export_format", "export_extras", "export_def_bones", "export_current_frame",
     "use_selection", "use_active_scene", "export_animations", "export_armature_object_remove",
     "export_rest_position_armature", "export_all_influences", "export_vertex_color", "export_lights",
     "export_try_sparse_sk", "export_apply"}
)  # fmt: skip
# Vrm1Exporter's staticmethod deciding the glTF exporter's export_armature_object_remove (per vertex, in Python).
_REMOVAL = "gltf_export_armature_object_remove"


@dataclasses.dataclass
class _Preferences:
    """The add-on's ExportPreferencesProtocol, filled from a preset (the operator's own properties)."""

    export_invisibles: bool
    export_only_selections: bool
    export_all_influences: bool
    enable_advanced_preferences: bool = True
    export_lights: bool = False
    export_gltf_animations: bool = False
    export_try_sparse_sk: bool = False  # the sparse rewrite is ours: its indices are never UNSIGNED_BYTE


@dataclasses.dataclass(frozen=True)
class Internals:
    """The pinned add-on's modules this export reaches into."""

    export_scene: ModuleType
    migration: ModuleType
    workspace: ModuleType
    gltf_support: ModuleType


def internals() -> Internals | None:
    """The pinned add-on's modules, or None when the enabled add-on is another version or lacks one."""
    package = vrm_addon.ensure_enabled()
    try:
        version = importlib.import_module(f"{package}.common.version").get_addon_version()
        if tuple(version) != PINNED_VERSION:
            return None
        found = Internals(
            export_scene=importlib.import_module(f"{package}.exporter.export_scene"),
            migration=importlib.import_module(f"{package}.editor.migration"),
            workspace=importlib.import_module(f"{package}.common.workspace"),
            gltf_support=importlib.import_module(f"{package}.external.io_scene_gltf2_support"),
        )
    except (ImportError, AttributeError):
        return None
    fields = {f.name for f in dataclasses.fields(found.gltf_support.ExportSceneGltfArguments)}
    needed = ("Vrm1Exporter", "Vrm0Exporter", "_collect_export_objects")
    if fields != GLTF_ARGUMENTS or not all(hasattr(found.export_scene, name) for name in needed):
        return None
    if not hasattr(found.gltf_support, "_invoke_export_scene_gltf"):
        return None
    writers = (found.export_scene.Vrm1Exporter, found.export_scene.Vrm0Exporter)
    posable = all(hasattr(sys.modules[w.__module__], "setup_humanoid_t_pose") for w in writers)
    decides_removal = isinstance(inspect.getattr_static(writers[0], _REMOVAL, None), staticmethod)
    vrm0 = sys.modules[writers[1].__module__]
    writes_meshes = callable(getattr(writers[1], "write_mesh_node", None)) and all(
        hasattr(vrm0, name) for name in vrm0_mesh_writer.NEEDED
    )
    return found if posable and decides_removal and writes_meshes else None


@contextlib.contextmanager
def _patched(owner: ModuleType | type, name: str, replacement: Any) -> Iterator[None]:
    """`owner.name` is `replacement` for the duration (the pinned add-on's own functions, wrapped)."""
    original = inspect.getattr_static(owner, name)  # a class's staticmethod as such, to put it back so
    setattr(owner, name, replacement)
    try:
        yield
    finally:
        setattr(owner, name, original)


def _gltf_with(options: dict[str, Any]) -> Any:
    """The add-on's call of Blender's glTF exporter, with `options` added to its arguments."""
    gltf: Any = bpy.ops.export_scene.gltf

    def invoke(arguments: Any) -> set[str]:
        with console.gltf_log_alone():
            result: set[str] = gltf(**dataclasses.asdict(arguments), **options)
        return result

    return invoke


def _posing_on_the_ground(original: Any, meshes: list[bpy.types.Object]) -> Any:
    """The add-on's T-pose setup with the meshes' armature modifiers off while it poses the rig, and the
    posed avatar kept on the ground (posed_ground: straightened legs would sink bent-kneed feet).

    It turns the bones one at a time and updates the view layer after each: about 30 updates, each
    deforming every mesh (0.4 s on a 200k-vertex avatar) for a pose that only needs the bones. The
    modifiers are back on before the pose is used, and their display setting is the artist's again.
    """

    @contextlib.contextmanager
    def setup(context: bpy.types.Context, armature: bpy.types.Object) -> Iterator[None]:
        deforming = [m for o in meshes for m in o.modifiers if m.type == "ARMATURE"]
        with contextlib.ExitStack() as posed:
            with modifiers.switched_off(deforming):
                posed.enter_context(original(context, armature))
                _legs_apart_as_modelled(sys.modules[original.__module__], context, armature)
                rest_bottom = posed_ground.rest_lowest_point(armature, meshes)  # skins off: their rest shape
            posed.enter_context(posed_ground.kept_on_ground(armature, meshes, rest_bottom))
            yield

    return setup


# Each leg's bones, hip to foot, in VRM 1.0 names.
_LEGS = (("leftUpperLeg", "leftLowerLeg", "leftFoot"), ("rightUpperLeg", "rightLowerLeg", "rightFoot"))


def _legs_apart_as_modelled(t_pose: ModuleType, context: bpy.types.Context, armature: bpy.types.Object) -> None:
    """The add-on's automatic T-pose points each leg bone straight down. VRM's T-pose asks for the model's
    relaxed, neutral stance, straight seen from the side and symmetric, arms out (VRMC_vrm-1.0 tpose.md,
    1.1): legs the artist modelled apart stay apart (Godette's VRM 0.x file keeps its knees 0.14 m from the
    mid-line; straightened, the test pose bent her legs from another rest: `bench_autorig --oracle` 0.78% ->
    0.57%). Each leg bone the add-on straightened turns back to its rest's angle seen from the front, still
    straight from the side (a bent-kneed game rig's knees stay straightened)."""
    align = getattr(t_pose, "_set_bone_direction_to_align_child_bone", None)
    extension: Any = armature.data.vrm_addon_extension  # type: ignore[union-attr]
    vrm0 = bool(extension.is_vrm0())
    humanoid_data = extension.vrm0.humanoid if vrm0 else extension.vrm1.humanoid
    if align is None or humanoid_data.pose != humanoid_data.POSE_AUTO_POSE.identifier:
        return
    mapping = vrm_addon.humanoid_mapping_vrm0(armature) if vrm0 else vrm_addon.humanoid_mapping(armature)
    pose_bones: Any = armature.pose.bones  # type: ignore[union-attr]
    world = armature.matrix_world
    for leg in _LEGS:
        names = [mapping.get(b, "") for b in leg]
        if not all(name in pose_bones for name in names):
            continue
        bones = [pose_bones[name] for name in names]
        for bone, child in itertools.pairwise(bones):
            rest = world @ child.bone.head_local - world @ bone.bone.head_local
            front = mathutils.Vector((rest.x, 0.0, rest.z))
            if rest.z < 0.0 and front.length_squared > 0.0:  # a leg bone pointing down in its rest
                align(context, armature, front.normalized(), bone, child)


def _armature_removal_from(checked: dict[str, MeshInfo], original: Any) -> Any:
    """The add-on's `gltf_export_armature_object_remove`, answered from the rig check's weights.

    It decides whether Blender's glTF exporter may drop the armature's node: not when a vertex under an
    armature modifier has no weight on a deform bone. The add-on asks each vertex in Python (about 1 s on a
    200k-vertex avatar); the rig check has just read every weight. `checked` holds the meshes whose weights
    the add-on's preparation leaves as they were (no modifier but this armature's); the copies it exports
    carry their names. Other meshes, and its Blender-version checks, are still the add-on's to answer.
    """

    def decide(context: bpy.types.Context, mesh_object_names: list[str]) -> bool:
        objects = bpy.data.objects  # what the add-on reads through context.blend_data
        known = {n: checked[n] for n in mesh_object_names if _same_mesh(objects.get(n), checked.get(n))}
        rest = [n for n in mesh_object_names if n not in known]
        return bool(original(context, rest)) and all(_deform_weighted(objects[n], m) for n, m in known.items())

    return staticmethod(decide)


def _same_mesh(obj: bpy.types.Object | None, checked: MeshInfo | None) -> bool:
    if obj is None or checked is None or not isinstance(obj.data, bpy.types.Mesh):
        return False
    return (
        len(obj.data.vertices) == len(checked.positions) and [g.name for g in obj.vertex_groups] == checked.group_names
    )


def _deform_weighted(obj: bpy.types.Object, checked: MeshInfo) -> bool:
    """The add-on's rule for one mesh: under each shown armature modifier, every vertex has a positive weight
    on one of that armature's deform bones."""
    for modifier in obj.modifiers:
        rig = modifier.object if isinstance(modifier, bpy.types.ArmatureModifier) else None
        if rig is None or not modifier.show_viewport or not isinstance(rig.data, bpy.types.Armature):
            continue
        if not checked.every_vertex_weighted_to({b.name for b in rig.data.bones if b.use_deform}):
            return False
    return True


def _unchanged(
    objects: list[bpy.types.Object], armature: bpy.types.Object, checked: Sequence[MeshInfo]
) -> dict[str, MeshInfo]:
    """The checked meshes the add-on exports with their weights as read: it applies any other modifier."""
    only_this_rig = {
        o.name for o in objects
        if all(isinstance(m, bpy.types.ArmatureModifier) and m.object == armature for m in o.modifiers)
    }  # fmt: skip
    return {m.name: m for m in checked if m.name in only_this_rig}


def export(
    found: Internals,
    armature: bpy.types.Object,
    spec_version: str,
    preferences: dict[str, bool],
    gltf_options: dict[str, Any],
    *,
    checked: Sequence[MeshInfo] = (),
) -> bytes | None:
    """The file's bytes from the add-on's VRM 1.0 or 0.x exporter (None when it cancels), without the
    operator's validation; `preferences` are the operator's export_* flags, `gltf_options` go to Blender's
    glTF exporter (VRM 1.0 only: the 0.x writer is the add-on's own); `checked`, the meshes as the rig check
    read them just before (their weights spare the add-on a pass over every vertex, and the 0.x mesh
    writer a second read of them)."""
    context = bpy.context
    prefs = _Preferences(**preferences)
    armatures, objects = found.export_scene._collect_export_objects(context, armature.name, prefs)
    if armatures != [armature]:
        return None
    vrm1 = found.export_scene.Vrm1Exporter
    writer_class = vrm1 if spec_version == "1.0" else found.export_scene.Vrm0Exporter
    writer = sys.modules[writer_class.__module__]
    meshes = [o for o in objects if o.type == "MESH"]
    unchanged = _unchanged(meshes, armature, checked)
    with found.workspace.save_workspace(context, armature):
        found.migration.migrate(context, armature.name, heavy_migration=False)
        vrm0 = found.export_scene.Vrm0Exporter
        as_read = {n: m for n, m in unchanged.items() if _same_mesh(bpy.data.objects.get(n), m)}
        meshes_written = vrm0_mesh_writer.replacement(sys.modules[vrm0.__module__], vrm0.write_mesh_node, as_read)
        with (
            _patched(found.gltf_support, "_invoke_export_scene_gltf", _gltf_with(gltf_options)),
            _patched(vrm0, "write_mesh_node", meshes_written),
            _patched(writer, "setup_humanoid_t_pose", _posing_on_the_ground(writer.setup_humanoid_t_pose, meshes)),
            _patched(vrm1, _REMOVAL, _armature_removal_from(unchanged, getattr(vrm1, _REMOVAL))),
        ):
            if spec_version == "1.0":
                exporter = found.export_scene.Vrm1Exporter(context, objects, armature, prefs)
            else:
                exporter = found.export_scene.Vrm0Exporter(context, objects, armature)
            data: bytes | None = exporter.export()
    return data
