"""S3 as storage (boto3): a bucket and a key prefix, credentials from the standard AWS chain only.

An S3 PUT, and a completed multipart upload, appear whole or not at all, so objects go straight to their
final keys. Large files go up in parts; since a multipart upload carries no MD5, each object gets
rclone's `md5chksum` metadata (so `rclone --checksum` compares content, not just size) and our sha256.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any, Final
from urllib.parse import urlparse

from ..core.digest import FileDigest
from .base import ByteProgress, Storage, StorageError

MULTIPART_THRESHOLD: Final = 16 * 1024 * 1024


def parse_s3_url(url: str) -> tuple[str, str]:
    """`s3://bucket/some/prefix` -> ("bucket", "some/prefix"); raises ValueError for anything else."""
    parsed = urlparse(url)
    if parsed.scheme != "s3" or not parsed.netloc or parsed.query or parsed.fragment:
        raise ValueError(f"{url!r} is not an s3://bucket/prefix URL")
    prefix = parsed.path.strip("/")
    if any(p in (".", "..") for p in prefix.split("/")) or "//" in parsed.path:
        raise ValueError(f"{url!r} has an unusable prefix")
    return parsed.netloc, prefix


def make_client(endpoint_url: str | None) -> Any:
    """A boto3 S3 client; an empty endpoint means AWS's own (or AWS_ENDPOINT_URL from the environment)."""
    import boto3
    from botocore.config import Config

    config = Config(
        # S3-compatible servers (rclone serve s3, RustFS) do not all speak the newer default checksums.
        request_checksum_calculation="when_required",
        response_checksum_validation="when_required",
        retries={"max_attempts": 5, "mode": "standard"},
        s3={"addressing_style": "path"},
    )
    return boto3.client("s3", endpoint_url=endpoint_url or None, config=config)


class S3Storage(Storage):
    def __init__(self, bucket: str, prefix: str, client: Any) -> None:
        self.bucket = bucket
        self.prefix = f"{prefix.strip('/')}/" if prefix.strip("/") else ""
        self.client = client

    @property
    def location(self) -> str:
        return f"s3://{self.bucket}/{self.prefix}"

    def _call(self, what: str, key: str, call: Callable[[], Any]) -> Any:
        from boto3.exceptions import S3UploadFailedError
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            return call()
        except S3UploadFailedError as exc:
            raise StorageError(f"{what} {self.where(key)}: {exc}") from None
        except ClientError as exc:
            error = exc.response.get("Error", {})
            raise StorageError(f"{what} {self.where(key)}: {error.get('Code')} {error.get('Message', '')}") from None
        except BotoCoreError as exc:
            raise StorageError(f"{what} {self.where(key)}: {exc}") from None

    def list(self, prefix: str) -> list[str]:
        keys: list[str] = []
        paginator = self.client.get_paginator("list_objects_v2")
        pages = self._call(
            "cannot list", prefix, lambda: list(paginator.paginate(Bucket=self.bucket, Prefix=self.prefix + prefix))
        )
        for page in pages:
            keys.extend(item["Key"][len(self.prefix) :] for item in page.get("Contents", []))
        return sorted(keys)

    def put_file(self, key: str, source: Path, digest: FileDigest, progress: ByteProgress | None = None) -> None:
        from boto3.s3.transfer import TransferConfig

        transfer = TransferConfig(multipart_threshold=MULTIPART_THRESHOLD, multipart_chunksize=MULTIPART_THRESHOLD)
        extra = {"Metadata": {"md5chksum": digest.md5_base64, "sha256": digest.sha256}}
        self._call(
            "cannot upload to",
            key,
            lambda: self.client.upload_file(
                Filename=str(source),
                Bucket=self.bucket,
                Key=self.prefix + key,
                ExtraArgs=extra,
                Callback=progress,
                Config=transfer,
            ),
        )

    def put_bytes(self, key: str, data: bytes) -> None:
        self._call(
            "cannot write", key, lambda: self.client.put_object(Bucket=self.bucket, Key=self.prefix + key, Body=data)
        )

    def delete(self, key: str) -> None:
        self._call("cannot delete", key, lambda: self.client.delete_object(Bucket=self.bucket, Key=self.prefix + key))
