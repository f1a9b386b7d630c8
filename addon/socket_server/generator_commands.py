"""BlenderMCP's Hyper3D Rodin commands (its "main site" mode), answered when the user has turned Rodin on and
given a key: creating a job, polling it and importing the result, the network part on a worker thread. A
generated model lands unrigged, so the import's result offers the next steps: auto-rig, check, export."""

from __future__ import annotations

from typing import Any

from ..assets import rodin
from ..assets.fetch import Progress
from ..blender import asset_link
from ..core.wire.protocol import echo
from .config import ServerConfig
from .deferred import Deferred
from .params import text

OFF = (
    "Hyper3D Rodin integration is disabled: Avatar Forge generates nothing until you turn Hyper3D Rodin on in its "
    "preferences (Asset sources) and give your key there or in AVATAR_FORGE_HYPER3D_API_KEY; headless, "
    "`forge.py serve --hyper3d` with that variable set"
)
NO_KEY = (
    "Hyper3D Rodin is on but has no API key: give it in Avatar Forge's preferences (Hyper3D API key) or in "
    "AVATAR_FORGE_HYPER3D_API_KEY"
)
FAL = "Avatar Forge speaks Rodin's main-site API (subscription_key, task_uuid), not fal.ai's (request_id)"


def _source(config: ServerConfig) -> rodin.Source:
    if not config.hyper3d:
        raise PermissionError(OFF)
    if not config.hyper3d_key:
        raise PermissionError(NO_KEY)
    return rodin.Source(config.hyper3d_key, config.hyper3d_api, config.fetch_limits)


def status(params: dict[str, Any], config: ServerConfig) -> dict[str, Any]:
    if not config.hyper3d:
        return {"enabled": False, "message": OFF}
    if not config.hyper3d_key:
        return {"enabled": False, "message": NO_KEY}
    return {"enabled": True, "message": "Hyper3D Rodin integration is enabled and ready to use. Mode: MAIN_SITE."}


def _bbox(value: Any) -> list[int] | None:
    if value is None:
        return None
    if not (isinstance(value, list) and len(value) == 3 and all(isinstance(v, int) and 0 < v <= 1000 for v in value)):
        raise ValueError("'bbox_condition' must be three whole numbers from 1 to 1000 [length, width, height]")
    return value


def create_job(params: dict[str, Any], config: ServerConfig) -> Deferred:
    source = _source(config)
    prompt = text(params, "text_prompt", limit=2000)
    pictures = rodin.images(params["images"]) if params.get("images") is not None else []
    if bool(prompt) == bool(pictures):
        raise ValueError("give exactly one of 'text_prompt' and 'images'")
    bbox = _bbox(params.get("bbox_condition"))
    return Deferred("create_rodin_job", lambda _progress: rodin.create(source, prompt, pictures, bbox))


def poll_job(params: dict[str, Any], config: ServerConfig) -> Deferred:
    source = _source(config)
    if params.get("request_id") is not None:
        raise ValueError(FAL)
    key = rodin.token(params.get("subscription_key"), "subscription_key")
    return Deferred("poll_rodin_job_status", lambda _progress: rodin.status(source, key))


def import_asset(params: dict[str, Any], config: ServerConfig) -> Deferred:
    source = _source(config)
    if params.get("request_id") is not None:
        raise ValueError(FAL)
    task = rodin.token(params.get("task_uuid"), "task_uuid")
    name = text(params, "name", limit=63) or "Generated"

    def fetch(progress: Progress) -> Any:
        return rodin.fetch_model(source, task, name, progress)

    def link(path: Any) -> dict[str, Any]:
        try:
            imported = asset_link.gltf_model(path)["imported_objects"]
        finally:
            path.unlink(missing_ok=True)
        mesh = asset_link.name_generated(imported, name)
        return {
            "succeed": True,
            **mesh,
            "imported_objects": imported,
            "rigged": False,
            "next_steps": [
                f"auto_rig with meshes=[{echo(mesh['name'])!r}] (socket: avatar_auto_rig) to make it a VRM humanoid",
                "check_rig, then fix_rig for what it finds",
                "export_vrm with a preset, or publish",
            ],
        }

    return Deferred("import_generated_asset", fetch, link, lambda path: path.unlink(missing_ok=True))
