"""The eligibility engine: a table over every criterion's boundaries, properties, and judgements.

Plain unit tests: no app, no database. The real rule set is loaded from `rules/`; variants of it are made
with `dataclasses.replace`.
"""
from __future__ import annotations

import ast
import calendar
import datetime as dt
import re
from dataclasses import dataclass, replace
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from advisor.eligibility import (
    DEGREE_LEVELS,
    ELIGIBLE,
    FAIL,
    NEEDS_REVIEW,
    NOT_ELIGIBLE,
    PASS,
    ROLES,
    TITLES,
    UNKNOWN,
    Criterion,
    Education,
    Inputs,
    Institution,
    Position,
    RuleSet,
    age_on,
    assess,
    load_rule_sets,
    outcome_of,
)
from advisor.eligibility.rules import STATUSES

ROOT = Path(__file__).resolve().parent.parent
RULES = load_rule_sets(ROOT / "rules")["k-2025-10"]
RANK_RULES = replace(RULES, renowned_institution=replace(RULES.renowned_institution, policy="rank",
                                                         rank_threshold=500))

CODES = ("age", "qualification", "stem_field", "renowned_institution", "no_sponsor")
DOUBTS = re.compile(r"unknown|judge|assumed|reported|official|\?", re.IGNORECASE)
SEVERITY = {ELIGIBLE: 0, NEEDS_REVIEW: 1, NOT_ELIGIBLE: 2}
ON = dt.date(2026, 1, 15)
BORN = dt.date(1995, 6, 15)  # aged 30 on ON
AWARDED = dt.date(2025, 6, 30)  # before every assessment date in the table

RENOWNED = Institution("Tsinghua University", "CN", renowned=True, rank=20, verified=True)
NOT_RENOWNED = Institution("Lakeside Community College", "US", renowned=False, rank=1800, verified=True)
UNVERIFIED = Institution("Institute Added By An Advisor", "DE", renowned=True, rank=10, verified=False)
UNJUDGED = Institution("Verified Institute Without Judgement", "FR", renowned=None, rank=None, verified=True)

FIELD_NAMES = {"05": "Natural sciences, mathematics and statistics", "0533": "Physics",
               "054": "Mathematics and statistics", "0613": "Software and applications development",
               "0713": "Electricity and energy", "03": "Social sciences, journalism and information",
               "0311": "Economics", "0811": "Crop and livestock production", "0912": "Medicine"}


def degree(level: str = "bachelor", code: str | None = "0533", *, at: Institution | None = RENOWNED,
           awarded: dt.date | None = AWARDED, pending: bool = False, ref: str = "education:1") -> Education:
    return Education(level=level, field_code=code, field_name=FIELD_NAMES.get(code or "", ""), institution=at,
                     awarded_on=awarded, pending=pending, ref=ref)


def position(role: str = "research", code: str | None = "0533", *, at: Institution | None = RENOWNED,
             start: dt.date | None = dt.date(2020, 9, 1), end: dt.date | None = None,
             ref: str = "position:1") -> Position:
    return Position(role=role, field_code=code, field_name=FIELD_NAMES.get(code or "", ""), institution=at,
                    started_on=start, ended_on=end, ref=ref)


def inputs(*records: Education | Position, born: dt.date | None = BORN) -> Inputs:
    return Inputs(born_on=born, education=tuple(r for r in records if isinstance(r, Education)),
                  positions=tuple(r for r in records if isinstance(r, Position)))


# The table -------------------------------------------------------------------------------------------

LETTERS = {"P": PASS, "F": FAIL, "U": UNKNOWN}


@dataclass(frozen=True)
class Case:
    id: str
    inputs: Inputs
    outcome: str
    results: str  # age, qualification, stem_field, renowned_institution as P/F/U; no_sponsor always passes
    pathway: str | None = "degree"
    on: dt.date = ON
    rules: RuleSet = RULES
    age: int | None = None  # the age the age criterion must state

    @property
    def expected(self) -> dict[str, str]:
        return {**dict(zip(CODES, (LETTERS[r] for r in self.results), strict=False)), "no_sponsor": PASS}


