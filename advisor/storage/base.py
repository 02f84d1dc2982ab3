"""What both storage backends share: the interface, the errors, and the rules for keys and names.

Keys are random and checked against a strict pattern before they touch a path or a bucket; every failure
reaches the caller as `MissingFile` (no such key) or `StorageError` (anything an operator has to fix).
"""
from __future__ import annotations

import datetime as dt
import re
import secrets
from collections.abc import Iterator
from dataclasses import dataclass
from typing import BinaryIO, Protocol, runtime_checkable

SETTING = "STORAGE_URL"
MAX_KEY_LENGTH = 200

# Every segment starts with a letter or digit: that rules out ".", "..", hidden names and our own ".tmp-"
# files, so a key can never name a temporary file or climb out of its folder.
_KEY = re.compile(r"[a-z0-9][a-z0-9_.-]*(?:/[a-z0-9][a-z0-9_.-]*)*")
_TEMP_PREFIX = ".tmp-"
# Where a restore moves the files that were not in the backup. No key starts with "_", so nothing stored
# there is ever taken for one of the app's files: the storage check counts them apart and never deletes them.
ASIDE_PREFIX = "_restored-aside-"
_ASIDE = re.compile(re.escape(ASIDE_PREFIX) + r"\d{8}T\d{6}Z")


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
