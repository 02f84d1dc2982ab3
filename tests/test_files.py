"""Upload checks and conversions: every hostile file is refused with its own plain message, good files are
described correctly, packet pages keep JPEG bytes and drop what a PDF must not carry into a packet,
thumbnails fit their box, and original file names come back harmless. No app or database needed."""
from __future__ import annotations

import hashlib
import io
import re
import unicodedata

import pikepdf
import pypdfium2 as pdfium
import pytest
from hypothesis import given
from hypothesis import strategies as st
from PIL import Image, ImageOps

from advisor import files, packet_pdf
from advisor.files import Rejected

from . import hostile

MB = 1024 * 1024

EMPTY = r"^The file is empty\.$"
TOO_BIG = r"larger than the 25 MB limit"
ACCEPTED_TYPES = r"^Only PDF, JPEG and PNG files are accepted"
DAMAGED_PDF = r"^This PDF is damaged or incomplete"
ENCRYPTED = r"password-protected \(encrypted\).*unprotected copy"
SCRIPTS = r"contains scripts"
TOO_LARGE_IMAGE = r"too large: 900 megapixels, the limit is 60 megapixels"
DAMAGED_JPEG = r"^This JPEG image is damaged or incomplete"
DAMAGED_PNG = r"^This PNG image is damaged or incomplete"
HIDDEN = r"contains another file hidden inside it"

REFUSED = [
    pytest.param(hostile.empty, EMPTY, id="empty"),
    pytest.param(lambda: hostile.oversize(25 * MB), TOO_BIG, id="oversize"),
    pytest.param(hostile.renamed_zip, ACCEPTED_TYPES + r".*looks like a ZIP archive", id="zip"),
    pytest.param(hostile.renamed_docx, ACCEPTED_TYPES + r".*Office document", id="docx"),
    pytest.param(hostile.renamed_html, ACCEPTED_TYPES + r".*looks like a web page", id="html"),
    pytest.param(hostile.renamed_gif, ACCEPTED_TYPES + r".*looks like a GIF image", id="gif"),
    pytest.param(hostile.renamed_tiff, ACCEPTED_TYPES + r".*looks like a TIFF image", id="tiff"),
    pytest.param(hostile.renamed_heic, ACCEPTED_TYPES + r".*looks like an iPhone \(HEIC\) photo", id="heic"),
    pytest.param(hostile.renamed_text, ACCEPTED_TYPES + r", and this file is none of them", id="text"),
    pytest.param(hostile.truncated_pdf, DAMAGED_PDF, id="truncated-pdf"),
    pytest.param(hostile.garbage_pdf, DAMAGED_PDF, id="garbage-pdf"),
    pytest.param(hostile.pdf_missing_page, DAMAGED_PDF, id="pdf-missing-page"),
    pytest.param(hostile.pageless_pdf, DAMAGED_PDF, id="pageless-pdf"),
    pytest.param(hostile.encrypted_pdf, ENCRYPTED, id="encrypted-pdf"),
    pytest.param(hostile.owner_only_encrypted_pdf, ENCRYPTED, id="owner-only-encrypted-pdf"),
    pytest.param(hostile.javascript_pdf, SCRIPTS, id="javascript-open-action"),
    pytest.param(hostile.launch_pdf, SCRIPTS, id="launch-action"),
    pytest.param(hostile.javascript_names_pdf, SCRIPTS, id="javascript-names-tree"),
    pytest.param(hostile.javascript_annotation_pdf, SCRIPTS, id="javascript-annotation"),
    pytest.param(hostile.loaded_pdf, SCRIPTS, id="loaded-pdf"),
    pytest.param(hostile.png_bomb, TOO_LARGE_IMAGE, id="png-bomb"),
    pytest.param(hostile.truncated_jpeg, DAMAGED_JPEG, id="truncated-jpeg"),
    pytest.param(hostile.truncated_png, DAMAGED_PNG, id="truncated-png"),
    pytest.param(hostile.corrupt_png, DAMAGED_PNG, id="corrupt-png"),
    pytest.param(hostile.jpeg_pdf_polyglot, HIDDEN, id="jpeg-pdf-polyglot"),
    pytest.param(hostile.jpeg_zip_polyglot, HIDDEN, id="jpeg-zip-polyglot"),
    pytest.param(hostile.png_zip_polyglot, HIDDEN, id="png-zip-polyglot"),
    pytest.param(hostile.png_pdf_polyglot, HIDDEN, id="png-pdf-polyglot"),
    pytest.param(hostile.pdf_zip_polyglot, HIDDEN, id="pdf-zip-polyglot"),
    pytest.param(hostile.pdf_html_polyglot, HIDDEN, id="pdf-html-polyglot"),
]

