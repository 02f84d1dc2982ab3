"""The folder backend: files under one folder, written to a temporary name and renamed."""
from __future__ import annotations

import contextlib
import datetime as dt
import os
import shutil
import stat
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

from .base import (
    _TEMP_PREFIX,
    SETTING,
    MissingFile,
    Partial,
    StorageError,
    _aside_target,
    _validate_prefix,
    validate_key,
)

_CHUNK = 1024 * 1024


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
