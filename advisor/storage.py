"""Where uploaded documents and exported packets are kept: a folder on disk or an S3 bucket, chosen by a URL.

Both backends offer the same small interface (`Storage`) and the same guarantees: a reader sees a whole
object or none, keys are random and checked against a strict pattern before they touch a path or a bucket,
and every failure reaches the caller as `MissingFile` (no such key) or `StorageError` (anything an operator
has to fix). Nothing here knows about Flask requests or the database; the caller records which keys exist.
"""
from __future__ import annotations

import base64
import contextlib
import datetime as dt
import hashlib
import os
import re
import secrets
import shutil
import stat
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO, Protocol, cast, runtime_checkable
from urllib.parse import parse_qsl, unquote, urlencode, urlsplit

import boto3
import botocore.config
from botocore.exceptions import BotoCoreError, ClientError

SETTING = "STORAGE_URL"
MAX_KEY_LENGTH = 200

# Every segment starts with a letter or digit: that rules out ".", "..", hidden names and our own ".tmp-"
# files, so a key can never name a temporary file or climb out of its folder.
_KEY = re.compile(r"[a-z0-9][a-z0-9_.-]*(?:/[a-z0-9][a-z0-9_.-]*)*")
_BUCKET = re.compile(r"[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]")
_REGION = re.compile(r"[a-z0-9-]{1,40}")
_TEMP_PREFIX = ".tmp-"
# Where a restore moves the files that were not in the backup. No key starts with "_", so nothing stored
# there is ever taken for one of the app's files: the storage check counts them apart and never deletes them.
ASIDE_PREFIX = "_restored-aside-"
_ASIDE = re.compile(re.escape(ASIDE_PREFIX) + r"\d{8}T\d{6}Z")
_S3_OPTIONS = ("endpoint_url", "region")
_CHUNK = 1024 * 1024


class MissingFile(LookupError):
    """No object is stored under the key."""


class StorageError(RuntimeError):
    """The storage is misconfigured or failed; the message tells an operator what to look at."""


@dataclass(frozen=True)
class Partial:
    """What an unfinished write leaves behind: a `.tmp-*` file beside its target (folder) or a multipart
    upload never completed nor aborted (S3). Either holds bytes no key names, until it is removed."""

    name: str  # where it is, relative to the storage: shown to an operator
    modified_at: dt.datetime  # the last write (local) or when the upload began (S3), UTC
    size: int
    upload_id: str | None = None  # S3 only: what `remove_partial` aborts


@runtime_checkable
class Storage(Protocol):
    @property
    def url(self) -> str:
        """The configured URL without any secret, safe to log and show."""
        ...

    def put(self, key: str, data: bytes | BinaryIO) -> None: ...
    def get(self, key: str) -> bytes: ...
    def open(self, key: str) -> BinaryIO: ...
    def size(self, key: str) -> int: ...
    def exists(self, key: str) -> bool: ...
    def delete(self, key: str) -> None: ...
    def keys(self, prefix: str = "") -> Iterator[str]: ...
    def partials(self) -> Iterator[Partial]: ...
    def remove_partial(self, partial: Partial) -> None: ...
    def set_aside(self, name: str, folder: str) -> None: ...
    def check(self) -> None: ...


def validate_key(key: str) -> str:
    """Return the key if it is safe as both a relative path and an S3 name, else raise ValueError: segments
    of lowercase [a-z0-9_.-], each starting with a letter or digit, joined by single slashes, without "..",
    at most 200 characters."""
    if (
        not isinstance(key, str)
        or len(key) > MAX_KEY_LENGTH
        or ".." in key
        or not _KEY.fullmatch(key)
    ):
        shown = repr(key[:60] + "…" if isinstance(key, str) and len(key) > 60 else key)
        raise ValueError(
            f"invalid storage key {shown}: use lowercase a-z, 0-9, '_', '.', '-' in segments joined by single "
            f"'/', each starting with a letter or digit, no '..', at most {MAX_KEY_LENGTH} characters"
        )
    return key


def is_valid_key(key: str) -> bool:
    try:
        validate_key(key)
    except ValueError:
        return False
    return True


def new_key(prefix: str) -> str:
    """A fresh key `prefix/yyyy/mm/<32 random hex>`; the random part carries 128 bits, so keys never collide
    and reveal nothing, and the month folders keep any one folder small."""
    now = dt.datetime.now(dt.UTC)
    return validate_key(f"{validate_key(prefix)}/{now:%Y}/{now:%m}/{secrets.token_hex(16)}")


