"""Backup and restore, round trip: the database and the stored files come back as they were."""
from __future__ import annotations

import hashlib
import json
import re

import pytest
from sqlalchemy import func, select

from advisor import assessments, backup, documents, filestore, packets
from models import Applicant, AuditEvent, Case, DocumentFile, db

from . import hostile
from .conftest import settle_documents
from .test_workflow import give_degree, save_institution

pytestmark = pytest.mark.slow

LIMITS = documents.Limits(max_bytes=25 * 1024 * 1024, max_pixels=60_000_000, max_pages=300)


@pytest.fixture
def app_config(tmp_path):
    return {"STORAGE_URL": f"file://{tmp_path / 'files'}"}


@pytest.fixture
def collected(make_case, advisor):
    """A case with an uploaded passport scan: rows in every table the documents touch, and stored files."""
    case = make_case(advisor, family_name="Okafor", chinese_name="欧卡福")
    line = next(line for line in documents.lines_of(case) if line.requirement_code == "passport")
    documents.upload(line, [documents.Incoming("passport.jpg", hostile.jpeg(800, 1000))], limits=LIMITS, by=advisor)
    db.session.commit()
    return case


def counts() -> dict[str, int]:
    return {model.__name__: db.session.scalar(select(func.count()).select_from(model))
            for model in (Applicant, Case, DocumentFile, AuditEvent)}


def test_a_backup_restores_the_database_and_the_files(runner, collected, tmp_path):
    store, applicant_id = filestore.current(), collected.applicant_id
    before_counts, keys = counts(), sorted(store.keys())
    contents = {key: store.get(key) for key in keys}
    assert len(keys) == 3  # the upload, its packet pages, its thumbnail

    made = runner.invoke(args=["backup", "--out", str(tmp_path / "backup")])
    assert made.exit_code == 0, made.output
    manifest = json.loads((tmp_path / "backup" / "manifest.json").read_text())
    assert sorted(manifest["files"]) == keys

    # Lose everything: the rows and the files.
    collected.applicant.family_name = "Changed"
    db.session.delete(db.session.scalar(select(DocumentFile)))
    db.session.commit()
    for key in keys:
        store.delete(key)

    restored = runner.invoke(args=["restore", str(tmp_path / "backup"), "--yes"])
    assert restored.exit_code == 0, restored.output
    db.session.remove()
    assert counts() == before_counts
    applicant = db.session.scalar(select(Applicant).where(Applicant.id == applicant_id))
    assert (applicant.family_name, applicant.chinese_name) == ("Okafor", "欧卡福")
    assert {key: store.get(key) for key in sorted(store.keys())} == contents
    assert runner.invoke(args=["storage-check"]).exit_code == 0


def test_a_damaged_backup_is_refused_before_anything_changes(runner, collected, tmp_path):
    assert runner.invoke(args=["backup", "--out", str(tmp_path / "backup")]).exit_code == 0
    damaged = next(path for path in (tmp_path / "backup" / "files").rglob("*") if path.is_file())
    damaged.write_bytes(b"not what was saved")
    case_id = collected.id
    collected.notes = "Changed after the backup"
    db.session.commit()

    refused = runner.invoke(args=["restore", str(tmp_path / "backup"), "--yes"])
    assert refused.exit_code != 0
    assert "missing or damaged" in refused.output
    db.session.remove()
    assert db.session.get(Case, case_id).notes == "Changed after the backup"


def test_a_backup_needs_an_empty_folder_and_a_restore_a_backup(runner, collected, tmp_path):
    (tmp_path / "full").mkdir()
    (tmp_path / "full" / "something").write_text("x")
    assert "not empty" in runner.invoke(args=["backup", "--out", str(tmp_path / "full")]).output
    (tmp_path / "empty").mkdir()
    assert "no readable backup manifest" in runner.invoke(args=["restore", str(tmp_path / "empty"), "--yes"]).output


def test_restore_asks_before_replacing_the_database(runner, collected, tmp_path):
    assert runner.invoke(args=["backup", "--out", str(tmp_path / "backup")]).exit_code == 0
    answered_no = runner.invoke(args=["restore", str(tmp_path / "backup")], input="n\n")
    assert answered_no.exit_code != 0
    assert "Aborted" in answered_no.output


