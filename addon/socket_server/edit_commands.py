"""The structured scene commands: create, modify, duplicate and delete objects and set materials, each
checked against its schema (core.scene_edits) before anything changes, and each one undo step. With them
an assistant builds and dresses a character without execute_code."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ..blender import material_edit, scene_edit
from ..core.scene_edits import validate
from .config import ServerConfig
from .scene_commands import object_info

Handler = Callable[[dict[str, Any], ServerConfig], Any]
_TRANSFORM = ("location", "rotation", "scale")


def _transform(params: dict[str, Any]) -> dict[str, Any]:
    return {key: params[key] for key in _TRANSFORM if key in params}


def create_object(params: dict[str, Any], config: ServerConfig) -> dict[str, Any]:
    p = validate("create_object", params)
    extra = {key: p[key] for key in ("size", "parent", "energy", "color") if key in p}
    return object_info(scene_edit.create(p["type"], p.get("name"), **_transform(p), **extra))


def modify_object(params: dict[str, Any], config: ServerConfig) -> dict[str, Any]:
    p = validate("modify_object", params)
    obj = scene_edit.find(p["name"])
    extra = {key: p[key] for key in ("new_name", "visible", "parent") if key in p}
    return object_info(scene_edit.modify(obj, **_transform(p), **extra))


def duplicate_object(params: dict[str, Any], config: ServerConfig) -> dict[str, Any]:
    p = validate("duplicate_object", params)
    obj = scene_edit.find(p["name"])
    return object_info(scene_edit.duplicate(obj, p.get("new_name"), linked=p.get("linked", False), **_transform(p)))


def delete_object(params: dict[str, Any], config: ServerConfig) -> dict[str, Any]:
    p = validate("delete_object", params)
    return scene_edit.delete(scene_edit.find(p["name"]))


def set_material(params: dict[str, Any], config: ServerConfig) -> dict[str, Any]:
    p = validate("set_material", params)
    obj = scene_edit.find(p["object"])
    values = {key: value for key, value in p.items() if key not in ("object", "material")}
    return material_edit.set_material(obj, p.get("material"), values)


COMMANDS: dict[str, Handler] = {
    "create_object": create_object,
    "modify_object": modify_object,
    "duplicate_object": duplicate_object,
    "delete_object": delete_object,
    "set_material": set_material,
}
