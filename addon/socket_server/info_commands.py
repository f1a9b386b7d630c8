"""Commands that need no Blender, answered on the network thread: liveness, versions, and the
integrations we do not ship (we send no telemetry; Poly Haven and Hyper3D Rodin, off until the user turns
them on, answer their own status in asset_commands and generator_commands)."""

from __future__ import annotations

from typing import Any

from ..core.version import VERSION
from .config import ServerConfig

# What get_addon_info reports. mcp-for-blender reads `protocol_version` to pick between its newest commands
# and fallbacks; below 15 it warns that the add-on is outdated. 15 is the surface we answer in full.
PROTOCOL_VERSION = 15
# Every other integration BlenderMCP's servers probe. They drop and reopen their socket after any error reply,
# so each probe must succeed, and cheaply: it is answered on the network thread.
INTEGRATIONS = {
    "sketchfab": "Sketchfab",
    "hunyuan3d": "Hunyuan3D",
    "polypizza": "Poly Pizza",
    "meshy": "Meshy",
}


def ping(params: dict[str, Any], config: ServerConfig) -> dict[str, Any]:
    return {"pong": True}


def auth_again(params: dict[str, Any], config: ServerConfig) -> dict[str, Any]:
    # The listener answers the first `auth`; one that reaches a command is never a success.
    if config.token is None:
        raise ValueError("this server takes no token: send no 'auth'")
    raise ValueError("already authenticated: 'auth' is sent once, as the first message")


def telemetry_consent(params: dict[str, Any], config: ServerConfig) -> dict[str, Any]:
    # Avatar Forge sends no telemetry anywhere, and tells MCP servers that ask that the user did not consent.
    return {"consent": False}


def set_telemetry_consent(params: dict[str, Any], config: ServerConfig) -> dict[str, Any]:
    # Acknowledged, never stored: whatever a client sets, consent stays false.
    return {"consent": False}


def world_state_snapshot(params: dict[str, Any], config: ServerConfig) -> dict[str, Any]:
    # Trajectory capture (training data for a third party) gets nothing from us: an empty snapshot.
    return {}


def drain_human_activity(params: dict[str, Any], config: ServerConfig) -> dict[str, Any]:
    # Nothing the artist does in Blender is recorded for trajectory capture.
    return {"events": []}


def integration_status(name: str) -> Any:
    label = INTEGRATIONS[name]

    def status(params: dict[str, Any], config: ServerConfig) -> dict[str, Any]:
        return {
            "enabled": False,
            "message": (
                f"{label} integration is disabled: Avatar Forge's MCP server does not download third-party "
                f"assets. To use {label}, install the BlenderMCP add-on in this Blender, enable {label} in its "
                "sidebar panel, and start that server on another port."
            ),
        }

    return status


def addon_info(capabilities: list[str]) -> Any:
    def info(params: dict[str, Any], config: ServerConfig) -> dict[str, Any]:
        return {
            "name": "Avatar Forge",
            "addon_version": [int(part) for part in VERSION.split(".")],
            "protocol_version": PROTOCOL_VERSION,
            "capabilities": capabilities,
            "blender_version": config.blender_version,
            "premium_generators": [],
        }

    return info
