"""A final packet is handed out only with the bytes it was exported with: its SHA-256 is checked each time."""
from __future__ import annotations

import hashlib

import pytest
from sqlalchemy import select

from advisor import assessments, filestore, packets
from models import AuditEvent, db

from .conftest import settle_documents
from .test_workflow import give_degree, save_institution


@pytest.fixture
def app_config(tmp_path):
    return {"STORAGE_URL": f"file://{tmp_path / 'files'}"}


@pytest.fixture
def final(make_case, admin, advisor):
    case = make_case(advisor)
    give_degree(case, save_institution(admin, "ETH Zurich", renowned=True), advisor)
    assessments.run(case, by=advisor)
    settle_documents(case, advisor)
    packet = packets.export_final(case, by=advisor)
    db.session.commit()
    return packet


def damaged_events() -> list[AuditEvent]:
    return list(db.session.scalars(select(AuditEvent).where(AuditEvent.action == "packet.damaged")))


def test_an_intact_final_is_served_with_the_bytes_it_was_exported_with(client, auth, advisor, final):
    auth.login(advisor.email)
    served = client.get(f"/cases/{final.case_id}/packets/{final.id}")
    assert served.status_code == 200 and served.mimetype == "application/pdf"
    assert hashlib.sha256(served.data).hexdigest() == final.sha256
    assert damaged_events() == []


@pytest.mark.parametrize("alter", ["one byte", "truncated", "replaced"])
def test_a_final_altered_on_disk_is_refused_with_a_page_and_audited(client, auth, advisor, final, tmp_path, alter):
    path = tmp_path / "files" / final.storage_key
    original = path.read_bytes()
    path.write_bytes({"one byte": original[:-2] + bytes([original[-2] ^ 1]) + original[-1:],
                      "truncated": original[: len(original) // 2],
                      "replaced": b"%PDF-1.7 something else entirely"}[alter])
    found = hashlib.sha256(path.read_bytes()).hexdigest()
    auth.login(advisor.email)

    served = client.get(f"/cases/{final.case_id}/packets/{final.id}")
    assert served.status_code == 500 and served.mimetype == "text/html"
    assert b"Packet damaged" in served.data
    assert b"The stored file of packet 1 is not the one that was exported" in served.data
    assert b"%PDF" not in served.data and "attachment" not in served.headers.get("Content-Disposition", "")
    [event] = damaged_events()
    assert (event.actor_id, event.case_id, event.object_id) == (advisor.id, final.case_id, final.id)
    assert event.changes["recorded_sha256"] == final.sha256 and event.changes["found_sha256"] == found

    path.write_bytes(original)  # put back as exported: served again
    assert client.get(f"/cases/{final.case_id}/packets/{final.id}").data == original


def test_read_final_checks_every_read(final, advisor):
    assert hashlib.sha256(packets.read_final(final, by=advisor)).hexdigest() == final.sha256
    filestore.current().put(final.storage_key, b"%PDF-1.7 forged")
    with pytest.raises(packets.Damaged, match="not the one that was exported"):
        packets.read_final(final, by=advisor)
    db.session.flush()
    assert len(damaged_events()) == 1
