"""The `when` language shared by severity and routing rules, and its compilation to durable_rules.

when:
  signals: {all: [...], any: [...], none: [...]}
  <field>: {in: [...], not_in: [...], present: true|false, lt/lte/gt/gte: n (numeric fields only)}
A field the case does not have is absent: `in` does not hold, `not_in` holds.
"""

import re
from collections.abc import Callable
from dataclasses import dataclass

import marshmallow as ma

from app.rulelang.documents import Problem
from app.rulelang.domain import MAX_ALTERNATIVES, MAX_NUMBER, MAX_VALUES

_COMPARISONS = {"lt": "$lt", "lte": "$lte", "gt": "$gt", "gte": "$gte"}


@dataclass(frozen=True)
class Field:
    """A case field that rules may test: which values it takes and whether it is a number."""

    accepts: Callable[[object], bool]
    expected: str
    numeric: bool = False

    @classmethod
    def one_of(cls, values, numeric=False) -> "Field":
        return cls(lambda v: v in values, f"one of {list(values)}", numeric)

    @classmethod
    def matching(cls, pattern: str, expected: str) -> "Field":
        return cls(lambda v: isinstance(v, str) and re.fullmatch(pattern, v) is not None, expected)


class _NonEmpty(ma.Schema):
    @ma.validates_schema
    def _not_empty(self, data, **kwargs):
        if not data:
            raise ma.ValidationError("give at least one of in, not_in, present, lt, lte, gt, gte")


class _Scalar(ma.fields.Raw):
    """A text, a number or a boolean: what a case field holds."""

    def _deserialize(self, value, attr, data, **kwargs):
        if not isinstance(value, (str, int, float, bool)):
            raise ma.ValidationError("must be a text, a number or true/false")
        return value


def _values() -> ma.fields.List:
    return ma.fields.List(_Scalar(), validate=ma.validate.Length(min=1, max=MAX_VALUES))


# built from a dict because "in" is a Python keyword and cannot be a class attribute
_FieldCondition = _NonEmpty.from_dict(
    {
        "in": _values(),
        "not_in": _values(),
        "present": ma.fields.Boolean(),
        **{
            key: ma.fields.Float(allow_nan=False, validate=ma.validate.Range(min=-MAX_NUMBER, max=MAX_NUMBER))
            for key in _COMPARISONS
        },
    },
    name="FieldCondition",
)


class _SignalCondition(ma.Schema):
    all = ma.fields.List(ma.fields.String(), load_default=list)
    any = ma.fields.List(ma.fields.String(), load_default=list, validate=ma.validate.Length(max=MAX_ALTERNATIVES))
    none = ma.fields.List(ma.fields.String(), load_default=list)


class _When(ma.Schema):
    @ma.post_load
    def _dotted_names(self, data, **kwargs):
        return {name.replace("__", "."): value for name, value in data.items()}


def when_field(field_names) -> ma.fields.Nested:
    """The marshmallow field for a `when` block over these case fields (unknown keys refused).
    Field names may hold dots (model.level); marshmallow would read those as nested paths, so the
    attributes are dot-free and the names are restored after loading."""
    fields: dict[str, ma.fields.Field] = {"signals": ma.fields.Nested(_SignalCondition)}
    fields.update({name.replace(".", "__"): ma.fields.Nested(_FieldCondition, data_key=name) for name in field_names})
    return ma.fields.Nested(_When.from_dict(fields, name="When"), load_default=dict)


def check(file: str, item: str, when: dict, fields: dict[str, Field], signals: frozenset[str]) -> list[Problem]:
    """Cross-check a validated `when`: known signals and values, and nothing that can never match."""
    problems = []
    sig = when.get("signals", {})
    for group in ("all", "any", "none"):
        for name in sig.get(group, []):
            if name not in signals:
                problems.append(Problem(file, item, f"when.signals.{group}", f"undefined signal {name!r}"))
    contradiction = set(sig.get("all", [])) & set(sig.get("none", []))
    if contradiction:
        problems.append(
            Problem(file, item, "when.signals", f"can never match: {sorted(contradiction)} both required and excluded")
        )
    for name, field in fields.items():
        cond = when.get(name)
        if cond is None:
            continue
        for key in ("in", "not_in"):
            for value in cond.get(key, []):
                if not field.accepts(value):
                    problems.append(Problem(file, item, f"when.{name}.{key}", f"{value!r} is not {field.expected}"))
        if not field.numeric and any(k in cond for k in _COMPARISONS):
            problems.append(Problem(file, item, f"when.{name}", "lt, lte, gt and gte apply only to numbers"))
        if set(cond.get("in", [])) & set(cond.get("not_in", [])):
            problems.append(Problem(file, item, f"when.{name}", "can never match: a value both in and not_in"))
    return problems


def compile_when(when: dict) -> list[dict]:
    """The durable_rules conditions (ANDed) for a `when`; signals are facts `signal.<name>: true`."""
    terms: list[dict] = []
    sig = when.get("signals", {})
    terms += [{"$ex": {f"signal.{s}": 1}} for s in sig.get("all", [])]
    if sig.get("any"):
        terms.append({"$or": [{"$ex": {f"signal.{s}": 1}} for s in dict.fromkeys(sig["any"])]})
    terms += [{"$nex": {f"signal.{s}": 1}} for s in sig.get("none", [])]
    for field, cond in when.items():
        if field == "signals":
            continue
        if not cond or set(cond) - {"in", "not_in", "present", *_COMPARISONS}:
            raise ValueError(f"cannot compile the condition on {field}: {cond!r}")  # never drop one silently
        if "in" in cond:  # one alternative per distinct value: a field holds one value, so at most one fires
            terms.append({"$or": [{field: v} for v in dict.fromkeys(cond["in"])]})
        if "not_in" in cond:
            # a missing field is "not in" any list; durable's $neq alone is false when it is missing
            terms.append({"$or": [{"$nex": {field: 1}}, {"$and": [{"$neq": {field: v}} for v in cond["not_in"]]}]})
        if "present" in cond:
            terms.append({("$ex" if cond["present"] else "$nex"): {field: 1}})
        terms += [{op: {field: cond[key]}} for key, op in _COMPARISONS.items() if key in cond]
    return terms
