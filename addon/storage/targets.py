"""Opening the storage a publish goes to, from what the CLI flags or the preferences say."""

from __future__ import annotations

from pathlib import Path

from .base import Storage
from .filesystem import FilesystemStorage
from .s3 import S3Storage, S3Timeouts, make_client, parse_s3_url


def open_storage(root: str | Path | None = None, s3_url: str | None = None, endpoint_url: str | None = None) -> Storage:
    """A folder root, or S3 at `s3://bucket/prefix` with the timeouts the environment sets; raises
    ValueError for an unusable choice."""
    if (root is None) == (s3_url is None):
        raise ValueError("choose exactly one of a storage root folder or an s3://bucket/prefix URL")
    if s3_url is not None:
        bucket, prefix = parse_s3_url(s3_url)
        timeouts = S3Timeouts.from_environment()
        return S3Storage(bucket, prefix, make_client(endpoint_url, timeouts), timeouts)
    assert root is not None
    folder = Path(root).expanduser().absolute()
    if not folder.is_dir():
        raise ValueError(f"storage root {folder} is not a folder (is the bucket mounted?)")
    return FilesystemStorage(folder)


def open_location(where: str, endpoint_url: str | None = None) -> Storage:
    """A folder, or `s3://bucket/prefix`, as storage; ValueError for an unusable one."""
    if where.startswith("s3://"):
        return open_storage(s3_url=where, endpoint_url=endpoint_url)
    return open_storage(root=where)
