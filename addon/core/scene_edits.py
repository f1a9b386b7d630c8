"""What the structured scene commands accept: the kinds of object they create and every parameter each
command takes. One table for the socket server (which enforces it) and the MCP tools (whose JSON schemas
are built from it), so the two can never disagree. No bpy here."""

from __future__ import annotations

import math
from typing import Any, Final

from .wire.protocol import echo

PRIMITIVES: Final = ("cube", "uv_sphere", "ico_sphere", "cylinder", "cone", "plane", "circle", "monkey")
LIGHTS: Final = {"point_light": "POINT", "sun_light": "SUN", "spot_light": "SPOT", "area_light": "AREA"}
KINDS: Final = (*PRIMITIVES, "empty", *LIGHTS, "camera")
DEFAULT_SIZE: Final = 2.0  # Blender's own: its default cube is 2 m across

_NAME = {"type": "string", "minLength": 1, "maxLength": 63}  # Blender cuts longer names
_XYZ = {"type": "array", "items": {"type": "number"}, "minItems": 3, "maxItems": 3}
_COLOR = {
    "type": "array",
    "items": {"type": "number", "minimum": 0, "maximum": 1},
    "minItems": 3,
    "maxItems": 4,
}
_RGB = {**_COLOR, "maxItems": 3}
_UNIT = {"type": "number", "minimum": 0, "maximum": 1}


def _described(schema: dict[str, Any], description: str) -> dict[str, Any]:
    return {**schema, "description": description}


_TRANSFORM = {
    "location": _described(_XYZ, "Location [x, y, z] in metres (Z up; an avatar stands on Z=0 facing -Y)."),
    "rotation": _described(_XYZ, "Rotation [x, y, z] in radians (XYZ Euler)."),
    "scale": _described(_XYZ, "Scale [x, y, z]."),
}

# command -> (JSON schema properties, required): the socket refuses any other parameter.
SCHEMAS: Final[dict[str, tuple[dict[str, Any], tuple[str, ...]]]] = {
    "create_object": (
        {
            "type": _described({"type": "string", "enum": list(KINDS)}, "What to create."),
            "name": _described(_NAME, "Its name; refused when another object has it. Default: from the type."),
            **_TRANSFORM,
            "size": _described(
                {"type": "number", "exclusiveMinimum": 0},
                f"A primitive's extent or an empty's display size, metres (default {DEFAULT_SIZE:g}).",
            ),
            "parent": _described(_NAME, "Parent object; the new object keeps the given world placement."),
            "energy": _described({"type": "number", "minimum": 0}, "A light's power (W; sun: W/m²)."),
            "color": _described(_RGB, "A light's colour, [r, g, b] from 0 to 1."),
        },
        ("type",),
    ),
    "modify_object": (
        {
            "name": _described(_NAME, "The object to change."),
            "new_name": _described(_NAME, "Rename it; refused when another object has that name."),
            **_TRANSFORM,
            "parent": _described(
                {"type": ["string", "null"], "maxLength": 63},
                "New parent (null or empty: none). The object stays where it is in the world.",
            ),
            "visible": _described({"type": "boolean"}, "Show or hide it, in the viewport and in renders."),
        },
        ("name",),
    ),
    "set_material": (
        {
            "object": _described(_NAME, "The object to give the material (a mesh, curve, text...)."),
            "material": _described(
                _NAME,
                "Material name: reused when it exists, else created. Default: the object's first material, "
                "or a new one named after the object.",
            ),
            "base_color": _described(_COLOR, "[r, g, b] or [r, g, b, alpha], each from 0 to 1."),
            "metallic": _described(_UNIT, "0 to 1 (not for MToon)."),
            "roughness": _described(_UNIT, "0 to 1 (not for MToon)."),
            "emission_color": _described(_RGB, "[r, g, b] from 0 to 1."),
            "emission_strength": _described({"type": "number", "minimum": 0}, "Emission strength."),
            "image": _described(
                {"type": "string", "maxLength": 4096},
                "Absolute path of a .png, .jpg or .webp on the Blender machine, used as the base colour texture.",
            ),
            "mtoon": _described(
                {"type": "boolean"},
                "true: make it a VRM MToon (toon) material, the look three-vrm draws; false: back to Principled.",
            ),
            "shade_color": _described(_RGB, "MToon shade colour (the shadowed side), [r, g, b]."),
            "rim_color": _described(_RGB, "MToon parametric rim colour, [r, g, b]."),
            "outline_color": _described(_RGB, "MToon outline colour, [r, g, b]."),
        },
        ("object",),
    ),
    "delete_object": (
        {"name": _described(_NAME, "The object to delete. Its children stay where they are, unparented.")},
        ("name",),
    ),
    "duplicate_object": (
        {
            "name": _described(_NAME, "The object to copy (its modifiers and materials come along)."),
            "new_name": _described(_NAME, "The copy's name; refused when another object has it."),
            "linked": _described({"type": "boolean"}, "Share the mesh data instead of copying it (default false)."),
            **_TRANSFORM,
        },
        ("name",),
    ),
}
MTOON_ONLY: Final = ("shade_color", "rim_color", "outline_color")
IMAGE_SUFFIXES: Final = (".png", ".jpg", ".jpeg", ".webp")


