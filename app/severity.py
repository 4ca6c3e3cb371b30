"""Severity rules: an ops-written document compiled into a durable_rules ruleset, and `combine()`.

Semantics: every rule whose conditions hold matches; the most severe matching level wins and every
match is reported. With no match, a declared severity is accepted; without one, the default level.
"""
import re
from dataclasses import dataclass

import marshmallow as ma

from .cases import CHANNELS, ENVIRONMENTS, LEVELS, PLANS
from .documents import Problem, RulesInvalid

# Fields of a case that rules may test, with the values each may take: a list, or a test and
# what it expects (cases are normalised the same way, so a rule can never silently miss on case).
FIELDS = {
    "environment": ENVIRONMENTS,
    "plan": PLANS,
    "channel": CHANNELS,
    "language": (lambda v: isinstance(v, str) and re.fullmatch("[a-z]{2}", v), "an ISO 639-1 code in lower case"),
    "country": (lambda v: isinstance(v, str) and re.fullmatch("[A-Z]{2}", v), "an ISO 3166-1 alpha-2 code in upper case"),
    "product_area": (lambda v: isinstance(v, str) and v == v.strip().lower() and v, "a product area in lower case"),
    "declared_severity": LEVELS,
}
NUMERIC = {"declared_severity"}
_COMPARISONS = {"lt": "$lt", "lte": "$lte", "gt": "$gt", "gte": "$gte"}
_RULE_ID = re.compile(r"^[a-z0-9][a-z0-9-]{0,63}$")


@dataclass(frozen=True)
class SeverityRule:
    id: str
    level: int
    description: str
    when: dict


@dataclass(frozen=True)
class Severity:
    """The severity decided for a case, with everything needed to explain it."""

    level: int
    name: str
    source: str  # rules | declared | default
    matched_rules: tuple[SeverityRule, ...]
    declared: int | None
    note: str | None


@dataclass(frozen=True)
class SeverityPolicy:
    levels: dict[int, str]
    default_level: int
    rules: tuple[SeverityRule, ...]

    def rule(self, rule_id: str) -> SeverityRule:
        return self._by_id[rule_id]

    def __post_init__(self):
        object.__setattr__(self, "_by_id", {r.id: r for r in self.rules})


# -- the document ---------------------------------------------------------------------------

class _SignalCondition(ma.Schema):
    all = ma.fields.List(ma.fields.String(), load_default=list)
    any = ma.fields.List(ma.fields.String(), load_default=list)
    none = ma.fields.List(ma.fields.String(), load_default=list)


class _NonEmpty(ma.Schema):
    @ma.validates_schema
    def _not_empty(self, data, **kwargs):
        if not data:
            raise ma.ValidationError("give at least one of in, not_in, present, lt, lte, gt, gte")


# built from a dict because "in" is a Python keyword and cannot be a class attribute
_FieldCondition = _NonEmpty.from_dict({
    "in": ma.fields.List(ma.fields.Raw(), validate=ma.validate.Length(min=1)),
    "not_in": ma.fields.List(ma.fields.Raw(), validate=ma.validate.Length(min=1)),
    "present": ma.fields.Boolean(),
    **{key: ma.fields.Integer(strict=True) for key in ("lt", "lte", "gt", "gte")},
}, name="FieldCondition")


def _when_schema():
    fields = {"signals": ma.fields.Nested(_SignalCondition)}
    fields.update({name: ma.fields.Nested(_FieldCondition) for name in FIELDS})
    return ma.Schema.from_dict(fields, name="When")


class _RuleSchema(ma.Schema):
    id = ma.fields.String(required=True, validate=ma.validate.Regexp(_RULE_ID, error="an id is lower-case letters, digits and -, at most 64"))
    level = ma.fields.Integer(required=True, strict=True, validate=ma.validate.OneOf(LEVELS, error="a level is 1, 2, 3 or 4"))
    description = ma.fields.String(required=True, validate=ma.validate.Length(min=1))
    when = ma.fields.Nested(_when_schema(), required=True)


class SeveritySchema(ma.Schema):
    """severity.yaml: level names, the default level and the rules."""

    levels = ma.fields.Dict(keys=ma.fields.Integer(strict=True), values=ma.fields.String(validate=ma.validate.Length(min=1)), required=True)
    default_level = ma.fields.Integer(required=True, strict=True, validate=ma.validate.OneOf(LEVELS, error="a level is 1, 2, 3 or 4"))
    rules = ma.fields.List(ma.fields.Nested(_RuleSchema), required=True)

    @ma.validates("levels")
    def _all_levels(self, value, **kwargs):
        if sorted(value) != list(LEVELS):
            raise ma.ValidationError("name each of the levels 1, 2, 3 and 4, and no other")