def test_stray_files_in_the_storage_folder_are_left_alone(runner, collected, tmp_path):
    (tmp_path / "files" / ".DS_Store").write_bytes(b"finder")
    (tmp_path / "files" / "Thumbs.db").write_bytes(b"explorer")
    check = runner.invoke(args=["storage-check", "--delete-orphans"])
    assert check.exit_code == 0, check.output
    assert "stray   .DS_Store" in check.output and "0 orphans, 0 missing" in check.output
    assert (tmp_path / "files" / "Thumbs.db").exists()
    made = runner.invoke(args=["backup", "--out", str(tmp_path / "backup")])
    assert made.exit_code == 0, made.output
    assert "3 files" in made.output


@pytest.mark.parametrize("database", ["../../etc/passwd", "/etc/passwd", "manifest.json"])
def test_a_manifest_naming_another_file_as_the_database_is_refused(runner, collected, tmp_path, database):
    assert runner.invoke(args=["backup", "--out", str(tmp_path / "backup")]).exit_code == 0
    manifest = json.loads((tmp_path / "backup" / "manifest.json").read_text())
    manifest["database"] = database
    manifest["signature"] = backup.signature(manifest)  # as if whoever altered it held the key too
    (tmp_path / "backup" / "manifest.json").write_text(json.dumps(manifest))
    refused = runner.invoke(args=["restore", str(tmp_path / "backup"), "--yes"])
    assert refused.exit_code != 0 and "names no database copy" in refused.output


# --- A signed manifest, and a storage that ends up holding exactly the backup's files -----------------


@pytest.fixture
def with_final(collected, advisor, admin):
    """The collected case made ready and given a final packet, so the backup holds one."""
    give_degree(collected, save_institution(admin, "ETH Zurich", renowned=True), advisor)
    assessments.run(collected, by=advisor)
    settle_documents(collected, advisor)
    packet = packets.export_final(collected, by=advisor)
    db.session.commit()
    return packet


def tamper_with_the_packet(folder, packet, *, sign) -> None:
    """Replace the backup's copy of the packet and recompute its hash in the manifest, as an attacker would."""
    (folder / "files" / packet.storage_key).write_bytes(b"%PDF-1.7 not the packet that was exported")
    manifest = json.loads((folder / "manifest.json").read_text())
    manifest["files"][packet.storage_key] = hashlib.sha256((folder / "files" / packet.storage_key).read_bytes()
                                                           ).hexdigest()
    manifest.pop("signature")
    if sign is not None:
        manifest["signature"] = sign(manifest)
    (folder / "manifest.json").write_text(json.dumps(manifest))


def signed_with_another_key(app):
    def sign(manifest):
        app.config["SECRET_KEY"], real = "another-secret-key", app.config["SECRET_KEY"]
        try:
            return backup.signature(manifest)
        finally:
            app.config["SECRET_KEY"] = real
    return sign


@pytest.mark.parametrize("how", ["unsigned", "another key"])
def test_a_backup_altered_with_a_recomputed_manifest_is_refused(app, runner, with_final, tmp_path, how):
    assert runner.invoke(args=["backup", "--out", str(tmp_path / "backup")]).exit_code == 0
    manifest = json.loads((tmp_path / "backup" / "manifest.json").read_text())
    assert re.fullmatch(r"hmac-sha256:[0-9a-f]{64}", manifest["signature"])
    tamper_with_the_packet(tmp_path / "backup", with_final,
                           sign=None if how == "unsigned" else signed_with_another_key(app))
    case_id, key, digest = with_final.case_id, with_final.storage_key, with_final.sha256
    db.session.get(Case, case_id).notes = "Changed after the backup"
    db.session.commit()

    refused = runner.invoke(args=["restore", str(tmp_path / "backup"), "--yes"])
    assert refused.exit_code == 1
    expected = "is not signed" if how == "unsigned" else "does not carry a valid signature"
    assert expected in refused.output and "nothing was changed" in refused.output
    db.session.remove()
    assert db.session.get(Case, case_id).notes == "Changed after the backup"
    assert hashlib.sha256(filestore.current().get(key)).hexdigest() == digest