# Words that would mean a library's message, not ours, reached the user.
JARGON = ("pikepdf", "qpdf", "PIL", "Pillow", "pdfium", "Error", "errno", "xref", "trailer", "stream", "<", "0x")


@pytest.mark.parametrize(("make", "message"), REFUSED)
def test_refuses_hostile_file_with_its_own_plain_message(make, message):
    with pytest.raises(Rejected, match=message) as refused:
        files.inspect(make())
    text = str(refused.value)
    assert text.endswith(".")
    assert not [word for word in JARGON if word in text]


def test_each_kind_of_refusal_reads_differently():
    one_of_each_kind = [hostile.empty, lambda: hostile.oversize(25 * MB), hostile.renamed_text,
                        hostile.truncated_pdf, hostile.encrypted_pdf, hostile.javascript_pdf, hostile.png_bomb,
                        hostile.truncated_jpeg, hostile.truncated_png, hostile.pdf_zip_polyglot]
    messages = set()
    for make in one_of_each_kind:
        with pytest.raises(Rejected) as refused:
            files.inspect(make())
        messages.add(str(refused.value))
    assert len(messages) == len(one_of_each_kind)


def test_rejected_is_a_value_error():
    assert issubclass(Rejected, ValueError)


def test_bomb_is_refused_from_its_header_without_pillow(monkeypatch):
    def must_not_open(*args, **kwargs):
        raise AssertionError("the bomb reached Pillow")

    monkeypatch.setattr(files.Image, "open", must_not_open)
    with pytest.raises(Rejected, match=TOO_LARGE_IMAGE):
        files.inspect(hostile.png_bomb())


def test_pixel_limit_is_configurable_and_named_in_the_message():
    with pytest.raises(Rejected, match=r"too large: 3 megapixels, the limit is 2\.5 megapixels"):
        files.inspect(hostile.png(2000, 1500), max_pixels=2_500_000)
    assert files.inspect(hostile.png(2000, 1500), max_pixels=3_000_000).width == 2000


def test_pixel_limit_never_exceeds_pillows_own():
    # Past Pillow's threshold it would warn (an error under this suite) or refuse in words of its own.
    limit = files._megapixels(Image.MAX_IMAGE_PIXELS)
    with pytest.raises(Rejected, match=rf"the limit is {re.escape(limit)} megapixels"):
        files.inspect(hostile.png_bomb(), max_pixels=10**12)


def test_page_limit():
    with pytest.raises(Rejected, match=r"^This PDF has 4 pages; the limit is 3\."):
        files.inspect(hostile.pdf(pages=4), max_pages=3)
    assert files.inspect(hostile.pdf(pages=3), max_pages=3).page_count == 3


def test_size_limit_is_inclusive():
    limit = MB
    at_limit = hostile.oversize(limit)[:-1]
    assert files.inspect(at_limit, max_bytes=limit).size == limit
    with pytest.raises(Rejected, match=r"larger than the 1 MB limit"):
        files.inspect(at_limit + b"\n", max_bytes=limit)


@pytest.mark.parametrize(("make", "kind", "content_type", "pages", "width", "height"), [
    pytest.param(lambda: hostile.pdf(), "pdf", "application/pdf", 1, None, None, id="pdf"),
    pytest.param(lambda: hostile.pdf(pages=7), "pdf", "application/pdf", 7, None, None, id="pdf-7-pages"),
    pytest.param(lambda: hostile.jpeg(64, 48), "jpeg", "image/jpeg", 1, 64, 48, id="jpeg"),
    pytest.param(lambda: hostile.jpeg(64, 48, exif_orientation=6), "jpeg", "image/jpeg", 1, 64, 48,
                 id="jpeg-sideways"),
    pytest.param(lambda: hostile.png(33, 21), "png", "image/png", 1, 33, 21, id="png"),
    pytest.param(lambda: hostile.png(33, 21, alpha=True), "png", "image/png", 1, 33, 21, id="png-alpha"),
])
def test_accepts_good_files(make, kind, content_type, pages, width, height):
    data = make()
    inspected = files.inspect(data)
    assert inspected == files.Inspected(kind=kind, content_type=content_type, size=len(data),
                                        sha256=hashlib.sha256(data).hexdigest(), page_count=pages,
                                        width=width, height=height)


