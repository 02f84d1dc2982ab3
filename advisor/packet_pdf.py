"""Building the packet PDF: front matter by WeasyPrint, exhibits concatenated by pikepdf, every page stamped.

No Flask and no database here: `build` takes the front matter as a function that renders HTML for a given
placement of the exhibits, and the exhibits as packet-ready PDFs made at upload time, so scans are never
re-encoded. The index's page numbers come from the real page counts: the front matter is rendered, its
pages counted, and rendered again only in the rare case the count differs from the estimate (an index
running onto a second page), so the numbers printed always equal the pages that follow.

WeasyPrint fetches nothing: the stylesheet is passed as a string, fonts come from the system, and the URL
fetcher refuses every URL (file:, http(s):, data:, anything), which makes user text that smuggles in
`<img src=file:///etc/passwd>` or `@import url(http://…)` inert even if escaping ever failed.
"""
from __future__ import annotations

import datetime as dt
import hashlib
import io
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import pikepdf
from pikepdf import Dictionary, Name

logger = logging.getLogger(__name__)

STAMP_SIZE = 7.5  # points: small, but legible on print
STAMP_MARGIN = 10.0
DRAFT_TEXT = "DRAFT \u2014 not for submission"


class PacketError(RuntimeError):
    """The packet could not be built; the message says why in plain words."""


@dataclass(frozen=True)
class Exhibit:
    title: str
    title_zh: str
    code: str
    pdfs: tuple[bytes, ...]  # packet-ready PDF of each file, in order
    page_counts: tuple[int, ...]
    files: tuple[dict[str, Any], ...] = ()  # manifest entries: file id, name, sha256, revision

    @property
    def pages(self) -> int:
        return sum(self.page_counts)


@dataclass(frozen=True)
class Placed:
    number: int  # exhibit number, from 1
    exhibit: Exhibit
    first: int  # 1-based packet page
    last: int


@dataclass
class Built:
    pdf: bytes
    page_count: int
    front_pages: int
    placed: list[Placed]
    sha256: str = ""
    refused_urls: list[str] = field(default_factory=list)

    def manifest(self) -> dict[str, Any]:
        return {"front_pages": self.front_pages, "pages": self.page_count, "exhibits": [
            {"number": p.number, "code": p.exhibit.code, "title": p.exhibit.title, "first_page": p.first,
             "last_page": p.last, "files": list(p.exhibit.files)} for p in self.placed]}


def place(exhibits: Sequence[Exhibit], front_pages: int) -> list[Placed]:
    placed, page = [], front_pages + 1
    for number, exhibit in enumerate(exhibits, start=1):
        placed.append(Placed(number, exhibit, page, page + exhibit.pages - 1))
        page += exhibit.pages
    return placed


# Front matter ---------------------------------------------------------------------------------------

def _fetcher_class() -> type:
    from weasyprint.urls import URLFetcher, URLFetchingError

    class RefusingFetcher(URLFetcher):  # type: ignore[misc]
        """Fetches nothing at all, and remembers what it was asked for (tests read it)."""

        def __init__(self) -> None:
            super().__init__(allowed_protocols=(), allow_redirects=False)
            self.refused: list[str] = []

        def fetch(self, url: str, headers: Any = None) -> Any:
            self.refused.append(url)
            raise URLFetchingError(f"the packet loads no external resource ({url[:80]})")

    return RefusingFetcher


def check_renderer(log: logging.Logger) -> None:
    """Say at start-up, loudly, what would make packets fail or crawl: no Pango, or no HarfBuzz subsetter."""
    try:
        subsetting = harfbuzz_subsetting()
    except OSError as missing:
        log.error("Packets cannot be exported: WeasyPrint cannot load Pango (%s). Install libpango-1.0-0 and "
                  "libpangoft2-1.0-0 (`make run` does).", missing)
        return
    if not subsetting:
        log.warning("libharfbuzz-subset0 is missing: WeasyPrint subsets fonts with fontTools instead, several "
                    "times slower with the CJK font (a packet's front matter 1.7 s instead of 0.1 s). Install it.")


def harfbuzz_subsetting() -> bool:
    """Whether WeasyPrint subsets fonts with HarfBuzz (fast) rather than fontTools (slow with CJK fonts)."""
    from weasyprint.text import ffi

    return getattr(ffi, "harfbuzz_subset", None) is not None


