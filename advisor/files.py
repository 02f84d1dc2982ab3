"""Uploaded documents: what we accept, and what we turn them into.

Applicants send passport scans, photos and diplomas. We accept PDF, JPEG and PNG only, recognised by their
content and by parsing them completely, never by the file name. Everything else is refused with a sentence
the uploader can act on: other formats, damaged or encrypted PDFs, PDFs with scripts, decompression bombs,
and polyglots (a file that is also a second file, such as a JPEG with a ZIP archive appended).

An accepted upload is converted once, at upload time, into the PDF pages that go into a packet, so an export
only concatenates: images placed upright without re-encoding (`advisor.image_pages`), PDFs with what their
annotations print (filled-in forms, stamps, signatures) drawn into the pages, then stripped of scripts,
forms, annotations and attachments.

Nothing here knows about Flask or the database: callers pass bytes and get bytes or `Rejected` back.
"""
from __future__ import annotations

import hashlib
import io
import re
import threading
import unicodedata
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

import pikepdf
import pypdfium2 as pdfium
from PIL import Image, ImageFile, ImageOps

from . import image_pages

MB = 1024 * 1024
FILENAME_MAX = 200
_EXTENSION_MAX = 16  # a longer "extension" is just the tail of a dotted name, not worth keeping

CONTENT_TYPES = {"pdf": "application/pdf", "jpeg": "image/jpeg", "png": "image/png"}
_MAGIC = ((b"%PDF-", "pdf"), (b"\xff\xd8\xff", "jpeg"), (b"\x89PNG\r\n\x1a\n", "png"))
_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"

# Only the formats people most often upload by mistake; anything else is just "none of these".
_LOOKALIKES = (
    (re.compile(rb"PK\x03\x04|PK\x05\x06"), "a ZIP archive or an Office document"),
    (re.compile(rb"GIF8[79]a"), "a GIF image"),
    (re.compile(rb"II\*\x00|MM\x00\*"), "a TIFF image"),
    (re.compile(rb"RIFF....WEBP", re.DOTALL), "a WebP image"),
    (re.compile(rb"....ftyp(heic|heix|hevc|mif1|msf1)", re.DOTALL), "an iPhone (HEIC) photo"),
    (re.compile(rb"(\xef\xbb\xbf)?\s*<(!doctype html|html|head|body|script)", re.IGNORECASE), "a web page"),
)

# What may follow the end of a file without being content: padding some writers and transfers add.
_PADDING = b" \t\r\n\x0c\x00"
_JPEG_PADDING_RUN = re.compile(rb"[ \t\r\n\x0c\x00\xff]*")

# Inside a scan 0xFF is followed by 0x00 (an escaped byte) or RST0-7 (a restart); anything else ends it.
_MARKER_AFTER_SCAN = re.compile(rb"\xff+[^\x00\xd0-\xd7\xff]")

# PDF readers accept a header anywhere in the first 1024 bytes, so an image carrying one there opens as a PDF.
_PDF_HEADER_WINDOW = 1024

# Actions that run code or programs; their presence alone is enough to refuse a PDF.
_DANGEROUS_ACTIONS = ("/JavaScript", "/Launch")
_SCRIPT_KEYS = ("/JS", "/JavaScript")

# Catalog and page entries a packet never needs and that carry scripts, forms, annotations or attachments.
_CATALOG_KEYS_TO_DROP = ("/OpenAction", "/AA", "/AcroForm", "/Names", "/Outlines", "/AF")
_PAGE_KEYS_TO_DROP = ("/Annots", "/AA", "/AF")
# A link is a place to click, whatever border or appearance it has; a pop-up is the window a note opens in.
_NEVER_PRINTED = ("/Link", "/Popup")

# PDFium is not thread-safe: two requests rendering thumbnails at once must take turns.
_PDFIUM_LOCK = threading.Lock()

_ACCEPTED = "Only PDF, JPEG and PNG files are accepted"
_HIDDEN_FILE = ("This file contains another file hidden inside it. Please save or scan the document again "
                "and upload the new copy.")
_DAMAGED_PDF = ("This PDF is damaged or incomplete. Please download or export it again and upload the new "
                "copy.")
_ENCRYPTED_PDF = ("This PDF is password-protected (encrypted). Please save an unprotected copy and upload "
                  "that.")
_SCRIPTED_PDF = ("This PDF contains scripts or actions that run when it is opened. Please print it to a new "
                 "PDF and upload that.")


