"""The socket server's limits under the attacks that found them missing: idle connections by the
thousand, unfinished messages eating memory, a flood of pipelined jobs, token guessing. Loopback only,
bounded in count and time."""

from __future__ import annotations

import contextlib
import json
import resource
import socket
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from types import SimpleNamespace

import pytest

from addon.core.wire import protocol
from addon.socket_server import listener as listening_module
from addon.socket_server.audit import AuditLog
from addon.socket_server.config import ServerConfig
from addon.socket_server.listener import (
    MAX_IN_FLIGHT,
    Job,
    Listener,
)
from tests.server.serving import Client, Serving

TOKEN = "limits-token-0123456789"
IDLE_CONNECTIONS = 1100


def _wait_for(condition: Callable[[], bool], what: str, within: float = 10) -> None:
    """Waits until `condition` holds (the server's own state, or a file), failing after `within` s."""
    deadline = time.monotonic() + within
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.005)


@pytest.fixture(scope="module")
def token_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("token") / "token"
    path.write_text(TOKEN + "\n")
    return path


@pytest.fixture(scope="module", autouse=True)
def _enough_file_descriptors() -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    wanted = IDLE_CONNECTIONS + 512
    if soft < wanted:
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(wanted, hard), hard))


def _closed_with(sock: socket.socket, within: float = 5) -> bytes | None:
    """What the server sent before closing `sock` within `within` seconds, or None if it stayed open."""
    sock.settimeout(within)
    data = b""
    try:
        while chunk := sock.recv(65536):
            data += chunk
    except ConnectionResetError:
        pass
    except TimeoutError:
        return None
    return data


@pytest.mark.parametrize("max_connections", [8, None], ids=["small cap", "default cap"])
def test_a_thousand_idle_connections_do_not_lock_out_a_client_with_the_token(token_file, max_connections):
    cap = ["--max-connections", str(max_connections)] if max_connections else []
    with Serving("--token-file", token_file, "--handshake-seconds", "2", *cap) as serving:
        idle = [socket.create_connection(("127.0.0.1", serving.port), timeout=10) for _ in range(IDLE_CONNECTIONS)]
        try:
            friend = serving.client(timeout=10)
            assert friend.result("auth", token=TOKEN) == {"authenticated": True}
            assert friend.result("ping") == {"pong": True}
            # The oldest idle ones were closed to make room, each told why.
            evicted = _closed_with(idle[0])
            assert evicted is not None and b"make room" in evicted
            # The newest still wait, until their handshake deadline passes.
            late = _closed_with(idle[-1], within=10)
            assert late is not None and b"no time left to authenticate (2 s)" in late
            assert friend.result("ping") == {"pong": True}  # the authenticated client is never timed out
        finally:
            for sock in idle:
                sock.close()


def test_when_every_slot_is_authenticated_a_newcomer_is_told_and_closed(token_file):
    with Serving("--token-file", token_file, "--max-connections", "3") as serving:
        friends = [serving.client(timeout=10) for _ in range(3)]
        for friend in friends:
            assert friend.result("auth", token=TOKEN) == {"authenticated": True}
        newcomer = serving.client(timeout=10)
        reply = newcomer.reply()
        assert reply == {"status": "error", "message": "too many connections (at most 3): try again later"}
        assert newcomer.closed_by_server(5)
        assert all(friend.result("ping") == {"pong": True} for friend in friends)


def test_connections_that_ping_once_and_sit_idle_do_not_lock_everyone_out():
    """Every slot taken by a client that sent one ping and went quiet: once they have been idle for
    --idle-seconds (0 here, so no test waits on a clock), a newcomer closes the one idle longest."""
    with Serving("--max-connections", "4", "--idle-seconds", "0") as serving:
        sitters = [serving.client(timeout=10) for _ in range(4)]
        for sitter in sitters:
            assert sitter.result("ping") == {"pong": True}
        newcomer = serving.client(timeout=10)
        assert newcomer.result("ping") == {"pong": True}
        evicted = sitters[0].reply()
        assert evicted["status"] == "error" and "closed to make room for another: idle for" in evicted["message"]
        assert sitters[0].closed_by_server(5)
        assert all(sitter.result("ping") == {"pong": True} for sitter in sitters[1:])


