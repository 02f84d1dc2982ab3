"""The S3 backend: objects in a bucket (or an S3-compatible service) below an optional prefix."""
from __future__ import annotations

import base64
import contextlib
import datetime as dt
import hashlib
from collections.abc import Iterator
from typing import Any, BinaryIO, cast

import boto3
import botocore.config
from botocore.exceptions import BotoCoreError, ClientError

from .base import SETTING, MissingFile, Partial, StorageError, _aside_target, _validate_prefix, validate_key


class S3Storage:
    """Objects in an S3 bucket (or an S3-compatible service), all below an optional key prefix.

    S3 writes a PUT whole or not at all, so `put` needs no temporary object. The bucket is never created
    here: `check()` says clearly when it is missing, which is the operator's decision to fix.
    """

    def __init__(self, bucket: str, prefix: str, client: Any, *, url: str | None = None, page_size: int = 1000) -> None:
        self.bucket = bucket
        self.page_size = page_size
        self.prefix = prefix.strip("/")
        if self.prefix:
            validate_key(self.prefix)
        self.client = client
        self._url = url or f"s3://{bucket}/{self.prefix}"

    @property
    def url(self) -> str:
        return self._url

    def put(self, key: str, data: bytes | BinaryIO) -> None:
        """Store the object with its MD5 digest, so S3 refuses a body that was damaged on the way."""
        name = self._name(key)
        if not isinstance(data, bytes | bytearray | memoryview):
            data = data.read()  # the digest needs every byte first; objects here are tens of MB at most
        digest = base64.b64encode(hashlib.md5(data, usedforsecurity=False).digest()).decode()
        with self._errors("store", key):
            self.client.put_object(Bucket=self.bucket, Key=name, Body=data, ContentMD5=digest)

    def get(self, key: str) -> bytes:
        with self.open(key) as body, self._errors("read", key):
            return body.read()

    def open(self, key: str) -> BinaryIO:
        """The object's body as a stream; it holds a connection until read to the end or closed."""
        name = self._name(key)
        with self._errors("read", key):
            response = self.client.get_object(Bucket=self.bucket, Key=name)
        return cast(BinaryIO, response["Body"])

    def size(self, key: str) -> int:
        name = self._name(key)
        with self._errors("read", key):
            return int(self.client.head_object(Bucket=self.bucket, Key=name)["ContentLength"])

    def exists(self, key: str) -> bool:
        try:
            self.size(key)
        except MissingFile:
            return False
        return True

    def delete(self, key: str) -> None:
        name = self._name(key)
        with self._errors("delete", key):
            self.client.delete_object(Bucket=self.bucket, Key=name)

    def keys(self, prefix: str = "") -> Iterator[str]:
        """Every object whose key starts with prefix, in S3's order; "folder" marker objects (names ending
        in "/", as the AWS console creates them) hold no file and are skipped."""
        _validate_prefix(prefix)
        strip = len(self.prefix) + 1 if self.prefix else 0
        paginator = self.client.get_paginator("list_objects_v2")
        with self._errors("list", prefix or "/"):
            pages = paginator.paginate(
                Bucket=self.bucket, Prefix=self._name_prefix() + prefix, PaginationConfig={"PageSize": self.page_size}
            )
            for page in pages:
                for item in page.get("Contents", []):
                    if not item["Key"].endswith("/"):
                        yield item["Key"][strip:]

    def partials(self) -> Iterator[Partial]:
        """Multipart uploads under the prefix that were begun and never completed nor aborted. `put` makes
        none (one PUT each), but a tool copying large files into the bucket does, and S3 keeps (and bills)
        their parts until they are aborted."""
        strip = len(self.prefix) + 1 if self.prefix else 0
        with self._errors("list", "/"):
            paginator = self.client.get_paginator("list_multipart_uploads")
            for page in paginator.paginate(Bucket=self.bucket, Prefix=self._name_prefix()):
                for upload in page.get("Uploads", []):
                    parts = self.client.get_paginator("list_parts").paginate(
                        Bucket=self.bucket, Key=upload["Key"], UploadId=upload["UploadId"])
                    size = sum(part["Size"] for listed in parts for part in listed.get("Parts", []))
                    yield Partial(name=upload["Key"][strip:], modified_at=upload["Initiated"].astimezone(dt.UTC),
                                  size=size, upload_id=upload["UploadId"])

    def remove_partial(self, partial: Partial) -> None:
        """Abort one unfinished multipart upload `partials()` listed, which frees its parts."""
        if partial.upload_id is None:
            raise ValueError(f"{partial.name[:80]!r} is not an upload of this storage")
        with self._errors("delete", partial.name):
            self.client.abort_multipart_upload(Bucket=self.bucket, Key=self._name_prefix() + partial.name,
                                               UploadId=partial.upload_id)

    def set_aside(self, name: str, folder: str) -> None:
        """Move a listed object to `folder/name` under the prefix: a server-side copy, then the delete."""
        target = self._name_prefix() + _aside_target(name, folder)
        source = self._name_prefix() + name
        with self._errors("move aside", name):
            self.client.copy_object(Bucket=self.bucket, Key=target, CopySource={"Bucket": self.bucket, "Key": source})
            self.client.delete_object(Bucket=self.bucket, Key=source)

    def check(self) -> None:
        """Raise StorageError unless the bucket exists and the credentials may use it."""
        try:
            self.client.head_bucket(Bucket=self.bucket)
        except ClientError as exc:
            code = _error_code(exc)
            if code in ("404", "NoSuchBucket"):
                raise StorageError(
                    f"the S3 bucket {self.bucket!r} does not exist at {self.client.meta.endpoint_url}: "
                    f"create it, or correct {SETTING} ({self.url})"
                ) from exc
            if code in ("403", "AccessDenied"):
                raise StorageError(
                    f"access to the S3 bucket {self.bucket!r} was denied: check the AWS credentials "
                    f"(environment, ~/.aws or instance role) and the bucket policy ({SETTING}={self.url})"
                ) from exc
            raise StorageError(f"the S3 bucket {self.bucket!r} cannot be used ({SETTING}={self.url}): {exc}") from exc
        except BotoCoreError as exc:
            raise StorageError(f"cannot reach S3 for {SETTING}={self.url}: {exc}") from exc

    def _name_prefix(self) -> str:
        return f"{self.prefix}/" if self.prefix else ""

    def _name(self, key: str) -> str:
        return self._name_prefix() + validate_key(key)

    @contextlib.contextmanager
    def _errors(self, action: str, key: str) -> Iterator[None]:
        try:
            yield
        except ClientError as exc:
            code = _error_code(exc)
            # HEAD answers carry no body, so a missing key arrives as a bare "404".
            if code in ("NoSuchKey", "404") and action == "read":
                raise MissingFile(key) from None
            if code == "NoSuchBucket":
                raise StorageError(
                    f"the S3 bucket {self.bucket!r} does not exist: create it, or correct {SETTING} ({self.url})"
                ) from exc
            raise StorageError(f"could not {action} {key!r} in {self.url}: {exc}") from exc
        except BotoCoreError as exc:
            raise StorageError(f"could not {action} {key!r} in {self.url}: {exc}") from exc


def _error_code(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code", ""))


def s3_client(*, endpoint_url: str | None, region: str | None) -> Any:
    """A boto3 S3 client as `from_url` configures it; credentials come from boto3's own chain."""
    return boto3.session.Session().client(
        "s3",
        endpoint_url=endpoint_url,
        region_name=region,
        config=botocore.config.Config(
            retries={"max_attempts": 3, "mode": "standard"},
            # Path style works with every S3-compatible service and with bucket names containing dots.
            s3={"addressing_style": "path"},
        ),
    )