def aside_folder(at: dt.datetime) -> str:
    """The folder name a restore at `at` moves files aside into, e.g. `_restored-aside-20261202T011500Z`."""
    return f"{ASIDE_PREFIX}{at.astimezone(dt.UTC):%Y%m%dT%H%M%SZ}"


def is_set_aside(name: str) -> bool:
    """Whether a listed name lies in a folder a restore moved files aside into."""
    return bool(_ASIDE.fullmatch(name.partition("/")[0]))


def _aside_target(name: str, folder: str) -> str:
    # `name` is a listed name, a key or a stray's (".DS_Store"): any relative path without "." or "..".
    parts = name.split("/")
    if not _ASIDE.fullmatch(folder) or is_set_aside(name) or any(part in ("", ".", "..") for part in parts):
        raise ValueError(f"cannot move {name[:80]!r} aside into {folder[:80]!r}")
    return f"{folder}/{name}"


def _validate_prefix(prefix: str) -> None:
    # A listing prefix is a plain string prefix, as in S3, so it may stop after a slash or mid-segment.
    if prefix:
        validate_key(prefix.removesuffix("/"))


class LocalStorage:
    """Files under one folder, readable only by the application's user (folders 0o700, files 0o600).

    A key maps to the path of the same name below the root; keys listed are in the same byte order S3 uses.
    Unlike S3, a key cannot also be the folder of another key ("a" and "a/b"): keys from `new_key` never are.
    """

    def __init__(self, root: str | os.PathLike[str]) -> None:
        try:
            Path(root).mkdir(mode=0o700, parents=True, exist_ok=True)
            self._root = Path(root).resolve(strict=True)
        except OSError as exc:
            raise StorageError(f"cannot create the storage folder {os.fspath(root)!r}: {exc.strerror or exc}") from exc
        if not self._root.is_dir():
            raise StorageError(f"the storage folder {str(self._root)!r} is not a folder")

    @property
    def url(self) -> str:
        return self._root.as_uri()

    @property
    def root(self) -> Path:
        return self._root

    def put(self, key: str, data: bytes | BinaryIO) -> None:
        """Write to a temporary file beside the target, flush it to disk, then rename it over the key: the
        rename is atomic, so a reader or a crash sees the old object or the new one, never half of one. A
        process killed meanwhile leaves its `.tmp-*` file, which `partials()` lists. `data` may be a stream,
        copied in chunks, so a large file need not be held in memory."""
        path = self._path(key)
        with self._errors("store", key):
            self._make_folders(path.parent)
            # mkstemp (behind NamedTemporaryFile) creates the file 0o600 and the rename keeps that mode.
            temporary = tempfile.NamedTemporaryFile(dir=path.parent, prefix=_TEMP_PREFIX, delete=False)
            try:
                with temporary:
                    if isinstance(data, bytes | bytearray | memoryview):
                        temporary.write(data)
                    else:
                        shutil.copyfileobj(data, temporary, _CHUNK)
                    temporary.flush()
                    os.fsync(temporary.fileno())
                os.replace(temporary.name, path)
            except BaseException:
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(temporary.name)
                raise
            # Without this the rename itself may be lost in a power cut even though the data was synced.
            _fsync_folder(path.parent)

    def get(self, key: str) -> bytes:
        path = self._path(key)
        with self._errors("read", key), _missing_as(key):
            return path.read_bytes()

    def open(self, key: str) -> BinaryIO:
        path = self._path(key)
        with self._errors("read", key), _missing_as(key):
            return path.open("rb")

    def size(self, key: str) -> int:
        path = self._path(key)
        with self._errors("read", key), _missing_as(key):
            status = path.stat()
        if not stat.S_ISREG(status.st_mode):
            raise MissingFile(key)
        return status.st_size

    def exists(self, key: str) -> bool:
        path = self._path(key)
        with self._errors("read", key):
            return path.is_file()

    def delete(self, key: str) -> None:
        path = self._path(key)
        # A folder under the key, or a file where a folder should be, means nothing is stored there either.
        with self._errors("delete", key), contextlib.suppress(FileNotFoundError, IsADirectoryError, NotADirectoryError):
            path.unlink()

    def keys(self, prefix: str = "") -> Iterator[str]:
        """Every stored file whose key starts with prefix, in S3's order, including files whose names are
        not valid keys (an operator may have put them there); temporary files of unfinished writes are not
        stored files and are skipped."""
        _validate_prefix(prefix)
        folder = prefix.rpartition("/")[0]
        with self._errors("list", prefix or "/"):
            for key in self._walk(self._root / folder if folder else self._root, folder):
                if key.startswith(prefix):
                    yield key

    def partials(self) -> Iterator[Partial]:
        """The temporary files of writes that never reached their rename: in progress, or left by a process
        killed mid-write. Age is the file's mtime, which every write moves on."""
        with self._errors("list", "/"):
            for folder, subfolders, files in os.walk(self._root):  # symlinked folders are not followed
                subfolders.sort()
                for name in sorted(files):
                    if not name.startswith(_TEMP_PREFIX):
                        continue
                    path = Path(folder) / name
                    with contextlib.suppress(FileNotFoundError):  # its write finished while we looked
                        status = path.lstat()
                        if stat.S_ISREG(status.st_mode):
                            yield Partial(name=path.relative_to(self._root).as_posix(), size=status.st_size,
                                          modified_at=dt.datetime.fromtimestamp(status.st_mtime, dt.UTC))

    def remove_partial(self, partial: Partial) -> None:
        """Delete one temporary file `partials()` listed; nothing else can be named this way."""
        path = self._root / partial.name
        if (not path.name.startswith(_TEMP_PREFIX) or ".." in Path(partial.name).parts
                or not path.parent.resolve().is_relative_to(self._root)):
            raise ValueError(f"{partial.name[:80]!r} is not a temporary file of this storage")
        with self._errors("delete", partial.name), contextlib.suppress(FileNotFoundError):
            if stat.S_ISREG(path.lstat().st_mode):
                path.unlink()

    def set_aside(self, name: str, folder: str) -> None:
        """Move a listed file (a key, or a stray's name) to `folder/name` below the root: one rename."""
        target = self._root / _aside_target(name, folder)
        source = self._root / name
        if not source.parent.resolve().is_relative_to(self._root):
            raise StorageError(f"{name[:80]!r} resolves outside the storage folder {str(self._root)!r}")
        with self._errors("move aside", name):
            self._make_folders(target.parent)
            os.rename(source, target)
            _fsync_folder(target.parent)

    def check(self) -> None:
        """Raise StorageError unless the root folder is there and writable."""
        if not self._root.is_dir() or not os.access(self._root, os.W_OK | os.X_OK):
            raise StorageError(f"the storage folder {str(self._root)!r} is missing or not writable ({SETTING})")

    def _path(self, key: str) -> Path:
        path = (self._root / validate_key(key)).resolve()
        # The pattern already forbids climbing out; this catches a symlink planted inside the folder.
        if not path.is_relative_to(self._root):
            raise StorageError(f"storage key {key!r} resolves outside the storage folder {str(self._root)!r}")
        return path

    def _make_folders(self, folder: Path) -> None:
        # os.makedirs gives intermediate folders the default mode; each level gets 0o700 instead.
        current = self._root
        for part in folder.relative_to(self._root).parts:
            current = current / part
            with contextlib.suppress(FileExistsError):
                current.mkdir(mode=0o700)

    def _walk(self, folder: Path, relative: str) -> Iterator[str]:
        try:
            with os.scandir(folder) as scan:
                entries = list(scan)
        except (FileNotFoundError, NotADirectoryError):
            return
        # Sorting a folder as "name/" puts its contents exactly where S3's byte order of full keys would.
        entries.sort(key=lambda entry: entry.name + "/" if entry.is_dir(follow_symlinks=False) else entry.name)
        for entry in entries:
            key = f"{relative}/{entry.name}" if relative else entry.name
            if entry.is_dir(follow_symlinks=False):
                yield from self._walk(Path(entry.path), key)
            elif entry.is_file(follow_symlinks=False) and not entry.name.startswith(_TEMP_PREFIX):
                yield key

    @contextlib.contextmanager
    def _errors(self, action: str, key: str) -> Iterator[None]:
        try:
            yield
        except OSError as exc:
            raise StorageError(
                f"could not {action} {key!r} in the storage folder {str(self._root)!r}: {exc.strerror or exc}"
            ) from exc


@contextlib.contextmanager
def _missing_as(key: str) -> Iterator[None]:
    # A folder or a file standing where a folder should be means there is no object under the key.
    try:
        yield
    except (FileNotFoundError, IsADirectoryError, NotADirectoryError):
        raise MissingFile(key) from None


def _fsync_folder(folder: Path) -> None:
    descriptor = os.open(folder, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


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
