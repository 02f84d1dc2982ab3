"""Stored files: both backends behave alike, keys stay inside their storage, and a failed write leaves nothing.

The S3 backend runs against moto's real HTTP server on loopback (conftest's `moto_endpoint`), so requests,
signing, paging and error answers go through boto3 exactly as they would against S3; nothing leaves the machine.
"""
from __future__ import annotations

import dataclasses
import datetime as dt
import os
import re
import socket
import stat
import time
from pathlib import Path
from typing import Any

import boto3
import botocore.config
import pytest

from advisor import storage as storage_module
from advisor.storage import LocalStorage, MissingFile, S3Storage, Storage, StorageError, from_url, new_key, validate_key

from .conftest import REGION

INVALID_KEYS = ["../x", "/abs", "a//b", "A", "a\\b", "a\x00b", "a" * 201, "", "a/", "a/../b", "a/./b", ".tmp-x", "ä"]


@pytest.fixture(params=["local", "s3"])
def storage(request: pytest.FixtureRequest, tmp_path: Path) -> Storage:
    if request.param == "local":
        return from_url(None, default_folder=tmp_path / "files")
    # A prefix on every S3 test proves that keys go in under it and come back out without it.
    bucket = request.getfixturevalue("s3_bucket")
    return S3Storage(bucket, "advisor", request.getfixturevalue("s3_client"))


# --- Both backends ------------------------------------------------------------------------------------


def test_round_trip(storage: Storage):
    key = "uploads/2026/05/" + "a" * 32
    assert isinstance(storage, Storage)
    assert not storage.exists(key)
    storage.put(key, b"passport scan")
    assert storage.exists(key)
    assert storage.get(key) == b"passport scan"
    assert storage.size(key) == len(b"passport scan")
    with storage.open(key) as stream:
        assert stream.read() == b"passport scan"
    assert list(storage.keys()) == [key]
    storage.delete(key)
    assert not storage.exists(key)
    assert list(storage.keys()) == []


def test_overwrite_keeps_the_last(storage: Storage):
    storage.put("packets/p1", b"first version, longer")
    storage.put("packets/p1", b"second")
    assert storage.get("packets/p1") == b"second"
    assert storage.size("packets/p1") == 6
    assert list(storage.keys()) == ["packets/p1"]


@pytest.mark.parametrize("operation", ["get", "open", "size"])
def test_absent_key_is_missing_file(storage: Storage, operation: str):
    storage.put("uploads/present", b"x")
    with pytest.raises(MissingFile):
        getattr(storage, operation)("uploads/absent")
    # A "folder" is not an object on either backend.
    with pytest.raises(MissingFile):
        getattr(storage, operation)("uploads")
    assert not storage.exists("uploads")


def test_delete_is_idempotent(storage: Storage):
    storage.delete("uploads/never-stored")
    storage.put("uploads/k", b"x")
    storage.delete("uploads/k")
    storage.delete("uploads/k")
    assert not storage.exists("uploads/k")


def test_keys_under_a_prefix_in_byte_order(storage: Storage):
    for key in ["uploads/2026/02/bb", "packets/2026/01/cc", "uploads-old/x", "uploads/2026/01/aa", "uploads0"]:
        storage.put(key, b"x")
    everything = ["packets/2026/01/cc", "uploads-old/x", "uploads/2026/01/aa", "uploads/2026/02/bb", "uploads0"]
    assert list(storage.keys()) == everything
    assert list(storage.keys("uploads/")) == ["uploads/2026/01/aa", "uploads/2026/02/bb"]
    assert list(storage.keys("uploads")) == ["uploads-old/x", "uploads/2026/01/aa", "uploads/2026/02/bb", "uploads0"]
    assert list(storage.keys("uploads/2026/0")) == ["uploads/2026/01/aa", "uploads/2026/02/bb"]
    assert list(storage.keys("nothing/")) == []
    with pytest.raises(ValueError):
        list(storage.keys("../"))


