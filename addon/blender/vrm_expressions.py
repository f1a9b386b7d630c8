"""The expressions a model has bound in the VRM Add-on's data, VRM 1.0 and 0.x, and carrying a VRM 0.x
model's blend shape groups over to VRM 1.0 expressions (through the add-on's own conversion), reporting the
material binds VRM 1.0 has no place for."""

from __future__ import annotations

from typing import Any

import bpy

from ..core.rig import humanoid
from ..core.rig.findings import Finding
from ..core.vrm import expressions

DROPPED_FINDING = "expression_binds_dropped"


def _extension(armature: bpy.types.Object) -> Any:
    return armature.data.vrm_addon_extension  # type: ignore[union-attr]


def vrm1_expressions(armature: bpy.types.Object) -> dict[str, Any]:
    """Every VRM 1.0 expression of the armature by its name: the presets, then the custom ones."""
    group = _extension(armature).vrm1.expressions
    found = {e: getattr(group.preset, humanoid.snake_case(e)) for e in expressions.PRESETS}
    found.update((custom.custom_name, custom) for custom in group.custom if custom.custom_name)
    return found


def _is_bound_vrm1(expression: Any) -> bool:
    return bool(
        len(expression.morph_target_binds) or len(expression.material_color_binds)
        or len(expression.texture_transform_binds)
    )  # fmt: skip


def _is_bound_vrm0(group: Any) -> bool:
    return bool(len(group.binds) or len(group.material_values))


def bound_vrm1(armature: bpy.types.Object) -> dict[str, list[str]]:
    """VRM 1.0 expression -> its shape keys, for every expression with a bind (a material-only one: [])."""
    return {
        name: [b.index for b in expression.morph_target_binds]
        for name, expression in vrm1_expressions(armature).items()
        if _is_bound_vrm1(expression)
    }


def bound_vrm0(armature: bpy.types.Object) -> dict[str, list[str]]:
    """The same for the VRM 0.x blend shape groups, named as consumers name them: a preset by its VRM 1.0
    name (joy -> happy), a custom group by its own name."""
    bound: dict[str, list[str]] = {}
    for group in _extension(armature).vrm0.blend_shape_master.blend_shape_groups:
        if group.name and _is_bound_vrm0(group):
            bound.setdefault(expressions.vrm1_preset_of(group.preset_name) or group.name, []).extend(
                b.index for b in group.binds
            )
    return bound


def carry_vrm0_to_vrm1(armature: bpy.types.Object) -> list[Finding]:
    """Binds every VRM 1.0 expression that has none yet to its VRM 0.x group's shape keys and materials (the
    VRM Add-on's "Assign VRM 0.0 Blend Shapes"; its importer does the same); returns a finding for each group
    whose material binds the VRM 1.0 expression lacks (VRM 1.0 binds colours and texture offsets only, so
    numbers such as `_Cutoff` are lost on the way)."""
    groups = [g for g in _extension(armature).vrm0.blend_shape_master.blend_shape_groups if g.name]
    if not any(_is_bound_vrm0(g) for g in groups):
        return []
    bpy.ops.vrm.assign_vrm1_expressions_from_vrm0(armature_object_name=armature.name)  # type: ignore[attr-defined]
    after = vrm1_expressions(armature)
    findings: list[Finding] = []
    for group in groups:
        name = expressions.vrm1_name_of_group(group.preset_name, group.name)
        values = [v for v in group.material_values if v.material is not None]
        expression = after.get(name)
        carried = len(expression.material_color_binds) + len(expression.texture_transform_binds) if expression else 0
        if carried < len(values):
            shown = ", ".join(f"{v.property_name} of '{v.material.name}'" for v in values)
            message = (
                f"VRM 1.0 cannot express {len(values) - carried} of the {len(values)} material binds of the "
                f"VRM 0.x expression '{group.name}' ({shown}): the exported '{name}' leaves them out"
            )
            findings.append(Finding(DROPPED_FINDING, "warning", message, False, (armature.name,)))
    return findings


def carry_vrm1_to_vrm0(armature: bpy.types.Object) -> list[Finding]:
    """Gives every VRM 1.0 expression with shape keys bound a VRM 0.x group, where none is bound yet: a
    preset's group (happy -> joy), a custom expression's by its name. Returns a finding for each expression
    whose material binds are left out (VRM 0.x names material properties per shader; not carried)."""
    groups = _extension(armature).vrm0.blend_shape_master.blend_shape_groups
    findings: list[Finding] = []
    for name, expression in vrm1_expressions(armature).items():
        preset = expressions.VRM0_PRESET.get(name, "unknown") if name in expressions.PRESETS else "unknown"
        group = next(
            (g for g in groups if g.preset_name == preset != "unknown" or g.name.casefold() == name.casefold()), None
        )
        if group is not None and _is_bound_vrm0(group):
            continue  # the artist's own VRM 0.x group wins
        materials = len(expression.material_color_binds) + len(expression.texture_transform_binds)
        if materials:
            message = (
                f"the {materials} material bind(s) of the VRM 1.0 expression '{name}' are not carried into "
                "VRM 0.x: the exported group leaves them out"
            )
            findings.append(Finding(DROPPED_FINDING, "warning", message, False, (armature.name,)))
        if not len(expression.morph_target_binds):
            continue
        if group is None:
            group = groups.add()
            group.name, group.preset_name = name, preset
        for source in expression.morph_target_binds:
            bind = group.binds.add()
            bind.mesh.mesh_object_name = source.node.mesh_object_name
            bind.index, bind.weight = source.index, source.weight
    return findings


def assign_vrm1(armature: bpy.types.Object, mesh_name: str, shape_keys: list[str]) -> None:
    """Binds the mesh's shape keys by name to the VRM 1.0 preset expressions not bound by hand."""
    by_name = vrm1_expressions(armature)
    by_hand = [e for e in bound_vrm1(armature) if e in expressions.PRESETS]
    found = expressions.map_shape_keys(shape_keys, keep=by_hand)
    for expression, keys in found.items():
        for key in keys:
            bind = by_name[expression].morph_target_binds.add()
            bind.node.mesh_object_name = mesh_name
            bind.index = key
            bind.weight = 1.0


def assign_vrm0(armature: bpy.types.Object, mesh_name: str, shape_keys: list[str]) -> None:
    """Binds the mesh's shape keys by name to the VRM 0.x blend shape groups not bound by hand (a group made
    for an expression VRM 0.x has no preset for keeps the VRM 1.0 name)."""
    groups = _extension(armature).vrm0.blend_shape_master.blend_shape_groups

    def preset_of(expression: str) -> str:
        return expressions.VRM0_PRESET.get(expression, "unknown")

    by_expression: dict[str, Any] = {}
    for group in groups:
        for expression in expressions.PRESETS:
            if (group.preset_name == preset_of(expression) != "unknown") or group.name.casefold() == expression:
                by_expression.setdefault(expression, group)
    by_hand = [e for e, group in by_expression.items() if len(group.binds) or len(group.material_values)]
    found = expressions.map_shape_keys(shape_keys, keep=by_hand)
    for expression, keys in found.items():
        group = by_expression.get(expression)
        if group is None:
            group = by_expression[expression] = groups.add()
            group.name = expression  # custom groups (surprised) keep the VRM 1.0 name consumers ask for
            group.preset_name = preset_of(expression)
        for key in keys:
            bind = group.binds.add()
            bind.mesh.mesh_object_name = mesh_name
            bind.index = key
            bind.weight = 1.0
