"""Text for a terminal: names from models, files and storage printed so that they cannot drive it.

An object, bone or file name is anyone's text. Printed raw, `\\x1b[2K\\r` erases the line before it (a
"FAILED" vanishes and what follows reads "ok"), `\\x1b]0;...\\x07` sets the window title, and a
right-to-left override reorders what a reader sees. Every control character (C0, DEL, C1) and the bidi
controls are written as a visible escape (`\\x1b`, `\\u202e`) instead. JSON output needs none of this:
json.dumps escapes them all.
"""

from __future__ import annotations

import io
import re
from typing import Any, Final, TextIO

# Bidi embeddings, overrides and isolates, and the invisible marks that steer them.
_BIDI: Final = "\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069"
# A tab only moves the cursor forward: kept, as in the Go allowlist lines the promoter prints for pasting.
_IN_LINE: Final = re.compile(f"[\x00-\x08\x0a-\x1f\x7f-\x9f{_BIDI}]")
# A stream carries line breaks and tabs of its own; everything else is escaped as in a line.
_IN_STREAM: Final = re.compile(f"[\x00-\x08\x0b-\x1f\x7f-\x9f{_BIDI}]")


def _escape(match: re.Match[str]) -> str:
    code = ord(match.group())
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def printable(line: str) -> str:
    """One line as a terminal shows it harmlessly: control characters but the tab, line breaks included,
    escaped."""
    return _IN_LINE.sub(_escape, line)


def printable_text(text: str) -> str:
    """Text of several lines: line breaks and tabs kept, every other control character escaped."""
    return _IN_STREAM.sub(_escape, text)


class EscapingWriter(io.TextIOBase):
    """A text stream that escapes what it is given (`printable_text`) before passing it on.

    The CLI puts one in front of stdout and stderr while a command runs, so no message can forget.
    Bytes written to `buffer` (a protocol on stdout, the --json document) pass as they are.
    """

    def __init__(self, stream: TextIO) -> None:
        super().__init__()
        self.stream = stream

    def write(self, text: str) -> int:
        self.stream.write(printable_text(text))
        return len(text)

    def control(self, sequence: str) -> None:
        """Writes a control sequence of our own (a progress bar's carriage return) unescaped."""
        self.stream.write(sequence)

    def flush(self) -> None:
        self.stream.flush()

    def isatty(self) -> bool:
        return self.stream.isatty()

    def fileno(self) -> int:
        return self.stream.fileno()

    def writable(self) -> bool:
        return True

    @property
    def encoding(self) -> str:  # type: ignore[override]
        return self.stream.encoding

    @property
    def buffer(self) -> Any:
        return self.stream.buffer


def write_control(stream: TextIO | EscapingWriter, sequence: str) -> None:
    """`sequence` on `stream` unescaped, whether or not it is an EscapingWriter."""
    if isinstance(stream, EscapingWriter):
        stream.control(sequence)
    else:
        stream.write(sequence)