def _encoded(image: Image.Image, kind: str, **options) -> bytes:
    out = io.BytesIO()
    image.save(out, format=kind, **options)
    return out.getvalue()


@pytest.mark.parametrize("data", [
    pytest.param(_encoded(Image.new("I;16", (40, 30), 1000), "PNG"), id="png-16-bit-gray"),
    pytest.param(_encoded(Image.new("I;16", (40, 30), 1000), "PNG", transparency=1000), id="png-16-bit-trns"),
    pytest.param(_encoded(Image.new("LA", (40, 30), (100, 50)), "PNG"), id="png-gray-alpha"),
    pytest.param(_encoded(Image.new("1", (40, 30), 1), "PNG"), id="png-1-bit"),
    pytest.param(_encoded(Image.new("P", (40, 30), 3), "PNG", transparency=3), id="png-palette-trns"),
    pytest.param(_encoded(Image.new("RGB", (40, 30), (1, 2, 3)), "PNG", transparency=(1, 2, 3)), id="png-rgb-trns"),
    pytest.param(_encoded(Image.new("CMYK", (40, 30), (10, 20, 30, 40)), "JPEG"), id="jpeg-cmyk"),
    pytest.param(_encoded(Image.new("L", (40, 30), 100), "JPEG"), id="jpeg-gray"),
    pytest.param(_encoded(Image.new("RGB", (300, 200), (100, 20, 30)), "JPEG", progressive=True),
                 id="jpeg-progressive"),
])
def test_unusual_image_modes_go_all_the_way_through(data):
    inspected = files.inspect(data)
    assert files.inspect(files.packet_pages(data, inspected)).page_count == 1
    with Image.open(io.BytesIO(files.thumbnail(data, inspected))) as thumb:
        assert thumb.size == (inspected.width, inspected.height)


@pytest.mark.parametrize("data", [
    pytest.param(hostile.pdf() + b"\r\n\x00\x00 \n", id="pdf-trailing-padding"),
    pytest.param(hostile.jpeg() + b"\x00\xff\xff\n", id="jpeg-trailing-padding"),
    # Phones store depth maps and HDR gain maps as further JPEGs after the first: still one photo.
    pytest.param(hostile.jpeg() + hostile.jpeg(16, 16), id="jpeg-with-appended-jpeg"),
    pytest.param(hostile.jpeg() + b"\xff\xff" + hostile.jpeg(16, 16), id="jpeg-padded-appended-jpeg"),
])
def test_accepts_padding_and_appended_images(data):
    files.inspect(data)


@pytest.mark.parametrize("data", [
    pytest.param(hostile.jpeg() + hostile.jpeg()[:-2], id="jpeg-with-truncated-appended-jpeg"),
    pytest.param(hostile.jpeg() + b"\xff\xd9PK\x05\x06", id="jpeg-end-marker-then-zip"),
    pytest.param(hostile.png() + b"\x00", id="png-any-byte-after-iend"),
])
def test_refuses_anything_else_after_the_image(data):
    with pytest.raises(Rejected, match=HIDDEN):
        files.inspect(data)


@pytest.mark.parametrize(("head", "kind"), [
    (b"%PDF-1.7\n", "pdf"),
    (b"\xff\xd8\xff\xe0", "jpeg"),
    (b"\x89PNG\r\n\x1a\n", "png"),
    (b" %PDF-1.7", None),
    (b"\x89PNG", None),
    (b"GIF89a", None),
    (b"", None),
])
def test_sniff_reads_magic_bytes_at_offset_zero(head, kind):
    assert files.sniff(head) == kind


# --- packet pages -------------------------------------------------------------------------------------------

def _packet(data: bytes) -> pikepdf.Pdf:
    return pikepdf.open(io.BytesIO(files.packet_pages(data, files.inspect(data))))


