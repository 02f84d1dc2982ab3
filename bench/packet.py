"""Packet export against its floor, measured in one warm process.

The reference packet: 4 front pages (cover, index, applicant, eligibility), 12 A4 scans at 300 dpi as JPEG
with EXIF data, and 6 PDFs of 5 pages — 46 pages. The uploads go through the real upload path (checks,
packet-ready pages, thumbnails) into a temporary SQLite database and local storage. Then, alternating:

- the export: `advisor.packets.build_packet` (reads the stored pages, renders the front matter, concatenates,
  stamps every page, adds bookmarks and metadata, saves);
- the floor: WeasyPrint rendering the same front matter alone, plus pikepdf concatenating the same inputs
  (front matter and the packet-ready PDFs, already in memory) and saving.

It prints the medians, the peak Python memory of one export (tracemalloc) and the process's peak RSS, and
as its last line:

    RESULT ratio_to_floor=<export median / floor median> size_ratio=<packet bytes / upload bytes> pages=<n>

Run from the repository root: `.venv/bin/python bench/packet.py` (targets: ratio ≤ 1.3, size ≤ 1.05).
"""
from __future__ import annotations

import argparse
import datetime as dt
import io
import random
import resource
import statistics
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import pikepdf  # noqa: E402
from PIL import Image, ImageDraw  # noqa: E402

from advisor import accounts, applicants, assessments, cases, create_app, documents, packet_pdf, packets  # noqa: E402
from models import Pathway, Role, Sex, db  # noqa: E402

A4_300DPI = (2480, 3508)
LIMITS = documents.Limits(max_bytes=25 * 1024 * 1024, max_pixels=60_000_000, max_pages=300)