@pytest.mark.parametrize("data", [bytes(range(256)), os.urandom(5 * 1024 * 1024), b""], ids=["bytes", "5mb", "empty"])
def test_binary_data_comes_back_unchanged(storage: Storage, data: bytes):
    storage.put("uploads/blob", data)
    assert storage.get("uploads/blob") == data
    assert storage.size("uploads/blob") == len(data)
    with storage.open("uploads/blob") as stream:
        assert stream.read() == data


@pytest.mark.parametrize("key", INVALID_KEYS, ids=repr)
def test_invalid_keys_are_refused_by_every_operation(storage: Storage, key: str):
    for call in (
        lambda: storage.put(key, b"x"), lambda: storage.get(key), lambda: storage.open(key),
        lambda: storage.size(key), lambda: storage.exists(key), lambda: storage.delete(key),
    ):
        with pytest.raises(ValueError):
            call()
    assert list(storage.keys()) == []


def test_url_is_printable_and_holds_no_secret(storage: Storage):
    assert storage.url.isprintable()
    assert "testing-secret" not in storage.url
    assert "testing" not in storage.url.split("?")[0]


# --- Keys ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("key", ["a", "uploads/2026/05/0123abcd", "x/y_z-1.pdf", "a" * 200, "a.b/c"])
def test_valid_keys(key: str):
    assert validate_key(key) == key


@pytest.mark.parametrize("key", [*INVALID_KEYS, "a..b", "-x", "a/_b", " a", "a\n", None, b"a"], ids=repr)
def test_invalid_keys(key):
    with pytest.raises(ValueError, match="invalid storage key"):
        validate_key(key)


def test_new_key_is_random_and_dated():
    first, second = new_key("uploads"), new_key("uploads")
    assert re.fullmatch(r"uploads/20\d\d/(0[1-9]|1[0-2])/[0-9a-f]{32}", first)
    assert first != second
    assert validate_key(new_key("exports/packets"))
    with pytest.raises(ValueError):
        new_key("../etc")


# --- Local folder -------------------------------------------------------------------------------------


@pytest.fixture
def local(tmp_path: Path) -> LocalStorage:
    return LocalStorage(tmp_path / "files")


def test_local_files_and_folders_are_private(local: LocalStorage):
    local.put("uploads/2026/05/k", b"x")
    assert stat.S_IMODE((local.root / "uploads/2026/05/k").stat().st_mode) == 0o600
    for folder in ("", "uploads", "uploads/2026", "uploads/2026/05"):
        assert stat.S_IMODE((local.root / folder).stat().st_mode) == 0o700, folder


@pytest.mark.parametrize("failing", ["replace", "fsync"])
def test_local_failed_write_leaves_nothing_behind(local: LocalStorage, monkeypatch: pytest.MonkeyPatch, failing: str):
    local.put("uploads/old", b"old content")

    def fail(*args: object) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, failing, fail)
    with pytest.raises(StorageError, match="No space left on device"):
        local.put("uploads/new", b"new content")
    with pytest.raises(StorageError):
        local.put("uploads/old", b"replacement")
    monkeypatch.undo()

    assert not (local.root / "uploads/new").exists()
    assert local.get("uploads/old") == b"old content"
    assert sorted(path.name for path in (local.root / "uploads").iterdir()) == ["old"]


def test_local_keys_skip_temporary_files_of_interrupted_writes(local: LocalStorage):
    local.put("uploads/k", b"x")
    (local.root / "uploads" / ".tmp-abc123").write_bytes(b"half")
    assert list(local.keys()) == ["uploads/k"]


def test_local_symlink_out_of_the_folder_is_refused(local: LocalStorage, tmp_path: Path):
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret").write_bytes(b"not yours")
    (local.root / "uploads").symlink_to(outside)
    with pytest.raises(StorageError, match="outside the storage folder"):
        local.get("uploads/secret")
    with pytest.raises(StorageError):
        local.put("uploads/planted", b"x")
    assert sorted(path.name for path in outside.iterdir()) == ["secret"]