def _images(page: pikepdf.Page) -> list[pikepdf.Stream]:
    return [x for x in page.Resources.XObject.values() if x.Subtype == pikepdf.Name.Image]


def test_jpeg_bytes_are_embedded_untouched():
    data = hostile.jpeg(300, 200, exif_orientation=6)
    with _packet(data) as pdf:
        [image] = _images(pdf.pages[0])
        assert image.Filter == pikepdf.Name.DCTDecode
        assert image.read_raw_bytes() == data


@pytest.mark.parametrize("orientation", [None, *range(1, 9)])
def test_the_page_is_laid_out_as_the_upright_photo_is(orientation):
    # No /Rotate (it cannot mirror): the page itself is portrait or landscape as the upright photo is, so a
    # sideways portrait shows as a full portrait A4 page.
    with _packet(hostile.jpeg(200, 100, exif_orientation=orientation)) as pdf:
        page = pdf.pages[0]
        assert "/Rotate" not in page.obj
        width, height = float(page.mediabox[2]), float(page.mediabox[3])
        assert (height > width) == (orientation in (5, 6, 7, 8))
        assert sorted([round(width), round(height)]) == [595, 842]


def _rendered(pdf_bytes: bytes, scale: float = 0.5) -> Image.Image:
    document = pdfium.PdfDocument(pdf_bytes)
    try:
        page = document[0]
        bitmap = page.render(scale=scale)
        image = bitmap.to_pil().convert("RGB")
        bitmap.close()
        page.close()
        return image
    finally:
        document.close()


@pytest.mark.parametrize("size", [(120, 80), (80, 120)], ids=["landscape", "portrait"])
@pytest.mark.parametrize("orientation", range(1, 9))
def test_packet_page_and_preview_show_every_orientation_upright(orientation, size):
    # 2, 4, 5 and 7 mirror: some phone front cameras and scanner apps write them.
    data = hostile.quadrants_jpeg(*size, exif_orientation=orientation)
    inspected = files.inspect(data)
    pages = files.packet_pages(data, inspected)
    with pikepdf.open(io.BytesIO(pages)) as pdf:
        [image] = _images(pdf.pages[0])
        assert image.Filter == pikepdf.Name.DCTDecode and image.read_raw_bytes() == data  # never re-encoded
    with Image.open(io.BytesIO(data)) as original:
        upright, ratio = hostile.quadrants(ImageOps.exif_transpose(original))
    with Image.open(io.BytesIO(files.thumbnail(data, inspected))) as preview:
        assert hostile.quadrants(preview)[0] == upright
    printed, printed_ratio = hostile.quadrants(_rendered(pages))
    assert printed == upright
    assert abs(printed_ratio - ratio) < 0.05
    if orientation == 1:
        assert upright == [0, 1, 2, 3]


@pytest.mark.parametrize("alpha", [False, True], ids=["opaque", "transparent"])
def test_a_png_with_an_exif_orientation_is_upright_too(alpha):
    # A transparent PNG is redrawn on white already turned; an opaque one is drawn through the matrix.
    with Image.open(io.BytesIO(hostile.quadrants_jpeg(80, 120))) as picture:
        image = picture.convert("RGBA") if alpha else picture.copy()
    if alpha:
        image.putpixel((0, 0), (0, 0, 0, 0))
    exif = Image.Exif()
    exif[0x0112] = 7
    out = io.BytesIO()
    image.save(out, format="PNG", exif=exif)
    data = out.getvalue()
    inspected = files.inspect(data)
    with Image.open(io.BytesIO(data)) as original:
        upright, _ = hostile.quadrants(ImageOps.exif_transpose(original).convert("RGB"))
    assert upright == [3, 1, 2, 0]
    with Image.open(io.BytesIO(files.thumbnail(data, inspected))) as preview:
        assert hostile.quadrants(preview)[0] == upright
    assert hostile.quadrants(_rendered(files.packet_pages(data, inspected)))[0] == upright


PHOTO_SIZE = (33, 48)