E, R, N = ELIGIBLE, NEEDS_REVIEW, NOT_ELIGIBLE
TR = "teaching_research"

CASES = [
    # Age: turning 18 (the reported lower limit).
    Case("age-17-day-before-18th-birthday", inputs(degree(), born=dt.date(2008, 1, 15)), R, "FPPP",
         on=dt.date(2026, 1, 14), age=17),
    Case("age-18-on-18th-birthday", inputs(degree(), born=dt.date(2008, 1, 15)), E, "PPPP",
         on=dt.date(2026, 1, 15), age=18),
    Case("age-18-day-after-18th-birthday", inputs(degree(), born=dt.date(2008, 1, 15)), E, "PPPP",
         on=dt.date(2026, 1, 16), age=18),
    # Age: turning 46 (the last day at 45 is inside, the first day at 46 outside).
    Case("age-45-day-before-46th-birthday", inputs(degree(), born=dt.date(1980, 1, 15)), E, "PPPP",
         on=dt.date(2026, 1, 14), age=45),
    Case("age-46-on-46th-birthday", inputs(degree(), born=dt.date(1980, 1, 15)), R, "FPPP",
         on=dt.date(2026, 1, 15), age=46),
    Case("age-46-day-after-46th-birthday", inputs(degree(), born=dt.date(1980, 1, 15)), R, "FPPP",
         on=dt.date(2026, 1, 16), age=46),
    Case("age-far-outside-window-is-still-only-review", inputs(degree(), born=dt.date(1950, 5, 5)), R, "FPPP",
         age=75),
    # Leap-day births: the birthday is 1 March in common years, 29 February in leap years.
    Case("leap-born-17-on-28-feb-common-year", inputs(degree(), born=dt.date(2008, 2, 29)), R, "FPPP",
         on=dt.date(2026, 2, 28), age=17),
    Case("leap-born-18-on-1-mar-common-year", inputs(degree(), born=dt.date(2008, 2, 29)), E, "PPPP",
         on=dt.date(2026, 3, 1), age=18),
    Case("leap-born-45-on-28-feb-common-year", inputs(degree(), born=dt.date(1980, 2, 29)), E, "PPPP",
         on=dt.date(2026, 2, 28), age=45),
    Case("leap-born-46-on-1-mar-common-year", inputs(degree(), born=dt.date(1980, 2, 29)), R, "FPPP",
         on=dt.date(2026, 3, 1), age=46),
    Case("leap-born-31-on-28-feb-leap-year", inputs(degree(), born=dt.date(1996, 2, 29)), E, "PPPP",
         on=dt.date(2028, 2, 28), age=31),
    Case("leap-born-32-on-29-feb-leap-year", inputs(degree(), born=dt.date(1996, 2, 29)), E, "PPPP",
         on=dt.date(2028, 2, 29), age=32),
    Case("leap-born-32-on-1-mar-leap-year", inputs(degree(), born=dt.date(1996, 2, 29)), E, "PPPP",
         on=dt.date(2028, 3, 1), age=32),
    Case("born-1-mar-17-on-29-feb-leap-year", inputs(degree(), born=dt.date(2010, 3, 1)), R, "FPPP",
         on=dt.date(2028, 2, 29), age=17),
    Case("born-28-feb-18-on-29-feb-leap-year", inputs(degree(), born=dt.date(2010, 2, 28)), E, "PPPP",
         on=dt.date(2028, 2, 29), age=18),
    Case("no-date-of-birth-age-unknown", inputs(degree(), born=None), R, "UPPP"),
    Case("born-after-assessment-date", inputs(degree(), born=dt.date(2026, 1, 16)), R, "FPPP"),
    # Degree levels.
    Case("level-other-below-minimum", inputs(degree("other")), N, "PFPP"),
    Case("level-bachelor", inputs(degree("bachelor")), E, "PPPP", age=30),
    Case("level-master", inputs(degree("master")), E, "PPPP"),
    Case("level-doctorate", inputs(degree("doctorate")), E, "PPPP"),
    Case("level-other-even-with-age-failure-is-not-eligible", inputs(degree("other"), born=dt.date(1970, 1, 1)),
         N, "FFPP"),
    # Pending degree: the degree path needs an awarded degree.
    Case("pending-flag", inputs(degree(pending=True, awarded=None)), R, "PUPP"),
    Case("pending-flag-with-an-award-date", inputs(degree(pending=True, awarded=dt.date(2020, 1, 1))), R, "PUPP"),
    Case("awarded-on-missing", inputs(degree(awarded=None)), R, "PUPP"),
    Case("awarded-after-assessment-date", inputs(degree(awarded=dt.date(2026, 1, 16))), R, "PUPP"),
    Case("awarded-on-assessment-date", inputs(degree(awarded=ON)), E, "PPPP"),
    Case("pending-below-minimum-is-not-eligible", inputs(degree("other", pending=True, awarded=None)), N, "PFPP"),
    # STEM field: broad, narrow and detailed ISCED-F codes.
    Case("stem-0533-physics", inputs(degree(code="0533")), E, "PPPP"),
    Case("stem-05-broad-natural-sciences", inputs(degree(code="05")), E, "PPPP"),
    Case("stem-054-narrow-mathematics", inputs(degree(code="054")), E, "PPPP"),
    Case("stem-0613-ict", inputs(degree(code="0613")), E, "PPPP"),
    Case("stem-0713-engineering", inputs(degree(code="0713")), E, "PPPP"),
    Case("not-stem-0311-economics", inputs(degree(code="0311")), R, "PPFP"),
    Case("not-stem-03-broad-social-sciences", inputs(degree(code="03")), R, "PPFP"),
    Case("agriculture-0811-needs-judgement", inputs(degree(code="0811")), R, "PPFP"),
    Case("health-0912-needs-judgement", inputs(degree(code="0912")), R, "PPFP"),
    Case("no-field-code", inputs(degree(code=None)), R, "PPUP"),
    # Institution under the registry policy.
    Case("institution-renowned", inputs(degree(at=RENOWNED)), E, "PPPP"),
    Case("institution-not-renowned", inputs(degree(at=NOT_RENOWNED)), R, "PPPF"),
    Case("institution-unverified-even-if-flagged", inputs(degree(at=UNVERIFIED)), R, "PPPU"),
    Case("institution-verified-but-unjudged", inputs(degree(at=UNJUDGED)), R, "PPPU"),
    Case("institution-missing", inputs(degree(at=None)), R, "PPPU"),
    # Institution under the rank policy (threshold 500).
    Case("rank-500-at-threshold", inputs(degree(at=replace(NOT_RENOWNED, rank=500))), E, "PPPP",
         rules=RANK_RULES),
    Case("rank-501-beyond-threshold", inputs(degree(at=replace(RENOWNED, rank=501))), R, "PPPF",
         rules=RANK_RULES),
    Case("rank-decides-over-registry-flag", inputs(degree(at=replace(NOT_RENOWNED, rank=20))), E, "PPPP",
         rules=RANK_RULES),
    Case("rank-policy-no-rank-no-flag", inputs(degree(at=UNJUDGED)), R, "PPPU", rules=RANK_RULES),
    Case("rank-policy-unverified-with-rank", inputs(degree(at=UNVERIFIED)), R, "PPPU", rules=RANK_RULES),
    # The teaching and research path.
    Case("research-position-alone", inputs(position("research")), E, "PPPP", pathway=TR),
    Case("teaching-position-alone", inputs(position("teaching")), E, "PPPP", pathway=TR),
    Case("open-ended-position-without-dates", inputs(position(start=None, end=None)), E, "PPPP", pathway=TR),
    Case("position-ending-on-assessment-date", inputs(position(end=ON)), E, "PPPP", pathway=TR),
    Case("past-position-does-not-count", inputs(position(end=dt.date(2026, 1, 14))), N, "PFFF", pathway=None),
    Case("future-position-does-not-count", inputs(position(start=dt.date(2026, 1, 16))), N, "PFFF",
         pathway=None),
    Case("role-other-does-not-count", inputs(position("other")), N, "PFFF", pathway=None),
    Case("research-position-not-stem", inputs(position(code="0311")), R, "PPFP", pathway=TR),
    Case("research-position-not-renowned", inputs(position(at=NOT_RENOWNED)), R, "PPPF", pathway=TR),
    # Both paths: the best one wins.
    Case("non-stem-degree-plus-stem-research", inputs(degree(code="0311"), position()), E, "PPPP", pathway=TR),
    Case("stem-degree-plus-non-stem-teaching", inputs(degree(), position("teaching", "0311")), E, "PPPP"),
    Case("other-degree-plus-research", inputs(degree("other"), position()), E, "PPPP", pathway=TR),
    Case("pending-degree-plus-research", inputs(degree(pending=True), position()), E, "PPPP", pathway=TR),
    Case("pending-degree-plus-past-position", inputs(degree(pending=True), position(end=dt.date(2025, 1, 1))),
         R, "PUPP"),
    Case("other-degree-plus-role-other", inputs(degree("other"), position("other")), N, "PFPP"),
    Case("both-paths-open-points-keep-the-fewer", inputs(degree(code="0311", at=NOT_RENOWNED),
                                                          position(at=UNJUDGED)), R, "PPPU", pathway=TR),
    # Nothing to go on.
    Case("no-records-at-all", inputs(), N, "PFFF", pathway=None),
    Case("no-records-and-no-date-of-birth", inputs(born=None), N, "UFFF", pathway=None),
]