def _kind(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "number" if math.isfinite(value) else "NaN or infinity"
    names: dict[type, str] = {str: "string", list: "array", dict: "object"}
    return names.get(type(value), type(value).__name__)


def _check(key: str, value: Any, schema: dict[str, Any]) -> None:
    """Refuses `value` unless it fits `schema` (the subset of JSON Schema the table above uses)."""
    allowed = schema["type"] if isinstance(schema["type"], list) else [schema["type"]]
    kind = _kind(value)
    if kind not in allowed:
        raise ValueError(f"'{key}' must be {' or '.join(allowed)}, got {kind}")
    if "enum" in schema and value not in schema["enum"]:
        raise ValueError(f"'{key}' must be one of {', '.join(schema['enum'])}; got {echo(str(value))}")
    if kind == "string":
        if len(value) > schema.get("maxLength", 256) or "\0" in value:
            raise ValueError(f"'{key}' must be at most {schema.get('maxLength', 256)} characters, with no NUL")
        if len(value) < schema.get("minLength", 0):
            raise ValueError(f"'{key}' must not be empty")
    if kind == "number":
        if "minimum" in schema and value < schema["minimum"]:
            raise ValueError(f"'{key}' must be at least {schema['minimum']}, got {value}")
        if "maximum" in schema and value > schema["maximum"]:
            raise ValueError(f"'{key}' must be at most {schema['maximum']}, got {value}")
        if "exclusiveMinimum" in schema and value <= schema["exclusiveMinimum"]:
            raise ValueError(f"'{key}' must be greater than {schema['exclusiveMinimum']}, got {value}")
    if kind == "array":
        if not schema["minItems"] <= len(value) <= schema["maxItems"]:
            size = f"{schema['minItems']}" + (
                f" to {schema['maxItems']}" if schema["maxItems"] != schema["minItems"] else ""
            )
            raise ValueError(f"'{key}' must hold {size} numbers, got {len(value)}")
        for item in value:
            _check(f"{key}[]", item, schema["items"])


def validate(command: str, params: dict[str, Any]) -> dict[str, Any]:
    """`params` for `command`, checked against its schema: a missing required or an unknown parameter, or a
    value of the wrong type or range, is one clear error. Returns them without the nulls that mean "absent"."""
    properties, required = SCHEMAS[command]
    unknown = sorted(set(params) - set(properties))
    if unknown:
        raise ValueError(
            f"{command} has no parameter {', '.join(repr(echo(k, 40)) for k in unknown)}; "
            f"it takes {', '.join(properties)}"
        )
    missing = [key for key in required if params.get(key) is None]
    if missing:
        raise ValueError(f"{command} needs {', '.join(repr(k) for k in missing)}")
    checked = {}
    for key, value in params.items():
        if value is None and "null" not in properties[key]["type"]:
            continue  # clients send null for an optional parameter they leave out
        _check(key, value, properties[key])
        checked[key] = value
    return checked