@pytest.mark.parametrize(("pixels", "orientation", "printed"), [
    pytest.param((330, 480), None, (33, 48), id="photo-of-the-required-shape"),
    pytest.param((354, 472), None, (33, 44), id="3-by-4-photo-fitted-inside"),
    pytest.param((480, 330), 6, (33, 48), id="stored-sideways"),
    pytest.param((1200, 1745), 2, (33, 48), id="large-and-mirrored"),
])
def test_a_photo_requirement_is_printed_at_its_real_size_with_a_caption(pixels, orientation, printed):
    data = hostile.quadrants_jpeg(*pixels, exif_orientation=orientation)
    inspected = files.inspect(data)
    pages = files.packet_pages(data, inspected, print_size_mm=PHOTO_SIZE)
    with pikepdf.open(io.BytesIO(pages)) as pdf:
        page = pdf.pages[0]
        assert [round(float(v)) for v in page.mediabox] == [0, 0, 595, 842]  # portrait A4, not blown up
        assert "/Rotate" not in page.obj
        [image] = _images(page)
        assert image.read_raw_bytes() == data
    # Measured on the page as pdfium draws it at 10 px/mm: the photo's size, centred on the page.
    scale = 10 / files.image_pages.MM
    rendered = _rendered(pages, scale=scale)
    left, top, right, bottom = hostile.picture_box(rendered)
    assert abs((right - left) / 10 - printed[0]) < 0.2 and abs((bottom - top) / 10 - printed[1]) < 0.2
    assert abs((left + right) / 2 - rendered.width / 2) < 5 and abs((top + bottom) / 2 - rendered.height / 2) < 5
    with Image.open(io.BytesIO(data)) as original:
        assert hostile.quadrants(rendered)[0] == hostile.quadrants(ImageOps.exif_transpose(original))[0]
    [caption] = packet_pdf.page_texts(pages)
    size = f"{printed[0]} × {printed[1]} mm"
    if printed == PHOTO_SIZE:
        assert caption == f"Printed at actual size: {size} (width × height)."
    else:
        assert caption == f"Printed at actual size: {size} (width × height), within the required 33 × 48 mm."


def test_transparent_png_is_flattened_onto_white():
    with _packet(hostile.png(40, 20, alpha=True)) as pdf:
        [image] = _images(pdf.pages[0])
        assert "/SMask" not in image
        pixels = pikepdf.PdfImage(image).as_pil_image().convert("RGB")
        assert pixels.getpixel((5, 10)) == (255, 255, 255)
        assert pixels.getpixel((35, 10)) == (40, 90, 160)


def test_image_page_fits_a4():
    with _packet(hostile.png(1000, 200)) as pdf:
        assert len(pdf.pages) == 1
        assert [round(float(v)) for v in pdf.pages[0].mediabox] == [0, 0, 842, 595]


@pytest.mark.parametrize("pages", [1, 5])
def test_pdf_keeps_its_pages(pages):
    with _packet(hostile.pdf(pages=pages)) as pdf:
        assert len(pdf.pages) == pages


def test_pdf_loses_scripts_annotations_forms_outlines_and_attachments():
    data = hostile.loaded_pdf()
    # inspect refuses this file; packet_pages strips it anyway in case a caller skips the check.
    described = files.Inspected("pdf", "application/pdf", len(data), hashlib.sha256(data).hexdigest(), 2, None, None)
    out = files.packet_pages(data, described)
    with pikepdf.open(io.BytesIO(out)) as pdf:
        assert len(pdf.pages) == 2
        assert not set(pdf.Root.keys()) & {"/OpenAction", "/AA", "/AcroForm", "/Names", "/Outlines"}
        assert all(not set(page.obj.keys()) & {"/Annots", "/AA"} for page in pdf.pages)
        assert len(pdf.attachments) == 0
    assert b"/ObjStm" not in out  # so the byte checks below see every object
    for marker in (b"/JavaScript", b"/JS", b"/Launch", b"/EmbeddedFile", b"/EF", b"must not reach the packet"):
        assert marker not in out
    assert files.inspect(out).page_count == 2


def _annotation_area(pdf_bytes: bytes) -> list[tuple[int, int, int]]:
    """The pixels of hostile.ANNOTATION_RECT as pdfium draws the page at 1 px/pt."""
    image = _rendered(pdf_bytes, scale=1)
    x0, y0, x1, y1 = hostile.ANNOTATION_RECT
    return [image.getpixel((x, image.height - y)) for x in range(x0 + 2, x1 - 2, 4) for y in range(y0 + 2, y1 - 2, 4)]


