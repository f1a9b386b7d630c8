"""What a batch does: its items from the source, what each writes, and the keys that record the work.

SOURCE is the bucket's `projects/` (each model's latest `<Name>-v<N>.blend`, re-exported and published as
the next version), or models to convert into DEST: a folder, an S3 prefix, or a list file (one model path
or s3:// URL a line). Every item, and every output, is decided before the first one runs.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any, Final, Literal

from ..core.models.files import is_model_file
from ..core.publish import bucket_keys

ItemKind = Literal["publish", "convert"]
SourceKind = Literal["projects", "folder", "s3", "list"]

BATCH: Final = "batch/"
DONE: Final = f"{BATCH}done/"
REPORTS: Final = f"{BATCH}reports/"


@dataclass(frozen=True)
class Item:
    id: str  # what the shard hash and the reports use: the model name, or the model as listed
    kind: ItemKind
    source: str  # one file: a local path or an s3:// URL
    output: str  # publish: the model name; convert: the .vrm's key under DEST

    def to_json(self) -> dict[str, Any]:
        return {"id": self.id, "kind": self.kind, "source": self.source, "output": self.output}


def source_kind(source: str, is_dir: bool) -> SourceKind:
    """How to read SOURCE: a `projects` folder or prefix is a bucket's projects, else models to convert."""
    last = source.rstrip("/").rsplit("/", 1)[-1]
    if source.startswith("s3://"):
        return "projects" if last == "projects" else "s3"
    if is_dir:
        return "projects" if last == "projects" else "folder"
    return "list"


def root_of_projects(source: str) -> str:
    """The storage root that holds a `projects` folder or prefix."""
    return source.rstrip("/").rsplit("/", 1)[0]


def project_items(root: str, keys: Iterable[str]) -> list[Item]:
    """One item per model name: its latest `projects/<Name>-v<N>.blend` among the storage keys."""
    latest: dict[str, int] = {}
    for key in keys:
        if not (key.startswith(bucket_keys.PROJECTS) and key.endswith(".blend")) or key.count("/") != 1:
            continue
        found = bucket_keys.parse_key(key)
        if found is not None:
            latest[found.name] = max(found.version, latest.get(found.name, 0))
    return [
        Item(name, "publish", f"{root.rstrip('/')}/{bucket_keys.Versioned(name, v).project_key()}", name)
        for name, v in sorted(latest.items())
    ]


def convert_items(models: Iterable[tuple[str, str]]) -> list[Item]:
    """Items for (id, source) models, each to `<stem>.vrm`; ValueError when two would write one file
    or one is not a model file."""
    items: list[Item] = []
    taken: dict[str, str] = {}
    for item_id, source in dict(models).items():  # a model listed twice is converted once
        path = PurePosixPath(source)
        if not is_model_file(Path(path.name)):
            raise ValueError(f"{item_id} is not a model file (.vrm .glb .gltf .fbx .blend)")
        output = f"{path.stem}.vrm"
        if output in taken:
            raise ValueError(f"{taken[output]} and {item_id} would both be written to {output}")
        taken[output] = item_id
        items.append(Item(item_id, "convert", source, output))
    return items


def list_entries(text: str) -> list[str]:
    """A list file's entries: one a line; blank lines and `#` comments skipped."""
    lines = (line.strip() for line in text.splitlines())
    return [line for line in lines if line and not line.startswith("#")]


def settings_key(preset: dict[str, Any], fix: str | None, versions: dict[str, Any], rig: str | None = None) -> str:
    """What, besides the source itself, decides an item's result: the preset's content (not where its
    file lives), the fix level, the auto-rig mode and the versions of Avatar Forge, the VRM Add-on and Blender."""
    content = {k: v for k, v in preset.items() if k != "source"}
    wanted = {k: versions.get(k) for k in ("avatar_forge", "vrm_addon", "blender")}
    # Without --rig the key stays what it was, so a library done before is not done again.
    rigged = {"rig": rig} if rig else {}
    text = json.dumps({"preset": content, "fix": fix, "versions": wanted, **rigged}, sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()[:20]


def done_key(settings: str, sha256: str, output: str) -> str:
    """The marker that says: this content was done into `output` with these settings (a rerun skips it)."""
    return f"{DONE}{settings}/{sha256}-{output}.json"


def run_id(source: str, out: str, preset: str, fix: str | None, rig: str | None = None) -> str:
    """A run's default id: the same for every shard and every retry of one batch command."""
    return hashlib.sha256(json.dumps([source, out, preset, fix, *([rig] if rig else [])]).encode()).hexdigest()[:12]


def report_key(run: str, index: int, count: int, stamp: str) -> str:
    """A shard's report; a retried shard writes a new one beside it (nothing is overwritten) and the
    merge takes the newest."""
    return f"{REPORTS}{run}/shard-{index:04d}-of-{count:04d}-{stamp}.json"
