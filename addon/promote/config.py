"""The promoter's TOML config: rclone remotes for the source bucket and the serving targets.

    [source]
    remote = "kasm:kasm/blender-avatars"      # any rclone path: remote:bucket/prefix, or a local folder

    [targets.nfs]
    remote = "/avatar-models"
    url = "/assets/models/"                    # optional: where clients fetch this tier's files (index.json
    [targets.mirror]                           # entries get url = this + file): a path prefix for the LAN
    remote = "mirror:avatar-models"
    s3 = true                                  # S3 targets are served with immutable Cache-Control
    [targets.r2]
    remote = "r2:avatar-models"
    s3 = true
    url = "https://assets.example.com/models/" # an absolute base URL for the CDN

    poll_seconds = 60                          # between runs without --once (before any table)
    rclone = "rclone"                          # optional: the rclone binary

    [limits]                                   # optional; these are the defaults
    max_request_bytes = 1048576                # a queue entry (1 MiB)
    max_json_chunk_bytes = 16777216            # a VRM's glTF JSON (16 MiB: about 500 MB parsed)
    max_index_bytes = 16777216                 # a target's index.json
    max_json_depth = 64                        # nesting of any of them
    max_json_int_digits = 32                   # digits of one integer in any of them
    max_thumbnail_bytes = 4194304              # a model's thumbnail served beside it (larger: left out)

Remotes come from rclone's config file or from RCLONE_CONFIG_<NAME>_* environment variables.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any, Final
from urllib.parse import urlsplit

from ..core.publish.picker import DEFAULT_MAX_THUMBNAIL_BYTES
from ..core.publish.promotion import DEFAULT_MAX_INDEX_BYTES, DEFAULT_MAX_REQUEST_BYTES
from ..core.vrm.inspect import DEFAULT_MAX_JSON_CHUNK, VrmLimits
from ..core.wire.json_limits import DEFAULT_MAX_DEPTH, DEFAULT_MAX_INT_DIGITS, JsonLimits

TARGET_NAMES: Final = ("nfs", "mirror", "r2")


class ConfigError(ValueError):
    """A config that cannot be used; one line naming the file and the key."""


@dataclass(frozen=True)
class Target:
    name: str
    remote: str
    s3: bool
    url: str | None = None  # the base URL (or path prefix) clients fetch this tier's files from, ending in /


@dataclass(frozen=True)
class Limits:
    """What the promoter parses at most: anyone who can write to the bucket chooses these files."""

    max_request_bytes: int = DEFAULT_MAX_REQUEST_BYTES
    max_json_chunk_bytes: int = DEFAULT_MAX_JSON_CHUNK
    max_index_bytes: int = DEFAULT_MAX_INDEX_BYTES
    max_json_depth: int = DEFAULT_MAX_DEPTH
    max_json_int_digits: int = DEFAULT_MAX_INT_DIGITS
    max_thumbnail_bytes: int = DEFAULT_MAX_THUMBNAIL_BYTES

    def request(self) -> JsonLimits:
        return JsonLimits(self.max_request_bytes, self.max_json_depth, self.max_json_int_digits)

    def index(self) -> JsonLimits:
        return JsonLimits(self.max_index_bytes, self.max_json_depth, self.max_json_int_digits)

    def vrm(self) -> VrmLimits:
        return VrmLimits(self.max_json_chunk_bytes, self.max_json_depth, self.max_json_int_digits)


@dataclass(frozen=True)
class Config:
    source: str
    targets: tuple[Target, ...]
    poll_seconds: float
    rclone: str | None
    limits: Limits = field(default_factory=Limits)


def _remote(table: Any, where: str) -> str:
    remote = table.get("remote") if isinstance(table, dict) else None
    if not isinstance(remote, str) or not remote.strip():
        raise ConfigError(f"{where}: 'remote' must be a non-empty rclone path")
    return remote.strip()


def _url(table: Any, where: str, name: str) -> str | None:
    """A target's base URL: an absolute http(s) URL or a path from the site's root, ending in '/'."""
    url = table.get("url") if isinstance(table, dict) else None
    if url is None:
        return None
    problem = f"{where} [targets.{name}]: 'url' must be https://host/path/ or /path/ (ending in '/')"
    if not isinstance(url, str):
        raise ConfigError(problem)
    parts = urlsplit(url)
    absolute = parts.scheme in ("http", "https") and bool(parts.netloc)
    rooted = not parts.scheme and not parts.netloc and url.startswith("/") and not url.startswith("//")
    if not (absolute or rooted) or not url.endswith("/") or parts.query or parts.fragment:
        raise ConfigError(problem)
    return url


def load_config(path: Path) -> Config:
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigError(f"{path}: {exc.strerror}") from None
    except (UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise ConfigError(f"{path}: not valid TOML ({exc})") from None
    source = _remote(data.get("source"), f"{path.name} [source]")
    tables = data.get("targets")
    if not isinstance(tables, dict) or not tables:
        raise ConfigError(f"{path.name}: no [targets.nfs], [targets.mirror] or [targets.r2]")
    targets = []
    for name, table in tables.items():
        if name not in TARGET_NAMES:
            raise ConfigError(f"{path.name}: unknown target {name!r}; targets are {', '.join(TARGET_NAMES)}")
        s3 = table.get("s3", False) if isinstance(table, dict) else False
        if not isinstance(s3, bool):
            raise ConfigError(f"{path.name} [targets.{name}]: 's3' must be true or false")
        targets.append(Target(name, _remote(table, f"{path.name} [targets.{name}]"), s3, _url(table, path.name, name)))
    poll = data.get("poll_seconds", 60)
    if not isinstance(poll, int | float) or isinstance(poll, bool) or poll <= 0:
        raise ConfigError(f"{path.name}: 'poll_seconds' must be a positive number")
    binary = data.get("rclone")
    if binary is not None and not isinstance(binary, str):
        raise ConfigError(f"{path.name}: 'rclone' must be a path")
    return Config(source, tuple(targets), float(poll), binary, _limits(data.get("limits", {}), path.name))


def _limits(table: Any, where: str) -> Limits:
    if not isinstance(table, dict):
        raise ConfigError(f"{where}: [limits] must be a table")
    known = {f.name for f in fields(Limits)}
    for key, value in table.items():
        if key not in known:
            raise ConfigError(f"{where} [limits]: unknown limit {key!r}; limits are {', '.join(sorted(known))}")
        if not isinstance(value, int) or isinstance(value, bool) or value <= 0:
            raise ConfigError(f"{where} [limits]: {key!r} must be a positive whole number")
    return Limits(**table)
