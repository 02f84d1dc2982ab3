"""The submission packet, read back from the PDF it really is: index page numbers against the stamps on
the pages, a stamp on every page (drawn last, on a white box, upright on rotated scans), bookmarks, JPEG
scans embedded byte for byte, metadata, the draft watermark, CJK fonts; finals refused while the case is
not ready, stored immutably, stale after a change and needed to submit; the views and commands around them;
and WeasyPrint fetching nothing whatever a user field holds.

PDFs are parsed with pikepdf and pypdfium2, never compared as strings of our own making.
"""
from __future__ import annotations

import datetime as dt
import functools
import hashlib
import io
import re
from dataclasses import dataclass

import pikepdf
import pypdfium2 as pdfium
import pytest
from bs4 import BeautifulSoup
from PIL import Image, ImageOps
from sqlalchemy import func, select

from advisor import (
    applicants,
    assessments,
    cases,
    documents,
    files,
    filestore,
    institutions,
    packet_pdf,
    packets,
    readiness,
    records,
    workflow,
)
from advisor import eligibility as engine
from advisor.database import READ_ONLY_OPTION
from advisor.packet_pdf import Exhibit, Meta
from models import Case, CaseStatus, DegreeLevel, Packet, db

from . import hostile
from .conftest import settle_documents

LIMITS = documents.Limits(max_bytes=25 * 1024 * 1024, max_pixels=60_000_000, max_pages=300)
STAMP = re.compile(r"(?P<reference>K-\d{4}-\d{6}) · (?P<where>Front matter|Exhibit (?P<exhibit>\d+)) · "
                   r"p\. (?P<page>\d+)/(?P<of>\d+) · packet p\. (?P<packet_page>\d+)/(?P<total>\d+)")
# An exhibit index row as the page text reads it: number, title, first[–last] page, page count.
INDEX_ROW = re.compile(r"^(?P<number>\d+) (?P<title>.+) (?P<first>\d+)(?:–(?P<last>\d+))? (?P<count>\d+)$")
DRAFT = "DRAFT — not for submission"
CHINESE_NAME = "王小明"

# The exhibits of the packet case, in packet (checklist) order, with the pages each one has.
EXHIBIT_PAGES = [("passport", 1), ("photo", 1), ("application_form", 3), ("degree_certificate", 6),
                 ("residence_proof", 1)]

# What a user might type to make WeasyPrint fetch a local file or an internal URL.
IMG = '<img src="file:///etc/passwd">'
LINK = '<link rel=attachment href="file:///etc/passwd">'
IMPORT = "<style>@import url(http://127.0.0.1:1/)</style>"
IFRAME = "<iframe src=http://127.0.0.1:1/>"
HOSTILE = [IMG, LINK, IMPORT, IFRAME]
ALL_HOSTILE = " ".join(HOSTILE)


# Files --------------------------------------------------------------------------------------------------

@functools.cache
def upload_files() -> dict[str, tuple[tuple[str, bytes], ...]]:
    """The files uploaded to each line of the packet case (generated once; bytes are immutable)."""
    return {
        # A passport scan as big as an A4 page at 150 dpi: it covers the whole page.
        "passport": (("passport-scan.jpg", hostile.jpeg(1240, 1754)),),
        "photo": (("photo.jpg", hostile.jpeg(354, 472)),),
        "application_form": (("application-form.pdf", hostile.pdf(3, text="Application form page")),),
        # Two files in one revision: one exhibit of 5 + 1 pages.
        "degree_certificate": (("degree.pdf", hostile.pdf(5, text="Degree certificate page")),
                               ("degree-annex.pdf", hostile.pdf(1, text="Degree annex page"))),
        # Taken sideways: EXIF orientation 6 makes a page with /Rotate.
        "residence_proof": (("residence-permit.jpg", hostile.jpeg(800, 600, exif_orientation=6)),),
    }


def jpeg_uploads() -> list[bytes]:
    return [data for named in upload_files().values() for name, data in named if name.endswith(".jpg")]


# Reading a packet back -------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Stamp:
    reference: str
    exhibit: int | None  # None: front matter
    page: int
    of: int
    packet_page: int
    total: int


def final_stamps(texts: list[str]) -> list[Stamp]:
    """The stamp every page's text ends with (a final packet draws nothing after it)."""
    found = []
    for number, text in enumerate(texts, start=1):
        match = STAMP.search(text)
        assert match and text.endswith(match.group(0)), f"page {number} does not end with a stamp: {text[-120:]!r}"
        found.append(stamp_of(match))
    return found


def stamp_of(match: re.Match[str]) -> Stamp:
    return Stamp(match["reference"], int(match["exhibit"]) if match["exhibit"] else None, int(match["page"]),
                 int(match["of"]), int(match["packet_page"]), int(match["total"]))


def spans(stamps: list[Stamp]) -> dict[int, tuple[int, int]]:
    """Each exhibit's first and last packet page, as the stamps on the pages say, checking on the way that
    every stamp counts its own page and each exhibit's pages are consecutive and numbered 1..n."""
    found: dict[int, list[Stamp]] = {}
    for number, stamp in enumerate(stamps, start=1):
        assert (stamp.packet_page, stamp.total) == (number, len(stamps))
        if stamp.exhibit is not None:
            found.setdefault(stamp.exhibit, []).append(stamp)
    result = {}
    for exhibit, pages in found.items():
        assert [s.page for s in pages] == list(range(1, len(pages) + 1))
        assert {s.of for s in pages} == {len(pages)}
        assert [s.packet_page for s in pages] == list(range(pages[0].packet_page, pages[-1].packet_page + 1))
        result[exhibit] = (pages[0].packet_page, pages[-1].packet_page)
    return result


def index_rows(texts: list[str]) -> dict[int, tuple[int, int, int]]:
    """The rows printed in an exhibit index: number -> (first page, last page, page count)."""
    rows = {}
    for text in texts:
        for line in text.splitlines():
            match = INDEX_ROW.match(line.strip())
            if match:
                first = int(match["first"])
                last = int(match["last"]) if match["last"] else first
                assert int(match["number"]) not in rows, line
                rows[int(match["number"])] = (first, last, int(match["count"]))
    return rows


def open_pdf(data: bytes) -> pikepdf.Pdf:
    return pikepdf.open(io.BytesIO(data))


def content_ops(page: pikepdf.Page) -> list[tuple[str, list[object]]]:
    return [(str(op.operator), list(op.operands)) for op in pikepdf.parse_content_stream(page)]


def images_of(page: pikepdf.Page) -> list[pikepdf.Stream]:
    """The image XObjects a page draws, also those inside its form XObjects."""
    found = []

    def walk(resources: pikepdf.Object) -> None:
        for xobject in dict(resources.get("/XObject", {})).values():
            if xobject.get("/Subtype") == "/Image":
                found.append(xobject)
            elif xobject.get("/Subtype") == "/Form":
                walk(xobject.get("/Resources", pikepdf.Dictionary()))

    walk(page.obj.get("/Resources", pikepdf.Dictionary()))
    return found


