"""Blender Lab's official MCP dialect, answered on the same listener: its `execute` request runs as
execute_code (same policy, token and audit log), and its reply carries what the code printed, or with
`strict_json` that output parsed as the one JSON value it must be."""

from __future__ import annotations

import json
from typing import Any

from ..core.wire import protocol
from ..core.wire.protocol import Request, echo

AUDIT_TYPE = "execute (Blender Lab dialect)"


def _no_constants(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def reply(request: Request, result: Any, error: str | None) -> bytes:
    if error is not None:
        return protocol.lab_reply(False, error)
    printed = result.get("result", "") if isinstance(result, dict) else ""
    if request.params.get("strict_json") is not True:
        return protocol.lab_reply(True, printed)
    try:
        return protocol.lab_reply(True, json.loads(printed, parse_constant=_no_constants))
    except ValueError:
        return protocol.lab_reply(
            False, f"strict_json: the code must print exactly one JSON value; it printed {echo(printed)!r}"
        )