class Rejected(ValueError):
    """A file we refuse; str(error) is a plain sentence shown to the user (no jargon, no library messages)."""


@dataclass(frozen=True)
class Inspected:
    """What `inspect` learned about an accepted upload."""

    kind: str          # "pdf" | "jpeg" | "png"
    content_type: str  # "application/pdf" | "image/jpeg" | "image/png"
    size: int
    sha256: str        # hex
    page_count: int    # pages for a PDF, 1 for an image
    width: int | None  # pixels for images, None for PDFs
    height: int | None


class _Damaged(Exception):
    """An image's structure is broken; turned into the user's message by `inspect`."""


def sniff(data: bytes) -> str | None:
    """The accepted kind a file's first bytes announce ("pdf", "jpeg", "png"), or None."""
    for magic, kind in _MAGIC:
        if data.startswith(magic):
            return kind
    return None


def inspect(data: bytes, *, max_bytes: int = 25 * MB, max_pixels: int = 60_000_000,
            max_pages: int = 300) -> Inspected:
    """Accept an upload only if it is a complete, unencrypted, script-free PDF or a complete JPEG or PNG
    within the size, page and pixel limits, and nothing else is hidden in it; otherwise raise `Rejected`."""
    if not data:
        raise Rejected("The file is empty.")
    if len(data) > max_bytes:
        raise Rejected(f"The file is larger than the {max_bytes / MB:g} MB limit. Please upload a smaller "
                       "file, for example a scan at a lower resolution.")
    kind = sniff(data)
    if kind is None:
        raise Rejected(_not_accepted(data))
    if kind == "pdf":
        page_count, width, height = _inspect_pdf(data, max_pages), None, None
    else:
        # Above Pillow's own bomb threshold it would warn, or refuse with its own error, whatever we allow.
        if Image.MAX_IMAGE_PIXELS:
            max_pixels = min(max_pixels, Image.MAX_IMAGE_PIXELS)
        page_count, (width, height) = 1, _inspect_image(data, kind, max_pixels)
    return Inspected(kind=kind, content_type=CONTENT_TYPES[kind], size=len(data),
                     sha256=hashlib.sha256(data).hexdigest(), page_count=page_count, width=width, height=height)


def packet_pages(data: bytes, inspected: Inspected, *, print_size_mm: tuple[float, float] | None = None) -> bytes:
    """The PDF pages an accepted upload contributes to a packet, looking as the upload does when printed.

    Images are placed upright as the preview shows them, without re-encoding (JPEG bytes are embedded as they
    are; transparency is flattened onto white): on an A4 page, or at `print_size_mm` (width, height) when the
    requirement states one. PDFs keep their pages, with every annotation that prints (filled-in form fields,
    stamps, highlights, signatures) drawn into the page, and lose scripts, forms, annotations, outlines and
    attachments, even though `inspect` already refused scripts. Raises `Rejected` in the rare case a file that
    passed `inspect` still cannot be converted."""
    if inspected.kind == "pdf":
        return _clean_pdf(data)
    try:
        return image_pages.image_page(_opaque(data) if inspected.kind == "png" else data,
                                      print_size_mm=print_size_mm)
    except (*image_pages.IMG2PDF_ERRORS, pikepdf.PdfError, OSError, ValueError, SyntaxError) as error:
        raise Rejected(_damaged(inspected.kind)) from error


def thumbnail(data: bytes, inspected: Inspected, *, box: int = 320) -> bytes:
    """A PNG preview no larger than box×box: the image as it is meant to be seen, or a PDF's first page.
    Raises `Rejected` in the rare case a file that passed `inspect` still cannot be drawn."""
    try:
        if inspected.kind == "pdf":
            image = _render_first_page(data, box)
        else:
            with _open_image(data) as original:
                if original.format == "JPEG":
                    # Decoding at 1/2, 1/4 or 1/8 scale is far cheaper and still leaves at least box pixels.
                    original.draft("RGB", (box, box))
                image = ImageOps.exif_transpose(original)
    except (pdfium.PdfiumError, OSError, ValueError, SyntaxError) as error:
        raise Rejected(_damaged(inspected.kind)) from error
    image.thumbnail((box, box))
    out = io.BytesIO()
    image.convert("RGBA" if _has_alpha(image) else "RGB").save(out, format="PNG")
    return out.getvalue()


