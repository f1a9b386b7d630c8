"""The command table: every type a client may send, its handler, and whether it needs Blender's main
thread. Unknown params are ignored by the BlenderMCP commands and refused by the structured scene commands
(their schemas are strict); unknown types get BlenderMCP's own error."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from ..core.wire.protocol import echo
from . import (
    asset_commands,
    avatar_commands,
    edit_commands,
    generator_commands,
    image_commands,
    info_commands,
    scene_commands,
    scene_items,
)
from .config import ServerConfig

Handler = Callable[[dict[str, Any], ServerConfig], Any]


def _nothing(result: Any) -> list[str]:
    return []


@dataclass(frozen=True)
class SocketCommand:
    run: Handler
    main_thread: bool = True  # False: touches no bpy, answered on the network thread when nothing is queued
    wrote: Callable[[Any], list[str]] = _nothing  # the files a successful run wrote, for the audit log


def _result_path(key: str) -> Callable[[Any], list[str]]:
    return lambda result: [str(result[key])] if isinstance(result, dict) and result.get(key) else []


def _table() -> dict[str, SocketCommand]:
    table = {
        "get_scene_info": SocketCommand(scene_commands.get_scene_info),
        "get_object_info": SocketCommand(scene_commands.get_object_info),
        "get_viewport_screenshot": SocketCommand(
            scene_commands.get_viewport_screenshot, wrote=_result_path("filepath")
        ),
        "execute_code": SocketCommand(scene_commands.execute_code),
        "list_scene_items": SocketCommand(scene_items.list_scene_items),
        "pick_viewport_object": SocketCommand(scene_items.pick_viewport_object),
        "ping": SocketCommand(info_commands.ping, main_thread=False),
        "auth": SocketCommand(info_commands.auth_again, main_thread=False),
        "get_telemetry_consent": SocketCommand(info_commands.telemetry_consent, main_thread=False),
        "set_telemetry_consent": SocketCommand(info_commands.set_telemetry_consent, main_thread=False),
        "get_world_state_snapshot": SocketCommand(info_commands.world_state_snapshot, main_thread=False),
        "drain_human_activity": SocketCommand(info_commands.drain_human_activity, main_thread=False),
        **{
            f"get_{name}_status": SocketCommand(info_commands.integration_status(name), main_thread=False)
            for name in info_commands.INTEGRATIONS
        },
        **{name: SocketCommand(run) for name, run in edit_commands.COMMANDS.items()},
        "get_polyhaven_status": SocketCommand(asset_commands.status, main_thread=False),
        "get_polyhaven_categories": SocketCommand(asset_commands.categories),
        "search_polyhaven_assets": SocketCommand(asset_commands.search),
        "download_polyhaven_asset": SocketCommand(asset_commands.download, wrote=asset_commands.written),
        "set_texture": SocketCommand(asset_commands.set_texture),
        "get_hyper3d_status": SocketCommand(generator_commands.status, main_thread=False),
        "create_rodin_job": SocketCommand(generator_commands.create_job),
        "poll_rodin_job_status": SocketCommand(generator_commands.poll_job),
        "import_generated_asset": SocketCommand(generator_commands.import_asset),
        "avatar_list_presets": SocketCommand(avatar_commands.list_presets),
        "avatar_viewport_image": SocketCommand(image_commands.viewport_image),
        "avatar_render_preview": SocketCommand(image_commands.render_preview),
        **{
            name: SocketCommand(avatar_commands.routed(name), wrote=avatar_commands.written(name))
            for name in avatar_commands.ROUTES
        },
    }
    table["get_addon_info"] = SocketCommand(
        info_commands.addon_info(sorted([*table, "get_addon_info"])), main_thread=False
    )
    return table


COMMANDS: dict[str, SocketCommand] = _table()


def unknown(command: str) -> str:
    return f"Unknown command type: {echo(command)}"
