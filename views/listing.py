"""Shared handling of list pages: search term, sort key and page from the query string, and exports."""
from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from flask import current_app, request
from flask_sqlalchemy.pagination import Pagination
from sqlalchemy import Select

from advisor.database import READ_ONLY
from models import db


@dataclass(frozen=True)
class ListArgs:
    q: str
    sort: str

    def link_args(self, **overrides: Any) -> dict[str, Any]:
        """Query arguments for links that keep the current search and sort."""
        args = {"q": self.q or None, "sort": self.sort, **{k: v for k, v in request.args.items()
                                                          if k not in ("q", "sort", "page")}}
        args.update(overrides)
        return {k: v for k, v in args.items() if v not in (None, "")}


def list_args(default_sort: str) -> ListArgs:
    return ListArgs(q=request.args.get("q", "").strip()[:100], sort=request.args.get("sort", default_sort)[:30])


# Far beyond any real list; a bigger page number would overflow the database's OFFSET (a 500).
MAX_PAGE = 100_000


def paginate(query: Select[Any], per_page: int | None = None) -> Pagination:
    page = request.args.get("page", 1, type=int)
    return db.paginate(query, page=min(page, MAX_PAGE), per_page=per_page or current_app.config["PAGE_SIZE"],
                       max_per_page=100, error_out=False)


def in_own_context(chunks: Iterator[str]) -> Iterator[str]:
    """A streamed body, produced in an app context (so a database session) of its own, as the server
    reads the body after the request's context is gone; its transaction only reads, so on SQLite it
    holds no write lock however slowly the client downloads."""
    app = current_app._get_current_object()  # type: ignore[attr-defined]

    def produce() -> Iterator[str]:
        with app.app_context():
            db.session.connection(execution_options=READ_ONLY)
            yield from chunks

    return produce()
