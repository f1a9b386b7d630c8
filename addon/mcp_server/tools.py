"""The tools the assistant sees: each a JSON schema, a description written for the model, and the socket
command behind it. Results are JSON text, or inline PNG images: nothing needs a shared filesystem."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from mcp import types

from .connection import CommandError, Connection

Content = types.TextContent | types.ImageContent


@dataclass(frozen=True)
class ToolSpec:
    name: str
    description: str
    properties: dict[str, Any]
    required: tuple[str, ...]
    run: Callable[[Connection, dict[str, Any]], list[Content]]
    read_only: bool = True

    def to_tool(self) -> types.Tool:
        schema: dict[str, Any] = {"type": "object", "properties": self.properties, "required": list(self.required)}
        schema["additionalProperties"] = False  # a misspelt argument is refused, not silently ignored
        return types.Tool(
            name=self.name,
            description=self.description,
            inputSchema=schema,
            annotations=types.ToolAnnotations(readOnlyHint=self.read_only),
        )


def _json(value: Any) -> list[Content]:
    return [types.TextContent(type="text", text=json.dumps(value, indent=2, sort_keys=True))]


def _image(result: Any, caption: Callable[[dict[str, Any]], str]) -> list[Content]:
    if not isinstance(result, dict) or not isinstance(result.get("png_base64"), str):
        raise CommandError("the server sent no image (is Avatar Forge in that Blender older than this MCP server?)")
    return [
        types.ImageContent(type="image", data=result["png_base64"], mimeType="image/png"),
        types.TextContent(type="text", text=caption(result)),
    ]


def _forward(command: str, *, keep: tuple[str, ...] = ()) -> Callable[[Connection, dict[str, Any]], list[Content]]:
    """A tool that sends its arguments (those named in `keep`) to `command` and shows the JSON result."""

    def run(connection: Connection, arguments: dict[str, Any]) -> list[Content]:
        params = {key: arguments[key] for key in keep if arguments.get(key) is not None}
        return _json(connection.call(command, params))

    return run


def _auto_rig(connection: Connection, arguments: dict[str, Any]) -> list[Content]:
    params = {key: arguments[key] for key in ("meshes", "replace") if arguments.get(key) is not None}
    result = connection.call("avatar_auto_rig", params)
    if isinstance(result, dict):
        armature = result.get("armature")
        result["next_steps"] = [
            f"check_rig with armature={armature!r} (then fix_rig for what it finds)",
            "render_preview to look at it",
            "export_vrm with a preset, or publish",
        ]
    return _json(result)


def _execute_code(connection: Connection, arguments: dict[str, Any]) -> list[Content]:
    result = connection.call("execute_code", {"code": arguments["code"]})
    printed = result.get("result", "") if isinstance(result, dict) else ""
    return [types.TextContent(type="text", text=printed or "(the code ran and printed nothing)")]


def _screenshot(connection: Connection, arguments: dict[str, Any]) -> list[Content]:
    result = connection.call("avatar_viewport_image", {"max_size": arguments.get("max_size", 800)})
    return _image(
        result, lambda r: f"Viewport, {r['width']}x{r['height']} (headless: the scene camera or a front view)."
    )


def _fix_rig(connection: Connection, arguments: dict[str, Any]) -> list[Content]:
    target = {key: arguments[key] for key in ("armature", "preset") if arguments.get(key) is not None}
    finding, every = arguments.get("finding"), arguments.get("all_safe") is True
    if (finding is None) == (not every):
        raise CommandError("give either 'finding' (one finding id from check_rig) or 'all_safe': true, not both")
    if finding is not None:
        return _json(connection.call("avatar_fix_rig", {"finding": finding, **target}))
    return _json(connection.call("avatar_check_rig", {"fix": True, **target}))


def _preview_caption(result: dict[str, Any]) -> str:
    shown = "neutral"
    if result.get("expression"):
        shown = f"expression {result['expression']} (shape keys: {', '.join(result.get('shape_keys', []))})"
    return f"The avatar from the front, {result['width']}x{result['height']}, {shown}."


def _render_preview(connection: Connection, arguments: dict[str, Any]) -> list[Content]:
    params = {key: arguments[key] for key in ("expression", "size") if arguments.get(key) is not None}
    return _image(connection.call("avatar_render_preview", params), _preview_caption)


_ARMATURE = {"type": "string", "description": "Armature object name. Default: the one with most VRM bones mapped."}
_PRESET = {
    "type": "string",
    "description": "Export preset name from list_presets (companions-web, companions-web-lite, "
    "companions-web-uncompressed, vrm0-legacy, or the user's own). It sets the VRM version, the budgets "
    "checked and whether the file is compressed for download (three.js then needs setMeshoptDecoder).",
}

TOOLS: tuple[ToolSpec, ...] = (
    ToolSpec(
        "get_scene_info",
        "List the objects in the open Blender scene (name, type, location), with the scene name, object and "
        "material counts. Page through big scenes with offset and limit.",
        {
            "offset": {"type": "integer", "minimum": 0, "description": "Skip this many objects."},
            "limit": {"type": "integer", "minimum": 1, "description": "Return at most this many objects."},
        },
        (),
        _forward("get_scene_info", keep=("offset", "limit")),
    ),
    ToolSpec(
        "get_object_info",
        "Details of one object: type, location, rotation, scale, visibility, materials, and for meshes the "
        "vertex/edge/face counts and world bounding box.",
        {"name": {"type": "string", "description": "The object's exact name, as get_scene_info lists it."}},
        ("name",),
        _forward("get_object_info", keep=("name",)),
    ),
    ToolSpec(
        "execute_code",
        "Run Python in Blender (bpy is imported) and return what it prints. Print what you need to know. "
        "Prefer the avatar tools (check_rig, fix_rig, export_vrm) over code for what they cover. The user may "
        "have denied code execution in Avatar Forge's preferences; then this tool says so.",
        {"code": {"type": "string", "description": "Python source to run in Blender."}},
        ("code",),
        _execute_code,
        read_only=False,
    ),
    ToolSpec(
        "get_viewport_screenshot",
        "See Blender's 3D viewport as an image (returned inline). Without a Blender window (headless) it is a "
        "render through the scene camera, or a front view of everything.",
        {
            "max_size": {
                "type": "integer",
                "minimum": 16,
                "maximum": 4096,
                "description": "Longest side in pixels (default 800).",
            }
        },
        (),
        _screenshot,
    ),
    ToolSpec(
        "check_rig",
        "Check the humanoid rig for VRM export: every finding with its id, severity, message, the objects it "
        "names, and whether it has a safe fix (fixable). Also the VRM bone mapping and the mesh statistics. "
        "ok is false while any error remains; errors stop export_vrm. Fix with fix_rig.",
        {"armature": _ARMATURE, "preset": _PRESET},
        (),
        _forward("avatar_check_rig", keep=("armature", "preset")),
    ),
    ToolSpec(
        "fix_rig",
        "Apply a safe fix: either one finding (its id from check_rig, where fixable is true), or every safe "
        "fix at once (all_safe). Each fix changes only what its finding names (bone mapping, armature "
        "modifier, applied transforms, weights, grounding). Returns the rig check after fixing.",
        {
            "finding": {"type": "string", "description": "A finding id from check_rig, such as not_grounded."},
            "all_safe": {"type": "boolean", "description": "Apply every safe fix, in a safe order."},
            "armature": _ARMATURE,
            "preset": _PRESET,
        },
        (),
        _fix_rig,
        read_only=False,
    ),
    ToolSpec(
        "list_presets",
        "The export presets (shipped and the user's): VRM version, budgets (triangles, materials, bones, "
        "texture size, file size) and meta defaults. Pass a preset's name to check_rig, export_vrm, publish.",
        {},
        (),
        _forward("avatar_list_presets"),
    ),
    ToolSpec(
        "export_vrm",
        "Export the avatar to a .vrm file with a preset, through the VRM Add-on. Runs the rig check first and "
        "refuses (writing nothing) while errors remain. Then reads the written file back as three-vrm would "
        "(skeleton size, on the ground, facing, meshes on their skeleton): a file that fails is refused with "
        "the reasons and kept beside out as <name>.rejected.vrm. Never replaces an existing file unless "
        "overwrite is true. The path is on the machine where Blender runs.",
        {
            "out": {"type": "string", "description": "Absolute path of the .vrm file to write."},
            "preset": _PRESET,
            "armature": _ARMATURE,
            "meta": {
                "type": "object",
                "additionalProperties": {"type": "string"},
                "description": 'VRM meta overrides, e.g. {"name": "Companion A", "authors": "Ada", "version": "2"}.',
            },
            "overwrite": {"type": "boolean", "description": "Replace an existing file (default false)."},
        },
        ("out", "preset"),
        _forward("avatar_export_vrm", keep=("out", "preset", "armature", "meta", "overwrite")),
        read_only=False,
    ),
    ToolSpec(
        "publish",
        "Export and publish the avatar as the next immutable version <name>-v<N>.vrm to the avatars storage "
        "(the storage root folder, or S3), with its .blend, and queue it for promotion to the serving tiers. "
        "Nothing is ever overwritten. Ask the user before publishing.",
        {
            "name": {"type": "string", "description": "Model name: letters, digits, - and _ (e.g. Companion-A)."},
            "preset": _PRESET,
            "destination": {"type": "string", "enum": ["root", "s3"], "description": "root (default) or s3."},
            "armature": _ARMATURE,
        },
        ("name", "preset"),
        _forward("avatar_publish", keep=("name", "preset", "destination", "armature")),
        read_only=False,
    ),
    ToolSpec(
        "import_avatar",
        "Import an avatar file into the open scene: .vrm, .glb, .gltf, .fbx or .blend. Returns the detected "
        "format, the armature, the imported objects, the file's meta (author, licence) and what was removed from "
        "it (images outside its folder, linked libraries, Python drivers and scripts). Run check_rig next.",
        {"path": {"type": "string", "description": "Absolute path of the file, on the machine where Blender runs."}},
        ("path",),
        _forward("avatar_import", keep=("path",)),
        read_only=False,
    ),
    ToolSpec(
        "auto_rig",
        "Rig bare meshes as a VRM humanoid in one step: finds the joints from the mesh alone, builds an "
        "armature (bones Hips, Spine, UpperArm.L...; the VRM humanoid mapping stored), and skins every mesh to "
        "it. Default: every mesh no armature drives; replace=true discards the meshes' own armature first. "
        "Refuses what is no standing humanoid, with the reason.",
        {
            "meshes": {"type": "array", "items": {"type": "string"}, "description": "Mesh object names."},
            "replace": {"type": "boolean", "description": "Discard the meshes' own armature (default false)."},
        },
        (),
        _auto_rig,
        read_only=False,
    ),
    ToolSpec(
        "render_preview",
        "Render the avatar from the front (returned inline as an image), optionally with one expression "
        "applied: a VRM expression name such as happy, angry, sad, relaxed, surprised, aa, ih, ou, ee, oh, "
        "blink. The scene is left as it was.",
        {
            "expression": {"type": "string", "description": "VRM expression to show (default: none, neutral)."},
            "size": {
                "type": "integer",
                "minimum": 16,
                "maximum": 4096,
                "description": "Image side in pixels (default 512).",
            },
        },
        (),
        _render_preview,
    ),
)
