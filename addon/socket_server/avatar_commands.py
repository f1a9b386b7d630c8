"""Avatar Forge's own commands on the socket, calling the very functions the sidebar buttons call.

ROUTES is the whole adapter: command -> (the operation in addon/blender, params -> its arguments). The
operations return typed results (sent as their JSON) and raise core.errors' ForgeError, sent as its one
line with the refusing rig check's findings.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..blender import animation_export, autorig, avatar_import, publish, rig_check, vrm_export
from ..blender.paths import refuse_storage_root, user_presets_dir
from ..core.errors import ForgeError, finding_line
from ..core.models.files import model_format
from ..core.presets import Preset, get_preset, load_presets
from .config import ServerConfig
from .params import MAX_PATH, text

Arguments = tuple[tuple[Any, ...], dict[str, Any]]


def _preset(params: dict[str, Any], required: bool) -> Preset | None:
    name = text(params, "preset", required)
    return get_preset(name, user_presets_dir()) if name is not None else None


def _check_rig_args(params: dict[str, Any]) -> Arguments:
    args = (text(params, "armature"), _preset(params, required=False))
    fix = params.get("fix", False)
    if fix not in (False, True, "safe", "all"):
        raise ValueError('\'fix\' must be true, "safe" or "all" ("all" also changes the skeleton)')
    return args, {"fix": fix}


def _fix_rig_args(params: dict[str, Any]) -> Arguments:
    return (text(params, "finding", required=True), text(params, "armature"), _preset(params, required=False)), {}


def _export_vrm_args(params: dict[str, Any]) -> Arguments:
    meta = params.get("meta") or {}
    if not isinstance(meta, dict) or not all(isinstance(v, str) for v in meta.values()):
        raise ValueError("'meta' must map names to strings")
    out = Path(text(params, "out", required=True, limit=MAX_PATH) or "")
    if not out.is_absolute():
        raise ValueError("'out' must be an absolute path to a .vrm file")
    refuse_storage_root(out)  # before it is queued; export_vrm checks again as it writes
    kwargs = {
        "armature_name": text(params, "armature"),
        "meta_overrides": meta,
        "overwrite": params.get("overwrite") is True,
    }
    return (out, _preset(params, required=True)), kwargs


def _publish_args(params: dict[str, Any]) -> Arguments:
    name = text(params, "name", required=True)
    destination = params.get("destination", "root")
    if destination not in ("root", "s3"):
        raise ValueError("'destination' must be 'root' (the storage root folder) or 's3'")
    preset = _preset(params, required=True)
    return (name, preset, publish.preferred_storage(destination)), {"armature_name": text(params, "armature")}


def _clip_args(params: dict[str, Any]) -> dict[str, Any]:
    frames = params.get("frames")
    if frames is not None and not (
        isinstance(frames, list)
        and len(frames) == 2
        and all(isinstance(f, int) and not isinstance(f, bool) for f in frames)
    ):
        raise ValueError("'frames' must be [start, end] in whole frames")
    if params.get("action") is not None and params.get("strip") is not None:
        raise ValueError("give 'action' or 'strip', not both")
    return {
        "armature_name": text(params, "armature"),
        "action": text(params, "action"),
        "strip": text(params, "strip"),
        "frames": tuple(frames) if frames is not None else None,
    }


def _export_animation_args(params: dict[str, Any]) -> Arguments:
    out = Path(text(params, "out", required=True, limit=MAX_PATH) or "")
    if not out.is_absolute():
        raise ValueError("'out' must be an absolute path to a .vrma file")
    refuse_storage_root(out)  # before it is queued; export_clip checks again as it writes
    return (out,), {**_clip_args(params), "overwrite": params.get("overwrite") is True}


def _publish_animation_args(params: dict[str, Any]) -> Arguments:
    name = text(params, "name", required=True)
    destination = params.get("destination", "root")
    if destination not in ("root", "s3"):
        raise ValueError("'destination' must be 'root' (the storage root folder) or 's3'")
    return (name, publish.preferred_storage(destination)), _clip_args(params)


def _import_args(params: dict[str, Any]) -> Arguments:
    path = Path(text(params, "path", required=True, limit=MAX_PATH) or "")
    if not path.is_absolute():
        raise ValueError("'path' must be an absolute path to a model file")
    model_format(path)  # refuses what is not a model file before anything reads it
    # A .blend is read in a separate Blender first (a crash stays there); bare meshes come in for auto_rig.
    return (path,), {"probe": True, "bare_ok": True}


def _auto_rig_args(params: dict[str, Any]) -> Arguments:
    meshes = params.get("meshes")
    if meshes is not None and (not isinstance(meshes, list) or not all(isinstance(m, str) for m in meshes)):
        raise ValueError("'meshes' must be a list of mesh object names")
    replace = params.get("replace", False)
    if not isinstance(replace, bool):
        raise ValueError("'replace' must be true or false")
    return (meshes,), {"replace": replace}


@dataclass(frozen=True)
class Route:
    operation: Callable[..., Any]  # in addon/blender: returns a typed result with to_json()
    arguments: Callable[[dict[str, Any]], Arguments]
    wrote: tuple[str, ...] = ()  # where in the result the paths it wrote are (a.b: result[a][b])


ROUTES: dict[str, Route] = {
    "avatar_check_rig": Route(rig_check.check_rig, _check_rig_args),
    "avatar_fix_rig": Route(rig_check.fix_finding, _fix_rig_args),
    "avatar_export_vrm": Route(vrm_export.export_vrm, _export_vrm_args, ("path",)),
    "avatar_publish": Route(publish.publish, _publish_args, ("vrm.url", "blend.url", "request")),
    "avatar_export_animation": Route(animation_export.export_clip, _export_animation_args, ("path",)),
    "avatar_publish_animation": Route(
        publish.publish_clip, _publish_animation_args, ("vrma.url", "blend.url", "request")
    ),
    "avatar_import": Route(avatar_import.import_avatar, _import_args),
    "avatar_auto_rig": Route(autorig.auto_rig, _auto_rig_args),
}


def routed(command: str) -> Callable[[dict[str, Any], ServerConfig], Any]:
    route = ROUTES[command]

    def handler(params: dict[str, Any], config: ServerConfig) -> Any:
        args, kwargs = route.arguments(params)
        try:
            result = route.operation(*args, **kwargs)
        except KeyError as exc:  # a missing finding or preset: its message, without KeyError's quotes
            raise LookupError(str(exc.args[0]) if exc.args else command) from None
        except ForgeError as exc:
            if exc.report is None:
                raise
            # A refused export says why: the rig check's findings.
            details = "; ".join(finding_line(f) for f in exc.findings())
            raise RuntimeError(f"{exc}: {details}") from None
        return result.to_json()

    return handler


def written(command: str) -> Callable[[Any], list[str]]:
    """The paths a successful run of `command` wrote, read from its result."""
    keys = ROUTES[command].wrote

    def paths(result: Any) -> list[str]:
        found = []
        for key in keys:
            value = result
            for part in key.split("."):
                value = value.get(part) if isinstance(value, dict) else None
            if isinstance(value, str) and value:
                found.append(value)
        return found

    return paths


def list_presets(params: dict[str, Any], config: ServerConfig) -> dict[str, Any]:
    return {"presets": [preset.to_json() for preset in load_presets(user_presets_dir()).values()]}
