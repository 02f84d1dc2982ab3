"""An uploaded image as a packet page: upright as the preview shows it, never re-encoded.

A photo's EXIF orientation says how its stored pixels must be turned, or mirrored, to be seen the right way
up; the preview (Pillow's `ImageOps.exif_transpose`) applies all eight. A PDF page can be rotated (/Rotate)
but never mirrored, so instead the page draws the image through a `cm` matrix that does both, and the image
itself is the uploaded JPEG byte for byte (img2pdf embeds it as DCTDecode; a PNG keeps its compressed rows).

The page is A4, portrait or landscape as the upright image is, with the image fitted to it; a scan of a page
then fills a page. A requirement that states a print size (a visa photo is 33 × 48 mm) is printed at that
size instead, in the middle of a portrait A4 page with a caption saying so: a photo of a few hundred pixels
blown up to a whole page tells a consulate nothing about the photo the applicant will hand in.
"""
from __future__ import annotations

import io

import img2pdf
import pikepdf
from PIL import Image

MM = 72 / 25.4
A4 = (210 * MM, 297 * MM)
CAPTION_SIZE = 8.0  # points
_CAPTION_GAP = 6 * MM  # between the foot of the photo and the caption's baseline

_EXIF_ORIENTATION = 0x0112
# For each EXIF orientation, where the image's unit square (u to the right, v upwards, as PDF draws an image)
# lands in the upright picture, as a PDF matrix (a b c d e f): u' = a·u + c·v + e, v' = b·u + d·v + f.
# 2 and 4 mirror, 3 turns half way, 5 and 7 mirror across a diagonal, 6 and 8 turn a quarter.
_UPRIGHT = {
    1: (1, 0, 0, 1, 0, 0), 2: (-1, 0, 0, 1, 1, 0), 3: (-1, 0, 0, -1, 1, 1), 4: (1, 0, 0, -1, 0, 1),
    5: (0, -1, -1, 0, 1, 1), 6: (0, -1, 1, 0, 0, 1), 7: (0, 1, 1, 0, 0, 0), 8: (0, 1, -1, 0, 1, 0),
}
_QUARTER_TURNS = (5, 6, 7, 8)  # the upright picture is the stored one's height wide

# img2pdf only embeds; rotation is ours (it could not mirror), and fitting to A4 keeps it from refusing a
# large image at a low resolution as a page too big for PDF.
_IMG2PDF_OPTIONS = {
    "rotation": img2pdf.Rotation.none,
    "layout_fun": img2pdf.get_layout_fun(pagesize=A4, fit=img2pdf.FitMode.into),
    "first_frame_only": True,
}
IMG2PDF_ERRORS = (
    img2pdf.AlphaChannelError, img2pdf.ImageOpenError, img2pdf.JpegColorspaceError, img2pdf.UnsupportedColorspaceError,
    img2pdf.NegativeDimensionError, img2pdf.PdfTooLargeError, img2pdf.ExifOrientationError,
)


def orientation_of(image: Image.Image) -> int:
    """The EXIF orientation as `ImageOps.exif_transpose` reads it (EXIF, else XMP); 1 when absent or invalid."""
    value = image.getexif().get(_EXIF_ORIENTATION, 1)
    return value if isinstance(value, int) and value in _UPRIGHT else 1


def image_page(data: bytes, *, print_size_mm: tuple[float, float] | None = None) -> bytes:
    """One PDF page showing a JPEG or opaque PNG upright: fitted to A4, or at `print_size_mm` (width, height)
    with a caption. The image keeps its aspect ratio; at a print size it is fitted inside that box, and
    the caption gives the size it is printed at. Raises img2pdf's errors (`IMG2PDF_ERRORS`), `OSError` or
    `ValueError` for an image it cannot read."""
    with Image.open(io.BytesIO(data), formats=["JPEG", "PNG"]) as image:
        orientation, (width, height) = orientation_of(image), image.size
    upright = (height, width) if orientation in _QUARTER_TURNS else (width, height)
    if print_size_mm is None:
        page = A4 if upright[1] >= upright[0] else (A4[1], A4[0])
        box, caption = _fit(upright, (0, 0, *page)), None
    else:
        page = A4
        wanted = (print_size_mm[0] * MM, print_size_mm[1] * MM)
        box = _fit(upright, ((page[0] - wanted[0]) / 2, (page[1] - wanted[1]) / 2, *wanted))
        caption = _caption(box, print_size_mm)
    with pikepdf.open(io.BytesIO(img2pdf.convert(data, **_IMG2PDF_OPTIONS))) as pdf:
        pdf_page = pdf.pages[0]
        [name] = list(pdf_page.Resources.XObject.keys())
        pdf_page.obj.MediaBox = pikepdf.Array([0, 0, *(round(side, 3) for side in page)])
        for key in ("/CropBox", "/Rotate"):
            if key in pdf_page.obj:
                del pdf_page.obj[key]
        ops = f"q {_matrix(orientation, box)} cm {name} Do Q\n"
        if caption is not None:
            pdf_page.Resources.Font = pikepdf.Dictionary(F1=pdf.make_indirect(pikepdf.Dictionary(
                Type=pikepdf.Name.Font, Subtype=pikepdf.Name.Type1, BaseFont=pikepdf.Name.Helvetica,
                Encoding=pikepdf.Name.WinAnsiEncoding)))
            text, x, y = caption
            ops += f"BT 0.2 0.2 0.2 rg /F1 {CAPTION_SIZE:g} Tf {x:.2f} {y:.2f} Td {_literal(text)} Tj ET\n"
        pdf_page.obj.Contents = pdf.make_stream(ops.encode("latin-1"))
        out = io.BytesIO()
        pdf.save(out)
        return out.getvalue()


def _fit(size: tuple[int, int], box: tuple[float, float, float, float]) -> tuple[float, float, float, float]:
    """The largest rectangle of the image's aspect ratio inside `box` (x, y, width, height), centred in it."""
    x, y, box_width, box_height = box
    scale = min(box_width / size[0], box_height / size[1])
    width, height = size[0] * scale, size[1] * scale
    return x + (box_width - width) / 2, y + (box_height - height) / 2, width, height


def _matrix(orientation: int, box: tuple[float, float, float, float]) -> str:
    a, b, c, d, e, f = _UPRIGHT[orientation]
    x, y, width, height = box
    values = (width * a, height * b, width * c, height * d, x + width * e, y + height * f)
    return " ".join(f"{value:.4f}".rstrip("0").rstrip(".") or "0" for value in values)


def _caption(box: tuple[float, float, float, float], print_size_mm: tuple[float, float]) -> tuple[str, float, float]:
    """The caption under a photo printed at a stated size, and where its baseline starts (centred roughly:
    Helvetica averages about 0.44 em per character of such text)."""
    x, y, width, height = box
    printed = f"{_mm(width / MM)} \u00d7 {_mm(height / MM)} mm"
    required = f"{_mm(print_size_mm[0])} \u00d7 {_mm(print_size_mm[1])} mm"
    if printed == required:
        text = f"Printed at actual size: {printed} (width \u00d7 height)."
    else:
        text = f"Printed at actual size: {printed} (width \u00d7 height), within the required {required}."
    return text, x + width / 2 - len(text) * CAPTION_SIZE * 0.22, y - _CAPTION_GAP


def _mm(value: float) -> str:
    return f"{value:.1f}".removesuffix(".0")


def _literal(text: str) -> str:
    escaped = text.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)")
    return f"({escaped})"