def render_front(html_for: Callable[[list[Placed], int], str], css: str, exhibits: Sequence[Exhibit], *,
                 estimate: int) -> tuple[bytes, list[Placed], int, list[tuple[str, int]], list[str]]:
    """Render the front matter until the page count it was numbered with is the count it has.

    Returns the PDF, the placement, the front page count, the bookmarks (label, 0-based page) and the
    URLs the fetcher refused."""
    from weasyprint import CSS, HTML

    fetcher = _fetcher_class()()
    stylesheet = CSS(string=css, url_fetcher=fetcher)
    front_pages = estimate
    for _ in range(4):
        placed = place(exhibits, front_pages)
        document = HTML(string=html_for(placed, front_pages), url_fetcher=fetcher, base_url=None).render(
            stylesheets=[stylesheet])
        if len(document.pages) == front_pages:
            marks = [(label, target[0]) for label, target, _children, _state in document.make_bookmark_tree()]
            return document.write_pdf(), placed, front_pages, marks, fetcher.refused
        front_pages = len(document.pages)
    raise PacketError("The front matter's length did not settle; shorten the cover letter and try again.")


# Stamps ---------------------------------------------------------------------------------------------

def _pdf_text(text: str) -> bytes:
    """A PDF literal string in WinAnsi (Helvetica's standard encoding)."""
    raw = text.encode("cp1252", errors="replace")
    return b"(" + raw.replace(b"\\", b"\\\\").replace(b"(", b"\\(").replace(b")", b"\\)") + b")"


def _visible_box(page: pikepdf.Page) -> tuple[float, float, float, float]:
    box = page.obj.get("/CropBox", page.mediabox)
    x0, y0, x1, y1 = (float(v) for v in box)
    return min(x0, x1), min(y0, y1), max(x0, x1), max(y0, y1)


def _to_visible(page: pikepdf.Page) -> tuple[str, float, float]:
    """A `cm` operator mapping coordinates from the page's visible bottom-left (as displayed, after
    /Rotate) into user space, and the visible width and height."""
    x0, y0, x1, y1 = _visible_box(page)
    rotate = int(page.obj.get("/Rotate", 0)) % 360
    width, height = x1 - x0, y1 - y0
    matrices = {0: (1, 0, 0, 1, x0, y0), 90: (0, 1, -1, 0, x1, y0), 180: (-1, 0, 0, -1, x1, y1),
                270: (0, -1, 1, 0, x0, y1)}
    matrix = matrices.get(rotate, matrices[0])
    visible = (height, width) if rotate in (90, 270) else (width, height)
    return " ".join(f"{v:.3f}".rstrip("0").rstrip(".") for v in matrix) + " cm", visible[0], visible[1]


def _text_width(text: str, size: float) -> float:
    # Helvetica averages about 0.55 em; the white box behind the text is sized generously from it.
    return len(text) * size * 0.56


def stamp_page(pdf: pikepdf.Pdf, page: pikepdf.Page, text: str, font: pikepdf.Object,
               watermark: pikepdf.Object | None) -> None:
    """Draw `text` in a white box at the bottom left of what is displayed, and the draft watermark across
    the page. The page's own drawing is wrapped in q/Q so its state cannot shift the stamp."""
    font_name = page.add_resource(font, Name.Font, prefix="AdvStamp")
    cm, width, height = _to_visible(page)
    box_width = min(_text_width(text, STAMP_SIZE) + 8, width - 2 * STAMP_MARGIN)
    ops = [b"q", cm.encode(),
           f"1 1 1 rg {STAMP_MARGIN - 4:.1f} {STAMP_MARGIN - 3:.1f} {box_width:.1f} {STAMP_SIZE + 6:.1f} re f".encode(),
           b"0.15 0.15 0.2 rg BT", f"{font_name} {STAMP_SIZE} Tf {STAMP_MARGIN:.1f} {STAMP_MARGIN:.1f} Td".encode(),
           _pdf_text(text) + b" Tj ET"]
    if watermark is not None:
        state_name = page.add_resource(watermark, Name.ExtGState, prefix="AdvDraft")
        size = min(width, height) / 11
        ops += [f"{state_name} gs 0.75 0.1 0.1 rg BT {font_name} {size:.1f} Tf".encode(),
                f"0.7071 0.7071 -0.7071 0.7071 {width * 0.16:.1f} {height * 0.22:.1f} Tm".encode(),
                _pdf_text(DRAFT_TEXT) + b" Tj ET"]
    ops.append(b"Q")
    page.contents_add(pikepdf.Stream(pdf, b"q\n"), prepend=True)
    page.contents_add(pikepdf.Stream(pdf, b"Q\n" + b"\n".join(ops) + b"\n"))


