"""Rule-set files: the real one loads with a status and sources on every parameter; a broken one is refused
with a message naming the file and the field; the version in force on a date is the latest one.

Plain unit tests: no app, no database. Broken variants start from the real file's text.
"""
from __future__ import annotations

import datetime as dt
import re
from pathlib import Path

import pytest

from advisor.eligibility import RuleSetError, current_rule_set, load_rule_sets, parse_rule_set
from advisor.eligibility.rules import SECTIONS, STATUSES

ROOT = Path(__file__).resolve().parent.parent
RULES_FOLDER = ROOT / "rules"
REAL = "k-2025-10.toml"
TEXT = (RULES_FOLDER / REAL).read_text(encoding="utf-8")


def mutate(old: str, new: str, *, section: str | None = None, text: str = TEXT) -> str:
    """Replace `old` exactly once: the first occurrence after the `[section]` header, if one is given."""
    start = text.index(f"\n[{section}]\n") if section else 0
    where = text.index(old, start)
    if section is None:
        assert text.count(old) == 1, f"{old!r} is ambiguous in {REAL}"
    return text[:where] + new + text[where + len(old):]


def drop_section(section: str) -> str:
    start = TEXT.index(f"\n[{section}]\n")
    end = TEXT.find("\n[", start + 1)
    return TEXT[:start] + (TEXT[end:] if end != -1 else "\n")


# The real file ---------------------------------------------------------------------------------------------

def test_the_real_rule_set_loads() -> None:
    rule_sets = load_rule_sets(RULES_FOLDER)
    assert "k-2025-10" in rule_sets
    rules = rule_sets["k-2025-10"]
    assert rules.path == REAL
    assert rules.effective_from == dt.date(2025, 10, 1)
    assert rules.title
    assert (rules.age.min, rules.age.max, rules.age.status) == (18, 45, "reported")
    assert (rules.minimum_degree.level, rules.minimum_degree.status) == ("bachelor", "official")
    assert (rules.stem_fields.codes, rules.stem_fields.status) == (("05", "06", "07"), "assumed")
    assert (rules.renowned_institution.policy, rules.renowned_institution.status) == ("registry", "assumed")
    assert (rules.teaching_research_path.roles, rules.teaching_research_path.status) == (
        ("teaching", "research"), "official")
    assert rules.no_sponsor.status == "official"


def test_every_real_parameter_has_a_status_and_sources() -> None:
    for rules in load_rule_sets(RULES_FOLDER).values():
        parameters = rules.parameters()
        assert tuple(parameters) == SECTIONS
        for name, parameter in parameters.items():
            assert parameter.status in STATUSES, f"{rules.path}: {name}"
            assert len(parameter.sources) >= 1, f"{rules.path}: {name}"
            for source in parameter.sources:
                assert source.title.strip(), f"{rules.path}: {name}"
                assert source.date is None or isinstance(source.date, dt.date)


def test_parse_rule_set_reads_text_under_a_file_name() -> None:
    rules = parse_rule_set(TEXT, REAL)
    assert (rules.id, rules.path) == ("k-2025-10", REAL)
    assert rules == load_rule_sets(RULES_FOLDER)["k-2025-10"]


# Broken files ----------------------------------------------------------------------------------------------

