"""Eligibility: versioned rule sets and the engine that applies them. No Flask, no SQLAlchemy.

    from advisor.eligibility import assess, Inputs, Education, Institution, load_rule_sets
    result = assess(Inputs(born_on=..., education=(...,)), rule_set, on=date(2026, 5, 1))
    result.outcome        # "eligible" | "needs_review" | "not_eligible"
    result.criteria       # per criterion: result, reason, status, evidence
"""
from .engine import (
    ELIGIBLE,
    FAIL,
    NEEDS_REVIEW,
    NOT_ELIGIBLE,
    PASS,
    TITLES,
    UNKNOWN,
    Criterion,
    Education,
    Inputs,
    Institution,
    Position,
    Result,
    age_on,
    assess,
    outcome_of,
)
from .rules import DEGREE_LEVELS, ROLES, RuleSet, RuleSetError, current_rule_set, load_rule_sets, parse_rule_set

__all__ = [
    "DEGREE_LEVELS", "ELIGIBLE", "FAIL", "NEEDS_REVIEW", "NOT_ELIGIBLE", "PASS", "ROLES", "TITLES", "UNKNOWN",
    "Criterion", "Education", "Inputs", "Institution", "Position", "Result", "RuleSet", "RuleSetError",
    "age_on", "assess", "current_rule_set", "load_rule_sets", "outcome_of", "parse_rule_set",
]
