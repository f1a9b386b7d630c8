"""BlenderMCP's wire format: one JSON object per message, no length prefix, no separator.

Requests are `{"type": NAME, "params": {...}}`; replies `{"status": "success", "result": ...}` or
`{"status": "error", "message": ...}`. The decoder finds where each object ends with a small scanner
(strings, escapes and a stack of open brackets; every structural character is ASCII, so UTF-8 needs no
care here). Scanning resumes where it stopped, so a large message arriving in many reads costs one pass,
not one parse per read; two requests in one read come out as two, in order; the buffer never holds more
than one unfinished message, capped in size.

What the scanner refuses for size (too deep, too many values) it reports once the message ends at its
top level. A mismatched bracket (a `}` closing a `[`) ends the message where it stands: its brackets no
longer say where it ends, and counting on would swallow the requests after it. The rest up to the next
`{` is skipped without another reply, so either way the stream resynchronises at the next object. A connection's first
non-whitespace byte must be `{`: anything else (an HTTP request a web page sent, say) is refused before
anything is parsed. A large message is not parsed on the network thread: it comes out as a RawMessage,
parsed later by `parse` in slices that each hold the interpreter only briefly.
"""

from __future__ import annotations

import json
import re
import secrets
from array import array
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any, Final

MAX_MESSAGE_BYTES: Final = 64 * 1024 * 1024
# Generous for any request (they nest a few levels and hold a handful of values), and far below what
# makes parsing slow: json needs about 0.5 s per million values, all of it holding the interpreter.
MAX_DEPTH: Final = 256
MAX_VALUES: Final = 100_000
# Messages up to this size are parsed at once (well under a millisecond); larger ones become RawMessage.
INLINE_PARSE_BYTES: Final = 1024 * 1024
AUTH_COMMAND: Final = "auth"
LAB_EXECUTE: Final = "execute"
ECHO_CHARS: Final = 80

_STRUCTURE = re.compile(rb'[{}\[\]",]')
# A string's body up to its closing quote, escapes included, in one C-level match (possessive: no
# backtracking); it stops early only at a lone backslash whose escaped byte has not arrived yet.
_STRING_BODY = re.compile(rb'(?:[^"\\]++|\\.)*+', re.DOTALL)
_START = re.compile(rb"\S")
_BLANK = re.compile(rb"[ \t\r\n]*")
_HTTP = re.compile(rb"(GET|POST|PUT|HEAD|OPTIONS|DELETE|PATCH|CONNECT|TRACE|PRI) ")
_DECODER = json.JSONDecoder()
_CLOSER = {ord("}"): ord("{"), ord("]"): ord("[")}
# Strings longer than this are cut out of a RawMessage before its skeleton is parsed, and decoded in
# slices of about SLICE_BYTES: with MAX_VALUES the skeleton stays a few MB, each slice a few ms.
_LONG_STRING = 64
_SLICE_BYTES = 1024 * 1024


@dataclass(frozen=True)
class Request:
    type: str
    params: dict[str, Any] = field(default_factory=dict)
    # Blender Lab's official MCP dialect: `{"type": "execute", "code": ..., "strict_json": ...}` then NUL, one
    # request per connection, answered `{"status": "ok"|"error", "result": ...}` then NUL. It runs as
    # execute_code, behind the same policy, token and audit log.
    lab: bool = False


@dataclass(frozen=True)
class BadMessage:
    """A message that could not be a request; it gets an error reply and the stream goes on."""

    message: str


@dataclass(frozen=True)
class RawMessage:
    """A complete, well-bracketed message too large to parse on the network thread: `parse` it later.
    `strings` holds start, end, start, end... offsets of its long strings, quotes included: a flat
    array, not tuples, so 100,000 of them give the garbage collector nothing to walk."""

    data: bytes
    strings: array[int] = field(default_factory=lambda: array("q"))

    def spans(self) -> Iterator[tuple[int, int]]:
        return zip(self.strings[::2], self.strings[1::2], strict=True)


class StreamRefusedError(Exception):
    """The connection is to be answered with this error and closed. `kind` names it in the audit log."""

    kind = "refused"


