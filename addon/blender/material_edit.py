"""Setting an object's material: Principled BSDF values, a base colour image, or the VRM Add-on's MToon
(the toon material three-vrm draws). The viewport colour follows the base colour, so a solid-shaded
viewport and a Workbench render show it too."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import bpy

from ..core.scene_edits import IMAGE_SUFFIXES
from ..core.wire.protocol import echo
from .scene_edit import undo_step
from .vrm_addon import is_enabled as vrm_addon_enabled

IMAGE_NODE = "Avatar Forge Base Color"
_TAKES_MATERIALS = {"MESH", "CURVE", "SURFACE", "META", "FONT", "CURVES", "POINTCLOUD", "VOLUME", "GPENCIL"}


def _rounded(values: Sequence[float]) -> list[float]:
    return [round(float(v), 4) for v in values]


def _load_image(value: str) -> bpy.types.Image:
    """The image at `value`: an absolute path to an existing image file Blender can decode."""
    path = Path(value)
    if not path.is_absolute() or path.suffix.lower() not in IMAGE_SUFFIXES:
        raise ValueError(f"'image' must be an absolute path to a {', '.join(IMAGE_SUFFIXES)} file; got {echo(value)}")
    if not path.is_file():
        raise ValueError(f"'image': no such file: {echo(value)}")
    image = bpy.data.images.load(str(path), check_existing=True)
    if image.size[0] == 0 or image.size[1] == 0:  # loading is lazy: size reads the pixels
        if image.users == 0:
            bpy.data.images.remove(image)
        raise ValueError(f"'image': Blender cannot read {echo(path.name)} as an image")
    return image


def _principled(material: bpy.types.Material) -> Any:
    if not material.use_nodes:
        material.use_nodes = True
    assert material.node_tree is not None
    for node in material.node_tree.nodes:
        if node.type == "BSDF_PRINCIPLED":
            return node
    raise ValueError(
        f"material {echo(material.name)} has no Principled BSDF node: only Principled and MToon materials are set here"
    )


def _image_node(material: bpy.types.Material, bsdf: Any, image: bpy.types.Image) -> None:
    tree = material.node_tree
    assert tree is not None
    node: Any = tree.nodes.get(IMAGE_NODE) or tree.nodes.new("ShaderNodeTexImage")
    node.name = node.label = IMAGE_NODE
    node.image = image
    node.location = (bsdf.location.x - 320, bsdf.location.y)
    tree.links.new(node.outputs["Color"], bsdf.inputs["Base Color"])
    tree.nodes.active = node  # Workbench's Texture colour shows the active image node


def _mtoon(material: bpy.types.Material) -> Any:
    return material.vrm_addon_extension.mtoon1  # type: ignore[attr-defined]


def _assign(obj: bpy.types.Object, material: bpy.types.Material) -> int:
    """The slot `material` is in on `obj`: where it already is, else the first (added if there is none)."""
    for index, slot in enumerate(obj.material_slots):
        if slot.material == material:
            return index
    data: Any = obj.data
    if not obj.material_slots:
        data.materials.append(material)
    else:
        obj.material_slots[0].material = material
    return 0


def set_material(obj: bpy.types.Object, name: str | None, values: dict[str, Any]) -> dict[str, Any]:
    """Sets the given values (schema `set_material`) on material `name` of `obj`; returns the material as
    Blender now has it."""
    if obj.type not in _TAKES_MATERIALS or obj.data is None:
        raise ValueError(f"{echo(obj.name)} ({obj.type}) has no materials: give them to a mesh, curve or text")
    existing = bpy.data.materials.get(name) if name is not None else next(
        (slot.material for slot in obj.material_slots if slot.material), None
    )  # fmt: skip
    wants_mtoon = values.get("mtoon")
    mtoon_after = wants_mtoon if wants_mtoon is not None else existing is not None and _is_mtoon(existing)
    if (wants_mtoon is not None or mtoon_after) and not vrm_addon_enabled():
        raise ValueError("MToon materials need the VRM Add-on for Blender, which is not enabled in this Blender")
    for key in ("shade_color", "rim_color", "outline_color"):
        if key in values and not mtoon_after:
            raise ValueError(f"'{key}' is an MToon colour: give mtoon: true (or use an MToon material)")
    for key in ("metallic", "roughness"):
        if key in values and mtoon_after:
            raise ValueError(f"'{key}' does not apply to an MToon material (a toon look has no PBR)")
    image = _load_image(values["image"]) if "image" in values else None  # every check before the first change

    material = existing or bpy.data.materials.new(name or obj.name)
    slot = _assign(obj, material)
    if wants_mtoon is not None:
        _mtoon(material).enabled = wants_mtoon
    if mtoon_after:
        _set_mtoon(material, values, image)
    else:
        _set_principled(material, values, image)
    undo_step(f"MCP material {material.name}")
    return {"object": obj.name, "slot": slot, **describe(material)}


def _set_principled(material: bpy.types.Material, values: dict[str, Any], image: bpy.types.Image | None) -> None:
    bsdf = _principled(material)
    if "base_color" in values:
        rgba = [*values["base_color"], 1.0][:4]
        bsdf.inputs["Base Color"].default_value = rgba
        bsdf.inputs["Alpha"].default_value = rgba[3]
        material.diffuse_color = rgba
    for key, socket in (
        ("metallic", "Metallic"),
        ("roughness", "Roughness"),
        ("emission_strength", "Emission Strength"),
    ):
        if key in values:
            bsdf.inputs[socket].default_value = values[key]
    if "metallic" in values:
        material.metallic = values["metallic"]
    if "roughness" in values:
        material.roughness = values["roughness"]
    if "emission_color" in values:
        bsdf.inputs["Emission Color"].default_value = [*values["emission_color"], 1.0]
    if image is not None:
        _image_node(material, bsdf, image)


def _set_mtoon(material: bpy.types.Material, values: dict[str, Any], image: bpy.types.Image | None) -> None:
    mtoon = _mtoon(material)
    shading = mtoon.extensions.vrmc_materials_mtoon
    if "base_color" in values:
        rgba = [*values["base_color"], 1.0][:4]
        mtoon.pbr_metallic_roughness.base_color_factor = rgba
        material.diffuse_color = rgba
    if "emission_color" in values:
        mtoon.emissive_factor = values["emission_color"]
    if "emission_strength" in values:
        mtoon.extensions.khr_materials_emissive_strength.emissive_strength = values["emission_strength"]
    for key, prop in (
        ("shade_color", "shade_color_factor"),
        ("rim_color", "parametric_rim_color_factor"),
        ("outline_color", "outline_color_factor"),
    ):
        if key in values:
            setattr(shading, prop, values[key])
    if image is not None:
        mtoon.pbr_metallic_roughness.base_color_texture.index.source = image


def _is_mtoon(material: bpy.types.Material) -> bool:
    return vrm_addon_enabled() and bool(_mtoon(material).enabled)


def describe(material: bpy.types.Material) -> dict[str, Any]:
    """What an assistant needs to know of a material, read back from Blender."""
    if _is_mtoon(material):
        mtoon = _mtoon(material)
        shading = mtoon.extensions.vrmc_materials_mtoon
        source = mtoon.pbr_metallic_roughness.base_color_texture.index.source
        return {
            "material": material.name,
            "mtoon": True,
            "base_color": _rounded(mtoon.pbr_metallic_roughness.base_color_factor),
            "shade_color": _rounded(shading.shade_color_factor),
            "rim_color": _rounded(shading.parametric_rim_color_factor),
            "outline_color": _rounded(shading.outline_color_factor),
            "emission_color": _rounded(mtoon.emissive_factor),
            "emission_strength": round(mtoon.extensions.khr_materials_emissive_strength.emissive_strength, 4),
            "image": source.name if source is not None else None,
        }
    bsdf = _principled(material)
    node: Any = material.node_tree.nodes.get(IMAGE_NODE) if material.node_tree else None
    return {
        "material": material.name,
        "mtoon": False,
        "base_color": _rounded(bsdf.inputs["Base Color"].default_value),
        "metallic": round(bsdf.inputs["Metallic"].default_value, 4),
        "roughness": round(bsdf.inputs["Roughness"].default_value, 4),
        "emission_color": _rounded(bsdf.inputs["Emission Color"].default_value[:3]),
        "emission_strength": round(bsdf.inputs["Emission Strength"].default_value, 4),
        "image": node.image.name if node is not None and node.image is not None else None,
    }