# (id, file name, text, fragments the message must contain after "FILE: ")
BROKEN = [
    ("invalid-toml", REAL, mutate("min = 18", "min = = 18"), ("not valid TOML", "line 10")),
    ("missing-id", REAL, mutate('id = "k-2025-10"\n', ""), ("id: is missing",)),
    ("id-as-number", REAL, mutate('id = "k-2025-10"', "id = 2025"), ("id: must be text",)),
    ("id-not-matching-file-name", REAL, mutate('id = "k-2025-10"', 'id = "k-2025-11"'),
     ("id: must match the file name", "'k-2025-11'")),
    ("file-name-not-matching-id", "k-2025-11.toml", TEXT, ("id: must match the file name ('k-2025-11')",)),
    ("missing-title", REAL, mutate('title = "K visa', 'name = "K visa'), ("title: is missing",)),
    ("missing-effective-from", REAL, mutate("effective_from = 2025-10-01\n", ""), ("effective_from: is missing",)),
    ("effective-from-with-a-time", REAL, mutate("effective_from = 2025-10-01", "effective_from = 2025-10-01T09:00:00"),
     ("effective_from: must be a date without a time",)),
    ("effective-from-with-an-offset", REAL,
     mutate("effective_from = 2025-10-01", "effective_from = 2025-10-01T00:00:00+08:00"),
     ("effective_from: must be a date without a time",)),
    ("effective-from-as-text", REAL, mutate("effective_from = 2025-10-01", 'effective_from = "2025-10-01"'),
     ("effective_from: must be a date",)),
    ("missing-age-section", REAL, drop_section("age"), ("[age]: is missing",)),
    ("age-min-above-max", REAL, mutate("min = 18", "min = 46"), ("age: needs 0 < min <= max", "min=46 max=45")),
    ("age-min-zero", REAL, mutate("min = 18", "min = 0"), ("age: needs 0 < min",)),
    ("age-max-as-text", REAL, mutate("max = 45", 'max = "45"'), ("age.max: must be a whole number",)),
    ("age-max-as-float", REAL, mutate("max = 45", "max = 45.0"), ("age.max: must be a whole number",)),
    ("age-min-as-boolean", REAL, mutate("min = 18", "min = true"), ("age.min: must be a whole number",)),
    ("age-missing-max", REAL, mutate("max = 45\n", ""), ("age.max: is missing",)),
    ("bad-status", REAL, mutate('status = "reported"', 'status = "rumoured"'),
     ("age.status: must be one of official, reported, assumed", "'rumoured'")),
    ("missing-status", REAL, mutate('status = "official"\n', "", section="no_sponsor"),
     ("no_sponsor.status: is missing",)),
    ("empty-sources", REAL, mutate("sources = [", "sources = [] \nignored = [", section="minimum_degree"),
     ("minimum_degree.sources: needs at least one source",)),
    ("missing-sources", REAL, mutate("sources = [", "references = [", section="stem_fields"),
     ("stem_fields.sources: is missing",)),
    ("source-not-a-table", REAL, mutate("sources = [\n", 'sources = [\n  "a bare title",\n', section="no_sponsor"),
     ("no_sponsor.sources[0]: must be a table",)),
    ("source-without-title", REAL,
     mutate('{ title = "World Journal report on K-visa conditions", date = 2025-11-24 }', "{ date = 2025-11-24 }"),
     ("age.sources[0].title: is missing",)),
    ("second-source-without-title", REAL,
     mutate('{ title = "Joint Q&A (MoJ, MFA, MPS, NIA): conditions cover age', '{ note = "Joint Q&A'),
     ("age.sources[1].title: is missing",)),
    ("source-date-as-text", REAL, mutate("date = 2025-11-24", 'date = "24 Nov 2025"'),
     ("age.sources[0].date: must be a date",)),
    ("unknown-minimum-degree-level", REAL, mutate('level = "bachelor"', 'level = "diploma"'),
     ("minimum_degree.level: must be one of bachelor, master, doctorate", "'diploma'")),
    ("minimum-degree-level-other", REAL, mutate('level = "bachelor"', 'level = "other"'),
     ("minimum_degree.level: must be one of",)),
    ("stem-codes-not-digits", REAL, mutate('codes = ["05", "06", "07"]', 'codes = ["05", "six", "07"]'),
     ("stem_fields.codes: must list ISCED-F 2013 codes",)),
    ("stem-codes-too-long", REAL, mutate('codes = ["05", "06", "07"]', 'codes = ["05331"]'),
     ("stem_fields.codes: must list ISCED-F 2013 codes",)),
    ("stem-codes-as-numbers", REAL, mutate('codes = ["05", "06", "07"]', "codes = [5, 6, 7]"),
     ("stem_fields.codes: must list ISCED-F 2013 codes",)),
    ("stem-codes-empty", REAL, mutate('codes = ["05", "06", "07"]', "codes = []"),
     ("stem_fields.codes: must list ISCED-F 2013 codes",)),
    ("stem-codes-as-text", REAL, mutate('codes = ["05", "06", "07"]', 'codes = "05, 06, 07"'),
     ("stem_fields.codes: must be a list",)),
    ("unknown-renowned-policy", REAL, mutate('policy = "registry"', 'policy = "reputation"'),
     ("renowned_institution.policy: must be one of registry, rank", "'reputation'")),
    ("rank-policy-without-threshold", REAL,
     mutate("rank_threshold = 500\n", "", text=mutate('policy = "registry"', 'policy = "rank"')),
     ("renowned_institution.rank_threshold: is missing",)),
    ("rank-threshold-zero", REAL, mutate("rank_threshold = 500", "rank_threshold = 0"),
     ("renowned_institution.rank_threshold: must be 1 or more",)),
    ("rank-threshold-as-text", REAL, mutate("rank_threshold = 500", 'rank_threshold = "top 500"'),
     ("renowned_institution.rank_threshold: must be a whole number",)),
    ("unknown-role", REAL, mutate('roles = ["teaching", "research"]', 'roles = ["teaching", "mentoring"]'),
     ("teaching_research_path.roles: must list teaching and/or research",)),
    ("role-other", REAL, mutate('roles = ["teaching", "research"]', 'roles = ["research", "other"]'),
     ("teaching_research_path.roles: must list teaching and/or research",)),
    ("roles-empty", REAL, mutate('roles = ["teaching", "research"]', "roles = []"),
     ("teaching_research_path.roles: must list teaching and/or research",)),
    ("section-as-value", REAL,
     mutate('id = "k-2025-10"', 'no_sponsor = "yes"\nid = "k-2025-10"', text=drop_section("no_sponsor")),
     ("[no_sponsor]: must be a table",)),
    ("missing-no-sponsor-section", REAL, drop_section("no_sponsor"), ("[no_sponsor]: is missing",)),
]


