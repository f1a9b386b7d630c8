"""Avatar Forge's own commands on the socket, calling the very functions the sidebar buttons call.

ROUTES is the whole adapter: command -> (module in addon/blender, function, params -> arguments).
A module that has not landed yet answers "not available yet" instead of failing the server.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..core.presets import Preset, get_preset, load_presets
from .config import ServerConfig

Arguments = tuple[tuple[Any, ...], dict[str, Any]]


def _text(params: dict[str, Any], key: str, required: bool = False) -> str | None:
    value = params.get(key)
    if value is None and not required:
        return None
    if not isinstance(value, str) or not value:
        raise ValueError(f"'{key}' must be a non-empty string")
    return value


def _preset(params: dict[str, Any], required: bool) -> Preset | None:
    from ..blender.paths import user_presets_dir

    name = _text(params, "preset", required)
    return get_preset(name, user_presets_dir()) if name is not None else None


def _check_rig_args(params: dict[str, Any]) -> Arguments:
    args = (_text(params, "armature"), _preset(params, required=False))
    return args, {"fix": params.get("fix") is True}


def _export_vrm_args(params: dict[str, Any]) -> Arguments:
    meta = params.get("meta") or {}
    if not isinstance(meta, dict) or not all(isinstance(v, str) for v in meta.values()):
        raise ValueError("'meta' must map names to strings")
    out = Path(_text(params, "out", required=True) or "")
    if not out.is_absolute():
        raise ValueError("'out' must be an absolute path to a .vrm file")
    kwargs = {
        "armature_name": _text(params, "armature"),
        "meta_overrides": meta,
        "overwrite": params.get("overwrite") is True,
    }
    return (out, _preset(params, required=True)), kwargs


def _publish_args(params: dict[str, Any]) -> Arguments:
    from ..blender.publish import preferred_storage

    name = _text(params, "name", required=True)
    destination = params.get("destination", "root")
    if destination not in ("root", "s3"):
        raise ValueError("'destination' must be 'root' (the storage root folder) or 's3'")
    preset = _preset(params, required=True)
    return (name, preset, preferred_storage(destination)), {"armature_name": _text(params, "armature")}


def _import_args(params: dict[str, Any]) -> Arguments:
    from ..core.model_files import model_format

    path = Path(_text(params, "path", required=True) or "")
    if not path.is_absolute():
        raise ValueError("'path' must be an absolute path to a model file")
    model_format(path)  # refuses what is not a model file before anything reads it
    return (path,), {}


@dataclass(frozen=True)
class Route:
    module: str  # under addon/blender
    function: str
    arguments: Callable[[dict[str, Any]], Arguments]


ROUTES: dict[str, Route] = {
    "avatar_check_rig": Route("rig_check", "check_rig", _check_rig_args),
    "avatar_export_vrm": Route("vrm_export", "export_vrm", _export_vrm_args),
    "avatar_publish": Route("publish", "publish", _publish_args),
    "avatar_import": Route("avatar_import", "import_avatar", _import_args),
}


def routed(command: str) -> Callable[[dict[str, Any], ServerConfig], Any]:
    route = ROUTES[command]

    def handler(params: dict[str, Any], config: ServerConfig) -> Any:
        args, kwargs = route.arguments(params)  # bad params are the client's error, whatever has landed
        try:
            module = importlib.import_module(f"..blender.{route.module}", __package__)
            function = getattr(module, route.function)
        except (ModuleNotFoundError, AttributeError) as exc:
            missing = getattr(exc, "name", None)
            if isinstance(exc, ModuleNotFoundError) and not (missing or "").endswith(f".blender.{route.module}"):
                raise  # the module is there but itself imports something missing: a real error
            raise NotImplementedError(
                f"{command} is not available yet: this build of Avatar Forge has no "
                f"blender.{route.module}.{route.function}"
            ) from None
        try:
            result = function(*args, **kwargs)
        except Exception as exc:
            report = getattr(exc, "report", None)  # a refused export says why: the rig check's findings
            if report is None or not hasattr(report, "to_json"):
                raise
            findings = report.to_json().get("findings", [])
            details = "; ".join(f"{f.get('severity')}: {f.get('message')}" for f in findings)
            raise RuntimeError(f"{exc}: {details}") from None
        return result.to_json() if hasattr(result, "to_json") else result

    return handler


def list_presets(params: dict[str, Any], config: ServerConfig) -> dict[str, Any]:
    from ..blender.paths import user_presets_dir

    return {"presets": [preset.to_json() for preset in load_presets(user_presets_dir()).values()]}