def test_a_client_idle_less_than_the_idle_limit_keeps_its_slot():
    with Serving("--max-connections", "2", "--idle-seconds", "600") as serving:
        sitters = [serving.client(timeout=10) for _ in range(2)]
        for sitter in sitters:
            assert sitter.result("ping") == {"pong": True}
        newcomer = serving.client(timeout=10)
        assert newcomer.reply() == {"status": "error", "message": "too many connections (at most 2): try again later"}
        assert all(sitter.result("ping") == {"pong": True} for sitter in sitters)


def test_a_client_without_a_token_gets_a_deadline_for_its_first_request():
    with Serving("--handshake-seconds", "1") as serving:
        talker, idle = serving.client(timeout=10), serving.client(timeout=10)
        assert talker.result("ping") == {"pong": True}
        assert b"no time left to send a request (1 s)" in (_closed_with(idle.sock, within=10) or b"")
        assert talker.result("ping") == {"pong": True}


def test_over_the_memory_budget_the_largest_unfinished_message_is_refused():
    head = b'{"type": "execute_code", "params": {"code": "#'
    with Serving("--max-buffered-mb", "8") as serving:
        small, large = serving.client(timeout=10), serving.client(timeout=10)
        small.send(head + b"a" * (3 * 1024 * 1024))
        sender = threading.Thread(target=lambda: _send_quietly(large.sock, head + b"b" * (6 * 1024 * 1024)))
        sender.start()
        reply = large.reply()
        sender.join(10)
        assert reply["status"] == "error" and "holds the most" in reply["message"]
        assert large.closed_by_server(5)
        small.send(b'"}}')  # the smaller message was kept whole
        assert small.reply() == {"status": "success", "result": {"executed": True, "result": ""}}


def _send_quietly(sock: socket.socket, data: bytes) -> None:
    with contextlib.suppress(OSError):  # refused and closed mid-send: what the test expects
        sock.sendall(data)


def test_a_wrong_token_never_reaches_the_audit_log(token_file):
    with Serving("--token-file", token_file) as serving:
        guess = serving.client(timeout=60)
        assert guess.request("auth", token="guess-0000-guess-guess") == {
            "status": "error",
            "message": "authentication failed: wrong token",
        }
        serving.stop()
    log = serving.audit_log.read_text()
    assert "authentication failed: wrong token" in log and "guess-" not in log


# Token guessing, in-process against the real listener on a clock only the test moves: which answer is held
# back, and until when, is decided by the listener's arithmetic, never by how busy the machine is.

WRONG = "authentication failed: wrong token"
LOCKED = WRONG + "; too many from 127.0.0.1: each answer now waits"
START = 10_000.0  # the listener's clock when a test begins


class _Guessing:
    """A listener with a token, a client authenticated from the start (`watcher`), and wrong guesses."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch, apart: float) -> None:
        self.now = START

        # Each wrong token moves the clock on by `apart`, as the listener takes it (before it counts it).
        def refused(_peer: str, reason: str) -> None:
            if reason == WRONG:
                self.now += apart

        monkeypatch.setattr(listening_module, "time", SimpleNamespace(monotonic=lambda: self.now, sleep=time.sleep))
        self.listener = Listener(
            ServerConfig(port=0, token=TOKEN),
            lambda _job: None,
            lambda request, _peer: protocol.success({"pong": True}) if request.type == "ping" else None,
            refused,
        )
        self.listener.start()
        self.port = self.listener.address[1]
        self.watcher = Client(self.port, 10)
        assert self.watcher.result("auth", token=TOKEN) == {"authenticated": True}

    def guess(self, n: int) -> Client:
        """A new connection that has sent a wrong token, taken by the listener (its answer out or held)."""
        client = Client(self.port, 10)
        client.send({"type": "auth", "params": {"token": f"guess-{n:04d}-guess-guess"}})
        self.settle()
        return client

    def settle(self) -> None:
        """Three round trips on another connection: whatever came before (a connection accepted, then read,
        then an answer its time has come for) is done, each at most one turn of the listener's loop behind."""
        for _ in range(3):
            assert self.watcher.result("ping") == {"pong": True}

    def at(self, seconds: float) -> None:
        """The listener's clock `seconds` after the test began, and everything due by then answered."""
        self.now = START + seconds
        self.settle()