@pytest.mark.parametrize(("filename", "text", "fragments"), [case[1:] for case in BROKEN],
                         ids=[case[0] for case in BROKEN])
def test_a_broken_file_is_refused_naming_the_file_and_the_field(tmp_path: Path, filename: str, text: str,
                                                                 fragments: tuple[str, ...]) -> None:
    assert text != TEXT or filename != REAL
    (tmp_path / filename).write_text(text, encoding="utf-8")
    with pytest.raises(RuleSetError) as caught:
        load_rule_sets(tmp_path)
    message = str(caught.value)
    assert message.startswith(f"{filename}: {fragments[0]}"), message
    for fragment in fragments[1:]:
        assert fragment in message, message


def test_a_broken_file_beside_a_good_one_is_named(tmp_path: Path) -> None:
    (tmp_path / REAL).write_text(TEXT, encoding="utf-8")
    later = mutate('id = "k-2025-10"', 'id = "k-2026-06"',
                   text=mutate("effective_from = 2025-10-01", "effective_from = 2026-06-01", text=mutate(
                       "max = 45", 'max = "forty"')))
    (tmp_path / "k-2026-06.toml").write_text(later, encoding="utf-8")
    with pytest.raises(RuleSetError, match=r"^k-2026-06\.toml: age\.max: "):
        load_rule_sets(tmp_path)


def test_two_versions_with_the_same_effective_date_are_refused(tmp_path: Path) -> None:
    (tmp_path / REAL).write_text(TEXT, encoding="utf-8")
    (tmp_path / "k-2026-06.toml").write_text(mutate('id = "k-2025-10"', 'id = "k-2026-06"'), encoding="utf-8")
    with pytest.raises(RuleSetError) as caught:
        load_rule_sets(tmp_path)
    assert str(caught.value) == "k-2026-06.toml: effective_from: same date as k-2025-10.toml"