def test_an_unsigned_legacy_backup_is_restored_only_when_asked(runner, collected, tmp_path):
    assert runner.invoke(args=["backup", "--out", str(tmp_path / "backup")]).exit_code == 0
    manifest = json.loads((tmp_path / "backup" / "manifest.json").read_text())
    del manifest["signature"]
    manifest["format"] = 1  # as the backup command wrote it before manifests were signed
    (tmp_path / "backup" / "manifest.json").write_text(json.dumps(manifest))
    refused = runner.invoke(args=["restore", str(tmp_path / "backup"), "--yes"])
    assert refused.exit_code == 1 and "--accept-unsigned" in refused.output
    accepted = runner.invoke(args=["restore", str(tmp_path / "backup"), "--yes", "--accept-unsigned"])
    assert accepted.exit_code == 0, accepted.output
    assert "Restored database" in accepted.output


def test_a_restore_moves_files_stored_after_the_backup_aside(runner, collected, advisor, tmp_path):
    store = filestore.current()
    assert runner.invoke(args=["backup", "--out", str(tmp_path / "backup")]).exit_code == 0
    in_backup = json.loads((tmp_path / "backup" / "manifest.json").read_text())["files"]
    line = next(line for line in documents.lines_of(collected) if line.requirement_code == "photo")
    documents.upload(line, [documents.Incoming("photo.jpg", hostile.jpeg(600, 800))], limits=LIMITS, by=advisor)
    db.session.commit()
    (tmp_path / "files" / ".DS_Store").write_bytes(b"finder")
    later = {key: (tmp_path / "files" / key).read_bytes() for key in store.keys() if key not in in_backup}
    assert len(later) == 4  # the photo's three files and the stray

    restored = runner.invoke(args=["restore", str(tmp_path / "backup"), "--yes"])
    assert restored.exit_code == 0, restored.output
    moved = re.search(r"Moved 4 stored files that were not in the backup aside into (\S+)/(_restored-aside-"
                      r"\d{8}T\d{6}Z)/ \(nothing was deleted\)\.", restored.output)
    assert moved, restored.output
    assert moved.group(1) == store.url.rstrip("/")
    aside = tmp_path / "files" / moved.group(2)
    assert {path.relative_to(aside).as_posix(): path.read_bytes() for path in aside.rglob("*") if path.is_file()} \
        == later
    # The storage holds exactly the backup's files, with the backup's bytes; what was moved aside is kept apart.
    assert sorted(key for key in store.keys() if not key.startswith("_restored-aside-")) == sorted(in_backup)
    assert {key: hashlib.sha256(store.get(key)).hexdigest() for key in in_backup} == in_backup
    db.session.remove()
    check = runner.invoke(args=["storage-check", "--delete-orphans"])
    assert check.exit_code == 0, check.output
    assert f"aside   {moved.group(2)}/ (4 files a restore moved aside: kept until you remove them)" in check.output
    assert "0 orphans, 0 missing" in check.output and "stray" not in check.output
    assert aside.is_dir() and len([path for path in aside.rglob("*") if path.is_file()]) == 4

    again = runner.invoke(args=["restore", str(tmp_path / "backup"), "--yes"])
    assert again.exit_code == 0 and "Moved" not in again.output  # nothing more to move; the first folder stays
    assert len([path for path in aside.rglob("*") if path.is_file()]) == 4


def test_a_packet_altered_in_a_backup_signed_with_the_key_is_restored_but_never_served(
        app, runner, client, auth, with_final, advisor, tmp_path):
    """Whoever holds the secret key can forge a backup; the packet's recorded hash still stops the bytes."""
    assert runner.invoke(args=["backup", "--out", str(tmp_path / "backup")]).exit_code == 0
    tamper_with_the_packet(tmp_path / "backup", with_final, sign=backup.signature)
    case_id, packet_id, email = with_final.case_id, with_final.id, advisor.email
    assert runner.invoke(args=["restore", str(tmp_path / "backup"), "--yes"]).exit_code == 0
    db.session.remove()
    auth.login(email)
    served = client.get(f"/cases/{case_id}/packets/{packet_id}")
    assert served.status_code == 500 and served.mimetype == "text/html"
    assert b"Packet damaged" in served.data and b"not handed out" in served.data
    assert b"%PDF" not in served.data

