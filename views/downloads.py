"""Sending stored files and built PDFs: never cached, and as attachments unless we made the bytes ourselves."""
from __future__ import annotations

import io
from typing import BinaryIO

from flask import send_file
from werkzeug.wrappers import Response

from advisor import filestore


def send(body: BinaryIO | bytes, *, mimetype: str, name: str | None = None) -> Response:
    """`name` given: an attachment under that (already safe) name; else inline, for our own thumbnails."""
    stream = io.BytesIO(body) if isinstance(body, bytes) else body
    response = send_file(stream, mimetype=mimetype, as_attachment=name is not None, download_name=name, max_age=0)
    response.headers["Cache-Control"] = "private, no-store"
    return response


def send_stored(key: str, *, mimetype: str, name: str | None = None) -> Response:
    """A stored file; raises storage.MissingFile when the storage has lost it, for the view to explain."""
    return send(filestore.current().open(key), mimetype=mimetype, name=name)