def font_names(page: pikepdf.Page) -> set[str]:
    """/BaseFont of every font a page uses, descendant fonts of composite fonts included."""
    names: set[str] = set()

    def walk(resources: pikepdf.Object) -> None:
        for font in dict(resources.get("/Font", {})).values():
            names.add(str(font.get("/BaseFont", "")))
            for descendant in font.get("/DescendantFonts", []):
                names.add(str(descendant.get("/BaseFont", "")))
        for xobject in dict(resources.get("/XObject", {})).values():
            if xobject.get("/Subtype") == "/Form":
                walk(xobject.get("/Resources", pikepdf.Dictionary()))

    walk(page.obj.get("/Resources", pikepdf.Dictionary()))
    return names


def render(data: bytes, index: int, scale: float = 2):  # type: ignore[no-untyped-def]
    """Page `index` as pdfium draws it (after /Rotate), as an RGB PIL image."""
    document = pdfium.PdfDocument(data)
    try:
        page = document[index]
        image = page.render(scale=scale).to_pil().convert("RGB")
        page.close()
        return image
    finally:
        document.close()


def is_ink(pixel: tuple[int, int, int]) -> bool:
    """The stamp's dark grey text (or its grey anti-aliasing), not the scan's blue or red."""
    r, g, b = pixel
    return max(r, g, b) < 140 and max(r, g, b) - min(r, g, b) < 40


def squashed(text: str) -> str:
    return re.sub(r"\s+", "", text)


# Fixtures ---------------------------------------------------------------------------------------------------

@pytest.fixture
def eth(app, admin):  # type: ignore[no-untyped-def]
    institution = institutions.save(None, institutions.InstitutionData(
        name="ETH Zurich", country="CH", aliases=[], rank=None, renowned=True, source="Practice list"), by=admin)
    db.session.commit()
    return institution


def give_degree(case: Case, institution, by) -> None:  # type: ignore[no-untyped-def]
    records.add_education(case.applicant, records.EducationData(
        level=DegreeLevel.MASTER, field_code="0533", institution=institution, awarded_on=dt.date(2015, 6, 30),
        pending=False), by=by)


def line_of(case: Case, code: str):  # type: ignore[no-untyped-def]
    return next(line for line in documents.lines_of(case) if line.requirement_code == code)


def upload_and_accept(case: Case, code: str, named: tuple[tuple[str, bytes], ...], by) -> None:  # type: ignore[no-untyped-def]
    line = line_of(case, code)
    documents.upload(line, [documents.Incoming(name, data) for name, data in named], limits=LIMITS, by=by)
    today = dt.date.today()
    if code == "photo":
        documents.update_details(line, documents.Details(issued_on=today - dt.timedelta(days=20)), by=by)
    if code == "residence_proof":
        documents.update_details(line, documents.Details(issued_on=today - dt.timedelta(days=300),
                                                         expires_on=today + dt.timedelta(days=400)), by=by)
    documents.accept(line, by=by)


@pytest.fixture
def make_packet_case(make_case, advisor, eth):  # type: ignore[no-untyped-def]
    """A case with nothing blocking it whose exhibits are real uploads (see `upload_files`): an eligible
    assessment, every required line accepted (optional lines left missing, which blocks nothing)."""
    def make(owner=None, *, status=CaseStatus.INTAKE, institution=None, **applicant):  # type: ignore[no-untyped-def]
        owner = owner or advisor
        case = make_case(owner, status=status, **applicant)
        give_degree(case, institution or eth, owner)
        assessments.run(case, by=owner)
        for code, named in upload_files().items():
            upload_and_accept(case, code, named, owner)
        db.session.commit()
        return case

    return make


@pytest.fixture
def make_ready_case(make_case, advisor, eth):  # type: ignore[no-untyped-def]
    """A cheaper ready case: assessed, every required document waived, so its packet is front matter only."""
    def make(owner=None, *, status=CaseStatus.INTAKE):  # type: ignore[no-untyped-def]
        owner = owner or advisor
        case = make_case(owner, status=status)
        give_degree(case, eth, owner)
        assessments.run(case, by=owner)
        settle_documents(case, owner)
        assert codes(case, packets=False) == []
        return case

    return make


def packet_count(case: Case | None = None) -> int:
    query = select(func.count()).select_from(Packet)
    if case is not None:
        query = query.where(Packet.case_id == case.id)
    return int(db.session.scalar(query) or 0)


def stored_packet_keys() -> list[str]:
    return list(filestore.current().keys("packets/"))


def codes(case: Case, **options: bool) -> list[str]:
    return [problem.code for problem in readiness.problems(case, **options)]


# 1. The index's page numbers are the pages -----------------------------------------------------------------

def test_index_page_numbers_are_the_pages_stamped_on_the_exhibits(make_packet_case):
    case = make_packet_case()
    built = packets.build_packet(case, draft=False)
    texts = packet_pdf.page_texts(built.pdf)
    stamps = final_stamps(texts)
    assert {s.reference for s in stamps} == {case.reference}

    stamped = spans(stamps)
    front = [s for s in stamps if s.exhibit is None]
    assert len(front) == built.front_pages == 4  # cover, index, applicant, eligibility
    assert len(texts) == built.page_count == 4 + sum(pages for _, pages in EXHIBIT_PAGES)

    # The index printed on the page names every exhibit at the pages its stamps say, with its page count.
    index_pages = [text for text in texts[:built.front_pages] if text.startswith("Exhibit index")]
    assert len(index_pages) == 1
    printed = index_rows(index_pages)
    assert printed == {number: (first, last, last - first + 1) for number, (first, last) in stamped.items()}
    assert [printed[n][2] for n in sorted(printed)] == [pages for _, pages in EXHIBIT_PAGES]

    # The placement the builder reports (and stores in the manifest) is the same.
    assert {p.number: (p.first, p.last) for p in built.placed} == stamped
    assert [p.exhibit.code for p in built.placed] == [code for code, _ in EXHIBIT_PAGES]
    assert [(e["first_page"], e["last_page"]) for e in built.manifest()["exhibits"]] == [
        stamped[n] for n in sorted(stamped)]
    assert "Pages 页数 16 (4 front pages, 5 exhibits)" in texts[0]

    # One exhibit spans both files of the degree certificate's revision, in upload order.
    first, last = stamped[4]
    assert [text.splitlines()[0] for text in texts[first - 1:last]] == [
        *(f"Degree certificate page {n}" for n in range(1, 6)), "Degree annex page 1"]
    assert texts[stamped[3][0] - 1].startswith("Application form page 1")


LONG_INDEX_CSS = """
@page { size: A4; margin: 20mm 20mm 22mm; }
body { font-family: "DejaVu Sans", sans-serif; font-size: 10pt; }
section + section { break-before: page; }
td { padding: 1.6mm 2mm; border-bottom: 0.5pt solid #999; }
tr { break-inside: avoid; }
"""


def long_index_html(calls: list[int]):  # type: ignore[no-untyped-def]
    """Front matter: a cover, then an index of every exhibit; records the page count it was numbered with."""
    def html(placed: list[packet_pdf.Placed], front_pages: int) -> str:
        calls.append(front_pages)
        rows = "".join(
            f"<tr><td>{p.number}</td><td>{p.exhibit.title}</td>"
            f"<td>{p.first}{'–' + str(p.last) if p.last != p.first else ''}</td><td>{p.exhibit.pages}</td></tr>"
            for p in placed)
        return (f"<section><h1>Cover</h1><p>{front_pages} front pages</p></section>"
                f"<section><h1>Exhibit index</h1><table>{rows}</table></section>")

    return html