# Whether an annotation is on the page a packet prints, as a printer decides it: marked Print and not Hidden.
@pytest.mark.parametrize(("kind", "printed"), [
    ("highlight", True), ("ink", True), ("stamp", True), ("signature", True),
    ("print-only", True),  # NoView: kept off the screen, meant for paper
    ("hidden", False), ("screen-only", False),
    ("link", False),  # a place to click: its border and appearance are not content
])
def test_what_annotations_print_is_drawn_into_the_page(kind, printed):
    data = hostile.annotated_pdf(kind)
    pages = files.packet_pages(data, files.inspect(data))
    with pikepdf.open(io.BytesIO(pages)) as pdf:
        assert "/Annots" not in pdf.pages[0].obj and "/AcroForm" not in pdf.Root
    [text] = packet_pdf.page_texts(pages)
    area = _annotation_area(pages)
    colour = (255, 255, 0) if kind == "highlight" else (51, 77, 230)
    assert text.startswith("Advisor test page 1")
    if printed:
        assert text.split() == ["Advisor", "test", "page", "1", kind, "mark"]
        assert sum(pixel == colour for pixel in area) > len(area) * 3 // 4
    else:
        assert text.split() == ["Advisor", "test", "page", "1"]
        assert set(area) == {(255, 255, 255)}  # nothing at all: neither the appearance nor a link's red border
    assert files.inspect(pages).page_count == 1


def test_an_ink_signature_keeps_its_stroke():
    data = hostile.annotated_pdf("ink")
    area = _annotation_area(files.packet_pages(data, files.inspect(data)))
    assert any(pixel[2] > 100 and pixel[0] < 30 and pixel[1] < 30 for pixel in area)  # the dark blue line


@pytest.mark.parametrize("need_appearances", [False, True], ids=["saved-with-appearances", "need-appearances"])
def test_a_filled_in_form_keeps_its_values_as_page_content(need_appearances):
    data = hostile.form_pdf(need_appearances=need_appearances)
    pages = files.packet_pages(data, files.inspect(data))
    with pikepdf.open(io.BytesIO(pages)) as pdf:
        assert "/Annots" not in pdf.pages[0].obj and "/AcroForm" not in pdf.Root
    [text] = packet_pdf.page_texts(pages)
    assert text.split() == ["Advisor", "test", "page", "1", *hostile.FORM_VALUE.split()]
    # Where the field was: the value sits inside its rectangle.
    document = pdfium.PdfDocument(pages)
    try:
        textpage = document[0].get_textpage()
        start = textpage.get_text_range().index(hostile.FORM_VALUE)
        x0, y0, x1, y1 = hostile.ANNOTATION_RECT
        for index in range(start, start + len(hostile.FORM_VALUE)):
            left, bottom, right, top = textpage.get_charbox(index)
            if right > left:
                assert x0 <= left and right <= x1 and y0 <= bottom and top <= y1
    finally:
        document.close()


@pytest.mark.parametrize("make", [hostile.javascript_pdf, hostile.launch_pdf, hostile.javascript_names_pdf,
                                  hostile.javascript_annotation_pdf])
def test_scripted_pdf_comes_out_clean(make):
    data = make()
    described = files.Inspected("pdf", "application/pdf", len(data), "", 1, None, None)
    assert files.inspect(files.packet_pages(data, described)).page_count == 1


@pytest.mark.parametrize("make", [hostile.pdf, hostile.jpeg, hostile.png, lambda: hostile.png(alpha=True)])
def test_packet_pages_pass_inspection(make):
    data = make()
    assert files.inspect(files.packet_pages(data, files.inspect(data))).kind == "pdf"


@pytest.mark.parametrize(("kind", "message"), [("pdf", DAMAGED_PDF), ("jpeg", DAMAGED_JPEG), ("png", DAMAGED_PNG)])
def test_conversions_refuse_what_they_cannot_read(kind, message):
    # Only reachable if a caller skips inspect or a library disagrees with it; still a plain message.
    described = files.Inspected(kind, files.CONTENT_TYPES[kind], 4, "", 1, None, None)
    with pytest.raises(Rejected, match=message):
        files.packet_pages(b"junk", described)
    with pytest.raises(Rejected, match=message):
        files.thumbnail(b"junk", described)


# --- thumbnails ---------------------------------------------------------------------------------------------

