"""Taking a version number no other publisher holds, on storage that overwrites silently.

Neither `rclone serve s3` (it ignores If-None-Match) nor an rclone mount refuses to overwrite, so a
version is claimed by list-after-write: each publisher writes its own claim object
`promotion/claims/<Name>-v<N>/<token>` and then lists that folder. It holds N only if its claim is the
only one there. Two publishers cannot both win: the later writer's listing always sees the earlier claim.
Both may lose (each saw the other); both then withdraw and try again after a random pause. Claims of
winners are kept for good: they count towards the next version even before any artifact exists, and they
record who took which number. A publisher killed after claiming leaves a gap in the numbers, nothing else.
"""

from __future__ import annotations

import getpass
import json
import os
import random
import secrets
import socket
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Final

from ..core.publish import bucket_keys
from ..core.publish.promotion import utc_now
from .base import Storage, StorageError

ATTEMPTS: Final = 12
# Called with the attempt number after a publisher has counted the versions and before it writes its
# claim: the race test holds every racer there until all have counted, the worst interleaving.
AfterCounting = Callable[[int], None]


@dataclass(frozen=True)
class Claim:
    stem: bucket_keys.Versioned
    key: str  # this publisher's claim object
    seen: tuple[str, ...]  # the keys counted to choose the version


def publisher_token() -> str:
    """Unique per publish: time first so a listing reads in order, then host, process and randomness."""
    host = "".join(c if c.isalnum() or c in "-_" else "_" for c in socket.gethostname())[:40]
    return f"{time.time_ns()}-{host}-{os.getpid()}-{secrets.token_hex(4)}"


def _holders(storage: Storage, stem: bucket_keys.Versioned) -> list[str]:
    return storage.list(f"{bucket_keys.CLAIMS}{stem.stem}/")


def claim_version(
    storage: Storage, name: str, created_by: str | None = None, after_counting: AfterCounting | None = None
) -> Claim:
    """Claims the next free version of `name`; raises StorageError when rivals kept winning."""
    bucket_keys.check_name(name)
    token = publisher_token()
    body = json.dumps({"by": created_by or getpass.getuser(), "at": utc_now(), "token": token}).encode()
    for attempt in range(ATTEMPTS):
        taken = (
            storage.list(bucket_keys.EXPORTS)
            + storage.list(bucket_keys.ANIMATIONS)
            + storage.list(bucket_keys.PROMOTION)
        )
        try:
            stem = bucket_keys.Versioned(name, bucket_keys.next_version(name, taken))
        except bucket_keys.VersionRangeError as exc:
            raise StorageError(str(exc)) from None
        if after_counting is not None:
            after_counting(attempt)
        mine = f"{bucket_keys.CLAIMS}{stem.stem}/{token}"
        storage.put_bytes(mine, body)
        if _holders(storage, stem) == [mine]:
            return Claim(stem, mine, tuple(taken))
        storage.delete(mine)
        # Back off a random while, growing, so two publishers that saw each other stop meeting.
        time.sleep(random.uniform(0.0, 0.05 * (2 ** min(attempt, 5))))
    raise StorageError(f"could not claim a version of {name} after {ATTEMPTS} tries: too many publishers at once")
