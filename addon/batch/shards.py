"""Which shard takes an item: a stable hash of the item's id, so N pods split one list without talking."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TypeVar

T = TypeVar("T")


@dataclass(frozen=True)
class Shard:
    index: int  # 0-based, as Kubernetes' JOB_COMPLETION_INDEX
    count: int

    @property
    def label(self) -> str:
        return f"{self.index}/{self.count}"


WHOLE = Shard(0, 1)


def parse_shard(text: str) -> Shard:
    """`I/N` with 0 <= I < N; ValueError with one line for anything else."""
    index, slash, count = text.partition("/")
    try:
        shard = Shard(int(index), int(count))
    except ValueError:
        shard = Shard(-1, 0)
    if not slash or shard.count < 1 or not 0 <= shard.index < shard.count:
        raise ValueError(f"--shard {text!r}: give I/N with 0 <= I < N (JOB_COMPLETION_INDEX/completions)")
    return shard


def shard_of(item_id: str, count: int) -> int:
    """The shard an id falls in: the same on every machine and Python (no salted hash())."""
    digest = hashlib.sha256(item_id.encode()).digest()
    return int.from_bytes(digest[:8], "big") % count


def select(items: Iterable[T], ids: Iterable[str], shard: Shard) -> list[T]:
    """The items whose id falls in `shard`, in their order."""
    return [item for item, item_id in zip(items, ids, strict=True) if shard_of(item_id, shard.count) == shard.index]
