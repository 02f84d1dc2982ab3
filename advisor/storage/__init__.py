"""Where uploaded documents and exported packets are kept: a folder on disk or an S3 bucket, chosen by a URL.

Both backends offer the same small interface (`Storage`) and the same guarantees: a reader sees a whole
object or none, keys are random and checked against a strict pattern before they touch a path or a bucket,
and every failure reaches the caller as `MissingFile` (no such key) or `StorageError` (anything an operator
has to fix). Nothing here knows about Flask requests or the database; the caller records which keys exist.
"""
from __future__ import annotations

import os
import re
from typing import Any
from urllib.parse import parse_qsl, unquote, urlencode, urlsplit

from botocore.exceptions import BotoCoreError

from .base import (
    ASIDE_PREFIX,
    MAX_KEY_LENGTH,
    SETTING,
    MissingFile,
    Partial,
    Storage,
    StorageError,
    _validate_prefix,
    aside_folder,
    is_set_aside,
    is_valid_key,
    new_key,
    validate_key,
)
from .local import LocalStorage
from .s3 import S3Storage, s3_client

__all__ = ["ASIDE_PREFIX", "MAX_KEY_LENGTH", "SETTING", "LocalStorage", "MissingFile", "Partial", "S3Storage",
           "Storage", "StorageError", "aside_folder", "from_url", "is_set_aside", "is_valid_key", "new_key",
           "s3_client", "validate_key"]

_BUCKET = re.compile(r"[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]")
_REGION = re.compile(r"[a-z0-9-]{1,40}")
_S3_OPTIONS = ("endpoint_url", "region")


def from_url(url: str | None, *, default_folder: str | os.PathLike[str]) -> Storage:
    """The storage a `STORAGE_URL` setting names: empty for a folder in the instance, `file:///path` for a
    folder, `s3://bucket/prefix?endpoint_url=...&region=...` for S3. Credentials never come from the URL
    but from boto3's usual chain (environment, ~/.aws, instance role), so the URL is never a secret."""
    if not url:
        return LocalStorage(default_folder)
    try:
        parts = urlsplit(url)
    except ValueError:
        raise StorageError(f"{SETTING} is not a valid URL") from None
    # Messages quote only the parts that were checked, since a mistyped URL may still hold a secret.
    if parts.username is not None or parts.password is not None:
        raise StorageError(
            f"{SETTING} must not contain credentials; give them to boto3 through AWS_ACCESS_KEY_ID and "
            f"AWS_SECRET_ACCESS_KEY, ~/.aws or an instance role"
        )
    if parts.scheme == "file":
        return _local_from_url(parts)
    if parts.scheme == "s3":
        return _s3_from_url(parts)
    raise StorageError(f"{SETTING} has the unsupported scheme {parts.scheme!r}: use file:///path or s3://bucket")


def _local_from_url(parts: Any) -> LocalStorage:
    path = unquote(parts.path)
    if parts.netloc not in ("", "localhost") or not path.startswith("/") or parts.query or parts.fragment:
        raise StorageError(f"{SETTING} must name a local folder as file:///absolute/path")
    return LocalStorage(path)


def _s3_from_url(parts: Any) -> S3Storage:
    bucket = parts.netloc
    if not _BUCKET.fullmatch(bucket) or ".." in bucket:
        raise StorageError(f"{SETTING} must name an S3 bucket as s3://bucket-name/optional/prefix")
    prefix = unquote(parts.path).strip("/")
    try:
        _validate_prefix(prefix)
    except ValueError as exc:
        raise StorageError(f"{SETTING} has an invalid key prefix: {exc}") from None
    if parts.fragment:
        raise StorageError(f"{SETTING} must not have a #fragment")
    options = _s3_options(parts.query)
    endpoint_url = options.get("endpoint_url")
    region = options.get("region")
    try:
        client = s3_client(endpoint_url=endpoint_url, region=region)
    except (BotoCoreError, ValueError) as exc:
        raise StorageError(f"{SETTING} cannot be used for S3: {exc}") from exc
    query = urlencode(options, safe=":/")
    shown = f"s3://{bucket}/{prefix}" + (f"?{query}" if query else "")
    return S3Storage(bucket, prefix, client, url=shown)


def _s3_options(query: str) -> dict[str, str]:
    try:
        pairs = parse_qsl(query, keep_blank_values=True, strict_parsing=bool(query))
    except ValueError:
        raise StorageError(f"{SETTING} has a malformed query string") from None
    names = [name for name, _ in pairs]
    unknown = sorted(set(names) - set(_S3_OPTIONS))
    if unknown:
        # Only names are quoted: a value may be a key someone pasted where it does not belong.
        raise StorageError(
            f"{SETTING} has unknown option(s) {', '.join(repr(name[:40]) for name in unknown)}; "
            f"allowed: {', '.join(_S3_OPTIONS)} (credentials come from the AWS environment, never the URL)"
        )
    if len(names) != len(set(names)):
        raise StorageError(f"{SETTING} repeats an option")
    options = {name: value for name, value in pairs if value}
    endpoint_url = options.get("endpoint_url")
    if endpoint_url is not None and not _is_bare_http_url(endpoint_url):
        raise StorageError(f"{SETTING} needs endpoint_url as http(s)://host[:port], without credentials or path")
    region = options.get("region")
    if region is not None and not _REGION.fullmatch(region):
        raise StorageError(f"{SETTING} has an invalid region; use a name like eu-central-1")
    return options


def _is_bare_http_url(value: str) -> bool:
    try:
        parts = urlsplit(value)
        port = parts.port  # raises ValueError unless the port is a number from 0 to 65535
    except ValueError:
        return False
    return (
        parts.scheme in ("http", "https")
        and bool(parts.hostname)
        and parts.username is None
        and parts.password is None
        and parts.path in ("", "/")
        and not parts.query
        and not parts.fragment
        and port != 0
    )