@pytest.mark.parametrize("estimate", [1, 7])
def test_an_index_running_onto_a_second_page_still_prints_the_stamped_pages(estimate):
    # Every seventh exhibit has three pages, the rest one.
    exhibits = [Exhibit(title=f"Document {n:02d}", title_zh="", code=f"doc{n}",
                        pdfs=(hostile.pdf(3 if n % 7 == 0 else 1, text=f"Exhibit {n} page"),),
                        page_counts=(3 if n % 7 == 0 else 1,)) for n in range(1, 61)]
    meta = Meta(reference="K-2026-000777", title="K-2026-000777 packet", author="Alex Advisor", subject="Test",
                created_at=dt.datetime(2026, 3, 1, tzinfo=dt.UTC), draft=False)
    calls: list[int] = []
    built = packet_pdf.build(long_index_html(calls), LONG_INDEX_CSS, exhibits, meta, estimate=estimate)

    texts = packet_pdf.page_texts(built.pdf)
    stamps = final_stamps(texts)
    front = [s for s in stamps if s.exhibit is None]
    # A cover and an index of (at least) two pages; the estimate was wrong, so the front matter was numbered
    # again with the count it really has, and that numbering is the one printed.
    pages = built.front_pages
    assert len(front) == pages >= 3
    assert calls[0] == estimate != pages and calls[1:] == [pages]
    assert f"{pages} front pages" in texts[0]
    assert len(texts) == built.page_count == pages + 60 + 2 * 8

    stamped = spans(stamps)
    printed = index_rows(texts[1:pages])
    assert sorted(printed) == list(range(1, 61))
    assert all(index_rows([text]) for text in texts[1:pages])  # rows on every index page
    assert printed == {number: (first, last, last - first + 1) for number, (first, last) in stamped.items()}
    assert {p.number: (p.first, p.last) for p in built.placed} == stamped
    for number, (first, last) in stamped.items():
        assert texts[first - 1].startswith(f"Exhibit {number} page 1")
        assert texts[last - 1].startswith(f"Exhibit {number} page {last - first + 1}")


# 2. A legible stamp on every page -------------------------------------------------------------------------

def test_every_page_carries_its_stamp_drawn_last_on_a_white_box(make_packet_case):
    case = make_packet_case()
    built = packets.build_packet(case, draft=False)
    pdf = open_pdf(built.pdf)
    texts = packet_pdf.page_texts(built.pdf)
    stamps = final_stamps(texts)
    assert len(pdf.pages) == len(stamps) == built.page_count

    for number, (page, stamp) in enumerate(zip(pdf.pages, stamps, strict=True), start=1):
        where = "Front matter" if stamp.exhibit is None else f"Exhibit {stamp.exhibit}"
        text = packet_pdf.stamp_text(case.reference, where, stamp.page, stamp.of, number, len(stamps))
        ops = content_ops(page)
        # The page's own drawing comes first, wrapped so that it cannot move the stamp; then a white box,
        # then the text on it, and nothing drawn after.
        shows = [i for i, (op, args) in enumerate(ops) if op == "Tj" and bytes(args[0]) == text.encode("cp1252")]
        assert shows, f"page {number}: no stamp in the content stream"
        show = shows[-1]
        assert [op for op, _ in ops[show + 1:]] == ["ET", "Q"], f"page {number}: drawn over the stamp"
        fill = max(i for i, (op, _) in enumerate(ops[:show]) if op == "f")
        assert ops[fill - 1][0] == "re" and ops[fill - 2] == ("rg", [1, 1, 1])
        x, y, width, height = (float(v) for v in ops[fill - 1][1])
        # The box holds the text: it starts left of and below the text origin and is tall enough for it.
        tf = next(args for op, args in ops[fill:show] if op == "Tf")
        td = next(args for op, args in ops[fill:show] if op == "Td")
        size, (tx, ty) = float(tf[1]), (float(td[0]), float(td[1]))
        assert x < tx and y < ty and y + height > ty + size and width > len(text) * size * 0.45
        # Before the stamp: the page's own drawing inside q … Q, balanced, so its state is gone.
        assert [op for op, _ in ops[fill - 5:fill - 1]] == ["Q", "q", "cm", "rg"]
        depth = 0
        for op, _ in ops[:fill - 4]:
            depth += {"q": 1, "Q": -1}.get(op, 0)
            assert depth >= 0
        assert depth == 0 and ops[0][0] == "q"
        if "/Rotate" not in page.obj:
            assert [float(v) for v in ops[fill - 3][1]] == [1, 0, 0, 1, 0, 0]


def test_the_stamp_is_legible_on_a_full_page_scan(make_packet_case):
    case = make_packet_case()
    built = packets.build_packet(case, draft=False)
    item = next(p for p in built.placed if p.exhibit.code == "passport")
    page_index = item.first - 1
    text = packet_pdf.page_texts(built.pdf)[page_index]
    # The scan has no text of its own: the stamp is all there is.
    assert text == packet_pdf.stamp_text(case.reference, "Exhibit 1", 1, 1, item.first, built.page_count)

    # Drawn by pdfium at 2 px/pt: the scan covers the foot of the page, except where the stamp's white box is.
    image = render(built.pdf, page_index)
    height = image.height

    def strip(x0: float, x1: float) -> list[tuple[int, int, int]]:
        return [image.getpixel((x, y)) for x in range(int(x0 * 2), int(x1 * 2))
                for y in range(height - int(19 * 2), height - int(8 * 2))]

    under_stamp = strip(7, 200)
    beside_stamp = strip(320, 560)
    assert all(pixel[2] > pixel[0] + 60 for pixel in beside_stamp)  # the blue scan
    assert not any(pixel[2] > pixel[0] + 60 for pixel in under_stamp)  # none of it shows through the box
    white = sum(pixel == (255, 255, 255) for pixel in under_stamp)
    ink = sum(is_ink(pixel) for pixel in under_stamp)
    assert white > len(under_stamp) // 2 and ink > 200