@pytest.mark.parametrize("case", CASES, ids=[case.id for case in CASES])
def test_boundaries(case: Case) -> None:
    result = assess(case.inputs, case.rules, case.on)
    assert [c.code for c in result.criteria] == list(CODES)
    assert {c.code: c.result for c in result.criteria} == case.expected
    assert result.outcome == case.outcome
    assert result.pathway == case.pathway
    assert result.rule_set_id == "k-2025-10"
    assert result.assessed_on == case.on
    if case.age is not None:
        assert f"Aged {case.age} on {case.on.isoformat()}" in result.criterion("age").reason
    for criterion in result.criteria:
        assert criterion.reason


def test_the_table_is_large_and_unique() -> None:
    assert len(CASES) >= 30
    assert len({case.id for case in CASES}) == len(CASES)


# The rules behind the outcome ----------------------------------------------------------------------------

def test_each_criterion_carries_its_rule_status_and_evidence() -> None:
    result = assess(inputs(degree("master", "0533", ref="education:7")), RULES, ON)
    statuses = {c.code: c.status for c in result.criteria}
    assert statuses == {"age": "reported", "qualification": "official", "stem_field": "assumed",
                        "renowned_institution": "assumed", "no_sponsor": "official"}
    assert result.basis == "education:7"
    assert result.criterion("age").evidence == ("born on 1995-06-15",)
    label = "Master in Physics at Tsinghua University"
    for code in ("qualification", "stem_field", "renowned_institution"):
        assert result.criterion(code).evidence == (label,)
    assert "Physics (0533)" in result.criterion("stem_field").reason
    assert "degree_certificate" in result.criterion("qualification").documents
    assert result.criterion("age").title == TITLES["age"]


