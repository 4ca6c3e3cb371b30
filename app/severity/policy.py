"""Severity rules: an ops-written document compiled into a durable_rules ruleset, and `combine()`.

Semantics: every rule whose conditions hold matches; the most severe matching level wins and every
match is reported. With no match, a declared severity is accepted; without one, the default level.
"""

import dataclasses
import functools
import re
from dataclasses import dataclass

import marshmallow as ma
import pycountry

from app.rulelang import conditions
from app.rulelang.conditions import Field
from app.rulelang.documents import RulesInvalid, duplicate_ids
from app.rulelang.domain import CHANNELS, ENVIRONMENTS, LEVELS, PLANS

# Fields of a case that severity rules may test (cases are normalised the same way, so a rule
# can never silently miss on letter case).
FIELDS = {
    "environment": Field.one_of(ENVIRONMENTS),
    "plan": Field.one_of(PLANS),
    "channel": Field.one_of(CHANNELS),
    "language": Field.matching("[a-z]{2}", "an ISO 639-1 code in lower case"),
    "country": Field.matching("[A-Z]{2}", "an ISO 3166-1 alpha-2 code in upper case"),
    "product_area": Field.matching("[a-z0-9][a-z0-9 _-]*", "a product area in lower case"),
    "declared_severity": Field.one_of(LEVELS, numeric=True),
    # false when the case's language has no vocabulary in signals.yaml (its words are not read)
    "language_supported": Field(lambda v: isinstance(v, bool), "true or false"),
    # the classifier's prediction, when a model is active (absent otherwise)
    "model.level": Field.one_of(LEVELS, numeric=True),
    "model.confidence": Field(lambda v: isinstance(v, (int, float)) and 0 <= v <= 1, "a number from 0 to 1", numeric=True),
}
MODEL_LEVEL = "model"  # a rule's level taken from the classifier
_RULE_ID = re.compile(r"^[a-z0-9][a-z0-9-]{0,63}$")


@dataclass(frozen=True)
class SeverityRule:
    id: str
    level: int | str  # 1-4, or "model": the classifier's level
    description: str
    when: dict
    fallback: bool = False  # applies only when no other rule matched

    @property
    def uses_model(self) -> bool:
        return self.level == MODEL_LEVEL or any(key.startswith("model.") for key in self.when)


@dataclass(frozen=True)
class Prediction:
    """What the classifier said about a case."""

    model_version: str
    level: int
    confidence: float
    probabilities: dict  # level -> probability


@dataclass(frozen=True)
class Severity:
    """The severity decided for a case, with everything needed to explain it."""

    level: int
    name: str
    source: str  # rules | classifier | declared | default
    matched_rules: tuple[SeverityRule, ...]
    declared: int | None
    note: str | None
    classifier: Prediction | None = None


@dataclass(frozen=True)
class SeverityPolicy:
    levels: dict[int, str]
    default_level: int
    rules: tuple[SeverityRule, ...]

    def rule(self, rule_id: str) -> SeverityRule:
        return self._by_id[rule_id]

    @functools.cached_property
    def _by_id(self) -> dict[str, SeverityRule]:
        return {r.id: r for r in self.rules}


# -- the document ---------------------------------------------------------------------------


def _rule_level(value) -> None:
    if not ((type(value) is int and value in LEVELS) or value == MODEL_LEVEL):
        raise ma.ValidationError("a level is 1, 2, 3 or 4, or model (the classifier's level)")


class _RuleSchema(ma.Schema):
    id = ma.fields.String(
        required=True, validate=ma.validate.Regexp(_RULE_ID, error="an id is lower-case letters, digits and -, at most 64")
    )
    level = ma.fields.Raw(required=True, validate=_rule_level, metadata={"description": "1-4, or model: the classifier's level"})
    description = ma.fields.String(required=True, validate=ma.validate.Length(min=1))
    when = conditions.when_field(FIELDS)
    fallback = ma.fields.Boolean(load_default=False)


class SeverityDocument(ma.Schema):
    """severity.yaml: level names, the default level and the rules."""

    levels = ma.fields.Dict(
        keys=ma.fields.Integer(strict=True), values=ma.fields.String(validate=ma.validate.Length(min=1)), required=True
    )
    default_level = ma.fields.Integer(
        required=True, strict=True, validate=ma.validate.OneOf(LEVELS, error="a level is 1, 2, 3 or 4")
    )
    rules = ma.fields.List(ma.fields.Nested(_RuleSchema), required=True)

    @ma.validates("levels")
    def _all_levels(self, value, **kwargs):
        if sorted(value) != list(LEVELS):
            raise ma.ValidationError("name each of the levels 1, 2, 3 and 4, and no other")


