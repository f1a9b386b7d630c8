"""The promotion request a publish writes last, the record the promoter leaves, and a target's index.json.

The request is the contract between the Blender side (which writes it to promotion/queue/) and the
promoter (which runs without Blender): every artifact is named by its key, sha256 and size, so the
promoter can prove it copies exactly what was published.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any, Final

from ..wire.json_limits import JsonLimitError, JsonLimits, load_json
from .bucket_keys import ANIMATIONS, MAX_VERSION, InvalidNameError, Versioned, check_name

FORMAT: Final = "avatar-forge/promotion-request@1"
# @2 adds per-entry kind, url, thumbnail and meta, and an "animations" list beside "models": a reader of
# @1 reads "models" as before and sees only models there.
INDEX_FORMAT: Final = "avatar-forge/index@2"
MODEL: Final = "model"
ANIMATION: Final = "animation"
KINDS: Final = (MODEL, ANIMATION)
# The request's artifact role of the served file, by kind (a request without "kind" is a model's).
_SERVED_ROLE: Final = {MODEL: "vrm", ANIMATION: "vrma"}
_SHA256_HEX_LENGTH: Final = 64
# A request is a few hundred bytes; an index.json gains about 200 bytes per promoted model.
DEFAULT_MAX_REQUEST_BYTES: Final = 1024 * 1024
DEFAULT_MAX_INDEX_BYTES: Final = 16 * 1024 * 1024


class RequestError(ValueError):
    """A request document that cannot be trusted; the message says which field."""


def utc_now() -> str:
    """An ISO 8601 UTC timestamp with a Z, to the second."""
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass(frozen=True)
class Artifact:
    key: str
    sha256: str
    size: int

    def to_json(self) -> dict[str, Any]:
        return {"key": self.key, "sha256": self.sha256, "size": self.size}


@dataclass(frozen=True)
class Request:
    name: str
    version: int
    vrm: Artifact  # the served file: the .vrm of a model, the .vrma of an animation
    blend: Artifact
    preset: str
    spec_version: str
    stats: dict[str, Any]
    check: dict[str, Any]  # the rig check's summary: error and warning counts, finding ids
    blender_version: str
    vrm_addon_version: str | None
    avatar_forge_version: str
    created_by: str
    created_at: str = field(default_factory=utc_now)
    kind: str = MODEL

    @property
    def versioned(self) -> Versioned:
        return Versioned(self.name, self.version)

    @property
    def served_file(self) -> str:
        """Where the served file goes on a serving tier, relative to its index.json."""
        return served_file(self.versioned, self.kind)

    @property
    def artifacts(self) -> tuple[Artifact, ...]:
        return (self.vrm, self.blend)

    def to_json(self) -> dict[str, Any]:
        return {
            "format": FORMAT,
            "name": self.name,
            "version": self.version,
            "kind": self.kind,
            "artifacts": {_SERVED_ROLE[self.kind]: self.vrm.to_json(), "blend": self.blend.to_json()},
            "preset": self.preset,
            "spec_version": self.spec_version,
            "stats": self.stats,
            "check": self.check,
            "blender_version": self.blender_version,
            "vrm_addon_version": self.vrm_addon_version,
            "avatar_forge_version": self.avatar_forge_version,
            "created_at": self.created_at,
            "created_by": self.created_by,
        }

    def encode(self) -> bytes:
        return (json.dumps(self.to_json(), indent=2, sort_keys=True) + "\n").encode()


def _field(data: dict[str, Any], key: str, kind: type) -> Any:
    value = data.get(key)
    if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
        raise RequestError(f"request field {key!r} must be a {kind.__name__}")
    return value


def _artifact(data: dict[str, Any], role: str, expected_key: str) -> Artifact:
    artifacts = _field(data, "artifacts", dict)
    entry = artifacts.get(role)
    if not isinstance(entry, dict):
        raise RequestError(f"request lacks the {role} artifact")
    key = _field(entry, "key", str)
    if key != expected_key:
        # Only the keys the name and version imply: a request cannot point the promoter anywhere else.
        raise RequestError(f"{role} artifact key {key!r} should be {expected_key!r}")
    sha = _field(entry, "sha256", str)
    if len(sha) != _SHA256_HEX_LENGTH or any(c not in "0123456789abcdef" for c in sha):
        raise RequestError(f"{role} artifact sha256 is not 64 lower-case hex digits")
    size = _field(entry, "size", int)
    if size < 0:
        raise RequestError(f"{role} artifact size is negative")
    return Artifact(key, sha, size)


def parse_request(raw: bytes, limits: JsonLimits | None = None) -> Request:
    """A request from its JSON bytes; raises RequestError when anything is missing or inconsistent,
    or when the bytes break `limits` (size, nesting, integer digits)."""
    try:
        data = load_json(raw, limits or JsonLimits(DEFAULT_MAX_REQUEST_BYTES), "request")
    except JsonLimitError as exc:
        raise RequestError(str(exc)) from None
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise RequestError(f"request format is not {FORMAT}")
    try:
        name = check_name(_field(data, "name", str))
    except InvalidNameError as exc:
        raise RequestError(str(exc)) from None
    version = _field(data, "version", int)
    if not 1 <= version <= MAX_VERSION:
        raise RequestError(f"request version must be from 1 to {MAX_VERSION}")
    stem = Versioned(name, version)
    kind = data.get("kind", MODEL)
    if kind not in KINDS:
        raise RequestError(f"request kind must be one of {', '.join(KINDS)}")
    served_key = stem.export_key() if kind == MODEL else stem.animation_key()
    addon_version = data.get("vrm_addon_version")
    return Request(
        name=name,
        version=version,
        vrm=_artifact(data, _SERVED_ROLE[kind], served_key),
        blend=_artifact(data, "blend", stem.project_key()),
        preset=_field(data, "preset", str),
        spec_version=_field(data, "spec_version", str),
        stats=_field(data, "stats", dict),
        check=_field(data, "check", dict),
        blender_version=_field(data, "blender_version", str),
        vrm_addon_version=addon_version if isinstance(addon_version, str) else None,
        avatar_forge_version=_field(data, "avatar_forge_version", str),
        created_by=_field(data, "created_by", str),
        created_at=_field(data, "created_at", str),
        kind=kind,
    )


def served_file(stem: Versioned, kind: str) -> str:
    """A promoted file's path on a serving tier: models at its root, clips in its animations/ folder."""
    return f"{stem.stem}.vrm" if kind == MODEL else f"{ANIMATIONS}{stem.stem}.vrma"


