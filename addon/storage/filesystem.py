"""A folder as storage: the Kasm /s3 rclone mount (default /s3/blender-avatars), or any local folder.

The mount runs without a VFS cache, so it cannot seek or edit in place: every file is written front to
back under a hidden temporary name in its final folder, then renamed, which the mount turns into one
complete upload. A crash leaves at most a dot-file that no reader takes for a model.
"""

from __future__ import annotations

import os
import secrets
import shutil
from pathlib import Path

from ..core.publish.digest import CHUNK, FileDigest
from .base import ByteProgress, Storage, StorageError


def is_temporary(name: str) -> bool:
    return name.startswith(".")


class FilesystemStorage(Storage):
    def __init__(self, root: Path) -> None:
        self.root = root

    @property
    def location(self) -> str:
        return str(self.root)

    def _path(self, key: str) -> Path:
        parts = key.split("/")
        if not key or any(p in ("", ".", "..") or is_temporary(p) for p in parts):
            raise StorageError(f"bad storage key {key!r}")
        return self.root.joinpath(*parts)

    def list(self, prefix: str) -> list[str]:
        base = self.root / prefix if prefix.endswith("/") or not prefix else (self.root / prefix).parent
        if not base.is_dir():
            return []
        keys: list[str] = []
        for folder, dirs, files in os.walk(base):
            dirs[:] = [d for d in dirs if not is_temporary(d)]
            for name in files:
                if is_temporary(name):
                    continue
                key = Path(folder, name).relative_to(self.root).as_posix()
                if key.startswith(prefix):
                    keys.append(key)
        return sorted(keys)

    def _write(self, key: str, fill: ByteProgress | None, content: bytes | Path) -> None:
        final = self._path(key)
        try:
            final.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise StorageError(f"cannot create {final.parent}: {exc.strerror}") from None
        temporary = final.with_name(f".{final.name}.{secrets.token_hex(6)}.tmp")
        try:
            with temporary.open("xb") as out:
                if isinstance(content, Path):
                    with content.open("rb") as source:
                        while chunk := source.read(CHUNK):
                            out.write(chunk)
                            if fill is not None:
                                fill(len(chunk))
                else:
                    out.write(content)
                out.flush()
                os.fsync(out.fileno())
            if final.exists():
                raise StorageError(f"{final} already exists; it is never overwritten")
            temporary.rename(final)
        except OSError as exc:
            raise StorageError(f"cannot write {final}: {exc.strerror or exc}") from None
        finally:
            temporary.unlink(missing_ok=True)

    def put_file(self, key: str, source: Path, digest: FileDigest, progress: ByteProgress | None = None) -> None:
        # A plain folder keeps no metadata; the request JSON carries the sha256.
        self._write(key, progress, source)

    def put_bytes(self, key: str, data: bytes) -> None:
        self._write(key, None, data)

    def read_bytes(self, key: str) -> bytes | None:
        path = self._path(key)
        try:
            return path.read_bytes()
        except FileNotFoundError:
            return None
        except OSError as exc:
            raise StorageError(f"cannot read {path}: {exc.strerror or exc}") from None

    def get_file(self, key: str, target: Path) -> None:
        path = self._path(key)
        try:
            shutil.copyfile(path, target)
        except OSError as exc:
            raise StorageError(f"cannot read {path}: {exc.strerror or exc}") from None

    def delete(self, key: str) -> None:
        self._path(key).unlink(missing_ok=True)