def test_the_position_path_rests_on_the_official_teaching_research_rule() -> None:
    result = assess(inputs(position("teaching", ref="position:4")), RULES, ON)
    qualification = result.criterion("qualification")
    assert qualification.status == RULES.teaching_research_path.status == "official"
    assert result.basis == "position:4"
    assert qualification.evidence == ("Teaching position at Tsinghua University since 2020-09-01",)
    assert qualification.documents == ("proof_of_research",)


def test_a_role_outside_the_rule_sets_roles_does_not_count() -> None:
    research_only = replace(RULES, teaching_research_path=replace(RULES.teaching_research_path, roles=("research",)))
    assert assess(inputs(position("teaching")), research_only, ON).outcome == NOT_ELIGIBLE
    assert assess(inputs(position("research")), research_only, ON).outcome == ELIGIBLE


def test_the_best_of_several_degrees_is_the_basis() -> None:
    result = assess(inputs(degree("bachelor", "0311", ref="education:1"),
                           degree("master", "0533", ref="education:2")), RULES, ON)
    assert (result.outcome, result.basis) == (ELIGIBLE, "education:2")
    # Equally good records: the higher degree is the one assessed, whatever the order.
    for order in ((degree("bachelor", ref="b"), degree("doctorate", ref="d")),
                  (degree("doctorate", ref="d"), degree("bachelor", ref="b"))):
        assert assess(inputs(*order), RULES, ON).basis == "d"


