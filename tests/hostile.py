"""Upload test files, good and hostile, generated at run time so the repository holds no binary fixtures.

Each function returns the bytes of one file. The good ones (`pdf`, `jpeg`, `png`) are small but real; the
hostile ones are what a careless or malicious upload looks like: renamed formats, truncated or encrypted
PDFs, scripts, a decompression bomb and polyglots that are two files at once. Some good ones carry what must
survive into a packet: annotations and filled-in forms (`annotated_pdf`, `form_pdf`), and photos whose four
coloured quadrants show any turn or mirror (`quadrants_jpeg`, read back from a rendering by `quadrants`).
"""
from __future__ import annotations

import functools
import io
import struct
import zipfile
import zlib

import pikepdf
from PIL import Image, ImageDraw

A4 = (595, 842)

# Original names a browser may send; none of them may steer where or how a file is stored or served.
TRAVERSAL_NAMES = [
    "../../etc/passwd",
    "..\\..\\boot.ini",
    "/etc/shadow",
    "C:\\Windows\\win.ini",
    "\\\\server\\share\\scan.pdf",
    "....//....//etc/hosts",
    "a/b/../../../c.pdf",
    "~/.ssh/id_rsa",
    ".htaccess",
    "..",
    ".",
    "/",
    "",
    "scan.pdf\x00.html",
    "passport\r\nContent-Type: text/html.pdf",
    "\u202egnp.exe",
    " . . hidden.png",
    "%2e%2e%2f%2e%2e%2fetc%2fpasswd",
    "x" * 300 + ".pdf",
]


# --- good files ---------------------------------------------------------------------------------------------

def pdf(pages: int = 1, text: str = "Advisor test page") -> bytes:
    """A valid A4 PDF with one line of Helvetica text on each page."""
    document = pikepdf.new()
    font = document.make_indirect(pikepdf.Dictionary(
        Type=pikepdf.Name.Font, Subtype=pikepdf.Name.Type1, BaseFont=pikepdf.Name.Helvetica))
    for number in range(1, pages + 1):
        page = document.add_blank_page(page_size=A4)
        page.Resources = pikepdf.Dictionary(Font=pikepdf.Dictionary(F1=font))
        page.Contents = document.make_stream(pikepdf.unparse_content_stream([
            ([], pikepdf.Operator("BT")),
            ([pikepdf.Name.F1, 18], pikepdf.Operator("Tf")),
            ([72, 760], pikepdf.Operator("Td")),
            ([pikepdf.String(f"{text} {number}")], pikepdf.Operator("Tj")),
            ([], pikepdf.Operator("ET")),
        ]))
    return _save(document)


def jpeg(width: int = 64, height: int = 48, exif_orientation: int | None = None) -> bytes:
    """A baseline JPEG; a red bar across the top makes its orientation visible."""
    image = _picture(width, height)
    exif = Image.Exif()
    if exif_orientation is not None:
        exif[0x0112] = exif_orientation
    out = io.BytesIO()
    image.save(out, format="JPEG", quality=85, exif=exif)
    return out.getvalue()


