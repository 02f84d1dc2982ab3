"""Backup and restore, round trip: the database and the stored files come back as they were."""
from __future__ import annotations

import json

import pytest
from sqlalchemy import func, select

from advisor import documents, filestore
from models import Applicant, AuditEvent, Case, DocumentFile, db

from . import hostile

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
    (tmp_path / "backup" / "manifest.json").write_text(json.dumps(manifest))
    refused = runner.invoke(args=["restore", str(tmp_path / "backup"), "--yes"])
    assert refused.exit_code != 0 and "names no database copy" in refused.output