def test_an_empty_folder_is_refused(tmp_path: Path) -> None:
    (tmp_path / "README.md").write_text("Rule sets go here.\n", encoding="utf-8")
    with pytest.raises(RuleSetError) as caught:
        load_rule_sets(tmp_path)
    assert str(caught.value).startswith(f"{tmp_path}: no rule-set files")


def test_a_file_that_is_not_utf8_is_refused_naming_the_file(tmp_path: Path) -> None:
    (tmp_path / REAL).write_bytes(TEXT.encode("utf-8").replace(b"K visa", b"K \xe9visa", 1))
    with pytest.raises(RuleSetError, match=r"^k-2025-10\.toml: not valid UTF-8"):
        load_rule_sets(tmp_path)


def test_only_toml_files_are_read(tmp_path: Path) -> None:
    (tmp_path / REAL).write_text(TEXT, encoding="utf-8")
    (tmp_path / "notes.txt").write_text("not a rule set", encoding="utf-8")
    (tmp_path / "k-2025-10.toml.bak").write_text("broken = = =", encoding="utf-8")
    assert list(load_rule_sets(tmp_path)) == ["k-2025-10"]


# The version in force ----------------------------------------------------------------------------------------

def test_current_rule_set_is_the_latest_in_force(tmp_path: Path) -> None:
    (tmp_path / REAL).write_text(TEXT, encoding="utf-8")
    later = mutate('id = "k-2025-10"', 'id = "k-2026-06"',
                   text=mutate("effective_from = 2025-10-01", "effective_from = 2026-06-01",
                               text=mutate("max = 45", "max = 40")))
    (tmp_path / "k-2026-06.toml").write_text(later, encoding="utf-8")
    rule_sets = load_rule_sets(tmp_path)
    assert sorted(rule_sets) == ["k-2025-10", "k-2026-06"]
    assert rule_sets["k-2026-06"].age.max == 40

    def in_force(day: dt.date) -> str:
        return current_rule_set(rule_sets, day).id

    assert in_force(dt.date(2025, 10, 1)) == "k-2025-10"
    assert in_force(dt.date(2026, 5, 31)) == "k-2025-10"
    assert in_force(dt.date(2026, 6, 1)) == "k-2026-06"
    assert in_force(dt.date(2030, 1, 1)) == "k-2026-06"
    # Before the first version: the earliest one, rather than nothing.
    assert in_force(dt.date(2025, 9, 30)) == "k-2025-10"


def test_current_rule_set_does_not_depend_on_file_order(tmp_path: Path) -> None:
    for version, effective in (("k-2025-10", "2025-10-01"), ("k-2026-06", "2026-06-01"), ("a-2027-01", "2027-01-01")):
        text = mutate('id = "k-2025-10"', f'id = "{version}"',
                      text=mutate("effective_from = 2025-10-01", f"effective_from = {effective}"))
        (tmp_path / f"{version}.toml").write_text(text, encoding="utf-8")
    rule_sets = load_rule_sets(tmp_path)
    assert current_rule_set(rule_sets, dt.date(2026, 12, 31)).id == "k-2026-06"
    assert current_rule_set(rule_sets, dt.date(2027, 1, 1)).id == "a-2027-01"


@pytest.mark.parametrize(("old", "new", "field"), [
    ('note = "No official age limit', 'nota = "No official age limit', "age.nota"),
    ("min = 18", "minimum = 18\nmin = 18", "age.minimum"),
    ('id = "k-2025-10"', 'id = "k-2025-10"\nauthor = "x"', "author"),
])
def test_unknown_keys_are_refused(tmp_path, old, new, field):
    source = (Path(__file__).resolve().parent.parent / "rules" / "k-2025-10.toml").read_text()
    assert old in source
    with pytest.raises(RuleSetError, match=rf"^k-2025-10\.toml: {re.escape(field)}: is not a known field"):
        parse_rule_set(source.replace(old, new, 1), "k-2025-10.toml")