def png(width: int = 64, height: int = 48, alpha: bool = False) -> bytes:
    """A PNG; with `alpha` its left half is fully transparent, so flattening must paint it white."""
    image = _picture(width, height)
    if alpha:
        image = image.convert("RGBA")
        image.paste((0, 0, 0, 0), (0, 0, width // 2, height))
    out = io.BytesIO()
    image.save(out, format="PNG")
    return out.getvalue()


def loaded_pdf() -> bytes:
    """A PDF carrying everything a packet must not: an opening script, a page action, a link annotation
    that runs a script, a script outline entry, a form, an attachment, and a structure tree that still
    reaches the annotation after the page lets go of it."""
    document = pikepdf.Pdf.open(io.BytesIO(pdf(pages=2)))
    script = pikepdf.Dictionary(S=pikepdf.Name.JavaScript, JS=pikepdf.String("app.alert('open')"))
    document.Root.OpenAction = script
    document.Root.AA = pikepdf.Dictionary(WC=script)
    link = document.make_indirect(pikepdf.Dictionary(
        Type=pikepdf.Name.Annot, Subtype=pikepdf.Name.Link, Rect=[72, 700, 300, 740],
        A=pikepdf.Dictionary(S=pikepdf.Name.JavaScript, JS=pikepdf.String("app.alert('link')"))))
    page = document.pages[0]
    page.Annots = document.make_indirect(pikepdf.Array([link]))
    page.AA = pikepdf.Dictionary(O=script)
    outline = document.make_indirect(pikepdf.Dictionary(
        Title=pikepdf.String("Run"), A=pikepdf.Dictionary(S=pikepdf.Name.Launch, F=pikepdf.String("calc.exe"))))
    document.Root.Outlines = document.make_indirect(pikepdf.Dictionary(
        Type=pikepdf.Name.Outlines, First=outline, Last=outline, Count=1))
    outline.Parent = document.Root.Outlines
    document.Root.AcroForm = pikepdf.Dictionary(Fields=pikepdf.Array())
    document.Root.StructTreeRoot = document.make_indirect(pikepdf.Dictionary(
        Type=pikepdf.Name.StructTreeRoot,
        K=pikepdf.Dictionary(Type=pikepdf.Name.OBJR, Obj=link, Pg=page.obj)))
    document.attachments["x.txt"] = b"an attachment that must not reach the packet"
    return _save(document)


# Where `annotated_pdf` puts its annotation, in points from the page's bottom left, and what it says there.
ANNOTATION_RECT = (72, 560, 372, 620)
FORM_VALUE = "Zhang Emily"

# What each kind of annotation is, and its flags (4 Print, 2 Hidden, 32 NoView): the marks a viewer saves
# when someone highlights, draws, stamps or signs a page, and the ones that must stay off the paper.
ANNOTATIONS = {
    "highlight": ("/Highlight", 4), "ink": ("/Ink", 4), "stamp": ("/Stamp", 4), "signature": ("/Widget", 4),
    "print-only": ("/Stamp", 4 | 32), "hidden": ("/Stamp", 4 | 2), "screen-only": ("/Stamp", 0),
    "link": ("/Link", 4),
}


def annotated_pdf(kind: str) -> bytes:
    """A page of text with one annotation of `kind` (see ANNOTATIONS) over ANNOTATION_RECT; its appearance
    fills the rectangle with colour (yellow for a highlight, blue otherwise) and writes "<kind> mark" on it.
    The signature is a signed signature field's widget; the link also has a red border and a web address."""
    document = pikepdf.Pdf.open(io.BytesIO(pdf()))
    page = document.pages[0]
    subtype, flags = ANNOTATIONS[kind]
    x0, y0, x1, y1 = ANNOTATION_RECT
    fill = b"1 1 0 rg" if kind == "highlight" else b"0.2 0.3 0.9 rg"
    stroke = b" 0 0 0.5 RG 3 w 10 10 m 280 50 l S" if kind == "ink" else b""
    appearance = _appearance(document, fill + b" 0 0 %d %d re f" % (x1 - x0, y1 - y0) + stroke
                             + b" BT 0 g /Helv 12 Tf 10 25 Td (" + kind.encode() + b" mark) Tj ET", (x1 - x0, y1 - y0))
    annotation = document.make_indirect(pikepdf.Dictionary(
        Type=pikepdf.Name.Annot, Subtype=pikepdf.Name(subtype), Rect=list(ANNOTATION_RECT), F=flags,
        AP=pikepdf.Dictionary(N=appearance), P=page.obj))
    if kind == "highlight":
        annotation.QuadPoints = [x0, y1, x1, y1, x0, y0, x1, y0]
    if kind == "ink":
        annotation.InkList = [[x0 + 10, y0 + 10, x0 + 280, y0 + 50]]
    if kind == "link":
        annotation.Border, annotation.C = [0, 0, 3], [1, 0, 0]
        annotation.A = pikepdf.Dictionary(S=pikepdf.Name.URI, URI=pikepdf.String("https://example.org/"))
    if kind == "signature":
        annotation.FT, annotation.T = pikepdf.Name.Sig, pikepdf.String("Signature1")
        annotation.V = pikepdf.Dictionary(Type=pikepdf.Name.Sig, Filter=pikepdf.Name("/Adobe.PPKLite"),
                                          SubFilter=pikepdf.Name("/adbe.pkcs7.detached"),
                                          Name=pikepdf.String("Emily Zhang"), Contents=pikepdf.String(b"\0" * 64),
                                          ByteRange=[0, 0, 0, 0])
        document.Root.AcroForm = pikepdf.Dictionary(Fields=[annotation], SigFlags=3)
    page.Annots = document.make_indirect(pikepdf.Array([annotation]))
    return _save(document)


def form_pdf(*, need_appearances: bool = False) -> bytes:
    """A page with a text field filled in with FORM_VALUE over ANNOTATION_RECT: saved with the field's
    appearance, as Acrobat or a browser saves a filled form, or with the value alone and NeedAppearances,
    which leaves drawing it to the viewer."""
    document = pikepdf.Pdf.open(io.BytesIO(pdf()))
    page = document.pages[0]
    font = document.make_indirect(pikepdf.Dictionary(
        Type=pikepdf.Name.Font, Subtype=pikepdf.Name.Type1, BaseFont=pikepdf.Name.Helvetica,
        Encoding=pikepdf.Name.WinAnsiEncoding))
    x0, y0, x1, y1 = ANNOTATION_RECT
    field = document.make_indirect(pikepdf.Dictionary(
        Type=pikepdf.Name.Annot, Subtype=pikepdf.Name.Widget, FT=pikepdf.Name.Tx, T=pikepdf.String("applicant"),
        V=pikepdf.String(FORM_VALUE), DA=pikepdf.String("/Helv 14 Tf 0 g"), Rect=list(ANNOTATION_RECT), F=4,
        P=page.obj))
    if not need_appearances:
        field.AP = pikepdf.Dictionary(N=_appearance(
            document, b"/Tx BMC q BT 0 g /Helv 14 Tf 4 20 Td (" + FORM_VALUE.encode() + b") Tj ET Q EMC",
            (x1 - x0, y1 - y0), font=font))
    document.Root.AcroForm = pikepdf.Dictionary(
        Fields=[field], DR=pikepdf.Dictionary(Font=pikepdf.Dictionary(Helv=font)),
        DA=pikepdf.String("/Helv 0 Tf 0 g"), NeedAppearances=need_appearances)
    page.Annots = document.make_indirect(pikepdf.Array([field]))
    return _save(document)


def quadrants_jpeg(width: int, height: int, exif_orientation: int | None = None) -> bytes:
    """A JPEG whose stored quadrants are QUADRANT_COLOURS (top left, top right, bottom left, bottom right),
    so every turn and mirror of it looks different."""
    image = Image.new("RGB", (width, height))
    draw = ImageDraw.Draw(image)
    for index, colour in enumerate(QUADRANT_COLOURS):
        left, top = (index % 2) * width // 2, (index // 2) * height // 2
        draw.rectangle((left, top, left + width // 2, top + height // 2), fill=colour)
    exif = Image.Exif()
    if exif_orientation is not None:
        exif[0x0112] = exif_orientation
    out = io.BytesIO()
    image.save(out, format="JPEG", quality=90, exif=exif)
    return out.getvalue()


QUADRANT_COLOURS = ((220, 30, 30), (30, 160, 60), (40, 70, 200), (240, 200, 20))


def picture_box(image: Image.Image) -> tuple[int, int, int, int]:
    """Where the coloured picture is in `image` (left, top, right, bottom): white paper and grey text are not."""
    box = image.convert("RGB").convert("HSV").getchannel("S").point(lambda s: 255 if s > 100 else 0).getbbox()
    assert box is not None, "no picture on the page"
    return box


def quadrants(image: Image.Image) -> tuple[list[int], float]:
    """Which of QUADRANT_COLOURS each quadrant of the picture in `image` shows (top left, top right,
    bottom left, bottom right), and the picture's width/height."""
    rgb = image.convert("RGB")
    left, top, right, bottom = picture_box(rgb)
    found = []
    for row in (0.25, 0.75):
        for column in (0.25, 0.75):
            pixel = rgb.getpixel((int(left + (right - left) * column), int(top + (bottom - top) * row)))
            found.append(min(range(4), key=lambda i: sum((a - b) ** 2 for a, b in
                                                          zip(pixel, QUADRANT_COLOURS[i], strict=True))))
    return found, (right - left) / (bottom - top)


# --- files that are not what their name says ----------------------------------------------------------------

def renamed_zip() -> bytes:
    return _zip({"passport.pdf": b"not really a passport"})


def renamed_docx() -> bytes:
    return _zip({"[Content_Types].xml": b"<Types/>", "word/document.xml": b"<w:document/>"})


def renamed_html() -> bytes:
    return b"<!DOCTYPE html>\n<html><head><title>Passport</title></head><body><script>alert(1)</script></body></html>"


def renamed_gif() -> bytes:
    out = io.BytesIO()
    _picture(16, 16).save(out, format="GIF")
    return out.getvalue()


def renamed_tiff() -> bytes:
    out = io.BytesIO()
    _picture(16, 16).save(out, format="TIFF")
    return out.getvalue()


def renamed_heic() -> bytes:
    """The start of an iPhone HEIC photo: an ISO media `ftyp` box naming the heic brand."""
    return struct.pack(">I", 24) + b"ftypheic" + b"\x00\x00\x00\x00" + b"mif1heic" + b"\x00" * 64


def renamed_text() -> bytes:
    return b"Passport number: X1234567\nThis is a text file with a .pdf name.\n"


# --- broken, locked or scripted PDFs ------------------------------------------------------------------------

def truncated_pdf() -> bytes:
    """A valid three-page PDF cut to 60% of its bytes, as an interrupted download leaves it."""
    data = pdf(pages=3)
    return data[: len(data) * 6 // 10]


def garbage_pdf() -> bytes:
    """A PDF header and end marker around noise: no object, cross-reference table or trailer to recover."""
    return b"%PDF-1.7\n" + bytes(range(256)) * 4 + b"\n%%EOF\n"


def pdf_missing_page() -> bytes:
    """A three-page PDF whose page tree points at a page that is not in the file (the last kid's generation
    number changed from 0 to 9, so every byte offset still holds). qpdf would quietly report two pages."""
    data = pdf(pages=3)
    generation = data.index(b"0 R ]", data.index(b"/Kids"))
    return data[:generation] + b"9" + data[generation + 1:]


def pageless_pdf() -> bytes:
    return _save(pikepdf.new())


def encrypted_pdf() -> bytes:
    """Needs a password to open."""
    return _save(pikepdf.Pdf.open(io.BytesIO(pdf())), encryption=pikepdf.Encryption(owner="o", user="u"))


def owner_only_encrypted_pdf() -> bytes:
    """Opens without a password, but is still encrypted (with permission restrictions)."""
    return _save(pikepdf.Pdf.open(io.BytesIO(pdf())), encryption=pikepdf.Encryption(owner="o", user=""))


def javascript_pdf() -> bytes:
    """Runs a script as soon as it is opened."""
    return _with_root(OpenAction=pikepdf.Dictionary(S=pikepdf.Name.JavaScript, JS=pikepdf.String("app.alert(1)")))


def launch_pdf() -> bytes:
    """Asks the viewer to start a program when opened."""
    return _with_root(OpenAction=pikepdf.Dictionary(S=pikepdf.Name.Launch, F=pikepdf.String("cmd.exe")))


def javascript_names_pdf() -> bytes:
    """Document-level script in the /Names /JavaScript tree."""
    action = pikepdf.Dictionary(S=pikepdf.Name.JavaScript, JS=pikepdf.String("app.alert(2)"))
    return _with_root(Names=pikepdf.Dictionary(
        JavaScript=pikepdf.Dictionary(Names=pikepdf.Array([pikepdf.String("init"), action]))))


def javascript_annotation_pdf() -> bytes:
    """A link annotation whose action is a script held in a stream, reached only through the page."""
    document = pikepdf.Pdf.open(io.BytesIO(pdf()))
    code = document.make_stream(b"app.alert(3)")
    document.pages[0].Annots = pikepdf.Array([document.make_indirect(pikepdf.Dictionary(
        Type=pikepdf.Name.Annot, Subtype=pikepdf.Name.Link, Rect=[0, 0, 100, 100],
        A=pikepdf.Dictionary(S=pikepdf.Name.JavaScript, JS=code)))])
    return _save(document)


# --- images that are broken or too big ----------------------------------------------------------------------

@functools.cache  # the one slow generator (a third of a second); bytes are immutable, so sharing is safe
def png_bomb(width: int = 30_000, height: int = 30_000) -> bytes:
    """A real decompression bomb: a 1-bit grayscale PNG of zeros, ~110 KB on disk and 900 megapixels
    (over 100 MB of raw rows, 900 MB once Pillow gives each pixel a byte). The rows are compressed a
    batch at a time, so generating it never holds them all in memory."""
    row = b"\x00" * (1 + (width + 7) // 8)  # a filter-type byte, then eight pixels to a byte
    rows_per_feed = 1024
    compressor = zlib.compressobj(9)
    idat = bytearray()
    for start in range(0, height, rows_per_feed):
        idat += compressor.compress(row * min(rows_per_feed, height - start))
    idat += compressor.flush()
    header = struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0)
    return _png_signature() + _chunk(b"IHDR", header) + _chunk(b"IDAT", bytes(idat)) + _chunk(b"IEND", b"")


def truncated_jpeg() -> bytes:
    data = jpeg(320, 240)
    return data[: len(data) * 6 // 10]


def truncated_png() -> bytes:
    data = png(320, 240)
    return data[: len(data) * 6 // 10]


def corrupt_png() -> bytes:
    """Every chunk is well formed with a correct checksum, but the pixel data is not a zlib stream: only
    decoding the image finds the damage."""
    header = struct.pack(">IIBBBBB", 64, 48, 8, 2, 0, 0, 0)
    return _png_signature() + _chunk(b"IHDR", header) + _chunk(b"IDAT", b"not zlib data" * 8) + _chunk(b"IEND", b"")


# --- polyglots: one file that is also another ---------------------------------------------------------------

def jpeg_pdf_polyglot() -> bytes:
    """A JPEG whose comment segment, right after the start marker, begins a PDF: PDF readers look for
    `%PDF-` anywhere in the first 1024 bytes."""
    data = jpeg()
    comment = b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\n"
    segment = b"\xff\xfe" + struct.pack(">H", len(comment) + 2) + comment
    return data[:2] + segment + data[2:]


def jpeg_zip_polyglot() -> bytes:
    """A JPEG with a ZIP archive appended; ZIP readers find the archive from the end of the file."""
    return jpeg() + renamed_zip()


def png_zip_polyglot() -> bytes:
    return png() + renamed_zip()


def png_pdf_polyglot() -> bytes:
    """A PNG with a text chunk carrying a PDF header near the start of the file."""
    data = png()
    ihdr_end = 8 + 25
    return data[:ihdr_end] + _chunk(b"tEXt", b"Comment\x00%PDF-1.4 1 0 obj") + data[ihdr_end:]


def pdf_zip_polyglot() -> bytes:
    return pdf() + renamed_zip()


def pdf_html_polyglot() -> bytes:
    return pdf() + renamed_html()


# --- size -------------------------------------------------------------------------------------------------

def empty() -> bytes:
    return b""


def oversize(limit: int) -> bytes:
    """A valid PDF padded with trailing newlines to one byte over `limit`, so only its size is wrong."""
    data = pdf()
    return data + b"\n" * (limit + 1 - len(data))


# --- helpers ----------------------------------------------------------------------------------------------

def _picture(width: int, height: int) -> Image.Image:
    image = Image.new("RGB", (width, height), (40, 90, 160))
    ImageDraw.Draw(image).rectangle((0, 0, width - 1, max(height // 8, 1) - 1), fill=(220, 30, 30))
    return image


def _appearance(document: pikepdf.Pdf, content: bytes, size: tuple[int, int],
                font: pikepdf.Object | None = None) -> pikepdf.Stream:
    """An annotation's normal appearance: a form XObject of `size` drawing `content` with Helvetica as /Helv."""
    font = font or document.make_indirect(pikepdf.Dictionary(
        Type=pikepdf.Name.Font, Subtype=pikepdf.Name.Type1, BaseFont=pikepdf.Name.Helvetica))
    stream = document.make_stream(content)
    stream.Type, stream.Subtype, stream.BBox = pikepdf.Name.XObject, pikepdf.Name.Form, [0, 0, *size]
    stream.Resources = pikepdf.Dictionary(Font=pikepdf.Dictionary(Helv=font))
    return stream


def _save(document: pikepdf.Pdf, **options: object) -> bytes:
    out = io.BytesIO()
    document.save(out, **options)
    return out.getvalue()


def _with_root(**entries: object) -> bytes:
    document = pikepdf.Pdf.open(io.BytesIO(pdf()))
    for key, value in entries.items():
        document.Root[f"/{key}"] = value
    return _save(document)


def _zip(members: dict[str, bytes]) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, content in members.items():
            archive.writestr(name, content)
    return out.getvalue()


def _png_signature() -> bytes:
    return b"\x89PNG\r\n\x1a\n"


def _chunk(kind: bytes, payload: bytes) -> bytes:
    return struct.pack(">I", len(payload)) + kind + payload + struct.pack(">I", zlib.crc32(kind + payload))