def test_a_photo_taken_sideways_is_upright_and_stamped_at_its_foot(make_packet_case):
    built = packets.build_packet(make_packet_case(), draft=False)
    item = next(p for p in built.placed if p.exhibit.code == "residence_proof")
    page_index = item.first - 1
    pdf = open_pdf(built.pdf)
    page = pdf.pages[page_index]
    # EXIF orientation 6: the page is portrait and draws the landscape-stored JPEG turned through a matrix
    # (no /Rotate, which could not mirror the orientations that need it).
    assert "/Rotate" not in page.obj and float(page.mediabox[3]) > float(page.mediabox[2])
    text = packet_pdf.page_texts(built.pdf)[page_index]
    assert STAMP.fullmatch(text) and f"Exhibit {item.number} · p. 1/1" in text

    # As displayed, the red bar stored along the top of the photo runs down its right-hand side, and the
    # stamp's ink is one horizontal line at the bottom left, where it is on every other page.
    image = render(built.pdf, page_index)
    assert image.width < image.height
    across_the_middle = [(x, image.getpixel((x, image.height // 2))) for x in range(0, image.width, 4)]
    red = [x for x, (r, _, b) in across_the_middle if r > 180 and b < 80]
    assert red and min(red) > image.width * 0.8 and max(red) >= image.width - 8
    ink = [(x, y) for x in range(image.width) for y in range(image.height - 60, image.height)
           if is_ink(image.getpixel((x, y)))]
    assert len(ink) > 200
    xs, ys = [x for x, _ in ink], [y for _, y in ink]
    assert min(xs) < 2 * 15 and max(xs) - min(xs) > 2 * 150  # starts at the left margin, runs across
    assert max(ys) - min(ys) < 2 * 10 and image.height - max(ys) < 2 * 12  # one line, near the foot


def test_the_photo_is_printed_at_its_real_size_not_blown_up_to_a_page(make_packet_case):
    built = packets.build_packet(make_packet_case(), draft=False)
    item = next(p for p in built.placed if p.exhibit.code == "photo")
    text = packet_pdf.page_texts(built.pdf)[item.first - 1]
    # The 354 × 472 px upload (3:4) fits inside the checklist's 33 × 48 mm, and the caption says so.
    assert text.startswith("Printed at actual size: 33 × 44 mm (width × height), within the required 33 × 48 mm.")
    assert STAMP.search(text)
    # Measured as pdfium draws the page at 2 px/pt: the photo (blue, a red bar on top) is 33 mm wide.
    image = render(built.pdf, item.first - 1)
    mm = 2 * 72 / 25.4
    left, top, right, bottom = hostile.picture_box(image)
    assert abs((right - left) / mm - 33) < 0.5 and abs((bottom - top) / mm - 44) < 0.5
    assert abs((left + right) / 2 - image.width / 2) < mm and abs((top + bottom) / 2 - image.height / 2) < mm
    # Every other scan still fills its page.
    passport = next(p for p in built.placed if p.exhibit.code == "passport")
    left, top, right, bottom = hostile.picture_box(render(built.pdf, passport.first - 1))
    assert right - left > 2 * 590


ORIENTATIONS = [(size, orientation) for size in ((120, 80), (80, 120)) for orientation in range(1, 9)]


def test_mirrored_and_turned_photos_are_upright_in_the_packet_with_their_bytes_kept():
    uploads = [hostile.quadrants_jpeg(*size, exif_orientation=orientation) for size, orientation in ORIENTATIONS]
    exhibits = [Exhibit(title=f"Photo {n}", title_zh="", code=f"photo{n}", page_counts=(1,),
                        pdfs=(files.packet_pages(data, files.inspect(data)),)) for n, data in enumerate(uploads)]
    meta = Meta(reference="K-2026-000042", title="t", author="a", subject="s",
                created_at=dt.datetime(2026, 3, 1, tzinfo=dt.UTC), draft=False)
    built = packet_pdf.build(lambda placed, pages: "<p>Front</p>", "", exhibits, meta, estimate=1)
    pdf = open_pdf(built.pdf)
    for index, data in enumerate(uploads, start=1):
        [image] = images_of(pdf.pages[index])
        assert image.Filter == pikepdf.Name.DCTDecode and image.read_raw_bytes() == data
        with Image.open(io.BytesIO(data)) as original:
            expected = hostile.quadrants(ImageOps.exif_transpose(original))[0]
        assert hostile.quadrants(render(built.pdf, index, scale=0.5))[0] == expected, ORIENTATIONS[index - 1]


def test_filled_in_forms_and_annotations_reach_the_packet_as_page_content():
    sources = [hostile.form_pdf(), hostile.form_pdf(need_appearances=True), hostile.annotated_pdf("signature"),
               hostile.annotated_pdf("hidden"), hostile.annotated_pdf("link")]
    exhibits = [Exhibit(title=f"Form {n}", title_zh="", code=f"form{n}", page_counts=(1,),
                        pdfs=(files.packet_pages(data, files.inspect(data)),)) for n, data in enumerate(sources)]
    meta = Meta(reference="K-2026-000042", title="t", author="a", subject="s",
                created_at=dt.datetime(2026, 3, 1, tzinfo=dt.UTC), draft=False)
    built = packet_pdf.build(lambda placed, pages: "<p>Front</p>", "", exhibits, meta, estimate=1)
    texts = [squashed(text) for text in packet_pdf.page_texts(built.pdf)[1:]]
    assert [squashed(hostile.FORM_VALUE) in text for text in texts] == [True, True, False, False, False]
    assert ["signaturemark" in text for text in texts] == [False, False, True, False, False]
    assert not any("hiddenmark" in text or "linkmark" in text for text in texts)
    pdf = open_pdf(built.pdf)
    assert "/AcroForm" not in pdf.Root and not any("/Annots" in page.obj for page in pdf.pages)


@pytest.mark.parametrize("rotate", [0, 90, 180, 270])
@pytest.mark.parametrize("crop", [None, (50, 60, 400, 700)], ids=["media-box", "crop-box"])
def test_the_stamp_sits_at_the_visible_foot_whatever_the_rotation_and_crop(rotate, crop):
    source = open_pdf(hostile.pdf(1, text="Rotated page"))
    if rotate:
        source.pages[0].Rotate = rotate
    if crop:
        source.pages[0].CropBox = pikepdf.Array(crop)
    buffer = io.BytesIO()
    source.save(buffer)
    meta = Meta(reference="K-2026-000042", title="t", author="a", subject="s",
                created_at=dt.datetime(2026, 3, 1, tzinfo=dt.UTC), draft=False)
    built = packet_pdf.build(lambda placed, pages: "<p>Front</p>", "", [
        Exhibit(title="Scan", title_zh="", code="scan", pdfs=(buffer.getvalue(),), page_counts=(1,))], meta,
        estimate=1)
    assert packet_pdf.page_texts(built.pdf)[1].endswith("K-2026-000042 · Exhibit 1 · p. 1/1 · packet p. 2/2")

    image = render(built.pdf, 1, scale=1)
    width, height = (crop[2] - crop[0], crop[3] - crop[1]) if crop else hostile.A4
    assert image.size == ((height, width) if rotate in (90, 270) else (width, height))
    ink = [(x, y) for x in range(image.width) for y in range(image.height - 40, image.height)
           if is_ink(image.getpixel((x, y)))]
    xs, ys = [x for x, _ in ink], [y for _, y in ink]
    assert len(ink) > 60
    assert min(xs) < 15 and max(xs) - min(xs) > 120 and max(ys) - min(ys) < 10 and image.height - max(ys) < 14


# 3. Bookmarks ---------------------------------------------------------------------------------------------

def test_bookmarks_lead_to_the_front_sections_and_to_each_exhibit(make_packet_case):
    built = packets.build_packet(make_packet_case(), draft=False, cover_letter="Dear Consul,\nplease find …")
    pdf = open_pdf(built.pdf)
    texts = packet_pdf.page_texts(built.pdf)
    first_pages = {number: first for number, (first, _) in spans(final_stamps(texts)).items()}
    assert pdf.Root.PageMode == "/UseOutlines"

    def target(item: pikepdf.OutlineItem) -> int:
        """The 0-based index of the page the bookmark opens."""
        destination = item.destination
        page = destination[0] if isinstance(destination, pikepdf.Array) else destination
        return next(i for i, p in enumerate(pdf.pages) if p.obj.objgen == page.objgen)

    with pdf.open_outline() as outline:
        top = list(outline.root)
        front = top[0]
        assert front.title == "Front matter" and target(front) == 0
        sections = [(child.title, target(child)) for child in front.children]
        exhibits = [(item.title, target(item)) for item in top[1:]]
    # The front sections, each at the page whose text starts with its heading.
    assert [title for title, _ in sections] == ["Visa application packet 签证申请材料", "Exhibit index 材料目录",
                                                "Applicant 申请人信息", "Eligibility statement 资格声明",
                                                "Cover letter 说明信"]
    assert all(texts[page].startswith(title) for title, page in sections)
    assert [page for _, page in sections] == list(range(built.front_pages)) and built.front_pages == 5
    # One bookmark per exhibit, opening the page stamped as the exhibit's first.
    titles = ["Passport data page", "Passport photo", "Online application form confirmation", "Degree certificate",
              "Proof of legal residence"]
    assert exhibits == [(f"Exhibit {n}: {title}", first_pages[n] - 1) for n, title in enumerate(titles, start=1)]
    assert [first_pages[n] for n in range(1, 6)] == [6, 7, 8, 11, 17]


# 4. Scans go in untouched ---------------------------------------------------------------------------------

def test_jpeg_scans_are_embedded_byte_for_byte(make_packet_case):
    built = packets.build_packet(make_packet_case(), draft=False)
    pdf = open_pdf(built.pdf)
    embedded = []
    for page in list(pdf.pages)[built.front_pages:]:
        for image in images_of(page):
            embedded.append((str(image.get("/Filter")), image.read_raw_bytes()))
    jpegs = [data for kind, data in embedded if kind == "/DCTDecode"]
    assert len(jpegs) == len(embedded) == 3  # the PDF uploads hold no images; the three JPEGs nothing else
    assert sorted(jpegs) == sorted(jpeg_uploads())
    # and each on its exhibit's page
    for item in built.placed:
        uploads = [data for _, data in upload_files()[item.exhibit.code] if data[:3] == b"\xff\xd8\xff"]
        found = [image.read_raw_bytes() for page in list(pdf.pages)[item.first - 1:item.last]
                 for image in images_of(page)]
        assert found == uploads


# 5. Metadata ----------------------------------------------------------------------------------------------

def test_pdf_metadata_names_the_case(make_ready_case, advisor):
    case = make_ready_case()
    pdf = open_pdf(packets.build_packet(case, draft=False).pdf)
    title = str(pdf.docinfo["/Title"])
    assert title == f"{case.reference} K visa submission packet"
    assert advisor.name in str(pdf.docinfo["/Author"])
    assert case.applicant.full_name in str(pdf.docinfo["/Subject"])
    assert case.reference in str(pdf.docinfo["/Keywords"])
    with pdf.open_metadata() as xmp:
        assert xmp["dc:title"] == title
        assert advisor.name in xmp["dc:creator"][0]
        assert case.applicant.full_name in xmp["dc:description"]


# 6. Drafts ------------------------------------------------------------------------------------------------

def test_a_draft_is_watermarked_on_every_page_and_a_final_nowhere(make_packet_case, advisor):
    case = make_packet_case()
    draft = packets.export_draft(case, by=advisor)
    texts = packet_pdf.page_texts(draft.pdf)
    assert len(texts) == len(open_pdf(draft.pdf).pages) == draft.page_count
    assert all(DRAFT in text for text in texts)
    assert all(STAMP.search(text) for text in texts)  # the stamp is still there under the watermark

    pdf = open_pdf(draft.pdf)
    assert str(pdf.docinfo["/Title"]) == f"{case.reference} K visa submission packet (draft)"
    with pdf.open_metadata() as xmp:
        assert xmp["dc:title"].endswith(" (draft)")

    final = packets.build_packet(case, draft=False)
    assert final.page_count == draft.page_count
    assert not any("DRAFT" in text or "草稿" in text for text in packet_pdf.page_texts(final.pdf))


# 7. Finals only for ready cases; the commands ----------------------------------------------------------------

def test_a_final_is_refused_while_the_case_is_not_ready(make_case, advisor):
    case = make_case(advisor)  # not assessed, no documents
    with pytest.raises(packets.NotReady) as refused:
        packets.export_final(case, by=advisor)
    found = {problem.code for problem in refused.value.problems}
    assert {"no_assessment", "document_missing"} <= found
    assert "Eligibility has not been assessed yet." in str(refused.value)
    db.session.commit()
    assert packet_count() == 0 and stored_packet_keys() == []


def test_the_final_button_flashes_why_and_stores_nothing(client, auth, make_case, advisor):
    case = make_case(advisor)
    auth.login(advisor.email)
    response = client.post(f"/cases/{case.id}/packets/final", data={"cover_letter": "Dear Consul"},
                           follow_redirects=True)
    assert response.status_code == 200
    assert response.request.path == f"/cases/{case.id}/packets"
    flashes = [p.get_text(" ", strip=True) for p in BeautifulSoup(response.data, "html.parser").select(".flash-error")]
    assert len(flashes) == 1
    assert flashes[0].startswith("A final packet needs a case with nothing blocking it")
    assert "Eligibility has not been assessed yet." in flashes[0]
    assert packet_count() == 0 and stored_packet_keys() == []

    # A draft of the same case downloads at once.
    draft = client.post(f"/cases/{case.id}/packets/draft", data={"cover_letter": ""})
    assert draft.status_code == 200 and draft.mimetype == "application/pdf"
    assert draft.headers["Content-Disposition"].startswith("attachment")
    assert all(DRAFT in text for text in packet_pdf.page_texts(draft.data))
    assert packet_count() == 0 and stored_packet_keys() == []


def test_export_packet_command_exports_a_draft_of_a_case_that_is_not_ready(runner, make_case, advisor, tmp_path):
    case = make_case(advisor)
    out = tmp_path / "draft.pdf"
    result = runner.invoke(args=["export-packet", case.reference.lower(), "--out", str(out), "--draft"])
    assert result.exit_code == 0, result.output
    assert f"{case.reference}: draft packet" in result.output
    texts = packet_pdf.page_texts(out.read_bytes())
    assert texts and all(DRAFT in text and case.reference in text for text in texts)

    final = tmp_path / "final.pdf"
    refused = runner.invoke(args=["export-packet", case.reference, "--out", str(final)])
    assert refused.exit_code == 1
    assert f"{case.reference}: A final packet needs" in refused.output
    assert not final.exists() and packet_count() == 0 and stored_packet_keys() == []


def test_export_packets_command_exports_each_ready_case(runner, make_ready_case, make_case, advisor, tmp_path):
    ready = [make_ready_case(status=CaseStatus.READY) for _ in range(2)]
    make_ready_case(status=CaseStatus.COLLECTING)  # ready to be, but not in the status asked for
    db.session.commit()
    folder = tmp_path / "out"
    result = runner.invoke(args=["export-packets", "--status", "ready", "--out", str(folder)])
    assert result.exit_code == 0, result.output
    assert "2 of 2 cases exported" in result.output
    assert sorted(p.name for p in folder.iterdir()) == sorted(f"{c.reference}.pdf" for c in ready)
    for case in ready:
        data = (folder / f"{case.reference}.pdf").read_bytes()
        packet = packets.latest_final(case)
        assert packet is not None and packet.number == 1
        assert hashlib.sha256(data).hexdigest() == packet.sha256
        assert filestore.current().get(packet.storage_key) == data
        assert final_stamps(packet_pdf.page_texts(data))[0].reference == case.reference
    assert packet_count() == 2


def test_export_packets_command_lists_a_case_it_cannot_export_and_exports_the_others(
        runner, make_ready_case, make_case, advisor, tmp_path):
    good = make_ready_case(status=CaseStatus.READY)
    blocked = make_case(advisor, status=CaseStatus.READY)  # marked ready by hand, nothing assessed
    db.session.commit()
    folder = tmp_path / "out"
    result = runner.invoke(args=["export-packets", "--out", str(folder)])
    assert result.exit_code == 1
    assert f"failed  {blocked.reference}: A final packet needs" in result.output
    assert "1 of 2 cases exported" in result.output
    assert [p.name for p in folder.iterdir()] == [f"{good.reference}.pdf"]
    assert packet_count(good) == 1 and packet_count(blocked) == 0


# 8. WeasyPrint fetches nothing ------------------------------------------------------------------------------

def test_markup_in_every_user_field_is_printed_as_text_and_fetches_nothing(make_packet_case, advisor, admin):
    # An institution the registry has no judgement on, so the advisor's judgement note is printed too.
    institution = institutions.save(None, institutions.InstitutionData(
        name=ALL_HOSTILE, country="CH", aliases=[], rank=None, renowned=None, source=""), by=admin)
    case = make_packet_case(institution=institution, family_name=f"{IMG} {IFRAME}",
                            given_names=f"{LINK} {IMPORT}", chinese_name=IMPORT)
    case.notes = ALL_HOSTILE
    assessment = assessments.latest(case)
    assessments.judge(assessment, "renowned_institution", "pass", f"Judged: {ALL_HOSTILE}", by=advisor)
    cv = line_of(case, "cv")
    documents.upload(cv, [documents.Incoming(f"{ALL_HOSTILE}.pdf", hostile.pdf(1))], limits=LIMITS, by=advisor)
    documents.accept(cv, by=advisor)
    db.session.commit()
    assert codes(case, packets=False) == []

    built = packets.build_packet(case, draft=False, cover_letter=f"Dear Consul,\n{ALL_HOSTILE}")
    assert built.refused_urls == []  # escaped text never became a request, not even a refused one
    texts = packet_pdf.page_texts(built.pdf)
    front = squashed("".join(texts[:built.front_pages]))
    # Each field printed literally where the packet shows it.
    assert squashed(f"{IMG.upper()} {IFRAME.upper()}") in front  # the family name, printed in capitals
    assert squashed(f"Given names 名 {LINK} {IMPORT}") in front
    assert squashed(f"Chinese name 中文姓名 {IMPORT}") in front
    assert squashed(f"Dear Consul, {ALL_HOSTILE}") in front  # the cover letter
    assert squashed(f"Physics (0533) {ALL_HOSTILE} awarded") in front  # the institution, in the records
    assert squashed(f"at {ALL_HOSTILE}") in front  # and in the eligibility reasons
    assert squashed(f"Judged: {ALL_HOSTILE}") in front  # the judgement note
    assert "root:" not in "".join(texts)
    pdf = open_pdf(built.pdf)
    assert "/Names" not in pdf.Root and len(pdf.attachments) == 0  # no attachment smuggled in
    # The original file name is kept only as metadata in the manifest.
    names = [f["name"] for e in built.manifest()["exhibits"] if e["code"] == "cv" for f in e["files"]]
    assert names == [files.safe_filename(f"{ALL_HOSTILE}.pdf")]


def test_the_fetcher_refuses_every_url_it_is_given():
    from weasyprint.urls import URLFetchingError

    fetcher = packet_pdf._fetcher_class()()
    urls = ["file:///etc/passwd", "http://127.0.0.1:1/", "https://example.com/font.woff2",
            "data:text/css,body{color:red}", "ftp://127.0.0.1/x"]
    for url in urls:
        with pytest.raises(URLFetchingError):
            fetcher.fetch(url)
        with pytest.raises(URLFetchingError):
            fetcher(url)  # how WeasyPrint calls it
    assert fetcher.refused == [url for url in urls for _ in range(2)]


def test_real_markup_in_the_front_matter_fetches_nothing():
    html = ("<html><head>" + LINK + "<style>@import url(http://127.0.0.1:1/);"
            " body { background: url(file:///etc/hostname) }</style></head><body><h1>Cover</h1>"
            + IMG + '<img src="data:image/png;base64,iVBORw0KGgo="><img src="https://example.com/x.png">'
            + IFRAME + "</body></html>")
    pdf, placed, front_pages, marks, refused = packet_pdf.render_front(
        lambda placed, pages: html, "@import url(file:///etc/shadow);", [], estimate=1)
    assert front_pages == 1 and marks == [("Cover", 0)]
    assert {"file:///etc/passwd", "http://127.0.0.1:1/", "file:///etc/hostname", "file:///etc/shadow",
            "https://example.com/x.png"} <= set(refused)
    assert any(url.startswith("data:") for url in refused)
    text = "".join(packet_pdf.page_texts(pdf))
    assert "Cover" in text and "root:" not in text
    assert len(open_pdf(pdf).attachments) == 0


# 9. Finals: stored for good, stale after a change ---------------------------------------------------------------

def test_an_exported_final_is_stored_with_its_hash_and_a_second_leaves_the_first_alone(make_packet_case, advisor):
    case = make_packet_case()
    first = packets.export_final(case, by=advisor, cover_letter="First")
    db.session.commit()
    store = filestore.current()
    assert store.exists(first.storage_key)
    data = store.get(first.storage_key)
    assert hashlib.sha256(data).hexdigest() == first.sha256 and len(data) == first.size
    assert len(open_pdf(data).pages) == first.page_count == 5 + 12  # with a cover letter page
    assert (first.number, first.created_by_id, first.cover_letter) == (1, advisor.id, "First")
    assert first.fingerprint == packets.fingerprint(case)
    exhibits = first.manifest["exhibits"]
    assert [(e["code"], e["last_page"] - e["first_page"] + 1) for e in exhibits] == EXHIBIT_PAGES
    assert [len(e["files"]) for e in exhibits] == [1, 1, 1, 2, 1]
    assert exhibits[3]["files"][1]["name"] == "degree-annex.pdf"

    second = packets.export_final(case, by=advisor, cover_letter="Second")
    db.session.commit()
    assert second.number == 2 and second.storage_key != first.storage_key and second.sha256 != first.sha256
    assert store.get(first.storage_key) == data
    assert packets.latest_final(case).id == second.id
    assert [p.number for p in packets.packets_of(case)] == [2, 1]


def test_the_storage_check_keeps_stored_packets(runner, make_ready_case, advisor):
    case = make_ready_case()
    packet = packets.export_final(case, by=advisor)
    db.session.commit()
    data = filestore.current().get(packet.storage_key)

    # The storage check must count a final packet as named by its row: not an orphan to delete.
    result = runner.invoke(args=["storage-check", "--delete-orphans"])
    assert result.exit_code == 0, result.output
    assert filestore.current().exists(packet.storage_key), result.output
    assert filestore.current().get(packet.storage_key) == data
    assert packet.storage_key not in filestore.check().orphans


def change_planned_date(case: Case, by) -> None:  # type: ignore[no-untyped-def]
    cases.update_case(case, cases.CaseData(
        consulate_code=case.consulate_code, planned_submission_on=case.planned_submission_on + dt.timedelta(days=7),
        intended_entry_on=case.intended_entry_on, notes=case.notes, pathway=case.pathway), version=case.version,
        by=by)


def change_passport_number(case: Case, by) -> None:  # type: ignore[no-untyped-def]
    applicant = case.applicant
    data = applicants.ApplicantData(
        family_name=applicant.family_name, given_names=applicant.given_names, chinese_name=applicant.chinese_name,
        sex=applicant.sex, born_on=applicant.born_on, nationality=applicant.nationality,
        residence_country=applicant.residence_country, passport_number="X9876543",
        passport_issued_on=applicant.passport_issued_on, passport_expires_on=applicant.passport_expires_on,
        email=applicant.email, phone=applicant.phone, notes=applicant.notes)
    applicants.update_applicant(applicant, data, version=applicant.version, by=by)


def accept_a_cv(case: Case, by) -> None:  # type: ignore[no-untyped-def]
    upload_and_accept(case, "cv", (("cv.pdf", hostile.pdf(2, text="Curriculum vitae page")),), by)


@pytest.mark.parametrize("change", [change_planned_date, change_passport_number, accept_a_cv],
                         ids=["planned-date", "passport-number", "accepted-document"])
def test_a_change_to_the_case_makes_its_final_stale(make_packet_case, advisor, change):
    case = make_packet_case()
    packet = packets.export_final(case, by=advisor)
    db.session.commit()
    assert not packets.is_stale(packet, case) and codes(case) == []

    change(case, advisor)
    db.session.commit()
    assert packets.is_stale(packet, case)
    assert codes(case) == ["packet_stale"]
    assert codes(case, packets=False) == []  # nothing else is wrong: a new final can be exported
    problem = readiness.problems(case)[0]
    assert problem.endpoint == "packets.index" and "packet 1" in problem.message


def test_readiness_asks_for_a_final_packet_only_for_submitting(make_ready_case, advisor):
    # A final is exported once everything else is fixed: being ready does not need one, submitting does.
    case = make_ready_case(status=CaseStatus.COLLECTING)
    assert packets.latest_final(case) is None
    assert codes(case, submission=True) == ["no_final_packet"]
    assert codes(case) == []
    workflow.move(case, CaseStatus.READY, by=advisor)
    assert case.status == CaseStatus.READY


def test_submitting_needs_a_current_final(make_packet_case, advisor):
    case = make_packet_case(status=CaseStatus.READY)
    with pytest.raises(workflow.Blocked) as blocked:
        workflow.move(case, CaseStatus.SUBMITTED, by=advisor)
    assert [p.code for p in blocked.value.problems] == ["no_final_packet"]

    packets.export_final(case, by=advisor)
    change_planned_date(case, advisor)
    db.session.commit()
    with pytest.raises(workflow.Blocked) as blocked:
        workflow.move(case, CaseStatus.SUBMITTED, by=advisor)
    assert [p.code for p in blocked.value.problems] == ["packet_stale"]
    assert case.status == CaseStatus.READY

    packets.export_final(case, by=advisor)
    workflow.move(case, CaseStatus.SUBMITTED, by=advisor)
    db.session.commit()
    assert db.session.get(Case, case.id).status == CaseStatus.SUBMITTED


def test_the_packets_page_exports_a_final_shows_it_stale_and_downloads_it(client, auth, make_packet_case, advisor):
    case = make_packet_case()
    auth.login(advisor.email)
    response = client.post(f"/cases/{case.id}/packets/final", data={"cover_letter": "Dear Consul"},
                           follow_redirects=True)
    assert response.status_code == 200
    assert b"Final packet 1 exported: 17 pages." in response.data
    packet = packets.latest_final(case)
    assert packet is not None and packet.cover_letter == "Dear Consul"
    page = BeautifulSoup(client.get(f"/cases/{case.id}/packets").data, "html.parser")
    assert [b.get_text() for b in page.select(".badge")] == ["Current"]

    change_passport_number(case, advisor)
    db.session.commit()
    page = BeautifulSoup(client.get(f"/cases/{case.id}/packets").data, "html.parser")
    assert [b.get_text() for b in page.select(".badge")] == ["Stale"]
    assert "it is stale" in page.get_text()
    assert [li["data-code"] for li in page.select("li[data-code]")] == []  # only the packet is behind

    download = client.get(f"/cases/{case.id}/packets/{packet.id}")
    assert download.status_code == 200 and download.mimetype == "application/pdf"
    disposition = download.headers["Content-Disposition"]
    assert disposition.startswith("attachment") and f"{case.reference}-packet-1.pdf" in disposition
    assert download.headers["X-Content-Type-Options"] == "nosniff"
    assert "no-store" in download.headers["Cache-Control"]
    assert download.data == filestore.current().get(packet.storage_key)
    assert hashlib.sha256(download.data).hexdigest() == packet.sha256


def test_a_packet_of_another_advisors_case_is_not_found(client, auth, make_ready_case, advisor, other_advisor):
    mine = make_ready_case()
    theirs = make_ready_case(owner=other_advisor)
    their_packet = packets.export_final(theirs, by=other_advisor)
    db.session.commit()
    auth.login(advisor.email)
    assert client.get(f"/cases/{theirs.id}/packets/{their_packet.id}").status_code == 404
    assert client.get(f"/cases/{mine.id}/packets/{their_packet.id}").status_code == 404
    assert client.get(f"/cases/{theirs.id}/packets").status_code == 404
    assert client.post(f"/cases/{theirs.id}/packets/final", data={}).status_code == 404
    assert packet_count(theirs) == 1 and packet_count(mine) == 0


# 10. Chinese names ------------------------------------------------------------------------------------------

def test_a_chinese_name_is_printed_in_a_cjk_font(make_ready_case, advisor):
    case = make_ready_case()
    case.applicant.chinese_name = CHINESE_NAME
    db.session.commit()
    built = packets.build_packet(case, draft=False)
    texts = packet_pdf.page_texts(built.pdf)
    assert f"OKAFOR, Chidi {CHINESE_NAME}" in texts[0]  # on the cover
    assert f"Chinese name 中文姓名 {CHINESE_NAME}" in texts[2]  # and in the applicant summary
    pdf = open_pdf(built.pdf)
    fonts = set().union(*(font_names(page) for page in list(pdf.pages)[:built.front_pages]))
    assert any("CJK" in name for name in fonts), fonts


@pytest.mark.parametrize("route", ["draft", "final"])
def test_packets_are_built_in_a_read_only_transaction(client, auth, advisor, make_ready_case, monkeypatch, route):
    """On SQLite a normal transaction holds the write lock: rendering a packet inside one would make every
    other writer wait for it."""
    case = make_ready_case()
    modes: list[object] = []
    real_build = packets.build_packet

    def watched(*args, **kwargs):  # type: ignore[no-untyped-def]
        modes.append(db.session().connection().get_execution_options().get(READ_ONLY_OPTION))
        return real_build(*args, **kwargs)

    monkeypatch.setattr(packets, "build_packet", watched)
    auth.login(advisor.email)
    response = client.post(f"/cases/{case.id}/packets/{route}", data={"cover_letter": ""})
    assert response.status_code == (200 if route == "draft" else 302)
    assert modes == [True]
    assert packet_count(case) == (0 if route == "draft" else 1)


# 9. The eligibility page states what the practice asserts ---------------------------------------------------

DOUBTS = re.compile(r"unknown|judge|assumed|reported", re.IGNORECASE)  # the engine's words, not the practice's
REASONING = "Top-50 in physics per the 2026 subject ranking"


@pytest.fixture
def make_settled_case(make_case, advisor, admin):  # type: ignore[no-untyped-def]
    """A ready case (documents waived) whose institution the registry has not judged as renowned, so the
    assessment had an unknown, settled by the advisor's judgement; its other rules are reported or assumed."""
    def make(*, judged=True):  # type: ignore[no-untyped-def]
        institution = institutions.save(None, institutions.InstitutionData(
            name="Institut Obscur", country="CH", aliases=[], rank=None, renowned=None, source=""), by=admin)
        case = make_case(advisor)
        give_degree(case, institution, advisor)
        assessment = assessments.run(case, by=advisor)
        if judged:
            assessments.judge(assessment, "renowned_institution", "pass", REASONING, by=advisor)
        settle_documents(case, advisor)
        db.session.commit()
        return case

    return make


def eligibility_page(built) -> str:  # type: ignore[no-untyped-def]
    """The front page whose text starts with the eligibility heading ("" when there is none)."""
    texts = packet_pdf.page_texts(built.pdf)[:built.front_pages]
    return next((page for page in texts if page.startswith("Eligibility statement")), "")


def test_the_eligibility_page_states_each_criterion_met_and_none_of_the_engines_doubts(make_settled_case):
    case = make_settled_case()
    assessment = assessments.latest(case)
    criteria = assessments.criteria_of(assessment)
    # What the advisor's pages show and the consulate must not read: an unknown, reported and assumed rules.
    assert "unknown" in {c.result for c in criteria} and {"reported", "assumed"} <= {c.status for c in criteria}
    assert any("judge it yourself" in c.reason for c in criteria)
    assert codes(case, packets=False) == []

    built, _ = packets.build_final(case)
    texts = packet_pdf.page_texts(built.pdf)
    assert DOUBTS.findall(" ".join(texts)) == []
    page = eligibility_page(built)
    assert squashed(page).count("Met符合") == len(criteria) == 5 and "Not met" not in page
    born, on = case.applicant.born_on, assessment.assessed_on
    expected = [
        f"Born on {born.isoformat()}, the applicant is aged {engine.age_on(born, on)} on {on.isoformat()}, within "
        "the age window of 18 to 45.",
        "Master in Physics at Institut Obscur, awarded on 2015-06-30: at or above a bachelor's degree.",
        "Physics (0533) is a field of science, technology, engineering or mathematics.",
        f"Master in Physics at Institut Obscur Reasoning: {REASONING}",  # the judgement, as the reasoning
        "The K visa needs no employer or inviting entity.",
        f"meets every criterion of the K visa for young foreign science and technology talent on the date of "
        f"application, {on.isoformat()}.",
    ]
    for sentence in expected:
        assert squashed(sentence) in squashed(page), sentence


def test_the_eligibility_page_names_the_exhibits_each_criterion_rests_on(make_packet_case):
    case = make_packet_case()
    built = packets.build_packet(case, draft=False)
    numbers = {item.exhibit.code: item.number for item in built.placed}
    page = squashed(eligibility_page(built))
    # Each row reads criterion, "Met", statement, exhibits: the exhibit numbers follow the statement.
    assert f"withintheagewindowof18to45.{numbers['passport']}Degree" in page
    assert f"engineeringormathematics.{numbers['degree_certificate']}Renowned" in page
    assert "invitingentity.—" in page  # no document proves it


def test_a_draft_of_an_unsettled_case_says_so_without_the_engines_doubts(make_settled_case):
    case = make_settled_case(judged=False)
    assert "needs_review" in codes(case, packets=False)
    built = packets.build_packet(case, draft=True)
    page = eligibility_page(built)
    assert "Not settled yet" in page and "Not every criterion is met yet" in page
    assert DOUBTS.findall(" ".join(packet_pdf.page_texts(built.pdf))) == []


def test_the_advisor_may_leave_the_eligibility_page_out(client, auth, make_ready_case, advisor):
    case = make_ready_case()
    auth.login(advisor.email)
    response = client.post(f"/cases/{case.id}/packets/final", data={"leave_out_eligibility": "y"},
                           follow_redirects=True)
    assert response.status_code == 200 and b"Final packet 1 exported: 3 pages." in response.data
    without = packets.latest_final(case)
    assert without.manifest["eligibility_page"] is False and without.manifest["front_pages"] == 3
    pdf = client.get(f"/cases/{case.id}/packets/{without.id}")
    assert pdf.status_code == 200 and pdf.mimetype == "application/pdf"
    texts = packet_pdf.page_texts(pdf.data)
    assert len(texts) == 3 and not any("Eligibility statement" in text for text in texts)
    with open_pdf(pdf.data).open_outline() as outline:
        assert [child.title for child in list(outline.root)[0].children] == [
            "Visa application packet 签证申请材料", "Exhibit index 材料目录", "Applicant 申请人信息"]

    draft = client.post(f"/cases/{case.id}/packets/draft", data={"leave_out_eligibility": "y"})
    assert draft.status_code == 200 and draft.mimetype == "application/pdf"
    assert not any("Eligibility statement" in text for text in packet_pdf.page_texts(draft.data))

    # Unticked, the page is in, and the manifest says so.
    client.post(f"/cases/{case.id}/packets/final", data={})
    with_page = packets.latest_final(case)
    assert with_page.number == 2 and with_page.manifest["eligibility_page"] is True
    assert any(text.startswith("Eligibility statement")
               for text in packet_pdf.page_texts(filestore.current().get(with_page.storage_key)))
    page = BeautifulSoup(client.get(f"/cases/{case.id}/packets").data, "html.parser")
    assert page.select_one("input[type=checkbox][name=leave_out_eligibility]") is not None