def build_policy(file: str, doc: dict, signals: frozenset[str]) -> SeverityPolicy:
    """Cross-check a validated severity document against the known signals and field values."""
    problems = duplicate_ids(file, "rules", doc["rules"], "rule")
    for rule in doc["rules"]:
        problems += conditions.check(file, f"rules[{rule['id']}]", rule["when"], FIELDS, signals)
    if problems:
        raise RulesInvalid(problems)
    rules = tuple(SeverityRule(r["id"], r["level"], r["description"], r["when"], r["fallback"]) for r in doc["rules"])
    return SeverityPolicy(dict(sorted(doc["levels"].items())), doc["default_level"], rules)


# -- compiling to durable_rules ------------------------------------------------------------


def engine_rules(policy: SeverityPolicy) -> dict[str, tuple[int, list[dict]]]:
    """The rules in durable_rules condition JSON, priority = level (most severe first); a rule that
    takes the classifier's level holds only when there is a prediction."""
    return {
        rule.id: (5, [{"$ex": {"model.level": 1}}, *conditions.compile_when(rule.when)])
        if rule.level == MODEL_LEVEL
        else (int(rule.level), conditions.compile_when(rule.when))
        for rule in policy.rules
    }


# -- deciding -------------------------------------------------------------------------------


def combine(
    policy: SeverityPolicy,
    matched: list[SeverityRule],
    declared: int | None,
    prediction: Prediction | None = None,
    unread: str | None = None,
    set_aside: str | None = None,
) -> Severity:
    """Decide the level from the matched rules (fallback rules only when no other matched), the
    declared severity and the classifier's prediction, and say why. `unread` is the case's language
    when no vocabulary covers it: with no rule matched, the note says its words were not read.
    `set_aside` says what of a mail was not read (quoted history, a signature); the note ends with it."""
    severity = _combine(policy, matched, declared, prediction, unread)
    if set_aside:
        severity = dataclasses.replace(severity, note=f"{severity.note} {set_aside}" if severity.note else set_aside)
    return severity


def _combine(
    policy: SeverityPolicy,
    matched: list[SeverityRule],
    declared: int | None,
    prediction: Prediction | None,
    unread: str | None,
) -> Severity:

    def name(level):
        return policy.levels[level]

    # a rule over the model's level matches only when there is a prediction (engine_rules says so)
    resolved = [dataclasses.replace(r, level=prediction.level) if prediction and r.level == MODEL_LEVEL else r for r in matched]
    deciding = [r for r in resolved if not r.fallback] or resolved
    if deciding:
        ordered = tuple(sorted(deciding, key=lambda r: int(r.level)))
        top = ordered[0]
        level = int(top.level)
        source = "classifier" if matched[resolved.index(top)].uses_model else "rules"
        note = None
        if declared is not None and declared != level:
            direction = "more" if declared < level else "less"
            note = (
                f"Declared {declared} ({name(declared)}) is {direction} severe than the evidence: "
                f"rule {top.id!r} ({top.description}) assigns {level} ({name(level)}); "
                "the provider's classification prevails."
            )
        return Severity(level, name(level), source, ordered, declared, note, prediction)
    unread_note = (
        f"No rule matched: the text is in {language_name(unread)} ({unread}), which signals.yaml has no vocabulary "
        "for, so its own words went unread (only other languages' terms were looked for). "
        if unread
        else ""
    )
    if declared is not None:
        return Severity(
            declared,
            name(declared),
            "declared",
            (),
            declared,
            unread_note
            + (
                "The declared severity is accepted unread."
                if unread
                else "No rule matched; the declared severity is accepted as plausible."
            ),
            prediction,
        )
    level = policy.default_level
    return Severity(
        level,
        name(level),
        "default",
        (),
        None,
        unread_note
        + (
            f"No severity was declared; the default level {level} stands until a person reads the case."
            if unread
            else f"No rule matched and no severity was declared; the default level {level} applies."
        ),
        prediction,
    )


def language_name(code: str) -> str:
    """The English name of an ISO 639-1 language, or the code itself."""
    language = pycountry.languages.get(alpha_2=code)
    return language.name if language is not None else code