def _answer_pending(client: Client) -> bool:
    """True while the server has sent nothing back on `client` (nor closed it)."""
    timeout = client.sock.gettimeout()
    client.sock.setblocking(False)
    try:
        client.sock.recv(1, socket.MSG_PEEK)
    except BlockingIOError:
        return True
    finally:
        client.sock.settimeout(timeout)
    return False


@pytest.fixture
def guessing(monkeypatch: pytest.MonkeyPatch) -> Iterator[_Guessing]:
    guessing = _Guessing(monkeypatch, apart=0.0)
    yield guessing
    guessing.listener.stop()


def test_token_guessing_is_slowed_then_answered_one_at_a_time_while_the_right_token_gets_in(guessing):
    free = [guessing.guess(n) for n in range(3)]
    assert [client.reply() for client in free] == [{"status": "error", "message": WRONG}] * 3
    slowed = [guessing.guess(n) for n in range(3, 10)]  # the 10th wrong token locks the host
    # Locked: the right token still gets in at once, and two guesses in parallel wait one after the other.
    assert Client(guessing.port, 10).result("auth", token=TOKEN) == {"authenticated": True}
    queued = [guessing.guess(n) for n in (10, 11)]
    # When each answer goes out, in seconds (all ten guesses came at once): twice the wait of the one before from the
    # fourth (0.25 s), 4 s at most; locked, each 4 s after the one before it, on whichever connection.
    due = list(zip([*slowed, *queued], [0.25, 0.5, 1, 2, 4, 4, 4, 8, 12], strict=True))
    for moment in sorted({when for _, when in due}):
        guessing.at(moment - 0.01)
        assert [when for client, when in due if not _answer_pending(client)] == [w for _, w in due if w < moment]
        guessing.at(moment)
        assert [when for client, when in due if not _answer_pending(client)] == [w for _, w in due if w <= moment]
    assert [client.reply()["message"] for client, _ in due] == [WRONG] * 6 + [LOCKED] * 3


@pytest.mark.parametrize(
    ("apart", "locked"),
    [(1.0, True), (599.0, True), (601.0, False)],
    ids=["1 s apart", "599 s apart", "601 s apart"],
)
def test_wrong_tokens_count_together_until_ten_minutes_pass_between_two(monkeypatch, apart, locked):
    """Ten wrong tokens lock the host when each follows the one before within ten minutes (each counts),
    and never when more than ten minutes pass between any two (each is forgotten by the next)."""
    guessing = _Guessing(monkeypatch, apart=apart)
    try:
        guesses = [guessing.guess(n) for n in range(10)]
        guessing.at(10 * apart + 60)  # every held answer is due
        messages = [client.reply()["message"] for client in guesses]
    finally:
        guessing.listener.stop()
    assert messages == [WRONG] * 9 + [LOCKED if locked else WRONG]


# In-process: the real listener with the test as its main thread, so the queue can be watched exactly.


class _Queue:
    def __init__(self) -> None:
        self.jobs: list[Job] = []

    def submit(self, job: Job) -> None:
        self.jobs.append(job)

    def of(self, connection: int) -> list[Job]:
        return [job for job in list(self.jobs) if job.connection == connection]


@pytest.fixture
def listening() -> Iterator[tuple[Listener, _Queue]]:
    queue = _Queue()
    listener = Listener(ServerConfig(port=0, max_queued=12), queue.submit, lambda _request, _peer: None)
    listener.start()
    yield listener, queue
    listener.stop()


def _execute(n: int) -> bytes:
    return json.dumps({"type": "execute_code", "params": {"code": f"print({n})"}}).encode()