def outcome_record(request_raw: bytes, status: str, detail: dict[str, Any]) -> bytes:
    """What goes to promotion/done/ or failed/: the request as it was queued plus the promoter's result.

    The original bytes are kept even when they do not parse, so a failed record shows what was sent.
    """
    try:
        request: Any = load_json(request_raw, JsonLimits(DEFAULT_MAX_REQUEST_BYTES), "request")
    except JsonLimitError:
        request = request_raw[:DEFAULT_MAX_REQUEST_BYTES].decode("utf-8", "replace")
    record = {"request": request, "result": {"status": status, "at": utc_now(), **detail}}
    return (json.dumps(record, indent=2, sort_keys=True) + "\n").encode()


@dataclass(frozen=True)
class IndexEntry:
    name: str
    version: int
    file: str  # relative to index.json: `A-v1.vrm`, `animations/Wave-v1.vrma`
    sha256: str
    size: int
    promoted_at: str
    kind: str = MODEL
    meta: dict[str, Any] | None = None  # what a picker shows: title, authors, license
    thumbnail: dict[str, Any] | None = None  # its own file beside the model: file, sha256, size, mime_type

    def to_json(self) -> dict[str, Any]:
        entry: dict[str, Any] = {
            "name": self.name,
            "version": self.version,
            "file": self.file,
            "sha256": self.sha256,
            "size": self.size,
            "promoted_at": self.promoted_at,
            "kind": self.kind,
        }
        if self.meta is not None:
            entry["meta"] = self.meta
        if self.thumbnail is not None:
            entry["thumbnail"] = self.thumbnail
        return entry


class IndexFileError(ValueError):
    """A target's index.json that cannot be read or extended safely; a person has to look at it."""


_LISTS: Final = {MODEL: "models", ANIMATION: "animations"}


def _index_lists(raw: bytes | None, limits: JsonLimits | None) -> tuple[dict[str, Any], dict[str, list[Any]]]:
    """An index.json's document and its entry lists by kind (empty ones when there is no index yet)."""
    if not raw:
        return {}, {kind: [] for kind in KINDS}
    try:
        data = load_json(raw, limits or JsonLimits(DEFAULT_MAX_INDEX_BYTES), "index.json")
    except JsonLimitError as exc:
        raise IndexFileError(str(exc)) from None
    if not isinstance(data, dict) or not isinstance(data.get("models"), list):
        raise IndexFileError("index.json has no 'models' list")
    lists = {kind: data.get(key, []) for kind, key in _LISTS.items()}
    if not isinstance(lists[ANIMATION], list):
        raise IndexFileError("index.json's 'animations' is not a list")
    for entry in (e for entries in lists.values() for e in entries):
        # Sorting and matching need these types; anything else was written by hand and is left to a person.
        if not (isinstance(entry, dict) and isinstance(entry.get("name"), str) and isinstance(entry.get("file"), str)
                and isinstance(entry.get("version"), int) and not isinstance(entry.get("version"), bool)):  # fmt: skip
            raise IndexFileError(f"index.json has an entry that is not name/version/file: {str(entry)[:120]}")
    return data, lists


