"""ISCED-F 2013 fields of education and training (UNESCO), from `data/isced_f_2013.csv`."""
from __future__ import annotations

import csv
from functools import cache
from importlib import resources


@cache
def fields() -> dict[str, str]:
    """Every code (2-digit broad and 4-digit detailed) with its name, in the classification's order."""
    text = (resources.files("advisor") / "data" / "isced_f_2013.csv").read_text(encoding="utf-8")
    return {row["code"]: row["name"] for row in csv.DictReader(text.splitlines())}


def name(code: str | None) -> str:
    return fields().get(code or "", "")


def is_detailed(code: str) -> bool:
    return len(code) == 4 and code in fields()


def grouped_choices() -> list[tuple[str, str, str]]:
    """(code, "0533 Physics", broad field name) for every detailed field, for a select with groups."""
    everything = fields()
    return [(code, f"{code} {label}", everything[code[:2]]) for code, label in everything.items() if len(code) == 4]