def test_one_write_of_hundreds_of_requests_queues_only_a_few_at_a_time(listening):
    listener, queue = listening
    flood, other = Client(listener.address[1], 10), Client(listener.address[1], 10)
    flood.send(b"".join(_execute(n) for n in range(300)))
    _wait_for(lambda: len(queue.jobs) == MAX_IN_FLIGHT, "the flood's first jobs")
    other.send(_execute(-1))
    _wait_for(lambda: any(job.message == protocol.Request("execute_code", {"code": "print(-1)"}) for job in queue.jobs),
              "the other client's job")  # fmt: skip
    flooded = queue.jobs[0].connection
    assert len(queue.of(flooded)) == MAX_IN_FLIGHT  # the other client waits behind 8 jobs, not 300
    # As replies go back, the rest follow, all answered, in order.
    for n in range(300):

        def queued(n: int = n) -> bool:
            return len(queue.of(flooded)) > n

        _wait_for(queued, f"flood job {n}")
        listener.send(flooded, protocol.success(n))
        assert flood.reply()["result"] == n


def test_past_the_global_queue_cap_a_client_is_told_busy_and_earlier_replies_keep_their_order(listening):
    listener, queue = listening
    clients = [Client(listener.address[1], 10) for _ in range(3)]
    for client in clients[:2]:
        client.send(b"".join(_execute(n) for n in range(10)))
    _wait_for(lambda: len(queue.jobs) == 12, "a full queue")  # 8 from one, 4 from the other
    clients[2].send(_execute(99))
    assert clients[2].reply() == {
        "status": "error",
        "message": "busy: 12 commands are waiting for Blender; try again shortly",
    }
    connections = {job.connection for job in queue.jobs}
    for answered in range(1, 21):  # answer whatever is queued; the held requests follow, none lost or reordered
        job = next(job for job in queue.jobs if job.connection in connections)
        queue.jobs.remove(job)
        assert isinstance(job.message, protocol.Request)
        listener.send(job.connection, protocol.success(int(job.message.params["code"][6:-1])))
        if answered < 20:
            _wait_for(lambda: bool(queue.jobs), "the next job")
    assert [clients[0].reply()["result"] for _ in range(10)] == list(range(10))
    assert [clients[1].reply()["result"] for _ in range(10)] == list(range(10))


def test_a_client_that_leaves_has_its_queued_jobs_cancelled(listening):
    listener, queue = listening
    leaver = Client(listener.address[1], 10)
    leaver.send(_execute(1) + _execute(2))
    _wait_for(lambda: len(queue.jobs) == 2, "the jobs")
    leaver.close()
    assert all(job.gone.wait(5) for job in queue.jobs)


def test_the_dispatcher_runs_nothing_for_a_client_that_has_left(tmp_path):
    from addon.socket_server.dispatcher import Dispatcher  # imports bpy (the command table)

    replies: list[tuple[int, bytes]] = []
    marker = tmp_path / "ran"
    dispatcher = Dispatcher(ServerConfig(port=0), AuditLog(None), lambda c, data: replies.append((c, data)))
    gone = Job(1, "127.0.0.1:1", protocol.Request("execute_code", {"code": f"open({str(marker)!r}, 'w')"}))
    gone.gone.set()
    dispatcher.submit(gone)
    dispatcher.submit(Job(2, "127.0.0.1:2", protocol.Request("ping")))
    assert dispatcher.pump() == 1
    assert [c for c, _ in replies] == [2] and not marker.exists()


def test_an_error_never_shows_a_memory_address(monkeypatch):
    from addon.socket_server import dispatcher as dispatching
    from addon.socket_server.commands import SocketCommand

    def leaky(params: object, config: object) -> None:
        raise ValueError(f"cannot use {dispatching.Dispatcher.pump!r} on {object()!r}")

    monkeypatch.setitem(dispatching.COMMANDS, "leaky", SocketCommand(leaky))
    dispatcher = dispatching.Dispatcher(ServerConfig(port=0), AuditLog(None), lambda _c, _d: None)
    reply = json.loads(dispatcher.execute(protocol.Request("leaky"), "127.0.0.1:1"))
    assert reply["status"] == "error" and "cannot use <function Dispatcher.pump" in reply["message"]
    assert "0x" not in reply["message"]