def test_a_stricter_minimum_degree_moves_the_boundary() -> None:
    master_minimum = replace(RULES, minimum_degree=replace(RULES.minimum_degree, level="master"))
    assert assess(inputs(degree("bachelor")), master_minimum, ON).outcome == NOT_ELIGIBLE
    assert assess(inputs(degree("master")), master_minimum, ON).outcome == ELIGIBLE
    assert assess(inputs(degree("doctorate")), master_minimum, ON).outcome == ELIGIBLE


def test_a_reported_age_failure_is_reviewed_an_official_one_is_not_eligible() -> None:
    young = inputs(degree(), born=dt.date(2010, 1, 1))
    assert assess(young, RULES, ON).outcome == NEEDS_REVIEW
    official_age = replace(RULES, age=replace(RULES.age, status="official"))
    assert assess(young, official_age, ON).outcome == NOT_ELIGIBLE


def test_the_engine_imports_neither_flask_nor_sqlalchemy() -> None:
    folder = ROOT / "advisor" / "eligibility"
    for path in folder.glob("*.py"):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                names = [node.module or ""]
            else:
                continue
            for name in names:
                top = name.split(".")[0].lower()
                assert not top.startswith(("flask", "sqlalchemy", "models")), f"{path.name} imports {name}"


# Judgements -------------------------------------------------------------------------------------------

# Age unknown, degree pending, field not STEM (assumed rule), institution not verified: four open points.
OPEN = assess(inputs(degree("master", "0311", at=UNVERIFIED, pending=True), born=None), RULES, ON)
OPEN_CODES = ("age", "qualification", "stem_field", "renowned_institution")


def test_the_open_example_needs_four_judgements() -> None:
    assert OPEN.outcome == NEEDS_REVIEW
    assert tuple(c.code for c in OPEN.criteria if c.needs_judgement) == OPEN_CODES


def test_judging_every_open_criterion_pass_gives_eligible() -> None:
    assert outcome_of(OPEN.criteria, {code: PASS for code in OPEN_CODES}) == ELIGIBLE


@pytest.mark.parametrize("code", OPEN_CODES)
def test_any_judged_failure_gives_not_eligible(code: str) -> None:
    judgements = {c: PASS for c in OPEN_CODES} | {code: FAIL}
    assert outcome_of(OPEN.criteria, judgements) == NOT_ELIGIBLE


@pytest.mark.parametrize("code", OPEN_CODES)
def test_an_unjudged_open_criterion_stays_needs_review(code: str) -> None:
    judgements = {c: PASS for c in OPEN_CODES if c != code}
    assert outcome_of(OPEN.criteria, judgements) == NEEDS_REVIEW


def test_no_judgements_leave_the_outcome_as_assessed() -> None:
    assert outcome_of(OPEN.criteria) == outcome_of(OPEN.criteria, {}) == NEEDS_REVIEW


@pytest.mark.parametrize("records", [(degree("other"),), (), (position(end=dt.date(2020, 1, 1)),)],
                         ids=["degree-below-minimum", "no-records", "past-position"])
def test_an_official_failure_cannot_be_judged_away(records: tuple[Education | Position, ...]) -> None:
    result = assess(inputs(*records), RULES, ON)
    qualification = result.criterion("qualification")
    assert (qualification.result, qualification.is_official, qualification.needs_judgement) == (FAIL, True, False)
    assert outcome_of(result.criteria, {code: PASS for code in CODES}) == NOT_ELIGIBLE