class MessageTooLargeError(StreamRefusedError):
    """An unfinished message outgrew the cap."""

    kind = "message too large"


class NotJsonError(StreamRefusedError):
    """A connection began with something other than a JSON object (an HTTP request, say)."""

    kind = "not a JSON request"


def echo(value: object, limit: int = ECHO_CHARS) -> str:
    """`value` for an error message: at most `limit` characters, and a note of how long it really was."""
    text = value if isinstance(value, str) else repr(value)
    if len(text) <= limit:
        return text
    return f"{text[:limit]}... ({len(text)} characters)"


def _request(value: Any) -> Request | BadMessage:
    if not isinstance(value, dict) or not isinstance(value.get("type"), str):
        return BadMessage('a request is a JSON object with a string "type"')
    if value["type"] == LAB_EXECUTE and "params" not in value:  # no BlenderMCP command is named so
        return Request("execute_code", {"code": value.get("code"), "strict_json": value.get("strict_json")}, lab=True)
    params = value.get("params")
    if params is None:
        params = {}
    if not isinstance(params, dict):
        return BadMessage('"params" must be a JSON object')
    return Request(value["type"], params)


def _loads(text: str) -> Any:
    """json's value, or raises ValueError (a 5,000-digit integer is one, not only malformed JSON)."""
    value, _end = _DECODER.raw_decode(text)
    return value


def _parse_small(raw: bytes) -> Request | BadMessage:
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        return BadMessage(f"message is not valid UTF-8 ({exc.reason} at byte {exc.start})")
    try:
        return _request(_loads(text))
    except (ValueError, RecursionError) as exc:
        return BadMessage(f"malformed JSON: {echo(str(exc), 200)}")


def _safe_cut(data: memoryview, at: int) -> int:
    """The first offset at or after `at` where a JSON string body may be cut: not inside an escape
    (none starts in the six bytes before it) nor inside a UTF-8 sequence."""
    while at < len(data):
        if b"\\" not in bytes(data[max(0, at - 6) : at]) and not 0x80 <= data[at] < 0xC0:
            return at
        at += 1
    return len(data)


def _decode_strings(raw: bytes, spans: Iterator[tuple[int, int]]) -> list[str]:
    """The decoded strings at `spans`, a slice of about _SLICE_BYTES per json call."""
    out: list[str] = []
    batch: list[bytes] = []
    size = 0

    def flush() -> None:
        nonlocal size
        if batch:
            out.extend(json.loads(b"[" + b",".join(batch) + b"]"))
            batch.clear()
            size = 0

    for start, end in spans:
        if end - start <= _SLICE_BYTES:
            batch.append(raw[start:end])
            size += end - start
            if size >= _SLICE_BYTES:
                flush()
            continue
        flush()
        body, parts, at = memoryview(raw)[start + 1 : end - 1], [], 0  # no copy of a long string
        while at < len(body):
            cut = _safe_cut(body, at + _SLICE_BYTES)
            parts.append(json.loads(b'"' + body[at:cut] + b'"'))
            at = cut
        out.append("".join(parts))  # no cut splits an escape, so no surrogate pair is split either
    flush()
    return out


def _substitute(value: Any, strings: dict[str, str]) -> Any:
    if isinstance(value, str):
        return strings.get(value, value)
    if isinstance(value, list):
        return [_substitute(v, strings) for v in value]
    if isinstance(value, dict):
        return {strings.get(k, k): _substitute(v, strings) for k, v in value.items()}
    return value


def parse(message: RawMessage) -> Request | BadMessage:
    """A RawMessage's request. Its long strings are decoded a slice at a time and its skeleton (the
    message with each long string replaced by a short marker) in one go, so no single step holds the
    interpreter for long: other threads (the network thread answering pings) run in between."""
    raw, nonce = message.data, secrets.token_hex(8)
    pieces, last = [], 0
    markers = []
    for i, (start, end) in enumerate(message.spans()):
        marker = f"\0{nonce}:{i}"
        markers.append(marker)
        pieces += [raw[last:start], json.dumps(marker).encode()]
        last = end
    pieces.append(raw[last:])
    try:
        strings = dict(zip(markers, _decode_strings(raw, message.spans()), strict=True))
        skeleton = _loads(b"".join(pieces).decode("utf-8"))
    except UnicodeDecodeError as exc:
        return BadMessage(f"message is not valid UTF-8 ({exc.reason})")
    except (ValueError, RecursionError) as exc:
        return BadMessage(f"malformed JSON: {echo(str(exc), 200)}")
    return _request(_substitute(skeleton, strings))