def safe_filename(name: str | None) -> str:
    """The uploader's file name, made harmless to keep as metadata and to show or send back in a header:
    no directories, control or invisible formatting characters, leading dots or runs of spaces, and at
    most 200 characters with the extension kept. Never used to store the file."""
    name = re.split(r"[/\\]", unicodedata.normalize("NFC", name or ""))[-1]
    # Tabs and line breaks become spaces (then collapse); other controls, bidi overrides and lone
    # surrogates vanish, since they only serve to disguise a name or break a header.
    name = "".join(c for c in name if c.isspace() or unicodedata.category(c) not in ("Cc", "Cf", "Cs"))
    name = " ".join(name.split()).lstrip(". ")
    if len(name) > FILENAME_MAX:
        stem, dot, extension = name.rpartition(".")
        if dot and stem and len(extension) <= _EXTENSION_MAX:
            name = stem[: FILENAME_MAX - len(extension) - 1].rstrip() + "." + extension
        else:
            name = name[:FILENAME_MAX].rstrip()
    return name or "upload"


# --- type ---------------------------------------------------------------------------------------------------

def _not_accepted(data: bytes) -> str:
    head = data[:64]
    for pattern, what in _LOOKALIKES:
        if pattern.match(head):
            return f"{_ACCEPTED}, and this file looks like {what}. Please upload it as a PDF, JPEG or PNG."
    return f"{_ACCEPTED}, and this file is none of them. Please upload it as a PDF, JPEG or PNG."


# --- PDF ----------------------------------------------------------------------------------------------------

def _inspect_pdf(data: bytes, max_pages: int) -> int:
    # qpdf quietly rebuilds a file cut short, so completeness is judged on the bytes: a PDF ends with %%EOF.
    end = data.rfind(b"%%EOF")
    if end < 0:
        raise Rejected(_DAMAGED_PDF)
    if data[end + len(b"%%EOF"):].strip(_PADDING):
        raise Rejected(_HIDDEN_FILE)
    try:
        # Pushing inherited page attributes down lists the pages, which would repair the tree before we look.
        with pikepdf.open(io.BytesIO(data), inherit_page_attributes=False) as pdf:
            if pdf.is_encrypted:
                raise Rejected(_ENCRYPTED_PDF)
            if not _page_tree_is_whole(pdf):
                raise Rejected(_DAMAGED_PDF)
            page_count = len(pdf.pages)
            if page_count == 0:
                raise Rejected(_DAMAGED_PDF)
            if page_count > max_pages:
                raise Rejected(f"This PDF has {page_count} pages; the limit is {max_pages}. Please split it "
                               "into smaller files.")
            if _has_scripts(pdf):
                raise Rejected(_SCRIPTED_PDF)
            return page_count
    except Rejected:
        raise
    except pikepdf.PasswordError as error:
        raise Rejected(_ENCRYPTED_PDF) from error
    except (pikepdf.PdfError, RuntimeError, ValueError) as error:
        raise Rejected(_DAMAGED_PDF) from error


def _page_tree_is_whole(pdf: pikepdf.Pdf) -> bool:
    """Whether every node of the page tree is there. Asked before `pdf.pages` is touched, because qpdf
    silently drops a page it cannot find (and lowers /Count to match) the first time it lists the pages."""
    pending, seen = [pdf.Root.get("/Pages")], set()
    while pending:
        node = pending.pop()
        if not isinstance(node, pikepdf.Dictionary):
            return False
        if node.is_indirect:
            if node.objgen in seen:
                return False
            seen.add(node.objgen)
        kids = node.get("/Kids")
        if kids is not None:
            if not isinstance(kids, pikepdf.Array):
                return False
            pending.extend(kids)
    return True


def _dictionaries(pdf: pikepdf.Pdf) -> Iterator[pikepdf.Object]:
    """Every dictionary in the file, including stream dictionaries and those nested directly inside other
    objects (an /OpenAction is often written inline in the catalog). Indirect objects are visited once, from
    the object table; nesting is walked with a stack, so depth cannot exhaust Python's recursion."""
    for top in pdf.objects:
        pending = [top]
        while pending:
            obj = pending.pop()
            if isinstance(obj, pikepdf.Dictionary | pikepdf.Stream):
                yield obj
                children = obj.values()
            elif isinstance(obj, pikepdf.Array):
                children = obj
            else:
                continue
            pending.extend(child for child in children
                           if isinstance(child, pikepdf.Dictionary | pikepdf.Array) and not child.is_indirect)


