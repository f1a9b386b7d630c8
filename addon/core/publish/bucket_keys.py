"""Model names, versioned file names and the next free version.

A published model is `<Name>-v<N>`: `exports/<Name>-v<N>.vrm`, `projects/<Name>-v<N>.blend` and
`promotion/<state>/<Name>-v<N>.json`; a published animation clip is `animations/<Name>-v<N>.vrma` with the
same project and request keys. Models and clips share one version sequence per name, so a request key
always names exactly one thing. A name is a plain token so it can never reach outside those
folders (no slashes, dots or spaces).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Final, NamedTuple

from ..errors import InputError

NAME_PATTERN: Final = r"[A-Za-z0-9][A-Za-z0-9_-]{0,63}"
_NAME: Final = re.compile(NAME_PATTERN)
# The one bound on versions: what is parsed, written, claimed and requested. A key past it (a file put
# there by hand) is no version of its name: it is never counted as the latest.
MAX_VERSION: Final = 999_999_999
_VERSIONED: Final = re.compile(rf"(?P<name>{NAME_PATTERN})-v(?P<version>[1-9][0-9]{{0,{len(str(MAX_VERSION)) - 1}}})")

EXPORTS: Final = "exports/"
ANIMATIONS: Final = "animations/"
PROJECTS: Final = "projects/"
PROMOTION: Final = "promotion/"
QUEUE: Final = "promotion/queue/"
DONE: Final = "promotion/done/"
FAILED: Final = "promotion/failed/"
# Version claims (see addon/storage/claims.py) live under promotion/ so they count towards the next version.
CLAIMS: Final = "promotion/claims/"


class InvalidNameError(InputError, ValueError):
    """A model name that breaks the rule; the message is one line for the user."""


class VersionRangeError(ValueError):
    """The next version of a name would pass MAX_VERSION; the message names the key in the way."""


class Versioned(NamedTuple):
    name: str
    version: int

    @property
    def stem(self) -> str:
        return f"{self.name}-v{self.version}"

    def export_key(self) -> str:
        return f"{EXPORTS}{self.stem}.vrm"

    def animation_key(self) -> str:
        return f"{ANIMATIONS}{self.stem}.vrma"

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
    """`Companion-A-v2` -> ("Companion-A", 2); None for anything else, a version past MAX_VERSION included."""
    match = _VERSIONED.fullmatch(stem)
    if not match or int(match["version"]) > MAX_VERSION:
        return None
    return Versioned(match["name"], int(match["version"]))


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


def highest_version(name: str, keys: Iterable[str]) -> tuple[int, str | None]:
    """The highest version of `name` among storage keys and a key that holds it; (0, None) when none does."""
    found = [(v.version, key) for key in keys if (v := parse_key(key)) is not None and v.name == name]
    return max(found, default=(0, None))


def next_version(name: str, keys: Iterable[str]) -> int:
    """One more than the highest version of `name` already present under exports/, animations/ and promotion/.

    Raises VersionRangeError, naming the key, when that highest version is MAX_VERSION: publish refuses
    with that line rather than take a number nothing can parse back.
    """
    relevant = (k for k in keys if k.startswith((EXPORTS, ANIMATIONS, PROMOTION)))
    highest, key = highest_version(check_name(name), relevant)
    if highest >= MAX_VERSION:
        raise VersionRangeError(
            f"{key} holds version {highest} of {name}, the highest a version can be: no later version of {name} "
            "can be published; move that file aside (nothing legitimate gets there) or publish under another name"
        )
    return highest + 1
