"""The document checklist as data: `data/checklist.toml`, validated when the app starts.

Which documents a case needs follows from its pathway, whether the applicant lives outside their country of
nationality, and the consulate's profile. `requirements_for` answers that; `advisor.documents` keeps each
case's checklist rows in step with it.
"""
from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from functools import cache
from importlib import resources
from typing import Any

STATUSES = ("official", "reported", "assumed")
CONDITIONS = ("always", "degree_path", "research_path", "residence_differs", "optional")
FIELDS = ("number", "issued_on", "expires_on", "language", "translation")
RULES = {"valid_months_after_submission": int, "taken_within_months": int, "valid_on_submission": bool}
PATHWAYS = ("degree", "research", "both")
# A print size must leave room on an A4 page for the margins, the caption and the packet's stamp.
PRINT_SIZE_MAX_MM = (180.0, 250.0)


class ChecklistError(ValueError):
    """The checklist file is malformed; the message names the entry and the field."""


@dataclass(frozen=True)
class Requirement:
    code: str
    title: str
    title_zh: str
    order: int
    required_when: str
    status: str
    instructions: str
    instructions_zh: str
    fields: tuple[str, ...]
    sources: tuple[str, ...]
    rules: dict[str, Any] = field(default_factory=dict, hash=False, compare=False)
    print_size_mm: tuple[float, float] | None = None  # width, height: images are printed at this size


@dataclass(frozen=True)
class ConsulateProfile:
    code: str
    add: tuple[str, ...] = ()
    optional: tuple[str, ...] = ()
    order: tuple[str, ...] = ()
    note: str = ""


@dataclass(frozen=True)
class Checklist:
    version: str
    requirements: dict[str, Requirement]
    profiles: dict[str, ConsulateProfile]

    def get(self, code: str) -> Requirement | None:
        return self.requirements.get(code)


@dataclass(frozen=True)
class Needed:
    """One line of a case's checklist: the requirement, and whether it blocks readiness there."""

    requirement: Requirement
    required: bool
    position: int  # place in the packet, after the consulate's ordering


def _text(entry: dict[str, Any], key: str, where: str, *, default: str | None = None) -> str:
    value = entry.get(key, default)
    if not isinstance(value, str) or not value.strip():
        raise ChecklistError(f"checklist.toml: {where} needs a non-empty text `{key}`")
    return " ".join(value.split()) if "\n" in value else value


def _codes(entry: dict[str, Any], key: str, where: str, known: dict[str, Requirement]) -> tuple[str, ...]:
    value = entry.get(key, [])
    if not isinstance(value, list) or not all(isinstance(code, str) for code in value):
        raise ChecklistError(f"checklist.toml: {where}: `{key}` must be a list of requirement codes")
    for code in value:
        if code not in known:
            raise ChecklistError(f"checklist.toml: {where}: `{key}` names unknown requirement {code!r}")
    return tuple(value)


def _requirement(entry: dict[str, Any], index: int) -> Requirement:
    code = _text(entry, "code", f"requirement {index}")
    where = f"requirement {code!r}"
    unknown = set(entry) - {"code", "title", "title_zh", "order", "required_when", "status", "instructions",
                            "instructions_zh", "fields", "sources", "rules", "print_size_mm"}
    if unknown:
        raise ChecklistError(f"checklist.toml: {where} has unknown keys {sorted(unknown)}")
    if entry.get("required_when") not in CONDITIONS:
        raise ChecklistError(f"checklist.toml: {where}: `required_when` must be one of {', '.join(CONDITIONS)}")
    if entry.get("status") not in STATUSES:
        raise ChecklistError(f"checklist.toml: {where}: `status` must be one of {', '.join(STATUSES)}")
    order = entry.get("order")
    if not isinstance(order, int) or isinstance(order, bool):
        raise ChecklistError(f"checklist.toml: {where}: `order` must be a whole number")
    fields = entry.get("fields", [])
    if not isinstance(fields, list) or any(name not in FIELDS for name in fields):
        raise ChecklistError(f"checklist.toml: {where}: `fields` may only name {', '.join(FIELDS)}")
    sources = entry.get("sources")
    if not isinstance(sources, list) or not sources or not all(isinstance(s, str) and s for s in sources):
        raise ChecklistError(f"checklist.toml: {where}: `sources` must list at least one source")
    rules = entry.get("rules", {})
    for name, value in rules.items():
        kind = RULES.get(name)
        if kind is None:
            raise ChecklistError(f"checklist.toml: {where}: unknown rule {name!r}")
        if type(value) is not kind or (kind is int and value <= 0):
            raise ChecklistError(f"checklist.toml: {where}: rule {name!r} must be a positive "
                                 f"{'whole number' if kind is int else 'true or false'}")
    needs = {"valid_months_after_submission": "expires_on", "valid_on_submission": "expires_on",
             "taken_within_months": "issued_on"}
    for name in rules:
        if needs[name] not in fields:
            raise ChecklistError(f"checklist.toml: {where}: rule {name!r} needs the field {needs[name]!r}")
    return Requirement(
        code=code, title=_text(entry, "title", where), title_zh=_text(entry, "title_zh", where), order=order,
        required_when=entry["required_when"], status=entry["status"],
        instructions=_text(entry, "instructions", where), instructions_zh=_text(entry, "instructions_zh", where),
        fields=tuple(fields), sources=tuple(sources), rules=dict(rules), print_size_mm=_print_size(entry, where),
    )