def _is_dangerous_action(obj: pikepdf.Object) -> bool:
    return obj.get("/S") in _DANGEROUS_ACTIONS


def _has_scripts(pdf: pikepdf.Pdf) -> bool:
    return any(_is_dangerous_action(obj) or any(key in obj for key in _SCRIPT_KEYS) for obj in _dictionaries(pdf))


def _clean_pdf(data: bytes) -> bytes:
    try:
        with pikepdf.open(io.BytesIO(data)) as pdf:
            _bake_annotations(pdf)
            _drop(pdf.Root, _CATALOG_KEYS_TO_DROP)
            for page in pdf.pages:
                _drop(page.obj, _PAGE_KEYS_TO_DROP)
            # Whatever is still reachable another way (a structure tree pointing at an annotation, say) loses
            # its scripts and embedded files here.
            for obj in list(_dictionaries(pdf)):
                _drop(obj, list(obj.keys()) if _is_dangerous_action(obj) else (*_SCRIPT_KEYS, "/AA", "/EF"))
            out = io.BytesIO()
            pdf.save(out, encryption=False)
            return out.getvalue()
    except (pikepdf.PdfError, RuntimeError, ValueError) as error:
        raise Rejected(_DAMAGED_PDF) from error


def _bake_annotations(pdf: pikepdf.Pdf) -> None:
    """Draw into each page what its annotations show on paper: filled-in form fields, stamps, highlights,
    ink and signature appearances. As a printer does, only annotations marked Print and not Hidden count
    (qpdf's "print" flattening); links and pop-ups never do. A form that leaves drawing its fields to the
    viewer (NeedAppearances) first gets the appearances qpdf can make for it."""
    for page in pdf.pages:
        annotations = page.obj.get("/Annots")
        if isinstance(annotations, pikepdf.Array):
            page.obj.Annots = pikepdf.Array([
                annotation for annotation in annotations
                if not (isinstance(annotation, pikepdf.Dictionary) and annotation.get("/Subtype") in _NEVER_PRINTED)])
    pdf.generate_appearance_streams()
    pdf.flatten_annotations("print")


def _drop(obj: pikepdf.Object, keys: Iterable[str]) -> None:
    for key in keys:
        if key in obj:
            del obj[key]


def _render_first_page(data: bytes, box: int) -> Image.Image:
    with _PDFIUM_LOCK:
        document = pdfium.PdfDocument(data)
        try:
            page = document[0]
            try:
                width, height = page.get_size()
                bitmap = page.render(scale=box / max(width, height, 1))
                try:
                    return bitmap.to_pil().copy()
                finally:
                    bitmap.close()
            finally:
                page.close()
        finally:
            document.close()


# --- images -------------------------------------------------------------------------------------------------