def scan(number: int) -> bytes:
    """A page that compresses like a real scan: paper grain, printed lines, a stamp; EXIF and 300 dpi."""
    rng = random.Random(number)
    grain = Image.effect_noise((A4_300DPI[0] // 2, A4_300DPI[1] // 2), 22).resize(A4_300DPI)
    page = Image.merge("RGB", (grain, grain, grain)).point(lambda v: 200 + v // 5)
    draw = ImageDraw.Draw(page)
    for row in range(60):
        y = 300 + row * 50
        draw.rectangle((220, y, 220 + rng.randrange(900, 2000), y + 18), fill=(60, 60, 70))
    draw.ellipse((1700, 2800, 2200, 3300), outline=(150, 20, 30), width=12)
    exif = Image.Exif()
    exif[0x0110] = "Bench Scanner 300"  # Model
    exif[0x0131] = "scan-firmware 1.2"  # Software
    out = io.BytesIO()
    page.save(out, format="JPEG", quality=85, dpi=(300, 300), exif=exif.tobytes())
    return out.getvalue()


def text_pdf(number: int, pages: int = 5) -> bytes:
    pdf = pikepdf.new()
    font = pdf.make_indirect(pikepdf.Dictionary(Type=pikepdf.Name.Font, Subtype=pikepdf.Name.Type1,
                                                BaseFont=pikepdf.Name.Helvetica))
    for page_number in range(pages):
        lines = b"".join(f"BT /F1 11 Tf 72 {760 - 16 * i} Td (Document {number}, page {page_number + 1}, line {i}: "
                         f"lorem ipsum dolor sit amet) Tj ET\n".encode() for i in range(40))
        page = pdf.add_blank_page(page_size=(595, 842))
        page.obj.Resources = pikepdf.Dictionary(Font=pikepdf.Dictionary(F1=font))
        page.obj.Contents = pdf.make_stream(lines)
    out = io.BytesIO()
    pdf.save(out)
    return out.getvalue()


def set_up(folder: Path):  # type: ignore[no-untyped-def]
    app = create_app({"SECRET_KEY": "bench-secret-key-not-for-production",
                      "DATABASE_URL": f"sqlite:///{folder / 'bench.sqlite3'}",
                      "STORAGE_URL": f"file://{folder / 'files'}", "ARGON2_MEMORY_KIB": 1024,
                      "ARGON2_TIME_COST": 1, "ARGON2_PARALLELISM": 1}, instance_path=str(folder))
    context = app.app_context()
    context.push()
    db.create_all()
    advisor, _ = accounts.create_user(email="bench@advisor.example", name="Bench Advisor", role=Role.ADVISOR,
                                      by=None, password="violet-harbour-lantern-42")
    applicant = applicants.create_applicant(applicants.ApplicantData(
        family_name="Zhang", given_names="Emily", chinese_name="张怡", sex=Sex.FEMALE, born_on=dt.date(1994, 5, 2),
        nationality="US", residence_country="US", passport_number="X12345678", passport_issued_on=dt.date(2022, 1, 5),
        passport_expires_on=dt.date(2032, 1, 4), email=None, phone=None, notes=""), by=advisor)
    case = cases.open_case(applicant, cases.CaseData(
        consulate_code="US-SFO", planned_submission_on=dt.date.today() + dt.timedelta(days=30), intended_entry_on=None,
        notes="", pathway=Pathway.BOTH), advisor=advisor, by=advisor)
    assessments.run(case, by=advisor)
    # 12 scans and 6 PDFs over the lines of the checklist: some exhibits hold several files.
    plan = {"passport": ["jpeg", "jpeg"], "photo": ["jpeg"], "application_form": ["pdf"],
            "degree_certificate": ["jpeg", "jpeg", "pdf"], "transcript": ["pdf", "pdf"], "cv": ["pdf"],
            "proof_of_research": ["jpeg", "jpeg", "jpeg", "pdf"], "previous_visa": ["jpeg", "jpeg", "jpeg", "jpeg"]}
    uploaded = 0
    counter = 0
    for line in documents.lines_of(case):
        kinds = plan.get(line.requirement_code, [])
        if not kinds:
            continue
        files = []
        for kind in kinds:
            counter += 1
            data = scan(counter) if kind == "jpeg" else text_pdf(counter)
            uploaded += len(data)
            files.append(documents.Incoming(f"{line.requirement_code}-{counter}.{kind}", data))
        documents.upload(line, files, limits=LIMITS, by=advisor)
        documents.update_details(line, documents.Details(issued_on=dt.date.today() - dt.timedelta(days=10),
                                                         expires_on=dt.date(2031, 1, 1)), by=advisor)
        documents.accept(line, by=advisor)
    db.session.commit()
    return app, context, case, uploaded


def floor_once(case, exhibits, html_for, css, front_pages):  # type: ignore[no-untyped-def]
    front, *_ = packet_pdf.render_front(html_for, css, exhibits, estimate=front_pages)
    out = pikepdf.open(io.BytesIO(front))
    sources = [pikepdf.open(io.BytesIO(data)) for exhibit in exhibits for data in exhibit.pdfs]
    for source in sources:
        out.pages.extend(source.pages)
    buffer = io.BytesIO()
    out.save(buffer)
    for source in sources:
        source.close()
    return len(buffer.getvalue())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=7)
    options = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="advisor-bench-packet-") as folder:
        started = time.perf_counter()
        app, context, case, uploaded = set_up(Path(folder))
        seconds = time.perf_counter() - started
        print(f"set-up: 12 scans and 6 PDFs uploaded ({uploaded / 1e6:.1f} MB) in {seconds:.1f} s")
        from flask import render_template

        exhibits = packets._exhibits(case)
        html_for = packets._html_for(case, draft=False, cover_letter="")
        css = render_template("packets/packet.css")
        built = packets.build_packet(case, draft=False)  # warm: fonts, templates, caches
        floor_once(case, exhibits, html_for, css, built.front_pages)
        export_times, floor_times = [], []
        for _ in range(options.rounds):
            t = time.perf_counter()
            built = packets.build_packet(case, draft=False)
            export_times.append(time.perf_counter() - t)
            t = time.perf_counter()
            floor_once(case, exhibits, html_for, css, built.front_pages)
            floor_times.append(time.perf_counter() - t)
        tracemalloc.start()
        packets.build_packet(case, draft=False)
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        export, floor = statistics.median(export_times), statistics.median(floor_times)
        print(f"pages: {built.page_count} ({built.front_pages} front, {len(built.placed)} exhibits); "
              f"HarfBuzz subsetting: {'yes' if packet_pdf.harfbuzz_subsetting() else 'NO (slow fontTools fallback)'}")
        print(f"export median {export * 1000:.0f} ms (min {min(export_times) * 1000:.0f}), "
              f"floor median {floor * 1000:.0f} ms (min {min(floor_times) * 1000:.0f}) over {options.rounds} rounds")
        print(f"packet {len(built.pdf) / 1e6:.2f} MB for {uploaded / 1e6:.2f} MB uploaded; "
              f"peak Python memory of one export {peak / 1e6:.1f} MB; "
              f"peak RSS {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MB")
        # A big packet: the reference case plus a 250-page thesis, as one request would build it.
        thesis = packet_pdf.Exhibit(title="Thesis", title_zh="论文", code="thesis", pdfs=(text_pdf(99, 250),),
                                    page_counts=(250,))
        started = time.perf_counter()
        big = packet_pdf.build(html_for, css, [*exhibits, thesis], packet_pdf.Meta(
            reference=case.reference, title="bench", author="bench", subject="bench",
            created_at=dt.datetime.now(dt.UTC), draft=False), estimate=built.front_pages)
        print(f"a {big.page_count}-page packet: {time.perf_counter() - started:.2f} s, {len(big.pdf) / 1e6:.1f} MB")
        context.pop()
    print(f"RESULT ratio_to_floor={export / floor:.2f} size_ratio={len(built.pdf) / uploaded:.3f} "
          f"pages={built.page_count}")


if __name__ == "__main__":
    main()
