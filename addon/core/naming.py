"""Model names, versioned file names and the next free version.

A published model is `<Name>-v<N>`: `exports/<Name>-v<N>.vrm`, `projects/<Name>-v<N>.blend` and
`promotion/<state>/<Name>-v<N>.json`. A name is a plain token so it can never reach outside those
folders (no slashes, dots or spaces).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Final, NamedTuple

NAME_PATTERN: Final = r"[A-Za-z0-9][A-Za-z0-9_-]{0,63}"
_NAME: Final = re.compile(NAME_PATTERN)
_VERSIONED: Final = re.compile(rf"(?P<name>{NAME_PATTERN})-v(?P<version>[1-9][0-9]{{0,8}})")

EXPORTS: Final = "exports/"
PROJECTS: Final = "projects/"
PROMOTION: Final = "promotion/"
QUEUE: Final = "promotion/queue/"
DONE: Final = "promotion/done/"
FAILED: Final = "promotion/failed/"
# Version claims (see addon/storage/claims.py) live under promotion/ so they count towards the next version.
CLAIMS: Final = "promotion/claims/"


class InvalidNameError(ValueError):
    """A model name that breaks the rule; the message is one line for the user."""


class Versioned(NamedTuple):
    name: str
    version: int

    @property
    def stem(self) -> str:
        return f"{self.name}-v{self.version}"

    def export_key(self) -> str:
        return f"{EXPORTS}{self.stem}.vrm"

    def project_key(self) -> str:
        return f"{PROJECTS}{self.stem}.blend"

    def request_key(self, folder: str = QUEUE) -> str:
        return f"{folder}{self.stem}.json"


def check_name(name: str) -> str:
    """`name` when it is a valid model name; raises InvalidNameError otherwise."""
    if not _NAME.fullmatch(name):
        raise InvalidNameError(
            f"invalid model name {name!r}: use 1-64 letters, digits, '-' or '_', starting with a letter or digit"
        )
    return name


def parse_stem(stem: str) -> Versioned | None:
    """`Companion-A-v2` -> ("Companion-A", 2); None for anything else."""
    match = _VERSIONED.fullmatch(stem)
    return Versioned(match["name"], int(match["version"])) if match else None


def parse_key(key: str) -> Versioned | None:
    """The model and version a storage key holds (`exports/A-v2.vrm`, `promotion/done/A-v2.json`, a claim)."""
    base = key.rsplit("/", 1)[-1]
    if key.startswith(CLAIMS):
        # promotion/claims/<Name>-v<N>/<token>: the folder names the version.
        parts = key[len(CLAIMS) :].split("/")
        return parse_stem(parts[0]) if len(parts) == 2 else None
    stem, dot, _suffix = base.partition(".")
    # Only the names we write: `.A-v1.vrm.tmp...` temporaries start with a dot and never match.
    return parse_stem(stem) if dot and stem else None


def highest_version(name: str, keys: Iterable[str]) -> int:
    """The highest version of `name` among storage keys, 0 when there is none."""
    found = [v.version for v in map(parse_key, keys) if v is not None and v.name == name]
    return max(found, default=0)


def next_version(name: str, keys: Iterable[str]) -> int:
    """One more than the highest version of `name` already present under exports/ and promotion/."""
    relevant = (k for k in keys if k.startswith((EXPORTS, PROMOTION)))
    return highest_version(check_name(name), relevant) + 1