def build_policy(file: str, doc: dict, signals: frozenset[str]) -> SeverityPolicy:
    """Cross-check a validated severity document against the known signals and field values."""
    problems, seen = [], set()
    for rule in doc["rules"]:
        item = f"rules[{rule['id']}]"
        if rule["id"] in seen:
            problems.append(Problem(file, item, "id", f"duplicate rule id {rule['id']!r}"))
        seen.add(rule["id"])
        problems += _check_when(file, item, rule["when"], signals)
    if problems:
        raise RulesInvalid(problems)
    rules = tuple(SeverityRule(r["id"], r["level"], r["description"], r["when"]) for r in doc["rules"])
    return SeverityPolicy(dict(sorted(doc["levels"].items())), doc["default_level"], rules)


def _check_when(file, item, when, signals):
    problems = []
    sig = when.get("signals", {})
    for group in ("all", "any", "none"):
        for name in sig.get(group, []):
            if name not in signals:
                problems.append(Problem(file, item, f"when.signals.{group}", f"undefined signal {name!r}"))
    contradiction = set(sig.get("all", [])) & set(sig.get("none", []))
    if contradiction:
        problems.append(Problem(file, item, "when.signals", f"can never match: {sorted(contradiction)} both required and excluded"))
    for field, allowed in FIELDS.items():
        cond = when.get(field)
        if cond is None:
            continue
        for key in ("in", "not_in"):
            for value in cond.get(key, []):
                ok, expected = (allowed[0](value), allowed[1]) if callable(allowed[0]) else (value in allowed, f"one of {list(allowed)}")
                if not ok:
                    problems.append(Problem(file, item, f"when.{field}.{key}", f"{value!r} is not {expected}"))
        if field not in NUMERIC and any(k in cond for k in _COMPARISONS):
            problems.append(Problem(file, item, f"when.{field}", "lt, lte, gt and gte apply only to numbers"))
        if set(cond.get("in", [])) & set(cond.get("not_in", [])):
            problems.append(Problem(file, item, f"when.{field}", "can never match: a value both in and not_in"))
    return problems


# -- compiling to durable_rules ------------------------------------------------------------

def engine_rules(policy: SeverityPolicy) -> dict[str, tuple[int, list[dict]]]:
    """The rules in durable_rules condition JSON, priority = level (most severe first)."""
    return {rule.id: (rule.level, _conditions(rule.when)) for rule in policy.rules}


def _conditions(when: dict) -> list:
    terms = []
    sig = when.get("signals", {})
    terms += [{"$ex": {f"signal.{s}": 1}} for s in sig.get("all", [])]
    if sig.get("any"):
        terms.append({"$or": [{"$ex": {f"signal.{s}": 1}} for s in sig["any"]]})
    terms += [{"$nex": {f"signal.{s}": 1}} for s in sig.get("none", [])]
    for field in FIELDS:
        cond = when.get(field)
        if not cond:
            continue
        if "in" in cond:
            terms.append({"$or": [{field: v} for v in cond["in"]]})
        if "not_in" in cond:
            # a missing field is "not in" any list; durable's $neq alone is false when it is missing
            terms.append({"$or": [{"$nex": {field: 1}}, {"$and": [{"$neq": {field: v}} for v in cond["not_in"]]}]})
        if "present" in cond:
            terms.append({("$ex" if cond["present"] else "$nex"): {field: 1}})
        terms += [{op: {field: cond[key]}} for key, op in _COMPARISONS.items() if key in cond]
    return terms


# -- deciding -------------------------------------------------------------------------------

def combine(policy: SeverityPolicy, matched: list[SeverityRule], declared: int | None) -> Severity:
    """Decide the level from the matched rules and the declared severity, and say why."""
    def name(level):
        return policy.levels[level]

    if matched:
        ordered = tuple(sorted(matched, key=lambda r: r.level))
        top = ordered[0]
        note = None
        if declared is not None and declared != top.level:
            direction = "more" if declared < top.level else "less"
            note = (
                f"Declared {declared} ({name(declared)}) is {direction} severe than the evidence: "
                f"rule {top.id!r} ({top.description}) assigns {top.level} ({name(top.level)}); "
                "the provider's classification prevails."
            )
        return Severity(top.level, name(top.level), "rules", ordered, declared, note)
    if declared is not None:
        return Severity(declared, name(declared), "declared", (), declared,
                        "No rule matched; the declared severity is accepted as plausible.")
    level = policy.default_level
    return Severity(level, name(level), "default", (), None,
                    f"No rule matched and no severity was declared; the default level {level} applies.")
