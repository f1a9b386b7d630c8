"""What Avatar Forge's MCP server (`forge.py mcp`) adds over calling the socket server directly, in one run:
the same command through the MCP SDK's stdio client -> forge.py mcp -> socket, beside a direct socket
client (the baseline) to the same `forge.py serve` with the demo avatar.

    .venv/bin/python -m bench.bench_mcp [--repeat N] [--detail D]

Cases: check_rig (`avatar_check_rig`), and a 1024x1024 viewport screenshot returned inline as a PNG
(`avatar_viewport_image`; headless it is a render through the scene camera). Calls alternate between the
two paths; prints the median and the best ms of each, the added ms and the ratio.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import anyio
from mcp import ClientSession, StdioServerParameters
from mcp.client.stdio import stdio_client

from addon.mcp_server.connection import Connection
from tests.conftest import FORGE, run_forge
from tests.server.serving import Serving

CASES: tuple[tuple[str, str, dict[str, Any], str, dict[str, Any]], ...] = (
    ("check_rig", "avatar_check_rig", {}, "check_rig", {}),
    (
        "screenshot 1024² inline",
        "avatar_viewport_image",
        {"max_size": 1024},
        "get_viewport_screenshot",
        {"max_size": 1024},
    ),
)


async def _timed(call: Callable[[], Awaitable[object]]) -> float:
    started = time.perf_counter()
    await call()
    return time.perf_counter() - started


async def _bench(port: int, repeat: int) -> None:
    direct = Connection("127.0.0.1", port)
    params = StdioServerParameters(command=sys.executable, args=[str(FORGE), "mcp", "--port", str(port)])
    async with stdio_client(params) as (read, write), ClientSession(read, write) as session:
        await session.initialize()
        print(f"{'case':<26}{'':>4}{'direct ms':>11}{'via MCP ms':>12}{'added ms':>10}{'ratio':>8}")
        for label, command, params_, tool, arguments in CASES:

            async def socket_call(command: str = command, params_: dict[str, Any] = params_) -> object:
                return direct.call(command, params_)

            async def mcp_call(tool: str = tool, arguments: dict[str, Any] = arguments) -> object:
                result = await session.call_tool(tool, arguments)
                assert not result.isError, result
                return result

            await socket_call()
            await mcp_call()  # warm up both paths
            ours, base = [], []
            for _ in range(repeat):  # alternating, so load on a shared machine falls on both alike
                base.append(await _timed(socket_call))
                ours.append(await _timed(mcp_call))
            for stat, pick in (("med", statistics.median), ("best", min)):
                b, o = pick(base) * 1e3, pick(ours) * 1e3
                print(f"{label:<26}{stat:>4}{b:>11.1f}{o:>12.1f}{o - b:>10.1f}{o / b:>8.2f}")
    direct.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=15, help="calls per case and path (median reported)")
    parser.add_argument("--detail", type=int, default=1, help="demo avatar detail (1: about 10k vertices)")
    args = parser.parse_args()
    blend = Path(tempfile.mkdtemp(prefix="bench-mcp-")) / "Avatar.blend"
    made = run_forge("demo-avatar", "--out", blend, "--detail", str(args.detail))
    assert made.code == 0, made.stderr
    with Serving("--blend", blend) as serving:
        anyio.run(_bench, serving.port, args.repeat)
        serving.stop()


if __name__ == "__main__":
    main()
