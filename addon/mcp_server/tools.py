"""The tools the assistant sees: each a JSON schema, a description written for the model, and the socket
command behind it. Results are JSON text, or inline PNG images: nothing needs a shared filesystem."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from mcp import types

from ..core.scene_edits import SCHEMAS
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


def _scene_edit(command: str) -> Callable[[Connection, dict[str, Any]], list[Content]]:
    """A structured scene tool: its arguments go to the socket as given (a null parent means "none")."""

    def run(connection: Connection, arguments: dict[str, Any]) -> list[Content]:
        return _json(connection.call(command, dict(arguments)))

    return run


def _scene_tool(command: str, description: str) -> ToolSpec:
    properties, required = SCHEMAS[command]
    return ToolSpec(command, description, properties, required, _scene_edit(command), read_only=False)


def _polyhaven_download(connection: Connection, arguments: dict[str, Any]) -> list[Content]:
    keep = ("asset_id", "asset_type", "resolution", "file_format")
    result = connection.call(
        "download_polyhaven_asset", {k: arguments[k] for k in keep if arguments.get(k) is not None}
    )
    if isinstance(result, dict) and arguments.get("apply_to"):
        for name in arguments["apply_to"]:  # an object that fails stops here, with the server's message
            connection.call("set_texture", {"object_name": name, "texture_id": arguments["asset_id"]})
        result["applied_to"] = arguments["apply_to"]
    return _json(result)


POLL_SECONDS = 3.0


def _hyper3d_generate(connection: Connection, arguments: dict[str, Any]) -> list[Content]:
    """Creates a Rodin job (or resumes one), polls it up to wait_seconds, imports the model when done."""
    job = {k: arguments[k] for k in ("task_uuid", "subscription_key") if arguments.get(k)}
    if len(job) == 1:
        raise CommandError("give both task_uuid and subscription_key to resume a job, or neither")
    if not job:
        if not arguments.get("prompt"):
            raise CommandError("give a prompt (or task_uuid and subscription_key to resume a job)")
        params: dict[str, Any] = {"text_prompt": arguments["prompt"]}
        if arguments.get("bbox_condition"):
            params["bbox_condition"] = arguments["bbox_condition"]
        created = connection.call("create_rodin_job", params)
        job = {"task_uuid": created["uuid"], "subscription_key": created["jobs"]["subscription_key"]}
    deadline = time.monotonic() + float(arguments.get("wait_seconds", 90))
    while True:
        statuses = connection.call("poll_rodin_job_status", {"subscription_key": job["subscription_key"]})[
            "status_list"
        ]
        if any(s in ("Failed", "Canceled") for s in statuses):
            raise CommandError(f"Rodin's generation failed: {', '.join(statuses)}")
        if statuses and all(s == "Done" for s in statuses):
            break
        if time.monotonic() >= deadline:
            return _json({**job, "status": statuses, "next": "call hyper3d_generate again with these ids to wait on"})
        time.sleep(POLL_SECONDS)
    name = arguments.get("name") or "Generated"
    return _json(connection.call("import_generated_asset", {"task_uuid": job["task_uuid"], "name": name}))


_ARMATURE = {"type": "string", "description": "Armature object name. Default: the one with most VRM bones mapped."}
_PRESET = {
    "type": "string",
    "description": "Export preset name from list_presets (companions-web, companions-web-lite, "
    "companions-web-uncompressed, vrm0-legacy, or the user's own). It sets the VRM version, the budgets "
    "checked and whether the file is compressed for download (three.js then needs setMeshoptDecoder).",
}

_CLIP: dict[str, Any] = {
    "armature": _ARMATURE,
    "action": {"type": "string", "description": "Action name (default: the armature's current action)."},
    "strip": {"type": "string", "description": "NLA strip name: its action over the strip's frames."},
    "frames": {
        "type": "array",
        "items": {"type": "integer"},
        "minItems": 2,
        "maxItems": 2,
        "description": "[start, end] (default: the strip's or the action's own keyed range).",
    },
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
    _scene_tool(
        "create_object",
        "Add an object to the scene: a mesh primitive (cube, uv_sphere, ico_sphere, cylinder, cone, plane, "
        "circle, monkey), an empty, a light or a camera, with its name, placement, size and parent. Returns the "
        "object as get_object_info shows it. One undo step.",
    ),
    _scene_tool(
        "modify_object",
        "Change an object: rename it, move, rotate or scale it, parent it (it stays where it is in the world) "
        "or unparent it (parent null), show or hide it. Returns the object. One undo step.",
    ),
    _scene_tool(
        "set_material",
        "Give an object a material and set its look: base colour (with alpha), metallic, roughness, emission, "
        "a base colour image; or make it a VRM MToon toon material (mtoon true) with shade, rim and outline "
        "colours, as three-vrm draws it. Returns the material's values as Blender now has them. One undo step.",
    ),
    _scene_tool(
        "duplicate_object",
        "Copy an object (modifiers, materials and parent come along; its mesh is copied unless linked), "
        "optionally renamed and placed. Returns the copy. One undo step.",
    ),
    _scene_tool(
        "delete_object",
        "Delete an object. Its children stay where they are, unparented; its data goes when nothing else uses "
        "it. Returns the names. One undo step (the user can undo it in Blender).",
    ),
    ToolSpec(
        "polyhaven_search",
        "Search Poly Haven (free CC0 HDRIs, textures and models) for showcase lighting and materials: most "
        "downloaded first, with name, authors, categories, tags and real-world size. Only when the user has "
        "turned Poly Haven on in Avatar Forge (otherwise this says how).",
        {
            "asset_type": {"type": "string", "enum": ["hdris", "textures", "models", "all"]},
            "query": {"type": "string", "description": "Words that must appear in the name, tags or categories."},
            "category": {"type": "string", "description": "A category, as get_polyhaven_categories names it."},
            "limit": {"type": "integer", "minimum": 1, "maximum": 100, "description": "At most this many (20)."},
        },
        (),
        _forward("search_polyhaven_assets", keep=("asset_type", "query", "category", "limit")),
    ),
    ToolSpec(
        "polyhaven_download",
        "Download a Poly Haven asset into the scene: an HDRI becomes the world lighting, a texture set a "
        "material (apply_to puts it on objects), a model is imported. Blender stays responsive meanwhile; the "
        "images are packed into the .blend. Credit: the result names the authors and the asset's page.",
        {
            "asset_id": {"type": "string", "description": "The asset's id from polyhaven_search."},
            "asset_type": {"type": "string", "enum": ["hdris", "textures", "models"]},
            "resolution": {"type": "string", "pattern": "^[1-9][0-9]?k$", "description": "1k (default), 2k, 4k..."},
            "file_format": {"type": "string", "enum": ["hdr", "exr", "jpg", "png", "gltf"]},
            "apply_to": {"type": "array", "items": {"type": "string"}, "description": "Objects for a texture set."},
        },
        ("asset_id", "asset_type"),
        _polyhaven_download,
        read_only=False,
    ),
    ToolSpec(
        "hyper3d_generate",
        "Generate a base model from a text prompt with Hyper3D Rodin (the user's own key, billed to them; only "
        "when they turned it on in Avatar Forge), wait for it, and import it. It lands unrigged: the result's "
        "next_steps are auto_rig, check_rig, export_vrm. If it is not done within wait_seconds, the result holds "
        "task_uuid and subscription_key: call again with them to keep waiting.",
        {
            "prompt": {"type": "string", "description": "Short English description of one object or character."},
            "name": {"type": "string", "description": "Object name in the scene (default Generated)."},
            "bbox_condition": {
                "type": "array",
                "items": {"type": "integer", "minimum": 1, "maximum": 1000},
                "minItems": 3,
                "maxItems": 3,
                "description": "[length, width, height] proportions.",
            },
            "wait_seconds": {"type": "number", "minimum": 0, "maximum": 300, "description": "Default 90."},
            "task_uuid": {"type": "string", "description": "Resume: from an earlier unfinished call."},
            "subscription_key": {"type": "string", "description": "Resume: from an earlier unfinished call."},
        },
        (),
        _hyper3d_generate,
        read_only=False,
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
        "export_animation",
        "Export the armature's current action (or a named action, or an NLA strip) as a VRM Animation .vrma "
        "clip through the VRM Add-on, for three-vrm-animation. Checks first (a mapped humanoid, a sane frame "
        "range and rate, no scale keys on humanoid bones: a clip carries rotations and the hips' position only) "
        "and refuses with the findings. Never replaces a file unless overwrite is true.",
        {
            "out": {"type": "string", "description": "Absolute path of the .vrma file to write."},
            **_CLIP,
            "overwrite": {"type": "boolean", "description": "Replace an existing file (default false)."},
        },
        ("out",),
        _forward("avatar_export_animation", keep=("out", *_CLIP, "overwrite")),
        read_only=False,
    ),
    ToolSpec(
        "publish_animation",
        "Export a clip as export_animation does and publish it as the next immutable version "
        "animations/<name>-v<N>.vrma (with the .blend), queued for promotion to every serving tier. Ask the "
        "user before publishing.",
        {
            "name": {"type": "string", "description": "Clip name: letters, digits, - and _ (e.g. Wave)."},
            "destination": {"type": "string", "enum": ["root", "s3"], "description": "root (default) or s3."},
            **_CLIP,
        },
        ("name",),
        _forward("avatar_publish_animation", keep=("name", "destination", *_CLIP)),
        read_only=False,
    ),
    ToolSpec(
        "import_avatar",
        "Import an avatar file into the open scene: .vrm, .glb, .gltf, .fbx or .blend. Returns the detected "
        "format, the armature, the imported objects, the file's meta (author, licence) and what was removed from "
        "it (images outside its folder, linked libraries, Python drivers and scripts). Run check_rig next; a "
        "bare mesh (armature null: what a generator makes) comes in too: run auto_rig on its objects next.",
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
