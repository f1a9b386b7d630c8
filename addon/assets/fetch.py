"""HTTP for the asset sources, bounded every way: a connect-and-read timeout on each request, a deadline for a
whole download, a size cap checked against Content-Length and again while reading, the content type and the
file's first bytes checked, redirects only to hosts the source allows, and plain https (http only to this
machine, for a stand-in service). Every failure is one FetchError line; no secret is ever in it. No bpy."""

from __future__ import annotations

import ipaddress
import json
import os
import socket
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Collection
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..core.errors import OperationError
from ..core.wire.protocol import echo

CHUNK = 256 * 1024
MAX_JSON_BYTES = 16 * 1024 * 1024
USER_AGENT = "AvatarForge"
Progress = Callable[[int, int | None], None]  # (bytes so far, total when known)


class FetchError(OperationError):
    """A request that failed or was refused; the message is one line for the user."""


@dataclass(frozen=True)
class Limits:
    timeout: float = 15.0  # seconds to connect, and between two reads
    deadline: float = 300.0  # seconds for a whole download
    max_bytes: int = 512 * 1024 * 1024  # per file


def _loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def check_url(url: str, hosts: Collection[str]) -> str:
    """`url` if it is https to one of `hosts` (".example.com": any host under it), or http to this machine
    (a stand-in's); else FetchError."""
    parts = urllib.parse.urlsplit(url)
    host = parts.hostname or ""
    if parts.scheme not in ("https", "http") or (parts.scheme == "http" and not _loopback(host)):
        raise FetchError(f"refused {echo(url)}: only https (or http to this machine) is fetched")
    if host not in hosts and not any(h.startswith(".") and host.endswith(h) for h in hosts):
        raise FetchError(f"refused {echo(url)}: {host} is not one of the source's hosts ({', '.join(sorted(hosts))})")
    return url


class _Redirects(urllib.request.HTTPRedirectHandler):
    def __init__(self, hosts: Collection[str]) -> None:
        self.hosts = hosts

    def redirect_request(self, req: Any, fp: Any, code: int, msg: str, headers: Any, newurl: str) -> Any:  # noqa: PLR0917
        check_url(newurl, self.hosts)
        return super().redirect_request(req, fp, code, msg, headers, newurl)


def _open(
    url: str, hosts: Collection[str], limits: Limits, data: bytes | None, *, headers: dict[str, str], secret: str
) -> Any:
    check_url(url, hosts)
    request = urllib.request.Request(url, data=data, headers={"User-Agent": USER_AGENT, **headers})
    opener = urllib.request.build_opener(_Redirects(hosts))
    try:
        return opener.open(request, timeout=limits.timeout)
    except urllib.error.HTTPError as exc:
        exc.close()
        raise FetchError(_clean(f"{_where(url)} answered HTTP {exc.code} {exc.reason}", secret)) from None
    except (urllib.error.URLError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        if isinstance(reason, socket.timeout | TimeoutError):
            reason = f"no answer within {limits.timeout:g} s"
        raise FetchError(_clean(f"cannot reach {_where(url)}: {reason}", secret)) from None


def _where(url: str) -> str:
    parts = urllib.parse.urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}{parts.path}"  # no query string: it may carry anything


def _clean(text: str, secret: str) -> str:
    line = " ".join(text.split())
    return line.replace(secret, "[key]") if secret else line


def request_json(
    url: str,
    hosts: Collection[str],
    limits: Limits = Limits(),
    *,
    body: Any = None,
    form: tuple[bytes, str] | None = None,
    headers: dict[str, str] | None = None,
    secret: str = "",
) -> Any:
    """The JSON document at `url`, at most MAX_JSON_BYTES: a GET, or a POST of `body` as JSON or of `form`
    (bytes and their content type). `secret` (an API key sent in `headers`) never appears in an error."""
    data, kind = (json.dumps(body).encode(), "application/json") if body is not None else form or (None, "")
    sent = {**(headers or {}), **({"Content-Type": kind} if data is not None else {})}
    with _open(url, hosts, limits, data, headers=sent, secret=secret) as response:
        kind = response.headers.get_content_type()
        if kind != "application/json":
            raise FetchError(f"{_where(url)} sent {echo(kind)}, not JSON")
        raw = _read_all(response, MAX_JSON_BYTES, limits, url)
    try:
        return json.loads(raw)
    except ValueError:
        raise FetchError(f"{_where(url)} sent malformed JSON") from None


def _read_all(response: Any, cap: int, limits: Limits, url: str) -> bytes:
    started, out = time.monotonic(), bytearray()
    while chunk := _read(response, url, limits):
        out += chunk
        if len(out) > cap:
            raise FetchError(f"{_where(url)} sent more than {cap} bytes")
        if time.monotonic() - started > limits.deadline:
            raise FetchError(f"{_where(url)} took longer than {limits.deadline:g} s")
    return bytes(out)


def _read(response: Any, url: str, limits: Limits) -> bytes:
    try:
        chunk: bytes = response.read(CHUNK)
    except (OSError, ValueError) as exc:  # a read timeout, a reset, a broken chunked body
        reason = f"nothing for {limits.timeout:g} s" if isinstance(exc, TimeoutError) else type(exc).__name__
        raise FetchError(f"{_where(url)} stopped sending ({reason})") from None
    return chunk


def download(
    url: str,
    dest: Path,
    hosts: Collection[str],
    *,
    kinds: Collection[str],
    magic: Callable[[bytes], bool],
    limits: Limits = Limits(),
    progress: Progress | None = None,
) -> int:
    """Writes the file at `url` to `dest` (a new file; never through a link, never replacing one) and returns
    its size. Refused: a content type outside `kinds`, first bytes `magic` rejects, more than
    limits.max_bytes (announced or sent), a download past limits.deadline. Nothing is left behind on failure."""
    part = dest.with_name(dest.name + ".part")
    started = time.monotonic()
    with _open(url, hosts, limits, None, headers={}, secret="") as response:
        kind = response.headers.get_content_type()
        if kind not in kinds:
            raise FetchError(f"{_where(url)} sent {echo(kind)}; expected {' or '.join(sorted(kinds))}")
        announced = response.headers.get("Content-Length")
        total = int(announced) if announced and announced.isdigit() else None
        if total is not None and total > limits.max_bytes:
            raise FetchError(f"{_where(url)} is {total} bytes, over the {limits.max_bytes}-byte cap")
        fd = os.open(part, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0), 0o600)
        written = 0
        try:
            with os.fdopen(fd, "wb") as out:
                while chunk := _read(response, url, limits):
                    if written == 0 and not magic(chunk):
                        raise FetchError(f"{_where(url)} is not the {' or '.join(sorted(kinds))} it claims to be")
                    written += len(chunk)
                    if written > limits.max_bytes:
                        raise FetchError(f"{_where(url)} sent more than the {limits.max_bytes}-byte cap")
                    if time.monotonic() - started > limits.deadline:
                        raise FetchError(f"{_where(url)} took longer than {limits.deadline:g} s")
                    out.write(chunk)
                    if progress is not None:
                        progress(written, total)
            if written == 0:
                raise FetchError(f"{_where(url)} sent an empty file")
            os.link(part, dest)  # fails if anything took the name meanwhile: nothing is replaced
        finally:
            part.unlink(missing_ok=True)
    return written
