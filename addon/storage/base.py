"""The storage interface publishing needs, whatever holds the bucket."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable
from pathlib import Path

from ..core.errors import OperationError
from ..core.publish.digest import FileDigest

# Called with the number of bytes just sent.
ByteProgress = Callable[[int], None]


class StorageError(OperationError, RuntimeError):
    """The storage refused or failed an operation; the message says which key and why."""


class Storage(ABC):
    """Keys are relative, '/'-separated (`exports/A-v1.vrm`).

    Every put is all-or-nothing under its key: a reader (or a crash) never sees a partial object there.
    Puts do not check for an existing key: versions are made unique by claims (claims.py), because
    `rclone serve s3` and an rclone mount both overwrite silently.
    """

    @property
    @abstractmethod
    def location(self) -> str:
        """Where the keys live, for people: a folder or s3://bucket/prefix."""

    @abstractmethod
    def list(self, prefix: str) -> list[str]:
        """Every complete object under `prefix` (recursively), as keys."""

    @abstractmethod
    def put_file(self, key: str, source: Path, digest: FileDigest, progress: ByteProgress | None = None) -> None:
        """Uploads a local file under `key`, carrying its md5 and sha256 where the storage keeps metadata."""

    @abstractmethod
    def put_bytes(self, key: str, data: bytes) -> None:
        """Writes a small object under `key`."""

    @abstractmethod
    def read_bytes(self, key: str) -> bytes | None:
        """A small object's content, None when there is no such key."""

    @abstractmethod
    def get_file(self, key: str, target: Path) -> None:
        """Downloads `key` to the local file `target` (written whole, replacing it)."""

    @abstractmethod
    def delete(self, key: str) -> None:
        """Removes `key`; no error when it is already gone."""

    def where(self, key: str) -> str:
        """The full address of a key, for people."""
        return f"{self.location.rstrip('/')}/{key}"
