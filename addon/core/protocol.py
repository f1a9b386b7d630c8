"""BlenderMCP's wire format: one JSON object per message, no length prefix, no separator.

Requests are `{"type": NAME, "params": {...}}`; replies `{"status": "success", "result": ...}` or
`{"status": "error", "message": ...}`. The decoder finds where each object ends with a small scanner
(strings, escapes and bracket depth; every structural character is ASCII, so UTF-8 needs no care here),
then parses that slice with `json.JSONDecoder.raw_decode`. Scanning resumes where it stopped, so a
large message arriving in many reads costs one pass, not one parse per read; two requests in one read
come out as two, in order; the buffer never holds more than one unfinished message, capped in size.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any, Final

MAX_MESSAGE_BYTES: Final = 64 * 1024 * 1024
AUTH_COMMAND: Final = "auth"

_STRUCTURE = re.compile(rb'[{}\[\]"]')
_STRING_END = re.compile(rb'["\\]')
_START = re.compile(rb"\S")
_DECODER = json.JSONDecoder()


@dataclass(frozen=True)
class Request:
    type: str
    params: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class BadMessage:
    """A message that could not be a request; it gets an error reply and the stream goes on."""

    message: str


class MessageTooLargeError(Exception):
    """An unfinished message outgrew the cap: the connection is to be refused and closed."""


def _request(text: str) -> Request | BadMessage:
    try:
        value, _end = _DECODER.raw_decode(text)
    except json.JSONDecodeError as exc:
        return BadMessage(f"malformed JSON: {exc}")
    if not isinstance(value, dict) or not isinstance(value.get("type"), str):
        return BadMessage('a request is a JSON object with a string "type"')
    params = value.get("params")
    if params is None:
        params = {}
    if not isinstance(params, dict):
        return BadMessage('"params" must be a JSON object')
    return Request(value["type"], params)


class RequestDecoder:
    """Turns the bytes of one connection into requests, in order, whatever the read boundaries."""

    def __init__(self, max_bytes: int = MAX_MESSAGE_BYTES) -> None:
        self.max_bytes = max_bytes
        self._buffer = bytearray()
        self._scanned = 0  # bytes of the current message already scanned
        self._depth = 0
        self._in_string = False

    @property
    def pending_bytes(self) -> int:
        return len(self._buffer)

    def feed(self, data: bytes) -> list[Request | BadMessage]:
        """Every complete message so far; raises MessageTooLargeError when one is over the cap."""
        self._buffer += data
        messages: list[Request | BadMessage] = []
        while True:
            end = self._scan()
            if end is None:
                break
            if end > self.max_bytes:
                raise MessageTooLargeError(f"message larger than {self.max_bytes} bytes")
            # Whitespace before the object (a newline after the previous one) is no part of it; raw_decode
            # would call it malformed.
            raw = bytes(self._buffer[:end]).lstrip()
            del self._buffer[:end]
            self._scanned = 0
            try:
                text = raw.decode("utf-8")
            except UnicodeDecodeError as exc:
                messages.append(BadMessage(f"message is not valid UTF-8 ({exc.reason} at byte {exc.start})"))
                continue
            messages.append(_request(text))
        if len(self._buffer) > self.max_bytes:
            raise MessageTooLargeError(f"message larger than {self.max_bytes} bytes")
        messages.extend(self._skip_garbage())
        return messages

    def _skip_garbage(self) -> list[Request | BadMessage]:
        """Bytes outside any object that are not whitespace: one error, then resume at the next '{'."""
        if self._depth or self._in_string or not self._buffer:
            return []
        first = _START.search(self._buffer)
        if first is None:
            self._buffer.clear()
            self._scanned = 0  # or the next message is scanned from a stale offset, and never found
            return []
        if self._buffer[first.start()] == ord("{"):
            return []
        brace = self._buffer.find(b"{", first.start())
        del self._buffer[: brace if brace >= 0 else len(self._buffer)]
        self._scanned = 0
        skipped: list[Request | BadMessage] = [BadMessage("malformed JSON: a request must start with '{'")]
        return skipped + self.feed(b"")

    def _scan(self) -> int | None:
        """The end offset of the first complete top-level object in the buffer, or None."""
        buffer, pos = self._buffer, self._scanned
        if self._depth == 0 and not self._in_string:
            first = _START.search(buffer, pos)
            if first is None or buffer[first.start()] != ord("{"):
                self._scanned = len(buffer) if first is None else pos
                return None
            pos = first.start()
        while True:
            if self._in_string:
                hit = _STRING_END.search(buffer, pos)
                if hit is None:
                    self._scanned = len(buffer)
                    return None
                if buffer[hit.start()] == ord("\\"):
                    if hit.start() + 1 >= len(buffer):  # the escaped character has not arrived yet
                        self._scanned = hit.start()
                        return None
                    pos = hit.start() + 2
                    continue
                self._in_string = False
                pos = hit.end()
                continue
            hit = _STRUCTURE.search(buffer, pos)
            if hit is None:
                self._scanned = len(buffer)
                return None
            char = buffer[hit.start()]
            pos = hit.end()
            if char == ord('"'):
                self._in_string = True
            elif char in b"{[":
                self._depth += 1
            else:
                self._depth -= 1
                if self._depth <= 0:
                    self._depth = 0
                    return pos


def success(result: Any) -> bytes:
    return _encode({"status": "success", "result": result})


def error(message: str) -> bytes:
    return _encode({"status": "error", "message": message})


def _encode(reply: dict[str, Any]) -> bytes:
    """Compact UTF-8 JSON; a result that JSON cannot hold becomes an error reply, never a broken stream."""
    try:
        return json.dumps(reply, separators=(",", ":"), allow_nan=False).encode("utf-8")
    except (TypeError, ValueError) as exc:
        return json.dumps({"status": "error", "message": f"reply cannot be sent as JSON: {exc}"}).encode("utf-8")