def parse_index(raw: bytes | None, limits: JsonLimits | None = None) -> list[dict[str, Any]]:
    """Every entry an index.json lists, models and animations (none when there is no index yet);
    raises IndexFileError."""
    _data, lists = _index_lists(raw, limits)
    return [entry for kind in KINDS for entry in lists[kind]]


def _with_urls(entry: dict[str, Any], kind: str, base_url: str | None) -> dict[str, Any]:
    """`entry` with its kind, and with the URLs a client of this target uses (`base_url` + file) when the
    target has one: recomputed at every write, so a changed base URL reaches every entry."""
    entry = {**entry, "kind": entry.get("kind", kind)}
    if base_url is None:
        return entry
    entry["url"] = base_url + str(entry["file"])
    thumbnail = entry.get("thumbnail")
    if isinstance(thumbnail, dict) and isinstance(thumbnail.get("file"), str):
        entry["thumbnail"] = {**thumbnail, "url": base_url + thumbnail["file"]}
    return entry


def merge_index(
    raw: bytes | None, entry: IndexEntry, limits: JsonLimits | None = None, base_url: str | None = None
) -> tuple[bytes, bool]:
    """index.json with `entry` in it (in "models" or "animations" by its kind), each list sorted by name
    and version, every entry with its URL on this target when `base_url` is given; False when it was
    already there.

    An entry for the same file is kept as first written: promoting again must not change promoted_at.
    Raises IndexFileError for an index it cannot read; it is then left exactly as it is.
    """
    data, lists = _index_lists(raw, limits)
    if any(e.get("file") == entry.file for kind in KINDS for e in lists[kind]):
        return raw or b"", False
    lists[entry.kind].append(entry.to_json())
    document = {**data, "format": INDEX_FORMAT}
    for kind, key in _LISTS.items():
        entries = [_with_urls(e, kind, base_url) for e in lists[kind]]
        document[key] = sorted(entries, key=lambda e: (str(e["name"]), int(e["version"])))
    return (json.dumps(document, indent=2, sort_keys=True) + "\n").encode(), True


def promoted_entry(record_raw: bytes, limits: JsonLimits | None = None) -> IndexEntry:
    """The index entry a promotion/done/ record stands for (its request's file, promoted at the record's
    time, with the meta and thumbnail the promoter recorded); raises RequestError for anything else. A
    later run re-adds it to an index.json that lost it (two promoters writing the index at once: the older
    write lands last)."""
    limits = limits or JsonLimits(DEFAULT_MAX_REQUEST_BYTES)
    try:  # the request as queued plus the promoter's result: twice a request's bound is ample
        record = load_json(record_raw, replace(limits, max_bytes=2 * limits.max_bytes), "done record")
    except JsonLimitError as exc:
        raise RequestError(str(exc)) from None
    result, queued = (record.get("result"), record.get("request")) if isinstance(record, dict) else (None, None)
    if not isinstance(result, dict) or result.get("status") != "promoted" or not isinstance(queued, dict):
        raise RequestError("not a record of a promoted request")
    request = parse_request(json.dumps(queued).encode(), limits)
    at, meta, thumbnail = result.get("at"), result.get("meta"), result.get("thumbnail")
    return IndexEntry(
        request.name,
        request.version,
        request.served_file,
        request.vrm.sha256,
        request.vrm.size,
        at if isinstance(at, str) else utc_now(),
        request.kind,
        meta if isinstance(meta, dict) else None,
        thumbnail if isinstance(thumbnail, dict) else None,
    )


def allowlist_lines(files: list[str]) -> list[str]:
    """What a reviewer pastes into the frontend to make newly promoted models selectable."""
    if not files:
        return []
    return [
        "# Go, AllowedAvatarModels:",
        *(f'\t"{f}": true,' for f in files),
        "# static/js/avatar.js:",
        *(f"  '{f}'," for f in files),
    ]
