"""S3 as storage (boto3): a bucket and a key prefix, credentials from the standard AWS chain only.

An S3 PUT, and a completed multipart upload, appear whole or not at all, so objects go straight to their
final keys. Large files go up in parts; since a multipart upload carries no MD5, each object gets
rclone's `md5chksum` metadata (so `rclone --checksum` compares content, not just size) and our sha256.

Every request has a connect and a read timeout and a bounded number of attempts: an endpoint that
accepts a connection and never answers fails the publish within a bounded time, with one line.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final
from urllib.parse import urlparse

from ..core.publish.digest import FileDigest
from .base import ByteProgress, Storage, StorageError

MULTIPART_THRESHOLD: Final = 16 * 1024 * 1024
CONNECT_TIMEOUT_ENV: Final = "AVATAR_FORGE_S3_CONNECT_TIMEOUT"
READ_TIMEOUT_ENV: Final = "AVATAR_FORGE_S3_READ_TIMEOUT"
ATTEMPTS_ENV: Final = "AVATAR_FORGE_S3_ATTEMPTS"


@dataclass(frozen=True)
class S3Timeouts:
    """Seconds to connect, seconds to wait for each answer, and tries per request (the first included)."""

    connect: float = 10.0
    read: float = 60.0
    attempts: int = 3

    @classmethod
    def from_environment(cls, environ: Mapping[str, str] = os.environ) -> S3Timeouts:
        """The defaults, each replaced by its AVATAR_FORGE_S3_* variable; ValueError for a bad one."""
        default = cls()

        def number(variable: str, fallback: float) -> float:
            text = environ.get(variable, "").strip()
            try:
                value = float(text) if text else fallback
            except ValueError:
                value = 0.0
            if not 0 < value < float("inf"):
                raise ValueError(f"{variable} must be a positive number of seconds, not {text!r}")
            return value

        attempts = number(ATTEMPTS_ENV, default.attempts)
        if attempts != int(attempts):
            raise ValueError(f"{ATTEMPTS_ENV} must be a whole number of tries")
        return cls(number(CONNECT_TIMEOUT_ENV, default.connect), number(READ_TIMEOUT_ENV, default.read), int(attempts))


def parse_s3_url(url: str) -> tuple[str, str]:
    """`s3://bucket/some/prefix` -> ("bucket", "some/prefix"); raises ValueError for anything else."""
    parsed = urlparse(url)
    if parsed.scheme != "s3" or not parsed.netloc or parsed.query or parsed.fragment:
        raise ValueError(f"{url!r} is not an s3://bucket/prefix URL")
    prefix = parsed.path.strip("/")
    if any(p in (".", "..") for p in prefix.split("/")) or "//" in parsed.path:
        raise ValueError(f"{url!r} has an unusable prefix")
    return parsed.netloc, prefix


def make_client(endpoint_url: str | None, timeouts: S3Timeouts | None = None) -> Any:
    """A boto3 S3 client; an empty endpoint means AWS's own (or AWS_ENDPOINT_URL from the environment)."""
    import boto3
    from botocore.config import Config

    limits = timeouts or S3Timeouts()
    config = Config(
        # S3-compatible servers (rclone serve s3, RustFS) do not all speak the newer default checksums.
        request_checksum_calculation="when_required",
        response_checksum_validation="when_required",
        connect_timeout=limits.connect,
        read_timeout=limits.read,
        retries={"total_max_attempts": limits.attempts, "mode": "standard"},
        s3={"addressing_style": "path"},
    )
    return boto3.client("s3", endpoint_url=endpoint_url or None, config=config)


class S3Storage(Storage):
    def __init__(self, bucket: str, prefix: str, client: Any, timeouts: S3Timeouts | None = None) -> None:
        self.bucket = bucket
        self.prefix = f"{prefix.strip('/')}/" if prefix.strip("/") else ""
        self.client = client
        self.timeouts = timeouts or S3Timeouts()

    @property
    def location(self) -> str:
        return f"s3://{self.bucket}/{self.prefix}"

    def _call(self, what: str, key: str, call: Callable[[], Any]) -> Any:
        from boto3.exceptions import S3UploadFailedError
        from botocore.exceptions import BotoCoreError, ClientError, ConnectTimeoutError, ReadTimeoutError

        endpoint = self.client.meta.endpoint_url
        tries = f"{self.timeouts.attempts} attempt{'s' if self.timeouts.attempts > 1 else ''}"
        try:
            return call()
        except S3UploadFailedError as exc:
            raise StorageError(f"{what} {self.where(key)}: {exc}") from None
        except ClientError as exc:
            error = exc.response.get("Error", {})
            raise StorageError(f"{what} {self.where(key)}: {error.get('Code')} {error.get('Message', '')}") from None
        except ReadTimeoutError:
            limit = f"{self.timeouts.read:g} s"
            raise StorageError(
                f"{what} {self.where(key)}: {endpoint} did not answer within {limit} ({tries})"
            ) from None
        except ConnectTimeoutError:
            limit = f"{self.timeouts.connect:g} s"
            raise StorageError(
                f"{what} {self.where(key)}: no connection to {endpoint} within {limit} ({tries})"
            ) from None
        except BotoCoreError as exc:
            raise StorageError(f"{what} {self.where(key)}: {exc}") from None
        except OSError as exc:  # the local file to upload, unreadable or gone
            raise StorageError(f"{what} {self.where(key)}: {exc.strerror or exc}") from None

    def _never_overwrite(self, key: str) -> None:
        """Refuses a key that exists. The claims make versions unique; this is the guard of last resort
        (S3 itself, and rclone serve s3, overwrite silently), and it cannot close the gap until the PUT."""
        from botocore.exceptions import ClientError

        def exists() -> bool:
            try:
                self.client.head_object(Bucket=self.bucket, Key=self.prefix + key)
            except ClientError as exc:
                if exc.response.get("Error", {}).get("Code") in ("404", "NoSuchKey", "NotFound"):
                    return False
                raise
            return True

        if self._call("cannot check", key, exists):
            raise StorageError(f"{self.where(key)} already exists; it is never overwritten")

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
        self._never_overwrite(key)
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
        self._never_overwrite(key)
        self._call(
            "cannot write", key, lambda: self.client.put_object(Bucket=self.bucket, Key=self.prefix + key, Body=data)
        )

    def read_bytes(self, key: str) -> bytes | None:
        from botocore.exceptions import ClientError

        def read() -> bytes | None:
            try:
                answer = self.client.get_object(Bucket=self.bucket, Key=self.prefix + key)
            except ClientError as exc:
                if exc.response.get("Error", {}).get("Code") in ("404", "NoSuchKey", "NotFound"):
                    return None
                raise
            return bytes(answer["Body"].read())

        result: bytes | None = self._call("cannot read", key, read)
        return result

    def get_file(self, key: str, target: Path) -> None:
        self._call(
            "cannot download",
            key,
            lambda: self.client.download_file(Bucket=self.bucket, Key=self.prefix + key, Filename=str(target)),
        )

    def delete(self, key: str) -> None:
        self._call("cannot delete", key, lambda: self.client.delete_object(Bucket=self.bucket, Key=self.prefix + key))
