"""Upload checks and conversions: every hostile file is refused with its own plain message, good files are
described correctly, packet pages keep JPEG bytes and drop what a PDF must not carry into a packet,
thumbnails fit their box, and original file names come back harmless. No app or database needed."""
from __future__ import annotations

import hashlib
import io
import re
import unicodedata

import pikepdf
import pytest
from hypothesis import given
from hypothesis import strategies as st
from PIL import Image

from advisor import files
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


@pytest.mark.parametrize(("orientation", "rotate"), [(None, 0), (1, 0), (3, 180), (6, 90), (8, 270)])
def test_exif_orientation_turns_the_page(orientation, rotate):
    # img2pdf leaves the pixels alone and sets /Rotate; with auto_orient it also lays the page out
    # landscape for a landscape-stored photo, so a sideways portrait shows as a full portrait A4 page.
    with _packet(hostile.jpeg(200, 100, exif_orientation=orientation)) as pdf:
        page = pdf.pages[0]
        assert int(page.obj.get("/Rotate", 0)) == rotate
        width, height = float(page.mediabox[2]), float(page.mediabox[3])
        if rotate in (90, 270):
            width, height = height, width
        shown_portrait = orientation in (6, 8)
        assert (height > width) == shown_portrait
        assert sorted([round(width), round(height)]) == [595, 842]


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