@pytest.mark.parametrize(("make", "box", "size"), [
    pytest.param(lambda: hostile.jpeg(640, 480), 320, (320, 240), id="jpeg"),
    pytest.param(lambda: hostile.jpeg(640, 480, exif_orientation=6), 320, (240, 320), id="jpeg-sideways"),
    pytest.param(lambda: hostile.png(640, 480), 100, (100, 75), id="png"),
    pytest.param(lambda: hostile.png(640, 480, alpha=True), 320, (320, 240), id="png-alpha"),
    pytest.param(lambda: hostile.png(40, 30), 320, (40, 30), id="small-png-not-enlarged"),
    pytest.param(lambda: hostile.pdf(pages=2), 320, (226, 320), id="pdf-a4"),
])
def test_thumbnail_is_a_png_within_the_box(make, box, size):
    data = make()
    thumb = files.thumbnail(data, files.inspect(data), box=box)
    with Image.open(io.BytesIO(thumb)) as image:
        assert image.format == "PNG"
        assert abs(image.size[0] - size[0]) <= 1 and abs(image.size[1] - size[1]) <= 1
        assert max(image.size) <= box


def test_thumbnail_shows_the_photo_upright():
    data = hostile.jpeg(200, 100, exif_orientation=6)
    with Image.open(io.BytesIO(files.thumbnail(data, files.inspect(data)))) as image:
        red, _, blue = image.convert("RGB").getpixel((image.width - 2, image.height // 2))
        assert red > 180 and blue < 80  # the red bar stored along the top is now on the right


# --- file names ---------------------------------------------------------------------------------------------

@pytest.mark.parametrize(("name", "expected"), [
    ("../../etc/passwd", "passwd"),
    ("..\\..\\boot.ini", "boot.ini"),
    ("C:\\Users\\ana\\Passport scan.pdf", "Passport scan.pdf"),
    ("\\\\server\\share\\scan.pdf", "scan.pdf"),
    ("", "upload"),
    (None, "upload"),
    ("..", "upload"),
    ("/", "upload"),
    ("folder/", "upload"),
    (".htaccess", "htaccess"),
    (" . . hidden.png", "hidden.png"),
    ("scan.pdf\x00.html", "scan.pdf.html"),
    ("passport\r\nContent-Type: text/html.pdf", "html.pdf"),
    ("my\tpassport\n  scan.jpg", "my passport scan.jpg"),
    ("\u202egnp.exe", "gnp.exe"),
    ("Diplôme   de  Master.pdf", "Diplôme de Master.pdf"),
    ("Prüfung.pdf", "Prüfung.pdf"),
    ("x" * 300 + ".pdf", "x" * 196 + ".pdf"),
    ("y" * 300, "y" * 200),
    ("a." + "b" * 300, ("a." + "b" * 300)[:200]),
])
def test_safe_filename(name, expected):
    assert files.safe_filename(name) == expected


def test_safe_filename_composes_decomposed_accents():
    assert files.safe_filename("Pru\u0308fung.pdf") == "Pr\u00fcfung.pdf"


def _is_harmless(name: str) -> bool:
    return (0 < len(name) <= files.FILENAME_MAX
            and not set(name) & {"/", "\\"}
            and not name.startswith((".", " ")) and name == name.strip() and "  " not in name
            and all(unicodedata.category(c) not in ("Cc", "Cf", "Cs") for c in name))


@pytest.mark.parametrize("name", hostile.TRAVERSAL_NAMES)
def test_traversal_names_come_back_harmless(name):
    assert _is_harmless(files.safe_filename(name))


@given(st.one_of(st.none(), st.text(max_size=400)))
def test_any_name_comes_back_harmless_and_stable(name):
    safe = files.safe_filename(name)
    assert _is_harmless(safe)
    assert files.safe_filename(safe) == safe


def test_a_cut_off_image_is_refused_even_after_weasyprint_is_imported():
    import weasyprint  # noqa: F401 - it turns Pillow's LOAD_TRUNCATED_IMAGES on when imported
    from PIL import ImageFile

    ImageFile.LOAD_TRUNCATED_IMAGES = True
    for damaged in (hostile.corrupt_png(), hostile.truncated_jpeg()):
        with pytest.raises(files.Rejected, match="damaged or incomplete"):
            files.inspect(damaged)