def test_a_reported_age_failure_can_be_judged_pass() -> None:
    result = assess(inputs(degree(), born=dt.date(1970, 1, 1)), RULES, ON)
    assert result.outcome == NEEDS_REVIEW
    assert result.criterion("age").needs_judgement
    assert outcome_of(result.criteria, {"age": PASS}) == ELIGIBLE
    assert outcome_of(result.criteria, {"age": FAIL}) == NOT_ELIGIBLE


def test_judgements_on_settled_criteria_are_ignored() -> None:
    result = assess(inputs(degree()), RULES, ON)
    assert result.outcome == ELIGIBLE
    assert outcome_of(result.criteria, {code: FAIL for code in CODES}) == ELIGIBLE


def test_needs_judgement() -> None:
    def criterion(result: str, status: str) -> Criterion:
        return Criterion(code="age", result=result, reason="r", status=status)

    assert not criterion(PASS, "assumed").needs_judgement
    assert criterion(UNKNOWN, "official").needs_judgement
    assert criterion(FAIL, "reported").needs_judgement
    assert not criterion(FAIL, "official").needs_judgement


# Properties ----------------------------------------------------------------------------------------------

PROPERTY = settings(max_examples=200, deadline=None)
LEAP_YEARS = [y for y in range(1952, 2040) if calendar.isleap(y)]

dates = st.one_of(
    st.dates(dt.date(1950, 1, 1), dt.date(2040, 12, 31)),
    st.builds(dt.date, st.integers(1950, 2040), st.just(2), st.just(28)),
    st.builds(dt.date, st.sampled_from(LEAP_YEARS), st.just(2), st.just(29)),
    st.builds(dt.date, st.integers(1950, 2040), st.just(3), st.just(1)),
)
assessment_dates = st.dates(dt.date(2025, 10, 1), dt.date(2032, 12, 31))
field_codes = st.sampled_from([None, "", "05", "0533", "054", "0541", "06", "0613", "07", "0713", "03", "0311",
                               "08", "0811", "09", "0912", "02", "0231"])
institutions = st.one_of(
    st.none(),
    st.builds(Institution, name=st.sampled_from(["A University", "B Institute", "C College"]), country=st.none(),
              renowned=st.sampled_from([True, False, None]), rank=st.one_of(st.none(), st.integers(1, 2000)),
              verified=st.booleans()),
)
educations = st.builds(Education, level=st.sampled_from(DEGREE_LEVELS), field_code=field_codes,
                       institution=institutions, awarded_on=st.one_of(st.none(), dates), pending=st.booleans(),
                       ref=st.sampled_from(["education:1", "education:2", "education:3"]))
positions = st.builds(Position, role=st.sampled_from(ROLES), field_code=field_codes, institution=institutions,
                      started_on=st.one_of(st.none(), dates), ended_on=st.one_of(st.none(), dates),
                      ref=st.sampled_from(["position:1", "position:2"]))
records = st.one_of(educations, positions)


def all_inputs(min_education: int = 0) -> st.SearchStrategy[Inputs]:
    return st.builds(Inputs, born_on=st.one_of(st.none(), dates),
                     education=st.lists(educations, min_size=min_education, max_size=3).map(tuple),
                     positions=st.lists(positions, max_size=3).map(tuple))


@st.composite
def varied_rule_sets(draw: st.DrawFn) -> RuleSet:
    """The real rule set with its statuses, limits, minimum level, policy and roles varied."""
    def status() -> str:
        return draw(st.sampled_from(STATUSES))

    low = draw(st.integers(16, 30))
    return replace(
        RULES,
        age=replace(RULES.age, min=low, max=draw(st.integers(low, 60)), status=status()),
        minimum_degree=replace(RULES.minimum_degree, level=draw(st.sampled_from(DEGREE_LEVELS[1:])),
                               status=status()),
        stem_fields=replace(RULES.stem_fields, status=status()),
        renowned_institution=replace(RULES.renowned_institution, policy=draw(st.sampled_from(["registry", "rank"])),
                                     rank_threshold=draw(st.integers(1, 1000)), status=status()),
        teaching_research_path=replace(RULES.teaching_research_path, status=status(), roles=draw(
            st.sampled_from([("teaching",), ("research",), ("teaching", "research")]))),
        no_sponsor=replace(RULES.no_sponsor, status=status()),
    )


