"""Round trips through the MCP socket server, beside the same client's round trips to a plain TCP echo
server in the same run (the floor: what the client, the loopback and Python threads cost anyway).

    .venv/bin/python -m bench.bench_server [--requests N]

Cases: `ping` (answered on the network thread), `get_scene_info` on a 10- and a 1000-object scene (run on
Blender's main thread), each with one client and with 16 clients at once. Prints median and p99 in ms
and each as a ratio to the echo floor measured with the same number of clients.

Then one client's `ping` round trips while another client sends a 40 MB message and waits for its reply
(one long string; and 99,000 strings, near the most values a message may hold), beside the same client's
idle `ping` in the same run: a large message must not stall everyone else.
"""

from __future__ import annotations

import argparse
import json
import socket
import statistics
import threading
import time

from tests.server.serving import Client, Serving

CLIENTS = (1, 16)


def _echo_server() -> tuple[socket.socket, int]:
    """Echoes every read back unchanged: a JSON request comes back as one JSON 'reply'."""
    listener = socket.create_server(("127.0.0.1", 0), backlog=64)

    def serve(conn: socket.socket) -> None:
        with conn:
            conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            while data := conn.recv(65536):
                conn.sendall(data)

    def accept() -> None:
        while True:
            try:
                conn, _ = listener.accept()
            except OSError:
                return
            threading.Thread(target=serve, args=(conn,), daemon=True).start()

    threading.Thread(target=accept, daemon=True).start()
    return listener, listener.getsockname()[1]


def _round_trips(port: int, request: dict[str, object], clients: int, per_client: int) -> list[float]:
    """Seconds per request/reply, over every client, all clients running at once."""
    payload = json.dumps(request).encode()
    times: list[float] = []
    lock = threading.Lock()
    start = threading.Barrier(clients)

    def work() -> None:
        client = Client(port)
        client.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        mine = []
        start.wait()
        for _ in range(per_client):
            began = time.perf_counter()
            client.send(payload)
            client.reply()
            mine.append(time.perf_counter() - began)
        client.close()
        with lock:
            times.extend(mine)

    threads = [threading.Thread(target=work) for _ in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return times


def _p99(values: list[float]) -> float:
    return statistics.quantiles(values, n=100)[98]


PING = json.dumps({"type": "ping", "params": {}}).encode()


def _pings_while(port: int, big: bytes | None, count: int) -> list[float]:
    """One client's ping round trips: `count` of them idle, or as many as fit while another client
    sends `big` and reads its reply."""
    pinger = Client(port)
    pinger.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    done = threading.Event()
    times: list[float] = []

    def send() -> None:
        assert big is not None
        sender = Client(port)
        sender.send(big)
        assert sender.reply()["status"] == "success"
        sender.close()
        done.set()

    if big is not None:
        threading.Thread(target=send, daemon=True).start()
    while (len(times) < count) if big is None else not done.is_set():
        began = time.perf_counter()
        pinger.send(PING)
        pinger.reply()
        times.append(time.perf_counter() - began)
    pinger.close()
    return times


def _large_messages(port: int, megabytes: int) -> None:
    size = megabytes * 1_000_000
    one_string = json.dumps({"type": "ping", "params": {"blob": "x = 1\n" * (size // 7)}}).encode()
    strings = json.dumps({"type": "ping", "params": {"blobs": ["y" * (size // 99_000 - 3)] * 99_000}}).encode()
    idle = _pings_while(port, None, 400)
    base_med, base_p99 = statistics.median(idle) * 1e3, _p99(idle) * 1e3
    print(f"\n{'ping while another client sends':<40}{'pings':>7}{'median ms':>11}{'p99 ms':>9}{'max ms':>9}"
          f"{'x idle median':>15}{'x idle p99':>12}")  # fmt: skip
    print(f"{'nothing (idle)':<40}{len(idle):>7}{base_med:>11.3f}{base_p99:>9.3f}{max(idle) * 1e3:>9.3f}"
          f"{1.0:>15.1f}{1.0:>12.1f}")  # fmt: skip
    for name, message in ((f"one {len(one_string) / 1e6:.0f} MB string", one_string),
                          (f"99,000 strings, {len(strings) / 1e6:.0f} MB", strings)):  # fmt: skip
        times = _pings_while(port, message, 0)
        med, p99, worst = statistics.median(times) * 1e3, _p99(times) * 1e3, max(times) * 1e3
        print(f"{name:<40}{len(times):>7}{med:>11.3f}{p99:>9.3f}{worst:>9.3f}"
              f"{med / base_med:>15.1f}{p99 / base_p99:>12.1f}")  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=400, help="round trips per case (split over clients)")
    parser.add_argument("--large-mb", type=int, default=40, help="size of the large messages (default 40 MB)")
    args = parser.parse_args()

    echo, echo_port = _echo_server()
    with Serving() as serving:
        setup = serving.client()

        def scene(n: int) -> None:
            code = (
                "for o in list(bpy.data.objects): bpy.data.objects.remove(o)\n"
                f"for i in range({n}):\n"
                "    o = bpy.data.objects.new(f'Thing{i:04d}', None)\n"
                "    bpy.context.scene.collection.objects.link(o)\n"
            )
            setup.result("execute_code", code=code)
            assert setup.result("get_scene_info")["object_count"] == n

        cases: list[tuple[str, dict[str, object], int | None]] = [("ping", {"type": "ping", "params": {}}, None)]
        cases += [(f"get_scene_info {n} objects", {"type": "get_scene_info", "params": {}}, n) for n in (10, 1000)]
        print(f"{'case':<30}{'clients':>8}{'median ms':>11}{'p99 ms':>9}{'echo median':>13}{'echo p99':>10}"
              f"{'x median':>10}{'x p99':>8}")  # fmt: skip
        for name, request, objects in cases:
            if objects is not None:
                scene(objects)
            for clients in CLIENTS:
                per_client = max(args.requests // clients, 5)
                _round_trips(serving.port, request, clients, 5)  # warm up
                ours = _round_trips(serving.port, request, clients, per_client)
                floor = _round_trips(echo_port, request, clients, per_client)
                med, p99 = statistics.median(ours) * 1e3, _p99(ours) * 1e3
                fmed, fp99 = statistics.median(floor) * 1e3, _p99(floor) * 1e3
                print(f"{name:<30}{clients:>8}{med:>11.3f}{p99:>9.3f}{fmed:>13.3f}{fp99:>10.3f}"
                      f"{med / fmed:>10.1f}{p99 / fp99:>8.1f}")  # fmt: skip
        _large_messages(serving.port, args.large_mb)
        serving.stop()
    echo.close()


if __name__ == "__main__":
    main()
