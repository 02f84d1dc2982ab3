"""The eligibility engine: inputs + rule set + assessment date → outcome and a result per criterion.

Pure Python: it imports neither Flask nor SQLAlchemy, so it is tested directly and runs anywhere.

Criteria, each with pass / fail / unknown, a reason in plain words, the status of the rule it applies
(official, reported or assumed) and the evidence it rests on; a criterion that passes also carries its
`statement`, the fact as the practice asserts it to the consulate, without the rule's status:

- ``age``: age in whole years on the assessment date within the window (birthdays exact; someone born
  on 29 February turns a year older on 1 March in common years);
- ``qualification``: an awarded degree at or above the minimum level, or a current teaching or research
  position (a pending degree is unknown until awarded);
- ``stem_field``: the field of that degree or position is in the rule set's STEM field codes;
- ``renowned_institution``: its institution is renowned under the rule set's policy (unknown when the
  registry has not judged the institution);
- ``no_sponsor``: no employer or inviter is needed (always passes; stated for the record).

Of several degrees and positions, the one giving the best outcome is the one assessed.
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from .rules import DEGREE_LEVELS, Parameter, RuleSet

PASS, FAIL, UNKNOWN = "pass", "fail", "unknown"
ELIGIBLE, NEEDS_REVIEW, NOT_ELIGIBLE = "eligible", "needs_review", "not_eligible"
OUTCOMES = (ELIGIBLE, NEEDS_REVIEW, NOT_ELIGIBLE)

TITLES = {
    "age": "Age window",
    "qualification": "Degree or teaching/research position",
    "stem_field": "STEM field",
    "renowned_institution": "Renowned university or research institution",
    "no_sponsor": "No sponsor needed",
}


@dataclass(frozen=True)
class Institution:
    name: str
    country: str | None = None
    renowned: bool | None = None  # the registry's judgement; None: not judged
    rank: int | None = None
    verified: bool = False  # an admin has decided on this institution


@dataclass(frozen=True)
class Education:
    level: str  # one of DEGREE_LEVELS
    field_code: str | None
    field_name: str = ""
    institution: Institution | None = None
    awarded_on: dt.date | None = None
    pending: bool = False
    ref: str = ""  # how the evidence names this record, e.g. "education:3"


@dataclass(frozen=True)
class Position:
    role: str  # teaching, research or other
    field_code: str | None
    field_name: str = ""
    institution: Institution | None = None
    started_on: dt.date | None = None
    ended_on: dt.date | None = None
    ref: str = ""


@dataclass(frozen=True)
class Inputs:
    born_on: dt.date | None
    education: tuple[Education, ...] = ()
    positions: tuple[Position, ...] = ()


@dataclass(frozen=True)
class Criterion:
    code: str
    result: str
    reason: str
    status: str
    evidence: tuple[str, ...] = ()
    documents: tuple[str, ...] = ()  # checklist items that prove it, for the packet
    statement: str = ""  # for a pass: what the packet asserts, in words fit for the consulate

    @property
    def title(self) -> str:
        return TITLES[self.code]

    @property
    def is_official(self) -> bool:
        return self.status == "official"

    @property
    def needs_judgement(self) -> bool:
        """Unknown, or failed under a rule that is not official: the advisor decides."""
        return self.result == UNKNOWN or (self.result == FAIL and not self.is_official)


@dataclass(frozen=True)
class Result:
    outcome: str
    criteria: tuple[Criterion, ...]
    rule_set_id: str
    assessed_on: dt.date
    pathway: str | None  # "degree", "teaching_research" or None
    basis: str = ""  # the record assessed, e.g. "education:3"
    notes: tuple[str, ...] = field(default=())

    def criterion(self, code: str) -> Criterion:
        return next(c for c in self.criteria if c.code == code)


# The public function --------------------------------------------------------------------------

def assess(inputs: Inputs, rules: RuleSet, on: dt.date) -> Result:
    """Assess eligibility on date `on` under `rules`.

    The outcome is ``not_eligible`` exactly when a criterion under an official rule fails,
    ``needs_review`` when otherwise any criterion is unknown or fails under a non-official rule (the
    advisor must judge it), and ``eligible`` when every criterion passes.
    """
    age = _age_criterion(inputs.born_on, rules, on)
    candidates = [_degree_candidate(e, rules, on) for e in inputs.education]
    candidates += [_position_candidate(p, rules, on) for p in inputs.positions if _is_current(p, on)
                   and p.role in rules.teaching_research_path.roles]
    if candidates:
        best = min(candidates, key=lambda c: _rank(c))
    else:
        best = _no_candidate(rules)
    criteria = (age, *best.criteria, _no_sponsor(rules))
    return Result(outcome=outcome_of(criteria), criteria=criteria, rule_set_id=rules.id, assessed_on=on,
                  pathway=best.pathway, basis=best.ref)


def outcome_of(criteria: tuple[Criterion, ...] | list[Criterion],
               judgements: dict[str, str] | None = None) -> str:
    """The outcome of criteria results, with the advisor's judgements (code → pass/fail) applied to
    the criteria that need one. An official failure cannot be judged away."""
    judgements = judgements or {}
    if any(c.result == FAIL and c.is_official for c in criteria):
        return NOT_ELIGIBLE
    results = [judgements.get(c.code, c.result) if c.needs_judgement else c.result for c in criteria]
    settled_fail = any(c.needs_judgement and judgements.get(c.code) == FAIL for c in criteria)
    if settled_fail:
        return NOT_ELIGIBLE
    unsettled = any(c.needs_judgement and c.code not in judgements for c in criteria)
    if unsettled or any(r != PASS for r in results):
        return NEEDS_REVIEW
    return ELIGIBLE


def age_on(born: dt.date, on: dt.date) -> int:
    """Whole years from `born` to `on`; a 29 February birthday falls on 1 March in common years."""
    years = on.year - born.year
    if (on.month, on.day) < (born.month, born.day):
        years -= 1
    return years


# Criteria ------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class _Candidate:
    pathway: str | None
    ref: str
    criteria: tuple[Criterion, Criterion, Criterion]
    level_index: int = -1


def _rank(candidate: _Candidate) -> tuple[int, int, int]:
    outcome = outcome_of(candidate.criteria)
    open_points = sum(c.result != PASS for c in candidate.criteria)
    return OUTCOMES.index(outcome), open_points, -candidate.level_index


def _age_criterion(born: dt.date | None, rules: RuleSet, on: dt.date) -> Criterion:
    rule = rules.age
    window = f"{rule.min}–{rule.max}"
    if born is None:
        return _criterion("age", UNKNOWN, "No date of birth is recorded.", rule, documents=("passport",))
    if born > on:
        return _criterion("age", FAIL, f"The date of birth {born} is after the assessment date.", rule)
    years = age_on(born, on)
    inside = rule.min <= years <= rule.max
    reason = (f"Aged {years} on {on.isoformat()}; the window is {window} ({rule.status})."
              if inside else
              f"Aged {years} on {on.isoformat()}, outside the window {window} ({rule.status}).")
    statement = (f"Born on {born.isoformat()}, the applicant is aged {years} on {on.isoformat()}, within the "
                 f"age window of {rule.min} to {rule.max}.")
    return _criterion("age", PASS if inside else FAIL, reason, rule, evidence=(f"born on {born.isoformat()}",),
                      documents=("passport",), statement=statement if inside else "")


def _degree_candidate(education: Education, rules: RuleSet, on: dt.date) -> _Candidate:
    rule = rules.minimum_degree
    level_index = DEGREE_LEVELS.index(education.level) if education.level in DEGREE_LEVELS else 0
    label = _education_label(education)
    evidence = (label,)
    if level_index < DEGREE_LEVELS.index(rule.level):
        qualification = _criterion("qualification", FAIL, f"{label}: below the minimum, a {rule.level}'s degree.",
                                   rule, evidence=evidence, documents=("degree_certificate",))
    elif education.pending or education.awarded_on is None or education.awarded_on > on:
        qualification = _criterion(
            "qualification", UNKNOWN,
            f"{label}: not yet awarded. The degree path needs an awarded degree; check the award.",
            rule, evidence=evidence, documents=("degree_certificate",))
    else:
        qualification = _criterion("qualification", PASS,
                                   f"{label}: at or above the minimum, a {rule.level}'s degree.",
                                   rule, evidence=evidence, documents=("degree_certificate", "transcript"),
                                   statement=f"{label}, awarded on {education.awarded_on.isoformat()}: at or "
                                             f"above a {rule.level}'s degree.")
    return _Candidate(
        pathway="degree", ref=education.ref, level_index=level_index,
        criteria=(qualification,
                  _field_criterion(education.field_code, education.field_name, rules, evidence,
                                   ("degree_certificate", "transcript")),
                  _institution_criterion(education.institution, rules, evidence, ("degree_certificate",))),
    )


def _position_candidate(position: Position, rules: RuleSet, on: dt.date) -> _Candidate:
    rule = rules.teaching_research_path
    label = _position_label(position)
    evidence = (label,)
    qualification = _criterion("qualification", PASS, f"{label}: a current {position.role} position.",
                               rule, evidence=evidence, documents=("proof_of_research",),
                               statement=f"{label}: a current {position.role} position.")
    return _Candidate(
        pathway="teaching_research", ref=position.ref,
        criteria=(qualification,
                  _field_criterion(position.field_code, position.field_name, rules, evidence,
                                   ("proof_of_research",)),
                  _institution_criterion(position.institution, rules, evidence, ("proof_of_research",))),
    )


def _no_candidate(rules: RuleSet) -> _Candidate:
    degree = rules.minimum_degree
    official = degree if degree.is_official else rules.teaching_research_path
    reason = (f"No degree at or above a {degree.level}'s and no current teaching or research position "
              "is recorded.")
    nothing = "There is no degree or position to check."
    return _Candidate(pathway=None, ref="", criteria=(
        _criterion("qualification", FAIL, reason, official),
        _criterion("stem_field", FAIL, nothing, rules.stem_fields),
        _criterion("renowned_institution", FAIL, nothing, rules.renowned_institution),
    ))


def _field_criterion(code: str | None, name: str, rules: RuleSet, evidence: tuple[str, ...],
                     documents: tuple[str, ...]) -> Criterion:
    rule = rules.stem_fields
    if not code:
        return _criterion("stem_field", UNKNOWN, "No field of study or work is recorded.", rule,
                          evidence=evidence, documents=documents)
    described = f"{name} ({code})" if name else code
    if rule.matches(code):
        return _criterion("stem_field", PASS, f"{described} is a STEM field in this rule set ({rule.status}).",
                          rule, evidence=evidence, documents=documents,
                          statement=f"{described} is a field of science, technology, engineering or mathematics.")
    return _criterion("stem_field", FAIL,
                      f"{described} is not among the STEM fields of this rule set ({rule.status}).",
                      rule, evidence=evidence, documents=documents)


def _institution_criterion(institution: Institution | None, rules: RuleSet, evidence: tuple[str, ...],
                           documents: tuple[str, ...]) -> Criterion:
    rule = rules.renowned_institution
    if institution is None:
        return _criterion("renowned_institution", UNKNOWN, "No institution is recorded.", rule,
                          evidence=evidence, documents=documents)
    name = institution.name
    if not institution.verified:
        return _criterion("renowned_institution", UNKNOWN,
                          f"{name} is not yet verified in the institution registry; judge it yourself.",
                          rule, evidence=evidence, documents=documents)
    if rule.policy == "rank" and institution.rank is not None and rule.rank_threshold is not None:
        inside = institution.rank <= rule.rank_threshold
        reason = (f"{name} ranks {institution.rank}, {'within' if inside else 'beyond'} the threshold of "
                  f"{rule.rank_threshold} ({rule.status}).")
        return _criterion("renowned_institution", PASS if inside else FAIL, reason, rule,
                          evidence=evidence, documents=documents,
                          statement=f"{name} ranks {institution.rank}, within the top {rule.rank_threshold}."
                          if inside else "")
    if institution.renowned is None:
        return _criterion("renowned_institution", UNKNOWN,
                          f"The registry has no judgement on {name} yet; judge it yourself.", rule,
                          evidence=evidence, documents=documents)
    if institution.renowned:
        return _criterion("renowned_institution", PASS, f"{name} is renowned according to the registry "
                          f"({rule.status}).", rule, evidence=evidence, documents=documents,
                          statement=f"{name} is a renowned university or research institution.")
    return _criterion("renowned_institution", FAIL, f"{name} is not renowned according to the registry "
                      f"({rule.status}).", rule, evidence=evidence, documents=documents)


def _no_sponsor(rules: RuleSet) -> Criterion:
    return _criterion("no_sponsor", PASS, "The K visa needs no employer or inviting entity.", rules.no_sponsor,
                      statement="The K visa needs no employer or inviting entity.")


def _criterion(code: str, result: str, reason: str, rule: Parameter, *, evidence: tuple[str, ...] = (),
               documents: tuple[str, ...] = (), statement: str = "") -> Criterion:
    return Criterion(code=code, result=result, reason=reason, status=rule.status, evidence=evidence,
                     documents=documents, statement=statement)


def _is_current(position: Position, on: dt.date) -> bool:
    started = position.started_on is None or position.started_on <= on
    return started and (position.ended_on is None or position.ended_on >= on)


def _education_label(education: Education) -> str:
    where = f" at {education.institution.name}" if education.institution else ""
    field_part = f" in {education.field_name}" if education.field_name else ""
    return f"{education.level.capitalize()}{field_part}{where}"


def _position_label(position: Position) -> str:
    where = f" at {position.institution.name}" if position.institution else ""
    since = f" since {position.started_on.isoformat()}" if position.started_on else ""
    return f"{position.role.capitalize()} position{where}{since}"
