"""Severity documents: strict validation with the place named, rule semantics, combine()."""

import pytest

from app.rulebook import book as rulebook
from app.rulelang.documents import RulesInvalid
from app.rulelang.durable import DurableRuleset
from app.severity.policy import SeverityPolicy, SeverityRule, combine, engine_rules

from .conftest import RULES


def problems_for(severity_yaml: str, signals_yaml: str | None = None):
    sources = rulebook.read_sources(RULES)
    sources["severity"] = severity_yaml
    if signals_yaml is not None:
        sources["signals"] = signals_yaml
    with pytest.raises(RulesInvalid) as exc:
        rulebook.build(sources)
    return [(p.file, p.item, p.field, p.message) for p in exc.value.problems]


HEAD = "levels: {1: a, 2: b, 3: c, 4: d}\ndefault_level: 3\nrules:\n"


@pytest.mark.parametrize(
    "rule, item, field, words",
    [
        ("- {id: r1, level: 5, description: x, when: {}}", "rules[r1]", "level", "1, 2, 3 or 4"),
        (
            "- {id: r1, level: 1, description: x, when: {signals: {all: [outge]}}}",
            "rules[r1]",
            "when.signals.all",
            "undefined signal 'outge'",
        ),
        ("- {id: r1, level: 1, description: x, when: {colour: {in: [red]}}}", "rules[r1]", "when.colour", "Unknown field"),
        ("- {id: r1, level: 1, description: x, when: {}, extra: 1}", "rules[r1]", "extra", "Unknown field"),
        ("- {id: r1, level: 1, description: x, when: {plan: {in: [gold]}}}", "rules[r1]", "when.plan.in", "'gold' is not one of"),
        ("- {id: r1, level: 1, description: x, when: {plan: {gte: 2}}}", "rules[r1]", "when.plan", "only to numbers"),
        (
            "- {id: r1, level: 1, description: x, when: {signals: {all: [outage], none: [outage]}}}",
            "rules[r1]",
            "when.signals",
            "can never match",
        ),
        ("- {id: r1, level: 1, description: x, when: {country: {in: [de]}}}", "rules[r1]", "when.country.in", "upper case"),
        (
            "- {id: r1, level: 1, description: x, when: {product_area: {not_in: [Finance]}}}",
            "rules[r1]",
            "when.product_area.not_in",
            "lower case",
        ),
        ("- {id: Bad Id, level: 1, description: x, when: {}}", "rules[Bad Id]", "id", "lower-case"),
    ],
)
def test_bad_rules_are_refused_naming_file_item_and_field(rule, item, field, words):
    [(file, got_item, got_field, message)] = problems_for(HEAD + rule)
    assert (file, got_item, got_field) == ("severity.yaml", item, field)
    assert words in message


def test_duplicate_rule_ids_and_duplicate_yaml_keys_are_refused():
    dup = HEAD + "- {id: r1, level: 1, description: x, when: {}}\n- {id: r1, level: 2, description: y, when: {}}"
    assert problems_for(dup) == [("severity.yaml", "rules[r1]", "id", "duplicate rule id 'r1'")]
    [(file, item, _, message)] = problems_for(HEAD + "- {id: r1, level: 1, level: 2, description: x, when: {}}")
    assert file == "severity.yaml" and "line 4" in item and "duplicate key 'level'" in message


def test_levels_must_name_exactly_one_to_four_and_problems_from_all_documents_are_reported():
    found = problems_for("levels: {1: a, 2: b}\ndefault_level: 3\nrules: []", "languages: [en]\nsignals: {}\nbogus: 1")
    assert ("severity.yaml", "", "levels", "name each of the levels 1, 2, 3 and 4, and no other") in found
    assert ("signals.yaml", "", "bogus", "Unknown field.") in found


def _evaluate(when: dict, fact: dict) -> bool:
    policy = SeverityPolicy({1: "a", 2: "b", 3: "c", 4: "d"}, 3, (SeverityRule("r", 1, "x", when),))
    return DurableRuleset("t", engine_rules(policy)).evaluate(fact) == ["r"]


@pytest.mark.parametrize(
    "when, fact, holds",
    [
        ({"environment": {"not_in": ["non-production"]}}, {}, True),  # absent is "not in" any list
        ({"environment": {"not_in": ["non-production"]}}, {"environment": "non-production"}, False),
        ({"environment": {"in": ["production"]}}, {}, False),
        ({"declared_severity": {"lte": 2}}, {"declared_severity": 2}, True),
        ({"declared_severity": {"lte": 2}}, {"declared_severity": 3}, False),
        ({"declared_severity": {"lte": 2}}, {}, False),
        ({"declared_severity": {"present": False}}, {}, True),
        ({"signals": {"none": ["outage"]}}, {"signal": {}}, True),
        ({"signals": {"none": ["outage"]}}, {"signal": {"outage": True}}, False),
        ({"signals": {"any": ["a", "b"], "all": ["c"]}}, {"signal": {"b": True, "c": True}}, True),
        ({"signals": {"any": ["a", "b"], "all": ["c"]}}, {"signal": {"b": True}}, False),
    ],
)
def test_conditions_hold_as_documented(when, fact, holds):
    assert _evaluate(when, fact) is holds


POLICY = SeverityPolicy({1: "outage", 2: "degraded", 3: "disturbance", 4: "advice"}, 3, ())
SLOW = SeverityRule("slow", 3, "Slow", {})
DOWN = SeverityRule("down", 1, "Down", {})


def test_most_severe_match_wins_and_all_are_reported():
    severity = combine(POLICY, [SLOW, DOWN], None)
    assert (severity.level, severity.source, [r.id for r in severity.matched_rules]) == (1, "rules", ["down", "slow"])
    assert severity.note is None


def test_provider_classification_prevails_over_declared_and_says_why():
    severity = combine(POLICY, [SLOW], 1)
    assert (severity.level, severity.declared) == (3, 1)
    assert "Declared 1" in severity.note and "'slow'" in severity.note and "prevails" in severity.note


def test_without_rules_declared_then_default():
    assert (combine(POLICY, [], 2).level, combine(POLICY, [], 2).source) == (2, "declared")
    default = combine(POLICY, [], None)
    assert (default.level, default.source, default.declared) == (3, "default", None)