def _print_size(entry: dict[str, Any], where: str) -> tuple[float, float] | None:
    value = entry.get("print_size_mm")
    if value is None:
        return None
    if (not isinstance(value, list) or len(value) != 2
            or not all(isinstance(side, int | float) and not isinstance(side, bool) for side in value)
            or not all(0 < side <= most for side, most in zip(value, PRINT_SIZE_MAX_MM, strict=True))):
        raise ChecklistError(f"checklist.toml: {where}: `print_size_mm` must be [width, height] in millimetres, "
                             f"at most {PRINT_SIZE_MAX_MM[0]:g} × {PRINT_SIZE_MAX_MM[1]:g}")
    return float(value[0]), float(value[1])


def parse(data: dict[str, Any]) -> Checklist:
    """A checklist from the file's data; raises ChecklistError naming what is wrong."""
    version = data.get("version")
    if not isinstance(version, str) or not version:
        raise ChecklistError("checklist.toml needs a `version`")
    requirements: dict[str, Requirement] = {}
    for index, entry in enumerate(data.get("requirement", []), start=1):
        requirement = _requirement(entry, index)
        if requirement.code in requirements:
            raise ChecklistError(f"checklist.toml: requirement {requirement.code!r} appears twice")
        requirements[requirement.code] = requirement
    if not requirements:
        raise ChecklistError("checklist.toml lists no requirements")
    profiles: dict[str, ConsulateProfile] = {}
    for entry in data.get("consulate", []):
        code = _text(entry, "code", "a consulate profile")
        where = f"consulate profile {code!r}"
        unknown = set(entry) - {"code", "add", "optional", "order", "note"}
        if unknown:
            raise ChecklistError(f"checklist.toml: {where} has unknown keys {sorted(unknown)}")
        profiles[code] = ConsulateProfile(
            code=code, add=_codes(entry, "add", where, requirements),
            optional=_codes(entry, "optional", where, requirements),
            order=_codes(entry, "order", where, requirements), note=str(entry.get("note", "")),
        )
    return Checklist(version=version, requirements=requirements, profiles=profiles)


@cache
def current() -> Checklist:
    source = resources.files("advisor") / "data" / "checklist.toml"
    return parse(tomllib.loads(source.read_text(encoding="utf-8")))


def _applies(requirement: Requirement, *, pathway: str, residence_differs: bool) -> bool | None:
    """True: required; False: offered as optional; None: not on this checklist."""
    condition = requirement.required_when
    if condition == "always":
        return True
    if condition == "optional":
        return False
    if condition == "degree_path":
        return True if pathway in ("degree", "both") else None
    if condition == "research_path":
        return True if pathway in ("research", "both") else None
    return True if residence_differs else None


def requirements_for(*, pathway: str, nationality: str, residence_country: str, consulate_code: str,
                     checklist: Checklist | None = None) -> list[Needed]:
    """A case's checklist, in packet order: the consulate's `order` first, then the file's order."""
    checklist = checklist or current()
    profile = checklist.profiles.get(consulate_code, ConsulateProfile(code=consulate_code))
    lines: list[Needed] = []
    for requirement in checklist.requirements.values():
        required = _applies(requirement, pathway=pathway, residence_differs=nationality != residence_country)
        if requirement.code in profile.add:
            required = True
        elif requirement.code in profile.optional and required is not None:
            required = False
        if required is None:
            continue
        first = profile.order.index(requirement.code) if requirement.code in profile.order else len(profile.order)
        lines.append(Needed(requirement, required, position=first * 10_000 + requirement.order))
    return sorted(lines, key=lambda line: line.position)
