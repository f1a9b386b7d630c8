"""The main thread's whole part in an asset download: linking finished files into the scene (an HDRI as the
world, a texture set as a material, a glTF model as objects). Every image is packed into the .blend, so the
file keeps working after the session's asset folder is gone. Each link is one undo step."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import bpy
from mathutils import Vector

from ..core.wire.protocol import echo
from . import context
from .scene_edit import undo_step

# Poly Haven's map names (any case) -> the Principled input they drive; colour maps stay sRGB.
_COLOR_MAPS = {"diffuse", "color", "albedo", "base_color", "basecolor"}
_INPUTS = {"rough": "Roughness", "roughness": "Roughness", "metal": "Metallic", "metallic": "Metallic"}
_NORMAL_MAPS = {"nor_gl", "normal", "nor"}


def _image(path: Path, color: bool) -> bpy.types.Image:
    image = bpy.data.images.load(str(path))
    if image.size[0] == 0:
        bpy.data.images.remove(image)
        raise ValueError(f"Blender cannot read the downloaded {echo(path.name)}")
    settings: Any = image.colorspace_settings
    settings.name = "sRGB" if color else "Non-Color"
    image.pack()
    return image


def world_hdri(path: Path, name: str) -> dict[str, Any]:
    """Makes the HDRI the scene's world lighting (a world of its own; the previous one is kept)."""
    image = _image(path, color=True)
    world = bpy.data.worlds.new(name)
    world.use_nodes = True
    tree = world.node_tree
    assert tree is not None
    background = next(node for node in tree.nodes if node.type == "BACKGROUND")
    environment: Any = tree.nodes.new("ShaderNodeTexEnvironment")
    environment.image = image
    environment.location = (background.location.x - 300, background.location.y)
    tree.links.new(environment.outputs["Color"], background.inputs["Color"])
    context.scene().world = world
    undo_step(f"MCP world {name}")
    return {"world": world.name, "image_name": image.name}


def texture_material(maps: dict[str, Path], name: str) -> dict[str, Any]:
    """A Principled material from a texture set (colour, roughness, metallic, normal maps)."""
    material = bpy.data.materials.new(name)
    material.use_nodes = True
    tree = material.node_tree
    assert tree is not None
    bsdf: Any = next(node for node in tree.nodes if node.type == "BSDF_PRINCIPLED")
    used = []
    for index, (map_name, path) in enumerate(sorted(maps.items())):
        key = map_name.lower()
        target = "Base Color" if key in _COLOR_MAPS else _INPUTS.get(key)
        if target is None and key not in _NORMAL_MAPS:
            continue  # displacement, AO, arm packs...: downloaded, not wired
        node: Any = tree.nodes.new("ShaderNodeTexImage")
        node.image = _image(path, color=key in _COLOR_MAPS)
        node.location = (bsdf.location.x - 600, bsdf.location.y - 280 * index)
        if target is not None:
            tree.links.new(node.outputs["Color"], bsdf.inputs[target])
        else:
            normal: Any = tree.nodes.new("ShaderNodeNormalMap")
            normal.location = (bsdf.location.x - 250, node.location.y)
            tree.links.new(node.outputs["Color"], normal.inputs["Color"])
            tree.links.new(normal.outputs["Normal"], bsdf.inputs["Normal"])
        used.append(map_name)
    undo_step(f"MCP material {material.name}")
    return {"material": material.name, "maps": used}


def gltf_model(path: Path) -> dict[str, Any]:
    """Imports the model (its images packed); returns the objects it added."""
    before = set(bpy.data.objects)
    result: Any = bpy.ops.import_scene.gltf(filepath=str(path), import_pack_images=True)
    if "FINISHED" not in result:
        raise ValueError(f"Blender's glTF importer could not read {echo(path.name)}")
    added = [obj.name for obj in bpy.data.objects if obj not in before]
    undo_step(f"MCP import {path.stem}")
    return {"imported_objects": added}


def apply_material(obj: bpy.types.Object, material: bpy.types.Material) -> dict[str, Any]:
    """Gives `obj` only `material` (BlenderMCP's set_texture replaces the object's materials)."""
    data: Any = obj.data
    if data is None or not hasattr(data, "materials"):
        raise ValueError(f"{echo(obj.name)} ({obj.type}) has no materials")
    data.materials.clear()
    data.materials.append(material)
    tree = material.node_tree
    textures: list[Any] = [node for node in tree.nodes if node.type == "TEX_IMAGE"] if tree else []
    undo_step(f"MCP texture {obj.name}")
    return {
        "material": material.name,
        "material_info": {
            "has_nodes": bool(tree),
            "node_count": len(tree.nodes) if tree else 0,
            "texture_nodes": [
                {
                    "name": node.name,
                    "image": node.image.name if node.image else None,
                    "connections": [
                        f"Color -> {link.to_node.name}.{link.to_socket.name}" for link in node.outputs[0].links
                    ],
                }
                for node in textures
            ],
        },
    }


def name_generated(imported: list[str], name: str) -> dict[str, Any]:
    """A generated model's mesh, renamed `name` when that is free (BlenderMCP names it so), with its placement."""
    meshes = [bpy.data.objects[n] for n in imported if bpy.data.objects[n].type == "MESH"]
    if not meshes:
        raise ValueError("the generated model holds no mesh")
    mesh = meshes[0]
    if name not in bpy.data.objects:
        mesh.name = name
    context.view_layer().update()
    corners = [mesh.matrix_world @ Vector(corner) for corner in mesh.bound_box]
    return {
        "name": mesh.name,
        "type": mesh.type,
        "location": [round(v, 4) for v in mesh.matrix_world.translation.to_tuple()],
        "world_bounding_box": [
            [min(c[i] for c in corners) for i in range(3)],
            [max(c[i] for c in corners) for i in range(3)],
        ],
    }
