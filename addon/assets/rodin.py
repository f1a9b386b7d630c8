"""Hyper3D Rodin's API (hyper3d.ai, its v2 "main site" endpoints): a generation job from a prompt or images,
its status, and the download of the finished .glb into the session's asset folder under a name made here.
The API key goes only into the Authorization header: it is in no error, reply, log line or file. No bpy."""

from __future__ import annotations

import base64
import binascii
import json
import re
import secrets
import urllib.parse
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..core.wire.protocol import echo
from . import folder
from .fetch import FetchError, Limits, Progress, download, request_json

API = "https://hyperhuman.deemos.com/api/v2"
DOWNLOAD_HOSTS = (".deemos.com",)
MAX_IMAGES = 5
MAX_IMAGE_BYTES = 20 * 1024 * 1024
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".webp")
_TOKEN = re.compile(r"[A-Za-z0-9_\-]{1,128}")
GLB = ("model/gltf-binary", "application/octet-stream")


@dataclass(frozen=True)
class Source:
    key: str = field(repr=False)  # never in a repr, a log line or an error
    api: str = API
    limits: Limits = field(default_factory=Limits)

    @property
    def hosts(self) -> frozenset[str]:
        return frozenset({urllib.parse.urlsplit(self.api).hostname or "", *DOWNLOAD_HOSTS})

    def post(self, path: str, *, body: Any = None, form: tuple[bytes, str] | None = None) -> Any:
        headers = {"Authorization": f"Bearer {self.key}"}
        found = request_json(
            f"{self.api.rstrip('/')}/{path}", self.hosts, self.limits, body=body, form=form, headers=headers,
            secret=self.key,
        )  # fmt: skip
        return redact(found, self.key)


def redact(value: Any, key: str) -> Any:
    """`value` with the key replaced wherever a service echoed it."""
    if isinstance(value, str):
        return value.replace(key, "[key]") if key else value
    if isinstance(value, list):
        return [redact(v, key) for v in value]
    if isinstance(value, dict):
        return {redact(k, key): redact(v, key) for k, v in value.items()}
    return value


def token(value: Any, name: str) -> str:
    if not isinstance(value, str) or not _TOKEN.fullmatch(value):
        raise ValueError(f"'{name}' must be the id Rodin gave (letters, digits, - and _)")
    return value


def images(value: Any) -> list[tuple[str, bytes]]:
    """BlenderMCP's `images`: [suffix, base64 data] pairs. URLs are the fal.ai mode's, not taken here."""
    if not isinstance(value, list) or not 0 < len(value) <= MAX_IMAGES:
        raise ValueError(f"'images' must list 1 to {MAX_IMAGES} [suffix, base64] pairs")
    out = []
    for item in value:
        if not (isinstance(item, list | tuple) and len(item) == 2 and all(isinstance(v, str) for v in item)):
            raise ValueError("each of 'images' must be a [suffix, base64 data] pair (an image URL is not taken)")
        suffix = item[0].lower()
        if suffix not in IMAGE_SUFFIXES or len(item[1]) > MAX_IMAGE_BYTES * 4 // 3 + 4:
            raise ValueError(f"'images': a {', '.join(IMAGE_SUFFIXES)} image of at most {MAX_IMAGE_BYTES} bytes")
        try:
            out.append((suffix, base64.b64decode(item[1], validate=True)))
        except binascii.Error:
            raise ValueError("'images': the data is not base64") from None
    return out


def _form(fields: Sequence[tuple[str, str | tuple[str, bytes]]]) -> tuple[bytes, str]:
    boundary = secrets.token_hex(16)
    parts = []
    for name, value in fields:
        if isinstance(value, str):
            parts.append(f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n{value}\r\n'.encode())
        else:
            filename, data = value
            head = (
                f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"; filename="{filename}"\r\n'
                "Content-Type: application/octet-stream\r\n\r\n"
            )
            parts.append(head.encode() + data + b"\r\n")
    return b"".join(parts) + f"--{boundary}--\r\n".encode(), f"multipart/form-data; boundary={boundary}"


def create(source: Source, prompt: str | None, pictures: list[tuple[str, bytes]], bbox: list[int] | None) -> Any:
    fields: list[tuple[str, str | tuple[str, bytes]]] = [
        *[("images", (f"{i:04d}{suffix}", data)) for i, (suffix, data) in enumerate(pictures)],
        ("tier", "Sketch"),
        ("mesh_mode", "Raw"),
        ("texture_mode", "high"),
    ]
    if prompt:
        fields.append(("prompt", prompt))
    if bbox:
        fields.append(("bbox_condition", json.dumps(bbox)))
    return source.post("rodin", form=_form(fields))


def status(source: Source, subscription_key: str) -> dict[str, Any]:
    found = source.post("status", body={"subscription_key": subscription_key})
    jobs = found.get("jobs") if isinstance(found, dict) else None
    if not isinstance(jobs, list):
        raise FetchError(f"Rodin's status answer has no job list: {echo(str(found))}")
    return {"status_list": [str(job.get("status")) for job in jobs if isinstance(job, dict)]}


def fetch_model(source: Source, task_uuid: str, name: str, progress: Progress | None = None) -> Path:
    """The task's .glb, downloaded as a new file in the session folder, named after `name`."""
    found = source.post("download", body={"task_uuid": task_uuid})
    listed = found.get("list") if isinstance(found, dict) else None
    glb = next(
        (item for item in listed or [] if isinstance(item, dict) and str(item.get("name", "")).endswith(".glb")), None
    )
    if glb is None or not isinstance(glb.get("url"), str):
        raise FetchError("Rodin has no .glb for this task yet: poll until every job is Done, then import")
    path = folder.folder() / folder.name("rodin", name, task_uuid[:12], secrets.token_hex(3), suffix=".glb")
    download(glb["url"], path, source.hosts, kinds=GLB, magic=lambda b: b.startswith(b"glTF"), limits=source.limits,
             progress=progress)  # fmt: skip
    return path