def test_local_check(local: LocalStorage, tmp_path: Path):
    local.check()
    in_the_way = tmp_path / "a-file"
    in_the_way.write_bytes(b"")
    with pytest.raises(StorageError, match="cannot create the storage folder"):
        LocalStorage(in_the_way / "files")


# --- S3 -----------------------------------------------------------------------------------------------


def test_s3_objects_live_under_the_prefix(s3_url, s3_bucket: str, s3_client: Any, tmp_path: Path):
    inner = from_url(s3_url(s3_bucket, "a"), default_folder=tmp_path)
    neighbour = from_url(s3_url(s3_bucket, "a2"), default_folder=tmp_path)
    inner.put("k", b"inner")
    neighbour.put("k", b"neighbour")
    listed = [item["Key"] for item in s3_client.list_objects_v2(Bucket=s3_bucket)["Contents"]]
    assert listed == ["a/k", "a2/k"]
    assert list(inner.keys()) == ["k"]
    assert inner.get("k") == b"inner"


def test_s3_keys_page_through_long_listings(s3_bucket: str, s3_client: Any):
    paged = S3Storage(s3_bucket, "p", s3_client, page_size=2)
    for number in range(5):
        paged.put(f"uploads/{number}", b"")
    s3_client.put_object(Bucket=s3_bucket, Key="p/uploads/folder/", Body=b"")
    assert list(paged.keys("uploads/")) == [f"uploads/{number}" for number in range(5)]


def test_s3_check_passes_for_an_existing_bucket(s3_url, s3_bucket: str, tmp_path: Path):
    from_url(s3_url(s3_bucket), default_folder=tmp_path).check()


def test_s3_missing_bucket_is_a_readable_storage_error(s3_url, tmp_path: Path):
    missing = from_url(s3_url("no-such-bucket-here"), default_folder=tmp_path)
    with pytest.raises(StorageError, match="'no-such-bucket-here' does not exist.*STORAGE_URL"):
        missing.check()
    with pytest.raises(StorageError, match="does not exist"):
        missing.put("k", b"x")
    with pytest.raises(StorageError, match="does not exist"):
        missing.get("k")


def test_s3_unreachable_endpoint_is_a_storage_error(aws_env: None):
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    # One attempt, so the test does not sit through the retry back-off.
    client = boto3.session.Session().client(
        "s3", endpoint_url=f"http://127.0.0.1:{port}", region_name=REGION,
        config=botocore.config.Config(retries={"max_attempts": 1, "mode": "standard"}),
    )
    unreachable = S3Storage("some-bucket", "", client)
    with pytest.raises(StorageError, match="cannot reach S3"):
        unreachable.check()
    with pytest.raises(StorageError, match="could not store"):
        unreachable.put("k", b"x")


# --- from_url -----------------------------------------------------------------------------------------


@pytest.mark.parametrize("url", [None, ""])
def test_from_url_defaults_to_the_instance_folder(url, tmp_path: Path):
    storage = from_url(url, default_folder=tmp_path / "instance" / "files")
    assert isinstance(storage, LocalStorage)
    assert storage.root == tmp_path / "instance" / "files"
    assert storage.url == (tmp_path / "instance" / "files").as_uri()


def test_from_url_file(tmp_path: Path):
    storage = from_url((tmp_path / "my files").as_uri(), default_folder=tmp_path / "unused")
    assert isinstance(storage, LocalStorage)
    assert storage.root == tmp_path / "my files"
    assert storage.root.is_dir()
    assert not (tmp_path / "unused").exists()