rule_sets = st.one_of(st.sampled_from([RULES, RANK_RULES]), varied_rule_sets())


@PROPERTY
@given(data=st.data(), rules=rule_sets, on=assessment_dates)
def test_a_higher_degree_never_turns_eligible_into_not_eligible(data: st.DataObject, rules: RuleSet,
                                                                on: dt.date) -> None:
    before = data.draw(all_inputs(min_education=1))
    index = data.draw(st.integers(0, len(before.education) - 1))
    record = before.education[index]
    higher = data.draw(st.sampled_from(DEGREE_LEVELS[DEGREE_LEVELS.index(record.level):]))
    education = list(before.education)
    education[index] = replace(record, level=higher)
    after = replace(before, education=tuple(education))
    old, new = assess(before, rules, on).outcome, assess(after, rules, on).outcome
    if old == ELIGIBLE:
        assert new != NOT_ELIGIBLE
    assert SEVERITY[new] <= SEVERITY[old]  # stronger: a higher degree never makes anything worse


@PROPERTY
@given(given_inputs=all_inputs(), rules=rule_sets, on=assessment_dates)
def test_not_eligible_iff_an_official_criterion_fails(given_inputs: Inputs, rules: RuleSet, on: dt.date) -> None:
    result = assess(given_inputs, rules, on)
    official_failure = any(c.result == FAIL and c.status == "official" for c in result.criteria)
    assert (result.outcome == NOT_ELIGIBLE) == official_failure


@PROPERTY
@given(given_inputs=all_inputs(), rules=rule_sets, on=assessment_dates)
def test_eligible_iff_every_criterion_passes(given_inputs: Inputs, rules: RuleSet, on: dt.date) -> None:
    result = assess(given_inputs, rules, on)
    assert (result.outcome == ELIGIBLE) == all(c.result == PASS for c in result.criteria)


@PROPERTY
@given(given_inputs=all_inputs(), rules=rule_sets, on=assessment_dates)
def test_every_result_is_well_formed(given_inputs: Inputs, rules: RuleSet, on: dt.date) -> None:
    result = assess(given_inputs, rules, on)
    assert tuple(c.code for c in result.criteria) == CODES
    assert result.criterion("no_sponsor").result == PASS
    parameters = {"age": rules.age, "stem_field": rules.stem_fields,
                  "renowned_institution": rules.renowned_institution, "no_sponsor": rules.no_sponsor}
    for criterion in result.criteria:
        assert criterion.result in (PASS, FAIL, UNKNOWN)
        assert criterion.status in STATUSES
        assert criterion.reason
        if criterion.code in parameters:
            assert criterion.status == parameters[criterion.code].status
    current_roles = [p.role for p in given_inputs.positions
                     if (p.started_on is None or p.started_on <= on) and (p.ended_on is None or p.ended_on >= on)]
    has_candidate = bool(given_inputs.education) or any(r in rules.teaching_research_path.roles for r in current_roles)
    assert result.pathway in (("degree", "teaching_research") if has_candidate else (None,))
    if not has_candidate:
        assert result.basis == ""
        assert [result.criterion(c).result for c in CODES[1:4]] == [FAIL, FAIL, FAIL]


@PROPERTY
@given(given_inputs=all_inputs(), rules=rule_sets, on=assessment_dates)
def test_a_passing_criterion_states_its_fact_and_no_rule_status(given_inputs: Inputs, rules: RuleSet,
                                                               on: dt.date) -> None:
    """The statement is what a packet tells the consulate: present exactly for a pass, and free of the
    engine's doubts and its rules' statuses."""
    for criterion in assess(given_inputs, rules, on).criteria:
        assert bool(criterion.statement) == (criterion.result == PASS), criterion
        assert not DOUBTS.search(criterion.statement), criterion.statement


def test_the_age_statement_names_the_age_on_the_assessment_date() -> None:
    age = assess(Inputs(born_on=BORN), RULES, ON).criterion("age")
    assert age.statement == ("Born on 1995-06-15, the applicant is aged 30 on 2026-01-15, within the age window "
                             "of 18 to 45.")