def stamp_text(reference: str, where: str, page: int, of: int, packet_page: int, total: int) -> str:
    return f"{reference} \u00b7 {where} \u00b7 p. {page}/{of} \u00b7 packet p. {packet_page}/{total}"


# Assembly -------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Meta:
    reference: str
    title: str
    author: str
    subject: str
    created_at: dt.datetime
    draft: bool


def build(html_for: Callable[[list[Placed], int], str], css: str, exhibits: Sequence[Exhibit], meta: Meta, *,
          estimate: int = 4, progress: Callable[..., None] = lambda step, **extra: None) -> Built:
    """The whole packet: front matter, exhibits in order, stamps on every page, bookmarks, metadata."""
    progress("Rendering the front matter")
    front, placed, front_pages, marks, refused = render_front(html_for, css, exhibits, estimate=estimate)
    total = front_pages + sum(e.pages for e in exhibits)
    progress(f"Assembling and stamping {total} pages")
    sources: list[pikepdf.Pdf] = []
    try:
        out = pikepdf.open(io.BytesIO(front))
        for exhibit in exhibits:
            for data in exhibit.pdfs:
                source = pikepdf.open(io.BytesIO(data))
                sources.append(source)  # must stay open until the output is saved
                out.pages.extend(source.pages)
        if len(out.pages) != total:
            raise PacketError(f"The packet has {len(out.pages)} pages where {total} were counted.")
        font = out.make_indirect(Dictionary(Type=Name.Font, Subtype=Name.Type1, BaseFont=Name.Helvetica,
                                            Encoding=Name.WinAnsiEncoding))
        watermark = out.make_indirect(Dictionary(Type=Name.ExtGState, ca=0.22, CA=0.22)) if meta.draft else None
        for index in range(front_pages):
            stamp_page(out, out.pages[index], stamp_text(meta.reference, "Front matter", index + 1, front_pages,
                                                         index + 1, total), font, watermark)
        for item in placed:
            for offset in range(item.exhibit.pages):
                packet_page = item.first + offset
                stamp_page(out, out.pages[packet_page - 1], stamp_text(
                    meta.reference, f"Exhibit {item.number}", offset + 1, item.exhibit.pages, packet_page, total),
                    font, watermark)
        _outline(out, marks, placed)
        _metadata(out, meta)
        buffer = io.BytesIO()
        out.save(buffer, compress_streams=True, object_stream_mode=pikepdf.ObjectStreamMode.generate,
                 deterministic_id=True)
    finally:
        for source in sources:
            source.close()
    data = buffer.getvalue()
    return Built(pdf=data, page_count=total, front_pages=front_pages, placed=placed,
                 sha256=hashlib.sha256(data).hexdigest(), refused_urls=refused)


def _outline(out: pikepdf.Pdf, marks: list[tuple[str, int]], placed: list[Placed]) -> None:
    with out.open_outline() as outline:
        outline.root.clear()
        front = pikepdf.OutlineItem("Front matter", 0)
        front.children.extend(pikepdf.OutlineItem(label, page) for label, page in marks)
        outline.root.append(front)
        for item in placed:
            title = f"Exhibit {item.number}: {item.exhibit.title}"
            outline.root.append(pikepdf.OutlineItem(title, item.first - 1))
    out.Root.PageMode = Name.UseOutlines


def _metadata(out: pikepdf.Pdf, meta: Meta) -> None:
    title = f"{meta.title}{' (draft)' if meta.draft else ''}"
    with out.open_metadata(set_pikepdf_as_editor=False) as xmp:
        xmp["dc:title"] = title
        xmp["dc:creator"] = [meta.author]
        xmp["dc:description"] = meta.subject
        xmp["xmp:CreateDate"] = meta.created_at.isoformat()
        xmp["pdf:Producer"] = "Advisor"
    out.docinfo[Name.Title] = title
    out.docinfo[Name.Author] = meta.author
    out.docinfo[Name.Subject] = meta.subject
    out.docinfo[Name.Keywords] = f"{meta.reference}, K visa"


def page_texts(data: bytes) -> list[str]:
    """The text of every page (pypdfium2), for checks after rendering and for tests."""
    import pypdfium2 as pdfium

    document = pdfium.PdfDocument(data)
    try:
        texts = []
        for page in document:
            textpage = page.get_textpage()
            texts.append(textpage.get_text_range())
            textpage.close()
            page.close()
        return texts
    finally:
        document.close()


__all__ = ["Built", "Exhibit", "Meta", "PacketError", "Placed", "build", "harfbuzz_subsetting",
           "page_texts", "place", "stamp_text"]