def refusal(data: bytes) -> str:
    """Why a connection that begins with `data` (not '{') is refused: HTTP methods by name."""
    http = _HTTP.match(data)
    if http:
        method = http.group(1).decode()
        return (
            f"an HTTP {method} request: this port speaks BlenderMCP's socket protocol (one JSON object per "
            "message), not HTTP"
        )
    return f"a connection must begin with a JSON object ('{{'), not {echo(bytes(data[:16]))}"


class RequestDecoder:
    """Turns the bytes of one connection into requests, in order, whatever the read boundaries.

    `feed` adds bytes; `next` returns one message at a time, so a caller can stop taking them (the
    rest stay buffered) while earlier ones are still being answered.
    """

    def __init__(self, max_bytes: int = MAX_MESSAGE_BYTES, max_depth: int = MAX_DEPTH) -> None:
        self.max_bytes = max_bytes
        self.max_depth = max_depth
        self._buffer = bytearray()
        self._started = False  # a first '{' was seen: later garbage is skipped, not refused
        self._resync = False  # a message ended at a mismatch: what is left of it is skipped silently
        self._start = -1  # offset of the current message's '{', -1 between messages
        self._scanned = 0  # how far the current message has been scanned
        self._stack = bytearray()  # open brackets, up to max_depth
        self._depth = 0
        self._in_string = False
        self._string_start = 0
        self._values = 1  # the message itself; see _structure
        self._last = -1  # offset of the last structural character taken
        self._strings = array("q")
        self._problem: str | None = None  # why the current message is refused, once it ends

    @property
    def pending_bytes(self) -> int:
        return len(self._buffer)

    def feed(self, data: bytes) -> None:
        self._buffer += data

    def next(self) -> Request | BadMessage | RawMessage | None:
        """The next complete message, or None until more bytes arrive.

        Raises NotJsonError when the connection did not begin with '{', MessageTooLargeError when a
        message outgrows the cap.
        """
        if self._start < 0:
            found = self._begin()
            if found is not None or self._start < 0:
                return found
        end = self._scan()
        if end is None:
            if len(self._buffer) - self._start > self.max_bytes:
                raise MessageTooLargeError(f"message larger than {self.max_bytes} bytes")
            return None
        if end - self._start > self.max_bytes:
            raise MessageTooLargeError(f"message larger than {self.max_bytes} bytes")
        start, problem, strings = self._start, self._problem, self._strings
        with memoryview(self._buffer) as view:  # one copy of a large message, not two
            raw = bytes(view[start:end])
        del self._buffer[:end]
        self._reset()
        if problem is not None:
            return BadMessage(problem)
        if len(raw) <= INLINE_PARSE_BYTES:
            return _parse_small(raw)
        return RawMessage(raw, array("q", (offset - start for offset in strings)))

    def feed_all(self, data: bytes) -> list[Request | BadMessage]:
        """Every complete message `data` finishes, each parsed (RawMessages too): tests and simple callers."""
        self.feed(data)
        out: list[Request | BadMessage] = []
        while (message := self.next()) is not None:
            out.append(parse(message) if isinstance(message, RawMessage) else message)
        return out

    def _reset(self) -> None:
        self._start, self._scanned, self._depth, self._values, self._last = -1, 0, 0, 1, -1
        self._stack.clear()
        self._strings = array("q")
        self._in_string, self._problem = False, None

    def _begin(self) -> BadMessage | None:
        """Finds where the next message begins; bytes before it that are not whitespace are garbage."""
        first = _START.search(self._buffer)
        if first is not None and self._resync and self._buffer[first.start()] != ord("{"):
            # The tail of a message already answered: dropped without a reply of its own.
            brace = self._buffer.find(b"{", first.start())
            del self._buffer[: brace if brace >= 0 else len(self._buffer)]
            first = _START.search(self._buffer)
        if first is None:
            self._buffer.clear()
            return None
        self._resync = False
        if self._buffer[first.start()] == ord("{"):
            del self._buffer[: first.start()]
            self._start, self._scanned, self._started = 0, 0, True
            return None
        if not self._started:
            raise NotJsonError(refusal(bytes(self._buffer[first.start() : first.start() + 64])))
        brace = self._buffer.find(b"{", first.start())
        del self._buffer[: brace if brace >= 0 else len(self._buffer)]
        return BadMessage("malformed JSON: a request must start with '{'")

    def _refuse(self, problem: str) -> None:
        if self._problem is None:
            self._problem = problem

    def _scan(self) -> int | None:
        """The end offset of the current message, or None when it has not ended yet."""
        buffer, pos = self._buffer, max(self._scanned, self._start)
        while True:
            if self._in_string:
                end = _STRING_BODY.match(buffer, pos).end()  # type: ignore[union-attr]  # it matches ""
                if end >= len(buffer) or buffer[end] != ord('"'):  # the rest has not arrived yet
                    self._scanned = end
                    return None
                self._in_string = False
                pos = end + 1
                if pos - self._string_start > _LONG_STRING and self._problem is None:
                    self._strings.extend((self._string_start, pos))
                continue
            hit = _STRUCTURE.search(buffer, pos)
            if hit is None:
                self._scanned = len(buffer)
                return None
            pos = hit.end()
            if self._structure(buffer[hit.start()], hit.start()):
                return pos

    def _structure(self, char: int, at: int) -> bool:
        """Takes one structural character outside strings; True when it ends the message.

        Values are counted exactly (an object member is one value, its key none): the message itself,
        one per comma, and each bracket's first value, taken back when the bracket closes empty."""
        last, self._last = self._last, at
        if char == ord('"'):
            self._in_string, self._string_start = True, at
            return False
        if char == ord(","):
            self._values += 1
        elif char in b"{[":
            self._values += 1
            self._depth += 1
            if self._depth <= self.max_depth:
                self._stack.append(char)
            else:
                self._refuse(f"malformed JSON: nested deeper than {self.max_depth} levels")
            return False  # it may close empty: counted once its first value or its end is seen
        else:
            if self._depth == len(self._stack) and self._stack.pop() != _CLOSER[char]:
                self._refuse(f"malformed JSON: '{chr(char)}' closes a bracket it does not match")
                self._resync = True
                return True
            if last >= 0 and self._buffer[last] in b"{[" and _blank(self._buffer, last + 1, at):
                self._values -= 1
            self._depth -= 1
        if self._values > MAX_VALUES:
            self._refuse(f"message holds more than {MAX_VALUES} JSON values")
        return self._depth == 0


def _blank(buffer: bytearray, start: int, end: int) -> bool:
    """Whether buffer[start:end] is JSON whitespace only (read in place, not copied)."""
    return _BLANK.match(buffer, start, end).end() == end  # type: ignore[union-attr]  # it matches ""


def success(result: Any) -> bytes:
    return _encode({"status": "success", "result": result})


def error(message: str) -> bytes:
    return _encode({"status": "error", "message": message})


def lab_reply(ok: bool, result: Any) -> bytes:
    """A reply in Blender Lab's dialect: its JSON object, then NUL."""
    return _encode({"status": "ok" if ok else "error", "result": result}) + b"\0"


def _encode(reply: dict[str, Any]) -> bytes:
    """Compact UTF-8 JSON; a result that JSON cannot hold becomes an error reply, never a broken stream."""
    try:
        return json.dumps(reply, separators=(",", ":"), allow_nan=False).encode("utf-8")
    except (TypeError, ValueError) as exc:
        return json.dumps({"status": "error", "message": f"reply cannot be sent as JSON: {exc}"}).encode("utf-8")