@pytest.mark.parametrize(("url", "bucket", "prefix", "endpoint", "region", "shown"), [
    ("s3://files-bucket/advisor/prod?endpoint_url=http://127.0.0.1:9000&region=eu-central-1",
     "files-bucket", "advisor/prod", "http://127.0.0.1:9000", "eu-central-1",
     "s3://files-bucket/advisor/prod?endpoint_url=http://127.0.0.1:9000&region=eu-central-1"),
    ("s3://files-bucket", "files-bucket", "", "https://s3.amazonaws.com", REGION, "s3://files-bucket/"),
    ("s3://files-bucket/", "files-bucket", "", "https://s3.amazonaws.com", REGION, "s3://files-bucket/"),
    ("s3://files.example.org/p/?region=eu-west-1", "files.example.org", "p", "https://s3.eu-west-1.amazonaws.com",
     "eu-west-1", "s3://files.example.org/p?region=eu-west-1"),
])
def test_from_url_s3(aws_env: None, tmp_path: Path, url, bucket, prefix, endpoint, region, shown):
    storage = from_url(url, default_folder=tmp_path)
    assert isinstance(storage, S3Storage)
    assert (storage.bucket, storage.prefix, storage.url) == (bucket, prefix, shown)
    assert storage.client.meta.endpoint_url == endpoint
    assert storage.client.meta.region_name == region
    assert storage.client.meta.config.s3 == {"addressing_style": "path"}
    assert "testing" not in storage.url


@pytest.mark.parametrize(("url", "message"), [
    ("ftp://host/files", "unsupported scheme 'ftp'"),
    ("gs://bucket", "unsupported scheme 'gs'"),
    ("/var/lib/advisor", "unsupported scheme ''"),
    ("file://otherhost/var/lib", "file:///absolute/path"),
    ("file:relative/path", "file:///absolute/path"),
    ("file:///var/lib?mode=1", "file:///absolute/path"),
    ("s3://", "must name an S3 bucket"),
    ("s3:///prefix-only", "must name an S3 bucket"),
    ("s3://Bad_Bucket", "must name an S3 bucket"),
    ("s3://bucket:9000", "must name an S3 bucket"),
    ("s3://files-bucket/../up", "invalid key prefix"),
    ("s3://files-bucket/Upper", "invalid key prefix"),
    ("s3://AKIAEXAMPLE:SuperSecret@files-bucket", "must not contain credentials"),
    ("s3://files-bucket?aws_secret_access_key=SuperSecret", "unknown option(s) 'aws_secret_access_key'"),
    ("s3://files-bucket?region=a&region=b", "repeats an option"),
    ("s3://files-bucket?region=EU%20WEST", "invalid region"),
    ("s3://files-bucket?endpoint_url=ftp://host", "endpoint_url as http(s)://host"),
    ("s3://files-bucket?endpoint_url=http://user:SuperSecret@host", "endpoint_url as http(s)://host"),
    ("s3://files-bucket?endpoint_url=http://host/path", "endpoint_url as http(s)://host"),
    ("s3://files-bucket?endpoint_url=http://[SuperSecret", "endpoint_url as http(s)://host"),
    ("s3://files-bucket?endpoint_url=http://host:port", "endpoint_url as http(s)://host"),
    ("s3://[SuperSecret", "not a valid URL"),
])
def test_from_url_refuses_what_it_cannot_use(tmp_path: Path, url: str, message: str):
    with pytest.raises(StorageError, match=re.escape(message)) as refused:
        from_url(url, default_folder=tmp_path)
    assert storage_module.SETTING in str(refused.value)
    assert "SuperSecret" not in str(refused.value)


# --- Partial writes -----------------------------------------------------------------------------------

# Writes through the real LocalStorage.put from a stream that never ends, as a slow upload or a big copy
# would; the test kills the process with SIGKILL while the temporary file is half written.
SLOW_WRITER = """
import sys, time, types

# advisor.storage without running advisor/__init__ and its heavy imports (WeasyPrint…): starts in a blink.
advisor = sys.modules["advisor"] = types.ModuleType("advisor")
advisor.__path__ = [sys.argv[2]]
from advisor import storage

class Slow:
    def read(self, size=-1):
        if getattr(self, "started", False):
            time.sleep(0.05)
        self.started = True
        return b"x" * 65536

storage.LocalStorage(sys.argv[1]).put("uploads/2026/05/" + "b" * 32, Slow())
"""