@PROPERTY
@given(given_inputs=all_inputs(), added=records, rules=rule_sets, on=assessment_dates, data=st.data())
def test_adding_a_record_never_makes_the_outcome_worse(given_inputs: Inputs, added: Education | Position,
                                                       rules: RuleSet, on: dt.date, data: st.DataObject) -> None:
    if isinstance(added, Education):
        where = data.draw(st.integers(0, len(given_inputs.education)))
        more = list(given_inputs.education)
        more.insert(where, added)
        after = replace(given_inputs, education=tuple(more))
    else:
        where = data.draw(st.integers(0, len(given_inputs.positions)))
        more_positions = list(given_inputs.positions)
        more_positions.insert(where, added)
        after = replace(given_inputs, positions=tuple(more_positions))
    assert SEVERITY[assess(after, rules, on).outcome] <= SEVERITY[assess(given_inputs, rules, on).outcome]


@PROPERTY
@given(given_inputs=all_inputs(), rules=rule_sets, on=assessment_dates)
def test_assessment_is_deterministic_and_order_does_not_change_the_outcome(given_inputs: Inputs, rules: RuleSet,
                                                                           on: dt.date) -> None:
    first = assess(given_inputs, rules, on)
    assert assess(given_inputs, rules, on) == first
    rebuilt = Inputs(born_on=given_inputs.born_on, education=tuple(list(given_inputs.education)),
                     positions=tuple(list(given_inputs.positions)))
    assert assess(rebuilt, rules, on) == first
    reversed_inputs = replace(given_inputs, education=given_inputs.education[::-1],
                              positions=given_inputs.positions[::-1])
    assert assess(reversed_inputs, rules, on).outcome == first.outcome


@PROPERTY
@given(given_inputs=all_inputs(), rules=rule_sets, on=assessment_dates, data=st.data())
def test_judgements_settle_every_open_criterion(given_inputs: Inputs, rules: RuleSet, on: dt.date,
                                                data: st.DataObject) -> None:
    result = assess(given_inputs, rules, on)
    open_codes = [c.code for c in result.criteria if c.needs_judgement]
    official_failure = result.outcome == NOT_ELIGIBLE
    all_pass = {code: PASS for code in open_codes}
    assert outcome_of(result.criteria, all_pass) == (NOT_ELIGIBLE if official_failure else ELIGIBLE)
    if open_codes:
        failed = data.draw(st.sampled_from(open_codes))
        assert outcome_of(result.criteria, all_pass | {failed: FAIL}) == NOT_ELIGIBLE
        left_open = data.draw(st.sampled_from(open_codes))
        partial = {code: PASS for code in open_codes if code != left_open}
        assert outcome_of(result.criteria, partial) == (NOT_ELIGIBLE if official_failure else NEEDS_REVIEW)


def birthday(born: dt.date, year: int) -> dt.date:
    """The birthday in `year`: 1 March for someone born on 29 February when `year` is a common year."""
    if (born.month, born.day) == (2, 29) and not calendar.isleap(year):
        return dt.date(year, 3, 1)
    return born.replace(year=year)


@PROPERTY
@given(born=dates, day=dates)
def test_age_increases_by_exactly_one_on_each_birthday_and_only_then(born: dt.date, day: dt.date) -> None:
    next_day = day + dt.timedelta(days=1)
    step = age_on(born, next_day) - age_on(born, day)
    assert step == (1 if next_day == birthday(born, next_day.year) else 0)


@PROPERTY
@given(born=dates, first=dates, second=dates)
def test_age_is_monotonic_in_the_date(born: dt.date, first: dt.date, second: dt.date) -> None:
    earlier, later = sorted((first, second))
    assert age_on(born, earlier) <= age_on(born, later)


@PROPERTY
@given(born=dates, years=st.integers(1, 60))
def test_age_on_each_birthday_and_the_day_before(born: dt.date, years: int) -> None:
    day = birthday(born, born.year + years)
    assert age_on(born, day) == years
    assert age_on(born, day - dt.timedelta(days=1)) == years - 1
    assert age_on(born, born) == 0
