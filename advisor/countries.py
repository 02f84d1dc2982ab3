"""Countries from ISO 3166-1 (pycountry), stored as alpha-2 codes."""
from __future__ import annotations

from functools import cache

import pycountry


@cache
def choices() -> list[tuple[str, str]]:
    """(alpha-2, common name) pairs sorted by name, for select fields."""
    countries = [(c.alpha_2, getattr(c, "common_name", c.name)) for c in pycountry.countries]
    return sorted(countries, key=lambda pair: pair[1])


@cache
def _names() -> dict[str, str]:
    return dict(choices())


def name(code: str | None) -> str:
    if not code:
        return ""
    return _names().get(code, code)


def is_valid(code: str) -> bool:
    return code in _names()