def _inspect_image(data: bytes, kind: str, max_pixels: int) -> tuple[int, int]:
    if b"%PDF-" in data[:_PDF_HEADER_WINDOW]:
        raise Rejected(_HIDDEN_FILE)
    try:
        width, height, end = _png_extent(data) if kind == "png" else _jpeg_extent(data)
        if kind == "png":
            trailing_is_content = end < len(data)
        else:
            trailing_is_content = _jpeg_trailing_is_content(data, end)
    except _Damaged as error:
        raise Rejected(_damaged(kind)) from error
    if trailing_is_content:
        raise Rejected(_HIDDEN_FILE)
    # Judged from the header alone, before Pillow allocates or decodes anything: the decompression-bomb defence.
    if width * height > max_pixels:
        raise Rejected(f"This image is too large: {_megapixels(width * height)} megapixels, the limit is "
                       f"{_megapixels(max_pixels)} megapixels. Please scan or export it at a lower resolution.")
    # WeasyPrint sets this Pillow-wide switch on when it is imported; a cut-off upload must never pass as whole.
    ImageFile.LOAD_TRUNCATED_IMAGES = False
    try:
        with _open_image(data) as image:
            if image.size != (width, height):
                raise _Damaged
            if image.format == "JPEG":
                # Scaled decoding still reads every byte of the scan, so a cut-off file is still noticed.
                image.draft(image.mode, (max(width // 8, 1), max(height // 8, 1)))
            image.load()
    except (_Damaged, OSError, ValueError, SyntaxError, EOFError, Image.DecompressionBombError) as error:
        raise Rejected(_damaged(kind)) from error
    return width, height


def _open_image(data: bytes) -> Image.Image:
    return Image.open(io.BytesIO(data), formats=["JPEG", "PNG"])


def _damaged(kind: str) -> str:
    if kind == "pdf":
        return _DAMAGED_PDF
    return (f"This {kind.upper()} image is damaged or incomplete. Please save or scan it again and upload "
            "the new copy.")


def _megapixels(pixels: int) -> str:
    return f"{pixels / 1_000_000:,.1f}".removesuffix(".0")


def _png_extent(data: bytes) -> tuple[int, int, int]:
    """Width, height and the offset just past the IEND chunk, from the chunk structure alone."""
    position, width, height = len(_PNG_SIGNATURE), None, None
    while True:
        if position + 12 > len(data):
            raise _Damaged
        length = int.from_bytes(data[position:position + 4], "big")
        chunk_type = data[position + 4:position + 8]
        body = position + 8
        position = body + length + 4
        if position > len(data):
            raise _Damaged
        if chunk_type == b"IHDR":
            if length != 13:
                raise _Damaged
            width = int.from_bytes(data[body:body + 4], "big")
            height = int.from_bytes(data[body + 4:body + 8], "big")
        elif width is None:
            raise _Damaged  # IHDR must come first
        if chunk_type == b"IEND":
            return width, height, position


def _jpeg_extent(data: bytes, start: int = 0) -> tuple[int, int, int]:
    """Width, height and the offset just past the EOI marker of the JPEG stream at `start`, found by walking
    its segments and the scans between them, so an end marker inside appended data cannot fool it."""
    position, size = start + 2, None
    while True:
        if position >= len(data) or data[position] != 0xFF:
            raise _Damaged
        while position < len(data) and data[position] == 0xFF:
            position += 1
        if position >= len(data):
            raise _Damaged
        marker = data[position]
        position += 1
        if marker == 0xD9:
            if not size or 0 in size:
                raise _Damaged
            return size[0], size[1], position
        if 0xD0 <= marker <= 0xD7 or marker == 0x01:
            continue
        if position + 2 > len(data):
            raise _Damaged
        length = int.from_bytes(data[position:position + 2], "big")
        if length < 2 or position + length > len(data):
            raise _Damaged
        if 0xC0 <= marker <= 0xCF and marker not in (0xC4, 0xC8, 0xCC) and size is None:
            if length < 7:
                raise _Damaged
            height = int.from_bytes(data[position + 3:position + 5], "big")
            width = int.from_bytes(data[position + 5:position + 7], "big")
            size = (width, height)
        position += length
        if marker == 0xDA:
            position = _end_of_scan(data, position)


def _end_of_scan(data: bytes, position: int) -> int:
    """The offset of the first marker after entropy-coded data."""
    found = _MARKER_AFTER_SCAN.search(data, position)
    if found is None:
        raise _Damaged
    return found.start()


def _jpeg_trailing_is_content(data: bytes, end: int) -> bool:
    """True when something other than padding follows the image. Phones append further complete JPEGs
    (MPF stereo pairs, depth maps, HDR gain maps) after the first; those are still one photo, not a
    second file, so each is walked and skipped."""
    while True:
        end = _JPEG_PADDING_RUN.match(data, end).end()
        if end == len(data):
            return False
        # The padding run swallowed the 0xFF of a following start-of-image marker.
        if not (data[end - 1] == 0xFF and data.startswith(b"\xd8\xff", end)):
            return True
        try:
            end = _jpeg_extent(data, end - 1)[2]
        except _Damaged:
            return True


def _has_alpha(image: Image.Image) -> bool:
    return image.mode in ("RGBA", "LA", "PA", "RGBa", "La") or "transparency" in image.info


def _opaque(data: bytes) -> bytes:
    """The PNG as it is, or, if it has transparency, redrawn on white: a packet page then looks the same in
    every viewer and printer, and img2pdf refuses some alpha layouts outright. Orientation is applied
    first, since the redrawn copy loses EXIF."""
    with _open_image(data) as image:
        if not _has_alpha(image):
            return data
        upright = ImageOps.exif_transpose(image).convert("RGBA")
    flat = Image.new("RGB", upright.size, "white")
    flat.paste(upright, mask=upright.getchannel("A"))
    out = io.BytesIO()
    flat.save(out, format="PNG")
    return out.getvalue()
