"""The consulates cases are filed at, read from `data/consulates.toml` and checked at start."""
from __future__ import annotations

import tomllib
from dataclasses import dataclass
from functools import cache
from importlib import resources

from . import countries


@dataclass(frozen=True)
class Consulate:
    code: str
    name: str
    city: str
    country: str

    @property
    def label(self) -> str:
        return f"{self.city} — {self.name}"


class ConsulateDataError(RuntimeError):
    pass


@cache
def all_consulates() -> dict[str, Consulate]:
    source = resources.files("advisor") / "data" / "consulates.toml"
    data = tomllib.loads(source.read_text(encoding="utf-8"))
    found: dict[str, Consulate] = {}
    for index, entry in enumerate(data.get("consulate", [])):
        try:
            consulate = Consulate(**{key: str(entry[key]) for key in ("code", "name", "city", "country")})
        except KeyError as missing:
            raise ConsulateDataError(f"consulates.toml: entry {index + 1} has no {missing}") from None
        if not countries.is_valid(consulate.country):
            raise ConsulateDataError(f"consulates.toml: {consulate.code} has unknown country "
                                     f"{consulate.country!r}")
        if consulate.code in found:
            raise ConsulateDataError(f"consulates.toml: code {consulate.code} appears twice")
        found[consulate.code] = consulate
    return found


def choices() -> list[tuple[str, str]]:
    return sorted(((c.code, c.label) for c in all_consulates().values()), key=lambda pair: pair[1])


def get(code: str) -> Consulate | None:
    return all_consulates().get(code)