def killed_mid_write(root: Path) -> Path:
    """The temporary file a real write left behind when its process was killed with SIGKILL."""
    import signal
    import subprocess
    import sys
    import time

    package_folder = str(Path(storage_module.__file__).parents[1])
    writer = subprocess.Popen([sys.executable, "-c", SLOW_WRITER, str(root), package_folder], stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            found = [path for path in root.rglob(".tmp-*") if path.stat().st_size >= 65536]
            if found:
                break
            assert writer.poll() is None, writer.stderr.read().decode() if writer.stderr else ""
            time.sleep(0.02)
        else:
            raise AssertionError("the writer never started writing")
    finally:
        writer.send_signal(signal.SIGKILL)
        writer.wait(timeout=10)
        if writer.stderr:
            writer.stderr.close()
    assert writer.returncode == -signal.SIGKILL
    return found[0]


def test_a_write_killed_midway_leaves_a_partial_file_that_is_listed_not_stored(local: LocalStorage):
    left = killed_mid_write(local.root)
    assert left.parent == local.root / "uploads/2026/05" and left.name.startswith(".tmp-")
    assert list(local.keys()) == []  # never a stored file
    assert not local.exists("uploads/2026/05/" + "b" * 32)
    [partial] = list(local.partials())
    assert partial.name == left.relative_to(local.root).as_posix()
    assert partial.size == left.stat().st_size >= 65536
    local.remove_partial(partial)
    assert not left.exists() and list(local.partials()) == []


def test_local_remove_partial_refuses_anything_but_a_temporary_file(local: LocalStorage, tmp_path: Path):
    local.put("uploads/k", b"kept")
    (tmp_path / ".tmp-outside").write_bytes(b"not the storage's")
    for name in ("uploads/k", "../.tmp-outside", "uploads/../../.tmp-outside"):
        with pytest.raises(ValueError):
            local.remove_partial(storage_module.Partial(name=name, modified_at=dt.datetime.now(dt.UTC), size=1))
    assert local.get("uploads/k") == b"kept" and (tmp_path / ".tmp-outside").exists()


def test_s3_unfinished_multipart_uploads_are_partials(s3_bucket: str, s3_client: Any):
    store = S3Storage(s3_bucket, "advisor", s3_client)
    store.put("uploads/k", b"complete")
    begun = s3_client.create_multipart_upload(Bucket=s3_bucket, Key="advisor/uploads/big")
    s3_client.upload_part(Bucket=s3_bucket, Key="advisor/uploads/big", UploadId=begun["UploadId"], PartNumber=1,
                          Body=b"p" * (5 * 1024 * 1024))
    s3_client.create_multipart_upload(Bucket=s3_bucket, Key="elsewhere/big")  # not under the prefix
    [partial] = list(store.partials())
    assert (partial.name, partial.size, partial.upload_id) == ("uploads/big", 5 * 1024 * 1024, begun["UploadId"])
    assert partial.modified_at.tzinfo is not None  # moto answers a fixed date in 2010, S3 the real one
    assert list(store.keys()) == ["uploads/k"]
    store.remove_partial(partial)
    assert list(store.partials()) == []
    assert s3_client.list_multipart_uploads(Bucket=s3_bucket, Prefix="advisor/").get("Uploads", []) == []


@pytest.fixture
def app_config(tmp_path: Path) -> dict[str, Any]:
    return {"STORAGE_URL": f"file://{tmp_path / 'files'}"}


def test_storage_check_reports_partial_writes_and_deletes_only_interrupted_ones(runner, tmp_path: Path):
    root = tmp_path / "files"
    killed = killed_mid_write(root)
    aged = killed.with_name(".tmp-aged")
    aged.write_bytes(killed.read_bytes())
    two_hours_ago = time.time() - 2 * 3600
    os.utime(aged, (two_hours_ago, two_hours_ago))

    check = runner.invoke(args=["storage-check"])
    assert check.exit_code == 0, check.output
    assert re.search(r"partial uploads/2026/05/\.tmp-aged \([\d,]+ bytes, last written 2 h 0 min ago: "
                     r"interrupted write\)", check.output), check.output
    assert f"partial {killed.relative_to(root).as_posix()} (" in check.output
    assert "under a minute ago: in progress, left alone)" in check.output
    assert "0 orphans, 0 missing.\n2 partial writes (1 interrupted)." in check.output
    assert aged.exists() and killed.exists()  # only reported without --delete-orphans

    cleaned = runner.invoke(args=["storage-check", "--delete-orphans"])
    assert cleaned.exit_code == 0, cleaned.output
    assert "Deleted 1 partial files of interrupted writes." in cleaned.output
    assert not aged.exists()
    assert killed.exists()  # younger than an hour: it may still be written
    assert "1 partial writes (0 interrupted)." in runner.invoke(args=["storage-check"]).output


def test_interrupted_s3_uploads_are_aborted_after_an_hour(app, s3_url, s3_bucket: str, s3_client: Any):
    from advisor import filestore

    app.extensions["advisor.storage"] = from_url(s3_url(s3_bucket, "advisor"), default_folder="/nonexistent")
    s3_client.create_multipart_upload(Bucket=s3_bucket, Key="advisor/uploads/big")
    report = filestore.check()
    [partial] = report.partials
    assert partial.name == "uploads/big"
    # moto dates every upload in 2010, so the check's clock is set from the upload's own start.
    soon = dataclasses.replace(report, checked_at=partial.modified_at + dt.timedelta(minutes=59))
    assert soon.interrupted == [] and filestore.remove_interrupted(soon) == 0
    assert [upload["Key"] for upload in s3_client.list_multipart_uploads(Bucket=s3_bucket)["Uploads"]] == [
        "advisor/uploads/big"]
    later = dataclasses.replace(report, checked_at=partial.modified_at + dt.timedelta(hours=1, minutes=1))
    assert filestore.remove_interrupted(later) == 1
    assert filestore.check().partials == []


# --- Moving aside (restore) ---------------------------------------------------------------------------


def test_set_aside_moves_a_file_out_of_the_keys_into_its_folder(storage: Storage):
    storage.put("uploads/2026/05/kept", b"kept")
    storage.put("uploads/2026/05/later", b"stored after the backup")
    folder = storage_module.aside_folder(dt.datetime(2026, 12, 2, 1, 15, tzinfo=dt.UTC))
    assert folder == "_restored-aside-20261202T011500Z"
    storage.set_aside("uploads/2026/05/later", folder)
    listed = list(storage.keys())
    assert listed == ["_restored-aside-20261202T011500Z/uploads/2026/05/later", "uploads/2026/05/kept"]
    assert [storage_module.is_set_aside(name) for name in listed] == [True, False]
    assert not storage.exists("uploads/2026/05/later") and storage.get("uploads/2026/05/kept") == b"kept"
    for name, into in [("uploads/2026/05/kept", "elsewhere"), ("../x", folder), (listed[0], folder), ("", folder)]:
        with pytest.raises(ValueError):
            storage.set_aside(name, into)


def test_local_set_aside_keeps_the_bytes(local: LocalStorage):
    local.put("uploads/k", b"\x00bytes")
    (local.root / ".DS_Store").write_bytes(b"finder")
    folder = storage_module.aside_folder(dt.datetime.now(dt.UTC))
    local.set_aside("uploads/k", folder)
    local.set_aside(".DS_Store", folder)  # a stray's name, listed but no key, moves too
    assert (local.root / folder / "uploads/k").read_bytes() == b"\x00bytes"
    assert (local.root / folder / ".DS_Store").read_bytes() == b"finder"
    assert stat.S_IMODE((local.root / folder).stat().st_mode) == 0o700
